#ifndef SAMPLAN_COMMON_CALL_H_
#define SAMPLAN_COMMON_CALL_H_

// What every unary handler does around its own logic: request id in and out,
// authentication, the call's deadline, one conversion of the outcome to gRPC, and
// one log line per call, counted per method and code in samplan_grpc_calls_total
// and timed per method in samplan_grpc_call_duration_seconds (common/metrics.h).

#include <string>
#include <vector>
#include "absl/strings/string_view.h"

#include <grpcpp/server_context.h>
#include <grpcpp/support/server_interceptor.h>

#include <memory>

#include <google/protobuf/message.h>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/auth.h"
#include "common/clock.h"

namespace samplan {

// The facts of one authenticated call, handed to the handler's body.
struct CallContext {
  Principal principal;
  std::string request_id;
  // Whether the caller sent the request id (x-request-id) rather than the server
  // making one up; only a caller's own id can mark a retry.
  bool request_id_from_caller = false;
  // When the answer is due: the client's deadline, or the server's default
  // (SAMPLAN_CALL_TIMEOUT) when the client set none. Database waits stop here.
  absl::Time deadline;
  absl::Time now;
};

class CallHandler {
 public:
  // `verifier` and `clock` must outlive the handler. `methods_without_token`
  // names the methods (as passed to Handle) that the service declares open to
  // callers without an account — a respondent holding an invitation token, say:
  // their body runs with an empty principal whatever `authorization` holds, and
  // must identify the caller by what the request carries. Every other method
  // needs a valid bearer token.
  CallHandler(const TokenVerifier& verifier, absl::Duration default_timeout,
              const Clock& clock = RealClock(),
              std::vector<std::string> methods_without_token = {});

  // Runs `body` for an authenticated caller and returns its outcome as a gRPC
  // status. A `request` whose strings hold a NUL character gets INVALID_ARGUMENT
  // naming each such field (common/text.h) and `body` does not run. The request
  // id is the caller's `x-request-id` when well-formed (1 to 128 characters of
  // [A-Za-z0-9._:-], holding nothing shaped like a personnummer: common/ids.h),
  // otherwise a new UUID; it is sent back as initial metadata `x-request-id`. A call without a valid `authorization: Bearer`
  // token gets UNAUTHENTICATED and `body` does not run; so does a call whose
  // deadline has already passed (DEADLINE_EXCEEDED). Streaming calls (callback
  // API) use it for their start: authentication and validation.
  grpc::Status Handle(grpc::ServerContextBase* context, absl::string_view method,
                      const google::protobuf::Message& request,
                      absl::FunctionRef<absl::Status(const CallContext&)> body) const;

 private:
  const TokenVerifier& verifier_;
  const absl::Duration default_timeout_;
  const Clock& clock_;
  const std::vector<std::string> methods_without_token_;
};

// Returns the interceptor every server installs (common/server.cc) for calls that
// never reach a handler because their request could not be parsed — invalid UTF-8
// in a string field, nesting too deep, bytes that are no message of the request's
// type. gRPC answers those INTERNAL (UNIMPLEMENTED for a streaming call) with
// nothing in the log; a client's bad bytes are INVALID_ARGUMENT instead, with a
// BadRequest naming the field where protobuf names it ("request" otherwise) and
// the RequestInfo every answer carries, and one call log line like any other.
std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
MalformedRequestInterceptorFactory();

// Sends protobuf's own log lines through common/log.h as JSON (they name fields
// and types, never values), and notes which field a failing parse complained of
// for MalformedRequestInterceptorFactory's answer. Call once, before serving.
void RouteProtobufLogging();

}  // namespace samplan

#endif  // SAMPLAN_COMMON_CALL_H_
