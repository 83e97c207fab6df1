#ifndef SAMPLAN_SERVICES_GATEWAY_OPENAPI_H_
#define SAMPLAN_SERVICES_GATEWAY_OPENAPI_H_

// Writes the OpenAPI 3 document of the HTTP routes of services, with their
// proto comments as descriptions. No I/O here: the build runs it over the
// descriptor set protoc writes (openapi_main.cc), and the gateway serves the
// result (openapi_document.h).

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "google/protobuf/descriptor.h"

namespace samplan::gateway {

// Returns the document as JSON; INVALID_ARGUMENT when an annotation does not fit.
absl::StatusOr<std::string> WriteOpenApi(
    const std::vector<const google::protobuf::ServiceDescriptor*>& services);

}  // namespace samplan::gateway

#endif  // SAMPLAN_SERVICES_GATEWAY_OPENAPI_H_
