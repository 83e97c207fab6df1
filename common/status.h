#ifndef SAMPLAN_COMMON_STATUS_H_
#define SAMPLAN_COMMON_STATUS_H_

// Errors: absl::Status inside the code, with google.rpc details carried as status
// payloads; one conversion to grpc::Status at the edge (ToGrpcStatus), and one
// mapping of libpqxx exceptions at the repository boundary (StatusFromPqxx).

#include <exception>
#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace samplan {

// Collects invalid fields of a request and turns them into one INVALID_ARGUMENT
// with a google.rpc.BadRequest detail naming each field.
class FieldViolations {
 public:
  // Records that `field` (a path such as "plan.goals[2].description") is invalid.
  void Add(std::string field, std::string description);
  bool empty() const { return violations_.empty(); }
  // Returns OK when nothing was added, otherwise INVALID_ARGUMENT whose message
  // lists the fields.
  absl::Status ToStatus() const;

 private:
  std::vector<std::pair<std::string, std::string>> violations_;
};

// Returns INVALID_ARGUMENT for a single invalid field.
absl::Status InvalidField(std::string field, std::string description);

// Returns ABORTED with a google.rpc.PreconditionFailure (type "ETAG") for
// `subject`, and ErrorInfo reason "ETAG_MISMATCH".
absl::Status EtagMismatch(std::string subject, std::string description);

// Returns FAILED_PRECONDITION with a google.rpc.PreconditionFailure of `type`
// (for example "CONSENT") about `subject`, and ErrorInfo reason `type`: the
// state of something other than the request stands in the way, and the
// client can tell what from the detail.
absl::Status PreconditionFailed(std::string type, std::string subject, std::string description);

// Returns the google.rpc.BadRequest field violations carried by `status`, as
// (field, description) pairs; empty if none. For tests and clients of the helpers.
std::vector<std::pair<std::string, std::string>> FieldViolationsOf(
    const absl::Status& status);

// Converts a status to what goes on the wire: the code, the message, and a
// google.rpc.Status in `grpc-status-details-bin` with the status's details plus a
// RequestInfo. INTERNAL, UNKNOWN and DATA_LOSS answers carry a generic message with
// the request id; their detail is logged instead, never sent.
grpc::Status ToGrpcStatus(const absl::Status& status, absl::string_view request_id);

// Returns the first line of an exception's message: libpq adds DETAIL lines that
// can quote the values of a row, which must not reach a log.
std::string ErrorSummary(const std::exception& error);

// Maps an exception thrown by libpqxx (or anything else) to a status: unique
// violation → ALREADY_EXISTS, serialization failure or deadlock → ABORTED, broken
// connection or unknown commit outcome → UNAVAILABLE, statement timeout or
// cancellation → DEADLINE_EXCEEDED, a value the database refused (class 22) →
// INVALID_ARGUMENT, other errors → INTERNAL. The message is ErrorSummary's: never
// the SQL's parameters or a row's values.
absl::Status StatusFromException(const std::exception& error);

}  // namespace samplan

#endif  // SAMPLAN_COMMON_STATUS_H_
