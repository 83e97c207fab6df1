#ifndef SAMPLAN_TESTS_SUPPORT_SERVED_SERVICE_H_
#define SAMPLAN_TESTS_SUPPORT_SERVED_SERVICE_H_

// A service served in this process on 127.0.0.1:<free port> through the real call
// wrapper, with a token verifier that trusts the test's key: the one harness of
// the middle test tier (a service over an in-memory repository, nothing else to
// start) and of the in-process stacks of the real-server tests.

#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <grpcpp/impl/service_type.h>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/auth.h"
#include "common/call.h"
#include "common/clock.h"
#include "common/server.h"

namespace samplan::testing {

class ServedService {
 public:
  // `clock` must outlive it.
  // `methods_without_token` as for CallHandler.
  static absl::StatusOr<std::unique_ptr<ServedService>> Create(
      const TokenVerifierOptions& tokens, absl::Duration call_timeout = absl::Seconds(10),
      const Clock& clock = RealClock(), std::vector<std::string> methods_without_token = {});

  // The call wrapper to build the service with.
  CallHandler& calls() { return *calls_; }

  // Starts serving `service`, made with calls(); it is kept until this is
  // destroyed, after the server has stopped.
  absl::Status Serve(std::unique_ptr<grpc::Service> service);

  // "127.0.0.1:<port>", once serving.
  const std::string& address() const { return address_; }
  std::shared_ptr<grpc::Channel> NewChannel() const;

 private:
  ServedService() = default;
  // Destroyed in reverse: the server stops before the service goes, the service
  // before the call wrapper it uses.
  std::unique_ptr<TokenVerifier> verifier_;
  std::unique_ptr<CallHandler> calls_;
  std::unique_ptr<grpc::Service> service_;
  std::unique_ptr<GrpcServer> server_;
  std::string address_;
};

// Returns a client context that sends `token` as its bearer token (none when
// empty), with a deadline `timeout` from now.
std::unique_ptr<grpc::ClientContext> CallWithToken(const std::string& token,
                                                   absl::Duration timeout = absl::Seconds(10));

}  // namespace samplan::testing

#endif  // SAMPLAN_TESTS_SUPPORT_SERVED_SERVICE_H_
