#include "common/call.h"

#include <chrono>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/ids.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/status.h"

namespace samplan {
namespace {

absl::string_view Metadata(const grpc::ServerContextBase* context, absl::string_view key) {
  const auto& metadata = context->client_metadata();
  auto it = metadata.find(grpc::string_ref(key.data(), key.size()));
  if (it == metadata.end()) return {};
  return absl::string_view(it->second.data(), it->second.size());
}

bool IsWellFormedRequestId(absl::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    if (!absl::ascii_isalnum(c) && c != '-' && c != '_' && c != '.' && c != ':') {
      return false;
    }
  }
  return true;
}

}  // namespace

CallHandler::CallHandler(const TokenVerifier& verifier, absl::Duration default_timeout,
                         const Clock& clock)
    : verifier_(verifier), default_timeout_(default_timeout), clock_(clock) {
  Metrics::Global().Describe("samplan_grpc_calls_total", "counter",
                             "Calls answered, by method and status code.");
  Metrics::Global().Describe("samplan_grpc_call_duration_seconds", "histogram",
                             "Time from a call's arrival to its answer, by method.");
}

grpc::Status CallHandler::Handle(
    grpc::ServerContextBase* context, absl::string_view method,
    absl::FunctionRef<absl::Status(const CallContext&)> body) const {
  const absl::Time started = absl::Now();
  absl::string_view given_id = Metadata(context, "x-request-id");
  std::string request_id =
      IsWellFormedRequestId(given_id) ? std::string(given_id) : NewUuid();
  context->AddInitialMetadata("x-request-id", request_id);
  ScopedRequestId scoped_id(request_id);

  CallContext call;
  call.request_id = request_id;
  call.request_id_from_caller = IsWellFormedRequestId(given_id);
  call.now = clock_.Now();
  // gRPC reports "no deadline" as the far future; the server's default applies then.
  const absl::Time client_deadline = absl::FromChrono(context->deadline());
  call.deadline = client_deadline == absl::InfiniteFuture() ||
                          client_deadline - started > absl::Hours(24)
                      ? started + default_timeout_
                      : client_deadline;

  absl::Status status;
  absl::string_view authorization = Metadata(context, "authorization");
  if (call.deadline <= started) {
    status = absl::DeadlineExceededError("the call's deadline had passed on arrival");
  } else if (!absl::StartsWithIgnoreCase(authorization, "bearer ")) {
    status = absl::UnauthenticatedError(
        "missing credentials: send metadata \"authorization: Bearer <token>\"");
  } else {
    absl::string_view token =
        absl::StripAsciiWhitespace(authorization.substr(absl::string_view("bearer ").size()));
    absl::StatusOr<Principal> principal =
        verifier_.Verify(std::string_view(token.data(), token.size()));
    if (!principal.ok()) {
      status = principal.status();
    } else {
      call.principal = *std::move(principal);
      status = body(call);
    }
  }
  const absl::Duration took = absl::Now() - started;
  const std::string code = absl::StatusCodeToString(status.code());
  Log(status.ok() ? LogLevel::kInfo : LogLevel::kWarning, "call",
      {{"method", method},
       {"code", code},
       {"duration_ms", absl::ToDoubleMilliseconds(took)},
       {"organization", call.principal.organization}});
  Metrics::Global().Add("samplan_grpc_calls_total",
                        absl::StrCat("method=\"", method, "\",code=\"", code, "\""));
  Metrics::Global().Observe("samplan_grpc_call_duration_seconds",
                            absl::StrCat("method=\"", method, "\""),
                            absl::ToDoubleSeconds(took));
  return ToGrpcStatus(status, request_id);
}

}  // namespace samplan
