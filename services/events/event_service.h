#ifndef SAMPLAN_SERVICES_EVENTS_EVENT_SERVICE_H_
#define SAMPLAN_SERVICES_EVENTS_EVENT_SERVICE_H_

// samplan.events.v1.EventService: partner systems follow a municipality's changes
// live (Subscribe) or by pages (ListEvents), each event decided for the caller by
// the person's consent at the moment it is delivered.
//
// How a subscription runs: its municipalities' StreamHubs hand every new entry to
// the subscription's bounded queue; a small pool of delivery workers takes a
// subscription's queued entries, decides each through the AccessGate, and writes
// what the caller may see as one message. One write is in flight per subscription;
// entries that arrive meanwhile go into the next message, so a busy stream costs
// fewer, larger writes rather than more. A subscription whose queue passes its limit
// is ended with RESOURCE_EXHAUSTED: the hub never waits for a slow client. The
// subscription itself is subscriber.h's; the streams are read only through a
// StreamReader (stream_reader.h), in Redis by redis_stream_reader.h.

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "common/call.h"
#include "common/clock.h"
#include "common/redis.h"
#include "common/stream_mac.h"
#include "samplan/events/v1/event_service.grpc.pb.h"
#include "services/events/access_gate.h"
#include "services/events/stream_hub.h"
#include "services/events/stream_reader.h"
#include "services/events/subscriber.h"

namespace samplan::events {

struct EventServiceOptions {
  // Where the streams are (EventServiceStack reads them there).
  RedisOptions redis;
  // The keys whose MACs make a stream entry authentic (common/stream_mac.h); the
  // binary sets SAMPLAN_STREAM_KEYS.
  StreamKeys stream_keys = StreamKeys::ProcessLocal();
  // How long events stay on the streams (the relay trims older ones).
  absl::Duration retention = absl::Hours(24 * 7);
  // The silence after which a subscriber gets a heartbeat, unless it asks for
  // another (within [1 s, 5 min]).
  absl::Duration default_heartbeat = absl::Seconds(15);
  // Entries a subscription may have waiting before it is cut off.
  size_t queue_limit = 10000;
  // Threads that decide and write deliveries.
  int workers = 4;
  // At most this many events in one message.
  int max_batch = 500;
  // Newest entries each hub keeps in memory for resuming subscribers.
  size_t hub_buffer = 10000;
  // How long consent facts are used before they are read again (a consent change
  // on the stream forgets them at once; this bounds an expiry by time).
  absl::Duration access_ttl = absl::Seconds(5);
  // Subscriptions one organization may have open at once (on this process):
  // beyond it Subscribe answers RESOURCE_EXHAUSTED, so that one partner cannot
  // hold the delivery capacity every organization shares.
  int max_subscriptions_per_organization = 100;
};

class EventService final
    : public v1::EventService::WithCallbackMethod_Subscribe<v1::EventService::Service> {
 public:
  // `hubs`, `gate`, `calls` and `clock` must outlive the service. The delivery
  // workers and ListEvents read the streams through readers from `readers` (one a
  // worker, one a ListEvents call); `options.redis` is not used here.
  EventService(StreamHubs& hubs, DeliveryGate& gate, StreamReaderFactory readers,
               const CallHandler& calls, EventServiceOptions options,
               const Clock& clock = RealClock());
  ~EventService() override;

  grpc::ServerWriteReactor<v1::SubscribeResponse>* Subscribe(
      grpc::CallbackServerContext* context, const v1::SubscribeRequest* request) override;

  grpc::Status ListEvents(grpc::ServerContext* context, const v1::ListEventsRequest* request,
                          v1::ListEventsResponse* response) override;

  // Returns how many subscriptions are open.
  int SubscriberCount();

  // Ends every subscription with UNAVAILABLE (the server is stopping; reconnect
  // with the last cursor) and refuses new ones the same way.
  void EndAll();

 private:
  void Schedule(std::shared_ptr<Subscriber> subscriber);
  void WorkerLoop();
  void TickLoop();
  void Forget(const Subscriber* subscriber);

  DeliveryGate& gate_;
  const StreamReaderFactory readers_;
  const CallHandler& calls_;
  const EventServiceOptions options_;
  const Clock& clock_;
  // What every subscriber of this service stands on.
  const SubscriberEnvironment subscribers_env_;

  absl::Mutex mu_;
  std::deque<std::shared_ptr<Subscriber>> ready_ ABSL_GUARDED_BY(mu_);
  std::vector<std::shared_ptr<Subscriber>> subscribers_ ABSL_GUARDED_BY(mu_);
  // Open subscriptions (and those being opened) by organization, for the cap.
  absl::flat_hash_map<std::string, int> open_by_organization_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool refusing_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> workers_;
  absl::Notification stopped_;
  std::thread ticker_;
};

// The service with what it stands on — the access gate and the hubs, whose
// consent events make the gate forget — wired as the binary wires it.
class EventServiceStack {
 public:
  // `pool` prepares AccessStatements(); it, `calls` and `clock` must outlive this.
  EventServiceStack(PgPool& pool, const CallHandler& calls, EventServiceOptions options,
                    const Clock& clock = RealClock());

  EventService& service() { return service_; }

 private:
  AccessGate gate_;
  // Readers of the streams in Redis, for the hubs and the service.
  const StreamReaderFactory readers_;
  StreamHubs hubs_;
  EventService service_;
};

}  // namespace samplan::events

#endif  // SAMPLAN_SERVICES_EVENTS_EVENT_SERVICE_H_
