#ifndef SAMPLAN_SERVICES_PLACEMENT_MATCHING_H_
#define SAMPLAN_SERVICES_PLACEMENT_MATCHING_H_

// Matching a person to the placements of the bank, and the seats a placement
// has free in a period. Pure and deterministic: no I/O, no clock, no
// randomness.

#include <vector>

#include "absl/time/civil_time.h"
#include "absl/types/span.h"
#include "samplan/placement/v1/placement.pb.h"

namespace samplan::placement {

// Days from `start` to `end`, both included.
struct DayRange {
  absl::CivilDay start;
  absl::CivilDay end;
  bool Overlaps(const DayRange& other) const { return start <= other.end && other.start <= end; }
};

// Converts between the API's dates and civil days. An unset date is day
// 0000-00-00, which absl normalizes to -0001-11-30: validation refuses it
// before it gets here.
absl::CivilDay DayOf(const google::type::Date& date);
google::type::Date DateOf(absl::CivilDay day);
DayRange RangeOf(const v1::DateRange& range);

// A placement as matching sees it: the placement, and the periods of the signed
// or active agreements that hold its seats.
struct MatchCandidate {
  const v1::Placement* placement = nullptr;
  std::vector<DayRange> taken;
};

// Returns the seats of `seats` that are free on every day of `period`: the
// seats less the most agreements of `taken` that overlap on any one day of it.
int FreeSeats(int seats, absl::Span<const DayRange> taken, const DayRange& period);

// Returns whether `period` lies within one of the placement's availability
// ranges.
bool Available(const v1::Placement& placement, const DayRange& period);

// Returns the great-circle distance in kilometres.
double DistanceKm(const v1::GeoPoint& a, const v1::GeoPoint& b);

// The greatest points of each factor of a match's score; they sum to 100.
inline constexpr double kDistancePoints = 30;
inline constexpr double kInterestPoints = 30;
inline constexpr double kLanguagePoints = 15;
inline constexpr double kFitPoints = 25;

// Ranks `candidates` for `profile` (whose period and home must be set: the
// service validates them first).
//
// A candidate is excluded, with the first conflict in this order, when: it is
// not open (not_open); its kind is not one the person wants, prao only when
// asked for (kind); the period is not within its availability (not_available);
// no seat is free for the whole period (no_free_seat); the person is younger
// than its minimum age (too_young); it needs a driving licence the person lacks
// (driving_licence); it is farther than the person can travel (distance); its
// physical demand is above what the person can take (physical_demand); its
// hours exceed the person's capacity and it cannot reduce them (hours); its
// Swedish requirement is two or more levels above the person's (swedish).
//
// The rest are scored: distance (full points within 2 km, none at the person's
// limit), interest (the industry is one of the person's interests, or an
// interest appears in the title), language (the person's level meets the
// requirement, or is one below), and fit (the share of the person's needed
// adaptations the place offers; physical demand within the limit; hours within
// capacity, or reducible). Every part says why. Returns the best `limit`
// matches, best first with ties broken by placement name, and up to
// `max_excluded` exclusions in placement name order.
v1::MatchPlacementsResponse RankPlacements(const v1::MatchProfile& profile,
                                           absl::Span<const MatchCandidate> candidates, int limit,
                                           int max_excluded);

}  // namespace samplan::placement

#endif  // SAMPLAN_SERVICES_PLACEMENT_MATCHING_H_
