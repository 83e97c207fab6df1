#ifndef SAMPLAN_TESTS_SUPPORT_PLAN_WRITERS_H_
#define SAMPLAN_TESTS_SUPPORT_PLAN_WRITERS_H_

// Writers that keep UpdatePlan busy from several threads while something is
// killed or failed over, and remember which (plan, version) the service
// acknowledged: what the crash and failover tests hold the database and the
// stream to.

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/time/time.h"
#include "tests/support/fixtures.h"

namespace samplan::testing {

struct PlanWritersOptions {
  // Each call's deadline.
  absl::Duration deadline = absl::Seconds(2);
  // The pause after every call, and the extra pause after a failed one.
  absl::Duration pause_after_call = absl::ZeroDuration();
  absl::Duration pause_after_failure = absl::Milliseconds(20);
};

// Sends updates of the overall goal to `plans` (round robin, as "soc") until
// stopped. Thread-safe.
class PlanWriters {
 public:
  PlanWriters(const std::string& address, const TestKeys& keys, std::vector<std::string> plans,
              PlanWritersOptions options = {});
  ~PlanWriters();

  void Start(int threads);
  void Stop();

  // What the service acknowledged so far.
  std::set<std::pair<std::string, int64_t>> confirmed();
  int failed() const { return failed_.load(); }
  // When the last acknowledged update came back (the Unix epoch before any).
  absl::Time last_ok() const { return absl::FromUnixMicros(last_ok_micros_.load()); }

 private:
  const TestKeys& keys_;
  const std::vector<std::string> plans_;
  const PlanWritersOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::vector<std::thread> threads_;
  std::atomic<bool> stop_{false};
  std::atomic<int> failed_{0};
  std::atomic<int64_t> last_ok_micros_{0};
  std::mutex mu_;
  std::set<std::pair<std::string, int64_t>> confirmed_;
};

}  // namespace samplan::testing

#endif  // SAMPLAN_TESTS_SUPPORT_PLAN_WRITERS_H_
