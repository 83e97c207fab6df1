// samplan-events: the event subscription service. Wiring only; the modes are
// common/service_main.h's (it publishes no events, so it runs no relay).
//
// Configuration comes from environment variables: docs/configuration.md. The
// identity schema must be migrated first: deliveries are decided and audited
// through its SQL functions.

#include "common/access.h"
#include "common/service_main.h"
#include "common/stream_mac.h"
#include "services/events/event_service.h"

namespace {

using namespace samplan;

class EventParts final : public ServingParts {
 public:
  EventParts(PgPool& pool, const CallHandler& calls, const events::EventServiceOptions& options)
      : stack_(pool, calls, options) {}
  std::vector<grpc::Service*> services() override { return {&stack_.service()}; }
  void Stopping() override { stack_.service().EndAll(); }

 private:
  events::EventServiceStack stack_;
};

}  // namespace

int main(int argc, char** argv) {
  static events::EventServiceOptions config;
  ServiceDefinition definition;
  definition.name = "events";
  definition.schema = "events";
  definition.publishes_events = false;
  definition.read_config = [](EnvReader& env) {
    const RedisConfig redis = ReadRedisConfig(env);
    config.redis = redis.Options();
    config.stream_keys = ReadStreamKeys(env);
    config.retention = ReadRelayConfig(env).stream_retention;
    config.default_heartbeat = env.Duration(
        "SAMPLAN_EVENTS_HEARTBEAT_INTERVAL", absl::Seconds(15), absl::Seconds(1));
    config.queue_limit =
        static_cast<size_t>(env.Int("SAMPLAN_EVENTS_QUEUE_LIMIT", 10000, 100, 10000000));
    config.workers = env.Int("SAMPLAN_EVENTS_WORKERS", 4, 1, 64);
    config.hub_buffer = static_cast<size_t>(env.Int("SAMPLAN_EVENTS_BUFFER", 10000, 100, 10000000));
    config.access_ttl =
        env.Duration("SAMPLAN_EVENTS_ACCESS_TTL", absl::Seconds(5), absl::Milliseconds(10));
    config.max_subscriptions_per_organization =
        env.Int("SAMPLAN_EVENTS_MAX_SUBSCRIPTIONS_PER_ORGANIZATION", 100, 1, 100000);
  };
  definition.statements = [](const Outbox&) { return AccessStatements(); };
  definition.build = [](PgPool& pool, const Outbox&, const CallHandler& calls)
      -> absl::StatusOr<std::unique_ptr<ServingParts>> {
    return std::make_unique<EventParts>(pool, calls, config);
  };
  return ServiceMain(argc, argv, definition);
}
