// Redis that fails over without losing an event: a primary, two replicas and
// three Sentinels on loopback. The relay finds the primary through the Sentinels and
// deletes an outbox row only once a replica holds its entry (WAIT), so a primary
// killed during a burst of plan changes leaves, after the failover, a stream with
// every committed event exactly once and in order.

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/call.h"
#include "common/outbox.h"
#include "common/redis.h"
#include "common/relay.h"
#include "services/caseplan/caseplan_service.h"
#include "tests/support/caseplan_stack.h"
#include "tests/support/fixtures.h"
#include "tests/support/plan_writers.h"
#include "tests/support/servers.h"

namespace samplan::caseplan {
namespace {

using testing::PlanWriters;
using testing::PlanWritersOptions;
using testing::RedisServer;

// A steady burst: a short pause after every update, none more after a failure.
constexpr PlanWritersOptions kBurstWriters = {.deadline = absl::Seconds(2),
                                              .pause_after_call = absl::Milliseconds(5),
                                              .pause_after_failure = absl::ZeroDuration()};

constexpr char kMaster[] = "samplan";

// Returns the field `name` of `INFO replication` on the server at `port`, or "".
std::string ReplicationField(int port, const std::string& name) {
  RedisClient redis({"127.0.0.1", port});
  absl::StatusOr<RedisReply> info = redis.Command({"INFO", "replication"});
  if (!info.ok()) return "";
  for (absl::string_view line : absl::StrSplit(info->text, "\r\n")) {
    if (absl::StartsWith(line, name + ":")) return std::string(line.substr(name.size() + 1));
  }
  return "";
}

// Returns the process id of the Redis server at `port`, or -1.
pid_t ServerPid(int port) {
  RedisClient redis({"127.0.0.1", port});
  absl::StatusOr<RedisReply> info = redis.Command({"INFO", "server"});
  if (!info.ok()) return -1;
  for (absl::string_view line : absl::StrSplit(info->text, "\r\n")) {
    int pid = 0;
    if (absl::StartsWith(line, "process_id:") && absl::SimpleAtoi(line.substr(11), &pid)) {
      return pid;
    }
  }
  return -1;
}

// Returns the number of items in the array reply of `command` sent to `port`, or -1.
int ArraySize(int port, const std::vector<std::string>& command) {
  RedisClient redis({"127.0.0.1", port});
  absl::StatusOr<RedisReply> reply = redis.Command(command);
  if (!reply.ok() || reply->type != RedisReply::Type::kArray) return -1;
  return static_cast<int>(reply->elements.size());
}

// Waits until `done` holds, polling; false after `timeout`.
template <typename Predicate>
bool WaitUntil(Predicate done, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!done()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(50));
  }
  return true;
}

class RedisFailoverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto pg = testing::PostgresServer::Start();
    ASSERT_TRUE(pg.ok()) << pg.status();
    pg_ = *std::move(pg);
    auto primary = RedisServer::Start();
    ASSERT_TRUE(primary.ok()) << primary.status();
    primary_ = *std::move(primary);
    auto replica =
        RedisServer::Start({"--replicaof", "127.0.0.1", absl::StrCat(primary_->port())});
    ASSERT_TRUE(replica.ok()) << replica.status();
    replica_ = *std::move(replica);
    ASSERT_TRUE(WaitUntil(
        [&] { return ReplicationField(replica_->port(), "master_link_status") == "up"; },
        absl::Seconds(20)))
        << "the replica did not catch up with the primary";
    auto keys = testing::TestKeys::Create();
    ASSERT_TRUE(keys.ok());
    keys_ = std::make_unique<testing::TestKeys>(*std::move(keys));
    auto dsn = pg_->CreateDatabase();
    ASSERT_TRUE(dsn.ok());
    dsn_ = *dsn;
    absl::Status migrated = testing::MigrateIdentityAndCasePlan(dsn_);
    ASSERT_TRUE(migrated.ok()) << migrated;
    persons_ = std::make_unique<testing::TestPersons>(dsn_);
    auto stack = testing::InProcessCasePlan::Start(dsn_, keys_->VerifierOptions());
    ASSERT_TRUE(stack.ok()) << stack.status();
    stack_ = *std::move(stack);
  }

  // Starts a second replica, so that one remains to WAIT for after a failover.
  void StartSecondReplica() {
    auto replica =
        RedisServer::Start({"--replicaof", "127.0.0.1", absl::StrCat(primary_->port())});
    ASSERT_TRUE(replica.ok()) << replica.status();
    second_replica_ = *std::move(replica);
    ASSERT_TRUE(WaitUntil(
        [&] { return ReplicationField(second_replica_->port(), "master_link_status") == "up"; },
        absl::Seconds(20)));
  }

  // Starts three Sentinels watching the primary and waits until each knows the
  // `replicas` and the two other Sentinels, so that a failover can be agreed.
  void StartSentinels(int replicas) {
    for (int i = 0; i < 3; ++i) {
      auto sentinel =
          RedisServer::StartSentinel(kMaster, primary_->port(), 2, absl::Milliseconds(1000));
      ASSERT_TRUE(sentinel.ok()) << sentinel.status();
      sentinels_.push_back(*std::move(sentinel));
    }
    for (const auto& sentinel : sentinels_) {
      ASSERT_TRUE(WaitUntil(
          [&] {
            return ArraySize(sentinel->port(), {"SENTINEL", "REPLICAS", kMaster}) == replicas &&
                   ArraySize(sentinel->port(), {"SENTINEL", "SENTINELS", kMaster}) == 2;
          },
          absl::Seconds(30)))
          << "the Sentinels did not find the replica and each other";
    }
  }

  RedisOptions ThroughSentinels() const {
    RedisOptions options;
    for (const auto& sentinel : sentinels_) options.sentinels.emplace_back("127.0.0.1", sentinel->port());
    options.sentinel_master = kMaster;
    return options;
  }

  // Returns the port of the primary as the first Sentinel names it.
  int PrimaryPortNamedBySentinel() const {
    RedisClient redis({"127.0.0.1", sentinels_[0]->port()});
    absl::StatusOr<RedisReply> reply =
        redis.Command({"SENTINEL", "GET-MASTER-ADDR-BY-NAME", kMaster});
    if (!reply.ok() || reply->elements.size() != 2) return -1;
    int port = -1;
    return absl::SimpleAtoi(reply->elements[1].text, &port) ? port : -1;
  }

  std::vector<std::string> CreatePlans(int count) {
    auto stub = stack_->NewStub();
    std::vector<std::string> names;
    for (int i = 0; i < count; ++i) {
      v1::CreatePlanRequest request;
      request.set_request_id(NewItemId());
      request.mutable_plan()->set_person((*persons_)(absl::StrCat("p", i)));
      request.mutable_plan()->set_status(v1::PLAN_STATUS_ACTIVE);
      grpc::ClientContext context;
      context.AddMetadata("authorization", "Bearer " + keys_->Token("soc"));
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
      v1::Plan plan;
      grpc::Status status = stub->CreatePlan(&context, request, &plan);
      EXPECT_TRUE(status.ok()) << status.error_message();
      names.push_back(plan.name());
    }
    return names;
  }

  int64_t OutboxBacklog() {
    pqxx::connection connection(dsn_);
    return pqxx::nontransaction(connection)
        .exec("SELECT count(*) FROM caseplan.outbox")[0][0]
        .as<int64_t>();
  }

  std::unique_ptr<testing::PostgresServer> pg_;
  std::unique_ptr<RedisServer> primary_;
  std::unique_ptr<RedisServer> replica_;
  std::unique_ptr<RedisServer> second_replica_;
  std::vector<std::unique_ptr<RedisServer>> sentinels_;
  std::unique_ptr<testing::TestKeys> keys_;
  std::string dsn_;
  std::unique_ptr<testing::TestPersons> persons_;
  std::unique_ptr<testing::InProcessCasePlan> stack_;
};

TEST_F(RedisFailoverTest, PrimaryKilledDuringABurstLosesAndDuplicatesNoEvent) {
  StartSecondReplica();
  StartSentinels(2);
  RelayOptions relay_options{kSchema, 7, absl::Milliseconds(1)};
  relay_options.min_replicas = 1;
  relay_options.replica_timeout = absl::Milliseconds(500);
  OutboxRelay relay(relay_options, dsn_, ThroughSentinels());
  relay.Start();
  PlanWriters writers(stack_->address(), *keys_, CreatePlans(12), kBurstWriters);
  const absl::Time burst_start = absl::Now();
  writers.Start(4);
  // The kill comes in the middle of the burst, with the relay busy.
  absl::SleepFor(absl::Milliseconds(500));
  ASSERT_TRUE(WaitUntil([&] { return writers.confirmed().size() >= 30; }, absl::Seconds(20)));
  const size_t confirmed_before_kill = writers.confirmed().size();
  const int64_t backlog_at_kill = OutboxBacklog();
  const int old_primary = primary_->port();
  ASSERT_TRUE(primary_->Kill().ok());
  const absl::Time killed = absl::Now();
  ASSERT_TRUE(WaitUntil(
      [&] {
        const int named = PrimaryPortNamedBySentinel();
        return named == replica_->port() || named == second_replica_->port();
      },
      absl::Seconds(30)))
      << "the Sentinels did not promote a replica";
  const std::string new_primary = absl::StrCat("127.0.0.1:", PrimaryPortNamedBySentinel());
  const absl::Duration failover = absl::Now() - killed;
  // The burst goes on after the failover, so that the relay must follow it.
  absl::SleepFor(absl::Milliseconds(1000));
  writers.Stop();
  const absl::Duration burst = absl::Now() - burst_start;
  absl::Status drained = testing::WaitForOutboxDrained(dsn_, absl::Seconds(30));
  ASSERT_TRUE(drained.ok()) << drained;
  const absl::Duration recovered = absl::Now() - killed;
  relay.Stop();

  absl::Status exact = testing::VerifyStreamMatchesDatabase(dsn_, new_primary, "1885");
  EXPECT_TRUE(exact.ok()) << exact;
  pqxx::connection connection(dsn_);
  pqxx::nontransaction tx(connection);
  std::set<std::pair<std::string, int64_t>> committed;
  for (const pqxx::row& row :
       tx.exec("SELECT 'plans/' || plan_id::text, version FROM caseplan.plan_revisions")) {
    committed.emplace(row[0].as<std::string>(), row[1].as<int64_t>());
  }
  for (const auto& change : writers.confirmed()) {
    EXPECT_TRUE(committed.contains(change)) << change.first << " v" << change.second;
  }
  auto stream = testing::ReadStream(new_primary, "1885");
  ASSERT_TRUE(stream.ok()) << stream.status();
  EXPECT_EQ(stream->size(), committed.size());
  EXPECT_GT(writers.confirmed().size(), confirmed_before_kill) << "nothing written after the kill";
  EXPECT_GT(confirmed_before_kill, 20u) << "the test did too little to mean anything";
  std::printf("redis failover: primary :%d killed with %lld events waiting; promoted in %s; "
              "outbox drained %s after the kill; %zu updates confirmed in %s (%.0f/s), "
              "%d failed, %zu events on the stream, %zu committed\n",
              old_primary, static_cast<long long>(backlog_at_kill),
              absl::FormatDuration(failover).c_str(), absl::FormatDuration(recovered).c_str(),
              writers.confirmed().size(), absl::FormatDuration(burst).c_str(),
              writers.confirmed().size() / absl::ToDoubleSeconds(burst), writers.failed(),
              stream->size(), committed.size());
}

// The primary takes a round's entries after losing its only replica (a network
// split: the replica stops following it), so the primary answers and WAIT does not
// confirm. The primary then dies and the replica, which never saw the entries,
// becomes the primary. Deleting the rows on the primary's answer alone would lose
// these events; with WAIT they are written again.
TEST_F(RedisFailoverTest, EntriesAPrimaryAcknowledgedButNoReplicaHeldAreNotLost) {
  CreatePlans(20);
  RelayOptions relay_options{kSchema, 1000, absl::Milliseconds(1)};
  relay_options.min_replicas = 1;
  relay_options.replica_timeout = absl::Milliseconds(300);
  {
    RedisClient replica({"127.0.0.1", replica_->port()});
    ASSERT_TRUE(replica.Command({"REPLICAOF", "NO", "ONE"}).ok());
  }
  ASSERT_TRUE(WaitUntil(
      [&] { return ReplicationField(primary_->port(), "connected_slaves") == "0"; },
      absl::Seconds(10)));
  {
    OutboxRelay relay(relay_options, dsn_, {primary_->host(), primary_->port()});
    absl::StatusOr<int> published = relay.PublishOnce();
    EXPECT_FALSE(published.ok()) << "the relay counted entries no replica holds as published";
  }
  auto on_primary = testing::ReadStream(primary_->Address(), "1885");
  ASSERT_TRUE(on_primary.ok());
  EXPECT_EQ(on_primary->size(), 20u);
  ASSERT_TRUE(primary_->Kill().ok());
  relay_options.min_replicas = 0;  // the promoted replica has no replica of its own
  OutboxRelay successor(relay_options, dsn_, {replica_->host(), replica_->port()});
  absl::StatusOr<int> republished = successor.PublishOnce();
  ASSERT_TRUE(republished.ok()) << republished.status();
  EXPECT_EQ(*republished, 20);
  EXPECT_EQ(OutboxBacklog(), 0);
  auto stream = testing::ReadStream(replica_->Address(), "1885");
  ASSERT_TRUE(stream.ok());
  EXPECT_EQ(stream->size(), 20u) << "events lost with the primary";
  absl::Status exact =
      testing::VerifyStreamMatchesDatabase(dsn_, replica_->Address(), "1885");
  EXPECT_TRUE(exact.ok()) << exact;
}

// The entries reach the replica, but the answer to WAIT is lost (here: WAIT asks
// for more replicas than there are, so it never confirms). After the failover the
// next relay finds the entries already on the promoted replica under the ids the
// rows hold, and deletes the rows without writing a second copy.
TEST_F(RedisFailoverTest, EntriesOnTheReplicaWhoseWaitAnswerWasLostAreNotDuplicated) {
  CreatePlans(20);
  RelayOptions relay_options{kSchema, 1000, absl::Milliseconds(1)};
  relay_options.min_replicas = 2;
  relay_options.replica_timeout = absl::Milliseconds(200);
  {
    OutboxRelay relay(relay_options, dsn_, {primary_->host(), primary_->port()});
    EXPECT_FALSE(relay.PublishOnce().ok());
  }
  EXPECT_EQ(OutboxBacklog(), 20);
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto copied = testing::ReadStream(replica_->Address(), "1885");
        return copied.ok() && copied->size() == 20u;
      },
      absl::Seconds(10)));
  ASSERT_TRUE(primary_->Kill().ok());
  {
    RedisClient admin({"127.0.0.1", replica_->port()});
    ASSERT_TRUE(admin.Command({"REPLICAOF", "NO", "ONE"}).ok());
  }
  relay_options.min_replicas = 0;
  OutboxRelay successor(relay_options, dsn_, {replica_->host(), replica_->port()});
  absl::StatusOr<int> republished = successor.PublishOnce();
  ASSERT_TRUE(republished.ok()) << republished.status();
  EXPECT_EQ(*republished, 20);
  auto stream = testing::ReadStream(replica_->Address(), "1885");
  ASSERT_TRUE(stream.ok());
  EXPECT_EQ(stream->size(), 20u);
  absl::Status exact =
      testing::VerifyStreamMatchesDatabase(dsn_, replica_->Address(), "1885");
  EXPECT_TRUE(exact.ok()) << exact;
}

// Entries a relay finds already on the stream (written by a relay that died
// before deleting its rows) are not proof that a replica has them, and WAIT on a
// fresh connection, which has written nothing, answers at once with every
// connected replica. Here the replica is frozen (connected, holding nothing new):
// the successor must not delete the rows until it has caught up.
TEST_F(RedisFailoverTest, RecognizedEntriesAreDeletedOnlyOnceAReplicaHoldsThem) {
  CreatePlans(10);
  const pid_t replica_pid = ServerPid(replica_->port());
  ASSERT_GT(replica_pid, 0);
  ASSERT_EQ(kill(replica_pid, SIGSTOP), 0);
  RelayOptions relay_options{kSchema, 1000, absl::Milliseconds(1)};
  relay_options.min_replicas = 1;
  relay_options.replica_timeout = absl::Milliseconds(300);
  {
    OutboxRelay first(relay_options, dsn_, {primary_->host(), primary_->port()});
    EXPECT_FALSE(first.PublishOnce().ok());  // written, not confirmed
  }
  EXPECT_EQ(OutboxBacklog(), 10);
  OutboxRelay successor(relay_options, dsn_, {primary_->host(), primary_->port()});
  absl::StatusOr<int> unconfirmed = successor.PublishOnce();
  EXPECT_FALSE(unconfirmed.ok()) << "rows deleted though no replica holds their entries";
  EXPECT_EQ(OutboxBacklog(), 10);
  ASSERT_EQ(kill(replica_pid, SIGCONT), 0);
  absl::StatusOr<int> confirmed = successor.PublishOnce();
  ASSERT_TRUE(confirmed.ok()) << confirmed.status();
  EXPECT_EQ(*confirmed, 10);
  EXPECT_EQ(OutboxBacklog(), 0);
  auto stream = testing::ReadStream(primary_->Address(), "1885");
  ASSERT_TRUE(stream.ok());
  EXPECT_EQ(stream->size(), 10u);
}

}  // namespace
}  // namespace samplan::caseplan
