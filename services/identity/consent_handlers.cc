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

}  // namespace samplan::identity
