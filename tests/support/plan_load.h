#ifndef SAMPLAN_TESTS_SUPPORT_PLAN_LOAD_H_
#define SAMPLAN_TESTS_SUPPORT_PLAN_LOAD_H_

// A steady load on the caseplan and events services, as partners and
// caseworkers make it: plan updates and reads at a set rate, and subscribers
// that follow the stream and resume from their cursors. For the fault tests and
// the soak benchmark.

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/time/time.h"
#include "samplan/caseplan/v1/caseplan.grpc.pb.h"
#include "samplan/events/v1/event_service.grpc.pb.h"

namespace samplan::testing {

// Returns a channel to `ports` on loopback as a partner would configure it with
// `service_config` (docs/grpc_service_config.json: round robin over the
// replicas, health-checked, retries and wait-for-ready as published). `salt`
// gives it a connection of its own.
std::shared_ptr<grpc::Channel> PolicyChannel(const std::string& service_config,
                                             const std::vector<int>& ports, int salt = 0);

struct LoadOptions {
  // `writers` threads each update a plan every `writer_period`; `readers`
  // threads each read one every `reader_period`. A late call skips ticks.
  int writers = 10;
  absl::Duration writer_period = absl::Milliseconds(200);
  int readers = 4;
  absl::Duration reader_period = absl::Milliseconds(200);
  // Every call's deadline.
  absl::Duration deadline = absl::Seconds(2);
};

// One finished call of the load.
struct Outcome {
  bool write;
  grpc::StatusCode code;
  absl::Time end;
  absl::Duration took;
};

// Updates and reads `plans` at a set rate from threads of its own until
// stopped; remembers every outcome and the (plan, version) of every update
// answered OK.
class PlanLoad {
 public:
  PlanLoad(std::shared_ptr<grpc::Channel> channel, std::string token,
           std::vector<std::string> plans, LoadOptions options);
  ~PlanLoad();

  void Start();
  void Stop();
  std::vector<Outcome> outcomes();
  // The outcomes that ended at or after `since`.
  std::vector<Outcome> outcomes_since(absl::Time since);
  std::set<std::pair<std::string, int64_t>> confirmed();

 private:
  void Run(int t, bool write);

  std::shared_ptr<grpc::Channel> channel_;
  const std::string token_;
  const std::vector<std::string> plans_;
  const LoadOptions options_;
  std::vector<std::thread> threads_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::vector<Outcome> outcomes_;
  std::set<std::pair<std::string, int64_t>> confirmed_;
};

// A partner's subscriber to caseplan's events: follows the stream, and when the
// call ends resumes from the last cursor it was given, as docs/events.md tells
// partners to.
class Follower {
 public:
  Follower(std::shared_ptr<grpc::Channel> channel, std::string token);
  ~Follower();

  void Stop();
  // Whether a first message has come: from then on it is live.
  bool live();
  // How many times the call ended and was opened again.
  int resumed();
  // The versions received of each plan, in the order received.
  std::map<std::string, std::vector<int64_t>> versions();
  // How many events it has received.
  int64_t received();

 private:
  void Run();

  std::unique_ptr<events::v1::EventService::Stub> stub_;
  const std::string token_;
  std::thread thread_;
  std::mutex mu_;
  bool stop_ = false;
  grpc::ClientContext* context_ = nullptr;
  std::string cursor_;
  int resumed_ = 0;
  int64_t received_ = 0;
  std::map<std::string, std::vector<int64_t>> versions_;
};

}  // namespace samplan::testing

#endif  // SAMPLAN_TESTS_SUPPORT_PLAN_LOAD_H_
