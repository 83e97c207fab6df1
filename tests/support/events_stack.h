#ifndef SAMPLAN_TESTS_SUPPORT_EVENTS_STACK_H_
#define SAMPLAN_TESTS_SUPPORT_EVENTS_STACK_H_

// The event service running inside the test process over a real database and
// Redis, on a free loopback port, wired as main.cc wires it; and a subscriber that
// reads a Subscribe stream on a thread of its own, as a partner's client would.

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/auth.h"
#include "common/call.h"
#include "common/pg.h"
#include "common/server.h"
#include "samplan/events/v1/event_service.grpc.pb.h"
#include "services/events/event_service.h"

namespace samplan::testing {

class InProcessEvents {
 public:
  // Serves events over `dsn` (identity migrated) and `options.redis`, trusting
  // `tokens`.
  static absl::StatusOr<std::unique_ptr<InProcessEvents>> Start(
      const std::string& dsn, const TokenVerifierOptions& tokens,
      events::EventServiceOptions options);
  ~InProcessEvents();

  const std::string& address() const { return address_; }
  std::unique_ptr<events::v1::EventService::Stub> NewStub() const;
  events::EventService& service() { return stack_->service(); }

 private:
  InProcessEvents() = default;
  std::unique_ptr<PgPool> pool_;
  std::unique_ptr<TokenVerifier> verifier_;
  std::unique_ptr<CallHandler> calls_;
  std::unique_ptr<events::EventServiceStack> stack_;
  std::unique_ptr<GrpcServer> server_;
  std::string address_;
};

// One Subscribe call read on a background thread; every message is kept with the
// time it arrived.
class TestSubscriber {
 public:
  struct Received {
    events::v1::SubscribeResponse message;
    absl::Time at;
  };

  // Opens the call with `token` and `request`. With `read` false the client never
  // reads (a stalled partner) until Resume().
  TestSubscriber(const std::string& address, const std::string& token,
                 events::v1::SubscribeRequest request, bool read = true);
  // Opens the call on `channel`, which other calls may share (one HTTP/2
  // connection, as behind a proxy that pools upstream connections).
  TestSubscriber(std::shared_ptr<grpc::Channel> channel, const std::string& token,
                 events::v1::SubscribeRequest request);
  ~TestSubscriber();

  // Waits up to `timeout` until `done` holds for the messages so far (`done` runs
  // with the subscriber locked: it must not call the subscriber).
  bool WaitFor(absl::Duration timeout,
               const std::function<bool(const std::vector<Received>&)>& done);
  // Waits up to `timeout` for the call to end and returns its status.
  absl::StatusOr<grpc::Status> WaitForEnd(absl::Duration timeout);
  // Starts reading, for a subscriber created with `read` false.
  void Resume();
  // Cancels the call and waits for the reader.
  void Cancel();

  std::vector<Received> received();
  // The events delivered so far, in order.
  std::vector<events::v1::DeliveredEvent> events();
  // The cursor of the last message, or empty.
  std::string last_cursor();

 private:
  void Open(std::shared_ptr<grpc::Channel> channel, const std::string& token,
            const events::v1::SubscribeRequest& request);
  void Read();

  grpc::ClientContext context_;
  std::unique_ptr<events::v1::EventService::Stub> stub_;
  std::unique_ptr<grpc::ClientReader<events::v1::SubscribeResponse>> reader_;
  absl::Mutex mu_;
  bool reading_ ABSL_GUARDED_BY(mu_);
  std::vector<Received> received_ ABSL_GUARDED_BY(mu_);
  std::optional<grpc::Status> status_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace samplan::testing

#endif  // SAMPLAN_TESTS_SUPPORT_EVENTS_STACK_H_
