#ifndef SAMPLAN_SERVICES_SCHEDULING_PG_MEETING_REPOSITORY_H_
#define SAMPLAN_SERVICES_SCHEDULING_PG_MEETING_REPOSITORY_H_

#include <vector>

#include "common/migrations.h"
#include "common/outbox.h"
#include "common/pg.h"
#include "services/scheduling/meeting_repository.h"

namespace samplan::scheduling {

// The schema the scheduling service owns.
inline constexpr char kSchema[] = "scheduling";

// The migration sets applied into kSchema: its own (migrations/) and the
// outbox's.
std::vector<MigrationSet> SchedulingMigrationSets();

// The statements the repositories need prepared on the pool (their own, the
// outbox's and the access rule's).
std::vector<PreparedStatement> SchedulingRepositoryStatements(const Outbox& outbox);

// MeetingRepository over PostgreSQL. The pool must have been created with
// SchedulingRepositoryStatements, and the identity schema must be migrated (its
// access_facts and append_audit are called here).
class PgMeetingRepository final : public MeetingRepository {
 public:
  PgMeetingRepository(PgPool& pool, const Outbox& outbox) : pool_(pool), outbox_(outbox) {}

  absl::StatusOr<v1::Meeting> CreateMeeting(const Caller& caller, const CreateMeta& meta,
                                            const v1::Meeting& meeting,
                                            bool allow_overlap) override;
  absl::StatusOr<v1::Meeting> GetMeeting(const Caller& caller, const std::string& id) override;
  absl::StatusOr<MeetingPage> ListMeetings(const Caller& caller,
                                           const MeetingQuery& query) override;
  absl::StatusOr<v1::Meeting> StepMeeting(const Caller& caller, const std::string& id,
                                          const std::string& etag, bool allow_overlap,
                                          const StepFn& step) override;

 private:
  PgPool& pool_;
  const Outbox& outbox_;
};

}  // namespace samplan::scheduling

#endif  // SAMPLAN_SERVICES_SCHEDULING_PG_MEETING_REPOSITORY_H_
