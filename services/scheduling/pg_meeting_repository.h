#ifndef SAMPLAN_SERVICES_SCHEDULING_PG_MEETING_REPOSITORY_H_
#define SAMPLAN_SERVICES_SCHEDULING_PG_MEETING_REPOSITORY_H_

#include <vector>

#include <pqxx/pqxx>

#include "common/migrations.h"
#include "samplan/events/v1/event.pb.h"
#include "common/outbox.h"
#include "common/pg.h"
#include "services/scheduling/meeting_repository.h"

namespace samplan::scheduling {

// The schema the scheduling service owns.
inline constexpr char kSchema[] = "scheduling";

// The migration sets applied into kSchema: its own (migrations/), the
// outbox's and the record of handled events (the agreement consumer's).
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

// Applies one event of the placement service within `tx` (the agreement
// consumer's, which records the event as handled in it: exactly once):
// placement.agreement.signed proposes the agreement's follow-ups (FollowUpDays)
// as visits for the coordinator, placement.agreement.ended and .completed
// cancel those still to come. Each change leaves its revision, audit record
// (reason agreement_owner) and event. Other events change nothing.
absl::Status ApplyAgreementEvent(pqxx::transaction_base& tx, const Outbox& outbox,
                                 const events::v1::Event& event, absl::Time now);

// ---- Shared with the calendar feeds and the overdue follow-ups

// Returns the meeting of a row (id, version, content, create_micros,
// update_micros), as the statements of sql.h select it.
absl::StatusOr<v1::Meeting> MeetingOfRow(const pqxx::row& row);

// Decides `caller`'s `action` on `meeting` by DecideMeetingAccess and appends
// the audit record within `tx`. Returns OK or the denial to answer with once
// `tx` has committed the record.
absl::Status GuardMeeting(pqxx::transaction_base& tx, const Caller& caller,
                          const v1::Meeting& meeting, AccessAction action);


}  // namespace samplan::scheduling

#endif  // SAMPLAN_SERVICES_SCHEDULING_PG_MEETING_REPOSITORY_H_
