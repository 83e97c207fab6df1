#ifndef SAMPLAN_COMMON_SERVER_H_
#define SAMPLAN_COMMON_SERVER_H_

// Server bootstrap shared by every service: the standard health service (overall
// and per service; NOT_SERVING while draining), reflection, the answer to
// requests that cannot be parsed, the header-list limit, and graceful shutdown on
// SIGTERM.

#include <memory>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "common/config.h"

namespace samplan {

// The largest header list (metadata) a server accepts from a caller: 64 KiB, four
// times the largest token the verifier reads.
inline constexpr int kMaxHeaderListBytes = 64 * 1024;

class GrpcServer {
 public:
  // Builds the server with `services` plus health and reflection, binds
  // `config.listen_address` (port 0 picks a free port) and starts serving.
  // `services` must outlive the server.
  static absl::StatusOr<std::unique_ptr<GrpcServer>> Start(
      const ServerConfig& config, const std::vector<grpc::Service*>& services);
  ~GrpcServer();

  // Returns the bound port.
  int port() const { return port_; }
  // Returns the bound port of the health-only listener, 0 without one.
  int health_port() const { return health_port_; }

  // Drains and stops: health turns NOT_SERVING (so load balancers and Kubernetes
  // stop sending new calls), waits `drain_period`, stops accepting calls and waits
  // up to `shutdown_grace` for calls in flight to finish, then cancels the rest.
  void Shutdown();

 private:
  GrpcServer(ServerConfig config, std::unique_ptr<grpc::Server> server, int port,
             std::unique_ptr<grpc::Server> health_server);
  const ServerConfig config_;
  std::unique_ptr<grpc::Server> server_;
  // Health only, plaintext (ServerConfig::health_address); null when not asked for.
  std::unique_ptr<grpc::Server> health_server_;
  int port_;
  int health_port_ = 0;
  bool shut_down_ = false;
};

// Blocks SIGTERM and SIGINT in the calling thread and every thread it creates
// afterwards, and ignores SIGPIPE; call first in main(), then
// WaitForTerminationSignal() where the main thread should wait.
void BlockTerminationSignals();

// Waits for SIGTERM or SIGINT and returns it.
int WaitForTerminationSignal();

}  // namespace samplan

#endif  // SAMPLAN_COMMON_SERVER_H_
