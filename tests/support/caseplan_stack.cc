#include "tests/support/caseplan_stack.h"

#include "absl/strings/str_cat.h"

namespace samplan::testing {

absl::StatusOr<std::unique_ptr<InProcessCasePlan>> InProcessCasePlan::Start(
    const std::string& dsn, const TokenVerifierOptions& tokens) {
  std::unique_ptr<InProcessCasePlan> stack(new InProcessCasePlan());
  auto pool = PgPool::Create(
      {dsn, 8, absl::Seconds(10), "test", caseplan::PlanRepositoryStatements(stack->outbox_)});
  if (!pool.ok()) return pool.status();
  stack->pool_ = *std::move(pool);
  stack->repository_ = std::make_unique<caseplan::PgPlanRepository>(*stack->pool_, stack->outbox_);
  auto verifier = MakeTokenVerifier(tokens);
  if (!verifier.ok()) return verifier.status();
  stack->verifier_ = *std::move(verifier);
  stack->calls_ = std::make_unique<CallHandler>(*stack->verifier_, absl::Seconds(10));
  stack->service_ = std::make_unique<caseplan::CasePlanService>(
      *stack->repository_, *stack->calls_, caseplan::NewItemId);
  auto server = GrpcServer::Start(
      {"127.0.0.1:0", absl::Seconds(10), absl::ZeroDuration(), absl::Seconds(2), ""},
      {stack->service_.get()});
  if (!server.ok()) return server.status();
  stack->server_ = *std::move(server);
  stack->address_ = absl::StrCat("127.0.0.1:", stack->server_->port());
  return stack;
}

std::unique_ptr<caseplan::v1::CasePlanService::Stub> InProcessCasePlan::NewStub() const {
  return caseplan::v1::CasePlanService::NewStub(
      grpc::CreateChannel(address_, grpc::InsecureChannelCredentials()));
}

}  // namespace samplan::testing
