// Tier 3: the internal consumers' promise against real Redis and PostgreSQL. Each
// event's effect — a row in a test table, written by the handler — is there exactly
// once, whoever reads the entry, however often it is delivered, and whatever dies in
// between; an event the handler keeps refusing ends on the dead-letter stream.

#include "common/event_consumer.h"

#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <map>
#include <set>
#include <thread>

#include <google/protobuf/timestamp.pb.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/clock.h"
#include "common/metrics.h"
#include "common/migrations.h"
#include "common/outbox.h"
#include "common/pg.h"
#include "common/redis.h"
#include "tests/support/fixtures.h"
#include "tests/support/servers.h"
#include "tests/support/suite.h"

namespace samplan {
namespace {

using testing::PostgresServer;
using testing::RedisServer;

constexpr char kSchema[] = "consumer_test";

events::v1::Event TestEvent(const std::string& municipality, const std::string& type) {
  google::protobuf::Timestamp payload;
  return MakeEvent(type, municipality, "things/1", 1, "", "test", payload,
                   {"organizations/soc", "users/u", "trace", absl::Now()});
}

// Returns true as soon as `condition` holds, false if it still does not after
// `timeout`.
bool WaitFor(const std::function<bool()>& condition, absl::Duration timeout = absl::Seconds(10)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!condition()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return true;
}

// Returns the value of counter `name` for consumer group `group`.
int64_t Counter(const std::string& name, const std::string& group) {
  const std::string prefix = absl::StrCat(name, "{group=\"", group, "\"} ");
  const std::string text = Metrics::Global().Render();
  const size_t at = text.find(prefix);
  if (at == std::string::npos) return 0;
  const size_t end = text.find('\n', at);
  int64_t value = 0;
  EXPECT_TRUE(absl::SimpleAtoi(text.substr(at + prefix.size(), end - at - prefix.size()), &value));
  return value;
}

class EventConsumerTest : public testing::ServersSuite {
 protected:
  void SetUp() override {
    // Each test has its own database, municipality (stream) and group, so nothing
    // of an earlier test is on the stream or in the metrics.
    static int test_number = 0;
    ++test_number;
    municipality_ = absl::StrCat(9000 + test_number);
    group_ = absl::StrCat("group", test_number);
    stream_ = EventStreamKey(municipality_);
    auto dsn = pg_->CreateDatabase();
    ASSERT_TRUE(dsn.ok()) << dsn.status();
    dsn_ = *dsn;
    absl::Status migrated =
        ApplyMigrations(dsn_, kSchema, {{"processed_events", &processed_events_migrations()}});
    ASSERT_TRUE(migrated.ok()) << migrated;
    pqxx::connection connection(dsn_);
    pqxx::work tx(connection);
    // No key: an event applied twice would show as two rows.
    tx.exec(absl::StrCat("CREATE TABLE ", kSchema, ".effects (event_id uuid, consumer text)"));
    tx.commit();
    PgPoolOptions pool_options{.dsn = dsn_, .size = 4, .statements = processed_.statements()};
    auto pool = PgPool::Create(pool_options);
    ASSERT_TRUE(pool.ok()) << pool.status();
    pool_ = *std::move(pool);
    redis_client_ = std::make_unique<RedisClient>(redis_options());
  }

  RedisOptions redis_options() const { return {redis_->host(), redis_->port()}; }

  EventConsumerOptions Options(const std::string& consumer) const {
    EventConsumerOptions options;
    options.group = group_;
    options.consumer = consumer;
    options.municipalities = {municipality_};
    options.start = GroupStart::kWholeStream;
    options.batch_size = 10;
    options.block = absl::Milliseconds(50);
    options.min_idle = absl::Milliseconds(200);
    options.reclaim_interval = absl::Milliseconds(20);
    return options;
  }

  // The handler of a well-behaved service: records its effect in the transaction.
  EventHandler RecordingHandler(const std::string& consumer) {
    return [consumer](pqxx::transaction_base& tx, const events::v1::Event& event) {
      tx.exec_params(absl::StrCat("INSERT INTO ", kSchema, ".effects VALUES ($1, $2)"),
                     event.event_id(), consumer);
      return absl::OkStatus();
    };
  }

  std::unique_ptr<EventConsumer> Consumer(EventHandler handler, EventConsumerOptions options) {
    return std::make_unique<EventConsumer>(std::move(options), redis_options(), *pool_,
                                           processed_, std::move(handler));
  }
  std::unique_ptr<EventConsumer> Consumer(const std::string& name) {
    return Consumer(RecordingHandler(name), Options(name));
  }

  // Appends `event` as the relay would (fields event_id, type, event, access
  // version and MAC); returns the entry id.
  std::string Publish(const events::v1::Event& event) {
    absl::StatusOr<std::string> id = testing::AppendSignedEvent(*redis_client_, stream_, event);
    EXPECT_TRUE(id.ok()) << id.status();
    return id.ok() ? *id : "";
  }
  std::vector<std::string> PublishMany(int count) {
    std::vector<std::string> ids;
    for (int i = 0; i < count; ++i) {
      events::v1::Event event = TestEvent(municipality_, "test.happened");
      Publish(event);
      ids.push_back(event.event_id());
    }
    return ids;
  }

  void CreateGroup() {
    auto reply = redis_client_->Command({"XGROUP", "CREATE", stream_, group_, "0", "MKSTREAM"});
    ASSERT_TRUE(reply.ok() && !reply->is_error());
  }

  // Reads up to 100 new entries as consumer `name` and never acknowledges them: a
  // consumer that dies right after reading.
  std::vector<StreamEntry> ReadAndDie(const std::string& name) {
    auto reply = redis_client_->Command({"XREADGROUP", "GROUP", group_, name, "COUNT", "100",
                                         "STREAMS", stream_, ">"});
    EXPECT_TRUE(reply.ok() && reply->elements.size() == 1);
    if (!reply.ok() || reply->elements.size() != 1) return {};
    return ParseStreamEntries(reply->elements[0].elements[1]);
  }

  // Returns, per event id, how many times its effect is stored.
  std::map<std::string, int> Effects() {
    pqxx::connection connection(dsn_);
    pqxx::nontransaction tx(connection);
    std::map<std::string, int> counts;
    for (const pqxx::row& row : tx.exec(absl::StrCat(
             "SELECT event_id::text, count(*) FROM ", kSchema, ".effects GROUP BY 1"))) {
      counts[row[0].as<std::string>()] = row[1].as<int>();
    }
    return counts;
  }

  int64_t PendingCount() {
    auto reply = redis_client_->Command({"XPENDING", stream_, group_});
    EXPECT_TRUE(reply.ok() && !reply->elements.empty());
    return reply.ok() && !reply->elements.empty() ? reply->elements[0].integer : -1;
  }

  // Expects that every one of `ids`, and nothing else, took effect exactly once.
  void ExpectEachOnce(const std::vector<std::string>& ids) {
    std::map<std::string, int> effects = Effects();
    EXPECT_EQ(effects.size(), std::set<std::string>(ids.begin(), ids.end()).size());
    for (const std::string& id : ids) EXPECT_EQ(effects[id], 1) << id;
  }

  std::string municipality_, group_, stream_, dsn_;
  ProcessedEvents processed_{kSchema};
  std::unique_ptr<PgPool> pool_;
  std::unique_ptr<RedisClient> redis_client_;
};


TEST_F(EventConsumerTest, TwoConsumersInOneGroupApplyEveryEventOnce) {
  std::vector<std::string> ids = PublishMany(150);
  // Both stay alive, so neither reclaims the other's entries: on a loaded
  // machine a batch may take longer than the short min_idle of the other tests,
  // and a reclaimed entry is (rightly) dropped as a duplicate, which is not
  // what this test is about.
  EventConsumerOptions first_options = Options("first");
  EventConsumerOptions second_options = Options("second");
  first_options.min_idle = second_options.min_idle = absl::Hours(1);
  auto first = Consumer(RecordingHandler("first"), std::move(first_options));
  auto second = Consumer(RecordingHandler("second"), std::move(second_options));
  first->Start();
  second->Start();
  std::vector<std::string> more = PublishMany(150);  // while both are reading
  ids.insert(ids.end(), more.begin(), more.end());
  EXPECT_TRUE(WaitFor([&] { return Effects().size() == ids.size(); }));
  first->Stop();
  second->Stop();
  ExpectEachOnce(ids);
  EXPECT_EQ(PendingCount(), 0);
  EXPECT_EQ(Counter("samplan_events_consumed_total", group_), 300);
  EXPECT_EQ(Counter("samplan_events_duplicates_total", group_), 0);
}

TEST_F(EventConsumerTest, EntriesOfADeadConsumerAreReclaimedAfterMinIdle) {
  CreateGroup();
  std::vector<std::string> ids = PublishMany(25);
  ASSERT_EQ(ReadAndDie("dead").size(), 25u);
  auto survivor = Consumer("survivor");
  const absl::Time start = absl::Now();
  ASSERT_TRUE(survivor->ConsumeOnce().ok());
  if (absl::Now() - start < absl::Milliseconds(200)) {
    // Not yet idle long enough: they are another consumer's, maybe still busy.
    EXPECT_TRUE(Effects().empty());
  }
  EXPECT_TRUE(WaitFor([&] {
    EXPECT_TRUE(survivor->ConsumeOnce().ok());
    return Effects().size() == ids.size();
  }));
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(200));
  ExpectEachOnce(ids);
  EXPECT_EQ(PendingCount(), 0);
  EXPECT_EQ(Counter("samplan_events_reclaimed_total", group_), 25);
}

TEST_F(EventConsumerTest, DuplicateEntriesOfOneEventTakeEffectOnce) {
  events::v1::Event event = TestEvent(municipality_, "test.happened");
  const std::string first_entry = Publish(event);
  const std::string second_entry = Publish(event);
  ASSERT_NE(first_entry, second_entry);
  auto consumer = Consumer("only");
  EXPECT_TRUE(WaitFor([&] {
    EXPECT_TRUE(consumer->ConsumeOnce().ok());
    return Counter("samplan_events_duplicates_total", group_) == 1;
  }));
  ExpectEachOnce({event.event_id()});
  EXPECT_EQ(PendingCount(), 0);
  EXPECT_EQ(Counter("samplan_events_consumed_total", group_), 1);
}

TEST_F(EventConsumerTest, CrashBetweenCommitAndAckIsDroppedAsDuplicateOnRedelivery) {
  CreateGroup();
  std::vector<std::string> ids = PublishMany(5);
  // A consumer read the entries, committed every effect with its processed mark,
  // and died before XACK.
  std::vector<StreamEntry> entries = ReadAndDie("restarted");
  ASSERT_EQ(entries.size(), 5u);
  {
    pqxx::connection connection(dsn_);
    pqxx::work tx(connection);
    for (const PreparedStatement& statement : processed_.statements()) {
      connection.prepare(statement.name, statement.sql);
    }
    for (const StreamEntry& entry : entries) {
      ASSERT_TRUE(processed_.Record(tx, entry.Field("event_id"), stream_, absl::Now()));
      tx.exec_params(absl::StrCat("INSERT INTO ", kSchema, ".effects VALUES ($1, 'before')"),
                     entry.Field("event_id"));
    }
    tx.commit();
  }
  ASSERT_EQ(PendingCount(), 5);
  // It comes back under its own name: it re-reads its pending entries at once,
  // without waiting for min-idle, and only acknowledges them.
  std::atomic<int> handled{0};
  EventConsumerOptions options = Options("restarted");
  options.min_idle = absl::Hours(1);
  auto restarted = Consumer(
      [&](pqxx::transaction_base&, const events::v1::Event&) {
        ++handled;
        return absl::OkStatus();
      },
      options);
  absl::StatusOr<int> settled = restarted->ConsumeOnce();
  ASSERT_TRUE(settled.ok()) << settled.status();
  EXPECT_EQ(*settled, 5);
  EXPECT_EQ(handled.load(), 0);
  EXPECT_EQ(PendingCount(), 0);
  ExpectEachOnce(ids);
  EXPECT_EQ(Counter("samplan_events_duplicates_total", group_), 5);
}

TEST_F(EventConsumerTest, RedisKilledAndRestartedWhileConsumingLosesNothing) {
  auto consumer = Consumer("steady");
  consumer->Start();
  std::atomic<bool> stop{false};
  std::vector<std::string> ids;
  std::thread producer_thread([&] {
    RedisClient redis(redis_options());
    for (int i = 0; i < 400 && !stop.load(); ++i) {
      events::v1::Event event = TestEvent(municipality_, "test.happened");
      // Retried until Redis confirms; a retry after a lost reply may make a second
      // entry of the event, which is exactly what the consumer must cope with.
      while (!stop.load()) {
        if (testing::AppendSignedEvent(redis, stream_, event).ok()) break;
        absl::SleepFor(absl::Milliseconds(10));
      }
      ids.push_back(event.event_id());
      absl::SleepFor(absl::Milliseconds(2));
    }
  });
  // Joined on every way out of the test, also a failed assertion.
  struct Joiner {
    std::atomic<bool>& stop;
    std::thread& thread;
    ~Joiner() {
      stop.store(true);
      if (thread.joinable()) thread.join();
    }
  } producer{stop, producer_thread};
  for (int round = 0; round < 2; ++round) {
    ASSERT_TRUE(WaitFor([&] { return Effects().size() > 100u * (round + 1); }));
    ASSERT_TRUE((round == 0 ? redis_->Kill() : redis_->Stop()).ok());
    absl::SleepFor(absl::Milliseconds(100));  // down for a while, not as an assertion
    ASSERT_TRUE(redis_->Restart().ok());
  }
  producer_thread.join();
  EXPECT_TRUE(WaitFor([&] { return Effects().size() == ids.size(); }, absl::Seconds(20)));
  consumer->Stop();
  ASSERT_EQ(ids.size(), 400u);
  ExpectEachOnce(ids);
  EXPECT_EQ(PendingCount(), 0);
  EXPECT_GT(Counter("samplan_events_consumer_failures_total", group_), 0)
      << "Redis was down: some rounds must have failed";
}

TEST_F(EventConsumerTest, PoisonEventIsDeadLetteredAfterMaxDeliveries) {
  std::atomic<int> poison_attempts{0};
  EventConsumerOptions options = Options("careful");
  options.max_deliveries = 3;
  options.min_idle = absl::Milliseconds(30);
  options.reclaim_interval = absl::ZeroDuration();
  EventHandler record = RecordingHandler("careful");
  auto consumer = Consumer(
      [&](pqxx::transaction_base& tx, const events::v1::Event& event) {
        if (event.type() != "test.poison") return record(tx, event);
        ++poison_attempts;
        // Whatever it wrote is rolled back with its processed mark.
        tx.exec_params(absl::StrCat("INSERT INTO ", kSchema, ".effects VALUES ($1, 'x')"),
                       event.event_id());
        return absl::InvalidArgumentError("this handler cannot take it");
      },
      options);
  events::v1::Event good = TestEvent(municipality_, "test.happened");
  events::v1::Event poison = TestEvent(municipality_, "test.poison");
  events::v1::Event later = TestEvent(municipality_, "test.happened");
  Publish(good);
  Publish(poison);
  Publish(later);
  // And an entry that is no event at all, though a relay of ours signed it.
  auto garbage = redis_client_->Command(
      {"XADD", stream_, "*", "event_id", "not-an-event", "type", "test.garbage", "event", "\x01",
       "access_version", "0", kStreamMacField,
       StreamKeys::ProcessLocal().Sign(stream_, "not-an-event", "test.garbage", "\x01", "0")});
  ASSERT_TRUE(garbage.ok() && !garbage->is_error());

  const std::string dead_letters = absl::StrCat(stream_, ":dead:", group_);
  EXPECT_TRUE(WaitFor([&] {
    EXPECT_TRUE(consumer->ConsumeOnce().ok());
    auto length = redis_client_->Command({"XLEN", dead_letters});
    return length.ok() && length->integer == 2;
  }));
  EXPECT_EQ(poison_attempts.load(), 3);
  ExpectEachOnce({good.event_id(), later.event_id()});
  EXPECT_EQ(PendingCount(), 0);
  EXPECT_EQ(Counter("samplan_events_dead_lettered_total", group_), 2);
  EXPECT_EQ(Counter("samplan_events_handler_failures_total", group_), 3);

  auto reply = redis_client_->Command({"XRANGE", dead_letters, "-", "+"});
  ASSERT_TRUE(reply.ok());
  std::vector<StreamEntry> entries = ParseStreamEntries(*reply);
  ASSERT_EQ(entries.size(), 2u);
  std::map<std::string, const StreamEntry*> by_type;
  for (const StreamEntry& entry : entries) by_type[entry.Field("type")] = &entry;
  ASSERT_TRUE(by_type.contains("test.poison"));
  EXPECT_EQ(by_type["test.poison"]->Field("event_id"), poison.event_id());
  EXPECT_EQ(by_type["test.poison"]->Field("reason"), "too many deliveries");
  EXPECT_EQ(by_type["test.poison"]->Field("deliveries"), "4");
  EXPECT_EQ(by_type["test.poison"]->Field("event"), poison.SerializeAsString());
  ASSERT_TRUE(by_type.contains("test.garbage"));
  EXPECT_EQ(by_type["test.garbage"]->Field("reason"), "unparsable");

  pqxx::connection connection(dsn_);
  EXPECT_EQ(pqxx::nontransaction(connection)
                .exec_params1(absl::StrCat("SELECT count(*) FROM ", kSchema,
                                           ".processed_events WHERE event_id = $1"),
                              poison.event_id())[0]
                .as<int>(),
            0)
      << "a dead-lettered event is not processed: a replay must be able to apply it";
}

TEST_F(EventConsumerTest, PruneForgetsOnlyIdsOlderThanRetention) {
  FakeClock clock(absl::Now());
  EventConsumerOptions options = Options("pruner");
  options.processed_retention = absl::Hours(24 * 8);
  EventConsumer consumer(options, redis_options(), *pool_, processed_,
                         RecordingHandler("pruner"), clock);
  std::vector<std::string> old_ids = PublishMany(3);
  ASSERT_TRUE(WaitFor([&] {
    EXPECT_TRUE(consumer.ConsumeOnce().ok());
    return Effects().size() == 3;
  }));
  clock.Advance(absl::Hours(24 * 7));
  std::vector<std::string> new_ids = PublishMany(2);
  ASSERT_TRUE(WaitFor([&] {
    EXPECT_TRUE(consumer.ConsumeOnce().ok());
    return Effects().size() == 5;
  }));
  clock.Advance(absl::Hours(24 * 2));  // the first three are now 9 days old
  absl::StatusOr<int64_t> pruned = consumer.PruneProcessed();
  ASSERT_TRUE(pruned.ok()) << pruned.status();
  EXPECT_EQ(*pruned, 3);
  EXPECT_EQ(*consumer.PruneProcessed(), 0);
}

// An entry that no relay of ours wrote — no MAC, a wrong one, or one made for
// another municipality's stream — is never handed to the handler: it is
// dead-lettered as unauthentic and counted, and genuine entries around it are
// handled as ever.
TEST_F(EventConsumerTest, UnauthenticEntriesAreNeverHandled) {
  events::v1::Event before = TestEvent(municipality_, "test.happened");
  Publish(before);
  auto forge = [&](const std::string& how) {
    events::v1::Event event = TestEvent(municipality_, "test.happened");
    const std::string envelope = event.SerializeAsString();
    std::vector<std::string> command = {"XADD", stream_, "*", "event_id", event.event_id(),
                                        "type", event.type(), "event", envelope,
                                        "access_version", "0"};
    if (how == "wrong") {
      // Signed, then changed on the way: what it says is not what was signed.
      command.insert(command.end(),
                     {kStreamMacField, StreamKeys::ProcessLocal().Sign(stream_, event.event_id(),
                                                                       "test.other", envelope,
                                                                       "0")});
    } else if (how == "other stream") {
      command.insert(command.end(),
                     {kStreamMacField,
                      StreamKeys::ProcessLocal().Sign(EventStreamKey("0180"), event.event_id(),
                                                      event.type(), envelope, "0")});
    }
    auto reply = redis_client_->Command(command);
    EXPECT_TRUE(reply.ok() && !reply->is_error());
  };
  forge("none");
  forge("wrong");
  forge("other stream");
  events::v1::Event after = TestEvent(municipality_, "test.happened");
  Publish(after);

  std::unique_ptr<EventConsumer> consumer = Consumer("careful");
  const std::string dead_letters = absl::StrCat(stream_, ":dead:", group_);
  EXPECT_TRUE(WaitFor([&] {
    EXPECT_TRUE(consumer->ConsumeOnce().ok());
    return Effects().size() == 2;
  }));
  ExpectEachOnce({before.event_id(), after.event_id()});
  EXPECT_EQ(PendingCount(), 0);
  EXPECT_EQ(Counter("samplan_events_unauthentic_total", group_), 3);
  auto reply = redis_client_->Command({"XRANGE", dead_letters, "-", "+"});
  ASSERT_TRUE(reply.ok());
  std::vector<StreamEntry> entries = ParseStreamEntries(*reply);
  ASSERT_EQ(entries.size(), 3u);
  for (const StreamEntry& entry : entries) EXPECT_EQ(entry.Field("reason"), "unauthentic");
}

}  // namespace
}  // namespace samplan
