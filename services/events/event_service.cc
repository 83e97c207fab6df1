#include "services/events/event_service.h"

#include <google/protobuf/unknown_field_set.h>
#include <google/protobuf/util/time_util.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/outbox.h"
#include "common/status.h"
#include "samplan/identity/v1/events.pb.h"

namespace samplan::events {
namespace {

using google::protobuf::util::TimeUtil;

constexpr char kSubscribeAction[] = "events.Subscribe";
constexpr char kListAction[] = "events.ListEvents";

// How long a subscription ended while a write is stuck may keep it before the call
// is cancelled: a client that stopped reading cannot even receive the status.
constexpr absl::Duration kStuckWriteGrace = absl::Seconds(30);

google::protobuf::Timestamp ToProto(absl::Time time) {
  return TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(time));
}

// The answer to a Subscribe call refused before it started.
class FinishedReactor final : public grpc::ServerWriteReactor<v1::SubscribeResponse> {
 public:
  void OnDone() override { delete this; }
};

// Returns what `principal` is shown of `stored`: nothing, the event, or a consent
// notice. Errors (the consent facts could not be read) stop the delivery there, so
// that a cursor never moves past an event that was not decided.
// Returns what a delivery decision depends on besides the event: the principal
// (organization, user, municipality, roles) and the purpose.
std::string ReaderOf(const Principal& principal, const Subscription& subscription) {
  return absl::StrCat(principal.organization, "\n", principal.user, "\n",
                      principal.municipality, "\n", absl::StrJoin(principal.roles, ","), "\n",
                      subscription.purpose);
}

// Returns how `stored` reaches `principal`, deciding (and auditing) it through the
// gate for a person's data.
absl::StatusOr<DeliveryForm> Decide(AccessGate& gate, const Principal& principal,
                                    const Subscription& subscription, const StoredEvent& stored,
                                    absl::string_view action, absl::string_view request_id) {
  const DeliveryQuestion question = AskDelivery(principal, stored.event, subscription.purpose);
  if (question.settled == DeliveryForm::kSkip) return DeliveryForm::kSkip;
  if (IsPersonalDataRead(question)) {
    absl::StatusOr<bool> may = gate.MayDeliver(principal, question.request,
                                               stored.access_version, action, request_id);
    if (!may.ok()) return may.status();
    if (!*may) return DeliveryForm::kSkip;
  }
  return question.settled.value_or(DeliveryForm::kEvent);
}

absl::StatusOr<std::optional<v1::DeliveredEvent>> Present(
    AccessGate& gate, const Principal& principal, const std::string& reader,
    const Subscription& subscription, const StoredEvent& stored, absl::string_view action,
    absl::string_view request_id, bool shared = false) {
  if (!stored.parsed || !MatchesEventTypes(subscription.event_types, stored.event.type())) {
    return std::nullopt;
  }
  std::optional<DeliveryForm> form = stored.Recall(reader);
  if (!form.has_value()) {
    absl::StatusOr<DeliveryForm> decided =
        Decide(gate, principal, subscription, stored, action, request_id);
    if (!decided.ok()) return decided.status();
    form = *decided;
    stored.Remember(reader, *form);
  }
  if (*form == DeliveryForm::kSkip) return std::nullopt;
  // The event as it is, for one municipality: StoredEvent::SharedDelivery, which
  // the caller takes when the answer has no position.
  if (shared && *form == DeliveryForm::kEvent) return v1::DeliveredEvent();
  v1::DeliveredEvent delivered;
  delivered.set_position(stored.position.ToString());
  if (*form == DeliveryForm::kConsentWithdrawn) {
    identity::v1::ConsentChanged consent;
    stored.event.payload().UnpackTo(&consent);
    v1::ConsentWithdrawn* notice = delivered.mutable_consent_withdrawn();
    notice->set_consent(consent.consent());
    notice->set_person(stored.event.person());
    *notice->mutable_data_categories() = consent.data_categories();
    *notice->mutable_withdraw_time() = consent.withdraw_time();
    notice->set_event_id(stored.event.event_id());
  } else {
    *delivered.mutable_event() = stored.event;
  }
  return delivered;
}

}  // namespace

// One open Subscribe call. Its state is shared by the hubs (which queue entries),
// the delivery workers (which decide and write them), the ticker (heartbeats,
// token expiry) and gRPC (write completions, cancellation); the reactor is gRPC's
// handle on it and lives until OnDone.
class Subscriber final : public StreamListener,
                         public std::enable_shared_from_this<Subscriber> {
 public:
  Subscriber(EventService& service, grpc::CallbackServerContext* context, Principal principal,
             Subscription subscription, std::string request_id, absl::Duration heartbeat)
      : service_(service), context_(context), principal_(std::move(principal)),
        subscription_(std::move(subscription)), reader_(ReaderOf(principal_, subscription_)),
        request_id_(std::move(request_id)),
        heartbeat_(heartbeat), cursor_(subscription_.cursor),
        unattached_(subscription_.municipalities) {
    for (const std::string& m : subscription_.municipalities) {
      if (std::optional<StreamPosition> after = cursor_.Get(m)) fetched_[m] = *after;
    }
  }

  class Reactor final : public grpc::ServerWriteReactor<v1::SubscribeResponse> {
   public:
    explicit Reactor(std::shared_ptr<Subscriber> subscriber)
        : subscriber_(std::move(subscriber)) {}
    void OnWriteDone(bool ok) override { subscriber_->WriteDone(ok); }
    void OnCancel() override {
      subscriber_->End(absl::CancelledError("the client cancelled the call"));
    }
    void OnDone() override {
      subscriber_->Done();
      delete this;
    }

   private:
    std::shared_ptr<Subscriber> subscriber_;
  };

  void set_reactor(Reactor* reactor) {
    absl::MutexLock lock(&mu_);
    reactor_ = reactor;
  }

  // StreamListener: called on a hub's thread with the hub locked.
  void OnEvents(const std::vector<StoredEventPtr>& events) override {
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
      if (queue_.size() > service_.options_.queue_limit) {
        queue_.clear();
        Metrics::Global().Add("samplan_events_subscribers_cut_off_total", "");
        finishing_ = true;
        final_ = ToGrpcStatus(
            absl::ResourceExhaustedError(absl::StrCat(
                "the subscriber did not keep up: more than ", service_.options_.queue_limit,
                " events waited for it; reconnect with the last cursor you processed")),
            request_id_);
        finish_wanted_at_ = service_.clock_.Now();
        finish = TakeFinishLocked();
      } else if (!scheduled_ && !write_in_flight_) {
        scheduled_ = schedule = true;
      }
    }
    if (schedule) service_.Schedule(shared_from_this());
    if (finish) reactor_->Finish(final_);
  }

  // Runs on a delivery worker: attaches to the hubs (catching up from Redis first
  // when the cursor is older than they hold), then decides and writes one batch.
  void Work(RedisClient& redis) {
    {
      absl::MutexLock lock(&mu_);
      if (finishing_) {
        scheduled_ = false;
        if (TakeFinishLocked()) Finish();
        return;
      }
    }
    if (absl::Status attached = AttachOrCatchUp(redis); !attached.ok()) {
      End(attached);
      {
        absl::MutexLock lock(&mu_);
        scheduled_ = false;
        if (!TakeFinishLocked()) return;
      }
      Finish();
      return;
    }

    std::vector<StoredEventPtr> batch;
    {
      absl::MutexLock lock(&mu_);
      const size_t n = std::min<size_t>(queue_.size(), service_.options_.max_batch);
      batch.assign(queue_.begin(), queue_.begin() + n);
      queue_.erase(queue_.begin(), queue_.begin() + n);
    }
    // Each delivery serialized: for a subscription of one municipality the
    // event's own serialization, made once and shared by every subscription it
    // goes to (the message is then written without copying the event into it).
    std::vector<std::string> delivered;
    const StoredEvent* oldest = nullptr;
    Cursor cursor;
    absl::Status failure;
    {
      absl::MutexLock lock(&mu_);
      cursor = cursor_;
    }
    for (const StoredEventPtr& stored : batch) {
      std::optional<StreamPosition> seen = cursor.Get(stored->municipality);
      if (seen.has_value() && stored->position <= *seen) continue;  // already passed
      absl::StatusOr<std::optional<v1::DeliveredEvent>> shown =
          Present(service_.gate_, principal_, reader_, subscription_, *stored,
                  kSubscribeAction, request_id_,
                  /*shared=*/subscription_.municipalities.size() == 1);
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
        finish_wanted_at_ = service_.clock_.Now();
        queue_.clear();
      }
      // No write is in flight while a worker holds the subscription.
      if (!finishing_ && (!delivered.empty() || !sent_any_)) {
        response_.Clear();
        response_.set_cursor(cursor_.ToString());
        if (delivered.empty()) {
          // The first message tells the client where it stands and that it is live.
          *response_.mutable_heartbeat()->mutable_time() = ToProto(service_.clock_.Now());
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
        last_sent_ = service_.clock_.Now();
      }
      scheduled_ = false;
      if (!write && !finishing_ && (!queue_.empty() || !unattached_.empty())) {
        scheduled_ = schedule = true;
      }
      finish = TakeFinishLocked();
    }
    if (write) reactor_->StartWrite(&response_);
    if (schedule) service_.Schedule(shared_from_this());
    if (finish) Finish();
  }

  // Runs on the ticker: heartbeats, an expired token, a stuck write.
  void Tick(absl::Time now) {
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

  // Returns whether `stored` may be shown to this subscription, as far as is known
  // without waiting: false only when it certainly is not (its type, or a decision
  // already made for the reader, or facts at hand refuse it).
  bool MayConcern(const StoredEvent& stored) {
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
         service_.gate_.KnownRefused(principal_, question.request, stored.access_version,
                                     kSubscribeAction, request_id_))) {
      stored.Remember(reader_, DeliveryForm::kSkip);
      return false;
    }
    return true;
  }

  // Ends the call with `status` once no write is in flight.
  // Ends the call with `status` (converted by the one mapping, with the call's
  // request id) once no write is in flight.
  void End(const absl::Status& status) {
    bool finish = false;
    {
      absl::MutexLock lock(&mu_);
      if (!finishing_) {
        finishing_ = true;
        final_ = ToGrpcStatus(status, request_id_);
        finish_wanted_at_ = service_.clock_.Now();
        queue_.clear();
      }
      finish = TakeFinishLocked();
    }
    if (finish) Finish();
  }

 private:
  void WriteDone(bool ok) {
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
    if (schedule) service_.Schedule(shared_from_this());
    if (finish) Finish();
  }

  void Done() {
    for (const std::string& municipality : attached_) {
      service_.hubs_.Get(municipality).Detach(this);
    }
    service_.Forget(this);
    Log(LogLevel::kInfo, "subscription ended",
        {{"request_id", request_id_},
         {"organization", principal_.organization},
         {"code", absl::StatusCodeToString(static_cast<absl::StatusCode>(final_.error_code()))}});
  }

  // Returns whether the caller is now the one to call Finish: the call is ending,
  // no write is in flight, no worker holds it, and no one has finished it yet.
  bool TakeFinishLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (!finishing_ || write_in_flight_ || scheduled_ || finish_called_ || reactor_ == nullptr) {
      return false;
    }
    finish_called_ = true;
    return true;
  }

  void Finish() { reactor_->Finish(final_); }

  // Attaches every municipality not yet attached; for one whose cursor is older
  // than its hub holds, reads the next batch from Redis into the queue instead.
  absl::Status AttachOrCatchUp(RedisClient& redis) {
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
        absl::StatusOr<StreamExtent> extent = ReadStreamExtent(redis, municipality, after);
        if (!extent.ok()) return absl::UnavailableError("the event stream cannot be reached");
        if (absl::Status in_range =
                CheckCursorInRange(municipality, *after, *extent, service_.clock_.Now(),
                                   service_.options_.retention);
            !in_range.ok()) {
          return in_range;
        }
        range_checked_.insert(municipality);
      }
      StreamHub& hub = service_.hubs_.Get(municipality);
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
      // Older than the hub holds: read on from Redis, one batch a round, so that a
      // long catch-up goes at the client's pace.
      absl::StatusOr<RedisReply> reply =
          redis.Command({"XRANGE", EventStreamKey(municipality),
                         absl::StrCat("(", after->ToString()), "+", "COUNT",
                         absl::StrCat(service_.options_.max_batch)});
      if (!reply.ok() || reply->is_error()) {
        return absl::UnavailableError("the event stream cannot be reached");
      }
      std::vector<StreamEntry> entries = ParseStreamEntries(*reply);
      absl::MutexLock lock(&mu_);
      for (const StreamEntry& entry : entries) {
        StoredEventPtr stored = ParseStoredEvent(municipality, entry);
        fetched_[municipality] = stored->position;
        queue_.push_back(std::move(stored));
      }
      if (entries.empty()) {
        // Caught up with Redis while the hub's memory starts later: cannot happen
        // unless the hub has not read yet; its next round closes the gap.
        fetched_[municipality] = attachment->oldest_held;
      }
      return absl::OkStatus();
    }
    return absl::OkStatus();
  }

  EventService& service_;
  grpc::CallbackServerContext* const context_;
  const Principal principal_;
  const Subscription subscription_;
  // Who decides what it sees: subscriptions with the same reader share decisions.
  const std::string reader_;
  const std::string request_id_;
  const absl::Duration heartbeat_;

  // Only the worker that holds the subscription (scheduled_) touches these.
  absl::flat_hash_map<std::string, StreamPosition> fetched_;
  absl::flat_hash_set<std::string> range_checked_;
  std::vector<std::string> attached_;

  absl::Mutex mu_;
  // Set before the subscription is first scheduled and never changed after, so
  // it is read without the lock; gRPC keeps it alive until OnDone, which comes
  // only after Finish.
  Reactor* reactor_ = nullptr;
  std::deque<StoredEventPtr> queue_ ABSL_GUARDED_BY(mu_);
  Cursor cursor_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> unattached_ ABSL_GUARDED_BY(mu_);
  // Whether a worker holds it or it waits for one; one at a time. It starts
  // scheduled: Subscribe hands it to a worker for its first round.
  bool scheduled_ ABSL_GUARDED_BY(mu_) = true;
  bool write_in_flight_ ABSL_GUARDED_BY(mu_) = false;
  bool sent_any_ ABSL_GUARDED_BY(mu_) = false;
  bool finishing_ ABSL_GUARDED_BY(mu_) = false;
  bool finish_called_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status final_ ABSL_GUARDED_BY(mu_);
  absl::Time finish_wanted_at_ ABSL_GUARDED_BY(mu_);
  absl::Time last_sent_ ABSL_GUARDED_BY(mu_);
  v1::SubscribeResponse response_;
};

EventService::EventService(StreamHubs& hubs, AccessGate& gate, const CallHandler& calls,
                           EventServiceOptions options, const Clock& clock)
    : hubs_(hubs), gate_(gate), calls_(calls), options_(std::move(options)), clock_(clock) {
  Metrics& metrics = Metrics::Global();
  metrics.Describe("samplan_events_subscribers", "gauge", "Open Subscribe calls.");
  metrics.Describe("samplan_events_delivered_total", "counter",
                   "Events written to subscribers.");
  metrics.Describe("samplan_events_subscribers_cut_off_total", "counter",
                   "Subscriptions ended with RESOURCE_EXHAUSTED for not keeping up.");
  metrics.Describe("samplan_events_delivery_lag_seconds", "histogram",
                   "From an event's commit to its write to a subscriber.");
  for (int i = 0; i < std::max(1, options_.workers); ++i) {
    workers_.emplace_back([this] { WorkerLoop(); });
  }
  ticker_ = std::thread([this] { TickLoop(); });
}

EventService::~EventService() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  stopped_.Notify();
  for (std::thread& worker : workers_) worker.join();
  ticker_.join();
}

grpc::ServerWriteReactor<v1::SubscribeResponse>* EventService::Subscribe(
    grpc::CallbackServerContext* context, const v1::SubscribeRequest* request) {
  std::shared_ptr<Subscriber> subscriber;
  grpc::Status status = calls_.Handle(context, "Subscribe", *request, [&](const CallContext& call) {
    absl::Duration heartbeat = options_.default_heartbeat;
    if (request->has_heartbeat_interval()) {
      heartbeat = absl::Seconds(request->heartbeat_interval().seconds()) +
                  absl::Nanoseconds(request->heartbeat_interval().nanos());
      if (heartbeat < absl::Seconds(1) || heartbeat > absl::Minutes(5)) {
        return InvalidField("heartbeat_interval", "must be from 1 second to 5 minutes");
      }
    }
    absl::StatusOr<Subscription> subscription = ValidateSubscription(
        call.principal, {request->municipalities().begin(), request->municipalities().end()},
        {request->event_types().begin(), request->event_types().end()}, request->cursor(),
        "cursor", request->purpose());
    if (!subscription.ok()) return subscription.status();
    {
      absl::MutexLock lock(&mu_);
      if (refusing_) {
        return absl::UnavailableError("the server is stopping; reconnect with the last cursor");
      }
    }
    subscriber = std::make_shared<Subscriber>(*this, context, call.principal,
                                              *std::move(subscription), call.request_id,
                                              heartbeat);
    return absl::OkStatus();
  });
  if (!status.ok()) {
    auto* reactor = new FinishedReactor();
    reactor->Finish(status);
    return reactor;
  }
  auto* reactor = new Subscriber::Reactor(subscriber);
  subscriber->set_reactor(reactor);
  {
    absl::MutexLock lock(&mu_);
    subscribers_.push_back(subscriber);
    Metrics::Global().Set("samplan_events_subscribers", static_cast<double>(subscribers_.size()));
  }
  // The first round attaches it to its hubs and sends where it stands.
  Schedule(subscriber);
  return reactor;
}

grpc::Status EventService::ListEvents(grpc::ServerContext* context,
                                      const v1::ListEventsRequest* request,
                                      v1::ListEventsResponse* response) {
  return calls_.Handle(context, "ListEvents", *request, [&](const CallContext& call) -> absl::Status {
    absl::StatusOr<Subscription> subscription = ValidateSubscription(
        call.principal, {request->municipalities().begin(), request->municipalities().end()},
        {request->event_types().begin(), request->event_types().end()}, request->page_token(),
        "page_token", request->purpose());
    if (!subscription.ok()) return subscription.status();
    if (request->page_size() < 0 || request->page_size() > 1000) {
      return InvalidField("page_size", "must be from 1 to 1000 (0 means 100)");
    }
    const int page_size = request->page_size() == 0 ? 100 : request->page_size();
    // A page scans at most this many entries, so that a caller who may see little
    // of a busy stream still gets an answer (with a cursor further on) promptly.
    const int scan_limit = std::max(page_size * 10, 1000);
    RedisClient redis(options_.redis);
    Cursor cursor = subscription->cursor;
    int scanned = 0;
    for (const std::string& municipality : subscription->municipalities) {
      std::optional<StreamPosition> after = cursor.Get(municipality);
      absl::StatusOr<StreamExtent> extent = ReadStreamExtent(redis, municipality, after);
      if (!extent.ok()) return absl::UnavailableError("the event stream cannot be reached");
      if (after.has_value()) {
        if (absl::Status in_range = CheckCursorInRange(municipality, *after, *extent, call.now,
                                                       options_.retention);
            !in_range.ok()) {
          return in_range;
        }
      }
      bool more = true;
      while (more && response->events_size() < page_size && scanned < scan_limit) {
        absl::StatusOr<RedisReply> reply = redis.Command(
            {"XRANGE", EventStreamKey(municipality),
             after.has_value() ? absl::StrCat("(", after->ToString()) : "-", "+", "COUNT",
             absl::StrCat(std::min(page_size - response->events_size(), scan_limit - scanned))});
        if (!reply.ok() || reply->is_error()) {
          return absl::UnavailableError("the event stream cannot be reached");
        }
        std::vector<StreamEntry> entries = ParseStreamEntries(*reply);
        more = !entries.empty();
        for (const StreamEntry& entry : entries) {
          StoredEventPtr stored = ParseStoredEvent(municipality, entry);
          absl::StatusOr<std::optional<v1::DeliveredEvent>> shown =
              Present(gate_, call.principal, ReaderOf(call.principal, *subscription), *subscription,
                      *stored, kListAction, call.request_id);
          if (!shown.ok()) return shown.status();
          ++scanned;
          after = stored->position;
          cursor.Set(municipality, stored->position);
          if (shown->has_value()) {
            (*shown)->set_cursor(cursor.ToString());
            *response->add_events() = **std::move(shown);
          }
        }
      }
      // A caller at the end of an empty stream still gets a cursor to poll with.
      if (!cursor.Get(municipality).has_value()) cursor.Set(municipality, extent->last_generated);
    }
    response->set_next_page_token(cursor.ToString());
    return absl::OkStatus();
  });
}

void EventService::EndAll() {
  std::vector<std::shared_ptr<Subscriber>> subscribers;
  {
    absl::MutexLock lock(&mu_);
    refusing_ = true;
    subscribers = subscribers_;
  }
  for (const std::shared_ptr<Subscriber>& subscriber : subscribers) {
    subscriber->End(
        absl::UnavailableError("the server is stopping; reconnect with the last cursor"));
  }
}

int EventService::SubscriberCount() {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(subscribers_.size());
}

void EventService::Schedule(std::shared_ptr<Subscriber> subscriber) {
  absl::MutexLock lock(&mu_);
  ready_.push_back(std::move(subscriber));
}

void EventService::WorkerLoop() {
  RedisClient redis(options_.redis);
  while (true) {
    std::shared_ptr<Subscriber> subscriber;
    {
      absl::MutexLock lock(&mu_);
      auto has_work = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_ || !ready_.empty();
      };
      mu_.Await(absl::Condition(&has_work));
      if (stopping_) return;
      subscriber = std::move(ready_.front());
      ready_.pop_front();
    }
    subscriber->Work(redis);
  }
}

void EventService::TickLoop() {
  while (!stopped_.WaitForNotificationWithTimeout(absl::Milliseconds(100))) {
    std::vector<std::shared_ptr<Subscriber>> subscribers;
    {
      absl::MutexLock lock(&mu_);
      subscribers = subscribers_;
    }
    const absl::Time now = clock_.Now();
    for (const std::shared_ptr<Subscriber>& subscriber : subscribers) subscriber->Tick(now);
  }
}

void EventService::Forget(Subscriber* subscriber) {
  absl::MutexLock lock(&mu_);
  subscribers_.erase(std::remove_if(subscribers_.begin(), subscribers_.end(),
                                    [&](const auto& s) { return s.get() == subscriber; }),
                     subscribers_.end());
  Metrics::Global().Set("samplan_events_subscribers", static_cast<double>(subscribers_.size()));
}

EventServiceStack::EventServiceStack(PgPool& pool, const CallHandler& calls,
                                     EventServiceOptions options, const Clock& clock)
    : gate_(pool, clock, options.access_ttl),
      hubs_(options.redis, options.hub_buffer,
            [this](const StoredEvent& stored) {
              if (ChangesAccess(stored.event)) gate_.ForgetPerson(stored.event.person());
            }),
      service_(hubs_, gate_, calls, std::move(options), clock) {}

}  // namespace samplan::events
