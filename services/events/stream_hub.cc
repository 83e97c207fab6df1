#include "services/events/stream_hub.h"

#include "absl/strings/numbers.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/outbox.h"
#include "samplan/events/v1/event_service.pb.h"

namespace samplan::events {
namespace {

// How long one XREAD waits for new entries before the loop looks at its stop flag.
constexpr char kBlockMillis[] = "500";

}  // namespace

StoredEventPtr ParseStoredEvent(const std::string& municipality, const StreamEntry& entry) {
  auto stored = std::make_shared<StoredEvent>();
  stored->municipality = municipality;
  stored->position = StreamPosition::Parse(entry.id).value_or(StreamPosition{});
  stored->parsed = stored->event.ParseFromString(entry.Field("event"));
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

absl::StatusOr<StreamExtent> ReadStreamExtent(RedisClient& redis,
                                              const std::string& municipality,
                                              std::optional<StreamPosition> after) {
  absl::StatusOr<RedisReply> info = redis.Command({"XINFO", "STREAM", EventStreamKey(municipality)});
  if (!info.ok()) return info.status();
  StreamExtent extent;
  if (info->is_error()) {
    if (absl::StrContains(info->text, "no such key")) return extent;
    return absl::UnavailableError(absl::StrCat("XINFO STREAM: ", info->text));
  }
  long long length = 0, added = 0;
  for (size_t i = 0; i + 1 < info->elements.size(); i += 2) {
    const std::string& field = info->elements[i].text;
    if (field == "length") {
      length = info->elements[i + 1].integer;
    } else if (field == "entries-added") {
      added = info->elements[i + 1].integer;
    } else if (field == "recorded-first-entry-id") {
      if (std::optional<StreamPosition> first = StreamPosition::Parse(info->elements[i + 1].text);
          first.has_value() && !(*first == StreamPosition{})) {
        extent.first_kept = first;
      }
    } else if (field == "last-generated-id") {
      extent.last_generated =
          StreamPosition::Parse(info->elements[i + 1].text).value_or(StreamPosition{});
    } else if (field == "max-deleted-entry-id") {
      extent.max_deleted =
          StreamPosition::Parse(info->elements[i + 1].text).value_or(StreamPosition{});
    }
  }
  extent.entries_removed = added > length;
  if (length == 0) extent.first_kept.reset();
  if (after.has_value()) {
    absl::StatusOr<RedisReply> next =
        redis.Command({"XRANGE", EventStreamKey(municipality),
                       absl::StrCat("(", after->ToString()), "+", "COUNT", "1"});
    if (!next.ok()) return next.status();
    if (next->is_error()) return absl::UnavailableError(absl::StrCat("XRANGE: ", next->text));
    std::vector<StreamEntry> entries = ParseStreamEntries(*next);
    if (!entries.empty()) extent.next = StreamPosition::Parse(entries[0].id);
  }
  return extent;
}

StreamHub::StreamHub(std::string municipality, RedisOptions redis, size_t buffer_capacity,
                     EntryObserver observer)
    : municipality_(std::move(municipality)), key_(EventStreamKey(municipality_)),
      buffer_capacity_(std::max<size_t>(buffer_capacity, 1)), observer_(std::move(observer)),
      redis_(std::move(redis)) {
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
      absl::StatusOr<StreamExtent> extent = ReadStreamExtent(redis_, municipality_);
      if (!extent.ok()) {
        pause();
        continue;
      }
      absl::MutexLock lock(&mu_);
      last_ = floor_ = extent->last_generated;
      ready_ = true;
      continue;
    }
    absl::StatusOr<RedisReply> reply = redis_.Command(
        {"XREAD", "COUNT", "1000", "BLOCK", kBlockMillis, "STREAMS", key_, last.ToString()});
    if (!reply.ok() || reply->is_error()) {
      // Redis restarting or unreachable: keep the position and read on from it.
      Log(LogLevel::kWarning, "event stream read failed; retrying",
          {{"municipality", municipality_},
           {"error", reply.ok() ? reply->text : reply.status().ToString()}});
      pause();
      continue;
    }
    backoff = absl::Milliseconds(50);
    if (reply->type != RedisReply::Type::kArray || reply->elements.empty() ||
        reply->elements[0].elements.size() != 2) {
      continue;  // nothing new within the block time
    }
    std::vector<StoredEventPtr> events;
    for (const StreamEntry& entry : ParseStreamEntries(reply->elements[0].elements[1])) {
      StoredEventPtr stored = ParseStoredEvent(municipality_, entry);
      if (!stored->parsed) {
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

StreamHubs::StreamHubs(RedisOptions redis, size_t buffer_capacity, EntryObserver observer)
    : redis_(std::move(redis)), buffer_capacity_(buffer_capacity), observer_(std::move(observer)) {
  Metrics::Global().Describe("samplan_events_read_total", "counter",
                             "Stream entries read by this process's hubs.");
}

StreamHub& StreamHubs::Get(const std::string& municipality) {
  absl::MutexLock lock(&mu_);
  std::unique_ptr<StreamHub>& hub = hubs_[municipality];
  if (hub == nullptr) {
    RedisOptions options = redis_;
    hub = std::make_unique<StreamHub>(municipality, options, buffer_capacity_, observer_);
  }
  return *hub;
}

}  // namespace samplan::events
