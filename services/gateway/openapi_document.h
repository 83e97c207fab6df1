#ifndef SAMPLAN_SERVICES_GATEWAY_OPENAPI_DOCUMENT_H_
#define SAMPLAN_SERVICES_GATEWAY_OPENAPI_DOCUMENT_H_

#include <string>

namespace samplan::gateway {

// Returns the OpenAPI document written at build time from the protos.
const std::string& OpenApiDocument();

}  // namespace samplan::gateway

#endif  // SAMPLAN_SERVICES_GATEWAY_OPENAPI_DOCUMENT_H_
