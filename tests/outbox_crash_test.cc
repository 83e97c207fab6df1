// Tier 3: crashes. Whatever process dies — the relay, the service, Redis or
// PostgreSQL — and at whatever moment, every committed change ends up on the
// municipality's stream exactly once, in version order per plan. Each test keeps
// writers busy while something is killed, then checks the stream against the
// database with VerifyStreamMatchesDatabase.

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/clock.h"
#include "common/call.h"
#include "common/migrations.h"
#include "common/outbox.h"
#include "common/pg.h"
#include "common/redis.h"
#include "common/relay.h"
#include "common/server.h"
#include "samplan/caseplan/v1/events.pb.h"
#include "services/caseplan/caseplan_service.h"
#include "services/caseplan/pg_plan_repository.h"
#include "tests/support/caseplan_stack.h"
#include "tests/support/fixtures.h"
#include "tests/support/plan_writers.h"
#include "tests/support/servers.h"

namespace samplan {
}  // namespace samplan

namespace samplan::caseplan {
namespace {

using testing::ChildProcess;
using testing::PlanWriters;
using testing::PostgresServer;
using testing::RedisServer;
using testing::TestKeys;

class OutboxCrashTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto pg = PostgresServer::Start();
    ASSERT_TRUE(pg.ok()) << pg.status();
    pg_ = *std::move(pg);
    auto redis = RedisServer::Start();
    ASSERT_TRUE(redis.ok()) << redis.status();
    redis_ = *std::move(redis);
    auto keys = TestKeys::Create();
    ASSERT_TRUE(keys.ok());
    keys_ = std::make_unique<TestKeys>(*std::move(keys));
    auto dsn = pg_->CreateDatabase();
    ASSERT_TRUE(dsn.ok());
    dsn_ = *dsn;
    absl::Status migrated = testing::MigrateIdentityAndCasePlan(dsn_);
    ASSERT_TRUE(migrated.ok()) << migrated;
    persons_ = std::make_unique<testing::TestPersons>(dsn_);
  }

  // Starts the service in this process, without a relay unless asked.
  void StartInProcessService() {
    auto stack = testing::InProcessCasePlan::Start(dsn_, keys_->VerifierOptions());
    ASSERT_TRUE(stack.ok()) << stack.status();
    stack_ = *std::move(stack);
    address_ = stack_->address();
  }

  std::map<std::string, std::string> ServiceEnvironment(int port) {
    std::map<std::string, std::string> env = keys_->Environment();
    env["SAMPLAN_PG_DSN"] = dsn_;
    env["SAMPLAN_REDIS_ADDRESS"] = redis_->Address();
    env["SAMPLAN_LISTEN_ADDRESS"] = absl::StrCat("127.0.0.1:", port);
    env["SAMPLAN_DRAIN_PERIOD"] = "0s";
    env["SAMPLAN_RELAY_BATCH_SIZE"] = "7";  // many small batches: more moments to die in
    env["SAMPLAN_RELAY_POLL_INTERVAL"] = "1ms";
    env["SAMPLAN_LOG_LEVEL"] = "warning";
    return env;
  }

  std::vector<std::string> CreatePlans(const std::string& address, int count) {
    auto stub = v1::CasePlanService::NewStub(
        grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
    std::vector<std::string> names;
    for (int i = 0; i < count; ++i) {
      v1::CreatePlanRequest request;
      request.set_request_id(NewItemId());
      request.mutable_plan()->set_person((*persons_)(absl::StrCat("p", i)));
      request.mutable_plan()->set_status(v1::PLAN_STATUS_ACTIVE);
      grpc::ClientContext context;
      context.AddMetadata("authorization", "Bearer " + keys_->Token("soc"));
      context.set_wait_for_ready(true);
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
      v1::Plan plan;
      grpc::Status status = stub->CreatePlan(&context, request, &plan);
      EXPECT_TRUE(status.ok()) << status.error_message();
      names.push_back(plan.name());
    }
    return names;
  }

  // The final word: the relay catches up, the stream holds exactly what committed,
  // and every update the service confirmed is among it.
  void ExpectStreamIsExact(PlanWriters& writers) {
    absl::Status drained = testing::WaitForOutboxDrained(dsn_, absl::Seconds(60));
    ASSERT_TRUE(drained.ok()) << drained;
    absl::Status exact = testing::VerifyStreamMatchesDatabase(dsn_, redis_->Address(), "1885");
    EXPECT_TRUE(exact.ok()) << exact;
    pqxx::connection connection(dsn_);
    pqxx::nontransaction tx(connection);
    std::set<std::pair<std::string, int64_t>> committed;
    for (const pqxx::row& row :
         tx.exec("SELECT 'plans/' || plan_id::text, version FROM caseplan.plan_revisions")) {
      committed.emplace(row[0].as<std::string>(), row[1].as<int64_t>());
    }
    for (const auto& change : writers.confirmed()) {
      EXPECT_TRUE(committed.contains(change)) << change.first << " v" << change.second
                                              << " was confirmed but is not stored";
    }
    EXPECT_GT(writers.confirmed().size(), 20u) << "the test did too little to mean anything";
  }

  std::unique_ptr<PostgresServer> pg_;
  std::unique_ptr<RedisServer> redis_;
  std::unique_ptr<TestKeys> keys_;
  std::string dsn_;
  std::unique_ptr<testing::TestPersons> persons_;
  std::unique_ptr<testing::InProcessCasePlan> stack_;
  std::string address_;
};

TEST_F(OutboxCrashTest, RelayKilledRepeatedlyMidBatchLosesAndDuplicatesNothing) {
  StartInProcessService();
  PlanWriters writers(address_, *keys_, CreatePlans(address_, 12));
  writers.Start(4);
  std::mt19937 random(42);
  int kills_with_backlog = 0;
  for (int round = 0; round < 15; ++round) {
    auto relay = ChildProcess::Spawn(SAMPLAN_CASEPLAN_BINARY, {"--relay-only"},
                                     ServiceEnvironment(testing::FreePort()));
    ASSERT_TRUE(relay.ok()) << relay.status();
    std::this_thread::sleep_for(std::chrono::milliseconds(30 + random() % 150));
    pqxx::connection connection(dsn_);
    const int64_t backlog =
        pqxx::nontransaction(connection)
            .exec("SELECT count(*) FROM caseplan.outbox")[0][0]
            .as<int64_t>();
    if (backlog > 0) ++kills_with_backlog;
    (*relay)->Signal(SIGKILL);
    ASSERT_TRUE((*relay)->Wait(absl::Seconds(10)).ok());
  }
  writers.Stop();
  // The relay was busy when most kills came, not idle.
  EXPECT_GE(kills_with_backlog, 5);
  auto relay = ChildProcess::Spawn(SAMPLAN_CASEPLAN_BINARY, {"--relay-only"},
                                   ServiceEnvironment(testing::FreePort()));
  ASSERT_TRUE(relay.ok());
  ExpectStreamIsExact(writers);
}

TEST_F(OutboxCrashTest, CrashBetweenStreamWriteAndMarkingPublishedMakesNoDuplicate) {
  StartInProcessService();
  std::vector<std::string> plans = CreatePlans(address_, 30);
  {
    OutboxRelay relay({kSchema, 1000, absl::Milliseconds(1)}, dsn_,
                      {redis_->host(), redis_->port()});
    ASSERT_EQ(*relay.PublishOnce(), 30);
  }  // its connection, and with it the leader lock, is gone
  // Exactly the state a relay leaves when it dies after XADD and before the DELETE
  // of the rows it wrote: every row is back, with the stream id it was written at.
  auto written = testing::ReadStream(redis_->Address(), "1885");
  ASSERT_TRUE(written.ok());
  ASSERT_EQ(written->size(), 30u);
  {
    RedisClient redis({redis_->host(), redis_->port()});
    auto reply = redis.Command({"XRANGE", EventStreamKey("1885"), "-", "+"});
    ASSERT_TRUE(reply.ok());
    pqxx::connection connection(dsn_);
    pqxx::work tx(connection);
    for (const StreamEntry& entry : ParseStreamEntries(*reply)) {
      events::v1::Event event;
      ASSERT_TRUE(event.ParseFromString(entry.Field("event")));
      const std::string envelope = entry.Field("event");
      const size_t dash = entry.id.find('-');
      tx.exec_params(
          "INSERT INTO caseplan.outbox (event_id, event_type, municipality, aggregate, "
          "aggregate_version, envelope, stream_ms, stream_seq) VALUES ($1, $2, $3, $4, $5, $6, "
          "$7, $8)",
          event.event_id(), event.type(), event.municipality(), event.aggregate(),
          event.aggregate_version(), pqxx::binarystring(envelope.data(), envelope.size()),
          entry.id.substr(0, dash), entry.id.substr(dash + 1));
    }
    tx.commit();
  }
  OutboxRelay successor({kSchema, 1000, absl::Milliseconds(1)}, dsn_,
                        {redis_->host(), redis_->port()});
  absl::StatusOr<int> republished = successor.PublishOnce();
  ASSERT_TRUE(republished.ok()) << republished.status();
  EXPECT_EQ(*republished, 30);  // found on the stream and deleted, not written again
  auto events = testing::ReadStream(redis_->Address(), "1885");
  ASSERT_TRUE(events.ok());
  EXPECT_EQ(events->size(), 30u);
  EXPECT_EQ(*successor.Backlog(), 0);
  EXPECT_TRUE(testing::VerifyStreamMatchesDatabase(dsn_, redis_->Address(), "1885").ok());
}

TEST_F(OutboxCrashTest, OnlyOneRelayPublishesAtATime) {
  StartInProcessService();
  CreatePlans(address_, 10);
  OutboxRelay first({kSchema, 1000, absl::Milliseconds(1)}, dsn_, {redis_->host(), redis_->port()});
  OutboxRelay second({kSchema, 1000, absl::Milliseconds(1)}, dsn_, {redis_->host(), redis_->port()});
  ASSERT_EQ(*first.PublishOnce(), 10);
  CreatePlans(address_, 5);
  EXPECT_EQ(*second.PublishOnce(), 0);  // the first holds the lock
  EXPECT_EQ(*first.PublishOnce(), 5);
  EXPECT_TRUE(testing::VerifyStreamMatchesDatabase(dsn_, redis_->Address(), "1885").ok());
}

TEST_F(OutboxCrashTest, TwoServicesRelaysShareAStreamDespiteSkewedClocks) {
  // Two services (schemas) publish to the same municipality's stream; one's clock
  // runs 50 ms ahead, so the other's ids keep falling behind the stream's last.
  for (const char* schema : {"alpha", "beta"}) {
    absl::Status migrated = ApplyMigrations(dsn_, schema, {{"outbox", &outbox_migrations()}});
    ASSERT_TRUE(migrated.ok()) << migrated;
  }
  const absl::Time start = absl::Now();
  FakeClock ahead(start + absl::Milliseconds(50)), behind(start);
  OutboxRelay alpha({"alpha", 100, absl::Milliseconds(1)}, dsn_,
                    {redis_->host(), redis_->port()}, ahead);
  OutboxRelay beta({"beta", 100, absl::Milliseconds(1)}, dsn_,
                   {redis_->host(), redis_->port()}, behind);
  // Each service writes its own outbox over its own connection.
  std::map<std::string, std::unique_ptr<pqxx::connection>> connections;
  std::map<std::string, std::unique_ptr<Outbox>> outboxes;
  for (const char* schema : {"alpha", "beta"}) {
    connections[schema] = std::make_unique<pqxx::connection>(dsn_);
    outboxes[schema] = std::make_unique<Outbox>(schema);
    for (const PreparedStatement& statement : outboxes[schema]->statements()) {
      connections[schema]->prepare(statement.name, statement.sql);
    }
  }
  for (int round = 1; round <= 5; ++round) {
    for (const char* schema : {"alpha", "beta"}) {
      pqxx::work tx(*connections[schema]);
      const Outbox& outbox = *outboxes[schema];
      {
        for (int aggregate = 0; aggregate < 3; ++aggregate) {
          caseplan::v1::PlanChanged payload;
          outbox.Append(tx, MakeEvent("test.changed", "1885",
                                      absl::StrCat(schema, "/", aggregate), round, "", "test",
                                      payload, {"o", "u", "r", absl::Now()}));
        }
      }
      tx.commit();
    }
    ahead.Advance(absl::Milliseconds(1));
    behind.Advance(absl::Milliseconds(1));
    for (int attempt = 0; attempt < 5 && (*alpha.Backlog() > 0 || *beta.Backlog() > 0); ++attempt) {
      ASSERT_TRUE(alpha.PublishOnce().ok());
      ASSERT_TRUE(beta.PublishOnce().ok());
    }
    ASSERT_EQ(*alpha.Backlog(), 0) << "round " << round;
    ASSERT_EQ(*beta.Backlog(), 0) << "round " << round;
  }
  auto events = testing::ReadStream(redis_->Address(), "1885");
  ASSERT_TRUE(events.ok());
  EXPECT_EQ(events->size(), 30u);
  std::set<std::string> ids;
  std::map<std::string, int64_t> last_version;
  for (const auto& event : *events) {
    EXPECT_TRUE(ids.insert(event.event_id).second) << "twice: " << event.event_id;
    EXPECT_GT(event.version, last_version[event.aggregate]) << event.aggregate;
    last_version[event.aggregate] = event.version;
  }
}

TEST_F(OutboxCrashTest, RedisKilledAndRestartedDuringUpdates) {
  StartInProcessService();
  OutboxRelay relay({kSchema, 20, absl::Milliseconds(2)}, dsn_, {redis_->host(), redis_->port()});
  relay.Start();
  PlanWriters writers(address_, *keys_, CreatePlans(address_, 8));
  writers.Start(4);
  for (int round = 0; round < 3; ++round) {
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
    ASSERT_TRUE((round % 2 == 0 ? redis_->Kill() : redis_->Stop()).ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // writes go on meanwhile
    ASSERT_TRUE(redis_->Restart().ok());
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  writers.Stop();
  // Writes never depended on Redis: none failed.
  EXPECT_EQ(writers.failed(), 0);
  ExpectStreamIsExact(writers);
}

TEST_F(OutboxCrashTest, PostgresKilledDuringUpdates) {
  StartInProcessService();
  OutboxRelay relay({kSchema, 20, absl::Milliseconds(2)}, dsn_, {redis_->host(), redis_->port()});
  relay.Start();
  PlanWriters writers(address_, *keys_, CreatePlans(address_, 8));
  writers.Start(4);
  for (int round = 0; round < 2; ++round) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    ASSERT_TRUE(pg_->Kill().ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    ASSERT_TRUE(pg_->Restart().ok());
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  writers.Stop();
  EXPECT_GT(writers.failed(), 0) << "the database was down: some calls must have failed";
  ExpectStreamIsExact(writers);
}

TEST_F(OutboxCrashTest, ServiceKilledDuringUpdatesAndRestarted) {
  const int port = testing::FreePort();
  const std::string address = absl::StrCat("127.0.0.1:", port);
  auto service = ChildProcess::Spawn(SAMPLAN_CASEPLAN_BINARY, {}, ServiceEnvironment(port));
  ASSERT_TRUE(service.ok());
  PlanWriters writers(address, *keys_, CreatePlans(address, 8));
  writers.Start(4);
  // Each process is killed once it has confirmed some updates (by progress, not
  // by time: a loaded machine starts a process slowly).
  auto confirm_more = [&](size_t more) {
    const size_t target = writers.confirmed().size() + more;
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (writers.confirmed().size() < target && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(20));
    }
  };
  for (int round = 0; round < 3; ++round) {
    confirm_more(8);
    (*service)->Signal(SIGKILL);
    ASSERT_TRUE((*service)->Wait(absl::Seconds(10)).ok());
    service = ChildProcess::Spawn(SAMPLAN_CASEPLAN_BINARY, {}, ServiceEnvironment(port));
    ASSERT_TRUE(service.ok());
  }
  confirm_more(8);
  writers.Stop();
  ExpectStreamIsExact(writers);
}

}  // namespace
}  // namespace samplan::caseplan
