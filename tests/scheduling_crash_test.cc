// The agreement consumer of the real samplan-scheduling process, killed with
// SIGKILL after it committed an agreement's follow-ups and before it
// acknowledged the event: the restarted process finds the event handled and
// only acknowledges it, so the follow-up series exists exactly once.

#include <signal.h>
#include <sys/wait.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <pqxx/pqxx>

#include "absl/strings/str_cat.h"
#include "common/event_consumer.h"
#include "common/ids.h"
#include "common/outbox.h"
#include "common/redis.h"
#include "samplan/placement/v1/events.pb.h"
#include "tests/support/fixtures.h"
#include "tests/support/scheduling_stack.h"
#include "tests/support/servers.h"
#include "tests/support/suite.h"

namespace samplan::scheduling {
namespace {

using testing::ChildProcess;

class SchedulingCrashTest : public testing::ServersSuite {
 protected:
  void SetUp() override {
    auto dsn = pg_->CreateDatabase();
    ASSERT_TRUE(dsn.ok()) << dsn.status();
    dsn_ = *dsn;
    ASSERT_TRUE(testing::InProcessScheduling::ApplyMigrations(dsn_).ok());
    redis_client_ = std::make_unique<RedisClient>(RedisOptions{redis_->host(), redis_->port()});
    ASSERT_TRUE(redis_client_->Command({"FLUSHALL"}).ok());
    char path[] = "/tmp/samplan-scheduling-crash-XXXXXX";
    const int fd = mkstemp(path);
    ASSERT_GE(fd, 0);
    close(fd);
    log_path_ = path;
  }

  void TearDown() override { std::remove(log_path_.c_str()); }

  // The scheduling process following 1885's agreements as consumer
  // "scheduling-0" (the same name across restarts, as a pod keeps its own).
  std::unique_ptr<ChildProcess> Spawn(const std::string& fault_type) {
    std::map<std::string, std::string> env = keys_->Environment();
    env["SAMPLAN_PG_DSN"] = dsn_;
    env["SAMPLAN_REDIS_ADDRESS"] = redis_->Address();
    env["SAMPLAN_LISTEN_ADDRESS"] = absl::StrCat("127.0.0.1:", testing::FreePort());
    env["SAMPLAN_METRICS_ADDRESS"] = absl::StrCat("127.0.0.1:", testing::FreePort());
    env["SAMPLAN_SCHEDULING_FEED_HOST"] = "127.0.0.1";
    env["SAMPLAN_SCHEDULING_FEED_PORT"] = "0";
    env["SAMPLAN_SCHEDULING_MUNICIPALITIES"] = "1885";
    // The outbox keeps the events, for counting.
    env["SAMPLAN_RELAY_ENABLED"] = "false";
    env["HOSTNAME"] = "scheduling-0";
    env["SAMPLAN_SCHEDULING_FAULT_EXIT_ON_EVENT_TYPE"] = fault_type;
    auto process = ChildProcess::Spawn(SAMPLAN_SCHEDULING_BINARY, {}, env, log_path_);
    EXPECT_TRUE(process.ok()) << process.status();
    return process.ok() ? *std::move(process) : nullptr;
  }

  void Publish(const std::string& type, const placement::v1::AgreementChanged& agreement) {
    events::v1::Event event =
        MakeEvent(type, "1885", agreement.agreement(), 3, agreement.person(), "placement",
                  agreement, {"organizations/prakt", "users/u-prakt", "trace", absl::Now()});
    // Signed with the key the binary is started with (TestKeys::Environment()).
    ASSERT_TRUE(testing::AppendSignedEvent(*redis_client_, EventStreamKey("1885"), event).ok());
  }

  int64_t Pending() {
    auto reply = redis_client_->Command({"XPENDING", EventStreamKey("1885"), "scheduling"});
    if (!reply.ok() || reply->is_error() || reply->elements.empty()) return -1;
    return reply->elements[0].integer;
  }

  int64_t Count(const std::string& sql) {
    pqxx::connection connection(dsn_);
    pqxx::nontransaction tx(connection);
    return tx.exec(sql)[0][0].as<int64_t>();
  }

  std::string dsn_;
  std::string log_path_;
  std::unique_ptr<RedisClient> redis_client_;
};

TEST_F(SchedulingCrashTest, AKillBetweenCommitAndAckLeavesTheFollowUpsOnce) {
  placement::v1::AgreementChanged agreement;
  agreement.set_agreement(absl::StrCat("agreements/", NewUuid()));
  agreement.set_person(absl::StrCat("persons/", NewUuid()));
  agreement.set_coordinator_organization("organizations/prakt");
  agreement.mutable_start_date()->set_year(2027);
  agreement.mutable_start_date()->set_month(2);
  agreement.mutable_start_date()->set_day(1);
  agreement.mutable_end_date()->set_year(2027);
  agreement.mutable_end_date()->set_month(6);
  agreement.mutable_end_date()->set_day(30);
  agreement.set_follow_up_interval_days(30);
  // Both on the stream before the process starts: one batch, acknowledged
  // together after both are handled. The second one is where the process
  // dies — after the first one's transaction committed.
  ASSERT_NO_FATAL_FAILURE(Publish("placement.agreement.signed", agreement));
  ASSERT_NO_FATAL_FAILURE(Publish("placement.agreement.started", agreement));
  const std::string of_agreement = absl::StrCat(
      "SELECT count(*) FROM scheduling.meetings WHERE agreement = '", agreement.agreement(), "'");

  std::unique_ptr<ChildProcess> first = Spawn("placement.agreement.started");
  ASSERT_NE(first, nullptr);
  absl::StatusOr<int> died = first->Wait(absl::Seconds(30));
  ASSERT_TRUE(died.ok()) << "the fault was never reached";
  ASSERT_TRUE(WIFSIGNALED(*died));
  EXPECT_EQ(WTERMSIG(*died), SIGKILL);
  // Killed between commit and ack: the series committed, both entries still
  // pending.
  EXPECT_EQ(Count(of_agreement), 4);
  EXPECT_EQ(Count("SELECT count(*) FROM scheduling.processed_events"), 1);
  EXPECT_EQ(Pending(), 2);

  std::unique_ptr<ChildProcess> second = Spawn("");
  ASSERT_NE(second, nullptr);
  for (int i = 0; i < 300 && Pending() != 0; ++i) absl::SleepFor(absl::Milliseconds(50));
  EXPECT_EQ(Pending(), 0);
  // Redelivered, found handled, acknowledged: the series once, each visit
  // announced once.
  EXPECT_EQ(Count(of_agreement), 4);
  EXPECT_EQ(Count("SELECT count(*) FROM scheduling.outbox WHERE event_type = "
                  "'scheduling.meeting.proposed'"),
            4);
  EXPECT_EQ(Count("SELECT count(*) FROM scheduling.processed_events"), 2);
  second->Signal(SIGTERM);
  EXPECT_TRUE(second->Wait(absl::Seconds(30)).ok());
}

}  // namespace
}  // namespace samplan::scheduling
