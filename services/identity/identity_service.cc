// IdentityService: its construction and what its handlers share
// (handler_support.h). The handlers are in one file per resource:
//
//   directory_handlers.cc  municipalities, organizations, users
//   person_handlers.cc     persons
//   consent_handlers.cc    consents
//   access_handlers.cc     CheckAccess, BreakGlass
//   audit_handlers.cc      ListAccessLog, VerifyAuditLog, ReviewAccess

#include "services/identity/identity_service.h"

#include <google/protobuf/util/time_util.h>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "services/identity/handler_support.h"
#include "services/identity/identity_rules.h"

namespace samplan::identity {

using ::google::protobuf::util::TimeUtil;

google::protobuf::Timestamp Timestamp(absl::Time time) {
  return TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(time));
}

absl::Time TimeOf(const google::protobuf::Timestamp& timestamp) {
  return absl::FromUnixMicros(TimeUtil::TimestampToMicroseconds(timestamp));
}

EventOrigin OriginOf(const CallContext& call) {
  return {call.principal.organization, call.principal.user, call.request_id, call.now};
}

std::string IdOf(absl::string_view name) {
  return std::string(name.substr(name.find('/') + 1));
}

absl::Status RequireRole(const Principal& principal, absl::string_view role) {
  if (principal.HasRole(std::string_view(role.data(), role.size()))) return absl::OkStatus();
  return absl::PermissionDeniedError(absl::StrCat("this call needs role ", role));
}

absl::StatusOr<std::string> CreateRequestId(const std::string& given, const CallContext& call) {
  if (given.empty()) return call.request_id;
  if (!IsRequestId(given)) {
    return InvalidField("request_id", "must be 1 to 100 characters of [A-Za-z0-9_-]");
  }
  return given;
}

AuditEntry CallAudit(const CallContext& call, absl::string_view action,
                     absl::string_view resource, bool permitted, absl::string_view reason) {
  AuditEntry entry;
  entry.time = call.now;
  entry.municipality = call.principal.municipality;
  entry.actor_user = call.principal.user;
  entry.actor_organization = call.principal.organization;
  entry.action = std::string(action);
  entry.resource = std::string(resource);
  entry.decision = permitted ? "permit" : "deny";
  entry.reason = std::string(reason);
  entry.request_id = call.request_id;
  return entry;
}

Caller CallerOf(const CallContext& call, absl::string_view method) {
  return {call.principal, absl::StrCat("identity.", method), call.request_id, call.now,
          call.deadline};
}

IdentityService::IdentityService(IdentityRepository& repository,
                                 const IdentityNumberProtector& protector,
                                 const CallHandler& calls, const AuditSealer* sealer)
    : repository_(repository), protector_(protector), calls_(calls), sealer_(sealer) {}

}  // namespace samplan::identity
