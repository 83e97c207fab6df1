#ifndef SAMPLAN_COMMON_EVENT_CONSUMER_H_
#define SAMPLAN_COMMON_EVENT_CONSUMER_H_

// The internal consumers' side of the events (scheduling, survey): a Redis consumer
// group over municipality streams, with each event's effect applied exactly once.
//
// Guarantees, across a crash of the consumer, Redis or PostgreSQL at any point:
// every event on a stream is handed to the handler until one attempt commits (or,
// after `max_deliveries` failed attempts, it is moved to the dead-letter stream);
// the effects of at most one attempt per event id ever commit.
//
// How: the handler runs inside a PostgreSQL transaction that also inserts the event
// id into `<schema>.processed_events`; if the id is already there the handler is
// skipped. The entry is acknowledged (XACK) only after that transaction committed.
// So a crash before the commit leaves the entry pending (it is re-read or reclaimed
// and handled again: nothing of the first attempt committed), and a crash between
// commit and XACK makes a redelivery that finds its id and is only acknowledged.
// Entries pending longer than `min_idle` (read by a consumer that died, or left by
// a failed attempt) are claimed with XAUTOCLAIM by whichever consumer of the group
// looks first, this one included: a failed attempt is retried after min_idle, not
// at once. After a start or a Redis failure the consumer first re-reads its own
// pending entries (id 0), then new ones (">").
//
// Unauthentic entries: an entry whose MAC does not verify (common/stream_mac.h) is
// never handed to the handler; it is dead-lettered with reason "unauthentic" and
// counted in samplan_events_unauthentic_total.
//
// Poison events: an entry that was delivered `max_deliveries` times without a
// commit, or that cannot be parsed, is copied to the dead-letter stream
// `samplan:events:{<municipality>}:dead:<group>` and acknowledged, in one MULTI, and
// counted in samplan_events_dead_lettered_total. A dead-letter stream rather than
// only a counter: the event is still there for an operator to inspect and replay
// after the handler is fixed, and the braces keep it on its stream's Cluster slot.
// Logs name such an event by id and type only, never its payload.

#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <pqxx/pqxx>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/pg.h"
#include "common/redis.h"
#include "common/stream_mac.h"
#include "samplan/events/v1/event.pb.h"

namespace samplan {

// Where a consumer group that does not exist yet starts reading.
enum class GroupStart {
  kNewEvents,    // "$": only events added after the group is created
  kWholeStream,  // "0": everything still on the stream
};

struct EventConsumerOptions {
  // The consumer group, one per consuming service ("scheduling").
  std::string group;
  // This consumer's name in the group, unique per replica and stable across its
  // restarts (the pod name), so that a restarted replica re-reads its own pending
  // entries at once instead of waiting for another to reclaim them.
  std::string consumer;
  // The municipalities (kommunkoder) whose streams are read.
  std::vector<std::string> municipalities;
  GroupStart start = GroupStart::kNewEvents;
  // Entries read per stream in one round.
  int batch_size = 100;
  // How long one read waits for new entries; bounds how long Stop() takes. Must be
  // below RedisOptions::command_timeout.
  absl::Duration block = absl::Seconds(1);
  // How long an entry stays pending with another consumer before it is taken over.
  // Longer than the slowest handler, or a live consumer's entry is handled twice
  // (harmlessly, but for nothing).
  absl::Duration min_idle = absl::Minutes(1);
  // How often pending entries of the group are looked at for reclaiming.
  absl::Duration reclaim_interval = absl::Seconds(10);
  // Deliveries after which an event that never committed is dead-lettered.
  int max_deliveries = 5;
  // How long a handled event's id is remembered; longer than the streams'
  // retention (7 days), after which no entry of it can be delivered again.
  absl::Duration processed_retention = absl::Hours(24 * 8);
  // How often Start()'s loop prunes the ids older than processed_retention.
  absl::Duration prune_interval = absl::Hours(1);
  // The longest wait for a pooled PostgreSQL connection.
  absl::Duration transaction_timeout = absl::Seconds(10);
  // The keys whose MACs make an entry authentic; the binaries set
  // SAMPLAN_STREAM_KEYS.
  StreamKeys stream_keys = StreamKeys::ProcessLocal();
};

// Applies one event's effect within `tx`, which also records the event as
// processed. Returns OK to commit both; any other status (or an exception) rolls
// both back and leaves the event pending, to be delivered again. The status message
// is logged: it must not carry personal data.
using EventHandler =
    std::function<absl::Status(pqxx::transaction_base& tx, const events::v1::Event& event)>;

// The record of handled events in `<schema>.processed_events`
// (processed_events_migrations()). Like Outbox, its statements are prepared on the
// service's pool.
class ProcessedEvents {
 public:
  // `schema` is the consuming service's schema, a plain identifier from code.
  explicit ProcessedEvents(std::string schema);

  // Returns the statements to prepare on the service's pool. They point into this
  // object, which must outlive the pool.
  std::vector<PreparedStatement> statements() const;

  // Records `event_id` as processed within `tx`. Returns false, changing nothing,
  // when it was recorded before (by a committed transaction, or one still open,
  // which this call then waits for).
  bool Record(pqxx::transaction_base& tx, absl::string_view event_id,
              absl::string_view stream, absl::Time processed_at) const;

  // Forgets the events processed before `cutoff`; returns how many.
  int64_t ForgetBefore(pqxx::transaction_base& tx, absl::Time cutoff) const;

 private:
  std::string record_sql_;
  std::string forget_sql_;
};

// Reads the municipalities' streams as one consumer of a group and hands each event
// to a handler. Not thread-safe: one thread steps it (ConsumeOnce) or Start() runs
// it.
class EventConsumer {
 public:
  // `pool` must have `processed.statements()` prepared; both must outlive this.
  EventConsumer(EventConsumerOptions options, RedisOptions redis, PgPool& pool,
                const ProcessedEvents& processed, EventHandler handler,
                const Clock& clock = RealClock());
  ~EventConsumer();
  EventConsumer(const EventConsumer&) = delete;
  EventConsumer& operator=(const EventConsumer&) = delete;

  // Runs one round: creates missing groups, reclaims idle entries when
  // reclaim_interval has passed, then reads one batch (its own pending entries
  // first after a start or a Redis failure, else new ones, waiting up to `block`)
  // and settles each entry: handled, dropped as a duplicate, left pending after a
  // failed attempt, or dead-lettered. Returns how many entries were acknowledged,
  // or the Redis or PostgreSQL error that stopped the round; what was not
  // acknowledged is delivered again.
  absl::StatusOr<int> ConsumeOnce();

  // Forgets the processed ids older than processed_retention; returns how many.
  absl::StatusOr<int64_t> PruneProcessed();

  // Runs ConsumeOnce in a background thread until Stop(), backing off while Redis
  // or PostgreSQL is unavailable, and prunes every prune_interval.
  void Start();
  // Stops the thread after its current round (at most `block` plus one batch).
  void Stop();

 private:
  enum class Outcome { kHandled, kDuplicate, kFailed };

  absl::Status EnsureGroups();
  absl::Status Reclaim();
  absl::StatusOr<std::vector<std::pair<std::string, std::vector<StreamEntry>>>> Read();
  absl::StatusOr<std::map<std::string, int64_t>> DeliveryCounts(
      const std::string& stream, const std::vector<StreamEntry>& entries);
  absl::StatusOr<int> Settle(const std::string& stream, const std::vector<StreamEntry>& entries,
                             const std::map<std::string, int64_t>& deliveries);
  absl::StatusOr<Outcome> Handle(const std::string& stream, const events::v1::Event& event);
  absl::Status DeadLetter(const std::string& stream, const StreamEntry& entry,
                          absl::string_view event_id, absl::string_view type,
                          int64_t deliveries, absl::string_view reason);
  // Notes that Redis failed: groups may be gone and own entries must be re-read.
  absl::Status RedisFailed(absl::Status status);
  void Loop();

  const EventConsumerOptions options_;
  const std::string labels_;  // group="…", for the metrics
  const Clock& clock_;
  RedisClient redis_;
  PgPool& pool_;
  const ProcessedEvents& processed_;
  const EventHandler handler_;

  bool groups_ready_ = false;
  // Per stream, the id after which this consumer's own pending entries are still to
  // be re-read; empty when only new entries are read.
  std::map<std::string, std::string> history_from_;
  absl::Time next_reclaim_ = absl::InfinitePast();

  absl::Notification stopped_;
  std::thread thread_;
};

}  // namespace samplan

#endif  // SAMPLAN_COMMON_EVENT_CONSUMER_H_
