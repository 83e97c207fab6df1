#ifndef SAMPLAN_COMMON_CHANNEL_H_
#define SAMPLAN_COMMON_CHANNEL_H_

// The one way Samplan's own code opens a gRPC channel to a Samplan service
// (gateway backends, samplan-call, samplan-demo): TLS from files that are watched
// and re-read when they change, or plaintext only when the settings say so.

#include <memory>
#include <optional>
#include <string>

#include <grpcpp/grpcpp.h>

#include "common/config.h"
#include "common/message_limits.h"

namespace samplan {

// Returns the credentials of a channel: with `tls`, the server's certificate must
// chain to `tls->ca_file` and name the host the channel was opened to, and this
// process's certificate (`tls->cert_file`, when set) is presented to servers that
// require one; the files are re-read every `tls->reload_interval`. Without
// `tls`: plaintext.
std::shared_ptr<grpc::ChannelCredentials> MakeChannelCredentials(
    const std::optional<TlsFiles>& tls);

// Returns a channel to `address` ("host:port") with MakeChannelCredentials(tls);
// `arguments` keep to Samplan's message limits (common/message_limits.h).
std::shared_ptr<grpc::Channel> MakeChannel(
    const std::string& address, const std::optional<TlsFiles>& tls,
    const grpc::ChannelArguments& arguments = SamplanChannelArguments());

}  // namespace samplan

#endif  // SAMPLAN_COMMON_CHANNEL_H_
