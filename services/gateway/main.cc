// samplan-gateway: HTTP/JSON for every annotated RPC of the configured services,
// Server-Sent Events for streams, the OpenAPI document and the portal's pages.
// Wiring only. Configuration comes from environment variables:
// docs/configuration.md.

#include <cstdio>
#include <fstream>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/config.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/server.h"
#include "services/gateway/gateway.h"
#include "services/gateway/openapi_document.h"

namespace {

int Fail(const absl::Status& status) {
  samplan::Log(samplan::LogLevel::kError, "cannot start",
               {{"error", std::string(status.message())}});
  return 1;
}

}  // namespace

int main() {
  using namespace samplan;
  BlockTerminationSignals();
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  EnvReader env = EnvReader::FromProcessEnvironment();
  LogLevel log_level = LogLevel::kInfo;
  if (!ParseLogLevel(env.String("SAMPLAN_LOG_LEVEL", "info"), &log_level)) {
    env.AddProblem("SAMPLAN_LOG_LEVEL must be debug, info, warning or error");
  }
  ConfigureLogging("gateway", log_level);
  const ServerConfig server = ReadServerConfig(env);
  gateway::GatewayConfig config;
  config.listen_address = server.listen_address;
  config.call_timeout = server.call_timeout;
  absl::StatusOr<std::map<std::string, std::string>> backends =
      gateway::ParseBackends(env.RequiredString("SAMPLAN_GATEWAY_BACKENDS"));
  if (backends.ok()) {
    config.backends = *std::move(backends);
  } else {
    env.AddProblem(std::string(backends.status().message()));
  }
  // The gateway only calls gRPC: the CA of its backends, and its own
  // certificate for backends that require one.
  config.backend_tls = ReadTlsConfig(env, /*serves=*/false);
  config.max_body_bytes = static_cast<size_t>(
      env.Int("SAMPLAN_GATEWAY_MAX_BODY_BYTES", 4 << 20, 1024, 256 << 20));
  config.web_dir = env.String("SAMPLAN_GATEWAY_WEB_DIR", "");
  config.token_header = env.String("SAMPLAN_GATEWAY_TOKEN_HEADER", "");
  config.dev_sign_in = env.Bool("SAMPLAN_GATEWAY_DEV_SIGN_IN", false);
  config.dev_tokens_dir = env.String("SAMPLAN_GATEWAY_DEV_TOKENS_DIR", "");
  if (config.dev_sign_in && config.dev_tokens_dir.empty()) {
    env.AddProblem("SAMPLAN_GATEWAY_DEV_TOKENS_DIR is required with SAMPLAN_GATEWAY_DEV_SIGN_IN");
  }
  config.threads = env.Int("SAMPLAN_GATEWAY_THREADS", 64, 4, 4096);
  config.openapi_json = gateway::OpenApiDocument();
  if (absl::Status read = env.Finish(); !read.ok()) return Fail(read);

  std::unique_ptr<MetricsServer> metrics;
  if (!server.metrics_address.empty()) {
    absl::StatusOr<std::unique_ptr<MetricsServer>> started =
        MetricsServer::Start(server.metrics_address);
    if (!started.ok()) return Fail(started.status());
    metrics = *std::move(started);
  }
  absl::StatusOr<std::unique_ptr<gateway::Gateway>> running =
      gateway::Gateway::Start(std::move(config));
  if (!running.ok()) return Fail(running.status());
  Log(LogLevel::kInfo, "serving", {{"address", server.listen_address}});
  WaitForTerminationSignal();
  Log(LogLevel::kInfo, "stopping");
  (*running)->Drain();
  absl::SleepFor(server.drain_period);
  (*running)->Shutdown();
  return 0;
}
