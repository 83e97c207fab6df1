// PostgreSQL that fails over: a primary and a synchronous streaming standby (made
// with pg_basebackup). The service and its relay are given one multi-host DSN with
// target_session_attrs=read-write; the primary is killed under a stream of plan
// updates and the standby promoted. The service carries on without a restart, every
// update it acknowledged is on the new primary, and every one has its event once.

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/call.h"
#include "common/outbox.h"
#include "common/relay.h"
#include "services/caseplan/caseplan_service.h"
#include "tests/support/caseplan_stack.h"
#include "tests/support/plan_writers.h"
#include "tests/support/fixtures.h"
#include "tests/support/servers.h"

namespace samplan::caseplan {
namespace {

using testing::PostgresServer;

template <typename Predicate>
bool WaitUntil(Predicate done, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!done()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(50));
  }
  return true;
}

// Returns the single value of `sql` on `dsn`, or "" when it fails.
std::string QueryValue(const std::string& dsn, const std::string& sql) {
  try {
    pqxx::connection connection(dsn);
    pqxx::nontransaction tx(connection);
    pqxx::result result = tx.exec(sql);
    if (result.empty() || result[0][0].is_null()) return "";
    return result[0][0].as<std::string>();
  } catch (const std::exception&) {
    return "";
  }
}

TEST(PgFailoverTest, PromotedStandbyHoldsEveryAcknowledgedUpdateAndTheServiceCarriesOn) {
  auto primary = PostgresServer::Start();
  ASSERT_TRUE(primary.ok()) << primary.status();
  auto database = (*primary)->CreateDatabase();
  ASSERT_TRUE(database.ok()) << database.status();
  const std::string db_name = database->substr(database->rfind('=') + 1);
  ASSERT_TRUE(testing::MigrateIdentityAndCasePlan(*database).ok());
  auto standby = PostgresServer::StartStandbyOf(**primary);
  ASSERT_TRUE(standby.ok()) << standby.status();
  // Synchronous replication: a commit is acknowledged once the standby has it.
  {
    pqxx::connection connection((*primary)->Dsn());
    pqxx::nontransaction tx(connection);
    tx.exec(absl::StrCat("ALTER SYSTEM SET synchronous_standby_names = '",
                         PostgresServer::kStandbyName, "'"));
    tx.exec("SELECT pg_reload_conf()");
  }
  ASSERT_TRUE(WaitUntil(
      [&] {
        return QueryValue((*primary)->Dsn(), "SELECT sync_state FROM pg_stat_replication") ==
               "sync";
      },
      absl::Seconds(20)))
      << "the standby did not become synchronous";

  // One connection string naming both servers; libpq picks the one that takes writes.
  const std::string dsn = absl::StrCat(
      "host=127.0.0.1,127.0.0.1 port=", (*primary)->port(), ",", (*standby)->port(),
      " user=postgres dbname=", db_name, " target_session_attrs=read-write connect_timeout=2");
  auto redis = testing::RedisServer::Start();
  ASSERT_TRUE(redis.ok()) << redis.status();
  auto keys = testing::TestKeys::Create();
  ASSERT_TRUE(keys.ok());
  testing::TestPersons persons(*database);
  auto stack = testing::InProcessCasePlan::Start(dsn, keys->VerifierOptions());
  ASSERT_TRUE(stack.ok()) << stack.status();
  OutboxRelay relay({kSchema, 50, absl::Milliseconds(5)}, dsn,
                    RedisOptions{(*redis)->host(), (*redis)->port()});
  relay.Start();

  std::vector<std::string> plans;
  {
    auto stub = (*stack)->NewStub();
    for (int i = 0; i < 8; ++i) {
      v1::CreatePlanRequest request;
      request.set_request_id(NewItemId());
      request.mutable_plan()->set_person(persons(absl::StrCat("p", i)));
      request.mutable_plan()->set_status(v1::PLAN_STATUS_ACTIVE);
      grpc::ClientContext context;
      context.AddMetadata("authorization", "Bearer " + keys->Token("soc"));
      v1::Plan plan;
      grpc::Status status = stub->CreatePlan(&context, request, &plan);
      ASSERT_TRUE(status.ok()) << status.error_message();
      plans.push_back(plan.name());
    }
  }

  // Updates from four threads; each remembers what was acknowledged, and when.
  testing::PlanWriters writers((*stack)->address(), *keys, plans,
                               {.deadline = absl::Seconds(3),
                                .pause_after_call = absl::Milliseconds(5),
                                .pause_after_failure = absl::Milliseconds(50)});
  const absl::Time load_start = absl::Now();
  writers.Start(4);
  absl::SleepFor(absl::Milliseconds(500));
  ASSERT_TRUE(WaitUntil(
      [&] { return writers.confirmed().size() >= 30; }, absl::Seconds(20)));
  const size_t before = writers.confirmed().size();
  ASSERT_TRUE((*primary)->Kill().ok());
  const absl::Time killed = absl::Now();
  ASSERT_TRUE((*standby)->Promote().ok());
  const absl::Duration promoted = absl::Now() - killed;
  // Updates go on: the first acknowledged after the kill tells the recovery time.
  ASSERT_TRUE(WaitUntil([&] { return writers.last_ok() > killed; }, absl::Seconds(30)))
      << "no update succeeded after the failover";
  const absl::Duration recovered = writers.last_ok() - killed;
  absl::SleepFor(absl::Milliseconds(1000));
  writers.Stop();
  const std::set<std::pair<std::string, int64_t>> confirmed = writers.confirmed();
  const absl::Duration load = absl::Now() - load_start;

  const std::string new_primary_dsn = (*standby)->Dsn(db_name);
  absl::Status drained = testing::WaitForOutboxDrained(new_primary_dsn, absl::Seconds(30));
  EXPECT_TRUE(drained.ok()) << drained;
  relay.Stop();

  std::set<std::pair<std::string, int64_t>> stored;
  {
    pqxx::connection connection(new_primary_dsn);
    pqxx::nontransaction tx(connection);
    for (const pqxx::row& row :
         tx.exec("SELECT 'plans/' || plan_id::text, version FROM caseplan.plan_revisions")) {
      stored.emplace(row[0].as<std::string>(), row[1].as<int64_t>());
    }
  }
  int lost = 0;
  for (const auto& change : confirmed) {
    if (!stored.contains(change)) ++lost;
  }
  EXPECT_EQ(lost, 0) << "acknowledged updates missing on the promoted standby";
  EXPECT_GT(confirmed.size(), before) << "the service did not carry on after the failover";
  EXPECT_GT(before, 20u) << "the test did too little to mean anything";
  absl::Status exact =
      testing::VerifyStreamMatchesDatabase(new_primary_dsn, (*redis)->Address(), "1885");
  EXPECT_TRUE(exact.ok()) << exact;
  std::printf("pg failover: promoted %s after the kill; first acknowledged update %s after "
              "the kill; %zu updates acknowledged in %s (%.0f/s; %zu before the kill), %d failed, "
              "%d lost\n",
              absl::FormatDuration(promoted).c_str(), absl::FormatDuration(recovered).c_str(),
              confirmed.size(), absl::FormatDuration(load).c_str(),
              confirmed.size() / absl::ToDoubleSeconds(load), before, writers.failed(), lost);
}

}  // namespace
}  // namespace samplan::caseplan
