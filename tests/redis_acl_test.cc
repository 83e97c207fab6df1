// Least privilege in Redis: each service logs in as its own ACL user, from the
// rules in deploy/local/redis-users.acl that the local start and the manifests use.
// A service can do its work with them, and nothing else: the event service cannot
// append to a stream, the relays cannot read or write other keys.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/outbox.h"
#include "common/redis.h"
#include "common/relay.h"
#include "services/caseplan/caseplan_service.h"
#include "tests/support/caseplan_stack.h"
#include "tests/support/fixtures.h"
#include "tests/support/servers.h"

namespace samplan::caseplan {
namespace {

std::string Password(const std::string& user) { return absl::StrCat("test-", user, "-secret"); }

// Writes the server's ACL file from the services' rules, as deploy/local/start.sh
// does, with test passwords; the default user stays open for the test's checks.
absl::StatusOr<std::string> WriteAclFile(const std::string& folder) {
  std::ifstream rules(SAMPLAN_REDIS_USERS_ACL);
  if (!rules) return absl::NotFoundError(SAMPLAN_REDIS_USERS_ACL);
  const std::string path = folder + "/users.acl";
  std::ofstream acl(path);
  std::string line;
  while (std::getline(rules, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::pair<std::string, std::string> name_rules =
        absl::StrSplit(line, absl::MaxSplits(' ', 1));
    acl << "user " << name_rules.first << " on >" << Password(name_rules.first) << " "
        << name_rules.second << "\n";
  }
  acl << "user default on nopass ~* &* +@all\n";
  return path;
}

class RedisAclTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char folder[] = "/tmp/samplan-acl-XXXXXX";
    ASSERT_NE(mkdtemp(folder), nullptr);
    folder_ = folder;
    absl::StatusOr<std::string> acl = WriteAclFile(folder_);
    ASSERT_TRUE(acl.ok()) << acl.status();
    auto redis = testing::RedisServer::Start({"--aclfile", *acl});
    ASSERT_TRUE(redis.ok()) << redis.status();
    redis_ = *std::move(redis);
  }
  void TearDown() override { std::filesystem::remove_all(folder_); }

  RedisOptions As(const std::string& user) const {
    RedisOptions options{redis_->host(), redis_->port()};
    options.username = user;
    options.password = Password(user);
    return options;
  }

  // Returns the refusal of `command` for `user` (ACL DRYRUN), or "" when allowed.
  std::string Refusal(const std::string& user, std::vector<std::string> command) {
    RedisClient admin({redis_->host(), redis_->port()});
    command.insert(command.begin(), {"ACL", "DRYRUN", user});
    absl::StatusOr<RedisReply> reply = admin.Command(command);
    if (!reply.ok()) return reply.status().ToString();
    if (reply->is_error()) return reply->text;
    return reply->text == "OK" ? "" : reply->text;
  }

  std::string folder_;
  std::unique_ptr<testing::RedisServer> redis_;
};

TEST_F(RedisAclTest, TheEventServiceReadsStreamsButCannotAppendToThem) {
  const std::string stream = EventStreamKey("1885");
  RedisClient events(As("events"));
  absl::StatusOr<RedisReply> read = events.Command({"XRANGE", stream, "-", "+"});
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_FALSE(read->is_error()) << read->text;
  absl::StatusOr<RedisReply> forged =
      events.Command({"XADD", stream, "*", "event_id", "forged", "type", "x", "event", "x"});
  ASSERT_TRUE(forged.ok()) << forged.status();
  ASSERT_TRUE(forged->is_error());
  EXPECT_TRUE(absl::StartsWith(forged->text, "NOPERM")) << forged->text;
  for (const char* write : {"XDEL", "XTRIM", "DEL"}) {
    EXPECT_NE(Refusal("events", {write, stream, "0-1"}), "") << write;
  }
  EXPECT_EQ(Refusal("events", {"XREAD", "BLOCK", "10", "STREAMS", stream, "0"}), "");
  EXPECT_EQ(Refusal("events", {"XINFO", "STREAM", stream}), "");
}

TEST_F(RedisAclTest, EveryUserIsConfinedToTheEventStreams) {
  for (const char* user : {"identity", "caseplan", "placement", "scheduling", "surveys", "events"}) {
    EXPECT_NE(Refusal(user, {"GET", "samplan:other"}), "") << user;
    EXPECT_NE(Refusal(user, {"XRANGE", "other:stream", "-", "+"}), "") << user;
    EXPECT_NE(Refusal(user, {"KEYS", "*"}), "") << user;
    EXPECT_NE(Refusal(user, {"FLUSHALL"}), "") << user;
    EXPECT_NE(Refusal(user, {"CONFIG", "GET", "*"}), "") << user;
    EXPECT_NE(Refusal(user, {"ACL", "LIST"}), "") << user;
    EXPECT_NE(Refusal(user, {"XGROUP", "DESTROY", EventStreamKey("1885"), "g"}), "") << user;
  }
  // Only the consumers run consumer groups.
  for (const char* user : {"identity", "caseplan", "placement", "events"}) {
    EXPECT_NE(Refusal(user, {"XREADGROUP", "GROUP", "g", "c", "STREAMS",
                             EventStreamKey("1885"), ">"}), "") << user;
  }
}

TEST_F(RedisAclTest, ConsumersMayRunTheirGroupsAndDeadLetters) {
  const std::string stream = EventStreamKey("1885");
  for (const char* user : {"scheduling", "surveys"}) {
    EXPECT_EQ(Refusal(user, {"XGROUP", "CREATE", stream, "g", "0", "MKSTREAM"}), "") << user;
    EXPECT_EQ(Refusal(user, {"XREADGROUP", "GROUP", "g", "c", "COUNT", "10", "BLOCK", "10",
                             "STREAMS", stream, ">"}), "") << user;
    EXPECT_EQ(Refusal(user, {"XACK", stream, "g", "0-1"}), "") << user;
    EXPECT_EQ(Refusal(user, {"XPENDING", stream, "g", "-", "+", "10", "c"}), "") << user;
    EXPECT_EQ(Refusal(user, {"XAUTOCLAIM", stream, "g", "c", "1000", "0", "COUNT", "10"}), "")
        << user;
    EXPECT_EQ(Refusal(user, {"XADD", stream + ":dead:g", "*", "a", "b"}), "") << user;
    EXPECT_EQ(Refusal(user, {"MULTI"}), "") << user;
    EXPECT_EQ(Refusal(user, {"EXEC"}), "") << user;
  }
}

TEST_F(RedisAclTest, AWrongPasswordIsRefusedAtConnect) {
  RedisOptions options = As("caseplan");
  options.password = "not-the-password";
  RedisClient client(options);
  absl::StatusOr<RedisReply> reply = client.Command({"PING"});
  EXPECT_TRUE(absl::IsUnavailable(reply.status())) << reply.status();
}

TEST_F(RedisAclTest, TheRelayPublishesAsItsOwnUser) {
  auto pg = testing::PostgresServer::Start();
  ASSERT_TRUE(pg.ok()) << pg.status();
  auto dsn = (*pg)->CreateDatabase();
  ASSERT_TRUE(dsn.ok());
  ASSERT_TRUE(testing::MigrateIdentityAndCasePlan(*dsn).ok());
  auto keys = testing::TestKeys::Create();
  ASSERT_TRUE(keys.ok());
  testing::TestPersons persons(*dsn);
  auto stack = testing::InProcessCasePlan::Start(*dsn, keys->VerifierOptions());
  ASSERT_TRUE(stack.ok()) << stack.status();
  auto stub = (*stack)->NewStub();
  for (int i = 0; i < 5; ++i) {
    v1::CreatePlanRequest request;
    request.set_request_id(NewItemId());
    request.mutable_plan()->set_person(persons(absl::StrCat("p", i)));
    request.mutable_plan()->set_status(v1::PLAN_STATUS_ACTIVE);
    grpc::ClientContext context;
    context.AddMetadata("authorization", "Bearer " + keys->Token("soc"));
    v1::Plan plan;
    ASSERT_TRUE(stub->CreatePlan(&context, request, &plan).ok());
  }
  OutboxRelay relay({kSchema, 100, absl::Milliseconds(1)}, *dsn, As("caseplan"));
  absl::StatusOr<int> published = relay.PublishOnce();
  ASSERT_TRUE(published.ok()) << published.status();
  EXPECT_EQ(*published, 5);
  EXPECT_TRUE(testing::VerifyStreamMatchesDatabase(*dsn, redis_->Address(), "1885").ok());
  // What the relay does on a stream it shares with another service's relay that
  // passed it, and before deleting rows when replicas are required.
  EXPECT_EQ(Refusal("caseplan", {"XINFO", "STREAM", EventStreamKey("1885")}), "");
  EXPECT_EQ(Refusal("caseplan", {"WAIT", "1", "100"}), "");
  EXPECT_EQ(Refusal("caseplan", {"PUBLISH", "samplan:relay:caseplan", "wait"}), "");
}

}  // namespace
}  // namespace samplan::caseplan
