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

// Returns the raw HTTP/1.0 answer of GET `path` on 127.0.0.1:`port`.
std::string HttpGet(int port, const std::string& path) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string answer;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    const std::string request = "GET " + path + " HTTP/1.0\r\n\r\n";
    (void)!send(fd, request.data(), request.size(), 0);
    char buffer[4096];
    for (ssize_t n; (n = recv(fd, buffer, sizeof buffer, 0)) > 0;) answer.append(buffer, n);
  }
  close(fd);
  return answer;
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

TEST(ServiceProcessTest, SigtermDrainsThenExits) {
  auto pg = testing::PostgresServer::Start();
  ASSERT_TRUE(pg.ok()) << pg.status();
  auto redis = testing::RedisServer::Start();
  ASSERT_TRUE(redis.ok()) << redis.status();
  auto keys = testing::TestKeys::Create();
  ASSERT_TRUE(keys.ok());
  auto dsn = (*pg)->CreateDatabase();
  ASSERT_TRUE(dsn.ok());
  // The identity schema, which caseplan's access checks read, is the identity
  // service's to migrate; the caseplan binary migrates its own.
  ASSERT_TRUE(testing::MigrateIdentityAndCasePlan(*dsn).ok());
  testing::TestPersons persons(*dsn);
  const int port = testing::FreePort();
  std::map<std::string, std::string> env = keys->Environment();
  env["SAMPLAN_PG_DSN"] = *dsn;
  env["SAMPLAN_REDIS_ADDRESS"] = (*redis)->Address();
  env["SAMPLAN_LISTEN_ADDRESS"] = absl::StrCat("127.0.0.1:", port);
  env["SAMPLAN_DRAIN_PERIOD"] = "2s";
  const int metrics_port = testing::FreePort();
  env["SAMPLAN_METRICS_ADDRESS"] = absl::StrCat("127.0.0.1:", metrics_port);
  auto service = ChildProcess::Spawn(SAMPLAN_CASEPLAN_BINARY, {}, env);
  ASSERT_TRUE(service.ok());

  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", port),
                                     grpc::InsecureChannelCredentials());
  const absl::Time started = absl::Now();
  while (HealthStatus(channel) != 1 && absl::Now() - started < absl::Seconds(20)) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_EQ(HealthStatus(channel), 1) << "never became SERVING";

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
  const std::string metrics = HttpGet(metrics_port, "/metrics");
  EXPECT_NE(metrics.find("200 OK"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("samplan_grpc_calls_total{method=\"GetPlan\",code=\"INVALID_ARGUMENT\"} 1"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("samplan_outbox_oldest_event_age_seconds"), std::string::npos);
  EXPECT_NE(HttpGet(metrics_port, "/other").find("404"), std::string::npos);

  (*service)->Signal(SIGTERM);
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

  auto exit = (*service)->Wait(absl::Seconds(15));
  ASSERT_TRUE(exit.ok()) << "did not exit after draining";
  EXPECT_TRUE(WIFEXITED(*exit));
  EXPECT_EQ(WEXITSTATUS(*exit), 0);
  EXPECT_TRUE(testing::WaitForOutboxDrained(*dsn, absl::Seconds(1)).ok())
      << "the relay stopped with events unpublished";
}

}  // namespace
}  // namespace samplan
