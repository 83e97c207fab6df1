#include "common/server.h"

#include <signal.h>

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/log.h"

namespace samplan {

GrpcServer::GrpcServer(ServerConfig config, std::unique_ptr<grpc::Server> server, int port)
    : config_(std::move(config)), server_(std::move(server)), port_(port) {}

GrpcServer::~GrpcServer() { Shutdown(); }

absl::StatusOr<std::unique_ptr<GrpcServer>> GrpcServer::Start(
    const ServerConfig& config, const std::vector<grpc::Service*>& services) {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(config.listen_address, grpc::InsecureServerCredentials(), &port);
  for (grpc::Service* service : services) builder.RegisterService(service);
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
  server->GetHealthCheckService()->SetServingStatus(true);
  Log(LogLevel::kInfo, "serving", {{"address", config.listen_address}, {"port", port}});
  return std::unique_ptr<GrpcServer>(new GrpcServer(config, std::move(server), port));
}

void GrpcServer::Shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  Log(LogLevel::kInfo, "draining", {{"drain_ms", absl::ToInt64Milliseconds(config_.drain_period)}});
  server_->GetHealthCheckService()->SetServingStatus(false);
  absl::SleepFor(config_.drain_period);
  server_->Shutdown(absl::ToChronoTime(absl::Now() + config_.shutdown_grace));
  server_->Wait();
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
