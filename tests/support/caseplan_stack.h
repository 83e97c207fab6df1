#ifndef SAMPLAN_TESTS_SUPPORT_CASEPLAN_STACK_H_
#define SAMPLAN_TESTS_SUPPORT_CASEPLAN_STACK_H_

// The caseplan service running inside the test process over a real database, on a
// free loopback port, wired as main.cc wires it (without the relay, which tests
// run themselves where they need it).

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/auth.h"
#include "common/call.h"
#include "common/outbox.h"
#include "common/pg.h"
#include "common/server.h"
#include "samplan/caseplan/v1/caseplan.grpc.pb.h"
#include "services/caseplan/caseplan_service.h"
#include "services/caseplan/pg_plan_repository.h"
#include "tests/support/served_service.h"

namespace samplan::testing {

class InProcessCasePlan {
 public:
  // Serves caseplan over `dsn` (already migrated), trusting `tokens`.
  static absl::StatusOr<std::unique_ptr<InProcessCasePlan>> Start(
      const std::string& dsn, const TokenVerifierOptions& tokens);

  // "127.0.0.1:<port>".
  const std::string& address() const { return served_->address(); }
  // A client stub of this service.
  std::unique_ptr<caseplan::v1::CasePlanService::Stub> NewStub() const;

 private:
  InProcessCasePlan() = default;
  Outbox outbox_{caseplan::kSchema};
  std::unique_ptr<PgPool> pool_;
  std::unique_ptr<caseplan::PgPlanRepository> repository_;
  std::unique_ptr<ServedService> served_;
};

}  // namespace samplan::testing

#endif  // SAMPLAN_TESTS_SUPPORT_CASEPLAN_STACK_H_
