#ifndef SAMPLAN_SERVICES_SCHEDULING_PG_AVAILABILITY_REPOSITORY_H_
#define SAMPLAN_SERVICES_SCHEDULING_PG_AVAILABILITY_REPOSITORY_H_

#include "common/pg.h"
#include "services/scheduling/availability_repository.h"

namespace samplan::scheduling {

// AvailabilityRepository over PostgreSQL; the pool must have been created with
// SchedulingRepositoryStatements (pg_meeting_repository.h).
class PgAvailabilityRepository final : public AvailabilityRepository {
 public:
  explicit PgAvailabilityRepository(PgPool& pool) : pool_(pool) {}

  absl::StatusOr<v1::WorkingHours> SetWorkingHours(const std::string& user,
                                                   const std::string& municipality,
                                                   const v1::WorkingHours& hours,
                                                   const std::string& etag, absl::Time now,
                                                   absl::Time deadline) override;
  absl::StatusOr<std::optional<v1::WorkingHours>> GetWorkingHours(const std::string& user,
                                                                  const std::string& municipality,
                                                                  absl::Time deadline) override;
  absl::StatusOr<int> ReplaceBusy(const std::string& user, const std::string& municipality,
                                          const std::string& source,
                                  absl::Time from, absl::Time to,
                                  const std::vector<Interval>& busy,
                                  absl::Time deadline) override;
  absl::StatusOr<std::map<std::string, StoredAvailability>> LoadAvailability(
      const std::vector<std::string>& users, const std::string& municipality, absl::Time from,
      absl::Time to,
      absl::Time deadline) override;

 private:
  PgPool& pool_;
};

}  // namespace samplan::scheduling

#endif  // SAMPLAN_SERVICES_SCHEDULING_PG_AVAILABILITY_REPOSITORY_H_
