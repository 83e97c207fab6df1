// IdentityService: the directory: municipalities, organizations and users.

#include "services/identity/identity_service.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/ids.h"
#include "common/outbox.h"
#include "common/paging.h"
#include "common/status.h"
#include "samplan/identity/v1/events.pb.h"
#include "services/identity/handler_support.h"
#include "services/identity/identity_rules.h"

namespace samplan::identity {
namespace {

bool Serves(const v1::Organization& organization, absl::string_view municipality) {
  const auto& served = organization.municipalities();
  return std::find(served.begin(), served.end(), municipality) != served.end();
}

// Publishes an organization event on the stream of every municipality it serves.
void PublishOrganization(IdentityStore& store, absl::string_view type,
                         const v1::Organization& organization,
                         const std::vector<std::string>& changed, const CallContext& call) {
  v1::OrganizationChanged payload;
  payload.set_organization(organization.name());
  payload.set_version(organization.version());
  for (const std::string& field : changed) payload.add_changed_fields(field);
  for (const std::string& municipality : organization.municipalities()) {
    store.Publish(MakeEvent(type, municipality, organization.name(), organization.version(), "",
                            "", payload, OriginOf(call)));
  }
}

std::string OrganizationRefusalMessage(absl::string_view refusal) {
  if (refusal == "kind_widens_break_glass") {
    return "an organization gets a kind whose caseworkers may break the glass only when it "
           "is registered; register a new organization for that";
  }
  if (refusal == "shared_organization_kind") {
    return "the organization serves other municipalities too; its kind is not one "
           "municipality's to change";
  }
  return "an administrator adds or removes only its own municipality";
}

}  // namespace

grpc::Status IdentityService::CreateMunicipality(grpc::ServerContext* context,
                                                 const v1::CreateMunicipalityRequest* request,
                                                 v1::Municipality* response) {
  return calls_.Handle(context, "CreateMunicipality", *request, [&](const CallContext& call) {
    if (absl::Status role = RequireRole(call.principal, "administrator"); !role.ok()) return role;
    if (absl::Status valid = ValidateMunicipality(request->municipality()); !valid.ok()) {
      return valid;
    }
    v1::Municipality municipality;
    municipality.set_code(request->municipality().code());
    municipality.set_name(absl::StrCat("municipalities/", municipality.code()));
    municipality.set_display_name(request->municipality().display_name());
    *municipality.mutable_create_time() = Timestamp(call.now);
    absl::Status status = repository_.Transaction(call.deadline, [&](IdentityStore& store) {
      if (!store.InsertMunicipality(municipality, call.now)) {
        return absl::AlreadyExistsError(
            absl::StrCat(municipality.name(), " is already registered"));
      }
      v1::MunicipalityChanged payload;
      payload.set_municipality(municipality.name());
      store.Publish(MakeEvent("identity.municipality.created", municipality.code(),
                              municipality.name(), 1, "", "", payload, OriginOf(call)));
      return absl::OkStatus();
    });
    if (!status.ok()) return status;
    *response = std::move(municipality);
    return absl::OkStatus();
  });
}

grpc::Status IdentityService::GetMunicipality(grpc::ServerContext* context,
                                              const v1::GetMunicipalityRequest* request,
                                              v1::Municipality* response) {
  return calls_.Handle(context, "GetMunicipality", *request, [&](const CallContext& call) {
    const std::string code(ResourceId(request->name(), "municipalities"));
    if (!IsMunicipalityCode(code)) {
      return InvalidField("name", "must be municipalities/{kommunkod}");
    }
    std::optional<v1::Municipality> found;
    absl::Status status = repository_.Read(call.deadline, [&](IdentityStore& store) {
      found = store.FindMunicipality(code);
      return absl::OkStatus();
    });
    if (!status.ok()) return status;
    if (!found) return absl::NotFoundError(absl::StrCat(request->name(), " is not registered"));
    *response = *std::move(found);
    return absl::OkStatus();
  });
}

grpc::Status IdentityService::ListMunicipalities(grpc::ServerContext* context,
                                                 const v1::ListMunicipalitiesRequest* request,
                                                 v1::ListMunicipalitiesResponse* response) {
  return calls_.Handle(context, "ListMunicipalities", *request, [&](const CallContext& call) {
    absl::StatusOr<int> page_size = PageSizeOf(request->page_size());
    if (!page_size.ok()) return page_size.status();
    // No filters: every token of this call is bound to the same (empty) ones.
    constexpr absl::string_view kFilters = "";
    std::string after;
    if (!request->page_token().empty()) {
      absl::StatusOr<std::vector<std::string>> position =
          DecodePageToken(request->page_token(), kFilters, 1);
      if (!position.ok()) return position.status();
      after = (*position)[0];
    }
    std::vector<v1::Municipality> page;
    absl::Status status = repository_.Read(call.deadline, [&](IdentityStore& store) {
      page = store.ListMunicipalities(after, *page_size + 1);
      return absl::OkStatus();
    });
    if (!status.ok()) return status;
    const bool more = TrimToPage(page, *page_size);
    for (v1::Municipality& municipality : page) {
      *response->add_municipalities() = std::move(municipality);
    }
    if (more) {
      response->set_next_page_token(
          EncodePageToken(kFilters, {response->municipalities().rbegin()->code()}));
    }
    return absl::OkStatus();
  });
}

grpc::Status IdentityService::CreateOrganization(grpc::ServerContext* context,
                                                 const v1::CreateOrganizationRequest* request,
                                                 v1::Organization* response) {
  return calls_.Handle(context, "CreateOrganization", *request, [&](const CallContext& call) {
    if (absl::Status role = RequireRole(call.principal, "administrator"); !role.ok()) return role;
    if (!IsCallerChosenId(request->organization_id())) {
      return InvalidField("organization_id", "must be 2 to 63 characters of [a-z0-9-]");
    }
    if (absl::Status valid = ValidateOrganization(request->organization(), "organization");
        !valid.ok()) {
      return valid;
    }
    if (!Serves(request->organization(), call.principal.municipality)) {
      return absl::PermissionDeniedError(
          "an administrator registers only organizations that serve its own municipality");
    }
    v1::Organization organization = request->organization();
    organization.set_name(absl::StrCat("organizations/", request->organization_id()));
    organization.set_version(1);
    organization.set_etag("1");
    *organization.mutable_create_time() = Timestamp(call.now);
    *organization.mutable_update_time() = Timestamp(call.now);
    absl::Status status = repository_.Transaction(call.deadline, [&](IdentityStore& store) {
      const std::vector<std::string> codes(organization.municipalities().begin(),
                                           organization.municipalities().end());
      const std::vector<std::string> unknown = store.UnknownMunicipalities(codes);
      if (!unknown.empty()) {
        FieldViolations v;
        for (int i = 0; i < organization.municipalities_size(); ++i) {
          if (std::find(unknown.begin(), unknown.end(), organization.municipalities(i)) !=
              unknown.end()) {
            v.Add(absl::StrCat("organization.municipalities[", i, "]"),
                  "is not a registered municipality");
          }
        }
        return v.ToStatus();
      }
      if (!store.InsertOrganization(request->organization_id(), organization, call.now)) {
        return absl::AlreadyExistsError(absl::StrCat(organization.name(), " already exists"));
      }
      PublishOrganization(store, "identity.organization.created", organization,
                          UpdatableOrganizationFields(), call);
      return absl::OkStatus();
    });
    if (!status.ok()) return status;
    *response = std::move(organization);
    return absl::OkStatus();
  });
}

grpc::Status IdentityService::GetOrganization(grpc::ServerContext* context,
                                              const v1::GetOrganizationRequest* request,
                                              v1::Organization* response) {
  return calls_.Handle(context, "GetOrganization", *request, [&](const CallContext& call) {
    const std::string id(ResourceId(request->name(), "organizations"));
    if (id.empty()) return InvalidField("name", "must be organizations/{id}");
    std::optional<v1::Organization> found;
    absl::Status status = repository_.Read(call.deadline, [&](IdentityStore& store) {
      found = store.FindOrganization(id, false);
      return absl::OkStatus();
    });
    if (!status.ok()) return status;
    if (!found) return absl::NotFoundError(absl::StrCat(request->name(), " is not registered"));
    *response = *std::move(found);
    return absl::OkStatus();
  });
}

grpc::Status IdentityService::ListOrganizations(grpc::ServerContext* context,
                                                const v1::ListOrganizationsRequest* request,
                                                v1::ListOrganizationsResponse* response) {
  return calls_.Handle(context, "ListOrganizations", *request, [&](const CallContext& call) {
    if (!request->municipality().empty() && !IsMunicipalityCode(request->municipality())) {
      return InvalidField("municipality", "must be a kommunkod of four digits");
    }
    absl::StatusOr<int> page_size = PageSizeOf(request->page_size());
    if (!page_size.ok()) return page_size.status();
    const std::string& filters = request->municipality();
    std::string after;
    if (!request->page_token().empty()) {
      absl::StatusOr<std::vector<std::string>> position =
          DecodePageToken(request->page_token(), filters, 1);
      if (!position.ok()) return position.status();
      after = (*position)[0];
    }
    std::vector<v1::Organization> page;
    absl::Status status = repository_.Read(call.deadline, [&](IdentityStore& store) {
      page = store.ListOrganizations(request->municipality(), after, *page_size + 1);
      return absl::OkStatus();
    });
    if (!status.ok()) return status;
    const bool more = TrimToPage(page, *page_size);
    for (v1::Organization& organization : page) {
      *response->add_organizations() = std::move(organization);
    }
    if (more) {
      response->set_next_page_token(
          EncodePageToken(filters, {IdOf(response->organizations().rbegin()->name())}));
    }
    return absl::OkStatus();
  });
}

grpc::Status IdentityService::UpdateOrganization(grpc::ServerContext* context,
                                                 const v1::UpdateOrganizationRequest* request,
                                                 v1::Organization* response) {
  return calls_.Handle(context, "UpdateOrganization", *request, [&](const CallContext& call) {
    if (absl::Status role = RequireRole(call.principal, "administrator"); !role.ok()) return role;
    const std::string id(ResourceId(request->organization().name(), "organizations"));
    if (id.empty()) return InvalidField("organization.name", "must be organizations/{id}");
    v1::Organization stored;
    absl::Status denied;
    absl::Status status = repository_.Transaction(call.deadline, [&](IdentityStore& store) {
      std::optional<v1::Organization> current = store.FindOrganization(id, true);
      if (!current) {
        return absl::NotFoundError(
            absl::StrCat(request->organization().name(), " is not registered"));
      }
      if (!Serves(*current, call.principal.municipality)) {
        return absl::PermissionDeniedError(
            "an administrator changes only organizations that serve its own municipality");
      }
      const std::string& etag = request->organization().etag();
      if (!etag.empty() && etag != current->etag()) {
        return EtagMismatch(current->name(),
                            "the organization has changed since this etag was read");
      }
      absl::StatusOr<v1::Organization> next =
          ApplyOrganizationUpdate(*current, request->organization(), request->update_mask());
      if (!next.ok()) return next.status();
      const std::vector<std::string> changed =
          ChangedFields(*current, *next, UpdatableOrganizationFields());
      if (changed.empty()) {
        stored = *std::move(current);
        return absl::OkStatus();
      }
      if (absl::Status valid = ValidateOrganization(*next, "organization"); !valid.ok()) {
        return valid;
      }
      if (!Serves(*next, call.principal.municipality)) {
        return InvalidField("organization.municipalities",
                            "must keep the caller's own municipality");
      }
      const std::vector<std::string> unknown = store.UnknownMunicipalities(
          {next->municipalities().begin(), next->municipalities().end()});
      if (!unknown.empty()) {
        return InvalidField("organization.municipalities",
                            absl::StrCat("names a municipality that is not registered: ",
                                         unknown.front()));
      }
      // The access rule trusts an organization's kind and municipalities: a
      // refusal is audited and committed, a change of kind audited beside its event.
      const std::string refusal =
          OrganizationChangeRefusal(*current, *next, call.principal.municipality);
      const bool kind_changed = next->kind() != current->kind();
      if (!refusal.empty() || kind_changed) {
        store.Audit(CallAudit(call, "identity.UpdateOrganization", current->name(),
                                   refusal.empty(), refusal.empty() ? "kind_changed" : refusal));
      }
      if (!refusal.empty()) {
        denied = absl::PermissionDeniedError(OrganizationRefusalMessage(refusal));
        stored = *std::move(current);
        return absl::OkStatus();
      }
      next->set_version(store.UpdateOrganization(id, *next, call.now));
      next->set_etag(absl::StrCat(next->version()));
      *next->mutable_update_time() = Timestamp(call.now);
      PublishOrganization(store, "identity.organization.updated", *next, changed, call);
      stored = *std::move(next);
      return absl::OkStatus();
    });
    if (!status.ok()) return status;
    if (!denied.ok()) return denied;
    *response = std::move(stored);
    return absl::OkStatus();
  });
}

grpc::Status IdentityService::CreateUser(grpc::ServerContext* context,
                                         const v1::CreateUserRequest* request,
                                         v1::User* response) {
  return calls_.Handle(context, "CreateUser", *request, [&](const CallContext& call) {
    if (!IsCallerChosenId(request->user_id())) {
      return InvalidField("user_id", "must be 2 to 63 characters of [a-z0-9-]");
    }
    if (absl::Status valid = ValidateUser(request->user()); !valid.ok()) return valid;
    v1::User user = request->user();
    user.set_name(absl::StrCat("users/", request->user_id()));
    user.set_version(1);
    user.set_etag("1");
    *user.mutable_create_time() = Timestamp(call.now);
    *user.mutable_update_time() = Timestamp(call.now);
    absl::Status status = repository_.Transaction(call.deadline, [&](IdentityStore& store) {
      std::vector<std::string> organizations;
      for (const v1::Membership& membership : user.memberships()) {
        organizations.push_back(IdOf(membership.organization()));
      }
      if (std::vector<std::string> unknown = store.UnknownOrganizations(organizations);
          !unknown.empty()) {
        return InvalidField("user.memberships",
                            absl::StrCat("names an organization that is not registered: "
                                         "organizations/",
                                         unknown.front()));
      }
      // The caller administers its own organization by its token's role, and the
      // others by its memberships.
      std::optional<v1::User> caller;
      for (const v1::Membership& membership : user.memberships()) {
        bool administers = membership.organization() == call.principal.organization &&
                           call.principal.HasRole("administrator");
        if (!administers) {
          if (!caller) caller = store.FindUser(IdOf(call.principal.user));
          if (caller) {
            for (const v1::Membership& own : caller->memberships()) {
              if (own.organization() == membership.organization() &&
                  std::find(own.roles().begin(), own.roles().end(), "administrator") !=
                      own.roles().end()) {
                administers = true;
              }
            }
          }
        }
        if (!administers) {
          return absl::PermissionDeniedError(absl::StrCat(
              "only an administrator of ", membership.organization(), " adds users to it"));
        }
      }
      if (!store.InsertUser(request->user_id(), user, call.now)) {
        return absl::AlreadyExistsError(absl::StrCat(user.name(), " already exists"));
      }
      v1::UserChanged payload;
      payload.set_user(user.name());
      payload.set_version(1);
      for (const v1::Membership& membership : user.memberships()) {
        payload.add_organizations(membership.organization());
      }
      store.Publish(MakeEvent("identity.user.created", call.principal.municipality, user.name(), 1,
                              "", "", payload, OriginOf(call)));
      return absl::OkStatus();
    });
    if (!status.ok()) return status;
    *response = std::move(user);
    return absl::OkStatus();
  });
}

grpc::Status IdentityService::GetUser(grpc::ServerContext* context,
                                      const v1::GetUserRequest* request, v1::User* response) {
  return calls_.Handle(context, "GetUser", *request, [&](const CallContext& call) {
    const std::string id(ResourceId(request->name(), "users"));
    if (id.empty()) return InvalidField("name", "must be users/{id}");
    std::optional<v1::User> found;
    absl::Status status = repository_.Read(call.deadline, [&](IdentityStore& store) {
      found = store.FindUser(id);
      return absl::OkStatus();
    });
    if (!status.ok()) return status;
    bool allowed = found && call.principal.user == request->name();
    if (found && !allowed && call.principal.HasRole("administrator")) {
      for (const v1::Membership& membership : found->memberships()) {
        if (membership.organization() == call.principal.organization) allowed = true;
      }
    }
    if (!allowed) return DeniedStatus(request->name());
    *response = *std::move(found);
    return absl::OkStatus();
  });
}

}  // namespace samplan::identity
