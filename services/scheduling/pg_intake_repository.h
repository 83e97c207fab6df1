#ifndef SAMPLAN_SERVICES_SCHEDULING_PG_INTAKE_REPOSITORY_H_
#define SAMPLAN_SERVICES_SCHEDULING_PG_INTAKE_REPOSITORY_H_

#include "common/outbox.h"
#include "common/pg.h"
#include "services/scheduling/intake_repository.h"

namespace samplan::scheduling {

// IntakeRepository over PostgreSQL. The pool must have been created with
// SchedulingRepositoryStatements (pg_meeting_repository.h), and the identity
// schema must be migrated.
class PgIntakeRepository final : public IntakeRepository {
 public:
  PgIntakeRepository(PgPool& pool, const Outbox& outbox) : pool_(pool), outbox_(outbox) {}

  absl::StatusOr<v1::IntakeSession> CreateSession(const Caller& caller, const CreateMeta& meta,
                                                  const v1::IntakeSession& session) override;
  absl::StatusOr<v1::IntakeSession> GetSession(const Caller& caller,
                                               const std::string& id) override;
  absl::StatusOr<v1::IntakeEnrolment> Enrol(const Caller& caller, const std::string& session_id,
                                            const v1::IntakeEnrolment& enrolment) override;
  absl::StatusOr<v1::IntakeEnrolment> Withdraw(const Caller& caller,
                                               const std::string& session_id,
                                               const std::string& enrolment_id,
                                               const std::string& reason,
                                               const std::string& etag) override;
  absl::StatusOr<std::vector<v1::IntakeEnrolment>> ListEnrolments(
      const Caller& caller, const std::string& session_id) override;
  absl::StatusOr<v1::IntakeGroups> SplitGroups(const Caller& caller,
                                               const std::string& session_id,
                                               int max_group_size,
                                               const std::string& balance_attribute,
                                               const std::string& etag) override;

 private:
  PgPool& pool_;
  const Outbox& outbox_;
};

}  // namespace samplan::scheduling

#endif  // SAMPLAN_SERVICES_SCHEDULING_PG_INTAKE_REPOSITORY_H_
