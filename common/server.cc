#include "common/server.h"

#include <signal.h>

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/impl/server_builder_option.h>
#include <grpcpp/impl/server_builder_plugin.h>
#include <grpcpp/impl/server_initializer.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/auth.h"
#include "common/call.h"
#include "common/log.h"
#include "common/message_limits.h"

namespace samplan {
namespace {

// Collects the names of the services a server was built with, which gRPC keeps
// to itself otherwise, so that the health service can answer for each by name.
static_assert(kMaxHeaderListBytes >= 4 * kMaxTokenBytes,
              "an oversize token must be refused by the verifier, for its call only");

class ServiceNamesPlugin final : public grpc::ServerBuilderPlugin {
 public:
  explicit ServiceNamesPlugin(std::shared_ptr<std::vector<std::string>> names)
      : names_(std::move(names)) {}
  std::string name() override { return "samplan_service_names"; }
  void InitServer(grpc::ServerInitializer*) override {}
  void Finish(grpc::ServerInitializer* initializer) override {
    for (const std::string& name : *initializer->GetServiceList()) {
      if (!name.empty()) names_->push_back(name);
    }
  }
  void ChangeArguments(const std::string&, void*) override {}

 private:
  std::shared_ptr<std::vector<std::string>> names_;
};

class ServiceNamesOption final : public grpc::ServerBuilderOption {
 public:
  explicit ServiceNamesOption(std::shared_ptr<std::vector<std::string>> names)
      : names_(std::move(names)) {}
  void UpdateArguments(grpc::ChannelArguments*) override {}
  void UpdatePlugins(std::vector<std::unique_ptr<grpc::ServerBuilderPlugin>>* plugins) override {
    plugins->push_back(std::make_unique<ServiceNamesPlugin>(names_));
  }

 private:
  std::shared_ptr<std::vector<std::string>> names_;
};

// Returns the credentials of the listening port: TLS from files that gRPC's file
// watcher re-reads every `reload_interval` (new connections get the new
// certificate; established ones keep theirs), with verified client certificates
// required when the settings say so; plaintext without `tls`.
std::shared_ptr<grpc::ServerCredentials> ListeningCredentials(
    const std::optional<TlsFiles>& tls) {
  if (!tls.has_value()) return grpc::InsecureServerCredentials();
  const auto interval = static_cast<unsigned int>(
      std::max<int64_t>(1, absl::ToInt64Seconds(tls->reload_interval)));
  auto provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      tls->key_file, tls->cert_file, tls->ca_file, interval);
  grpc::experimental::TlsServerCredentialsOptions options(provider);
  options.watch_identity_key_cert_pairs();
  if (!tls->ca_file.empty()) options.watch_root_certs();
  options.set_cert_request_type(tls->require_client_cert
                                    ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
                                    : GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  return grpc::experimental::TlsServerCredentials(options);
}

}  // namespace

GrpcServer::GrpcServer(ServerConfig config, std::unique_ptr<grpc::Server> server, int port,
                       std::unique_ptr<grpc::Server> health_server)
    : config_(std::move(config)),
      server_(std::move(server)),
      health_server_(std::move(health_server)),
      port_(port) {}

GrpcServer::~GrpcServer() { Shutdown(); }

absl::StatusOr<std::unique_ptr<GrpcServer>> GrpcServer::Start(
    const ServerConfig& config, const std::vector<grpc::Service*>& services) {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  RouteProtobufLogging();
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(config.listen_address, ListeningCredentials(config.tls), &port);
  for (grpc::Service* service : services) builder.RegisterService(service);
  auto service_names = std::make_shared<std::vector<std::string>>();
  builder.SetOption(std::make_unique<ServiceNamesOption>(service_names));
  // A request that cannot be parsed is the caller's error, answered and logged as
  // such (common/call.h).
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
      interceptors;
  interceptors.push_back(MalformedRequestInterceptorFactory());
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  // The header list a caller may send. It must be well above the largest token
  // the verifier reads (common/auth.h, kMaxTokenSize = 16 KiB), so that an
  // oversize token is refused as UNAUTHENTICATED for its own call; a header list
  // beyond this limit is refused by gRPC for that call (RESOURCE_EXHAUSTED).
  builder.AddChannelArgument(GRPC_ARG_MAX_METADATA_SIZE, kMaxHeaderListBytes);
  // No message beyond the bound either way (common/message_limits.h).
  builder.SetMaxReceiveMessageSize(kMaxMessageBytes);
  builder.SetMaxSendMessageSize(kMaxMessageBytes);
  // Idle connections are probed so that a vanished peer does not hold a stream.
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 60 * 1000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  // Bandwidth-delay probing sends a PING with most responses; Samplan's messages
  // are small, so the probes only cost packets and wake-ups.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  // A handler blocks on the database for milliseconds. With gRPC's default of at
  // most two idle polling threads, a thread that finishes a call exits and the
  // next call starts a new one: a thread created per call (measured in
  // docs/benchmarks.md). Idle threads are cheap; keep them.
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MIN_POLLERS, 2);
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS, 64);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", config.listen_address, " (SAMPLAN_LISTEN_ADDRESS)"));
  }
  // Health answers for the server as a whole ("") and for each service by its
  // full name, as gRPC's health protocol intends.
  for (const std::string& name : *service_names) {
    server->GetHealthCheckService()->SetServingStatus(name, true);
  }
  server->GetHealthCheckService()->SetServingStatus(true);
  // The health-only port answers what the server as a whole answers; it has no
  // other service (reflection lists just health), so plaintext there reveals
  // nothing but "serving".
  std::unique_ptr<grpc::Server> health_server;
  int health_port = 0;
  if (!config.health_address.empty()) {
    grpc::ServerBuilder health_builder;
    health_builder.AddListeningPort(config.health_address, grpc::InsecureServerCredentials(),
                                    &health_port);
    health_server = health_builder.BuildAndStart();
    if (health_server == nullptr || health_port == 0) {
      return absl::UnavailableError(absl::StrCat("cannot listen on ", config.health_address,
                                                 " (SAMPLAN_HEALTH_ADDRESS)"));
    }
    health_server->GetHealthCheckService()->SetServingStatus(true);
  }
  Log(LogLevel::kInfo, "serving",
      {{"address", config.listen_address},
       {"port", port},
       {"tls", !config.tls.has_value()       ? "off"
               : config.tls->require_client_cert ? "mutual"
                                                 : "on"}});
  std::unique_ptr<GrpcServer> started(
      new GrpcServer(config, std::move(server), port, std::move(health_server)));
  started->health_port_ = health_port;
  return started;
}

void GrpcServer::Shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  Log(LogLevel::kInfo, "draining", {{"drain_ms", absl::ToInt64Milliseconds(config_.drain_period)}});
  server_->GetHealthCheckService()->SetServingStatus(false);
  if (health_server_ != nullptr) health_server_->GetHealthCheckService()->SetServingStatus(false);
  absl::SleepFor(config_.drain_period);
  server_->Shutdown(absl::ToChronoTime(absl::Now() + config_.shutdown_grace));
  server_->Wait();
  if (health_server_ != nullptr) health_server_->Shutdown();
  Log(LogLevel::kInfo, "stopped");
}

void BlockTerminationSignals() {
  // A peer that closed its socket must not kill the process: hiredis writes with
  // plain write(), which raises SIGPIPE; the write's error is handled instead.
  signal(SIGPIPE, SIG_IGN);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int WaitForTerminationSignal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  int signal = 0;
  sigwait(&set, &signal);
  return signal;
}

}  // namespace samplan
