#ifndef SAMPLAN_TESTS_SUPPORT_SCHEDULING_SUITE_H_
#define SAMPLAN_TESTS_SUPPORT_SCHEDULING_SUITE_H_

// The fixture of the scheduling integration tests (GoogleTest), over
// InProcessScheduling.

#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "common/clock.h"
#include "tests/support/fixtures.h"
#include "tests/support/scheduling_stack.h"
#include "tests/support/served_service.h"
#include "tests/support/suite.h"

namespace samplan::testing {

// What every scheduling integration test starts from: a fresh database with the
// identity and scheduling schemas, its persons, and scheduling served in-process.
class SchedulingSuite : public ServersSuite {
 protected:
  void SetUp() override;
  void TearDown() override;

  // (Re)starts the service over the same database, on ServiceClock().
  void StartService();
  // The clock the service runs on; a test that moves time returns its own.
  virtual const Clock& ServiceClock() const { return RealClock(); }

  // A call as `org`'s user in `role` (default_role_ when empty).
  std::unique_ptr<grpc::ClientContext> As(const std::string& org,
                                          const std::string& role = "") const;
  // The person labelled `label`, registered by soc, who lets each of
  // consented_organizations_ handle the person's attendance for coordination.
  std::string ConsentingPerson(const std::string& label);
  // The single value `sql` counts.
  int64_t Count(const std::string& sql) const;

  std::string default_role_ = "caseworker";
  std::vector<std::string> consented_organizations_ = {"prakt", "af"};
  std::string dsn_;
  std::unique_ptr<TestPersons> persons_;
  std::unique_ptr<InProcessScheduling> service_;
  std::unique_ptr<scheduling::v1::SchedulingService::Stub> stub_;
};

}  // namespace samplan::testing

#endif  // SAMPLAN_TESTS_SUPPORT_SCHEDULING_SUITE_H_
