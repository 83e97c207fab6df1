#ifndef SAMPLAN_COMMON_CONFIG_H_
#define SAMPLAN_COMMON_CONFIG_H_

// Typed configuration from environment variables. Every variable is documented in
// docs/configuration.md. Only main() reads the process environment (TotW #45); the
// rest of the code receives plain structs.

#include <functional>
#include <optional>
#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/auth.h"
#include "common/redis.h"

namespace samplan {

// Reads typed values by name and collects every problem, so that one start-up
// failure names all missing or malformed variables at once.
class EnvReader {
 public:
  using Lookup = std::function<std::optional<std::string>(absl::string_view)>;

  explicit EnvReader(Lookup lookup) : lookup_(std::move(lookup)) {}
  // Returns a reader over the process environment; for main() only.
  static EnvReader FromProcessEnvironment();

  std::string RequiredString(absl::string_view name);
  std::string String(absl::string_view name, absl::string_view fallback);
  int Int(absl::string_view name, int fallback, int min, int max);
  // A duration in Abseil syntax: "250ms", "10s", "1h30m", at least `min`.
  absl::Duration Duration(absl::string_view name, absl::Duration fallback,
                          absl::Duration min = absl::ZeroDuration());
  // "true"/"false" (also 1/0, yes/no).
  bool Bool(absl::string_view name, bool fallback);

  // Records a problem found while interpreting a value, e.g. a key file that
  // cannot be read.
  void AddProblem(std::string problem) { problems_.push_back(std::move(problem)); }

  // Returns INVALID_ARGUMENT naming every variable that was missing or malformed,
  // or OK.
  absl::Status Finish() const;

 private:
  std::optional<std::string> Get(absl::string_view name);
  Lookup lookup_;
  std::vector<std::string> problems_;
};

// The files of a TLS identity and of the CA that peers' certificates must chain
// to, all PEM. They are watched and re-read every `reload_interval`, so a
// renewed certificate is used by new connections without a restart.
struct TlsFiles {
  std::string cert_file;  // SAMPLAN_TLS_CERT_FILE: this process's certificate chain
  std::string key_file;   // SAMPLAN_TLS_KEY_FILE: its private key
  std::string ca_file;    // SAMPLAN_TLS_CA_FILE: the CA bundle peers must chain to
  // SAMPLAN_TLS_REQUIRE_CLIENT_CERT (servers): refuse callers without a client
  // certificate from a CA in `ca_file` (mutual TLS).
  bool require_client_cert = false;
  absl::Duration reload_interval = absl::Seconds(60);  // SAMPLAN_TLS_RELOAD_INTERVAL
};

// How a gRPC server listens and stops.
struct ServerConfig {
  std::string listen_address;       // SAMPLAN_LISTEN_ADDRESS
  absl::Duration call_timeout;      // SAMPLAN_CALL_TIMEOUT: deadline of calls without one
  absl::Duration drain_period;      // SAMPLAN_DRAIN_PERIOD: NOT_SERVING before shutdown
  absl::Duration shutdown_grace;    // SAMPLAN_SHUTDOWN_GRACE: time for in-flight calls
  std::string metrics_address;      // SAMPLAN_METRICS_ADDRESS: GET /metrics; empty: off
  // TLS on the listening port (ReadTlsConfig); none means plaintext, which a
  // process reading its environment serves only when SAMPLAN_PLAINTEXT=true says
  // so (tests build this struct by hand and may leave it out).
  std::optional<TlsFiles> tls = std::nullopt;
  // SAMPLAN_HEALTH_ADDRESS: a second, plaintext port that serves only the
  // standard health service, for probes that cannot speak TLS (the kubelet's
  // gRPC probe); empty: none.
  std::string health_address = "";
};
ServerConfig ReadServerConfig(EnvReader& env);

// Reads the TLS settings of a process that serves gRPC (`serves` true: a
// certificate and key are required, and a CA when client certificates are) or
// only calls it (the CA is required; a certificate and key, both or neither, are
// presented to servers that ask for one). Returns nullopt, plaintext, only when
// SAMPLAN_PLAINTEXT=true; anything else missing is a problem of `env`.
std::optional<TlsFiles> ReadTlsConfig(EnvReader& env, bool serves);

// Where PostgreSQL is and how many connections a process keeps.
struct PgConfig {
  std::string dsn;  // SAMPLAN_PG_DSN (libpq connection string)
  int pool_size;    // SAMPLAN_PG_POOL_SIZE
};
PgConfig ReadPgConfig(EnvReader& env);

// Where Redis is, and who this process is there.
struct RedisConfig {
  std::string host;  // SAMPLAN_REDIS_ADDRESS, host part
  int port;          // SAMPLAN_REDIS_ADDRESS, port part
  // SAMPLAN_REDIS_SENTINELS ("host:port,host:port"): when set, the primary is
  // found through these Sentinels and SAMPLAN_REDIS_ADDRESS is not used.
  std::vector<std::pair<std::string, int>> sentinels = {};
  std::string sentinel_master = "samplan";  // SAMPLAN_REDIS_SENTINEL_MASTER
  std::string username = "";  // SAMPLAN_REDIS_USERNAME: this service's ACL user
  std::string password = "";  // SAMPLAN_REDIS_PASSWORD

  // Returns the client options for this configuration.
  RedisOptions Options() const;
};
RedisConfig ReadRedisConfig(EnvReader& env);

// How the outbox relay runs.
struct RelayConfig {
  bool enabled;                     // SAMPLAN_RELAY_ENABLED
  int batch_size;                   // SAMPLAN_RELAY_BATCH_SIZE
  absl::Duration poll_interval;     // SAMPLAN_RELAY_POLL_INTERVAL
  absl::Duration stream_retention;  // SAMPLAN_STREAM_RETENTION: events kept on streams
  // SAMPLAN_RELAY_MIN_REPLICAS: replicas that must hold a stream entry (WAIT)
  // before its outbox row is deleted; 0 for a single Redis.
  int min_replicas;
  absl::Duration replica_timeout;   // SAMPLAN_RELAY_REPLICA_TIMEOUT: how long to WAIT
};
RelayConfig ReadRelayConfig(EnvReader& env);

// Which tokens are trusted: SAMPLAN_JWT_ISSUER, SAMPLAN_JWT_AUDIENCE and
// SAMPLAN_JWT_PUBLIC_KEYS ("kid=/path/key.pem,kid2=/path/other.pem"); the key files
// are read here, and an unreadable one is reported as a problem of the variable.
TokenVerifierOptions ReadTokenVerifierOptions(EnvReader& env);

// Splits "host:port"; INVALID_ARGUMENT when malformed.
absl::StatusOr<std::pair<std::string, int>> ParseHostPort(absl::string_view address);

}  // namespace samplan

#endif  // SAMPLAN_COMMON_CONFIG_H_
