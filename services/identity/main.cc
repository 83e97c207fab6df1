// samplan-identity: municipalities, organizations, users, persons, consents and the
// audit log. Wiring only.
//
//   samplan-identity                 apply migrations, serve gRPC, run the outbox relay
//   samplan-identity --migrate-only  apply migrations and exit (a Kubernetes init step)
//   samplan-identity --relay-only    run only the outbox relay
//
// Configuration comes from environment variables (docs/configuration.md), plus
// SAMPLAN_IDENTITY_ENCRYPTION_KEY and SAMPLAN_IDENTITY_LOOKUP_KEY: two different
// 32-byte keys in standard base64 that protect personal identity numbers at rest.

#include <cstdio>
#include <cstring>
#include <optional>

#include "absl/strings/str_cat.h"

#include "common/auth.h"
#include "common/call.h"
#include "common/config.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/migrations.h"
#include "common/outbox.h"
#include "common/pg.h"
#include "common/relay.h"
#include "common/server.h"
#include "services/identity/identity_crypto.h"
#include "services/identity/identity_service.h"
#include "services/identity/pg_identity_repository.h"

namespace samplan {
const std::vector<Migration>& identity_migrations();
}  // namespace samplan

namespace {

int Fail(const absl::Status& status) {
  samplan::Log(samplan::LogLevel::kError, "cannot start", {{"error", status.ToString()}});
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace samplan;
  BlockTerminationSignals();
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
  ConfigureLogging("identity", log_level);
  const ServerConfig server_config = ReadServerConfig(env);
  const PgConfig pg_config = ReadPgConfig(env);
  const RedisConfig redis_config = ReadRedisConfig(env);
  const RelayConfig relay_config = ReadRelayConfig(env);
  TokenVerifierOptions token_options;
  std::optional<identity::IdentityNumberProtector> protector;
  if (!migrate_only && !relay_only) {
    token_options = ReadTokenVerifierOptions(env);
    const std::string encryption_key = env.RequiredString("SAMPLAN_IDENTITY_ENCRYPTION_KEY");
    const std::string lookup_key = env.RequiredString("SAMPLAN_IDENTITY_LOOKUP_KEY");
    if (!encryption_key.empty() && !lookup_key.empty()) {
      absl::StatusOr<identity::IdentityNumberProtector> made =
          identity::MakeIdentityNumberProtector(encryption_key, lookup_key);
      if (made.ok()) {
        protector.emplace(*std::move(made));
      } else {
        // The message names which key is wrong, never its value.
        env.AddProblem(absl::StrCat(
            "SAMPLAN_IDENTITY_ENCRYPTION_KEY / SAMPLAN_IDENTITY_LOOKUP_KEY: ",
            made.status().message()));
      }
    }
  }
  if (absl::Status config = env.Finish(); !config.ok()) return Fail(config);

  const std::vector<MigrationSet> migrations = {{"identity", &identity_migrations()},
                                                {"outbox", &outbox_migrations()}};
  if (absl::Status migrated = ApplyMigrations(pg_config.dsn, identity::kSchema, migrations);
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
  OutboxRelay relay({identity::kSchema, relay_config.batch_size, relay_config.poll_interval,
                     relay_config.stream_retention},
                    pg_config.dsn, {redis_config.host, redis_config.port});
  if (relay_only) {
    relay.Start();
    WaitForTerminationSignal();
    relay.Stop();
    return 0;
  }

  absl::StatusOr<std::unique_ptr<TokenVerifier>> verifier = MakeTokenVerifier(token_options);
  if (!verifier.ok()) return Fail(verifier.status());
  const Outbox outbox(identity::kSchema);
  absl::StatusOr<std::unique_ptr<PgPool>> pool =
      PgPool::Create({pg_config.dsn, pg_config.pool_size, server_config.call_timeout,
                      "samplan-identity", identity::IdentityRepositoryStatements(outbox)});
  if (!pool.ok()) return Fail(pool.status());
  identity::PgIdentityRepository repository(**pool, outbox);
  const CallHandler calls(**verifier, server_config.call_timeout);
  identity::IdentityService service(repository, *protector, calls);
  absl::StatusOr<std::unique_ptr<GrpcServer>> server = GrpcServer::Start(server_config, {&service});
  if (!server.ok()) return Fail(server.status());
  if (relay_config.enabled) relay.Start();

  const int signal = WaitForTerminationSignal();
  Log(LogLevel::kInfo, "shutting down", {{"signal", signal}});
  (*server)->Shutdown();
  relay.Stop();
  return 0;
}
