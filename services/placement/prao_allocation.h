#ifndef SAMPLAN_SERVICES_PLACEMENT_PRAO_ALLOCATION_H_
#define SAMPLAN_SERVICES_PLACEMENT_PRAO_ALLOCATION_H_

// Allocating a class's pupils to prao places. Pure and deterministic.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "samplan/placement/v1/placement.pb.h"

namespace samplan::placement {

// The most choices a pupil ranks.
inline constexpr int kMaxPraoChoices = 6;

// Allocates `pupils` to the places of `free_seats` (placement name → seats free
// in the prao period; a place missing from it has none):
//   1. pupils placed by hand get their place first, in the request's order, as
//      long as it has a seat;
//   2. then round by round — every remaining pupil's first choice, then every
//      remaining pupil's second choice, … up to the sixth — each pupil gets the
//      round's choice if it still has a seat. Within a round pupils take turns
//      in an order drawn from `class_id` and `seed` (a hash of class, seed and
//      pupil), so no one is favoured by the class list, and the same input
//      gives the same result.
// No pupil ends with a lower choice (or none) while a place they ranked higher
// has a seat left: that place was full when their turn for it came, and seats
// only fill. A pupil placed by hand whose place has no seat is left unplaced
// and reported, not moved to a choice: the adaptation is why they were placed
// by hand.
v1::AllocatePraoResponse AllocatePrao(const std::vector<v1::PraoPupil>& pupils,
                                      std::map<std::string, int, std::less<>> free_seats,
                                      absl::string_view class_id, uint64_t seed);

}  // namespace samplan::placement

#endif  // SAMPLAN_SERVICES_PLACEMENT_PRAO_ALLOCATION_H_
