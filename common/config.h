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

// How a gRPC server listens and stops.
struct ServerConfig {
  std::string listen_address;       // SAMPLAN_LISTEN_ADDRESS
  absl::Duration call_timeout;      // SAMPLAN_CALL_TIMEOUT: deadline of calls without one
  absl::Duration drain_period;      // SAMPLAN_DRAIN_PERIOD: NOT_SERVING before shutdown
  absl::Duration shutdown_grace;    // SAMPLAN_SHUTDOWN_GRACE: time for in-flight calls
  std::string metrics_address;      // SAMPLAN_METRICS_ADDRESS: GET /metrics; empty: off
};
ServerConfig ReadServerConfig(EnvReader& env);

// Where PostgreSQL is and how many connections a process keeps.
struct PgConfig {
  std::string dsn;  // SAMPLAN_PG_DSN (libpq connection string)
  int pool_size;    // SAMPLAN_PG_POOL_SIZE
};
PgConfig ReadPgConfig(EnvReader& env);

// Where Redis is.
struct RedisConfig {
  std::string host;  // SAMPLAN_REDIS_ADDRESS, host part
  int port;          // SAMPLAN_REDIS_ADDRESS, port part
};
RedisConfig ReadRedisConfig(EnvReader& env);

// How the outbox relay runs.
struct RelayConfig {
  bool enabled;                     // SAMPLAN_RELAY_ENABLED
  int batch_size;                   // SAMPLAN_RELAY_BATCH_SIZE
  absl::Duration poll_interval;     // SAMPLAN_RELAY_POLL_INTERVAL
  absl::Duration stream_retention;  // SAMPLAN_STREAM_RETENTION: events kept on streams
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
