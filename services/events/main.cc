// samplan-events: the event subscription service. Wiring only; the modes are
// common/service_main.h's (it publishes no events, so it runs no relay).
//
// Configuration comes from environment variables: docs/configuration.md. The
// identity schema must be migrated first: deliveries are decided and audited
// through its SQL functions.

#include "common/access.h"
#include "common/service_main.h"
#include "services/events/access_gate.h"
#include "services/events/event_service.h"
#include "services/events/stream_hub.h"

namespace {

using namespace samplan;

struct EventsConfig {
  events::EventServiceOptions service;
  size_t buffer = 10000;
  absl::Duration access_ttl = absl::Seconds(5);
};

class EventParts final : public ServingParts {
 public:
  EventParts(PgPool& pool, const CallHandler& calls, const EventsConfig& config)
      : gate_(pool, RealClock(), config.access_ttl),
        hubs_(config.service.redis, config.buffer,
              [this](const events::StoredEvent& stored) {
                if (events::ChangesAccess(stored.event)) gate_.ForgetPerson(stored.event.person());
              }),
        service_(hubs_, gate_, calls, config.service) {}
  std::vector<grpc::Service*> services() override { return {&service_}; }

 private:
  events::AccessGate gate_;
  events::StreamHubs hubs_;
  events::EventService service_;
};

}  // namespace

int main(int argc, char** argv) {
  static EventsConfig config;
  ServiceDefinition definition;
  definition.name = "events";
  definition.schema = "events";
  definition.publishes_events = false;
  definition.read_config = [](EnvReader& env) {
    const RedisConfig redis = ReadRedisConfig(env);
    config.service.redis.host = redis.host;
    config.service.redis.port = redis.port;
    config.service.retention = ReadRelayConfig(env).stream_retention;
    config.service.default_heartbeat = env.Duration(
        "SAMPLAN_EVENTS_HEARTBEAT_INTERVAL", absl::Seconds(15), absl::Seconds(1));
    config.service.queue_limit =
        static_cast<size_t>(env.Int("SAMPLAN_EVENTS_QUEUE_LIMIT", 10000, 100, 10000000));
    config.service.workers = env.Int("SAMPLAN_EVENTS_WORKERS", 2, 1, 64);
    config.buffer = static_cast<size_t>(env.Int("SAMPLAN_EVENTS_BUFFER", 10000, 100, 10000000));
    config.access_ttl =
        env.Duration("SAMPLAN_EVENTS_ACCESS_TTL", absl::Seconds(5), absl::Milliseconds(10));
  };
  definition.statements = [](const Outbox&) { return AccessStatements(); };
  definition.build = [](PgPool& pool, const Outbox&, const CallHandler& calls)
      -> absl::StatusOr<std::unique_ptr<ServingParts>> {
    return std::make_unique<EventParts>(pool, calls, config);
  };
  return ServiceMain(argc, argv, definition);
}
