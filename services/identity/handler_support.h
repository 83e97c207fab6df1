#ifndef SAMPLAN_SERVICES_IDENTITY_HANDLER_SUPPORT_H_
#define SAMPLAN_SERVICES_IDENTITY_HANDLER_SUPPORT_H_

// Internal to the handlers of IdentityService: what more than one of its handler
// files uses (directory_handlers.cc, person_handlers.cc, consent_handlers.cc,
// access_handlers.cc, audit_handlers.cc). Defined in identity_service.cc.

#include <string>

#include <google/protobuf/timestamp.pb.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/access.h"
#include "common/auth.h"
#include "common/call.h"
#include "common/outbox.h"

namespace samplan::identity {

// The time as the API shows it, and back.
google::protobuf::Timestamp Timestamp(absl::Time time);
absl::Time TimeOf(const google::protobuf::Timestamp& timestamp);

// Who made a change in `call`, for its event.
EventOrigin OriginOf(const CallContext& call);

// Returns the id of a resource name: what follows its first '/'.
std::string IdOf(absl::string_view name);

// Returns OK when `principal` holds `role`, PERMISSION_DENIED naming it otherwise.
absl::Status RequireRole(const Principal& principal, absl::string_view role);

// Returns the request id that makes a Create idempotent: the caller's (`given`),
// or the call's when the caller sent none; INVALID_ARGUMENT naming request_id
// when `given` is not one.
absl::StatusOr<std::string> CreateRequestId(const std::string& given, const CallContext& call);

// The caller of `method` ("GetPerson") in `call`, for the repository's guarded
// calls: what their access decisions and audit records are about.
Caller CallerOf(const CallContext& call, absl::string_view method);

// The audit record of a call the access rule does not govern but that the log
// must show: an administrator's change the rule relies on (an organization's
// kind), a supervisor's look at the log. It names no person, so it goes to the
// chain of none.
AuditEntry CallAudit(const CallContext& call, absl::string_view action,
                     absl::string_view resource, bool permitted, absl::string_view reason);

}  // namespace samplan::identity

#endif  // SAMPLAN_SERVICES_IDENTITY_HANDLER_SUPPORT_H_
