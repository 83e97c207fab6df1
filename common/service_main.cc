#include "common/service_main.h"

#include <cstdio>
#include <cstring>

#include "absl/synchronization/mutex.h"
#include "common/auth.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/relay.h"
#include "common/server.h"
#include "common/stream_mac.h"

namespace samplan {
namespace {

int Fail(const absl::Status& status) {
  Log(LogLevel::kError, "cannot start", {{"error", status.ToString()}});
  return 1;
}

}  // namespace

int ServiceMain(int argc, char** argv, const ServiceDefinition& definition) {
  BlockTerminationSignals();
  // Abseil's lock-order checking (on in this build) costs every lock a graph
  // lookup; the tests keep it on, where it finds lock cycles before production.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  const bool migrate_only = argc > 1 && std::strcmp(argv[1], "--migrate-only") == 0;
  const bool relay_only = argc > 1 && std::strcmp(argv[1], "--relay-only") == 0;
  if (argc > 1 && !migrate_only && !relay_only) {
    std::fprintf(stderr, "usage: %s [--migrate-only | --relay-only]\n", argv[0]);
    return 2;
  }

  EnvReader env = EnvReader::FromProcessEnvironment();
  LogLevel log_level = LogLevel::kInfo;
  const std::string level_text = env.String("SAMPLAN_LOG_LEVEL", "info");
  if (!ParseLogLevel(level_text, &log_level)) {
    env.AddProblem("SAMPLAN_LOG_LEVEL must be debug, info, warning or error");
  }
  ConfigureLogging(definition.name, log_level);
  ServerConfig server_config = ReadServerConfig(env);
  if (!migrate_only && !relay_only) server_config.tls = ReadTlsConfig(env, /*serves=*/true);
  const PgConfig pg_config = ReadPgConfig(env);
  const RedisConfig redis_config = ReadRedisConfig(env);
  const RelayConfig relay_config = ReadRelayConfig(env);
  // What it appends to the streams is signed: no key, no start.
  const StreamKeys stream_keys = !migrate_only && definition.publishes_events
                                     ? ReadStreamKeys(env)
                                     : StreamKeys::ProcessLocal();
  TokenVerifierOptions token_options;
  // Migrating and relaying need neither tokens nor the service's own secrets.
  if (!migrate_only && !relay_only) {
    token_options = ReadTokenVerifierOptions(env);
    definition.read_config(env);
  }
  if (absl::Status config = env.Finish(); !config.ok()) return Fail(config);

  if (absl::Status migrated =
          ApplyMigrations(pg_config.dsn, definition.schema, definition.migrations);
      !migrated.ok()) {
    return Fail(migrated);
  }
  if (migrate_only) return 0;

  std::unique_ptr<MetricsServer> metrics;
  if (!server_config.metrics_address.empty()) {
    absl::StatusOr<std::unique_ptr<MetricsServer>> started =
        MetricsServer::Start(server_config.metrics_address);
    if (!started.ok()) return Fail(started.status());
    metrics = *std::move(started);
  }
  OutboxRelay relay({definition.schema, relay_config.batch_size, relay_config.poll_interval,
                     relay_config.stream_retention, relay_config.min_replicas,
                     relay_config.replica_timeout, stream_keys},
                    pg_config.dsn, redis_config.Options());
  if (relay_only) {
    if (!definition.publishes_events) {
      std::fprintf(stderr, "%s publishes no events: it has no relay\n", argv[0]);
      return 2;
    }
    relay.Start();
    WaitForTerminationSignal();
    relay.Stop();
    return 0;
  }

  absl::StatusOr<std::unique_ptr<TokenVerifier>> verifier = MakeTokenVerifier(token_options);
  if (!verifier.ok()) return Fail(verifier.status());
  // The outbox outlives the pool, which keeps pointers to its statements.
  const Outbox outbox(definition.schema);
  PgPoolOptions pool_options{pg_config.dsn, pg_config.pool_size, server_config.call_timeout,
                             "samplan-" + definition.name, definition.statements(outbox)};
  // A change that wrote an event wakes the relay, which then publishes at once
  // instead of at its next poll.
  pool_options.after_commit = [&relay] {
    if (Outbox::TakeAppendedOnThisThread()) relay.Wake();
  };
  absl::StatusOr<std::unique_ptr<PgPool>> pool = PgPool::Create(std::move(pool_options));
  if (!pool.ok()) return Fail(pool.status());
  const CallHandler calls(**verifier, server_config.call_timeout, RealClock(),
                          definition.methods_without_token);
  absl::StatusOr<std::unique_ptr<ServingParts>> parts = definition.build(**pool, outbox, calls);
  if (!parts.ok()) return Fail(parts.status());
  absl::StatusOr<std::unique_ptr<GrpcServer>> server =
      GrpcServer::Start(server_config, (*parts)->services());
  if (!server.ok()) return Fail(server.status());
  if (relay_config.enabled && definition.publishes_events) relay.Start();

  const int signal = WaitForTerminationSignal();
  Log(LogLevel::kInfo, "shutting down", {{"signal", signal}});
  (*parts)->Stopping();
  (*server)->Shutdown();
  relay.Stop();
  return 0;
}

}  // namespace samplan
