// Tier 3: the samplan-caseplan binary as operators run it: it refuses to start on
// missing configuration and names every variable, and on SIGTERM it reports
// NOT_SERVING while it drains, still answers calls meanwhile, and exits cleanly.

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <future>
#include <signal.h>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "samplan/caseplan/v1/caseplan.grpc.pb.h"
#include "tests/support/fixtures.h"
#include "tests/support/servers.h"

namespace samplan {
namespace {

using testing::ChildProcess;

std::string ReadFile(const std::string& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

// Returns the serving status of the whole server (1 SERVING, 2 NOT_SERVING), or -1.
int HealthStatus(const std::shared_ptr<grpc::Channel>& channel) {
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
  grpc::ByteBuffer request(nullptr, 0), response;
  std::promise<grpc::Status> done;
  stub.UnaryCall(&context, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request,
                 &response, [&](grpc::Status status) { done.set_value(status); });
  if (!done.get_future().get().ok()) return -1;
  std::vector<grpc::Slice> slices;
  if (!response.Dump(&slices).ok()) return -1;
  std::string bytes;
  for (auto& slice : slices) bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  return bytes.size() == 2 && bytes[0] == 0x08 ? bytes[1] : -1;
}

// Sends `bytes` as the request of `method` and returns the answer's status.
grpc::Status RawCall(const std::shared_ptr<grpc::Channel>& channel, const std::string& method,
                     const std::string& bytes, const std::string& token = "") {
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  if (!token.empty()) context.AddMetadata("authorization", "Bearer " + token);
  grpc::Slice slice(bytes);
  grpc::ByteBuffer request(&slice, 1), response;
  std::promise<grpc::Status> done;
  stub.UnaryCall(&context, method, grpc::StubOptions(), &request, &response,
                 [&](grpc::Status status) { done.set_value(status); });
  return done.get_future().get();
}

// Returns the serving status the health service gives `service` (1 SERVING), or
// the negated gRPC code of a failed check.
int ServiceHealth(const std::shared_ptr<grpc::Channel>& channel, const std::string& service) {
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
  const std::string bytes = std::string("\x0a", 1) + static_cast<char>(service.size()) + service;
  grpc::Slice slice(bytes);
  grpc::ByteBuffer request(&slice, 1), response;
  std::promise<grpc::Status> done;
  stub.UnaryCall(&context, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request,
                 &response, [&](grpc::Status status) { done.set_value(status); });
  grpc::Status status = done.get_future().get();
  if (!status.ok()) return -static_cast<int>(status.error_code());
  std::vector<grpc::Slice> slices;
  if (!response.Dump(&slices).ok()) return -100;
  std::string out;
  for (auto& s : slices) out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  return out.size() == 2 && out[0] == 0x08 ? out[1] : -100;
}

// A samplan-caseplan binary over throwaway PostgreSQL (identity and caseplan
// migrated) and Redis, started as operators run it and SERVING.
struct RunningCasePlan {
  std::unique_ptr<testing::PostgresServer> pg;
  std::unique_ptr<testing::RedisServer> redis;
  std::unique_ptr<testing::TestKeys> keys;
  std::string dsn;
  int metrics_port = 0;
  std::unique_ptr<ChildProcess> process;
  std::shared_ptr<grpc::Channel> channel;
};

// Starts `out` with SAMPLAN_DRAIN_PERIOD `drain_period`, its output appended to
// `log_path` (empty: inherited), and waits until it reports SERVING.
void StartCasePlan(const std::string& drain_period, const std::string& log_path,
                   RunningCasePlan& out) {
  auto pg = testing::PostgresServer::Start();
  ASSERT_TRUE(pg.ok()) << pg.status();
  out.pg = *std::move(pg);
  auto redis = testing::RedisServer::Start();
  ASSERT_TRUE(redis.ok()) << redis.status();
  out.redis = *std::move(redis);
  auto keys = testing::TestKeys::Create();
  ASSERT_TRUE(keys.ok());
  out.keys = std::make_unique<testing::TestKeys>(*std::move(keys));
  auto dsn = out.pg->CreateDatabase();
  ASSERT_TRUE(dsn.ok());
  out.dsn = *dsn;
  // The identity schema, which caseplan's access checks read, is the identity
  // service's to migrate; the caseplan binary migrates its own.
  ASSERT_TRUE(testing::MigrateIdentityAndCasePlan(out.dsn).ok());
  const int port = testing::FreePort();
  out.metrics_port = testing::FreePort();
  std::map<std::string, std::string> env = out.keys->Environment();
  env["SAMPLAN_PG_DSN"] = out.dsn;
  env["SAMPLAN_REDIS_ADDRESS"] = out.redis->Address();
  env["SAMPLAN_LISTEN_ADDRESS"] = absl::StrCat("127.0.0.1:", port);
  env["SAMPLAN_METRICS_ADDRESS"] = absl::StrCat("127.0.0.1:", out.metrics_port);
  env["SAMPLAN_DRAIN_PERIOD"] = drain_period;
  auto process = ChildProcess::Spawn(SAMPLAN_CASEPLAN_BINARY, {}, env, log_path);
  ASSERT_TRUE(process.ok());
  out.process = *std::move(process);
  out.channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", port),
                                    grpc::InsecureChannelCredentials());
  const absl::Time started = absl::Now();
  while (HealthStatus(out.channel) != 1 && absl::Now() - started < absl::Seconds(20)) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_EQ(HealthStatus(out.channel), 1) << "never became SERVING";
}

// A partner's client with a bug, or an attacker, sends bytes that are no valid
// request. They are the caller's error: INVALID_ARGUMENT naming the field, and
// in the log one JSON call line like any other call, never a line of another
// shape. Health answers per service too.
TEST(ServiceProcessTest, MalformedRequestsAreTheCallersErrorAndLoggedAsCalls) {
  char log_path[] = "/tmp/samplan-malformed-test-XXXXXX";
  const int log_fd = mkstemp(log_path);
  ASSERT_GE(log_fd, 0);
  close(log_fd);
  RunningCasePlan caseplan;
  ASSERT_NO_FATAL_FAILURE(StartCasePlan("0s", log_path, caseplan));
  const std::shared_ptr<grpc::Channel>& channel = caseplan.channel;
  EXPECT_EQ(ServiceHealth(channel, "samplan.caseplan.v1.CasePlanService"), 1);
  EXPECT_EQ(ServiceHealth(channel, "samplan.nothing.v1.NoService"),
            -static_cast<int>(grpc::StatusCode::NOT_FOUND));

  const std::string token = caseplan.keys->Token("soc");
  // Invalid UTF-8 in a nested string field.
  caseplan::v1::CreatePlanRequest create;
  create.set_request_id("malformed-1");
  create.mutable_plan()->set_overall_goal_description("QQQQ");
  std::string bytes = create.SerializeAsString();
  bytes.replace(bytes.find("QQQQ"), 4, "\xff\xfe\xfd\xfc");
  grpc::Status status =
      RawCall(channel, "/samplan.caseplan.v1.CasePlanService/CreatePlan", bytes, token);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
  EXPECT_EQ(testing::ViolatedFields(status),
            std::vector<std::string>{"plan.overall_goal_description"});
  // In a top-level field, and with no token at all: still the caller's bytes.
  caseplan::v1::GetPlanRequest get;
  get.set_name("plans/QQQQ");
  bytes = get.SerializeAsString();
  bytes.replace(bytes.find("QQQQ"), 4, "\xc3\x28\xa0\xa1");
  status = RawCall(channel, "/samplan.caseplan.v1.CasePlanService/GetPlan", bytes);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
  EXPECT_EQ(testing::ViolatedFields(status), std::vector<std::string>{"name"});
  // 100,000 nested groups of an unknown field.
  std::string nested;
  const std::string start_group = "\xdb\x3e";  // field 1000, start group
  const std::string end_group = "\xdc\x3e";    // field 1000, end group
  for (int i = 0; i < 100000; ++i) nested += start_group;
  for (int i = 0; i < 100000; ++i) nested += end_group;
  status = RawCall(channel, "/samplan.caseplan.v1.CasePlanService/GetPlan", nested, token);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
  EXPECT_EQ(testing::ViolatedFields(status), std::vector<std::string>{"request"});
  // The server goes on serving.
  EXPECT_EQ(HealthStatus(channel), 1);

  caseplan.process->Signal(SIGTERM);
  ASSERT_TRUE(caseplan.process->Wait(absl::Seconds(15)).ok());
  std::istringstream log(ReadFile(log_path));
  int malformed_calls = 0;
  for (std::string line; std::getline(log, line);) {
    EXPECT_TRUE(!line.empty() && line.front() == '{' && line.back() == '}')
        << "not a JSON line: " << line;
    if (line.find("\"msg\":\"call\"") != std::string::npos &&
        line.find("\"code\":\"INVALID_ARGUMENT\"") != std::string::npos) {
      ++malformed_calls;
    }
  }
  EXPECT_EQ(malformed_calls, 3) << ReadFile(log_path);
  std::remove(log_path);
}

TEST(ServiceProcessTest, MissingConfigurationStopsStartAndNamesEachVariable) {
  char log_path[] = "/tmp/samplan-config-test-XXXXXX";
  const int log_fd = mkstemp(log_path);
  ASSERT_GE(log_fd, 0);
  close(log_fd);
  const std::string log = log_path;
  // Whatever the environment holds, these are unset (empty counts as unset).
  auto service = ChildProcess::Spawn(SAMPLAN_CASEPLAN_BINARY, {},
                                     {{"SAMPLAN_PG_DSN", ""},
                                      {"SAMPLAN_JWT_ISSUER", ""},
                                      {"SAMPLAN_JWT_AUDIENCE", ""},
                                      {"SAMPLAN_JWT_PUBLIC_KEYS", ""},
                                      {"SAMPLAN_PG_POOL_SIZE", "many"}},
                                     log);
  ASSERT_TRUE(service.ok());
  auto status = (*service)->Wait(absl::Seconds(10));
  ASSERT_TRUE(status.ok());
  EXPECT_TRUE(WIFEXITED(*status));
  EXPECT_EQ(WEXITSTATUS(*status), 1);
  const std::string text = ReadFile(log);
  for (const char* name : {"SAMPLAN_PG_DSN", "SAMPLAN_JWT_ISSUER", "SAMPLAN_JWT_AUDIENCE",
                           "SAMPLAN_JWT_PUBLIC_KEYS", "SAMPLAN_PG_POOL_SIZE"}) {
    EXPECT_NE(text.find(name), std::string::npos) << name << " not named in: " << text;
  }
  std::remove(log.c_str());
}

// Caseplan's statements call identity's SQL functions. Started before identity's
// migrations are in (a release applied out of order), it must not become ready
// and answer INTERNAL: it stops, naming what it could not prepare.
TEST(ServiceProcessTest, AServiceWithoutTheIdentitySchemaItNeedsDoesNotStart) {
  auto pg = testing::PostgresServer::Start();
  ASSERT_TRUE(pg.ok()) << pg.status();
  auto keys = testing::TestKeys::Create();
  ASSERT_TRUE(keys.ok());
  auto dsn = (*pg)->CreateDatabase();
  ASSERT_TRUE(dsn.ok());
  char log_path[] = "/tmp/samplan-no-identity-test-XXXXXX";
  const int log_fd = mkstemp(log_path);
  ASSERT_GE(log_fd, 0);
  close(log_fd);
  std::map<std::string, std::string> env = keys->Environment();
  env["SAMPLAN_PG_DSN"] = *dsn;
  env["SAMPLAN_LISTEN_ADDRESS"] = absl::StrCat("127.0.0.1:", testing::FreePort());
  env["SAMPLAN_METRICS_ADDRESS"] = absl::StrCat("127.0.0.1:", testing::FreePort());
  auto service = ChildProcess::Spawn(SAMPLAN_CASEPLAN_BINARY, {}, env, log_path);
  ASSERT_TRUE(service.ok());
  auto status = (*service)->Wait(absl::Seconds(20));
  ASSERT_TRUE(status.ok()) << "it went on running";
  EXPECT_TRUE(WIFEXITED(*status));
  EXPECT_NE(WEXITSTATUS(*status), 0);
  const std::string text = ReadFile(log_path);
  // Its migrations stop first: its role comes from the identity schema's.
  EXPECT_NE(text.find("migrate the identity schema first"), std::string::npos) << text;
  std::remove(log_path);
}

TEST(ServiceProcessTest, SigtermDrainsThenExits) {
  RunningCasePlan caseplan;
  ASSERT_NO_FATAL_FAILURE(StartCasePlan("2s", "", caseplan));
  testing::TestPersons persons(caseplan.dsn);
  const std::shared_ptr<grpc::Channel>& channel = caseplan.channel;
  const testing::TestKeys* keys = caseplan.keys.get();
  const int metrics_port = caseplan.metrics_port;
  ChildProcess* service = caseplan.process.get();

  // Operators see the calls and the relay on GET /metrics.
  auto stub = caseplan::v1::CasePlanService::NewStub(channel);
  {
    caseplan::v1::GetPlanRequest get;
    get.set_name("plans/not-a-uuid");
    grpc::ClientContext context;
    context.AddMetadata("authorization", "Bearer " + keys->Token("soc"));
    caseplan::v1::Plan plan;
    EXPECT_EQ(stub->GetPlan(&context, get, &plan).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  }
  const std::string metrics = testing::HttpGet(metrics_port, "/metrics");
  EXPECT_NE(metrics.find("200 OK"), std::string::npos) << metrics;
  // prometheus-cpp writes each series' labels sorted by name.
  EXPECT_NE(metrics.find("# TYPE samplan_grpc_calls_total counter\n"), std::string::npos);
  EXPECT_NE(
      metrics.find("samplan_grpc_calls_total{code=\"INVALID_ARGUMENT\",method=\"GetPlan\"} 1\n"),
      std::string::npos)
      << metrics;
  // The one call is in GetPlan's latency histogram: counted, and in its +Inf bucket.
  EXPECT_NE(metrics.find("# TYPE samplan_grpc_call_duration_seconds histogram\n"),
            std::string::npos);
  EXPECT_NE(metrics.find("samplan_grpc_call_duration_seconds_count{method=\"GetPlan\"} 1\n"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find(
                "samplan_grpc_call_duration_seconds_bucket{method=\"GetPlan\",le=\"+Inf\"} 1\n"),
            std::string::npos)
      << metrics;
  EXPECT_NE(
      metrics.find("samplan_grpc_call_duration_seconds_bucket{method=\"GetPlan\",le=\"0.001\"} "),
      std::string::npos)
      << metrics;
  // Under its own code only: the call was no success.
  EXPECT_EQ(metrics.find("samplan_grpc_calls_total{code=\"OK\",method=\"GetPlan\"}"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("samplan_outbox_oldest_event_age_seconds"), std::string::npos);
  EXPECT_NE(testing::HttpGet(metrics_port, "/other").find("404"), std::string::npos);

  service->Signal(SIGTERM);
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_EQ(HealthStatus(channel), 2) << "should report NOT_SERVING while draining";
  // Calls that still arrive while load balancers catch up are answered.
  caseplan::v1::CreatePlanRequest request;
  request.set_request_id("during-drain");
  request.mutable_plan()->set_person(persons("p1"));
  request.mutable_plan()->set_status(caseplan::v1::PLAN_STATUS_DRAFT);
  grpc::ClientContext context;
  context.AddMetadata("authorization", "Bearer " + keys->Token("soc"));
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
  caseplan::v1::Plan plan;
  grpc::Status created = stub->CreatePlan(&context, request, &plan);
  EXPECT_TRUE(created.ok()) << created.error_message();

  auto exit = service->Wait(absl::Seconds(15));
  ASSERT_TRUE(exit.ok()) << "did not exit after draining";
  EXPECT_TRUE(WIFEXITED(*exit));
  EXPECT_EQ(WEXITSTATUS(*exit), 0);
  EXPECT_TRUE(testing::WaitForOutboxDrained(caseplan.dsn, absl::Seconds(1)).ok())
      << "the relay stopped with events unpublished";
}

}  // namespace
}  // namespace samplan
