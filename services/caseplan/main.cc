// samplan-caseplan: the shared action plan service. Wiring only; the modes
// (serve, --migrate-only, --relay-only) are common/service_main.h's.
//
// Configuration comes from environment variables: docs/configuration.md. The
// identity schema must be migrated first: access decisions and audit records go
// through its SQL functions.

#include "common/service_main.h"
#include "services/caseplan/caseplan_service.h"
#include "services/caseplan/pg_plan_repository.h"

namespace {

using namespace samplan;

class CasePlanParts final : public ServingParts {
 public:
  CasePlanParts(PgPool& pool, const Outbox& outbox, const CallHandler& calls)
      : repository_(pool, outbox), service_(repository_, calls, caseplan::NewItemId) {}
  std::vector<grpc::Service*> services() override { return {&service_}; }

 private:
  caseplan::PgPlanRepository repository_;
  caseplan::CasePlanService service_;
};

}  // namespace

int main(int argc, char** argv) {
  ServiceDefinition caseplan;
  caseplan.name = "caseplan";
  caseplan.schema = caseplan::kSchema;
  caseplan.migrations = caseplan::PlanMigrationSets();
  caseplan.statements = caseplan::PlanRepositoryStatements;
  caseplan.build = [](PgPool& pool, const Outbox& outbox, const CallHandler& calls)
      -> absl::StatusOr<std::unique_ptr<ServingParts>> {
    return std::make_unique<CasePlanParts>(pool, outbox, calls);
  };
  return ServiceMain(argc, argv, caseplan);
}
