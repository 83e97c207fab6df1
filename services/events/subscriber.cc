#include "services/events/subscriber.h"

#include <google/protobuf/unknown_field_set.h>
#include <google/protobuf/util/time_util.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/status.h"
#include "services/events/delivery.h"

namespace samplan::events {
namespace {

using google::protobuf::util::TimeUtil;

constexpr char kSubscribeAction[] = "events.Subscribe";

// How long a subscription ended while a write is stuck may keep it before the call
// is cancelled: a client that stopped reading cannot even receive the status.
constexpr absl::Duration kStuckWriteGrace = absl::Seconds(30);

google::protobuf::Timestamp ToProto(absl::Time time) {
  return TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(time));
}

}  // namespace

Subscriber::Subscriber(const SubscriberEnvironment& env, grpc::CallbackServerContext* context,
                       Principal principal, Subscription subscription, std::string request_id,
                       absl::Duration heartbeat)
    : env_(env), context_(context), principal_(std::move(principal)),
      subscription_(std::move(subscription)), reader_(ReaderOf(principal_, subscription_)),
      request_id_(std::move(request_id)), heartbeat_(heartbeat), cursor_(subscription_.cursor),
      unattached_(subscription_.municipalities) {
  for (const std::string& m : subscription_.municipalities) {
    if (std::optional<StreamPosition> after = cursor_.Get(m)) fetched_[m] = *after;
  }
}

void Subscriber::set_reactor(Reactor* reactor) {
  absl::MutexLock lock(&mu_);
  reactor_ = reactor;
}

void Subscriber::OnEvents(const std::vector<StoredEventPtr>& events) {
  const bool any_for_it = std::any_of(events.begin(), events.end(),
                                      [&](const StoredEventPtr& e) { return MayConcern(*e); });
  bool schedule = false;
  bool finish = false;
  {
    absl::MutexLock lock(&mu_);
    if (finishing_) return;
    if (!any_for_it && queue_.empty()) {
      // Nothing here it may see: move its position on without waking a worker
      // (the next heartbeat carries it).
      const StoredEvent& last = *events.back();
      std::optional<StreamPosition> seen = cursor_.Get(last.municipality);
      if (!seen.has_value() || *seen < last.position) {
        cursor_.Set(last.municipality, last.position);
      }
      return;
    }
    queue_.insert(queue_.end(), events.begin(), events.end());
    if (queue_.size() > env_.queue_limit) {
      queue_.clear();
      Metrics::Global().Add("samplan_events_subscribers_cut_off_total", "");
      finishing_ = true;
      final_ = ToGrpcStatus(
          absl::ResourceExhaustedError(absl::StrCat(
              "the subscriber did not keep up: more than ", env_.queue_limit,
              " events waited for it; reconnect with the last cursor you processed")),
          request_id_);
      finish_wanted_at_ = env_.clock.Now();
      finish = TakeFinishLocked();
    } else if (!scheduled_ && !write_in_flight_) {
      scheduled_ = schedule = true;
    }
  }
  if (schedule) env_.schedule(shared_from_this());
  if (finish) reactor_->Finish(final_);
}

void Subscriber::Work(StreamReader& reader) {
  {
    absl::MutexLock lock(&mu_);
    if (finishing_) {
      scheduled_ = false;
      if (TakeFinishLocked()) Finish();
      return;
    }
  }
  if (absl::Status attached = AttachOrCatchUp(reader); !attached.ok()) {
    End(attached);
    {
      absl::MutexLock lock(&mu_);
      scheduled_ = false;
      if (!TakeFinishLocked()) return;
    }
    Finish();
    return;
  }

  // The batch and the position it is decided from, taken together: once the
  // batch is out of the queue, the queue is empty, and a hub that then sees
  // entries not for this subscription moves the position past them (OnEvents),
  // which would pass over the batch taken before them.
  std::vector<StoredEventPtr> batch;
  Cursor cursor;
  {
    absl::MutexLock lock(&mu_);
    const size_t n = std::min<size_t>(queue_.size(), env_.max_batch);
    batch.assign(queue_.begin(), queue_.begin() + n);
    queue_.erase(queue_.begin(), queue_.begin() + n);
    cursor = cursor_;
  }
  // Each delivery serialized: for a subscription of one municipality the
  // event's own serialization, made once and shared by every subscription it
  // goes to (the message is then written without copying the event into it).
  std::vector<std::string> delivered;
  const StoredEvent* oldest = nullptr;
  absl::Status failure;
  for (const StoredEventPtr& stored : batch) {
    std::optional<StreamPosition> seen = cursor.Get(stored->municipality);
    if (seen.has_value() && stored->position <= *seen) continue;  // already passed
    absl::StatusOr<std::optional<v1::DeliveredEvent>> shown =
        Present(env_.gate, principal_, reader_, subscription_, *stored, kSubscribeAction,
                request_id_, /*shared=*/subscription_.municipalities.size() == 1);
    if (!shown.ok()) {
      failure = shown.status();
      break;
    }
    cursor.Set(stored->municipality, stored->position);
    if (!shown->has_value()) continue;
    if (oldest == nullptr) oldest = stored.get();
    if ((*shown)->position().empty()) {
      delivered.push_back(stored->SharedDelivery());
    } else {
      (*shown)->set_cursor(cursor.ToString());
      delivered.push_back((*shown)->SerializeAsString());
    }
  }

  bool write = false;
  bool schedule = false;
  bool finish = false;
  {
    absl::MutexLock lock(&mu_);
    // The hub may have moved the position past events it saw were not for this
    // subscription meanwhile: positions only move forward.
    for (const auto& [municipality, position] : cursor.positions()) {
      std::optional<StreamPosition> current = cursor_.Get(municipality);
      if (!current.has_value() || *current < position) cursor_.Set(municipality, position);
    }
    if (!failure.ok() && !finishing_) {
      Log(LogLevel::kWarning, "subscription ended: consent facts unavailable",
          {{"error", failure.ToString()}});
      finishing_ = true;
      final_ = ToGrpcStatus(
          absl::UnavailableError("consents cannot be checked now; reconnect with the last cursor"),
          request_id_);
      finish_wanted_at_ = env_.clock.Now();
      queue_.clear();
    }
    // No write is in flight while a worker holds the subscription.
    if (!finishing_ && (!delivered.empty() || !sent_any_)) {
      response_.Clear();
      response_.set_cursor(cursor_.ToString());
      if (delivered.empty()) {
        // The first message tells the client where it stands and that it is live.
        *response_.mutable_heartbeat()->mutable_time() = ToProto(env_.clock.Now());
      }
      if (oldest != nullptr) {
        // Once per message, for its oldest event: the figure an operator alerts on.
        const absl::Time committed = absl::FromUnixMicros(
            TimeUtil::TimestampToMicroseconds(oldest->event.occurred_at()));
        Metrics::Global().Observe("samplan_events_delivery_lag_seconds", "",
                                  absl::ToDoubleSeconds(absl::Now() - committed));
      }
      // `events` (field 2) written as it goes on the wire: a length-delimited
      // DeliveredEvent each, exactly what add_events() would serialize.
      google::protobuf::UnknownFieldSet* raw =
          response_.GetReflection()->MutableUnknownFields(&response_);
      for (std::string& bytes : delivered) {
        *raw->AddLengthDelimited(v1::SubscribeResponse::kEventsFieldNumber) = std::move(bytes);
      }
      Metrics::Global().Add("samplan_events_delivered_total", "",
                            static_cast<int64_t>(delivered.size()));
      write = write_in_flight_ = sent_any_ = true;
      last_sent_ = env_.clock.Now();
    }
    scheduled_ = false;
    if (!write && !finishing_ && (!queue_.empty() || !unattached_.empty())) {
      scheduled_ = schedule = true;
    }
    finish = TakeFinishLocked();
  }
  if (write) reactor_->StartWrite(&response_);
  if (schedule) env_.schedule(shared_from_this());
  if (finish) Finish();
}

void Subscriber::Tick(absl::Time now) {
  bool write = false;
  bool finish = false;
  {
    absl::MutexLock lock(&mu_);
    // The moment a new call with the token would be refused (its exp plus the
    // verifier's clock skew), not before: the stream and a new call agree.
    if (!finishing_ && principal_.accepted_until <= now) {
      finishing_ = true;
      final_ = ToGrpcStatus(absl::UnauthenticatedError(
                                "the token has expired; reconnect with a fresh token and the "
                                "last cursor"),
                            request_id_);
      finish_wanted_at_ = now;
      queue_.clear();
    }
    if (finishing_) {
      if (write_in_flight_ && !cancelled_ && now - finish_wanted_at_ > kStuckWriteGrace) {
        cancelled_ = true;
        context_->TryCancel();
      }
      finish = TakeFinishLocked();
    } else if (sent_any_ && !write_in_flight_ && !scheduled_ && queue_.empty() &&
               unattached_.empty() && now - last_sent_ >= heartbeat_) {
      response_.Clear();
      response_.set_cursor(cursor_.ToString());
      *response_.mutable_heartbeat()->mutable_time() = ToProto(now);
      write = write_in_flight_ = true;
      last_sent_ = now;
    }
  }
  if (write) reactor_->StartWrite(&response_);
  if (finish) Finish();
}

bool Subscriber::MayConcern(const StoredEvent& stored) {
  if (!stored.parsed || !MatchesEventTypes(subscription_.event_types, stored.event.type())) {
    return false;
  }
  if (std::optional<DeliveryForm> form = stored.Recall(reader_)) {
    return *form != DeliveryForm::kSkip;
  }
  const DeliveryQuestion question =
      AskDelivery(principal_, stored.event, subscription_.purpose);
  if (question.settled == DeliveryForm::kSkip ||
      (!question.settled.has_value() &&
       env_.gate.KnownRefused(principal_, question.request, stored.access_version,
                              kSubscribeAction, request_id_))) {
    stored.Remember(reader_, DeliveryForm::kSkip);
    return false;
  }
  return true;
}

void Subscriber::End(const absl::Status& status) {
  bool finish = false;
  {
    absl::MutexLock lock(&mu_);
    if (!finishing_) {
      finishing_ = true;
      final_ = ToGrpcStatus(status, request_id_);
      finish_wanted_at_ = env_.clock.Now();
      queue_.clear();
    }
    finish = TakeFinishLocked();
  }
  if (finish) Finish();
}

void Subscriber::WriteDone(bool ok) {
  bool schedule = false;
  bool finish = false;
  {
    absl::MutexLock lock(&mu_);
    write_in_flight_ = false;
    if (!ok && !finishing_) {
      // The client went away; there is no one to tell.
      finishing_ = true;
      final_ = ToGrpcStatus(absl::CancelledError("the client went away"), request_id_);
      queue_.clear();
    }
    if (!finishing_ && !scheduled_ && (!queue_.empty() || !unattached_.empty())) {
      scheduled_ = schedule = true;
    }
    finish = TakeFinishLocked();
  }
  if (schedule) env_.schedule(shared_from_this());
  if (finish) Finish();
}

void Subscriber::Done() {
  for (const std::string& municipality : attached_) {
    env_.hubs.Get(municipality).Detach(this);
  }
  env_.forget(this);
  Log(LogLevel::kInfo, "subscription ended",
      {{"request_id", request_id_},
       {"organization", principal_.organization},
       {"code", absl::StatusCodeToString(static_cast<absl::StatusCode>(final_.error_code()))}});
}

bool Subscriber::TakeFinishLocked() {
  if (!finishing_ || write_in_flight_ || scheduled_ || finish_called_ || reactor_ == nullptr) {
    return false;
  }
  finish_called_ = true;
  return true;
}

void Subscriber::Finish() { reactor_->Finish(final_); }

absl::Status Subscriber::AttachOrCatchUp(StreamReader& reader) {
  std::vector<std::string> unattached;
  {
    absl::MutexLock lock(&mu_);
    if (!queue_.empty()) return absl::OkStatus();  // deliver what is read first
    unattached = unattached_;
  }
  for (const std::string& municipality : unattached) {
    std::optional<StreamPosition> after;
    if (auto it = fetched_.find(municipality); it != fetched_.end()) after = it->second;
    if (after.has_value() && !range_checked_.contains(municipality)) {
      absl::StatusOr<StreamExtent> extent = reader.ReadExtent(municipality, after);
      if (!extent.ok()) return absl::UnavailableError("the event stream cannot be reached");
      if (absl::Status in_range =
              CheckCursorInRange(municipality, *after, *extent, env_.clock.Now(),
                                 env_.retention);
          !in_range.ok()) {
        return in_range;
      }
      range_checked_.insert(municipality);
    }
    StreamHub& hub = env_.hubs.Get(municipality);
    absl::StatusOr<StreamHub::Attachment> attachment =
        hub.Attach(shared_from_this(), after, absl::Seconds(5));
    if (!attachment.ok()) return attachment.status();
    if (attachment->attached) {
      absl::MutexLock lock(&mu_);
      if (!cursor_.Get(municipality).has_value()) cursor_.Set(municipality, attachment->position);
      unattached_.erase(std::find(unattached_.begin(), unattached_.end(), municipality));
      attached_.push_back(municipality);
      continue;
    }
    // Older than the hub holds: read on from the stream, one batch a round, so
    // that a long catch-up goes at the client's pace.
    absl::StatusOr<std::vector<StreamEntry>> entries =
        reader.ReadAfter(municipality, after, env_.max_batch);
    if (!entries.ok()) return absl::UnavailableError("the event stream cannot be reached");
    absl::MutexLock lock(&mu_);
    for (const StreamEntry& entry : *entries) {
      StoredEventPtr stored = ParseStoredEvent(municipality, entry);
      fetched_[municipality] = stored->position;
      queue_.push_back(std::move(stored));
    }
    if (entries->empty()) {
      // Caught up with the stream while the hub's memory starts later: cannot happen
      // unless the hub has not read yet; its next round closes the gap.
      fetched_[municipality] = attachment->oldest_held;
    }
    return absl::OkStatus();
  }
  return absl::OkStatus();
}

}  // namespace samplan::events
