#include "common/config.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace samplan {

EnvReader EnvReader::FromProcessEnvironment() {
  return EnvReader([](absl::string_view name) -> std::optional<std::string> {
    const char* value = std::getenv(std::string(name).c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  });
}

std::optional<std::string> EnvReader::Get(absl::string_view name) {
  std::optional<std::string> value = lookup_(name);
  // An empty variable is treated as unset: `FOO= cmd` is how people unset things.
  if (value.has_value() && value->empty()) return std::nullopt;
  return value;
}

std::string EnvReader::RequiredString(absl::string_view name) {
  std::optional<std::string> value = Get(name);
  if (!value.has_value()) {
    problems_.push_back(absl::StrCat(name, " is required but not set"));
    return "";
  }
  return *value;
}

std::string EnvReader::String(absl::string_view name, absl::string_view fallback) {
  return Get(name).value_or(std::string(fallback));
}

int EnvReader::Int(absl::string_view name, int fallback, int min, int max) {
  std::optional<std::string> value = Get(name);
  if (!value.has_value()) return fallback;
  int parsed = 0;
  if (!absl::SimpleAtoi(*value, &parsed) || parsed < min || parsed > max) {
    problems_.push_back(absl::StrCat(name, " must be a whole number from ", min,
                                     " to ", max, ", not \"", *value, "\""));
    return fallback;
  }
  return parsed;
}

absl::Duration EnvReader::Duration(absl::string_view name, absl::Duration fallback,
                                   absl::Duration min) {
  std::optional<std::string> value = Get(name);
  if (!value.has_value()) return fallback;
  absl::Duration parsed;
  if (!absl::ParseDuration(*value, &parsed) || parsed < min) {
    problems_.push_back(absl::StrCat(name, " must be a duration of at least ",
                                     absl::FormatDuration(min),
                                     " such as 500ms, 10s or 2h, not \"", *value, "\""));
    return fallback;
  }
  return parsed;
}

bool EnvReader::Bool(absl::string_view name, bool fallback) {
  std::optional<std::string> value = Get(name);
  if (!value.has_value()) return fallback;
  std::string lower = absl::AsciiStrToLower(*value);
  if (lower == "true" || lower == "1" || lower == "yes") return true;
  if (lower == "false" || lower == "0" || lower == "no") return false;
  problems_.push_back(
      absl::StrCat(name, " must be true or false, not \"", *value, "\""));
  return fallback;
}

absl::Status EnvReader::Finish() const {
  if (problems_.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("configuration: ", absl::StrJoin(problems_, "; ")));
}

absl::StatusOr<std::pair<std::string, int>> ParseHostPort(absl::string_view address) {
  size_t colon = address.rfind(':');
  int port = 0;
  if (colon == absl::string_view::npos || colon == 0 ||
      !absl::SimpleAtoi(address.substr(colon + 1), &port) || port <= 0 ||
      port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", address, "\" is not of the form host:port"));
  }
  return std::make_pair(std::string(address.substr(0, colon)), port);
}

ServerConfig ReadServerConfig(EnvReader& env) {
  ServerConfig config;
  config.listen_address = env.String("SAMPLAN_LISTEN_ADDRESS", "0.0.0.0:50051");
  config.call_timeout =
      env.Duration("SAMPLAN_CALL_TIMEOUT", absl::Seconds(10), absl::Milliseconds(100));
  config.drain_period = env.Duration("SAMPLAN_DRAIN_PERIOD", absl::Seconds(5));
  config.shutdown_grace = env.Duration("SAMPLAN_SHUTDOWN_GRACE", absl::Seconds(20));
  config.metrics_address = env.String("SAMPLAN_METRICS_ADDRESS", "");
  config.health_address = env.String("SAMPLAN_HEALTH_ADDRESS", "");
  return config;
}

std::optional<TlsFiles> ReadTlsConfig(EnvReader& env, bool serves) {
  TlsFiles tls;
  tls.cert_file = env.String("SAMPLAN_TLS_CERT_FILE", "");
  tls.key_file = env.String("SAMPLAN_TLS_KEY_FILE", "");
  tls.ca_file = env.String("SAMPLAN_TLS_CA_FILE", "");
  tls.require_client_cert = env.Bool("SAMPLAN_TLS_REQUIRE_CLIENT_CERT", false);
  tls.reload_interval =
      env.Duration("SAMPLAN_TLS_RELOAD_INTERVAL", tls.reload_interval, absl::Seconds(1));
  // Plaintext is never a fallback for a missing file: it must be asked for.
  if (env.Bool("SAMPLAN_PLAINTEXT", false)) {
    if (!tls.cert_file.empty() || !tls.key_file.empty() || !tls.ca_file.empty()) {
      env.AddProblem("SAMPLAN_PLAINTEXT=true contradicts the SAMPLAN_TLS_* files that are set");
    }
    return std::nullopt;
  }
  const bool identity = !tls.cert_file.empty() || !tls.key_file.empty();
  if (serves || identity) {
    if (tls.cert_file.empty()) {
      env.AddProblem("SAMPLAN_TLS_CERT_FILE is required (or SAMPLAN_PLAINTEXT=true)");
    }
    if (tls.key_file.empty()) {
      env.AddProblem("SAMPLAN_TLS_KEY_FILE is required (or SAMPLAN_PLAINTEXT=true)");
    }
  }
  if (tls.ca_file.empty() && (!serves || tls.require_client_cert)) {
    env.AddProblem(serves ? "SAMPLAN_TLS_CA_FILE is required with SAMPLAN_TLS_REQUIRE_CLIENT_CERT"
                          : "SAMPLAN_TLS_CA_FILE is required (or SAMPLAN_PLAINTEXT=true)");
  }
  // The files are watched later, and a missing one would only show as failed
  // handshakes: name it at start instead.
  for (const auto& [name, path] : {std::pair{"SAMPLAN_TLS_CERT_FILE", tls.cert_file},
                                   std::pair{"SAMPLAN_TLS_KEY_FILE", tls.key_file},
                                   std::pair{"SAMPLAN_TLS_CA_FILE", tls.ca_file}}) {
    if (!path.empty() && !std::ifstream(path).good()) {
      env.AddProblem(absl::StrCat(name, ": cannot read ", path));
    }
  }
  return tls;
}

PgConfig ReadPgConfig(EnvReader& env) {
  PgConfig config;
  config.dsn = env.RequiredString("SAMPLAN_PG_DSN");
  config.pool_size = env.Int("SAMPLAN_PG_POOL_SIZE", 8, 1, 512);
  return config;
}

RedisConfig ReadRedisConfig(EnvReader& env) {
  RedisConfig config{"127.0.0.1", 6379};
  std::string address = env.String("SAMPLAN_REDIS_ADDRESS", "127.0.0.1:6379");
  absl::StatusOr<std::pair<std::string, int>> parsed = ParseHostPort(address);
  if (!parsed.ok()) {
    env.AddProblem(absl::StrCat("SAMPLAN_REDIS_ADDRESS: ", parsed.status().message()));
    return config;
  }
  config.host = parsed->first;
  config.port = parsed->second;
  for (absl::string_view sentinel :
       absl::StrSplit(env.String("SAMPLAN_REDIS_SENTINELS", ""), ',', absl::SkipWhitespace())) {
    absl::StatusOr<std::pair<std::string, int>> address =
        ParseHostPort(absl::StripAsciiWhitespace(sentinel));
    if (!address.ok()) {
      env.AddProblem(absl::StrCat("SAMPLAN_REDIS_SENTINELS: ", address.status().message()));
      continue;
    }
    config.sentinels.push_back(*address);
  }
  config.sentinel_master = env.String("SAMPLAN_REDIS_SENTINEL_MASTER", "samplan");
  config.username = env.String("SAMPLAN_REDIS_USERNAME", "");
  config.password = env.String("SAMPLAN_REDIS_PASSWORD", "");
  if (!config.username.empty() && config.password.empty()) {
    env.AddProblem("SAMPLAN_REDIS_PASSWORD is required when SAMPLAN_REDIS_USERNAME is set");
  }
  return config;
}

RedisOptions RedisConfig::Options() const {
  RedisOptions options;
  options.host = host;
  options.port = port;
  options.sentinels = sentinels;
  options.sentinel_master = sentinel_master;
  options.username = username;
  options.password = password;
  return options;
}

RelayConfig ReadRelayConfig(EnvReader& env) {
  RelayConfig config;
  config.enabled = env.Bool("SAMPLAN_RELAY_ENABLED", true);
  config.batch_size = env.Int("SAMPLAN_RELAY_BATCH_SIZE", 500, 1, 10000);
  config.poll_interval =
      env.Duration("SAMPLAN_RELAY_POLL_INTERVAL", absl::Milliseconds(10), absl::Milliseconds(1));
  config.stream_retention =
      env.Duration("SAMPLAN_STREAM_RETENTION", absl::Hours(24 * 7), absl::Minutes(1));
  config.min_replicas = env.Int("SAMPLAN_RELAY_MIN_REPLICAS", 0, 0, 16);
  config.replica_timeout = env.Duration("SAMPLAN_RELAY_REPLICA_TIMEOUT", absl::Seconds(1),
                                        absl::Milliseconds(10));
  return config;
}

TokenVerifierOptions ReadTokenVerifierOptions(EnvReader& env) {
  TokenVerifierOptions options;
  options.issuer = env.RequiredString("SAMPLAN_JWT_ISSUER");
  options.audience = env.RequiredString("SAMPLAN_JWT_AUDIENCE");
  std::string keys = env.RequiredString("SAMPLAN_JWT_PUBLIC_KEYS");
  for (absl::string_view entry : absl::StrSplit(keys, ',', absl::SkipWhitespace())) {
    std::pair<std::string, std::string> kid_path =
        absl::StrSplit(absl::StripAsciiWhitespace(entry), absl::MaxSplits('=', 1));
    std::ifstream file(kid_path.second);
    std::stringstream pem;
    pem << file.rdbuf();
    if (kid_path.first.empty() || kid_path.second.empty() || !file || pem.str().empty()) {
      env.AddProblem(absl::StrCat("SAMPLAN_JWT_PUBLIC_KEYS: entry \"", entry,
                                  "\" is not kid=/path/to/a/readable/key.pem"));
      continue;
    }
    options.public_keys_pem[kid_path.first] = pem.str();
  }
  options.max_lifetime =
      env.Duration("SAMPLAN_JWT_MAX_LIFETIME", options.max_lifetime, absl::Minutes(1));
  options.accept_high_s = env.Bool("SAMPLAN_JWT_ACCEPT_HIGH_S", options.accept_high_s);
  return options;
}

}  // namespace samplan
