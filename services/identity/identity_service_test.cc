// Tier 2: the IdentityService's person calls over gRPC, in-process on port 0 with a
// real client stub and real token verification, over an in-memory repository.
// The PostgreSQL repository is tested against a real server in
// tests/identity_store_test.cc.

#include "services/identity/identity_service.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/server.h"
#include "common/status.h"
#include "services/identity/personnummer.h"
#include "tests/support/fixtures.h"
#include "tests/support/middle_tier.h"

namespace samplan::identity {
namespace {

// Keeps persons in memory with the same contract as PgIdentityRepository's
// guarded person calls, deciding access by the same rule from facts the test
// sets: an organization holds a consent for the data categories GrantConsent
// named. The calls this tier does not test answer UNIMPLEMENTED.
class InMemoryIdentityRepository final : public IdentityRepository {
 public:
  absl::StatusOr<StoredPerson> CreatePerson(const Caller& caller, const StoredPerson& person,
                                            const events::v1::Event& event) override {
    absl::MutexLock lock(&mu_);
    const GuardedAccess create = DecideAndAudit(
        caller, AccessTo(person, AccessAction::kCreate, person.name(), "person", "coordination"),
        AccessFacts{});
    if (!create.decision.permitted) {
      AuditEntry refusal = create.audit;
      refusal.subject_person.clear();
      refusal.resource = "persons";
      audits_.push_back(refusal);
      return StatusOf(create.decision, "persons");
    }
    for (const auto& [id, stored] : persons_) {
      if (stored.municipality == person.municipality &&
          stored.identity_number_hash == person.identity_number_hash) {
        return absl::AlreadyExistsError("a person with this identity number is registered");
      }
    }
    persons_[person.id] = person;
    audits_.push_back(create.audit);
    events_.push_back(event);
    return person;
  }

  absl::StatusOr<v1::Person> ReadPerson(const Caller& caller, const PersonKey& key,
                                        const std::string& purpose, PersonView view) override {
    absl::MutexLock lock(&mu_);
    std::optional<StoredPerson> person;
    for (const auto& [id, stored] : persons_) {
      if (key.id.empty() ? stored.municipality == caller.principal.municipality &&
                               stored.identity_number_hash == key.identity_number_hash
                         : id == key.id) {
        person = stored;
      }
    }
    const std::string asked_for = key.id.empty() ? "persons" : "persons/" + key.id;
    const AccessRequest request = AccessTo(
        person, AccessAction::kRead, person ? person->name() : asked_for, "person", purpose);
    if (!person) {
      const GuardedAccess missing = MissingRecordAccess(caller, request);
      audits_.push_back(missing.audit);
      return StatusOf(missing.decision, asked_for);
    }
    GuardedAccess read =
        DecideAndAudit(caller, request, FactsLocked(caller.principal.organization, "person"));
    if (!read.decision.permitted) {
      audits_.push_back(read.audit);
      return StatusOf(read.decision, asked_for);
    }
    bool with_contact = read.decision.reason == "owner";
    if (!with_contact && !person->protected_identity) {
      AccessRequest contact = request;
      contact.data_category = "contact";
      const GuardedAccess contact_read =
          DecideAndAudit(caller, contact, FactsLocked(caller.principal.organization, "contact"));
      if (contact_read.decision.permitted) {
        with_contact = true;
        read = contact_read;
      }
    }
    absl::StatusOr<v1::Person> shown = view(*person, with_contact);
    if (!shown.ok()) return shown.status();
    audits_.push_back(read.audit);
    return shown;
  }

  absl::StatusOr<StoredConsent> CreateConsent(const Caller&, const StoredConsent&,
                                              ConsentEventOf) override {
    return absl::UnimplementedError("not in this tier");
  }
  absl::StatusOr<StoredConsent> GetConsent(const Caller&, const std::string&) override {
    return absl::UnimplementedError("not in this tier");
  }
  absl::StatusOr<std::vector<StoredConsent>> ListConsents(const Caller&, const std::string&,
                                                          std::optional<absl::Time>,
                                                          const std::string&, int) override {
    return absl::UnimplementedError("not in this tier");
  }
  absl::StatusOr<StoredConsent> WithdrawConsent(const Caller&, const std::string&,
                                                const std::string&, ConsentEventOf) override {
    return absl::UnimplementedError("not in this tier");
  }
  absl::StatusOr<AccessDecision> CheckAccess(const Caller&, const std::string&,
                                             const std::string&, const std::string&) override {
    return absl::UnimplementedError("not in this tier");
  }
  absl::Status BreakGlass(const Caller&, const v1::BreakGlassAccess&,
                          BreakGlassEventOf) override {
    return absl::UnimplementedError("not in this tier");
  }
  absl::StatusOr<std::vector<AuditRecord>> ListAccessLog(const Caller&, const std::string&,
                                                         int64_t, int) override {
    return absl::UnimplementedError("not in this tier");
  }
  absl::Status Transaction(absl::Time, absl::FunctionRef<absl::Status(IdentityStore&)>) override {
    return absl::UnimplementedError("not in this tier");
  }
  absl::Status Read(absl::Time, absl::FunctionRef<absl::Status(IdentityStore&)>) override {
    return absl::UnimplementedError("not in this tier");
  }

  // `organization` holds a consent of every person for `category`.
  void GrantConsent(const std::string& organization, const std::string& category) {
    absl::MutexLock lock(&mu_);
    consents_[organization].insert(category);
  }
  std::vector<AuditEntry> audits() {
    absl::MutexLock lock(&mu_);
    return audits_;
  }
  std::vector<events::v1::Event> events() {
    absl::MutexLock lock(&mu_);
    return events_;
  }

 private:
  AccessFacts FactsLocked(const std::string& organization, const std::string& category)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    AccessFacts facts;
    if (consents_[organization].contains(category)) {
      facts.consent = "consents/c-" + organization.substr(organization.find('/') + 1);
    } else {
      facts.consent_gap = "no_consent";
    }
    return facts;
  }

  absl::Mutex mu_;
  std::map<std::string, StoredPerson> persons_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::set<std::string>> consents_ ABSL_GUARDED_BY(mu_);
  std::vector<AuditEntry> audits_ ABSL_GUARDED_BY(mu_);
  std::vector<events::v1::Event> events_ ABSL_GUARDED_BY(mu_);
};

// A valid personnummer, twelve digits, of someone born on 14 March 1985.
std::string Personnummer(int serial) {
  const std::string nine = absl::StrCat("850314", 100 + serial % 900);
  return absl::StrCat("19", nine, std::string(1, LuhnCheckDigit(nine)));
}

class IdentityServiceTest : public testing::ServedServiceTest {
 protected:
  void SetUp() override {
    ServedServiceTest::SetUp();
    if (HasFatalFailure()) return;
    auto protector = MakeIdentityNumberProtector(IdentityNumberProtector::GenerateKeyBase64(),
                                                 IdentityNumberProtector::GenerateKeyBase64());
    ASSERT_TRUE(protector.ok()) << protector.status();
    protector_ = std::make_unique<IdentityNumberProtector>(*std::move(protector));
    ASSERT_TRUE(
        served_
            ->Serve(std::make_unique<IdentityService>(repository_, *protector_, served_->calls()))
            .ok());
    stub_ = v1::IdentityService::NewStub(served_->NewChannel());
  }

  std::unique_ptr<grpc::ClientContext> As(const std::string& org,
                                          const std::string& role = "caseworker") {
    return testing::CallWithToken(keys_->Token(org, role), absl::Seconds(5));
  }

  v1::CreatePersonRequest NewPerson(int serial) {
    v1::CreatePersonRequest request;
    request.set_request_id(absl::StrCat("create-", serial));
    v1::Person* person = request.mutable_person();
    person->set_identity_number(Personnummer(serial));
    person->set_given_name("Sara");
    person->set_family_name("Lind");
    person->set_address("Storgatan 1, 711 30 Lindesberg");
    return request;
  }

  InMemoryIdentityRepository repository_;
  std::unique_ptr<IdentityNumberProtector> protector_;
  std::unique_ptr<v1::IdentityService::Stub> stub_;
};

TEST_F(IdentityServiceTest, TheOwnerRegistersAPersonAndSeesEverything) {
  v1::Person created;
  grpc::Status status = stub_->CreatePerson(As("soc").get(), NewPerson(1), &created);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(created.identity_number(), Personnummer(1));
  EXPECT_EQ(created.owner_organization(), "organizations/soc");
  EXPECT_EQ(created.municipality(), "1885");
  EXPECT_EQ(created.birth_date().year(), 1985);

  v1::GetPersonRequest get;
  get.set_name(created.name());
  v1::Person seen;
  ASSERT_TRUE(stub_->GetPerson(As("soc").get(), get, &seen).ok());
  EXPECT_EQ(seen.identity_number(), Personnummer(1));
  EXPECT_EQ(seen.address(), "Storgatan 1, 711 30 Lindesberg");
  EXPECT_FALSE(seen.contact_withheld());

  const std::vector<events::v1::Event> events = repository_.events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].type(), "identity.person.created");
  EXPECT_EQ(events[0].owner_organization(), "organizations/soc");
  const std::vector<AuditEntry> audits = repository_.audits();
  ASSERT_EQ(audits.size(), 2u);
  EXPECT_EQ(audits[0].action, "identity.CreatePerson");
  EXPECT_EQ(audits[1].action, "identity.GetPerson");
  EXPECT_EQ(audits[1].reason, "owner");
}

TEST_F(IdentityServiceTest, OthersSeeAPersonByConsentAndContactOnlyByAConsentForIt) {
  v1::Person created;
  ASSERT_TRUE(stub_->CreatePerson(As("soc").get(), NewPerson(2), &created).ok());
  v1::GetPersonRequest get;
  get.set_name(created.name());
  v1::Person seen;
  EXPECT_EQ(stub_->GetPerson(As("af").get(), get, &seen).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);

  repository_.GrantConsent("organizations/af", "person");
  ASSERT_TRUE(stub_->GetPerson(As("af").get(), get, &seen).ok());
  EXPECT_TRUE(seen.contact_withheld());
  EXPECT_TRUE(seen.address().empty());

  repository_.GrantConsent("organizations/af", "contact");
  ASSERT_TRUE(stub_->GetPerson(As("af").get(), get, &seen).ok());
  EXPECT_FALSE(seen.contact_withheld());
  EXPECT_EQ(seen.address(), "Storgatan 1, 711 30 Lindesberg");

  // Each read left one record, naming the widest category shown.
  const std::vector<AuditEntry> audits = repository_.audits();
  ASSERT_EQ(audits.size(), 4u);
  EXPECT_EQ(audits[1].decision, "deny");
  EXPECT_EQ(audits[1].reason, "no_consent");
  EXPECT_EQ(audits[2].data_category, "person");
  EXPECT_EQ(audits[3].data_category, "contact");
}

TEST_F(IdentityServiceTest, LookupFindsAPersonByNumberAndAnUnknownOneLooksRefused) {
  v1::Person created;
  ASSERT_TRUE(stub_->CreatePerson(As("soc").get(), NewPerson(3), &created).ok());
  v1::LookupPersonRequest lookup;
  lookup.set_identity_number(Personnummer(3));
  v1::Person seen;
  ASSERT_TRUE(stub_->LookupPerson(As("soc").get(), lookup, &seen).ok());
  EXPECT_EQ(seen.name(), created.name());

  // Nobody has this number: the same answer as a person one may not see.
  lookup.set_identity_number(Personnummer(4));
  EXPECT_EQ(stub_->LookupPerson(As("soc").get(), lookup, &seen).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(repository_.audits().back().reason, "not_found");
  EXPECT_EQ(repository_.audits().back().resource, "persons");
}

TEST_F(IdentityServiceTest, AWrongNumberIsRefusedBeforeTheRepositoryAndAManagerSeesNothing) {
  v1::CreatePersonRequest request = NewPerson(5);
  std::string wrong = Personnummer(5);
  wrong.back() = static_cast<char>('0' + (wrong.back() - '0' + 1) % 10);  // a wrong check digit
  request.mutable_person()->set_identity_number(wrong);
  v1::Person created;
  grpc::Status status = stub_->CreatePerson(As("soc").get(), request, &created);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(repository_.audits().empty());

  EXPECT_EQ(stub_->CreatePerson(As("soc", "manager").get(), NewPerson(5), &created).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  ASSERT_EQ(repository_.audits().size(), 1u);
  EXPECT_EQ(repository_.audits()[0].reason, "role");
  EXPECT_EQ(repository_.audits()[0].resource, "persons");
}

}  // namespace
}  // namespace samplan::identity
