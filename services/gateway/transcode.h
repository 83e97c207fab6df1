#ifndef SAMPLAN_SERVICES_GATEWAY_TRANSCODE_H_
#define SAMPLAN_SERVICES_GATEWAY_TRANSCODE_H_

// HTTP/JSON to gRPC and back, by the rules of google.api.http (AIP-127) and
// proto3 JSON, as grpc-gateway v2 does it. No I/O here.

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <grpcpp/support/status.h>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "services/gateway/routes.h"

namespace samplan::gateway {

// The parts of an HTTP request a call is built from.
struct HttpCall {
  std::string http_method;
  std::vector<PathBinding> bindings;
  // Query parameters, decoded, in order; a repeated field takes each value.
  std::vector<std::pair<std::string, std::string>> query;
  std::string body;
  // The If-Match header: the etag the change is conditional on.
  std::string if_match;
};

// Returns the fields along `field_path` ("plan.name"; proto or JSON names) of
// `type`, or INVALID_ARGUMENT when one is missing or a repeated or scalar field is
// passed through.
absl::StatusOr<std::vector<const google::protobuf::FieldDescriptor*>> FindFieldPath(
    const google::protobuf::Descriptor& type, absl::string_view field_path);

// Builds the request of `route`'s method: the body into the body field (or the
// whole request for "*"), then the path variables, then the query parameters
// into the remaining fields. For PATCH without an `update_mask` query parameter,
// fills `update_mask` with the top-level fields present in the body; If-Match
// sets the request's `etag` (or the body's). INVALID_ARGUMENT with a BadRequest
// naming the field for malformed JSON, a wrong type, an unknown enum name, an
// unknown field or parameter.
absl::Status BuildRequest(const Route& route, const HttpCall& call,
                          google::protobuf::Message& request);

// Returns the response as proto3 JSON (lowerCamelCase names, every field printed);
// only `route.response_body` when the route names one.
std::string ResponseJson(const Route& route, const google::protobuf::Message& response);

// Returns the top-level `etag` of `message`, empty if it has none.
std::string EtagOf(const google::protobuf::Message& message);

// The HTTP status of a gRPC code, as grpc-gateway v2 maps it.
int HttpStatusFromCode(grpc::StatusCode code);

// Returns `status` as google.rpc.Status JSON: code, message and the details sent
// in grpc-status-details-bin.
std::string ErrorJson(const grpc::Status& status);

// Parses a deadline header in gRPC's own format ("10S", "250m", "1H"; units H, M,
// S, m, u, n), as the `grpc-timeout` header of grpc-gateway; nothing if malformed.
std::optional<absl::Duration> ParseTimeout(absl::string_view text);

}  // namespace samplan::gateway

#endif  // SAMPLAN_SERVICES_GATEWAY_TRANSCODE_H_
