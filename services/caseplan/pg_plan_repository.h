#ifndef SAMPLAN_SERVICES_CASEPLAN_PG_PLAN_REPOSITORY_H_
#define SAMPLAN_SERVICES_CASEPLAN_PG_PLAN_REPOSITORY_H_

#include <vector>

#include "common/audit_log.h"
#include "common/migrations.h"
#include "common/outbox.h"
#include "common/pg.h"
#include "services/caseplan/plan_repository.h"

namespace samplan::caseplan {

// The schema the caseplan service owns.
inline constexpr char kSchema[] = "caseplan";

// The migration sets applied into kSchema: the plans' own (migrations/ beside
// this file) and the outbox's.
std::vector<MigrationSet> PlanMigrationSets();

// Returns the statements the repository needs prepared on its pool (its own, the
// outbox's and the access rule's).
std::vector<PreparedStatement> PlanRepositoryStatements(const Outbox& outbox);

// PlanRepository over PostgreSQL (schema "caseplan", migrations/ beside this file).
// The pool must have been created with PlanRepositoryStatements, and the identity
// schema must be migrated (its access_facts and append_audit are called here).
class PgPlanRepository final : public PlanRepository {
 public:
  PgPlanRepository(PgPool& pool, const Outbox& outbox)
      : pool_(pool), outbox_(outbox), audit_log_(pool) {}

  absl::StatusOr<CreateResult> CreatePlan(const Caller& caller,
                                          const PlanWrite& write) override;
  absl::StatusOr<Plan> GetPlan(const Caller& caller, const std::string& id) override;
  absl::StatusOr<UpdateResult> UpdatePlan(const Caller& caller, const std::string& id,
                                          const std::string& retry_request_id,
                                          const PlanChange& change) override;
  absl::StatusOr<std::vector<Plan>> ListPlans(const Caller& caller,
                                              const PlanQuery& query) override;
  absl::StatusOr<std::vector<PlanRevision>> ListRevisions(const Caller& caller,
                                                          const std::string& id,
                                                          std::optional<int64_t> before_version,
                                                          int limit) override;

 private:
  PgPool& pool_;
  const Outbox& outbox_;
  // Where reads append their audit records (writes append in their transaction).
  AuditLog audit_log_;
};

// Returns what is stored in `plans.content` for `plan`: the serialized plan
// without the version, etag and update time, which live in their own columns.
std::string PlanContent(const Plan& plan);

}  // namespace samplan::caseplan

#endif  // SAMPLAN_SERVICES_CASEPLAN_PG_PLAN_REPOSITORY_H_
