#include "services/events/stream_hub.h"

#include "absl/strings/numbers.h"

#include <algorithm>

#include "common/log.h"
#include "common/metrics.h"
#include "samplan/events/v1/event_service.pb.h"

namespace samplan::events {
namespace {

// How long one read waits for new entries before the loop looks at its stop flag.
constexpr absl::Duration kBlockTime = absl::Milliseconds(500);
// At most this many entries in one read.
constexpr int kReadCount = 1000;

}  // namespace

StoredEventPtr ParseStoredEvent(const std::string& municipality, const StreamEntry& entry) {
  auto stored = std::make_shared<StoredEvent>();
  stored->municipality = municipality;
  stored->position = StreamPosition::Parse(entry.id).value_or(StreamPosition{});
  // An entry refused as unauthentic comes without fields (redis_stream_reader.h);
  // an empty envelope is no event either.
  const std::string envelope = entry.Field("event");
  stored->parsed = !envelope.empty() && stored->event.ParseFromString(envelope);
  if (!absl::SimpleAtoi(entry.Field("access_version"), &stored->access_version)) {
    stored->access_version = 0;
  }
  return stored;
}

const std::string& StoredEvent::SharedDelivery() const {
  std::call_once(shared_once_, [this] {
    Cursor cursor;
    cursor.Set(municipality, position);
    v1::DeliveredEvent delivered;
    delivered.set_position(position.ToString());
    delivered.set_cursor(cursor.ToString());
    *delivered.mutable_event() = event;
    shared_delivery_ = delivered.SerializeAsString();
  });
  return shared_delivery_;
}

StreamHub::StreamHub(std::string municipality, std::unique_ptr<StreamReader> reader,
                     size_t buffer_capacity, EntryObserver observer)
    : municipality_(std::move(municipality)),
      buffer_capacity_(std::max<size_t>(buffer_capacity, 1)), observer_(std::move(observer)),
      reader_(std::move(reader)) {
  thread_ = std::thread([this] { Loop(); });
}

StreamHub::~StreamHub() {
  stopped_.Notify();
  thread_.join();
}

void StreamHub::Loop() {
  absl::Duration backoff = absl::Milliseconds(50);
  auto pause = [&] {
    stopped_.WaitForNotificationWithTimeout(backoff);
    backoff = std::min(backoff * 2, absl::Seconds(2));
  };
  while (!stopped_.HasBeenNotified()) {
    bool ready;
    StreamPosition last;
    {
      absl::MutexLock lock(&mu_);
      ready = ready_;
      last = last_;
    }
    if (!ready) {
      // The hub starts from the stream's newest entry: what came before is read
      // from Redis by the subscribers that ask for it.
      absl::StatusOr<StreamExtent> extent = reader_->ReadExtent(municipality_, std::nullopt);
      if (!extent.ok()) {
        pause();
        continue;
      }
      absl::MutexLock lock(&mu_);
      last_ = floor_ = extent->last_generated;
      ready_ = true;
      continue;
    }
    absl::StatusOr<std::vector<StreamEntry>> entries =
        reader_->WaitAfter(municipality_, last, kReadCount, kBlockTime);
    if (!entries.ok()) {
      // Redis restarting or unreachable: keep the position and read on from it.
      Log(LogLevel::kWarning, "event stream read failed; retrying",
          {{"municipality", municipality_}, {"error", entries.status().ToString()}});
      pause();
      continue;
    }
    backoff = absl::Milliseconds(50);
    std::vector<StoredEventPtr> events;
    for (const StreamEntry& entry : *entries) {
      StoredEventPtr stored = ParseStoredEvent(municipality_, entry);
      if (!stored->parsed && !entry.fields.empty()) {  // an unauthentic one is logged already
        Log(LogLevel::kWarning, "stream entry is not an event; passed over",
            {{"municipality", municipality_}, {"position", entry.id}});
      }
      if (observer_ && stored->parsed) observer_(*stored);
      events.push_back(std::move(stored));
    }
    if (events.empty()) continue;
    Metrics::Global().Add("samplan_events_read_total", "", static_cast<int64_t>(events.size()));
    absl::MutexLock lock(&mu_);
    for (const StoredEventPtr& event : events) {
      buffer_.push_back(event);
      last_ = event->position;
    }
    while (buffer_.size() > buffer_capacity_) {
      floor_ = buffer_.front()->position;
      buffer_.pop_front();
    }
    for (const std::shared_ptr<StreamListener>& listener : listeners_) listener->OnEvents(events);
  }
}

absl::StatusOr<StreamHub::Attachment> StreamHub::Attach(std::shared_ptr<StreamListener> listener,
                                                        std::optional<StreamPosition> after,
                                                        absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  if (!mu_.AwaitWithTimeout(absl::Condition(&ready_), timeout)) {
    return absl::UnavailableError("the event stream cannot be reached now; retry shortly");
  }
  Attachment attachment;
  attachment.oldest_held = floor_;
  if (after.has_value() && *after < floor_) return attachment;
  attachment.attached = true;
  attachment.position = after.value_or(last_);
  std::vector<StoredEventPtr> backlog;
  for (const StoredEventPtr& event : buffer_) {
    if (attachment.position < event->position) backlog.push_back(event);
  }
  if (!backlog.empty()) listener->OnEvents(backlog);
  listeners_.push_back(std::move(listener));
  return attachment;
}

void StreamHub::Detach(const StreamListener* listener) {
  absl::MutexLock lock(&mu_);
  listeners_.erase(std::remove_if(listeners_.begin(), listeners_.end(),
                                  [&](const auto& l) { return l.get() == listener; }),
                   listeners_.end());
}

StreamHubs::StreamHubs(StreamReaderFactory readers, size_t buffer_capacity,
                       EntryObserver observer)
    : readers_(std::move(readers)), buffer_capacity_(buffer_capacity),
      observer_(std::move(observer)) {
  Metrics::Global().Describe("samplan_events_read_total", "counter",
                             "Stream entries read by this process's hubs.");
}

StreamHub& StreamHubs::Get(const std::string& municipality) {
  absl::MutexLock lock(&mu_);
  std::unique_ptr<StreamHub>& hub = hubs_[municipality];
  if (hub == nullptr) {
    hub = std::make_unique<StreamHub>(municipality, readers_(), buffer_capacity_, observer_);
  }
  return *hub;
}

}  // namespace samplan::events
