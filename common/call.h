#ifndef SAMPLAN_COMMON_CALL_H_
#define SAMPLAN_COMMON_CALL_H_

// What every unary handler does around its own logic: request id in and out,
// authentication, the call's deadline, one conversion of the outcome to gRPC, and
// one log line per call.

#include <string>
#include "absl/strings/string_view.h"

#include <grpcpp/server_context.h>

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
  // `verifier` and `clock` must outlive the handler.
  CallHandler(const TokenVerifier& verifier, absl::Duration default_timeout,
              const Clock& clock = RealClock());

  // Runs `body` for an authenticated caller and returns its outcome as a gRPC
  // status. The request id is the caller's `x-request-id` when well-formed (1 to
  // 128 characters of [A-Za-z0-9._:-]), otherwise a new UUID; it is sent back as
  // initial metadata `x-request-id`. A call without a valid `authorization: Bearer`
  // token gets UNAUTHENTICATED and `body` does not run; so does a call whose
  // deadline has already passed (DEADLINE_EXCEEDED). Streaming calls (callback
  // API) use it for their start: authentication and validation.
  grpc::Status Handle(grpc::ServerContextBase* context, absl::string_view method,
                      absl::FunctionRef<absl::Status(const CallContext&)> body) const;

 private:
  const TokenVerifier& verifier_;
  const absl::Duration default_timeout_;
  const Clock& clock_;
};

}  // namespace samplan

#endif  // SAMPLAN_COMMON_CALL_H_
