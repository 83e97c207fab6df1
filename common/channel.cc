#include "common/channel.h"

#include <algorithm>

#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_certificate_verifier.h>
#include <grpcpp/security/tls_credentials_options.h>

namespace samplan {

std::shared_ptr<grpc::ChannelCredentials> MakeChannelCredentials(
    const std::optional<TlsFiles>& tls) {
  if (!tls.has_value()) return grpc::InsecureChannelCredentials();
  const auto interval = static_cast<unsigned int>(
      std::max<int64_t>(1, absl::ToInt64Seconds(tls->reload_interval)));
  // gRPC's own file watcher re-reads the files and hands new ones to new
  // handshakes; a half-written pair (key not matching the certificate) is
  // ignored until it is whole.
  auto provider =
      tls->cert_file.empty()
          ? std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(tls->ca_file,
                                                                                 interval)
          : std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
                tls->key_file, tls->cert_file, tls->ca_file, interval);
  grpc::experimental::TlsChannelCredentialsOptions options;
  options.set_certificate_provider(provider);
  options.watch_root_certs();
  if (!tls->cert_file.empty()) options.watch_identity_key_cert_pairs();
  options.set_verify_server_certs(true);
  // Named, not left to a default: the certificate must be for the host dialled.
  options.set_certificate_verifier(
      std::make_shared<grpc::experimental::HostNameCertificateVerifier>());
  return grpc::experimental::TlsCredentials(options);
}

std::shared_ptr<grpc::Channel> MakeChannel(const std::string& address,
                                           const std::optional<TlsFiles>& tls,
                                           const grpc::ChannelArguments& arguments) {
  return grpc::CreateCustomChannel(address, MakeChannelCredentials(tls), arguments);
}

}  // namespace samplan
