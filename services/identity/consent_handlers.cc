// IdentityService: consents (CreateConsent, GetConsent, ListConsents, WithdrawConsent).

#include "services/identity/identity_service.h"

#include <google/protobuf/util/time_util.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/ids.h"
#include "common/outbox.h"
#include "common/paging.h"
#include "common/status.h"
#include "common/text.h"
#include "samplan/identity/v1/events.pb.h"
#include "services/identity/handler_support.h"
#include "services/identity/identity_rules.h"

namespace samplan::identity {
namespace {

using ::google::protobuf::util::TimeUtil;

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

}  // namespace

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

    const auto event_of = [&](const v1::Consent& granted, const StoredPerson& person) {
      return ConsentEvent("identity.consent.granted", granted, person, call);
    };
    absl::StatusOr<StoredConsent> answer =
        repository_.CreateConsent(CallerOf(call, "CreateConsent"), stored, event_of);
    if (!answer.ok()) return answer.status();
    *response = AnswerOf(*answer, call.now);
    return absl::OkStatus();
  });
}

grpc::Status IdentityService::GetConsent(grpc::ServerContext* context,
                                         const v1::GetConsentRequest* request,
                                         v1::Consent* response) {
  return calls_.Handle(context, "GetConsent", *request, [&](const CallContext& call) -> absl::Status {
    const std::string id(ResourceId(request->name(), "consents"));
    if (!IsUuid(id)) return InvalidField("name", "must be consents/{id}");
    absl::StatusOr<StoredConsent> consent =
        repository_.GetConsent(CallerOf(call, "GetConsent"), id);
    if (!consent.ok()) return consent.status();
    *response = AnswerOf(*consent, call.now);
    return absl::OkStatus();
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
    absl::StatusOr<std::vector<StoredConsent>> page = repository_.ListConsents(
        CallerOf(call, "ListConsents"), person_id, before_time, before_id, *page_size + 1);
    if (!page.ok()) return page.status();
    const bool more = TrimToPage(*page, *page_size);
    for (const StoredConsent& consent : *page) {
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
    const auto event_of = [&](const v1::Consent& withdrawn, const StoredPerson& person) {
      return ConsentEvent("identity.consent.withdrawn", withdrawn, person, call);
    };
    absl::StatusOr<StoredConsent> consent = repository_.WithdrawConsent(
        CallerOf(call, "WithdrawConsent"), id, request->reason(), event_of);
    if (!consent.ok()) return consent.status();
    *response = AnswerOf(*consent, call.now);
    return absl::OkStatus();
  });
}

}  // namespace samplan::identity
