#include "tests/support/caseplan_stack.h"

#include "absl/strings/str_cat.h"
#include "tests/support/service_roles.h"

namespace samplan::testing {

absl::StatusOr<std::unique_ptr<InProcessCasePlan>> InProcessCasePlan::Start(
    const std::string& dsn, const TokenVerifierOptions& tokens) {
  std::unique_ptr<InProcessCasePlan> stack(new InProcessCasePlan());
  // The service runs as its database role, as in production: what it may not do
  // fails here as it would there.
  absl::StatusOr<std::string> service_dsn = ServiceRoleDsn(dsn, "caseplan");
  if (!service_dsn.ok()) return service_dsn.status();
  auto pool = PgPool::Create(
      {*service_dsn, 8, absl::Seconds(10), "test", caseplan::PlanRepositoryStatements(stack->outbox_)});
  if (!pool.ok()) return pool.status();
  stack->pool_ = *std::move(pool);
  stack->repository_ = std::make_unique<caseplan::PgPlanRepository>(*stack->pool_, stack->outbox_);
  auto served = ServedService::Create(tokens);
  if (!served.ok()) return served.status();
  stack->served_ = *std::move(served);
  if (absl::Status serving = stack->served_->Serve(std::make_unique<caseplan::CasePlanService>(
          *stack->repository_, stack->served_->calls(), caseplan::NewItemId));
      !serving.ok()) {
    return serving;
  }
  return stack;
}

std::unique_ptr<caseplan::v1::CasePlanService::Stub> InProcessCasePlan::NewStub() const {
  return caseplan::v1::CasePlanService::NewStub(served_->NewChannel());
}

}  // namespace samplan::testing
