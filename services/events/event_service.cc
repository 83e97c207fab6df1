#include "services/events/event_service.h"

#include <algorithm>

#include "common/metrics.h"
#include "common/paging.h"
#include "common/status.h"
#include "services/events/delivery.h"
#include "services/events/redis_stream_reader.h"

namespace samplan::events {
namespace {

constexpr char kListAction[] = "events.ListEvents";

// ListEvents pages: 100 events unless asked, at most 1000.
constexpr PageSizeRule kListPageSize = {100, 1000};

// The answer to a Subscribe call refused before it started.
class FinishedReactor final : public grpc::ServerWriteReactor<v1::SubscribeResponse> {
 public:
  void OnDone() override { delete this; }
};

}  // namespace

EventService::EventService(StreamHubs& hubs, DeliveryGate& gate, StreamReaderFactory readers,
                           const CallHandler& calls, EventServiceOptions options,
                           const Clock& clock)
    : gate_(gate), readers_(std::move(readers)), calls_(calls), options_(std::move(options)),
      clock_(clock),
      subscribers_env_{hubs,
                       gate,
                       clock,
                       options_.retention,
                       options_.queue_limit,
                       options_.max_batch,
                       [this](std::shared_ptr<Subscriber> s) { Schedule(std::move(s)); },
                       [this](const Subscriber* s) { Forget(s); }} {
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
      // The place is taken here, under the lock, so that subscriptions opened at
      // once cannot pass the cap together; Forget gives it back.
      int& open = open_by_organization_[call.principal.organization];
      if (open >= options_.max_subscriptions_per_organization) {
        return absl::ResourceExhaustedError(absl::StrCat(
            "this organization has ", open, " subscriptions open, the most allowed; close one, "
            "or follow several municipalities and event types with one subscription"));
      }
      ++open;
    }
    subscriber = std::make_shared<Subscriber>(subscribers_env_, context, call.principal,
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
    // Sizes by the common rule; the page token is not a common one, though: it
    // is the public event cursor, which a client may equally pass to Subscribe.
    absl::StatusOr<int> page_size_or = PageSizeOf(request->page_size(), kListPageSize);
    if (!page_size_or.ok()) return page_size_or.status();
    const int page_size = *page_size_or;
    // A page scans at most this many entries, so that a caller who may see little
    // of a busy stream still gets an answer (with a cursor further on) promptly.
    const int scan_limit = std::max(page_size * 10, 1000);
    std::unique_ptr<StreamReader> reader = readers_();
    Cursor cursor = subscription->cursor;
    int scanned = 0;
    for (const std::string& municipality : subscription->municipalities) {
      std::optional<StreamPosition> after = cursor.Get(municipality);
      absl::StatusOr<StreamExtent> extent = reader->ReadExtent(municipality, after);
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
        absl::StatusOr<std::vector<StreamEntry>> entries = reader->ReadAfter(
            municipality, after, std::min(page_size - response->events_size(), scan_limit - scanned));
        if (!entries.ok()) return absl::UnavailableError("the event stream cannot be reached");
        more = !entries->empty();
        for (const StreamEntry& entry : *entries) {
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
  const std::unique_ptr<StreamReader> reader = readers_();
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
    subscriber->Work(*reader);
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

void EventService::Forget(const Subscriber* subscriber) {
  absl::MutexLock lock(&mu_);
  subscribers_.erase(std::remove_if(subscribers_.begin(), subscribers_.end(),
                                    [&](const auto& s) { return s.get() == subscriber; }),
                     subscribers_.end());
  if (auto open = open_by_organization_.find(subscriber->organization());
      open != open_by_organization_.end() && --open->second <= 0) {
    open_by_organization_.erase(open);
  }
  Metrics::Global().Set("samplan_events_subscribers", static_cast<double>(subscribers_.size()));
}

EventServiceStack::EventServiceStack(PgPool& pool, const CallHandler& calls,
                                     EventServiceOptions options, const Clock& clock)
    : gate_(pool, clock, options.access_ttl),
      readers_(RedisStreamReader::Factory(options.redis, options.stream_keys)),
      hubs_(readers_, options.hub_buffer,
            [this](const StoredEvent& stored) {
              if (ChangesAccess(stored.event)) gate_.ForgetPerson(stored.event.person());
            }),
      service_(hubs_, gate_, readers_, calls, std::move(options), clock) {}

}  // namespace samplan::events
