#ifndef SAMPLAN_TOOLS_RPC_TEXT_H_
#define SAMPLAN_TOOLS_RPC_TEXT_H_

// Readable text of a failed gRPC call, for the command-line tools: the code's
// name and the google.rpc details the server sent in `grpc-status-details-bin`.

#include <string>
#include <vector>

#include <grpcpp/client_context.h>
#include <grpcpp/support/status.h>

namespace samplan::tools {

// "PERMISSION_DENIED", "INVALID_ARGUMENT", …; "CODE_<n>" for an unknown code.
std::string StatusCodeName(grpc::StatusCode code);

// One line per google.rpc detail of `status`, each starting with two spaces, for
// example "  field plan.person: must be a person name, persons/{id}". The details
// come from the status itself or, failing that, from the trailing metadata of
// `context` (may be null). Empty when the server sent none.
std::vector<std::string> StatusDetailLines(const grpc::Status& status,
                                           const grpc::ClientContext* context);

// "CODE: message" followed by the detail lines, each line ending in a newline.
std::string DescribeStatus(const grpc::Status& status, const grpc::ClientContext* context);

}  // namespace samplan::tools

#endif  // SAMPLAN_TOOLS_RPC_TEXT_H_
