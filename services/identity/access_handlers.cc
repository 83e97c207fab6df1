// IdentityService: access decisions (CheckAccess, BreakGlass).

#include "services/identity/identity_service.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/ids.h"
#include "common/outbox.h"
#include "common/status.h"
#include "samplan/identity/v1/events.pb.h"
#include "services/identity/handler_support.h"
#include "services/identity/identity_rules.h"

namespace samplan::identity {

grpc::Status IdentityService::CheckAccess(grpc::ServerContext* context,
                                          const v1::CheckAccessRequest* request,
                                          v1::CheckAccessResponse* response) {
  return calls_.Handle(context, "CheckAccess", *request, [&](const CallContext& call) -> absl::Status {
    FieldViolations v;
    if (ResourceId(request->organization(), "organizations").empty()) {
      v.Add("organization", "must be organizations/{id}");
    }
    if (PersonIdOf(request->person()).empty()) v.Add("person", "must be persons/{id}");
    if (!IsDataCategory(request->data_category())) {
      v.Add("data_category", "must be plan, person, contact, health, attendance, placement or outcome");
    }
    if (!IsPurpose(request->purpose())) {
      v.Add("purpose", "must be coordination, placement or follow_up");
    }
    if (!v.empty()) return v.ToStatus();
    if (request->organization() != call.principal.organization) {
      return absl::PermissionDeniedError(
          "an organization may ask only about its own access: organization must be the "
          "caller's");
    }
    absl::StatusOr<AccessDecision> decision =
        repository_.CheckAccess(CallerOf(call, "CheckAccess"), request->person(),
                                request->data_category(), request->purpose());
    if (!decision.ok()) return decision.status();
    response->set_permitted(decision->permitted);
    response->set_consent(decision->consent);
    response->set_reason(CallerVisibleReason(*decision));
    return absl::OkStatus();
  });
}

grpc::Status IdentityService::BreakGlass(grpc::ServerContext* context,
                                         const v1::BreakGlassRequest* request,
                                         v1::BreakGlassAccess* response) {
  return calls_.Handle(context, "BreakGlass", *request, [&](const CallContext& call) -> absl::Status {
    absl::StatusOr<absl::Duration> duration = ValidateBreakGlass(*request);
    if (!duration.ok()) return duration.status();
    v1::BreakGlassAccess access;
    access.set_name(absl::StrCat("breakGlassAccesses/", NewUuid()));
    access.set_person(request->person());
    access.set_organization(call.principal.organization);
    access.set_user(call.principal.user);
    access.set_data_category(request->data_category());
    access.set_reason(std::string(absl::StripAsciiWhitespace(request->reason())));
    *access.mutable_create_time() = Timestamp(call.now);
    *access.mutable_expire_time() = Timestamp(call.now + *duration);

    const auto event_of = [&](const StoredPerson& person) {
      v1::BreakGlassGranted payload;
      payload.set_break_glass_access(access.name());
      payload.set_person(person.name());
      payload.set_owner_organization(person.owner_organization);
      payload.set_organization(access.organization());
      payload.set_user(access.user());
      payload.set_data_category(access.data_category());
      *payload.mutable_expire_time() = access.expire_time();
      events::v1::Event event =
          MakeEvent("identity.break_glass.granted", person.municipality, access.name(), 1,
                    person.name(), access.data_category(), payload, OriginOf(call));
      // Told to the owner and to the organization that used it, no one else.
      event.set_owner_organization(person.owner_organization);
      event.add_participant_organizations(access.organization());
      return event;
    };
    absl::Status granted = repository_.BreakGlass(CallerOf(call, "BreakGlass"), access, event_of);
    if (!granted.ok()) return granted;
    *response = std::move(access);
    return absl::OkStatus();
  });
}

}  // namespace samplan::identity
