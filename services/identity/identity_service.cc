#include "services/identity/identity_service.h"

#include <algorithm>

#include <google/protobuf/util/time_util.h>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/ids.h"
#include "common/outbox.h"
#include "common/paging.h"
#include "common/status.h"
#include "common/text.h"
#include "samplan/identity/v1/events.pb.h"
#include "services/identity/audit_chain.h"
#include "services/identity/identity_rules.h"
#include "services/identity/personnummer.h"

namespace samplan::identity {
namespace {

using ::google::protobuf::util::TimeUtil;

constexpr int kAuditPageSize = 500;
constexpr int kMaxFindings = 1000;

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

const absl::TimeZone& Sweden() {
  static const absl::TimeZone* const zone = [] {
    auto* z = new absl::TimeZone;
    if (!absl::LoadTimeZone("Europe/Stockholm", z)) *z = absl::UTCTimeZone();
    return z;
  }();
  return *zone;
}

absl::Status RequireRole(const Principal& principal, absl::string_view role) {
  if (principal.HasRole(std::string_view(role.data(), role.size()))) return absl::OkStatus();
  return absl::PermissionDeniedError(absl::StrCat("this call needs role ", role));
}

// The request id that makes a Create idempotent: the caller's, or the call's.
absl::StatusOr<std::string> CreateRequestId(const std::string& given, const CallContext& call) {
  if (given.empty()) return call.request_id;
  if (!IsRequestId(given)) {
    return InvalidField("request_id", "must be 1 to 100 characters of [A-Za-z0-9_-]");
  }
  return given;
}

// A decision that there is nobody to decide about: the caller's role speaks
// first (its own fact), otherwise "not_found", which the caller never sees.
AccessDecision NotFoundDecision(const Principal& principal) {
  if (!MayHandlePersonalData(principal)) return {false, "role", ""};
  return {false, "not_found", ""};
}

// The access request about a registered person (or none) for the audit record.
AccessRequest AccessTo(const std::optional<StoredPerson>& person, AccessAction action,
                       std::string resource, std::string data_category, std::string purpose) {
  AccessRequest request;
  request.action = action;
  request.resource = std::move(resource);
  if (person.has_value()) {
    request.person = person->name();
    request.municipality = person->municipality;
    request.owner_organization = person->owner_organization;
  }
  request.data_category = std::move(data_category);
  request.purpose = std::move(purpose);
  return request;
}

std::vector<std::string> GranteesOf(const v1::Consent& consent) {
  return {consent.grantee_organizations().begin(), consent.grantee_organizations().end()};
}

v1::Consent AnswerOf(const StoredConsent& stored, absl::Time now) {
  v1::Consent consent = stored.consent;
  consent.set_state(ConsentStateAt(consent, now));
  return consent;
}

events::v1::Event ConsentEvent(absl::string_view type, const v1::Consent& consent,
                               const StoredPerson& person, const CallContext& call) {
  v1::ConsentChanged payload;
  payload.set_consent(consent.name());
  payload.set_person(consent.person());
  payload.set_version(consent.version());
  for (const std::string& grantee : consent.grantee_organizations()) {
    payload.add_grantee_organizations(grantee);
  }
  payload.set_purpose(consent.purpose());
  for (const std::string& category : consent.data_categories()) {
    payload.add_data_categories(category);
  }
  *payload.mutable_valid_from() = consent.valid_from();
  *payload.mutable_valid_until() = consent.valid_until();
  if (consent.has_withdraw_time()) *payload.mutable_withdraw_time() = consent.withdraw_time();
  payload.set_owner_organization(person.owner_organization);
  events::v1::Event event = MakeEvent(type, person.municipality, consent.name(),
                                      consent.version(), consent.person(), "consent", payload,
                                      OriginOf(call));
  // A consent is told to the person's owner and to the organizations it names.
  event.set_owner_organization(person.owner_organization);
  for (const std::string& grantee : consent.grantee_organizations()) {
    event.add_participant_organizations(grantee);
  }
  return event;
}

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

}  // namespace

IdentityService::IdentityService(IdentityRepository& repository,
                                 const IdentityNumberProtector& protector,
                                 const CallHandler& calls)
    : repository_(repository), protector_(protector), calls_(calls) {}

// --- Directory -------------------------------------------------------------------

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
      next->set_version(store.UpdateOrganization(id, *next, call.now));
      next->set_etag(absl::StrCat(next->version()));
      *next->mutable_update_time() = Timestamp(call.now);
      PublishOrganization(store, "identity.organization.updated", *next, changed, call);
      stored = *std::move(next);
      return absl::OkStatus();
    });
    if (!status.ok()) return status;
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

// --- Persons ---------------------------------------------------------------------

absl::StatusOr<v1::Person> IdentityService::ViewOf(const StoredPerson& person,
                                                   bool with_identity_number,
                                                   bool with_contact) const {
  v1::Person view;
  view.set_name(person.name());
  if (with_identity_number) {
    absl::StatusOr<std::string> number =
        protector_.Decrypt(person.identity_number_sealed, person.name());
    if (!number.ok()) return number.status();
    view.set_identity_number(*std::move(number));
  }
  view.set_identity_number_kind(person.identity_number_kind == "samordningsnummer"
                                    ? v1::IDENTITY_NUMBER_KIND_SAMORDNINGSNUMMER
                                    : v1::IDENTITY_NUMBER_KIND_PERSONNUMMER);
  view.set_given_name(person.given_name);
  view.set_family_name(person.family_name);
  view.mutable_birth_date()->set_year(static_cast<int32_t>(person.birth_date.year()));
  view.mutable_birth_date()->set_month(person.birth_date.month());
  view.mutable_birth_date()->set_day(person.birth_date.day());
  if (with_contact) {
    view.set_address(person.address);
    view.set_phone(person.phone);
    view.set_email(person.email);
  } else {
    view.set_contact_withheld(true);
  }
  view.set_protected_identity(person.protected_identity);
  view.set_municipality(person.municipality);
  view.set_owner_organization(person.owner_organization);
  view.set_version(person.version);
  view.set_etag(absl::StrCat(person.version));
  *view.mutable_create_time() = Timestamp(person.create_time);
  *view.mutable_update_time() = Timestamp(person.update_time);
  return view;
}

absl::Status IdentityService::ReadPerson(IdentityStore& store, const CallContext& call,
                                         const std::optional<StoredPerson>& person,
                                         absl::string_view action, absl::string_view asked_for,
                                         const std::string& purpose, v1::Person& answer) const {
  const Principal& principal = call.principal;
  AccessRequest request = AccessTo(person, AccessAction::kRead,
                                   person ? person->name() : std::string(asked_for), "person",
                                   purpose);
  AccessDecision decision = NotFoundDecision(principal);
  if (person) {
    decision = DecideAccess(
        principal, request,
        NeedsAccessFacts(principal, request)
            ? store.ReadFacts(principal.organization, person->name(), "person", purpose, call.now)
            : AccessFacts{});
  }
  if (!decision.permitted) {
    store.Audit(AuditOf(principal, action, request, decision, call.now, call.request_id));
    return StatusOf(decision, asked_for);
  }
  // Contact details: the owner always; others by a consent for "contact", never
  // for a person with protected identity.
  bool with_contact = decision.reason == "owner";
  AccessRequest audited = request;
  AccessDecision audited_decision = decision;
  if (!with_contact && !person->protected_identity) {
    AccessRequest contact = request;
    contact.data_category = "contact";
    AccessDecision contact_decision = DecideAccess(
        principal, contact,
        store.ReadFacts(principal.organization, person->name(), "contact", purpose, call.now));
    if (contact_decision.permitted) {
      with_contact = true;
      // The record names the widest category shown: contact includes person.
      audited = contact;
      audited_decision = contact_decision;
    }
  }
  absl::StatusOr<v1::Person> view = ViewOf(*person, true, with_contact);
  if (!view.ok()) return view.status();
  store.Audit(AuditOf(principal, action, audited, audited_decision, call.now, call.request_id));
  answer = *std::move(view);
  return absl::OkStatus();
}

grpc::Status IdentityService::CreatePerson(grpc::ServerContext* context,
                                           const v1::CreatePersonRequest* request,
                                           v1::Person* response) {
  return calls_.Handle(context, "CreatePerson", *request, [&](const CallContext& call) -> absl::Status {
    const v1::Person& given = request->person();
    absl::StatusOr<PersonalIdentityNumber> number =
        ParsePersonalIdentityNumber(given.identity_number(), absl::ToCivilDay(call.now, Sweden()));
    FieldViolations v;
    if (!number.ok()) v.Add("person.identity_number", std::string(number.status().message()));
    if (absl::Status fields = ValidatePersonFields(given); !fields.ok()) {
      for (auto& [field, description] : FieldViolationsOf(fields)) v.Add(field, description);
    }
    if (!v.empty()) return v.ToStatus();
    absl::StatusOr<std::string> request_id = CreateRequestId(request->request_id(), call);
    if (!request_id.ok()) return request_id.status();

    StoredPerson person;
    person.id = NewUuid();
    person.municipality = call.principal.municipality;
    person.owner_organization = call.principal.organization;
    person.identity_number_kind =
        number->coordination_number ? "samordningsnummer" : "personnummer";
    person.identity_number_sealed = protector_.Encrypt(number->canonical, person.name());
    person.identity_number_hash = protector_.LookupHash(number->canonical);
    person.given_name = given.given_name();
    person.family_name = given.family_name();
    person.birth_date = number->birth_date;
    person.address = given.address();
    person.phone = given.phone();
    person.email = given.email();
    person.protected_identity = given.protected_identity();
    person.create_time = call.now;
    person.update_time = call.now;
    person.create_request_id = *request_id;

    absl::Status outcome;
    StoredPerson answer;
    absl::Status status = repository_.Transaction(call.deadline, [&](IdentityStore& store) {
      AccessRequest access =
          AccessTo(person, AccessAction::kCreate, person.name(), "person", "coordination");
      AccessDecision decision = DecideAccess(call.principal, access, AccessFacts{});
      if (!decision.permitted) {
        // Nobody's data was touched: the refusal goes to the chain of no person.
        access.person.clear();
        access.resource = "persons";
        store.Audit(AuditOf(call.principal, "identity.CreatePerson", access, decision, call.now,
                            call.request_id));
        outcome = StatusOf(decision, "persons");
        return absl::OkStatus();
      }
      if (std::optional<StoredPerson> earlier =
              store.FindPersonByRequest(person.owner_organization, person.create_request_id)) {
        if (earlier->identity_number_hash != person.identity_number_hash) {
          return InvalidField("request_id",
                              "was already used by this organization for another person; send "
                              "a new request id for a new person");
        }
        // A retry: the answer of the first call, read again.
        store.Audit(AuditOf(call.principal, "identity.CreatePerson",
                            AccessTo(earlier, AccessAction::kRead, earlier->name(), "person",
                                     "coordination"),
                            decision, call.now, call.request_id));
        answer = *std::move(earlier);
        return absl::OkStatus();
      }
      if (std::optional<StoredPerson> existing =
              store.FindPersonByHash(person.identity_number_hash)) {
        // Recorded on the existing person's chain; the caller learns only that the
        // number is taken.
        store.Audit(AuditOf(call.principal, "identity.CreatePerson",
                            AccessTo(existing, AccessAction::kCreate, existing->name(), "person",
                                     "coordination"),
                            {false, "already_exists", ""}, call.now, call.request_id));
        outcome = absl::AlreadyExistsError(
            "a person with this identity number is already registered; ask the owner "
            "organization for a consent, or use LookupPerson");
        return absl::OkStatus();
      }
      if (!store.FindMunicipality(person.municipality)) {
        return absl::FailedPreconditionError(absl::StrCat(
            "municipality ", person.municipality, " is not registered; register it first"));
      }
      store.InsertPerson(person);
      store.Audit(AuditOf(call.principal, "identity.CreatePerson", access, decision, call.now,
                          call.request_id));
      v1::PersonChanged payload;
      payload.set_person(person.name());
      payload.set_version(1);
      payload.set_owner_organization(person.owner_organization);
      events::v1::Event event = MakeEvent("identity.person.created", person.municipality,
                                          person.name(), 1, person.name(), "person", payload,
                                          OriginOf(call));
      event.set_owner_organization(person.owner_organization);
      store.Publish(event);
      answer = person;
      return absl::OkStatus();
    });
    if (!status.ok()) return status;
    if (!outcome.ok()) return outcome;
    absl::StatusOr<v1::Person> view = ViewOf(answer, true, true);
    if (!view.ok()) return view.status();
    *response = *std::move(view);
    return absl::OkStatus();
  });
}

grpc::Status IdentityService::GetPerson(grpc::ServerContext* context,
                                        const v1::GetPersonRequest* request,
                                        v1::Person* response) {
  return calls_.Handle(context, "GetPerson", *request, [&](const CallContext& call) -> absl::Status {
    const std::string id = PersonIdOf(request->name());
    if (id.empty()) return InvalidField("name", "must be persons/{id}");
    absl::StatusOr<std::string> purpose = PurposeOrDefault(request->purpose(), "purpose");
    if (!purpose.ok()) return purpose.status();
    absl::Status outcome;
    absl::Status status = repository_.Transaction(call.deadline, [&](IdentityStore& store) {
      outcome = ReadPerson(store, call, store.FindPerson(id), "identity.GetPerson",
                           request->name(), *purpose, *response);
      // A refusal commits its audit record; a failure to read rolls everything back.
      return outcome.ok() || absl::IsPermissionDenied(outcome) ? absl::OkStatus() : outcome;
    });
    if (!status.ok()) return status;
    return outcome;
  });
}

grpc::Status IdentityService::LookupPerson(grpc::ServerContext* context,
                                           const v1::LookupPersonRequest* request,
                                           v1::Person* response) {
  return calls_.Handle(context, "LookupPerson", *request, [&](const CallContext& call) -> absl::Status {
    absl::StatusOr<PersonalIdentityNumber> number = ParsePersonalIdentityNumber(
        request->identity_number(), absl::ToCivilDay(call.now, Sweden()));
    if (!number.ok()) {
      return InvalidField("identity_number", std::string(number.status().message()));
    }
    absl::StatusOr<std::string> purpose = PurposeOrDefault(request->purpose(), "purpose");
    if (!purpose.ok()) return purpose.status();
    const std::string hash = protector_.LookupHash(number->canonical);
    absl::Status outcome;
    absl::Status status = repository_.Transaction(call.deadline, [&](IdentityStore& store) {
      outcome = ReadPerson(store, call, store.FindPersonByHash(hash), "identity.LookupPerson",
                           "persons", *purpose, *response);
      return outcome.ok() || absl::IsPermissionDenied(outcome) ? absl::OkStatus() : outcome;
    });
    if (!status.ok()) return status;
    return outcome;
  });
}

// --- Consents --------------------------------------------------------------------

grpc::Status IdentityService::CreateConsent(grpc::ServerContext* context,
                                            const v1::CreateConsentRequest* request,
                                            v1::Consent* response) {
  return calls_.Handle(context, "CreateConsent", *request, [&](const CallContext& call) -> absl::Status {
    const v1::Consent& given = request->consent();
    if (absl::Status valid = ValidateNewConsent(given, call.now); !valid.ok()) return valid;
    absl::StatusOr<std::string> request_id = CreateRequestId(request->request_id(), call);
    if (!request_id.ok()) return request_id.status();
    const std::string person_id = PersonIdOf(given.person());

    StoredConsent stored;
    v1::Consent& consent = stored.consent;
    consent.set_name(absl::StrCat("consents/", NewUuid()));
    consent.set_person(given.person());
    *consent.mutable_grantee_organizations() = given.grantee_organizations();
    consent.set_purpose(given.purpose());
    *consent.mutable_data_categories() = given.data_categories();
    *consent.mutable_valid_from() = given.has_valid_from() ? given.valid_from() : Timestamp(call.now);
    *consent.mutable_valid_until() = given.valid_until();
    consent.set_given_by(given.given_by());
    consent.set_guardian_name(given.guardian_name());
    consent.set_method(given.method());
    consent.set_recorded_by_user(call.principal.user);
    consent.set_recorded_by_organization(call.principal.organization);
    *consent.mutable_create_time() = Timestamp(call.now);
    consent.set_version(1);
    consent.set_etag("1");
    stored.person_id = person_id;
    stored.create_request_id = *request_id;

    absl::Status outcome;
    StoredConsent answer;
    absl::Status status = repository_.Transaction(call.deadline, [&](IdentityStore& store) {
      const std::optional<StoredPerson> person = store.FindPerson(person_id);
      AccessRequest access =
          AccessTo(person, AccessAction::kCreate, consent.name(), "consent", consent.purpose());
      AccessDecision decision = person ? DecideAccess(call.principal, access, AccessFacts{})
                                       : NotFoundDecision(call.principal);
      if (decision.permitted) {
        if (std::optional<StoredConsent> earlier = store.FindConsentByRequest(
                call.principal.organization, stored.create_request_id)) {
          if (earlier->person_id != person_id || earlier->consent.purpose() != consent.purpose()) {
            return InvalidField("request_id",
                                "was already used by this organization for another consent");
          }
          access.resource = earlier->consent.name();
          access.action = AccessAction::kRead;
          store.Audit(AuditOf(call.principal, "identity.CreateConsent", access, decision,
                              call.now, call.request_id));
          answer = *std::move(earlier);
          return absl::OkStatus();
        }
        outcome = CheckGuardianRule(consent, person->birth_date, TimeOf(consent.valid_from()));
        if (!outcome.ok()) decision = {false, "guardian_required", ""};
      } else {
        outcome = StatusOf(decision, given.person());
      }
      if (!decision.permitted) {
        store.Audit(AuditOf(call.principal, "identity.CreateConsent", access, decision, call.now,
                            call.request_id));
        return absl::OkStatus();
      }
      stored.municipality = person->municipality;
      store.InsertConsent(stored);
      store.Audit(AuditOf(call.principal, "identity.CreateConsent", access, decision, call.now,
                          call.request_id));
      store.Publish(ConsentEvent("identity.consent.granted", consent, *person, call));
      answer = stored;
      return absl::OkStatus();
    });
    if (!status.ok()) return status;
    if (!outcome.ok()) return outcome;
    *response = AnswerOf(answer, call.now);
    return absl::OkStatus();
  });
}

grpc::Status IdentityService::GetConsent(grpc::ServerContext* context,
                                         const v1::GetConsentRequest* request,
                                         v1::Consent* response) {
  return calls_.Handle(context, "GetConsent", *request, [&](const CallContext& call) -> absl::Status {
    const std::string id(ResourceId(request->name(), "consents"));
    if (!IsUuid(id)) return InvalidField("name", "must be consents/{id}");
    absl::Status outcome;
    absl::Status status = repository_.Transaction(call.deadline, [&](IdentityStore& store) {
      std::optional<StoredConsent> consent = store.FindConsent(id, false);
      std::optional<StoredPerson> person;
      if (consent) person = store.FindPerson(consent->person_id);
      AccessRequest access = AccessTo(person, AccessAction::kRead, request->name(), "consent",
                                      consent ? consent->consent.purpose() : "");
      AccessDecision decision =
          person ? DecideConsentAccess(call.principal, access, GranteesOf(consent->consent))
                 : NotFoundDecision(call.principal);
      store.Audit(AuditOf(call.principal, "identity.GetConsent", access, decision, call.now,
                          call.request_id));
      outcome = StatusOf(decision, request->name());
      if (decision.permitted) *response = AnswerOf(*consent, call.now);
      return absl::OkStatus();
    });
    if (!status.ok()) return status;
    return outcome;
  });
}

grpc::Status IdentityService::ListConsents(grpc::ServerContext* context,
                                           const v1::ListConsentsRequest* request,
                                           v1::ListConsentsResponse* response) {
  return calls_.Handle(context, "ListConsents", *request, [&](const CallContext& call) -> absl::Status {
    const std::string person_id = PersonIdOf(request->person());
    if (person_id.empty()) return InvalidField("person", "must be persons/{id}");
    absl::StatusOr<int> page_size = PageSizeOf(request->page_size());
    if (!page_size.ok()) return page_size.status();
    const std::string& filters = request->person();
    std::optional<absl::Time> before_time;
    std::string before_id;
    if (!request->page_token().empty()) {
      absl::StatusOr<std::vector<std::string>> position =
          DecodePageToken(request->page_token(), filters, 2);
      if (!position.ok()) return position.status();
      int64_t micros = 0;
      if (!absl::SimpleAtoi((*position)[0], &micros) || !IsUuid((*position)[1])) {
        return InvalidField("page_token", "is not a token this call returned");
      }
      before_time = absl::FromUnixMicros(micros);
      before_id = (*position)[1];
    }
    absl::Status outcome;
    absl::Status status = repository_.Transaction(call.deadline, [&](IdentityStore& store) {
      const std::optional<StoredPerson> person = store.FindPerson(person_id);
      AccessRequest access =
          AccessTo(person, AccessAction::kRead, request->person(), "consent", "");
      AccessDecision decision = person ? DecideAccess(call.principal, access, AccessFacts{})
                                       : NotFoundDecision(call.principal);
      std::vector<StoredConsent> page;
      const bool may_be_grantee = !decision.permitted && person &&
                                  decision.reason != "role" &&
                                  decision.reason != "other_municipality";
      if (decision.permitted || may_be_grantee) {
        // A grantee sees the consents that name it, and nothing else.
        page = store.ListConsents(person_id, decision.permitted ? "" : call.principal.organization,
                                  before_time, before_id, *page_size + 1);
        if (may_be_grantee && (!page.empty() || before_time)) decision = {true, "grantee", ""};
      }
      store.Audit(AuditOf(call.principal, "identity.ListConsents", access, decision, call.now,
                          call.request_id));
      outcome = StatusOf(decision, request->person());
      if (!decision.permitted) return absl::OkStatus();
      const bool more = TrimToPage(page, *page_size);
      for (const StoredConsent& consent : page) {
        *response->add_consents() = AnswerOf(consent, call.now);
      }
      if (more) {
        const v1::Consent& last = *response->consents().rbegin();
        response->set_next_page_token(EncodePageToken(
            filters, {absl::StrCat(TimeUtil::TimestampToMicroseconds(last.create_time())),
                      IdOf(last.name())}));
      }
      return absl::OkStatus();
    });
    if (!status.ok()) return status;
    return outcome;
  });
}

grpc::Status IdentityService::WithdrawConsent(grpc::ServerContext* context,
                                              const v1::WithdrawConsentRequest* request,
                                              v1::Consent* response) {
  return calls_.Handle(context, "WithdrawConsent", *request, [&](const CallContext& call) -> absl::Status {
    const std::string id(ResourceId(request->name(), "consents"));
    if (!IsUuid(id)) return InvalidField("name", "must be consents/{id}");
    FieldViolations violations;
    CheckTextLength(violations, "reason", request->reason(), 0, 500);
    if (!violations.empty()) return violations.ToStatus();
    absl::Status outcome;
    absl::Status status = repository_.Transaction(call.deadline, [&](IdentityStore& store) {
      std::optional<StoredConsent> consent = store.FindConsent(id, true);
      std::optional<StoredPerson> person;
      if (consent) person = store.FindPerson(consent->person_id);
      AccessRequest access = AccessTo(person, AccessAction::kUpdate, request->name(), "consent",
                                      consent ? consent->consent.purpose() : "");
      AccessDecision decision =
          person ? DecideConsentAccess(call.principal, access, GranteesOf(consent->consent))
                 : NotFoundDecision(call.principal);
      store.Audit(AuditOf(call.principal, "identity.WithdrawConsent", access, decision, call.now,
                          call.request_id));
      outcome = StatusOf(decision, request->name());
      if (!decision.permitted) return absl::OkStatus();
      if (std::optional<int64_t> version =
              store.WithdrawConsent(id, call.now, call.principal.user,
                                    call.principal.organization, request->reason())) {
        v1::Consent& changed = consent->consent;
        changed.set_version(*version);
        changed.set_etag(absl::StrCat(*version));
        *changed.mutable_withdraw_time() = Timestamp(call.now);
        changed.set_withdrawn_by_user(call.principal.user);
        changed.set_withdrawn_by_organization(call.principal.organization);
        changed.set_withdraw_reason(request->reason());
        store.Publish(ConsentEvent("identity.consent.withdrawn", changed, *person, call));
      }
      *response = AnswerOf(*consent, call.now);
      return absl::OkStatus();
    });
    if (!status.ok()) return status;
    return outcome;
  });
}

// --- Access decisions ------------------------------------------------------------

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
      v.Add("data_category", "must be plan, person, contact, health, attendance or placement");
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
    return repository_.Transaction(call.deadline, [&](IdentityStore& store) {
      const AccessFacts facts =
          store.ReadFacts(call.principal.organization, request->person(),
                          request->data_category(), request->purpose(), call.now);
      AccessRequest access;
      access.action = AccessAction::kRead;
      access.resource = request->person();
      const bool registered = !facts.person_municipality.empty();
      if (registered) access.person = request->person();
      access.municipality = facts.person_municipality;
      access.owner_organization = facts.person_owner;
      access.data_category = request->data_category();
      access.purpose = request->purpose();
      const AccessDecision decision = registered
                                          ? DecideAccess(call.principal, access, facts)
                                          : NotFoundDecision(call.principal);
      store.Audit(AuditOf(call.principal, "identity.CheckAccess", access, decision, call.now,
                          call.request_id));
      response->set_permitted(decision.permitted);
      response->set_consent(decision.consent);
      response->set_reason(CallerVisibleReason(decision));
      return absl::OkStatus();
    });
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

    absl::Status outcome;
    absl::Status status = repository_.Transaction(call.deadline, [&](IdentityStore& store) {
      const std::optional<StoredPerson> person = store.FindPerson(PersonIdOf(request->person()));
      const std::optional<v1::Organization> organization =
          store.FindOrganization(IdOf(call.principal.organization), false);
      std::string refusal =
          person ? BreakGlassRefusal(call.principal, organization ? &*organization : nullptr,
                                     person->municipality)
                 : (call.principal.HasRole("caseworker") ? "not_found" : "break_glass_role");
      AccessRequest audited = AccessTo(person, AccessAction::kRead, access.name(),
                                       request->data_category(), "");
      if (!person) audited.resource = request->person();
      const AccessDecision decision{refusal.empty(),
                                    refusal.empty() ? "break_glass_granted" : refusal,
                                    refusal.empty() ? access.name() : ""};
      store.Audit(AuditOf(call.principal, "identity.BreakGlass", audited, decision, call.now,
                          call.request_id));
      if (!decision.permitted) {
        outcome = absl::PermissionDeniedError(absl::StrCat(
            "break-glass access to ", request->person(),
            " refused: only a caseworker of a social services or health care organization "
            "serving the person's municipality may break the glass (or there is no such "
            "person)"));
        return absl::OkStatus();
      }
      store.InsertBreakGlass(access, person->id, person->municipality);
      v1::BreakGlassGranted payload;
      payload.set_break_glass_access(access.name());
      payload.set_person(person->name());
      payload.set_owner_organization(person->owner_organization);
      payload.set_organization(access.organization());
      payload.set_user(access.user());
      payload.set_data_category(access.data_category());
      *payload.mutable_expire_time() = access.expire_time();
      events::v1::Event event =
          MakeEvent("identity.break_glass.granted", person->municipality, access.name(), 1,
                    person->name(), access.data_category(), payload, OriginOf(call));
      // Told to the owner and to the organization that used it, no one else.
      event.set_owner_organization(person->owner_organization);
      event.add_participant_organizations(access.organization());
      store.Publish(event);
      return absl::OkStatus();
    });
    if (!status.ok()) return status;
    if (!outcome.ok()) return outcome;
    *response = std::move(access);
    return absl::OkStatus();
  });
}

// --- Audit log -------------------------------------------------------------------

grpc::Status IdentityService::ListAccessLog(grpc::ServerContext* context,
                                            const v1::ListAccessLogRequest* request,
                                            v1::ListAccessLogResponse* response) {
  return calls_.Handle(context, "ListAccessLog", *request, [&](const CallContext& call) -> absl::Status {
    const std::string person_id = PersonIdOf(request->person());
    if (person_id.empty()) return InvalidField("person", "must be persons/{id}");
    absl::StatusOr<int> page_size = PageSizeOf(request->page_size());
    if (!page_size.ok()) return page_size.status();
    const std::string& filters = request->person();
    int64_t before = 0;
    if (!request->page_token().empty()) {
      absl::StatusOr<std::vector<std::string>> position =
          DecodePageToken(request->page_token(), filters, 1);
      if (!position.ok()) return position.status();
      if (!absl::SimpleAtoi((*position)[0], &before) || before < 2) {
        return InvalidField("page_token", "is not a token this call returned");
      }
    }
    absl::Status outcome;
    absl::Status status = repository_.Transaction(call.deadline, [&](IdentityStore& store) {
      const std::optional<StoredPerson> person = store.FindPerson(person_id);
      const AccessRequest access =
          AccessTo(person, AccessAction::kRead, request->person(), "access_log", "");
      // The log is the owner's to show the person: no consent reaches it.
      const AccessDecision decision = person
                                          ? DecideAccess(call.principal, access, AccessFacts{})
                                          : NotFoundDecision(call.principal);
      store.Audit(AuditOf(call.principal, "identity.ListAccessLog", access, decision, call.now,
                          call.request_id));
      outcome = StatusOf(decision, request->person());
      if (!decision.permitted) return absl::OkStatus();
      std::vector<AuditRecord> records =
          store.AuditNewestFirst(person->name(), before, *page_size + 1);
      const bool more = TrimToPage(records, *page_size);
      for (const AuditRecord& record : records) {
        v1::AccessLogEntry* entry = response->add_entries();
        entry->set_sequence(record.sequence);
        *entry->mutable_time() = Timestamp(record.time);
        entry->set_actor_organization(record.actor_organization);
        entry->set_actor_user(record.actor_user);
        entry->set_action(record.action);
        entry->set_resource(record.resource);
        entry->set_data_category(record.data_category);
        entry->set_purpose(record.purpose);
        entry->set_consent(record.consent);
        entry->set_decision(record.decision);
        entry->set_reason(record.reason);
        entry->set_request_id(record.request_id);
      }
      if (more) {
        response->set_next_page_token(
            EncodePageToken(filters, {absl::StrCat(response->entries().rbegin()->sequence())}));
      }
      return absl::OkStatus();
    });
    if (!status.ok()) return status;
    return outcome;
  });
}

grpc::Status IdentityService::VerifyAuditLog(grpc::ServerContext* context,
                                             const v1::VerifyAuditLogRequest* request,
                                             v1::VerifyAuditLogResponse* response) {
  return calls_.Handle(context, "VerifyAuditLog", *request, [&](const CallContext& call) -> absl::Status {
    if (absl::Status role = RequireRole(call.principal, "supervisor"); !role.ok()) return role;
    if (!request->person().empty() && PersonIdOf(request->person()).empty()) {
      return InvalidField("person", "must be persons/{id}");
    }
    int64_t records_checked = 0;
    int64_t chains_checked = 0;
    std::optional<std::pair<v1::AuditChainBreak, std::string>> broken;
    absl::Status status = repository_.Read(call.deadline, [&](IdentityStore& store) {
      for (const AuditChainHead& head :
           store.AuditHeads(call.principal.municipality, request->person())) {
        ++chains_checked;
        int64_t last = 0;
        std::string previous_hash(kGenesisAuditHash);
        auto break_at = [&](int64_t sequence, std::string problem) {
          v1::AuditChainBreak at;
          at.set_person(head.subject_person);
          at.set_sequence(sequence);
          broken.emplace(std::move(at), std::move(problem));
        };
        // Records appended after the head was read lie beyond it and wait for the
        // next check.
        while (last < head.sequence && !broken) {
          std::vector<AuditRecord> page =
              store.AuditChainPage(head.subject_person, last, head.sequence, kAuditPageSize);
          if (page.empty()) break;
          if (!VerifyChainSegment(page, last + 1, previous_hash).ok()) {
            // Find the first record at fault, one at a time.
            for (const AuditRecord& record : page) {
              absl::Status one = VerifyChainSegment({record}, last + 1, previous_hash);
              if (!one.ok()) {
                break_at(last + 1, std::string(one.message()));
                break;
              }
              ++records_checked;
              last = record.sequence;
              previous_hash = record.hash;
            }
            break;
          }
          records_checked += static_cast<int64_t>(page.size());
          last = page.back().sequence;
          previous_hash = page.back().hash;
        }
        if (broken) break;
        if (last != head.sequence) {
          break_at(last + 1, "records missing at the end of the chain");
        } else if (previous_hash != head.hash) {
          break_at(last, "the chain does not end with the hash its head records");
        }
        if (broken) break;
      }
      return absl::OkStatus();
    });
    if (!status.ok()) return status;
    response->set_records_checked(records_checked);
    response->set_chains_checked(chains_checked);
    response->set_verified(!broken.has_value());
    if (broken) {
      *response->mutable_broken_at() = broken->first;
      response->set_problem(broken->second);
    }
    return absl::OkStatus();
  });
}

grpc::Status IdentityService::ReviewAccess(grpc::ServerContext* context,
                                           const v1::ReviewAccessRequest* request,
                                           v1::ReviewAccessResponse* response) {
  return calls_.Handle(context, "ReviewAccess", *request, [&](const CallContext& call) -> absl::Status {
    if (absl::Status role = RequireRole(call.principal, "supervisor"); !role.ok()) return role;
    FieldViolations v;
    if (!request->has_start_time()) v.Add("start_time", "is required");
    if (!request->has_end_time()) v.Add("end_time", "is required");
    const absl::Time start = TimeOf(request->start_time());
    const absl::Time end = TimeOf(request->end_time());
    if (request->has_start_time() && request->has_end_time() &&
        (end <= start || end - start > absl::Hours(24 * 93))) {
      v.Add("end_time", "must be after start_time and at most 93 days later");
    }
    if (request->volume_threshold() < 0) v.Add("volume_threshold", "must not be negative");
    if (!v.empty()) return v.ToStatus();
    const int threshold = request->volume_threshold() == 0 ? 50 : request->volume_threshold();
    std::vector<v1::AccessFinding> findings;
    absl::Status status = repository_.Read(call.deadline, [&](IdentityStore& store) {
      findings = store.ReviewFindings(call.principal.municipality, start, end, threshold,
                                      kMaxFindings + 1);
      return absl::OkStatus();
    });
    if (!status.ok()) return status;
    response->set_truncated(static_cast<int>(findings.size()) > kMaxFindings);
    for (int i = 0; i < static_cast<int>(findings.size()) && i < kMaxFindings; ++i) {
      *response->add_findings() = std::move(findings[i]);
    }
    return absl::OkStatus();
  });
}

}  // namespace samplan::identity
