// Tier 3: the identity service in-process against a real PostgreSQL started by the
// test: identity numbers checked and protected, contact details hidden where the
// law says, consents that take effect and end at once, one audit record for every
// access (refusals included) in a tamper-evident log, break-glass access, and the
// supervisor's review.

#include <fcntl.h>
#include <unistd.h>

#include <google/protobuf/util/time_util.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <functional>
#include <sstream>

#include <pqxx/pqxx>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/rpc_details.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "samplan/identity/v1/events.pb.h"
#include "services/identity/personnummer.h"
#include "tests/support/fixtures.h"
#include "tests/support/suite.h"
#include "tests/support/identity_stack.h"
#include "tests/support/servers.h"
#include "tests/support/service_roles.h"

namespace samplan::identity {
namespace {

using ::google::protobuf::util::TimeUtil;
using testing::CallWithToken;
using testing::PostgresServer;
using testing::TestKeys;
using testing::TestPersonnummer;

google::protobuf::Timestamp At(absl::Time time) {
  return TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(time));
}

using testing::ViolatedFields;

class IdentityStoreTest : public testing::ServersSuite {
 protected:
  void SetUp() override {
    auto dsn = pg_->CreateDatabase();
    ASSERT_TRUE(dsn.ok()) << dsn.status();
    dsn_ = *dsn;
    absl::Status migrated = testing::InProcessIdentity::ApplyIdentityMigrations(dsn_);
    ASSERT_TRUE(migrated.ok()) << migrated;
    auto stack = testing::InProcessIdentity::Start(dsn_, keys_->VerifierOptions(),
                                                   testing::IdentityKeys::Generate(), clock_);
    ASSERT_TRUE(stack.ok()) << stack.status();
    stack_ = *std::move(stack);
    stub_ = stack_->NewStub();

    const std::string admin = Token("kommunen", "administrator");
    ASSERT_TRUE(testing::EnsureMunicipality(*stub_, admin, "1885").ok());
    for (const auto& [id, kind] : std::vector<std::pair<std::string, v1::OrganizationKind>>{
             {"soc", v1::ORGANIZATION_KIND_SOCIAL_SERVICES},
             {"af", v1::ORGANIZATION_KIND_EMPLOYMENT_SERVICE},
             {"fk", v1::ORGANIZATION_KIND_SOCIAL_INSURANCE},
             {"vc", v1::ORGANIZATION_KIND_HEALTH_CARE},
             {"ica", v1::ORGANIZATION_KIND_EMPLOYER}}) {
      absl::Status created = testing::EnsureOrganization(*stub_, admin, id, kind);
      ASSERT_TRUE(created.ok()) << created;
    }
  }

  void TearDown() override { stack_.reset(); }

  std::string Token(const std::string& org, const std::string& role = "caseworker",
                    const std::string& municipality = "1885") {
    return keys_->Token(org, role, municipality);
  }
  std::unique_ptr<grpc::ClientContext> As(const std::string& org,
                                          const std::string& role = "caseworker") {
    return CallWithToken(Token(org, role));
  }

  v1::Person NewPerson(int serial, bool protected_identity = false,
                       absl::CivilDay birth = absl::CivilDay(1985, 3, 14)) {
    auto person = testing::CreateTestPerson(*stub_, Token("soc"),
                                            TestPersonnummer(birth, serial), protected_identity);
    EXPECT_TRUE(person.ok()) << person.status();
    return person.ok() ? *person : v1::Person();
  }

  v1::Consent Grant(const std::string& person, const std::vector<std::string>& grantees,
                    const std::vector<std::string>& categories,
                    absl::Duration validity = absl::Hours(24 * 90)) {
    auto consent = testing::GrantTestConsent(*stub_, Token("soc"), person, grantees,
                                             "coordination", categories,
                                             clock_.Now() + validity);
    EXPECT_TRUE(consent.ok()) << consent.status();
    return consent.ok() ? *consent : v1::Consent();
  }

  v1::CheckAccessResponse Check(const std::string& org, const std::string& person,
                                const std::string& category,
                                const std::string& purpose = "coordination") {
    v1::CheckAccessRequest request;
    request.set_organization("organizations/" + org);
    request.set_person(person);
    request.set_data_category(category);
    request.set_purpose(purpose);
    v1::CheckAccessResponse response;
    grpc::Status status = stub_->CheckAccess(As(org).get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }

  grpc::Status Get(const std::string& org, const std::string& name, v1::Person* out,
                   const std::string& role = "caseworker") {
    v1::GetPersonRequest request;
    request.set_name(name);
    return stub_->GetPerson(As(org, role).get(), request, out);
  }

  v1::VerifyAuditLogResponse Verify(const std::string& person = "") {
    v1::VerifyAuditLogRequest request;
    request.set_person(person);
    v1::VerifyAuditLogResponse response;
    grpc::Status status =
        stub_->VerifyAuditLog(As("kommunen", "supervisor").get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }

  pqxx::result Query(const std::string& sql) {
    pqxx::connection connection(dsn_);
    pqxx::nontransaction tx(connection);
    return tx.exec(sql);
  }
  int64_t Count(const std::string& sql) { return Query(sql)[0][0].as<int64_t>(); }

  FakeClock clock_{absl::Now()};
  std::string dsn_;
  std::unique_ptr<testing::InProcessIdentity> stack_;
  std::unique_ptr<v1::IdentityService::Stub> stub_;
};


TEST_F(IdentityStoreTest, CreatePersonChecksTheNumberAndStoresItSealed) {
  const std::string number = TestPersonnummer(absl::CivilDay(1985, 3, 14), 123);
  v1::CreatePersonRequest request;
  request.set_request_id("create-anna");
  request.mutable_person()->set_identity_number(
      absl::StrCat(number.substr(2, 6), "-", number.substr(8)));  // YYMMDD-NNNC
  request.mutable_person()->set_given_name("Anna");
  request.mutable_person()->set_family_name("Svensson");
  v1::Person created;
  grpc::Status status = stub_->CreatePerson(As("soc").get(), request, &created);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(absl::StartsWith(created.name(), "persons/"));
  EXPECT_EQ(created.identity_number(), number);
  EXPECT_EQ(created.identity_number_kind(), v1::IDENTITY_NUMBER_KIND_PERSONNUMMER);
  EXPECT_EQ(created.birth_date().year(), 1985);
  EXPECT_EQ(created.birth_date().month(), 3);
  EXPECT_EQ(created.birth_date().day(), 14);
  EXPECT_EQ(created.owner_organization(), "organizations/soc");
  EXPECT_EQ(created.municipality(), "1885");

  // Neither the number nor any form of it is in the table.
  pqxx::result row = Query(
      "SELECT encode(identity_number_sealed, 'escape') || identity_number_hash || "
      "identity_number_kind FROM identity.persons");
  ASSERT_EQ(row.size(), 1u);
  EXPECT_FALSE(absl::StrContains(row[0][0].as<std::string>(), number.substr(2)));

  // A retry with the same request id is the same person; nothing new is stored.
  v1::Person again;
  ASSERT_TRUE(stub_->CreatePerson(As("soc").get(), request, &again).ok());
  EXPECT_EQ(again.name(), created.name());
  EXPECT_EQ(Count("SELECT count(*) FROM identity.persons"), 1);
  EXPECT_EQ(Count("SELECT count(*) FROM identity.outbox "
                  "WHERE event_type = 'identity.person.created'"),
            1);

  // The same number again, written another way, from another organization.
  request.set_request_id("create-anna-twice");
  request.mutable_person()->set_identity_number(number);
  v1::Person duplicate;
  status = stub_->CreatePerson(As("af").get(), request, &duplicate);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_FALSE(absl::StrContains(status.error_message(), created.name().substr(8)));
  EXPECT_FALSE(absl::StrContains(status.error_message(), "soc"));

  // A coordination number (day + 60) is accepted as such.
  const std::string samordning =
      TestPersonnummer(absl::CivilDay(1990, 7, 1), 7);  // day 01
  std::string coordination = samordning.substr(0, 6) + "61" + samordning.substr(8, 3);
  coordination += LuhnCheckDigit(coordination.substr(2));
  request.set_request_id("create-samordning");
  request.mutable_person()->set_identity_number(coordination);
  v1::Person coordinated;
  status = stub_->CreatePerson(As("soc").get(), request, &coordinated);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(coordinated.identity_number_kind(), v1::IDENTITY_NUMBER_KIND_SAMORDNINGSNUMMER);
  EXPECT_EQ(coordinated.birth_date().day(), 1);

  // A wrong check digit and an impossible date name the field, nothing else.
  std::string wrong = TestPersonnummer(absl::CivilDay(1970, 1, 1), 42);
  wrong.back() = wrong.back() == '9' ? '0' : static_cast<char>(wrong.back() + 1);
  std::string impossible = "19900230123";
  impossible += LuhnCheckDigit(impossible.substr(2));
  for (const std::string& bad : {wrong, impossible, std::string("12345")}) {
    request.set_request_id(absl::StrCat("bad-", bad.size(), "-", bad.substr(bad.size() - 1)));
    request.mutable_person()->set_identity_number(bad);
    status = stub_->CreatePerson(As("soc").get(), request, &duplicate);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << bad;
    EXPECT_EQ(ViolatedFields(status), std::vector<std::string>{"person.identity_number"});
    EXPECT_FALSE(absl::StrContains(status.error_message(), bad.substr(2, 6)));
  }
  EXPECT_EQ(Count("SELECT count(*) FROM identity.persons"), 2);

  // The duplicate attempt is on the existing person's audit chain, as a refusal.
  EXPECT_EQ(Count(absl::StrCat("SELECT count(*) FROM identity.audit_records WHERE "
                               "subject_person = '",
                               created.name(),
                               "' AND decision = 'deny' AND reason = 'already_exists' "
                               "AND actor_organization = 'organizations/af'")),
            1);
}

// PostgreSQL's text cannot hold a NUL, and libpq would cut the value at it: what
// is acknowledged must be what is stored, so a NUL is refused, naming the field.
TEST_F(IdentityStoreTest, TextWithANulCharacterIsRefusedAndNothingIsCut) {
  v1::CreatePersonRequest request;
  request.set_request_id("nul-person");
  request.mutable_person()->set_identity_number(TestPersonnummer(absl::CivilDay(1981, 3, 3), 77));
  request.mutable_person()->set_given_name(std::string("Nul\0Byte", 8));
  request.mutable_person()->set_family_name("Andersson");
  const int64_t persons = Count("SELECT count(*) FROM identity.persons");
  v1::Person created;
  grpc::Status status = stub_->CreatePerson(As("soc").get(), request, &created);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
  EXPECT_EQ(ViolatedFields(status), std::vector<std::string>{"person.given_name"});
  EXPECT_EQ(Count("SELECT count(*) FROM identity.persons"), persons);

  const v1::Person person = NewPerson(78);
  const v1::Consent consent = Grant(person.name(), {"organizations/af"}, {"plan"});
  v1::WithdrawConsentRequest withdraw;
  withdraw.set_name(consent.name());
  withdraw.set_reason(std::string("Skäl\0dolt", 10));
  v1::Consent withdrawn;
  status = stub_->WithdrawConsent(As("soc").get(), withdraw, &withdrawn);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
  EXPECT_EQ(ViolatedFields(status), std::vector<std::string>{"reason"});
  EXPECT_TRUE(Check("af", person.name(), "plan").permitted()) << "the consent still stands";
}

TEST_F(IdentityStoreTest, ProtectedIdentityHidesContactFromAConsentedOrganizationOnly) {
  const v1::Person open = NewPerson(1);
  const v1::Person hidden = NewPerson(2, /*protected_identity=*/true);
  Grant(open.name(), {"organizations/af"}, {"person", "contact"});
  Grant(hidden.name(), {"organizations/af"}, {"person", "contact"});

  v1::Person seen;
  ASSERT_TRUE(Get("af", open.name(), &seen).ok());
  EXPECT_FALSE(seen.contact_withheld());
  EXPECT_EQ(seen.address(), "Storgatan 1, 181 31 Lidingö");
  EXPECT_EQ(seen.identity_number(), open.identity_number());

  seen.Clear();
  ASSERT_TRUE(Get("af", hidden.name(), &seen).ok());
  EXPECT_TRUE(seen.contact_withheld());
  EXPECT_TRUE(seen.address().empty());
  EXPECT_TRUE(seen.phone().empty());
  EXPECT_TRUE(seen.email().empty());
  EXPECT_EQ(seen.given_name(), "Test");
  EXPECT_EQ(seen.identity_number(), hidden.identity_number());

  seen.Clear();
  ASSERT_TRUE(Get("soc", hidden.name(), &seen).ok());
  EXPECT_FALSE(seen.contact_withheld());
  EXPECT_EQ(seen.phone(), "070-000 00 00");

  // A consent for "person" only shows no contact details either.
  const v1::Person third = NewPerson(3);
  Grant(third.name(), {"organizations/fk"}, {"person"});
  seen.Clear();
  ASSERT_TRUE(Get("fk", third.name(), &seen).ok());
  EXPECT_TRUE(seen.contact_withheld());

  // No consent, no person, and a manager: the same refusal, the record's existence
  // not told.
  grpc::Status no_consent = Get("fk", open.name(), &seen);
  grpc::Status missing = Get("fk", "persons/00000000-0000-4000-8000-000000000000", &seen);
  EXPECT_EQ(no_consent.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(missing.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(absl::StrContains(no_consent.error_message(), "or it does not exist"));
  EXPECT_TRUE(absl::StrContains(missing.error_message(), "or it does not exist"));
  EXPECT_EQ(Get("soc", open.name(), &seen, "manager").error_code(),
            grpc::StatusCode::PERMISSION_DENIED);

  // LookupPerson by number follows the same rule.
  v1::LookupPersonRequest lookup;
  lookup.set_identity_number(open.identity_number());
  seen.Clear();
  ASSERT_TRUE(stub_->LookupPerson(As("af").get(), lookup, &seen).ok());
  EXPECT_EQ(seen.name(), open.name());
  EXPECT_EQ(stub_->LookupPerson(As("ica").get(), lookup, &seen).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(IdentityStoreTest, ConsentPermitsUntilWithdrawnOrExpiredAndOnlyWhatItCovers) {
  const v1::Person person = NewPerson(10);
  const v1::Consent consent = Grant(person.name(), {"organizations/af"}, {"plan"});
  EXPECT_EQ(consent.state(), v1::CONSENT_STATE_ACTIVE);
  EXPECT_EQ(consent.recorded_by_organization(), "organizations/soc");

  v1::CheckAccessResponse access = Check("af", person.name(), "plan");
  EXPECT_TRUE(access.permitted());
  EXPECT_EQ(access.reason(), "consent");
  EXPECT_EQ(access.consent(), consent.name());
  EXPECT_EQ(Check("af", person.name(), "health").reason(), "category_not_covered");
  EXPECT_EQ(Check("af", person.name(), "plan", "placement").reason(), "purpose_not_covered");
  EXPECT_EQ(Check("fk", person.name(), "plan").reason(), "no_consent");
  EXPECT_EQ(Check("soc", person.name(), "health").reason(), "owner");
  EXPECT_EQ(Check("af", "persons/00000000-0000-4000-8000-000000000000", "plan").reason(),
            "no_consent");

  // Asking about another organization's access is refused.
  v1::CheckAccessRequest other;
  other.set_organization("organizations/fk");
  other.set_person(person.name());
  other.set_data_category("plan");
  other.set_purpose("coordination");
  v1::CheckAccessResponse ignored;
  EXPECT_EQ(stub_->CheckAccess(As("af").get(), other, &ignored).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);

  // The grantee sees the consent; an outsider does not.
  v1::GetConsentRequest get;
  get.set_name(consent.name());
  v1::Consent seen;
  EXPECT_TRUE(stub_->GetConsent(As("af").get(), get, &seen).ok());
  EXPECT_EQ(stub_->GetConsent(As("fk").get(), get, &seen).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);

  // Withdrawn by the grantee: it stops at once.
  v1::WithdrawConsentRequest withdraw;
  withdraw.set_name(consent.name());
  withdraw.set_reason("The person asked to stop sharing");
  v1::Consent withdrawn;
  ASSERT_TRUE(stub_->WithdrawConsent(As("af").get(), withdraw, &withdrawn).ok());
  EXPECT_EQ(withdrawn.state(), v1::CONSENT_STATE_WITHDRAWN);
  EXPECT_EQ(withdrawn.version(), 2);
  EXPECT_EQ(TimeUtil::TimestampToMicroseconds(withdrawn.withdraw_time()),
            absl::ToUnixMicros(clock_.Now()));
  access = Check("af", person.name(), "plan");
  EXPECT_FALSE(access.permitted());
  EXPECT_EQ(access.reason(), "consent_withdrawn");
  EXPECT_TRUE(access.consent().empty());

  // A consent that runs out: permitted the hour before, refused the hour after.
  clock_.Advance(absl::Seconds(1));
  const v1::Consent short_one =
      Grant(person.name(), {"organizations/fk"}, {"plan"}, absl::Hours(2));
  EXPECT_TRUE(Check("fk", person.name(), "plan").permitted());
  clock_.Advance(absl::Hours(3));
  access = Check("fk", person.name(), "plan");
  EXPECT_FALSE(access.permitted());
  EXPECT_EQ(access.reason(), "consent_expired");
  v1::ListConsentsRequest list;
  list.set_person(person.name());
  v1::ListConsentsResponse listed;
  ASSERT_TRUE(stub_->ListConsents(As("soc").get(), list, &listed).ok());
  ASSERT_EQ(listed.consents_size(), 2);
  EXPECT_EQ(listed.consents(0).name(), short_one.name());
  EXPECT_EQ(listed.consents(0).state(), v1::CONSENT_STATE_EXPIRED);
  EXPECT_EQ(listed.consents(1).state(), v1::CONSENT_STATE_WITHDRAWN);
  listed.Clear();
  ASSERT_TRUE(stub_->ListConsents(As("fk").get(), list, &listed).ok());
  EXPECT_EQ(listed.consents_size(), 1);  // a grantee sees only what names it

  // Events: granted twice, withdrawn once, all in the outbox of the same commits.
  EXPECT_EQ(Count("SELECT count(*) FROM identity.outbox WHERE event_type = "
                  "'identity.consent.granted'"),
            2);
  EXPECT_EQ(Count("SELECT count(*) FROM identity.outbox WHERE event_type = "
                  "'identity.consent.withdrawn'"),
            1);

  // Every CheckAccess left one record on the person's chain, refusals included.
  EXPECT_EQ(Count(absl::StrCat("SELECT count(*) FROM identity.audit_records WHERE action = "
                               "'identity.CheckAccess' AND subject_person = '",
                               person.name(), "'")),
            8);
  EXPECT_EQ(Count(absl::StrCat("SELECT count(*) FROM identity.audit_records WHERE action = "
                               "'identity.CheckAccess' AND decision = 'deny' AND reason = "
                               "'consent_withdrawn' AND subject_person = '",
                               person.name(), "'")),
            1);
  EXPECT_EQ(Count("SELECT count(*) FROM identity.audit_records WHERE action = "
                  "'identity.CheckAccess' AND subject_person = '' AND reason = 'not_found'"),
            1);
}

// A grantee ends a consent that names only itself; one that other agencies rely
// on too is the owner's to withdraw, so af cannot cut fk off.
TEST_F(IdentityStoreTest, AGranteeWithdrawsOnlyAConsentThatNamesItAlone) {
  const v1::Person person = NewPerson(12);
  const v1::Consent shared =
      Grant(person.name(), {"organizations/af", "organizations/fk"}, {"plan"});
  v1::WithdrawConsentRequest withdraw;
  withdraw.set_name(shared.name());
  withdraw.set_reason("The person asked af to stop");
  v1::Consent withdrawn;
  grpc::Status status = stub_->WithdrawConsent(As("af").get(), withdraw, &withdrawn);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << status.error_message();
  EXPECT_TRUE(Check("fk", person.name(), "plan").permitted());
  EXPECT_TRUE(Check("af", person.name(), "plan").permitted());
  EXPECT_EQ(Count(absl::StrCat("SELECT count(*) FROM identity.audit_records WHERE "
                               "subject_person = '", person.name(),
                               "' AND action = 'identity.WithdrawConsent' AND decision = 'deny' "
                               "AND reason = 'other_grantees'")),
            1);
  // An organization the consent does not name may not either.
  EXPECT_EQ(stub_->WithdrawConsent(As("vc").get(), withdraw, &withdrawn).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  // The owner may.
  ASSERT_TRUE(stub_->WithdrawConsent(As("soc").get(), withdraw, &withdrawn).ok());
  EXPECT_EQ(withdrawn.state(), v1::CONSENT_STATE_WITHDRAWN);
  EXPECT_FALSE(Check("fk", person.name(), "plan").permitted());

  // A consent naming af alone, af may end.
  const v1::Consent own = Grant(person.name(), {"organizations/af"}, {"plan"});
  withdraw.set_name(own.name());
  ASSERT_TRUE(stub_->WithdrawConsent(As("af").get(), withdraw, &withdrawn).ok());
  EXPECT_EQ(withdrawn.state(), v1::CONSENT_STATE_WITHDRAWN);
}

TEST_F(IdentityStoreTest, ConsentsArePagedForTheOwnerAndGranteesAndEachListingIsAudited) {
  const v1::Person person = NewPerson(40);
  std::vector<std::string> granted;
  for (int i = 0; i < 3; ++i) {
    clock_.Advance(absl::Seconds(1));
    granted.push_back(Grant(person.name(), {"organizations/af"}, {"plan"}).name());
  }
  // Newest first, two to a page; the token carries on where the page ended.
  v1::ListConsentsRequest list;
  list.set_person(person.name());
  list.set_page_size(2);
  v1::ListConsentsResponse page;
  ASSERT_TRUE(stub_->ListConsents(As("soc").get(), list, &page).ok());
  ASSERT_EQ(page.consents_size(), 2);
  EXPECT_EQ(page.consents(0).name(), granted[2]);
  EXPECT_EQ(page.consents(1).name(), granted[1]);
  ASSERT_FALSE(page.next_page_token().empty());
  list.set_page_token(page.next_page_token());
  v1::ListConsentsResponse rest;
  ASSERT_TRUE(stub_->ListConsents(As("soc").get(), list, &rest).ok());
  ASSERT_EQ(rest.consents_size(), 1);
  EXPECT_EQ(rest.consents(0).name(), granted[0]);
  EXPECT_TRUE(rest.next_page_token().empty());

  // The token is bound to the person it was made for.
  v1::ListConsentsRequest other = list;
  other.set_person("persons/00000000-0000-4000-8000-000000000003");
  EXPECT_EQ(stub_->ListConsents(As("soc").get(), other, &rest).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  // The grantee sees the consents that name it; an organization named by none
  // is refused.
  list.clear_page_token();
  list.set_page_size(0);
  ASSERT_TRUE(stub_->ListConsents(As("af").get(), list, &page).ok());
  EXPECT_EQ(page.consents_size(), 3);
  EXPECT_EQ(stub_->ListConsents(As("fk").get(), list, &page).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);

  pqxx::result records = Query(absl::StrCat(
      "SELECT decision, reason FROM identity.audit_records WHERE action = "
      "'identity.ListConsents' AND subject_person = '",
      person.name(), "' ORDER BY sequence"));
  std::vector<std::string> reasons;
  for (const pqxx::row& row : records) {
    reasons.push_back(absl::StrCat(row[0].as<std::string>(), ":", row[1].as<std::string>()));
  }
  EXPECT_EQ(reasons, (std::vector<std::string>{"permit:owner", "permit:owner", "permit:grantee",
                                               "deny:no_consent"}));
}

TEST_F(IdentityStoreTest, ConsentIsValidatedFieldByFieldAndMinorsNeedAGuardian) {
  const v1::Person child = NewPerson(20, false, absl::ToCivilDay(clock_.Now(), absl::UTCTimeZone()) - 365 * 15);
  v1::CreateConsentRequest request;
  v1::Consent* consent = request.mutable_consent();
  consent->set_person(child.name());
  consent->add_grantee_organizations("organizations/af");
  consent->set_purpose("coordination");
  consent->add_data_categories("plan");
  consent->add_data_categories("diet");
  *consent->mutable_valid_until() = At(clock_.Now() + absl::Hours(24 * 30));
  consent->set_given_by(v1::CONSENT_GIVER_PERSON);
  consent->set_method(v1::CONSENT_METHOD_ORAL);
  v1::Consent created;
  grpc::Status status = stub_->CreateConsent(As("soc").get(), request, &created);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(ViolatedFields(status), std::vector<std::string>{"consent.data_categories[1]"});

  consent->mutable_data_categories()->RemoveLast();
  status = stub_->CreateConsent(As("soc").get(), request, &created);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(ViolatedFields(status), std::vector<std::string>{"consent.given_by"});

  consent->set_given_by(v1::CONSENT_GIVER_GUARDIAN);
  consent->set_guardian_name("Karin Andersson");
  status = stub_->CreateConsent(As("soc").get(), request, &created);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(created.given_by(), v1::CONSENT_GIVER_GUARDIAN);

  // Only the owner records consents.
  status = stub_->CreateConsent(As("af").get(), request, &created);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Count("SELECT count(*) FROM identity.consents"), 1);
}

TEST_F(IdentityStoreTest, EveryAccessLeavesOneAuditRecordAndThePersonCanSeeThem) {
  const v1::Person person = NewPerson(30);
  v1::Person seen;
  ASSERT_TRUE(Get("soc", person.name(), &seen).ok());
  EXPECT_EQ(Get("fk", person.name(), &seen).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Get("soc", person.name(), &seen, "manager").error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Get("fk", "persons/00000000-0000-4000-8000-000000000001", &seen).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);

  pqxx::result records = Query(absl::StrCat(
      "SELECT sequence, action, actor_organization, decision, reason, resource, data_category "
      "FROM identity.audit_records WHERE subject_person = '",
      person.name(), "' ORDER BY sequence"));
  ASSERT_EQ(records.size(), 4u);
  EXPECT_EQ(records[0][1].as<std::string>(), "identity.CreatePerson");
  EXPECT_EQ(records[1][1].as<std::string>(), "identity.GetPerson");
  EXPECT_EQ(records[1][3].as<std::string>(), "permit");
  EXPECT_EQ(records[1][4].as<std::string>(), "owner");
  EXPECT_EQ(records[2][2].as<std::string>(), "organizations/fk");
  EXPECT_EQ(records[2][3].as<std::string>(), "deny");
  EXPECT_EQ(records[2][4].as<std::string>(), "no_consent");
  EXPECT_EQ(records[3][4].as<std::string>(), "role");
  EXPECT_EQ(Count("SELECT count(*) FROM identity.audit_records WHERE subject_person = '' "
                  "AND action = 'identity.GetPerson' AND reason = 'not_found' AND resource = "
                  "'persons/00000000-0000-4000-8000-000000000001'"),
            1);

  // The owner answers the person's question "who has seen my data?": newest first,
  // this very call included.
  v1::ListAccessLogRequest request;
  request.set_person(person.name());
  request.set_page_size(3);
  v1::ListAccessLogResponse page;
  ASSERT_TRUE(stub_->ListAccessLog(As("soc").get(), request, &page).ok());
  ASSERT_EQ(page.entries_size(), 3);
  EXPECT_EQ(page.entries(0).action(), "identity.ListAccessLog");
  EXPECT_EQ(page.entries(0).sequence(), 5);
  EXPECT_EQ(page.entries(2).actor_organization(), "organizations/fk");
  EXPECT_EQ(page.entries(2).decision(), "deny");
  ASSERT_FALSE(page.next_page_token().empty());
  const std::string second_page = page.next_page_token();
  request.set_page_token(second_page);
  v1::ListAccessLogResponse rest;
  ASSERT_TRUE(stub_->ListAccessLog(As("soc").get(), request, &rest).ok());
  ASSERT_EQ(rest.entries_size(), 2);
  EXPECT_EQ(rest.entries(1).sequence(), 1);
  EXPECT_TRUE(rest.next_page_token().empty());

  // Others may not read the log, and that too is recorded.
  request.clear_page_token();
  EXPECT_EQ(stub_->ListAccessLog(As("af").get(), request, &page).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Count(absl::StrCat("SELECT count(*) FROM identity.audit_records WHERE "
                               "subject_person = '",
                               person.name(), "' AND action = 'identity.ListAccessLog'")),
            3);

  // Paging by the common rule (common/paging.h): a page size above 100 is lowered
  // to 100, not refused; a token is bound to the person it was made for.
  request.set_page_size(1000);
  ASSERT_TRUE(stub_->ListAccessLog(As("soc").get(), request, &page).ok());
  EXPECT_EQ(page.entries_size(), 8);
  EXPECT_TRUE(page.next_page_token().empty());
  v1::ListAccessLogRequest other;
  other.set_person("persons/00000000-0000-4000-8000-000000000002");
  other.set_page_token(second_page);
  EXPECT_EQ(stub_->ListAccessLog(As("soc").get(), other, &page).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(IdentityStoreTest, AuditLogVerifiesAndReportsWhereItWasAltered) {
  const v1::Person first = NewPerson(40);
  const v1::Person second = NewPerson(41);
  v1::Person seen;
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(Get("soc", first.name(), &seen).ok());
  ASSERT_EQ(Get("fk", second.name(), &seen).error_code(), grpc::StatusCode::PERMISSION_DENIED);

  v1::VerifyAuditLogResponse verified = Verify();
  EXPECT_TRUE(verified.verified()) << verified.problem();
  // Every record, but the one of this verification, appended once it had checked.
  EXPECT_EQ(verified.records_checked(),
            Count("SELECT count(*) FROM identity.audit_records") - 1);
  EXPECT_FALSE(verified.has_broken_at());

  // Only a supervisor may run it.
  v1::VerifyAuditLogRequest request;
  EXPECT_EQ(stub_->VerifyAuditLog(As("soc").get(), request, &verified).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);

  // A superuser alters record 3 of the first person's chain, past the trigger.
  Query(absl::StrCat("SET session_replication_role = replica; "
                     "UPDATE identity.audit_records SET reason = 'x' WHERE subject_person = '",
                     first.name(), "' AND sequence = 3"));
  v1::VerifyAuditLogResponse broken = Verify();
  EXPECT_FALSE(broken.verified());
  EXPECT_EQ(broken.broken_at().person(), first.name());
  EXPECT_EQ(broken.broken_at().sequence(), 3);
  EXPECT_TRUE(absl::StrContains(broken.problem(), "altered")) << broken.problem();
  EXPECT_FALSE(absl::StrContains(broken.problem(), "organizations/"));
  // The other chain alone is still intact.
  EXPECT_TRUE(Verify(second.name()).verified());

  // Put it back, then cut the end off the second chain.
  Query(absl::StrCat("SET session_replication_role = replica; "
                     "UPDATE identity.audit_records SET reason = 'owner' WHERE subject_person = '",
                     first.name(), "' AND sequence = 3"));
  EXPECT_TRUE(Verify().verified());
  Query(absl::StrCat("SET session_replication_role = replica; "
                     "DELETE FROM identity.audit_records WHERE subject_person = '",
                     second.name(), "' AND sequence = 2"));
  broken = Verify(second.name());
  EXPECT_FALSE(broken.verified());
  EXPECT_EQ(broken.broken_at().sequence(), 2);
  EXPECT_TRUE(absl::StrContains(broken.problem(), "missing")) << broken.problem();
}

TEST_F(IdentityStoreTest, TheServiceRoleCannotChangeTheAuditLog) {
  const v1::Person person = NewPerson(50);
  // The identity server's own login (the other services' roles: service_roles_test).
  absl::StatusOr<std::string> service_dsn = testing::ServiceRoleDsn(dsn_, "identity");
  ASSERT_TRUE(service_dsn.ok()) << service_dsn.status();
  pqxx::connection connection(*service_dsn);
  {
    pqxx::nontransaction tx(connection);
    EXPECT_GE(tx.exec("SELECT count(*) FROM identity.audit_records")[0][0].as<int64_t>(), 1);
    // It appends only through append_audit.
    tx.exec("SELECT identity.append_audit(now(), '1885', 'users/u', 'organizations/soc', "
            "'test.Append', 'persons', '', 'person', 'coordination', '', 'deny', 'test', "
            "'r1')");
  }
  for (const std::string sql :
       {"UPDATE identity.audit_records SET reason = 'x'",
        "DELETE FROM identity.audit_records",
        "UPDATE identity.audit_heads SET sequence = 0",
        "INSERT INTO identity.audit_records SELECT * FROM identity.audit_records LIMIT 1",
        "TRUNCATE identity.audit_records"}) {
    pqxx::nontransaction tx(connection);
    EXPECT_THROW(tx.exec(sql), pqxx::sql_error) << sql;
  }
  // And the table owner is stopped by the trigger.
  EXPECT_THROW(Query("UPDATE identity.audit_records SET reason = 'x'"), pqxx::sql_error);
  EXPECT_THROW(Query("DELETE FROM identity.audit_records"), pqxx::sql_error);
  EXPECT_TRUE(Verify().verified());
}

// What the owner of the identity tables can do to an unkeyed hash chain: rewrite a
// record, then recompute the hash of every record after it and of the head, as
// audit_record_hash does. Without the seal the chain verifies again.
void RewriteChainAsOwner(const std::function<pqxx::result(const std::string&)>& query,
                         const std::string& person, int64_t sequence) {
  query(absl::StrCat(
      "DO $$ DECLARE r record; previous text := repeat('0', 64); h text; BEGIN"
      " ALTER TABLE identity.audit_records DISABLE TRIGGER audit_records_append_only;"
      " UPDATE identity.audit_records SET actor_user = 'users/someone-else'"
      "   WHERE subject_person = '", person, "' AND shard = '' AND sequence = ", sequence, ";"
      " FOR r IN SELECT * FROM identity.audit_records WHERE subject_person = '", person,
      "'   AND shard = '' ORDER BY sequence LOOP"
      "   h := identity.audit_record_hash(r.sequence, r.time, r.municipality, r.actor_user,"
      "     r.actor_organization, r.action, r.resource, r.subject_person, r.data_category,"
      "     r.purpose, r.consent, r.decision, r.reason, r.request_id, previous);"
      "   UPDATE identity.audit_records SET previous_hash = previous, hash = h"
      "     WHERE subject_person = r.subject_person AND shard = r.shard"
      "       AND sequence = r.sequence;"
      "   previous := h;"
      " END LOOP;"
      " UPDATE identity.audit_heads SET hash = previous WHERE subject_person = '", person,
      "'   AND shard = '';"
      " ALTER TABLE identity.audit_records ENABLE TRIGGER audit_records_append_only;"
      " END $$"));
}

TEST_F(IdentityStoreTest, AChainRewrittenByTheTablesOwnerFailsAtItsKeyedSeal) {
  const v1::Person person = NewPerson(52);
  v1::Person seen;
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(Get("soc", person.name(), &seen).ok());
  absl::StatusOr<int> sealed = stack_->SealAuditChains();
  ASSERT_TRUE(sealed.ok()) << sealed.status();
  EXPECT_GE(*sealed, 1);
  const int64_t sealed_at = Count(absl::StrCat(
      "SELECT sequence FROM identity.audit_seals WHERE subject_person = '", person.name(), "'"));
  EXPECT_EQ(sealed_at, 4);  // created, then read three times
  EXPECT_TRUE(Verify(person.name()).verified());
  // Sealing again finds nothing new on this chain.
  ASSERT_TRUE(stack_->SealAuditChains().ok());

  // The owner puts another user's name on the first read, and recomputes every
  // hash after it: the hash chain alone no longer shows it (on the code before
  // the seals this verified), the seal does.
  RewriteChainAsOwner([&](const std::string& sql) { return Query(sql); }, person.name(), 2);
  v1::VerifyAuditLogResponse broken = Verify(person.name());
  EXPECT_FALSE(broken.verified());
  EXPECT_EQ(broken.broken_at().person(), person.name());
  EXPECT_EQ(broken.broken_at().sequence(), sealed_at);
  EXPECT_TRUE(absl::StrContains(broken.problem(), "keyed seal")) << broken.problem();

  // Nor can the owner make a new seal to match: a seal without the key fails.
  Query(absl::StrCat("UPDATE identity.audit_seals s SET hash = h.hash, mac = md5(h.hash) || "
                     "md5(h.hash) FROM identity.audit_heads h WHERE h.subject_person = "
                     "s.subject_person AND h.shard = s.shard AND s.subject_person = '",
                     person.name(), "'"));
  broken = Verify(person.name());
  EXPECT_FALSE(broken.verified());
  EXPECT_TRUE(absl::StrContains(broken.problem(), "seal is not valid")) << broken.problem();
}

TEST_F(IdentityStoreTest, AttemptsNamingNoPersonKeepChainsOfTheirOwnMunicipality) {
  ASSERT_TRUE(testing::EnsureMunicipality(*stub_, Token("kommunen", "administrator"), "1880")
                  .ok());
  // Reads of persons that do not exist, in two municipalities: each leaves a
  // refusal that names no person.
  v1::Person seen;
  for (int i = 0; i < 12; ++i) {
    for (const std::string municipality : {"1885", "1880"}) {
      v1::GetPersonRequest request;
      request.set_name(absl::StrCat("persons/00000000-0000-4000-8000-0000000000", 10 + i));
      grpc::ClientContext context;
      context.AddMetadata("authorization",
                          "Bearer " + Token("soc", "caseworker", municipality));
      EXPECT_EQ(stub_->GetPerson(&context, request, &seen).error_code(),
                grpc::StatusCode::PERMISSION_DENIED);
    }
  }
  // No head is shared by the two municipalities, and none by all of them.
  pqxx::result heads = Query(
      "SELECT shard, sequence FROM identity.audit_heads WHERE subject_person = '' ORDER BY 1");
  int64_t records = 0;
  for (const pqxx::row& head : heads) {
    const std::string shard = head[0].as<std::string>();
    EXPECT_TRUE(absl::StartsWith(shard, "1885/") || absl::StartsWith(shard, "1880/")) << shard;
    records += head[1].as<int64_t>();
  }
  EXPECT_EQ(Count("SELECT count(DISTINCT shard) FROM identity.audit_heads"
                  " WHERE subject_person = '' AND shard LIKE '1880/%'"),
            Count("SELECT count(DISTINCT shard) FROM identity.audit_records"
                  " WHERE subject_person = '' AND municipality = '1880'"));
  EXPECT_GE(heads.size(), 4u);  // 12 attempts each over 8 chains
  EXPECT_EQ(Count("SELECT count(*) FROM identity.audit_records WHERE subject_person = ''"
                  " AND shard NOT LIKE municipality || '/%'"),
            0);

  // Each municipality's supervisor verifies its own chains, sealed or not.
  for (const std::string municipality : {"1885", "1880"}) {
    v1::VerifyAuditLogRequest request;
    v1::VerifyAuditLogResponse response;
    grpc::ClientContext context;
    context.AddMetadata("authorization",
                        "Bearer " + Token("kommunen", "supervisor", municipality));
    ASSERT_TRUE(stub_->VerifyAuditLog(&context, request, &response).ok());
    EXPECT_TRUE(response.verified()) << municipality << ": " << response.problem();
    EXPECT_GE(response.records_checked(), 12) << municipality;
  }
  ASSERT_TRUE(stack_->SealAuditChains().ok());
  EXPECT_TRUE(Verify().verified());
}

TEST_F(IdentityStoreTest, BreakGlassOnlyForSocialServicesOrHealthCareWithAReason) {
  const v1::Person person = NewPerson(60);
  v1::BreakGlassRequest request;
  request.set_person(person.name());
  request.set_data_category("health");
  request.set_reason("Found unconscious at the workplace, ambulance on its way");
  v1::BreakGlassAccess access;

  // An employer may not, whatever its reason.
  EXPECT_EQ(stub_->BreakGlass(As("ica").get(), request, &access).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  // A health care manager may not either.
  EXPECT_EQ(stub_->BreakGlass(As("vc", "manager").get(), request, &access).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  // No reason, no access.
  v1::BreakGlassRequest no_reason = request;
  no_reason.set_reason("urgent");
  grpc::Status status = stub_->BreakGlass(As("vc").get(), no_reason, &access);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(ViolatedFields(status), std::vector<std::string>{"reason"});
  EXPECT_FALSE(Check("vc", person.name(), "health").permitted());

  status = stub_->BreakGlass(As("vc").get(), request, &access);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(absl::StartsWith(access.name(), "breakGlassAccesses/"));
  EXPECT_EQ(TimeUtil::TimestampToMicroseconds(access.expire_time()) -
                TimeUtil::TimestampToMicroseconds(access.create_time()),
            absl::ToInt64Microseconds(absl::Hours(1)));
  v1::CheckAccessResponse checked = Check("vc", person.name(), "health");
  EXPECT_TRUE(checked.permitted());
  EXPECT_EQ(checked.reason(), "break_glass");
  EXPECT_EQ(checked.consent(), access.name());
  EXPECT_FALSE(Check("vc", person.name(), "plan").permitted());  // that category only
  clock_.Advance(absl::Minutes(61));
  EXPECT_FALSE(Check("vc", person.name(), "health").permitted());

  EXPECT_EQ(Count(absl::StrCat("SELECT count(*) FROM identity.audit_records WHERE "
                               "subject_person = '",
                               person.name(),
                               "' AND reason = 'break_glass_granted' AND consent = '",
                               access.name(), "'")),
            1);
  EXPECT_EQ(Count(absl::StrCat("SELECT count(*) FROM identity.audit_records WHERE "
                               "subject_person = '",
                               person.name(),
                               "' AND action = 'identity.BreakGlass' AND decision = 'deny'")),
            2);
  // The owner is told: the event names it.
  pqxx::result events = Query(
      "SELECT envelope FROM identity.outbox WHERE event_type = 'identity.break_glass.granted'");
  ASSERT_EQ(events.size(), 1u);
  events::v1::Event envelope;
  ASSERT_TRUE(envelope.ParseFromString(pqxx::binarystring(events[0][0]).str()));
  v1::BreakGlassGranted payload;
  ASSERT_TRUE(envelope.payload().UnpackTo(&payload));
  EXPECT_EQ(payload.owner_organization(), "organizations/soc");
  EXPECT_EQ(payload.organization(), "organizations/vc");
  EXPECT_EQ(envelope.person(), person.name());
  EXPECT_EQ(envelope.data_category(), "health");
}

// Break-glass eligibility rests on an organization's kind, so a municipality's
// administrator must not be able to widen it: vux's caseworkers stay unable to
// break the glass whatever the administrator sends. What it may change is
// audited and announced.
TEST_F(IdentityStoreTest, AnAdministratorCannotMakeAnOrganizationEligibleToBreakTheGlass) {
  const std::string admin = Token("kommunen", "administrator");
  ASSERT_TRUE(testing::EnsureOrganization(*stub_, admin, "vux",
                                          v1::ORGANIZATION_KIND_ADULT_EDUCATION)
                  .ok());
  ASSERT_TRUE(testing::EnsureMunicipality(*stub_, admin, "1880").ok());
  const v1::Person person = NewPerson(90);

  v1::UpdateOrganizationRequest widen;
  widen.mutable_organization()->set_name("organizations/vux");
  widen.mutable_organization()->set_kind(v1::ORGANIZATION_KIND_SOCIAL_SERVICES);
  widen.mutable_update_mask()->add_paths("kind");
  v1::Organization updated;
  grpc::Status status =
      stub_->UpdateOrganization(CallWithToken(admin).get(), widen, &updated);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << status.error_message();
  widen.mutable_organization()->set_kind(v1::ORGANIZATION_KIND_HEALTH_CARE);
  EXPECT_EQ(stub_->UpdateOrganization(CallWithToken(admin).get(), widen, &updated).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  // "*" is no way around it.
  v1::GetOrganizationRequest get;
  get.set_name("organizations/vux");
  v1::Organization vux;
  ASSERT_TRUE(stub_->GetOrganization(CallWithToken(admin).get(), get, &vux).ok());
  v1::UpdateOrganizationRequest everything;
  *everything.mutable_organization() = vux;
  everything.mutable_organization()->set_kind(v1::ORGANIZATION_KIND_SOCIAL_SERVICES);
  everything.mutable_update_mask()->add_paths("*");
  EXPECT_EQ(
      stub_->UpdateOrganization(CallWithToken(admin).get(), everything, &updated).error_code(),
      grpc::StatusCode::PERMISSION_DENIED);

  // So vux still may not break the glass.
  v1::BreakGlassRequest glass;
  glass.set_person(person.name());
  glass.set_data_category("health");
  glass.set_reason("Found unconscious at the workplace, ambulance on its way");
  v1::BreakGlassAccess access;
  EXPECT_EQ(stub_->BreakGlass(As("vux").get(), glass, &access).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  ASSERT_TRUE(stub_->GetOrganization(CallWithToken(admin).get(), get, &vux).ok());
  EXPECT_EQ(vux.kind(), v1::ORGANIZATION_KIND_ADULT_EDUCATION);
  EXPECT_EQ(vux.version(), 1);

  // Nor may it touch what other municipalities rely on: af serves both, and the
  // administrator of 1885 neither adds nor removes 1880 for it.
  ASSERT_TRUE(testing::EnsureOrganization(*stub_, admin, "af-both",
                                          v1::ORGANIZATION_KIND_EMPLOYMENT_SERVICE)
                  .ok());
  v1::UpdateOrganizationRequest spread;
  spread.mutable_organization()->set_name("organizations/af-both");
  spread.mutable_organization()->add_municipalities("1885");
  spread.mutable_organization()->add_municipalities("1880");
  spread.mutable_update_mask()->add_paths("municipalities");
  EXPECT_EQ(stub_->UpdateOrganization(CallWithToken(admin).get(), spread, &updated).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);

  // A kind that gives no more may be corrected; the change is audited and announced.
  v1::UpdateOrganizationRequest narrow;
  narrow.mutable_organization()->set_name("organizations/vux");
  narrow.mutable_organization()->set_kind(v1::ORGANIZATION_KIND_SCHOOL);
  narrow.mutable_update_mask()->add_paths("kind");
  status = stub_->UpdateOrganization(CallWithToken(admin).get(), narrow, &updated);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(updated.kind(), v1::ORGANIZATION_KIND_SCHOOL);
  EXPECT_EQ(Count("SELECT count(*) FROM identity.audit_records WHERE "
                  "action = 'identity.UpdateOrganization' AND resource = 'organizations/vux' "
                  "AND decision = 'permit' AND reason = 'kind_changed'"),
            1);
  EXPECT_EQ(Count("SELECT count(*) FROM identity.audit_records WHERE "
                  "action = 'identity.UpdateOrganization' AND resource = 'organizations/vux' "
                  "AND decision = 'deny' AND reason = 'kind_widens_break_glass'"),
            3);
  EXPECT_EQ(Count("SELECT count(*) FROM identity.outbox WHERE "
                  "event_type = 'identity.organization.updated' AND aggregate = 'organizations/vux'"),
            1);
}

// A caseworker must not learn from CreatePerson whether someone is registered in
// another municipality: the number is unique within a municipality only. Each
// municipality that serves the person keeps its own record, consents and log.
TEST_F(IdentityStoreTest, CreatePersonTellsNothingAboutOtherMunicipalities) {
  const std::string admin = Token("kommunen", "administrator");
  ASSERT_TRUE(testing::EnsureMunicipality(*stub_, admin, "1880").ok());
  ASSERT_TRUE(testing::EnsureOrganization(*stub_, Token("orebro", "administrator", "1880"),
                                          "soc-orebro", v1::ORGANIZATION_KIND_SOCIAL_SERVICES,
                                          "1880")
                  .ok());
  const std::string number = TestPersonnummer(absl::CivilDay(1979, 5, 2), 31);
  auto here = testing::CreateTestPerson(*stub_, Token("soc"), number);
  ASSERT_TRUE(here.ok()) << here.status();

  const std::string orebro = Token("soc-orebro", "caseworker", "1880");
  v1::LookupPersonRequest lookup;
  lookup.set_identity_number(number);
  v1::Person seen;
  EXPECT_EQ(stub_->LookupPerson(CallWithToken(orebro).get(), lookup, &seen).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);

  auto there = testing::CreateTestPerson(*stub_, orebro, number);
  ASSERT_TRUE(there.ok()) << there.status();
  EXPECT_NE(there->name(), here->name());
  EXPECT_EQ(there->municipality(), "1880");
  EXPECT_EQ(there->owner_organization(), "organizations/soc-orebro");
  // Each municipality finds its own record by the number, and only that.
  ASSERT_TRUE(stub_->LookupPerson(CallWithToken(orebro).get(), lookup, &seen).ok());
  EXPECT_EQ(seen.name(), there->name());
  ASSERT_TRUE(stub_->LookupPerson(As("soc").get(), lookup, &seen).ok());
  EXPECT_EQ(seen.name(), here->name());
  // Within a municipality the number is still taken once.
  auto again = testing::CreateTestPerson(*stub_, Token("af"), number);
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists);
  // The record in Örebro is not on Lindesberg's audit chain, and the other way round.
  EXPECT_EQ(Count(absl::StrCat("SELECT count(*) FROM identity.audit_records WHERE "
                               "subject_person = '",
                               here->name(), "' AND municipality = '1880'")),
            0);
}

TEST_F(IdentityStoreTest, ReviewFlagsRefusalsBreakGlassAndVolume) {
  const absl::Time start = clock_.Now();
  std::vector<v1::Person> persons;
  for (int i = 0; i < 3; ++i) persons.push_back(NewPerson(70 + i));
  v1::Person seen;
  ASSERT_EQ(Get("fk", persons[0].name(), &seen).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  v1::BreakGlassRequest glass;
  glass.set_person(persons[1].name());
  glass.set_data_category("health");
  glass.set_reason("Found unconscious at the workplace, ambulance on its way");
  v1::BreakGlassAccess access;
  ASSERT_TRUE(stub_->BreakGlass(As("vc").get(), glass, &access).ok());
  clock_.Advance(absl::Seconds(1));

  v1::ReviewAccessRequest request;
  *request.mutable_start_time() = At(start);
  *request.mutable_end_time() = At(clock_.Now());
  request.set_volume_threshold(2);
  v1::ReviewAccessResponse review;
  EXPECT_EQ(stub_->ReviewAccess(As("soc").get(), request, &review).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  grpc::Status status = stub_->ReviewAccess(As("kommunen", "supervisor").get(), request, &review);
  ASSERT_TRUE(status.ok()) << status.error_message();

  int denied = 0, break_glass = 0, volume = 0;
  for (const v1::AccessFinding& finding : review.findings()) {
    switch (finding.kind()) {
      case v1::FINDING_KIND_DENIED_ATTEMPT:
        ++denied;
        EXPECT_EQ(finding.actor_organization(), "organizations/fk");
        EXPECT_EQ(finding.subject_person(), persons[0].name());
        EXPECT_FALSE(finding.request_id().empty());
        break;
      case v1::FINDING_KIND_BREAK_GLASS:
        ++break_glass;
        EXPECT_EQ(finding.actor_organization(), "organizations/vc");
        break;
      case v1::FINDING_KIND_VOLUME:
        ++volume;
        EXPECT_EQ(finding.actor_organization(), "organizations/soc");  // created all three
        EXPECT_EQ(finding.count(), 3);
        break;
      default:
        ADD_FAILURE() << "unexpected finding " << finding.ShortDebugString();
    }
  }
  EXPECT_EQ(denied, 1);
  EXPECT_EQ(break_glass, 1);
  EXPECT_EQ(volume, 1);

  // A higher threshold flags no volume.
  request.set_volume_threshold(3);
  review.Clear();
  ASSERT_TRUE(stub_->ReviewAccess(As("kommunen", "supervisor").get(), request, &review).ok());
  for (const v1::AccessFinding& finding : review.findings()) {
    EXPECT_NE(finding.kind(), v1::FINDING_KIND_VOLUME);
  }

  // The supervisor's own looks at the log are in it, on the chain of no person.
  Verify();
  EXPECT_EQ(Count("SELECT count(*) FROM identity.audit_records WHERE subject_person = '' "
                  "AND action = 'identity.ReviewAccess' AND reason = 'supervision' "
                  "AND actor_organization = 'organizations/kommunen'"),
            2);
  EXPECT_EQ(Count("SELECT count(*) FROM identity.audit_records WHERE subject_person = '' "
                  "AND action = 'identity.VerifyAuditLog' AND reason = 'supervision'"),
            1);
  EXPECT_TRUE(Verify().verified());
}

// Captures what the process writes to stderr (where the log goes) while alive.
class StderrCapture {
 public:
  StderrCapture() {
    std::fflush(stderr);
    saved_ = dup(STDERR_FILENO);
    char path[] = "/tmp/samplan-identity-log-XXXXXX";
    const int fd = mkstemp(path);
    path_ = path;
    dup2(fd, STDERR_FILENO);
    close(fd);
  }
  ~StderrCapture() { Stop(); }
  std::string Stop() {
    if (saved_ >= 0) {
      std::fflush(stderr);
      dup2(saved_, STDERR_FILENO);
      close(saved_);
      saved_ = -1;
    }
    std::ifstream in(path_);
    std::stringstream text;
    text << in.rdbuf();
    std::remove(path_.c_str());
    return text.str();
  }

 private:
  int saved_ = -1;
  std::string path_;
};

TEST_F(IdentityStoreTest, TheIdentityNumberNeverReachesTheLog) {
  ConfigureLogging("identity", LogLevel::kDebug);
  const std::string number = TestPersonnummer(absl::CivilDay(1979, 11, 5), 555);
  std::string wrong = number;
  wrong.back() = wrong.back() == '9' ? '0' : static_cast<char>(wrong.back() + 1);
  std::string log;
  {
    StderrCapture capture;
    auto person = testing::CreateTestPerson(*stub_, Token("soc"), number);
    ASSERT_TRUE(person.ok()) << person.status();
    EXPECT_FALSE(testing::CreateTestPerson(*stub_, Token("soc"), number).ok());
    EXPECT_FALSE(testing::CreateTestPerson(*stub_, Token("soc"), wrong).ok());
    v1::LookupPersonRequest lookup;
    lookup.set_identity_number(number);
    v1::Person seen;
    EXPECT_TRUE(stub_->LookupPerson(As("soc").get(), lookup, &seen).ok());
    EXPECT_FALSE(stub_->LookupPerson(As("fk").get(), lookup, &seen).ok());
    lookup.set_identity_number(wrong);
    EXPECT_FALSE(stub_->LookupPerson(As("soc").get(), lookup, &seen).ok());
    log = capture.Stop();
  }
  ConfigureLogging("identity", LogLevel::kInfo);
  // The calls were logged, just not what they were about.
  EXPECT_TRUE(absl::StrContains(log, "\"method\":\"CreatePerson\"")) << log;
  EXPECT_TRUE(absl::StrContains(log, "\"method\":\"LookupPerson\""));
  for (const std::string& secret :
       {number, number.substr(2), number.substr(0, 8), number.substr(2, 6) + "-",
        wrong.substr(2), std::string("Storgatan"), std::string("070-000")}) {
    EXPECT_FALSE(absl::StrContains(log, secret)) << secret;
  }
}

}  // namespace
}  // namespace samplan::identity
