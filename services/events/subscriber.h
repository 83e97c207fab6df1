#ifndef SAMPLAN_SERVICES_EVENTS_SUBSCRIBER_H_
#define SAMPLAN_SERVICES_EVENTS_SUBSCRIBER_H_

// One open Subscribe call: attaching to its municipalities' hubs (catching up
// from the stream first when its cursor is older than they hold), batching what
// they hand it into messages, heartbeats, the token's expiry, and how the call
// ends.
//
// Its state is shared by the hubs (which queue entries), the delivery workers
// (which decide and write them), the ticker (heartbeats, token expiry) and gRPC
// (write completions, cancellation); the reactor is gRPC's handle on it and lives
// until OnDone. One worker at a time holds it (it is "scheduled"), and one write
// at a time is in flight: entries that arrive meanwhile go into the next message.

#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/auth.h"
#include "common/clock.h"
#include "samplan/events/v1/event_service.pb.h"
#include "services/events/access_gate.h"
#include "services/events/delivery_rules.h"
#include "services/events/stream_hub.h"
#include "services/events/stream_reader.h"

namespace samplan::events {

class Subscriber;

// What the subscribers of one service share; it outlives them all.
struct SubscriberEnvironment {
  StreamHubs& hubs;
  DeliveryGate& gate;
  const Clock& clock;
  // How long events stay on the streams: an older cursor is refused.
  absl::Duration retention;
  // Entries a subscription may have waiting before it is cut off.
  size_t queue_limit;
  // At most this many events in one message (and entries in one catch-up read).
  int max_batch;
  // Hands a subscriber to a delivery worker, which calls its Work.
  std::function<void(std::shared_ptr<Subscriber>)> schedule;
  // Lets go of a subscriber whose call is done.
  std::function<void(const Subscriber*)> forget;
};

class Subscriber final : public StreamListener, public std::enable_shared_from_this<Subscriber> {
 public:
  // gRPC's handle on the subscriber: write completions, cancellation, the end.
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

  // `env` and `context` must outlive the subscriber. It starts scheduled: whoever
  // makes it hands it to a worker for its first round once its reactor is set.
  Subscriber(const SubscriberEnvironment& env, grpc::CallbackServerContext* context,
             Principal principal, Subscription subscription, std::string request_id,
             absl::Duration heartbeat);

  // Sets the reactor, before the subscriber is first scheduled.
  void set_reactor(Reactor* reactor);

  // The subscribing organization.
  const std::string& organization() const { return principal_.organization; }

  // StreamListener: called on a hub's thread with the hub locked; queues.
  void OnEvents(const std::vector<StoredEventPtr>& events) override;

  // Runs on a delivery worker, reading the stream through `reader`: attaches to the
  // hubs (catching up from the stream first when the cursor is older than they
  // hold), then decides and writes one batch.
  void Work(StreamReader& reader);

  // Runs on the ticker: heartbeats, an expired token, a stuck write.
  void Tick(absl::Time now);

  // Ends the call with `status` (converted by the one mapping, with the call's
  // request id) once no write is in flight.
  void End(const absl::Status& status);

 private:
  // Returns whether `stored` may be shown to this subscription, as far as is known
  // without waiting: false only when it certainly is not (its type, or a decision
  // already made for the reader, or facts at hand refuse it).
  bool MayConcern(const StoredEvent& stored);
  void WriteDone(bool ok);
  void Done();
  // Returns whether the caller is now the one to call Finish: the call is ending,
  // no write is in flight, no worker holds it, and no one has finished it yet.
  bool TakeFinishLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Finish();
  // Attaches every municipality not yet attached; for one whose cursor is older
  // than its hub holds, reads the next batch from the stream into the queue instead.
  absl::Status AttachOrCatchUp(StreamReader& reader);

  const SubscriberEnvironment& env_;
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

}  // namespace samplan::events

#endif  // SAMPLAN_SERVICES_EVENTS_SUBSCRIBER_H_
