#include "tests/support/served_service.h"

#include "absl/strings/str_cat.h"

namespace samplan::testing {

absl::StatusOr<std::unique_ptr<ServedService>> ServedService::Create(
    const TokenVerifierOptions& tokens, absl::Duration call_timeout, const Clock& clock,
    std::vector<std::string> methods_without_token) {
  std::unique_ptr<ServedService> served(new ServedService());
  absl::StatusOr<std::unique_ptr<TokenVerifier>> verifier = MakeTokenVerifier(tokens);
  if (!verifier.ok()) return verifier.status();
  served->verifier_ = *std::move(verifier);
  served->calls_ = std::make_unique<CallHandler>(*served->verifier_, call_timeout, clock,
                                                 std::move(methods_without_token));
  return served;
}

absl::Status ServedService::Serve(std::unique_ptr<grpc::Service> service) {
  service_ = std::move(service);
  absl::StatusOr<std::unique_ptr<GrpcServer>> server = GrpcServer::Start(
      {"127.0.0.1:0", absl::Seconds(10), absl::ZeroDuration(), absl::Seconds(1), ""},
      {service_.get()});
  if (!server.ok()) return server.status();
  server_ = *std::move(server);
  address_ = absl::StrCat("127.0.0.1:", server_->port());
  return absl::OkStatus();
}

std::shared_ptr<grpc::Channel> ServedService::NewChannel() const {
  return grpc::CreateChannel(address_, grpc::InsecureChannelCredentials());
}

std::unique_ptr<grpc::ClientContext> CallWithToken(const std::string& token,
                                                   absl::Duration timeout) {
  auto context = std::make_unique<grpc::ClientContext>();
  if (!token.empty()) context->AddMetadata("authorization", "Bearer " + token);
  context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  return context;
}

}  // namespace samplan::testing
