#include "tests/support/identity_stack.h"

#include <chrono>

#include <google/protobuf/util/time_util.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/ids.h"
#include "common/migrations.h"
#include "services/identity/audit_sealing.h"
#include "services/identity/personnummer.h"
#include "tests/support/service_roles.h"

namespace samplan::testing {
namespace {

using ::google::protobuf::util::TimeUtil;
namespace v1 = ::samplan::identity::v1;

absl::Status StatusOf(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

}  // namespace

IdentityKeys IdentityKeys::Generate() {
  return {identity::IdentityNumberProtector::GenerateKeyBase64(),
          identity::IdentityNumberProtector::GenerateKeyBase64(),
          identity::IdentityNumberProtector::GenerateKeyBase64()};
}

absl::StatusOr<std::unique_ptr<InProcessIdentity>> InProcessIdentity::Start(
    const std::string& dsn, const TokenVerifierOptions& tokens, const IdentityKeys& keys,
    const Clock& clock) {
  std::unique_ptr<InProcessIdentity> stack(new InProcessIdentity());
  auto protector =
      identity::MakeIdentityNumberProtector(keys.encryption_key_base64, keys.lookup_key_base64);
  if (!protector.ok()) return protector.status();
  stack->protector_ = std::make_unique<identity::IdentityNumberProtector>(*std::move(protector));
  if (!keys.audit_key_base64.empty()) {
    absl::StatusOr<identity::AuditSealer> sealer = identity::AuditSealer::Make(keys.audit_key_base64);
    if (!sealer.ok()) return sealer.status();
    stack->sealer_ = std::make_unique<identity::AuditSealer>(*std::move(sealer));
  }
  // The service runs as its database role, as in production: what it may not do
  // fails here as it would there.
  absl::StatusOr<std::string> service_dsn = ServiceRoleDsn(dsn, "identity");
  if (!service_dsn.ok()) return service_dsn.status();
  auto pool = PgPool::Create({*service_dsn, 8, absl::Seconds(10), "test",
                              identity::IdentityRepositoryStatements(stack->outbox_)});
  if (!pool.ok()) return pool.status();
  stack->pool_ = *std::move(pool);
  stack->repository_ =
      std::make_unique<identity::PgIdentityRepository>(*stack->pool_, stack->outbox_);
  auto served = ServedService::Create(tokens, absl::Seconds(10), clock);
  if (!served.ok()) return served.status();
  stack->served_ = *std::move(served);
  if (absl::Status serving = stack->served_->Serve(std::make_unique<identity::IdentityService>(
          *stack->repository_, *stack->protector_, stack->served_->calls(),
          stack->sealer_.get()));
      !serving.ok()) {
    return serving;
  }
  return stack;
}

absl::Status InProcessIdentity::ApplyIdentityMigrations(const std::string& dsn) {
  return ApplyMigrations(dsn, identity::kSchema, identity::IdentityMigrationSets());
}

std::unique_ptr<v1::IdentityService::Stub> InProcessIdentity::NewStub() const {
  return v1::IdentityService::NewStub(served_->NewChannel());
}

absl::StatusOr<int> InProcessIdentity::SealAuditChains() {
  if (sealer_ == nullptr) return absl::FailedPreconditionError("the stack has no audit key");
  const absl::Time now = absl::Now();
  return identity::SealAuditChains(*repository_, *sealer_, now, now + absl::Seconds(10));
}

std::string TestPersonnummer(absl::CivilDay birth_date, int serial) {
  const std::string nine = absl::StrFormat("%02d%02d%02d%03d", birth_date.year() % 100,
                                           birth_date.month(), birth_date.day(), serial % 1000);
  return absl::StrFormat("%04d%02d%02d%03d%c", birth_date.year(), birth_date.month(),
                         birth_date.day(), serial % 1000, identity::LuhnCheckDigit(nine));
}

absl::Status EnsureMunicipality(v1::IdentityService::Stub& stub, const std::string& admin_token,
                                const std::string& code) {
  v1::CreateMunicipalityRequest request;
  request.mutable_municipality()->set_code(code);
  request.mutable_municipality()->set_display_name(absl::StrCat("Kommun ", code));
  v1::Municipality created;
  absl::Status status =
      StatusOf(stub.CreateMunicipality(CallWithToken(admin_token).get(), request, &created));
  return absl::IsAlreadyExists(status) ? absl::OkStatus() : status;
}

absl::Status EnsureOrganization(v1::IdentityService::Stub& stub, const std::string& admin_token,
                                const std::string& id, v1::OrganizationKind kind,
                                const std::string& municipality) {
  v1::CreateOrganizationRequest request;
  request.set_organization_id(id);
  request.mutable_organization()->set_display_name(absl::StrCat("Organization ", id));
  request.mutable_organization()->set_kind(kind);
  request.mutable_organization()->add_municipalities(municipality);
  v1::Organization created;
  absl::Status status =
      StatusOf(stub.CreateOrganization(CallWithToken(admin_token).get(), request, &created));
  return absl::IsAlreadyExists(status) ? absl::OkStatus() : status;
}

absl::StatusOr<v1::Person> CreateTestPerson(v1::IdentityService::Stub& stub,
                                            const std::string& owner_token,
                                            const std::string& identity_number,
                                            bool protected_identity) {
  v1::CreatePersonRequest request;
  request.set_request_id(NewUuid());
  v1::Person* person = request.mutable_person();
  person->set_identity_number(identity_number);
  person->set_given_name("Test");
  person->set_family_name("Person");
  person->set_address("Storgatan 1, 181 31 Lidingö");
  person->set_phone("070-000 00 00");
  person->set_email("test.person@example.se");
  person->set_protected_identity(protected_identity);
  v1::Person created;
  absl::Status status =
      StatusOf(stub.CreatePerson(CallWithToken(owner_token).get(), request, &created));
  if (!status.ok()) return status;
  return created;
}

absl::StatusOr<v1::Consent> GrantTestConsent(v1::IdentityService::Stub& stub,
                                             const std::string& owner_token,
                                             const std::string& person,
                                             const std::vector<std::string>& grantees,
                                             const std::string& purpose,
                                             const std::vector<std::string>& categories,
                                             absl::Time valid_until, absl::Time valid_from) {
  v1::CreateConsentRequest request;
  request.set_request_id(NewUuid());
  v1::Consent* consent = request.mutable_consent();
  consent->set_person(person);
  for (const std::string& grantee : grantees) consent->add_grantee_organizations(grantee);
  consent->set_purpose(purpose);
  for (const std::string& category : categories) consent->add_data_categories(category);
  if (valid_from != absl::InfinitePast()) {
    *consent->mutable_valid_from() =
        TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(valid_from));
  }
  *consent->mutable_valid_until() =
      TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(valid_until));
  consent->set_given_by(v1::CONSENT_GIVER_PERSON);
  consent->set_method(v1::CONSENT_METHOD_WRITTEN);
  v1::Consent created;
  absl::Status status =
      StatusOf(stub.CreateConsent(CallWithToken(owner_token).get(), request, &created));
  if (!status.ok()) return status;
  return created;
}

}  // namespace samplan::testing
