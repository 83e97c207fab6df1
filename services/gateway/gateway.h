#ifndef SAMPLAN_SERVICES_GATEWAY_GATEWAY_H_
#define SAMPLAN_SERVICES_GATEWAY_GATEWAY_H_

// The HTTP/JSON gateway: every annotated RPC of every configured service over
// HTTP/1.1 (routes.h, transcode.h), server-streaming RPCs as Server-Sent Events,
// the OpenAPI document, the portal's static pages, and a development sign-in.

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/config.h"

namespace samplan::gateway {

struct GatewayConfig {
  // "host:port" to listen on; port 0 picks a free one.
  std::string listen_address = "127.0.0.1:0";
  // The address of each gRPC service, by full name
  // ("samplan.caseplan.v1.CasePlanService" → "127.0.0.1:50051").
  std::map<std::string, std::string> backends;
  // TLS towards the backends (common/channel.h): their CA, and the gateway's own
  // certificate for backends that require one. None: plaintext.
  std::optional<TlsFiles> backend_tls;
  // Request bodies above this are refused with 413.
  size_t max_body_bytes = 4 << 20;
  // The deadline of calls that send no grpc-timeout header (and the most one may ask).
  absl::Duration call_timeout = absl::Seconds(30);
  // Static pages served at "/"; empty: none.
  std::string web_dir;
  // The OpenAPI document served at /openapi.json; empty: none.
  std::string openapi_json;
  // A header that a single-sign-on proxy in front sets with the user's token
  // (for example "X-Forwarded-Access-Token"), read when there is no Authorization.
  std::string token_header;
  // Development only: /signin lets one pick a token of `dev_tokens_dir` (one
  // <agency>.jwt a file) and keeps it in an HttpOnly SameSite=Strict cookie.
  bool dev_sign_in = false;
  std::string dev_tokens_dir;
  // Threads serving connections; each open event stream holds one.
  int threads = 64;
};

// Parses SAMPLAN_GATEWAY_BACKENDS: "<service full name>=<host:port>", comma
// separated; INVALID_ARGUMENT naming the entry that is malformed or repeated.
absl::StatusOr<std::map<std::string, std::string>> ParseBackends(absl::string_view text);

class Gateway {
 public:
  // Resolves every backend service in the linked descriptors, builds the route
  // table, and starts serving; INVALID_ARGUMENT naming a service that is not
  // linked or an annotation that does not fit, UNAVAILABLE if it cannot listen.
  static absl::StatusOr<std::unique_ptr<Gateway>> Start(GatewayConfig config);
  ~Gateway();

  int port() const;
  // Makes /healthz answer 503, so that load balancers stop sending new
  // requests, while everything is still served.
  void Drain();
  // Ends open event streams and stops serving; in-flight calls finish.
  void Shutdown();

  class Impl;

 private:
  explicit Gateway(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace samplan::gateway

#endif  // SAMPLAN_SERVICES_GATEWAY_GATEWAY_H_
