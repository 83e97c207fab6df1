#ifndef SAMPLAN_SERVICES_SCHEDULING_AVAILABILITY_REPOSITORY_H_
#define SAMPLAN_SERVICES_SCHEDULING_AVAILABILITY_REPOSITORY_H_

// Storage of staff availability: working hours and imported busy time. Times
// only, never titles; not personal data about a client, so no access rule and
// no audit record: the handlers allow a user to change only their own.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "samplan/scheduling/v1/scheduling.pb.h"
#include "services/scheduling/availability.h"

namespace samplan::scheduling {

// What FindCommonSlots needs of one user.
struct StoredAvailability {
  std::optional<v1::WorkingHours> working_hours;  // none: the default ones
  std::vector<Interval> busy;  // imported, and booked meetings holding their time
};

class AvailabilityRepository {
 public:
  virtual ~AvailabilityRepository() = default;

  // Stores `hours` as `user`'s, if `etag` (when not empty) is the stored
  // version (ABORTED otherwise), and returns them with their new etag.
  virtual absl::StatusOr<v1::WorkingHours> SetWorkingHours(const std::string& user,
                                                           const std::string& municipality,
                                                           const v1::WorkingHours& hours,
                                                           const std::string& etag,
                                                           absl::Time now,
                                                           absl::Time deadline) = 0;
  // The user's working hours, or nothing when none were set.
  virtual absl::StatusOr<std::optional<v1::WorkingHours>> GetWorkingHours(
      const std::string& user, const std::string& municipality, absl::Time deadline) = 0;
  // Replaces `user`'s busy time from `source` within [from, to) by `busy`, in
  // one transaction; returns how many intervals it stored.
  virtual absl::StatusOr<int> ReplaceBusy(const std::string& user, const std::string& municipality,
                                          const std::string& source,
                                          absl::Time from, absl::Time to,
                                          const std::vector<Interval>& busy,
                                          absl::Time deadline) = 0;
  // The availability of each of `users` within [from, to).
  virtual absl::StatusOr<std::map<std::string, StoredAvailability>> LoadAvailability(
      const std::vector<std::string>& users, const std::string& municipality, absl::Time from,
      absl::Time to,
      absl::Time deadline) = 0;
};

}  // namespace samplan::scheduling

#endif  // SAMPLAN_SERVICES_SCHEDULING_AVAILABILITY_REPOSITORY_H_
