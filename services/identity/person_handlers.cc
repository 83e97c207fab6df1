// IdentityService: persons (CreatePerson, GetPerson, LookupPerson).

#include "services/identity/identity_service.h"

#include "absl/strings/str_cat.h"
#include "common/ids.h"
#include "common/outbox.h"
#include "common/status.h"
#include "samplan/identity/v1/events.pb.h"
#include "services/identity/handler_support.h"
#include "services/identity/identity_rules.h"
#include "services/identity/personnummer.h"

namespace samplan::identity {
namespace {

const absl::TimeZone& Sweden() {
  static const absl::TimeZone* const zone = [] {
    auto* z = new absl::TimeZone;
    if (!absl::LoadTimeZone("Europe/Stockholm", z)) *z = absl::UTCTimeZone();
    return z;
  }();
  return *zone;
}

}  // namespace

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

    v1::PersonChanged payload;
    payload.set_person(person.name());
    payload.set_version(1);
    payload.set_owner_organization(person.owner_organization);
    events::v1::Event event =
        MakeEvent("identity.person.created", person.municipality, person.name(), 1,
                  person.name(), "person", payload, OriginOf(call));
    event.set_owner_organization(person.owner_organization);
    absl::StatusOr<StoredPerson> answer =
        repository_.CreatePerson(CallerOf(call, "CreatePerson"), person, event);
    if (!answer.ok()) return answer.status();
    absl::StatusOr<v1::Person> view = ViewOf(*answer, true, true);
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
    const auto show = [&](const StoredPerson& person, bool with_contact) {
      return ViewOf(person, true, with_contact);
    };
    absl::StatusOr<v1::Person> person =
        repository_.ReadPerson(CallerOf(call, "GetPerson"), {id, ""}, *purpose, show);
    if (!person.ok()) return person.status();
    *response = *std::move(person);
    return absl::OkStatus();
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
    const auto show = [&](const StoredPerson& person, bool with_contact) {
      return ViewOf(person, true, with_contact);
    };
    absl::StatusOr<v1::Person> person =
        repository_.ReadPerson(CallerOf(call, "LookupPerson"), {"", hash}, *purpose, show);
    if (!person.ok()) return person.status();
    *response = *std::move(person);
    return absl::OkStatus();
  });
}

}  // namespace samplan::identity
