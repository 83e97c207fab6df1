#ifndef SAMPLAN_SERVICES_EVENTS_STREAM_HUB_H_
#define SAMPLAN_SERVICES_EVENTS_STREAM_HUB_H_

// One reader per municipality stream per process, fanning out to every subscriber
// of that municipality: however many partners subscribe, the process holds one
// blocking read (one Redis connection) per stream. The hub keeps the newest
// entries in memory so that a subscriber resuming from a recent cursor is served
// from there, and one resuming from further back catches up from the stream
// (StreamReader) and then joins.

#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "common/redis.h"
#include "samplan/events/v1/event.pb.h"
#include "services/events/delivery_rules.h"
#include "services/events/stream_reader.h"

namespace samplan::events {

// One entry of a municipality's stream, parsed once and shared by every subscriber.
struct StoredEvent {
  std::string municipality;
  StreamPosition position;
  // False when the entry could not be parsed (then `event` is empty): a subscriber
  // passes over it, its cursor moving on.
  bool parsed = false;
  v1::Event event;
  // The person's access version its writer saw (the entry's `access_version`
  // field; 0 when absent): it is decided on consent facts at least that new.
  int64_t access_version = 0;

  // How the event reaches each kind of reader (principal and purpose), once
  // decided: many subscriptions of one partner share one decision per event. An
  // event's decision never needs revisiting: a consent change later on the stream
  // applies to the events after it, which are decided after it is seen.
  std::optional<DeliveryForm> Recall(const std::string& reader) const {
    absl::MutexLock lock(&memo_mu_);
    auto it = memo_.find(reader);
    if (it == memo_.end()) return std::nullopt;
    return it->second;
  }
  void Remember(const std::string& reader, DeliveryForm form) const {
    absl::MutexLock lock(&memo_mu_);
    memo_.emplace(reader, form);
  }

  // Returns the serialized DeliveredEvent of the event as it is, with the cursor
  // of a subscription to this municipality alone; made once.
  const std::string& SharedDelivery() const;

 private:
  mutable absl::Mutex memo_mu_;
  mutable absl::flat_hash_map<std::string, DeliveryForm> memo_ ABSL_GUARDED_BY(memo_mu_);
  mutable std::once_flag shared_once_;
  mutable std::string shared_delivery_;
};
using StoredEventPtr = std::shared_ptr<const StoredEvent>;

// Returns the stream entry as a StoredEvent.
StoredEventPtr ParseStoredEvent(const std::string& municipality, const StreamEntry& entry);

// Receives a stream's entries, in order. Called on the hub's thread with the hub
// locked: it must only queue them.
class StreamListener {
 public:
  virtual ~StreamListener() = default;
  virtual void OnEvents(const std::vector<StoredEventPtr>& events) = 0;
};

// Called for every entry before listeners see it (the access gate forgets a
// person's facts when a consent changes).
using EntryObserver = std::function<void(const StoredEvent&)>;

class StreamHub {
 public:
  // Reads `municipality`'s stream through `reader`, which it keeps for itself.
  StreamHub(std::string municipality, std::unique_ptr<StreamReader> reader,
            size_t buffer_capacity, EntryObserver observer);
  ~StreamHub();

  // What Attach did.
  struct Attachment {
    // Whether the listener now receives every entry after `after` (the backlog was
    // handed to it first). False: `after` is older than the memory holds; catch up
    // from Redis to at least `oldest_held` and attach again.
    bool attached = false;
    // Where the listener stands: `after`, or the hub's newest entry when attaching
    // from now on.
    StreamPosition position;
    StreamPosition oldest_held;
  };

  // Attaches `listener` after `after` (from now on when nullopt). Waits up to
  // `timeout` for the hub's first contact with Redis; UNAVAILABLE if it has none.
  absl::StatusOr<Attachment> Attach(std::shared_ptr<StreamListener> listener,
                                    std::optional<StreamPosition> after, absl::Duration timeout);
  void Detach(const StreamListener* listener);

  const std::string& municipality() const { return municipality_; }

 private:
  void Loop();

  const std::string municipality_;
  const size_t buffer_capacity_;
  const EntryObserver observer_;
  const std::unique_ptr<StreamReader> reader_;

  absl::Mutex mu_;
  bool ready_ ABSL_GUARDED_BY(mu_) = false;
  // Entries newer than `floor_`, the newest last.
  std::deque<StoredEventPtr> buffer_ ABSL_GUARDED_BY(mu_);
  StreamPosition floor_ ABSL_GUARDED_BY(mu_);
  StreamPosition last_ ABSL_GUARDED_BY(mu_);
  std::vector<std::shared_ptr<StreamListener>> listeners_ ABSL_GUARDED_BY(mu_);

  absl::Notification stopped_;
  std::thread thread_;
};

// The hubs of a process, started on first use.
class StreamHubs {
 public:
  // Each hub reads through a reader of its own from `readers`.
  StreamHubs(StreamReaderFactory readers, size_t buffer_capacity, EntryObserver observer);

  // Returns the hub of `municipality`, starting it if needed.
  StreamHub& Get(const std::string& municipality);

 private:
  const StreamReaderFactory readers_;
  const size_t buffer_capacity_;
  const EntryObserver observer_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::unique_ptr<StreamHub>> hubs_ ABSL_GUARDED_BY(mu_);
};

}  // namespace samplan::events

#endif  // SAMPLAN_SERVICES_EVENTS_STREAM_HUB_H_
