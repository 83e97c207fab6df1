#include "tests/support/events_stack.h"

#include "absl/strings/str_cat.h"
#include "common/access.h"
#include "tests/support/service_roles.h"

namespace samplan::testing {

absl::StatusOr<std::unique_ptr<InProcessEvents>> InProcessEvents::Start(
    const std::string& dsn, const TokenVerifierOptions& tokens,
    events::EventServiceOptions options) {
  std::unique_ptr<InProcessEvents> stack(new InProcessEvents());
  // The service runs as its database role, as in production: what it may not do
  // fails here as it would there.
  absl::StatusOr<std::string> service_dsn = ServiceRoleDsn(dsn, "events");
  if (!service_dsn.ok()) return service_dsn.status();
  auto pool = PgPool::Create({*service_dsn, 4, absl::Seconds(10), "test-events", AccessStatements()});
  if (!pool.ok()) return pool.status();
  stack->pool_ = *std::move(pool);
  auto verifier = MakeTokenVerifier(tokens);
  if (!verifier.ok()) return verifier.status();
  stack->verifier_ = *std::move(verifier);
  stack->calls_ = std::make_unique<CallHandler>(*stack->verifier_, absl::Seconds(10));
  stack->stack_ =
      std::make_unique<events::EventServiceStack>(*stack->pool_, *stack->calls_, options);
  auto server = GrpcServer::Start(
      {"127.0.0.1:0", absl::Seconds(10), absl::ZeroDuration(), absl::Seconds(1), ""},
      {&stack->stack_->service()});
  if (!server.ok()) return server.status();
  stack->server_ = *std::move(server);
  stack->address_ = absl::StrCat("127.0.0.1:", stack->server_->port());
  return stack;
}

InProcessEvents::~InProcessEvents() {
  // Open streams end as in the binary, before the server and the service go.
  stack_->service().EndAll();
  server_.reset();
}

std::unique_ptr<events::v1::EventService::Stub> InProcessEvents::NewStub() const {
  return events::v1::EventService::NewStub(
      grpc::CreateChannel(address_, grpc::InsecureChannelCredentials()));
}

TestSubscriber::TestSubscriber(const std::string& address, const std::string& token,
                               events::v1::SubscribeRequest request, bool read)
    : reading_(read) {
  // A channel of its own: a stalled subscriber must not hold up another's.
  grpc::ChannelArguments args;
  args.SetInt("samplan.test.channel", reinterpret_cast<intptr_t>(this) & 0x7fffffff);
  if (!read) {
    // A client that does not read holds little: the server's writes back up as
    // soon as a small window is full, as with a partner whose consumer has hung.
    args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
    args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 16 * 1024);
  }
  Open(grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args), token,
       request);
}

TestSubscriber::TestSubscriber(std::shared_ptr<grpc::Channel> channel, const std::string& token,
                               events::v1::SubscribeRequest request)
    : reading_(true) {
  Open(std::move(channel), token, request);
}

void TestSubscriber::Open(std::shared_ptr<grpc::Channel> channel, const std::string& token,
                          const events::v1::SubscribeRequest& request) {
  stub_ = events::v1::EventService::NewStub(std::move(channel));
  context_.AddMetadata("authorization", "Bearer " + token);
  reader_ = stub_->Subscribe(&context_, request);
  thread_ = std::thread([this] { Read(); });
}

TestSubscriber::~TestSubscriber() { Cancel(); }

void TestSubscriber::Read() {
  {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(&reading_));
  }
  events::v1::SubscribeResponse message;
  while (reader_->Read(&message)) {
    absl::MutexLock lock(&mu_);
    received_.push_back({message, absl::Now()});
  }
  grpc::Status status = reader_->Finish();
  absl::MutexLock lock(&mu_);
  status_ = status;
}

void TestSubscriber::Resume() {
  absl::MutexLock lock(&mu_);
  reading_ = true;
}

bool TestSubscriber::WaitFor(absl::Duration timeout,
                             const std::function<bool(const std::vector<Received>&)>& done) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (done(received_)) return true;
      if (status_.has_value()) return false;
    }
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(5));
  }
}

absl::StatusOr<grpc::Status> TestSubscriber::WaitForEnd(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto ended = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return status_.has_value(); };
  if (!mu_.AwaitWithTimeout(absl::Condition(&ended), timeout)) {
    return absl::DeadlineExceededError("the subscription did not end");
  }
  return *status_;
}

void TestSubscriber::Cancel() {
  if (!thread_.joinable()) return;
  context_.TryCancel();
  Resume();
  thread_.join();
}

std::vector<TestSubscriber::Received> TestSubscriber::received() {
  absl::MutexLock lock(&mu_);
  return received_;
}

std::vector<events::v1::DeliveredEvent> TestSubscriber::events() {
  absl::MutexLock lock(&mu_);
  std::vector<events::v1::DeliveredEvent> out;
  for (const Received& r : received_) {
    for (const auto& event : r.message.events()) out.push_back(event);
  }
  return out;
}

std::string TestSubscriber::last_cursor() {
  absl::MutexLock lock(&mu_);
  return received_.empty() ? "" : received_.back().message.cursor();
}

}  // namespace samplan::testing
