#ifndef SAMPLAN_COMMON_RELAY_H_
#define SAMPLAN_COMMON_RELAY_H_

// Publishes outbox rows to the municipalities' Redis streams.
//
// Guarantees, across a crash of the relay, the service, Redis or PostgreSQL at any
// point: every committed event reaches its stream; no event id is on a stream
// twice; per aggregate, events are on the stream in version order.
//
// How: one relay per schema is active at a time (a PostgreSQL advisory lock held by
// its connection). For each unpublished row it first chooses and *stores* the
// stream entry id (monotonic per municipality), and only then writes the entry with
// that explicit id. Redis refuses an entry whose id is not above the stream's last,
// so writing the same row again after a crash cannot make a second copy; the relay
// then checks that the entry there carries the same event id and deletes the row.
// A stream's entries are appended by one script that stops at the first refusal,
// so a plan's later version never lands before an earlier one. Other services'
// relays write the same municipality streams: when one has passed an id this relay
// chose, the waiting events of that stream get new ids above the stream's last, in
// order. With replicas required, the rows are deleted only once WAIT says enough
// replicas hold everything this connection wrote; if that is not known, the rows
// stay, and the next round (perhaps on a promoted replica, found through Sentinel)
// writes what is missing under the same ids and recognizes what is there by its
// event id. The outbox holds only unpublished rows and is read whole, never by "id
// above the last one seen", because sequence values become visible out of commit
// order.

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include <pqxx/pqxx>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/redis.h"
#include "common/stream_mac.h"

namespace samplan {

struct RelayOptions {
  std::string schema;  // whose outbox, a plain identifier
  int batch_size = 500;
  absl::Duration poll_interval = absl::Milliseconds(10);
  absl::Duration stream_retention = absl::Hours(24 * 7);
  // Replicas that must hold a round's entries (Redis WAIT) before their outbox
  // rows are deleted, so that a primary lost right after answering loses nothing;
  // 0 for a Redis without replicas.
  int min_replicas = 0;
  absl::Duration replica_timeout = absl::Seconds(1);

  // Signs every entry (common/stream_mac.h); the binaries set SAMPLAN_STREAM_KEYS.
  StreamKeys stream_keys = StreamKeys::ProcessLocal();
};

class OutboxRelay {
 public:
  OutboxRelay(RelayOptions options, std::string pg_dsn, RedisOptions redis,
              const Clock& clock = RealClock());
  ~OutboxRelay();

  // Publishes at most one batch. Returns how many events were published (0 when
  // another relay is the active one, or nothing is pending), or the error that
  // stopped the batch; a failed batch is retried from the database's state.
  absl::StatusOr<int> PublishOnce();

  // Returns how many rows are committed but not yet published.
  absl::StatusOr<int64_t> Backlog();

  // Runs PublishOnce in a background thread until Stop().
  void Start();
  void Stop();

  // Tells the running relay that an outbox row has just committed, so that it
  // publishes now instead of at its next poll. Cheap; wakes that come while it
  // publishes are folded into one more round. Ignored while another relay leads
  // or after a failed batch (the relay then keeps its pause or backoff).
  void Wake();

 private:
  struct StreamPosition {
    int64_t ms = 0;
    int64_t seq = 0;
  };
  absl::Status EnsureLeader();
  void DropConnection();
  absl::StatusOr<StreamPosition> LastPosition(pqxx::transaction_base& tx,
                                              const std::string& municipality);
  void Loop();

  const RelayOptions options_;
  const std::string dsn_;
  const Clock& clock_;
  RedisClient redis_;
  std::unique_ptr<pqxx::connection> connection_;
  bool leader_ = false;
  // The last stream id given out per municipality; valid only while leader.
  absl::flat_hash_map<std::string, StreamPosition> positions_;

  absl::Notification stopped_;
  absl::Mutex wake_mu_;
  bool woken_ ABSL_GUARDED_BY(wake_mu_) = false;
  std::thread thread_;
};

}  // namespace samplan

#endif  // SAMPLAN_COMMON_RELAY_H_
