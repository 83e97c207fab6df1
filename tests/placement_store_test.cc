// Tier 3: the placement service in-process against real PostgreSQL and Redis
// processes started by the test, with the identity service in-process for the
// persons and consents that agreements are decided on: the agreement's
// lifecycle and its events on the municipality's stream, the last seat signed
// twice at once, the coordinator's call list, prao allocation,
// organisationsnummer errors, consent on agreements with the audit record each
// decision leaves, and list pages that neither repeat nor lose rows added
// between them.

#include <google/protobuf/util/time_util.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <barrier>
#include <pqxx/pqxx>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/call.h"
#include "common/clock.h"
#include "common/ids.h"
#include "common/migrations.h"
#include "common/redis.h"
#include "common/relay.h"
#include "common/rpc_details.h"
#include "common/server.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "samplan/placement/v1/placement.grpc.pb.h"
#include "services/identity/personnummer.h"
#include "services/placement/matching.h"
#include "services/placement/pg_placement_repository.h"
#include "services/placement/placement_service.h"
#include "tests/support/fixtures.h"
#include "tests/support/suite.h"
#include "tests/support/identity_stack.h"
#include "tests/support/servers.h"
#include "tests/support/service_roles.h"

namespace samplan::placement {
namespace {

namespace id = ::samplan::identity::v1;
using ::google::protobuf::util::TimeUtil;
using testing::PostgresServer;
using testing::RedisServer;
using testing::TestKeys;

using testing::ViolatedFields;

v1::DateRange Range(absl::CivilDay start, absl::CivilDay end) {
  v1::DateRange r;
  *r.mutable_start_date() = DateOf(start);
  *r.mutable_end_date() = DateOf(end);
  return r;
}

google::protobuf::Timestamp At(absl::Time time) {
  return TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(time));
}

// The placement service wired as main.cc wires it, on a free loopback port,
// with a clock the test moves.
class InProcessPlacement {
 public:
  InProcessPlacement(const std::string& dsn, const TokenVerifierOptions& tokens,
                     const Clock& clock) {
    // As its database role, as in production (tests/support/service_roles.h).
    pool_ = *PgPool::Create({*testing::ServiceRoleDsn(dsn, "placement"), 8, absl::Seconds(10),
                             "test", PlacementRepositoryStatements(outbox_)});
    repository_ = std::make_unique<PgPlacementRepository>(*pool_, outbox_);
    verifier_ = *MakeTokenVerifier(tokens);
    calls_ = std::make_unique<CallHandler>(*verifier_, absl::Seconds(10), clock);
    service_ = std::make_unique<PlacementService>(*repository_, *calls_, NewWorkplaceId, 90);
    server_ = *GrpcServer::Start(
        {"127.0.0.1:0", absl::Seconds(10), absl::ZeroDuration(), absl::Seconds(2), ""},
        {service_.get()});
    stub_ = v1::PlacementService::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", server_->port()), grpc::InsecureChannelCredentials()));
  }
  v1::PlacementService::Stub& stub() { return *stub_; }

 private:
  Outbox outbox_{kSchema};
  std::unique_ptr<PgPool> pool_;
  std::unique_ptr<PgPlacementRepository> repository_;
  std::unique_ptr<TokenVerifier> verifier_;
  std::unique_ptr<CallHandler> calls_;
  std::unique_ptr<PlacementService> service_;
  std::unique_ptr<GrpcServer> server_;
  std::unique_ptr<v1::PlacementService::Stub> stub_;
};

class PlacementStoreTest : public testing::ServersSuite {
 protected:
  void SetUp() override {
    auto dsn = pg_->CreateDatabase();
    ASSERT_TRUE(dsn.ok()) << dsn.status();
    dsn_ = *dsn;
    ASSERT_TRUE(testing::InProcessIdentity::ApplyIdentityMigrations(dsn_).ok());
    ASSERT_TRUE(ApplyMigrations(dsn_, kSchema, PlacementMigrationSets()).ok());
    RedisClient redis({redis_->host(), redis_->port()});
    ASSERT_TRUE(redis.Command({"FLUSHALL"}).ok());
    auto identity = testing::InProcessIdentity::Start(dsn_, keys_->VerifierOptions(),
                                                      testing::IdentityKeys::Generate());
    ASSERT_TRUE(identity.ok()) << identity.status();
    identity_ = *std::move(identity);
    identity_stub_ = identity_->NewStub();
    const std::string admin = keys_->Token("soc", "administrator");
    ASSERT_TRUE(testing::EnsureMunicipality(*identity_stub_, admin, "1885").ok());
    for (const char* org : {"soc", "prakt", "af", "fk"}) {
      ASSERT_TRUE(testing::EnsureOrganization(*identity_stub_, admin, org,
                                              id::ORGANIZATION_KIND_SOCIAL_SERVICES)
                      .ok());
    }
    placement_ = std::make_unique<InProcessPlacement>(dsn_, keys_->VerifierOptions(), clock_);
    relay_ = std::make_unique<OutboxRelay>(RelayOptions{kSchema, 50, absl::Milliseconds(5)}, dsn_,
                                           RedisOptions{redis_->host(), redis_->port()});
    relay_->Start();
  }

  void TearDown() override {
    relay_.reset();
    placement_.reset();
    identity_.reset();
  }

  v1::PlacementService::Stub& stub() { return placement_->stub(); }

  std::unique_ptr<grpc::ClientContext> As(const std::string& org,
                                          const std::string& role = "placement_coordinator") {
    return testing::CallWithToken(keys_->Token(org, role));
  }

  v1::Employer EmployerIn(const std::string& name, const std::string& number) {
    v1::Employer e;
    e.set_organization_number(number);
    e.set_display_name(name);
    e.set_industry("handel");
    v1::Workplace* w = e.add_workplaces();
    w->set_id("butik");
    w->set_display_name("Butiken");
    w->set_address("Kristinavägen 2, 711 30 Lindesberg");
    w->mutable_location()->set_latitude(59.594);
    w->mutable_location()->set_longitude(15.230);
    e.add_contact_persons()->set_display_name("Karin Enhetschef");
    return e;
  }

  grpc::Status CreateEmployer(const v1::Employer& employer, v1::Employer* out,
                              const std::string& request_id = "") {
    v1::CreateEmployerRequest request;
    *request.mutable_employer() = employer;
    request.set_request_id(request_id.empty() ? NewUuid() : request_id);
    return stub().CreateEmployer(As("prakt").get(), request, out);
  }

  // An employer with a valid, distinct organisationsnummer (559xxxxxxC).
  v1::Employer NewEmployer(const std::string& name) {
    const std::string nine = absl::StrCat("559", 100000 + (++numbers_));
    const std::string number = nine + identity::LuhnCheckDigit(nine);
    v1::Employer out;
    grpc::Status status = CreateEmployer(EmployerIn(name, number), &out);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return out;
  }

  v1::Placement NewPlacement(const v1::Employer& employer, int seats,
                             v1::PlacementKind kind = v1::PLACEMENT_KIND_WORK_PRACTICE) {
    v1::CreatePlacementRequest request;
    request.set_request_id(NewUuid());
    v1::Placement* p = request.mutable_placement();
    p->set_employer(employer.name());
    p->set_workplace("butik");
    p->set_kind(kind);
    p->set_title("Butiksbiträde");
    p->set_seats(seats);
    *p->add_availability() = Range(absl::CivilDay(2027, 1, 1), absl::CivilDay(2027, 12, 31));
    p->set_hours_per_week(20);
    v1::Placement out;
    grpc::Status status = stub().CreatePlacement(As("prakt").get(), request, &out);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return out;
  }

  // A person registered by the social services (soc), with a consent for
  // praktiksamordningen (prakt) to handle the person's placement.
  std::string ConsentingPerson(std::string* consent = nullptr) {
    auto person =
        testing::CreateTestPerson(*identity_stub_, keys_->Token("soc"),
                                  testing::TestPersonnummer(absl::CivilDay(1998, 4, 2), ++serial_));
    EXPECT_TRUE(person.ok()) << person.status();
    auto granted = testing::GrantTestConsent(*identity_stub_, keys_->Token("soc"), person->name(),
                                             {"organizations/prakt"}, "placement", {"placement"},
                                             absl::Now() + absl::Hours(24 * 365));
    EXPECT_TRUE(granted.ok()) << granted.status();
    if (consent != nullptr) *consent = granted->name();
    return person->name();
  }

  grpc::Status CreateAgreement(const std::string& person, const v1::Placement& placement,
                               v1::Agreement* out, const std::string& org = "prakt") {
    v1::CreateAgreementRequest request;
    request.set_request_id(NewUuid());
    v1::Agreement* a = request.mutable_agreement();
    a->set_person(person);
    a->set_placement(placement.name());
    a->mutable_supervisor()->set_display_name("Per Handledare");
    *a->mutable_period() = Range(absl::CivilDay(2027, 3, 1), absl::CivilDay(2027, 5, 31));
    a->set_hours_per_week(20);
    a->set_goal("Arbetserfarenhet och referens inom handel");
    a->add_sub_goals()->set_description("Klara kassan på egen hand");
    return stub().CreateAgreement(As(org).get(), request, out);
  }

  grpc::Status Visit(const v1::Agreement& a, v1::Agreement* out) {
    v1::RecordWorkplaceVisitRequest request;
    request.set_name(a.name());
    *request.mutable_visit_date() = DateOf(Today(clock_.Now()));
    return stub().RecordWorkplaceVisit(As("prakt").get(), request, out);
  }

  grpc::Status SignFor(const std::string& name, v1::Party party, v1::Agreement* out) {
    v1::SignAgreementRequest request;
    request.set_name(name);
    request.set_party(party);
    return stub().SignAgreement(As("prakt").get(), request, out);
  }

  // The types of the events on 1885's stream, once the relay has published
  // `count`.
  std::vector<std::string> EventTypes(size_t count) {
    std::vector<std::string> types;
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (absl::Now() < deadline) {
      auto events = testing::ReadStream(redis_->Address(), "1885");
      types.clear();
      if (events.ok()) {
        for (const auto& e : *events) types.push_back(e.type);
      }
      if (types.size() >= count) break;
      absl::SleepFor(absl::Milliseconds(20));
    }
    return types;
  }

  // The audit records left for `resource`: (organization, decision, reason).
  std::vector<std::tuple<std::string, std::string, std::string>> Audit(
      const std::string& resource) {
    pqxx::connection connection(dsn_);
    pqxx::nontransaction tx(connection);
    std::vector<std::tuple<std::string, std::string, std::string>> out;
    for (const pqxx::row& row : tx.exec_params("SELECT actor_organization, decision, reason FROM "
                                               "identity.audit_records"
                                               " WHERE resource = $1 ORDER BY time, sequence",
                                               resource)) {
      out.emplace_back(row[0].as<std::string>(), row[1].as<std::string>(),
                       row[2].as<std::string>());
    }
    return out;
  }

  int64_t Count(const std::string& sql) {
    pqxx::connection connection(dsn_);
    pqxx::nontransaction tx(connection);
    return tx.exec(sql)[0][0].as<int64_t>();
  }

  FakeClock clock_{absl::FromCivil(absl::CivilSecond(2027, 3, 1, 8, 0, 0), absl::UTCTimeZone())};
  std::string dsn_;
  std::unique_ptr<testing::InProcessIdentity> identity_;
  std::unique_ptr<id::IdentityService::Stub> identity_stub_;
  std::unique_ptr<InProcessPlacement> placement_;
  std::unique_ptr<OutboxRelay> relay_;
  int numbers_ = 0;
  int serial_ = 0;
};


TEST_F(PlacementStoreTest, OrganizationNumberErrorsNameTheFieldAndStoreNothing) {
  v1::Employer out;
  grpc::Status bad = CreateEmployer(EmployerIn("Fel AB", "556036-0794"), &out);
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(ViolatedFields(bad), std::vector<std::string>{"employer.organization_number"});
  EXPECT_NE(bad.error_message().find("check digit"), std::string::npos);
  grpc::Status shape = CreateEmployer(EmployerIn("Fel AB", "55603607"), &out);
  EXPECT_EQ(ViolatedFields(shape), std::vector<std::string>{"employer.organization_number"});
  EXPECT_EQ(Count("SELECT count(*) FROM placement.employers"), 0);

  // Without the hyphen it is the same number, stored in one form.
  v1::Employer first;
  ASSERT_TRUE(CreateEmployer(EmployerIn("Rätt AB", "5560360793"), &first, "req-1").ok());
  EXPECT_EQ(first.organization_number(), "556036-0793");
  // A retry returns the same employer; a second registration of the number is
  // refused.
  v1::Employer again;
  ASSERT_TRUE(CreateEmployer(EmployerIn("Rätt AB", "5560360793"), &again, "req-1").ok());
  EXPECT_EQ(again.name(), first.name());
  grpc::Status duplicate = CreateEmployer(EmployerIn("Rätt igen AB", "556036-0793"), &out);
  EXPECT_EQ(duplicate.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_NE(duplicate.error_message().find("organization_number"), std::string::npos);
  EXPECT_EQ(Count("SELECT count(*) FROM placement.employers"), 1);

  // A sole trader's personnummer is taken as such.
  v1::Employer sole;
  ASSERT_TRUE(CreateEmployer(EmployerIn("Frisör Amira", "19850312-2387"), &sole).ok());
  EXPECT_TRUE(sole.sole_trader());
}

TEST_F(PlacementStoreTest, OnlyCoordinatorsChangeTheBank) {
  v1::CreateEmployerRequest request;
  *request.mutable_employer() = EmployerIn("Butik AB", "556036-0793");
  request.set_request_id("r");
  v1::Employer out;
  EXPECT_EQ(stub().CreateEmployer(As("soc", "caseworker").get(), request, &out).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Count("SELECT count(*) FROM placement.employers"), 0);
}

TEST_F(PlacementStoreTest, AgreementLifecycleIsOneEventPerStepOnTheStream) {
  const v1::Employer employer = NewEmployer("ICA Kvantum Lindesberg");
  const v1::Placement placement = NewPlacement(employer, 2);
  const std::string person = ConsentingPerson();

  v1::CreatePlacementNeedRequest need_request;
  need_request.set_request_id("need-1");
  need_request.mutable_placement_need()->set_person(person);
  v1::MatchProfile* profile = need_request.mutable_placement_need()->mutable_profile();
  profile->mutable_home()->set_latitude(59.60);
  profile->mutable_home()->set_longitude(15.22);
  profile->add_interests("handel");
  *profile->mutable_period() = Range(absl::CivilDay(2027, 3, 1), absl::CivilDay(2027, 5, 31));
  profile->set_age(28);
  v1::PlacementNeed need;
  ASSERT_TRUE(stub().CreatePlacementNeed(As("prakt").get(), need_request, &need).ok());
  EXPECT_EQ(need.status(), v1::PLACEMENT_NEED_STATUS_WAITING);

  // Matching finds the place and says why.
  v1::MatchPlacementsRequest match_request;
  match_request.set_placement_need(need.name());
  v1::MatchPlacementsResponse matches;
  ASSERT_TRUE(stub().MatchPlacements(As("prakt").get(), match_request, &matches).ok());
  ASSERT_EQ(matches.matches_size(), 1);
  EXPECT_EQ(matches.matches(0).placement(), placement.name());
  EXPECT_EQ(matches.matches(0).parts_size(), 4);

  v1::Agreement a;
  ASSERT_TRUE(CreateAgreement(person, placement, &a).ok());
  EXPECT_EQ(a.status(), v1::AGREEMENT_STATUS_PROPOSED);
  EXPECT_EQ(a.coordinator_organization(), "organizations/prakt");
  EXPECT_EQ(a.follow_up_interval_days(), 30);

  // Signing before the workplace visit is refused, saying why.
  v1::Agreement out;
  grpc::Status early = SignFor(a.name(), v1::PARTY_PARTICIPANT, &out);
  EXPECT_EQ(early.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(early.error_message().find("visit"), std::string::npos);

  ASSERT_TRUE(Visit(a, &a).ok());
  EXPECT_EQ(a.status(), v1::AGREEMENT_STATUS_WORKPLACE_VISITED);
  ASSERT_TRUE(SignFor(a.name(), v1::PARTY_PARTICIPANT, &a).ok());
  ASSERT_TRUE(SignFor(a.name(), v1::PARTY_EMPLOYER, &a).ok());
  v1::GetPlacementRequest get_placement;
  get_placement.set_name(placement.name());
  v1::Placement seen;
  ASSERT_TRUE(stub().GetPlacement(As("prakt").get(), get_placement, &seen).ok());
  EXPECT_EQ(seen.seats_taken(), 0);  // not yet signed by all three
  ASSERT_TRUE(SignFor(a.name(), v1::PARTY_COORDINATOR, &a).ok());
  EXPECT_EQ(a.status(), v1::AGREEMENT_STATUS_SIGNED);
  // Who recorded each signature is kept, and read back.
  v1::GetAgreementRequest get_agreement;
  get_agreement.set_name(a.name());
  v1::Agreement read;
  ASSERT_TRUE(stub().GetAgreement(As("prakt").get(), get_agreement, &read).ok());
  for (const v1::SignatureRecord* record :
       {&read.participant_signature(), &read.employer_signature(),
        &read.coordinator_signature()}) {
    EXPECT_EQ(record->organization(), "organizations/prakt");
    EXPECT_TRUE(absl::StartsWith(record->user(), "users/")) << record->user();
    EXPECT_TRUE(record->has_time());
  }
  ASSERT_TRUE(stub().GetPlacement(As("prakt").get(), get_placement, &seen).ok());
  EXPECT_EQ(seen.seats_taken(), 1);
  v1::GetPlacementNeedRequest get_need;
  get_need.set_name(need.name());
  ASSERT_TRUE(stub().GetPlacementNeed(As("prakt").get(), get_need, &need).ok());
  EXPECT_EQ(need.status(), v1::PLACEMENT_NEED_STATUS_PLACED);

  v1::StartAgreementRequest start;
  start.set_name(a.name());
  ASSERT_TRUE(stub().StartAgreement(As("prakt").get(), start, &a).ok());
  EXPECT_EQ(a.status(), v1::AGREEMENT_STATUS_ACTIVE);
  // A stale etag changes nothing.
  v1::CompleteAgreementRequest complete;
  complete.set_name(a.name());
  complete.set_outcome(v1::OUTCOME_EMPLOYMENT);
  complete.set_etag("1");
  EXPECT_EQ(stub().CompleteAgreement(As("prakt").get(), complete, &out).error_code(),
            grpc::StatusCode::ABORTED);
  complete.set_etag(a.etag());
  clock_.Set(clock_.Now() + absl::Hours(24 * 60));
  ASSERT_TRUE(stub().CompleteAgreement(As("prakt").get(), complete, &a).ok());
  EXPECT_EQ(a.status(), v1::AGREEMENT_STATUS_COMPLETED);
  EXPECT_EQ(DayOf(a.ended_date()), absl::CivilDay(2027, 4, 30));
  ASSERT_TRUE(stub().GetPlacement(As("prakt").get(), get_placement, &seen).ok());
  EXPECT_EQ(seen.seats_taken(), 0);

  // A second agreement, ended early: its reason travels with the event.
  v1::Agreement b;
  ASSERT_TRUE(CreateAgreement(ConsentingPerson(), placement, &b).ok());
  v1::EndAgreementRequest end;
  end.set_name(b.name());
  end.set_reason(v1::END_REASON_STARTED_STUDIES);
  end.set_outcome(v1::OUTCOME_STUDIES);
  ASSERT_TRUE(stub().EndAgreement(As("prakt").get(), end, &b).ok());
  EXPECT_EQ(b.end_reason(), v1::END_REASON_STARTED_STUDIES);

  const std::vector<std::string> expected = {
      "placement.agreement.proposed",     "placement.agreement.workplace_visited",
      "placement.agreement.party_signed", "placement.agreement.party_signed",
      "placement.agreement.signed",       "placement.agreement.started",
      "placement.agreement.completed",    "placement.agreement.proposed",
      "placement.agreement.ended"};
  EXPECT_EQ(EventTypes(expected.size()), expected);
  auto events = testing::ReadStream(redis_->Address(), "1885");
  ASSERT_TRUE(events.ok());
  for (size_t i = 0; i < 7; ++i) {
    EXPECT_EQ((*events)[i].aggregate, a.name());
    EXPECT_EQ((*events)[i].version, static_cast<int64_t>(i + 1));
  }
}

TEST_F(PlacementStoreTest, TwoSigningsForTheLastSeatAtOnceExactlyOneSucceeds) {
  const v1::Employer employer = NewEmployer("Lindesbergs Lager AB");
  for (int round = 0; round < 5; ++round) {
    const v1::Placement placement = NewPlacement(employer, 1);
    std::string names[2];
    for (std::string& name : names) {
      v1::Agreement a;
      ASSERT_TRUE(CreateAgreement(ConsentingPerson(), placement, &a).ok());
      ASSERT_TRUE(Visit(a, &a).ok());
      ASSERT_TRUE(SignFor(a.name(), v1::PARTY_PARTICIPANT, &a).ok());
      ASSERT_TRUE(SignFor(a.name(), v1::PARTY_EMPLOYER, &a).ok());
      name = a.name();
    }
    std::barrier start(2);
    grpc::Status results[2];
    std::thread threads[2];
    for (int i = 0; i < 2; ++i) {
      threads[i] = std::thread([&, i] {
        v1::Agreement out;
        start.arrive_and_wait();
        results[i] = SignFor(names[i], v1::PARTY_COORDINATOR, &out);
      });
    }
    for (std::thread& t : threads) t.join();
    const int ok = results[0].ok() + results[1].ok();
    ASSERT_EQ(ok, 1) << results[0].error_message() << " / " << results[1].error_message();
    const grpc::Status& lost = results[0].ok() ? results[1] : results[0];
    EXPECT_EQ(lost.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
    EXPECT_NE(lost.error_message().find("no free seat"), std::string::npos) << lost.error_message();
    // The loser is still waiting for the coordinator's signature, not
    // half-signed.
    v1::GetAgreementRequest get;
    get.set_name(results[0].ok() ? names[1] : names[0]);
    v1::Agreement loser;
    ASSERT_TRUE(stub().GetAgreement(As("prakt").get(), get, &loser).ok());
    EXPECT_EQ(loser.status(), v1::AGREEMENT_STATUS_WORKPLACE_VISITED);
    EXPECT_FALSE(loser.has_coordinator_sign_time());
  }
  EXPECT_EQ(Count("SELECT count(*) FROM placement.agreements WHERE status = "
                  "'AGREEMENT_STATUS_SIGNED'"),
            5);
}

TEST_F(PlacementStoreTest, ColdListIsLongestWithoutContactFirst) {
  const absl::Time t0 = clock_.Now();
  clock_.Set(t0 - absl::Hours(24));
  const v1::Employer never = NewEmployer("Aldrig Kontaktad AB");
  clock_.Set(t0);
  const v1::Employer a = NewEmployer("A Bygg AB");
  const v1::Employer c = NewEmployer("C Café");
  const v1::Employer d = NewEmployer("D Djurklinik");
  auto log = [&](const v1::Employer& e, absl::Time when) {
    clock_.Set(when);
    v1::LogContactRequest request;
    request.set_employer(e.name());
    request.mutable_contact()->set_kind(v1::CONTACT_KIND_CALL);
    request.mutable_contact()->set_agreed("Hör av oss i vår om en plats i lagret");
    v1::Contact out;
    ASSERT_TRUE(stub().LogContact(As("prakt").get(), request, &out).ok());
  };
  log(a, t0);
  log(c, t0 + absl::Hours(24 * 100));
  log(d, t0 + absl::Hours(24 * 190));
  // A contact recorded late, with an earlier time, does not make C colder.
  {
    v1::LogContactRequest request;
    request.set_employer(c.name());
    request.mutable_contact()->set_kind(v1::CONTACT_KIND_MAIL);
    *request.mutable_contact()->mutable_contact_time() = At(t0 + absl::Hours(24 * 10));
    v1::Contact out;
    ASSERT_TRUE(stub().LogContact(As("prakt").get(), request, &out).ok());
  }
  clock_.Set(t0 + absl::Hours(24 * 200));
  v1::ListColdEmployersRequest request;
  v1::ListColdEmployersResponse cold;
  ASSERT_TRUE(stub().ListColdEmployers(As("prakt").get(), request, &cold).ok());
  EXPECT_EQ(cold.min_days_without_contact(), 90);
  ASSERT_EQ(cold.employers_size(), 3);
  EXPECT_EQ(cold.employers(0).employer().name(), never.name());
  EXPECT_TRUE(cold.employers(0).never_contacted());
  EXPECT_EQ(cold.employers(0).days_without_contact(), 201);
  EXPECT_EQ(cold.employers(1).employer().name(), a.name());
  EXPECT_EQ(cold.employers(1).days_without_contact(), 200);
  EXPECT_EQ(cold.employers(2).employer().name(), c.name());
  EXPECT_EQ(cold.employers(2).days_without_contact(), 100);
  // A lower threshold brings D in, last.
  request.set_min_days_without_contact(5);
  ASSERT_TRUE(stub().ListColdEmployers(As("prakt").get(), request, &cold).ok());
  ASSERT_EQ(cold.employers_size(), 4);
  EXPECT_EQ(cold.employers(3).employer().name(), d.name());
  // The log itself, newest first.
  v1::ListContactsRequest contacts_request;
  contacts_request.set_employer(c.name());
  v1::ListContactsResponse contacts;
  ASSERT_TRUE(stub().ListContacts(As("soc", "caseworker").get(), contacts_request, &contacts).ok());
  ASSERT_EQ(contacts.contacts_size(), 2);
  EXPECT_EQ(contacts.contacts(0).kind(), v1::CONTACT_KIND_CALL);
  EXPECT_EQ(contacts.contacts(0).by_organization(), "organizations/prakt");
}

TEST_F(PlacementStoreTest, PagesNeitherRepeatNorLoseRowsAddedBetweenThem) {
  auto names = [](const v1::ListEmployersResponse& page) {
    std::vector<std::string> out;
    for (const v1::Employer& e : page.employers()) out.push_back(e.display_name());
    return out;
  };
  for (const char* name : {"B Bageri", "D Djurklinik", "F Frisör", "H Hotell"}) NewEmployer(name);
  v1::ListEmployersRequest request;
  request.set_industry("handel");
  request.set_page_size(2);
  v1::ListEmployersResponse page;
  ASSERT_TRUE(stub().ListEmployers(As("prakt").get(), request, &page).ok());
  EXPECT_EQ(names(page), (std::vector<std::string>{"B Bageri", "D Djurklinik"}));
  ASSERT_FALSE(page.next_page_token().empty());
  // Between the pages, one employer comes before where the first page ended and
  // one after it: the next page neither repeats D nor skips E.
  NewEmployer("A Apotek");
  NewEmployer("E Elfirma");
  request.set_page_token(page.next_page_token());
  ASSERT_TRUE(stub().ListEmployers(As("prakt").get(), request, &page).ok());
  EXPECT_EQ(names(page), (std::vector<std::string>{"E Elfirma", "F Frisör"}));
  request.set_page_token(page.next_page_token());
  ASSERT_TRUE(stub().ListEmployers(As("prakt").get(), request, &page).ok());
  EXPECT_EQ(names(page), std::vector<std::string>{"H Hotell"});
  EXPECT_TRUE(page.next_page_token().empty());

  // The same by time: placements, oldest first. One created with an earlier
  // time between the pages does not push the first page's last onto the next.
  const v1::Employer employer = NewEmployer("P Pizzeria");
  const absl::Time t0 = clock_.Now();
  std::vector<std::string> created;
  for (int i = 1; i <= 3; ++i) {
    clock_.Set(t0 + absl::Minutes(i));
    created.push_back(NewPlacement(employer, 1).name());
  }
  v1::ListPlacementsRequest placements;
  placements.set_employer(employer.name());
  placements.set_page_size(2);
  v1::ListPlacementsResponse first, second;
  ASSERT_TRUE(stub().ListPlacements(As("prakt").get(), placements, &first).ok());
  ASSERT_EQ(first.placements_size(), 2);
  EXPECT_EQ(first.placements(1).name(), created[1]);
  clock_.Set(t0);
  NewPlacement(employer, 1);
  placements.set_page_token(first.next_page_token());
  ASSERT_TRUE(stub().ListPlacements(As("prakt").get(), placements, &second).ok());
  ASSERT_EQ(second.placements_size(), 1);
  EXPECT_EQ(second.placements(0).name(), created[2]);
  EXPECT_TRUE(second.next_page_token().empty());

  // A token goes only with the filters it was made for.
  placements.set_kind(v1::PLACEMENT_KIND_PRAO);
  grpc::Status other = stub().ListPlacements(As("prakt").get(), placements, &second);
  EXPECT_EQ(ViolatedFields(other), std::vector<std::string>{"page_token"});
}

TEST_F(PlacementStoreTest, NewestFirstPagesDoNotShiftWhenANewerRowArrives) {
  // The contact log, newest first: a contact logged between two pages comes
  // before where the first page ended and moves nothing onto the second.
  const v1::Employer employer = NewEmployer("K Kafé");
  const absl::Time t0 = clock_.Now();
  auto log = [&](int day, const std::string& agreed) {
    clock_.Set(t0 + absl::Hours(24 * day));
    v1::LogContactRequest request;
    request.set_employer(employer.name());
    request.mutable_contact()->set_kind(v1::CONTACT_KIND_CALL);
    request.mutable_contact()->set_agreed(agreed);
    v1::Contact out;
    ASSERT_TRUE(stub().LogContact(As("prakt").get(), request, &out).ok());
  };
  log(1, "first");
  log(2, "second");
  log(3, "third");
  v1::ListContactsRequest contacts;
  contacts.set_employer(employer.name());
  contacts.set_page_size(2);
  v1::ListContactsResponse page;
  ASSERT_TRUE(stub().ListContacts(As("prakt").get(), contacts, &page).ok());
  ASSERT_EQ(page.contacts_size(), 2);
  EXPECT_EQ(page.contacts(1).agreed(), "second");
  log(4, "fourth");
  contacts.set_page_token(page.next_page_token());
  ASSERT_TRUE(stub().ListContacts(As("prakt").get(), contacts, &page).ok());
  ASSERT_EQ(page.contacts_size(), 1);
  EXPECT_EQ(page.contacts(0).agreed(), "first");
  EXPECT_TRUE(page.next_page_token().empty());

  // The organization's agreements, newest first, the same way.
  const v1::Placement placement = NewPlacement(employer, 5);
  const std::string person = ConsentingPerson();
  std::vector<std::string> created;
  for (int i = 0; i < 3; ++i) {
    clock_.Set(t0 + absl::Hours(24 * (10 + i)));
    v1::Agreement a;
    ASSERT_TRUE(CreateAgreement(person, placement, &a).ok());
    created.push_back(a.name());
  }
  v1::ListAgreementsRequest agreements;
  agreements.set_page_size(2);
  v1::ListAgreementsResponse first, second;
  ASSERT_TRUE(stub().ListAgreements(As("prakt").get(), agreements, &first).ok());
  ASSERT_EQ(first.agreements_size(), 2);
  EXPECT_EQ(first.agreements(0).name(), created[2]);
  EXPECT_EQ(first.agreements(1).name(), created[1]);
  clock_.Set(t0 + absl::Hours(24 * 20));
  v1::Agreement newer;
  ASSERT_TRUE(CreateAgreement(person, placement, &newer).ok());
  agreements.set_page_token(first.next_page_token());
  ASSERT_TRUE(stub().ListAgreements(As("prakt").get(), agreements, &second).ok());
  ASSERT_EQ(second.agreements_size(), 1);
  EXPECT_EQ(second.agreements(0).name(), created[0]);
  EXPECT_TRUE(second.next_page_token().empty());
}

TEST_F(PlacementStoreTest, PraoAllocationLeavesNoHigherChoiceFreeAndRepeats) {
  const v1::Employer employer = NewEmployer("Lindesbergs Kommun Förskola");
  std::vector<v1::Placement> places;
  for (int seats : {1, 2, 1, 3})
    places.push_back(NewPlacement(employer, seats, v1::PLACEMENT_KIND_PRAO));
  // A work-practice place is no prao choice.
  const v1::Placement adult = NewPlacement(employer, 5);

  v1::AllocatePraoRequest request;
  request.set_class_id("lindbacka-8b");
  *request.mutable_period() = Range(absl::CivilDay(2027, 4, 12), absl::CivilDay(2027, 4, 23));
  request.set_seed(2027);
  for (int i = 0; i < 9; ++i) {
    v1::PraoPupil* pupil = request.add_pupils();
    pupil->set_pupil(absl::StrCat("8b-", i));
    for (int j = 0; j < 4; ++j) pupil->add_choices(places[(i + j) % 4].name());
  }
  request.mutable_pupils(8)->set_placed_by_hand(places[0].name());
  v1::AllocatePraoResponse first;
  ASSERT_TRUE(stub().AllocatePrao(As("skola", "teacher").get(), request, &first).ok());
  ASSERT_EQ(first.assignments_size(), 9);
  EXPECT_EQ(first.assignments(8).placement(), places[0].name());
  std::map<std::string, int> left = {
      {places[0].name(), 1}, {places[1].name(), 2}, {places[2].name(), 1}, {places[3].name(), 3}};
  for (const auto& a : first.assignments()) {
    if (!a.placement().empty()) --left[a.placement()];
  }
  for (const auto& [name, n] : left) EXPECT_GE(n, 0) << name;
  for (int i = 0; i < 8; ++i) {
    const auto& a = first.assignments(i);
    const int got = a.choice_rank() == 0 ? 5 : a.choice_rank();
    for (int j = 0; j + 1 < got; ++j) {
      EXPECT_EQ(left[request.pupils(i).choices(j)], 0)
          << a.pupil() << " got choice " << got << " while choice " << j + 1 << " was free";
    }
  }
  EXPECT_EQ(first.unplaced_size(), 2);  // 7 seats, 9 pupils
  v1::AllocatePraoResponse second;
  ASSERT_TRUE(stub().AllocatePrao(As("skola", "teacher").get(), request, &second).ok());
  EXPECT_EQ(second.SerializeAsString(), first.SerializeAsString());

  request.mutable_pupils(0)->add_choices(adult.name());
  grpc::Status invalid = stub().AllocatePrao(As("skola", "teacher").get(), request, &second);
  EXPECT_EQ(ViolatedFields(invalid), std::vector<std::string>{"pupils[0].choices[4]"});
}

TEST_F(PlacementStoreTest, AgreementsFollowConsentAndEveryDecisionIsAudited) {
  const v1::Employer employer = NewEmployer("Vårdcentralen Lindesberg");
  const v1::Placement placement = NewPlacement(employer, 3);
  std::string consent;
  const std::string person = ConsentingPerson(&consent);
  // The owner of the person's record shares the agreement with af too.
  ASSERT_TRUE(testing::GrantTestConsent(*identity_stub_, keys_->Token("soc"), person,
                                        {"organizations/af"}, "placement", {"placement"},
                                        absl::Now() + absl::Hours(24 * 365))
                  .ok());
  v1::Agreement a;
  ASSERT_TRUE(CreateAgreement(person, placement, &a).ok());

  v1::GetAgreementRequest get;
  get.set_name(a.name());
  v1::Agreement out;
  EXPECT_TRUE(stub().GetAgreement(As("prakt").get(), get, &out).ok());             // owner
  EXPECT_TRUE(stub().GetAgreement(As("af", "caseworker").get(), get, &out).ok());  // consent
  EXPECT_EQ(out.goal(), a.goal());
  EXPECT_EQ(stub().GetAgreement(As("fk", "caseworker").get(), get, &out).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);  // none
  EXPECT_EQ(stub().GetAgreement(As("prakt", "manager").get(), get, &out).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);  // role
  // fk cannot sign it either, and nothing changes.
  v1::RecordWorkplaceVisitRequest visit;
  visit.set_name(a.name());
  *visit.mutable_visit_date() = DateOf(Today(clock_.Now()));
  EXPECT_EQ(stub().RecordWorkplaceVisit(As("fk", "caseworker").get(), visit, &out).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);

  // A person without consent for prakt gets no agreement from prakt.
  auto stranger =
      testing::CreateTestPerson(*identity_stub_, keys_->Token("soc"),
                                testing::TestPersonnummer(absl::CivilDay(2001, 1, 9), 900));
  ASSERT_TRUE(stranger.ok());
  EXPECT_EQ(CreateAgreement(stranger->name(), placement, &out).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Count("SELECT count(*) FROM placement.agreements"), 1);
  // An unregistered person is named as the wrong field.
  grpc::Status unregistered =
      CreateAgreement("persons/00000000-0000-4000-8000-000000000000", placement, &out);
  EXPECT_EQ(ViolatedFields(unregistered), std::vector<std::string>{"agreement.person"});

  // af's consent is withdrawn: at once, af sees nothing.
  auto af_consents = Count("SELECT count(*) FROM identity.consents");
  ASSERT_EQ(af_consents, 2);
  std::string af_consent;
  {
    pqxx::connection connection(dsn_);
    pqxx::nontransaction tx(connection);
    af_consent = "consents/" + tx.exec_params1(
                                     "SELECT id::text FROM identity.consents"
                                     " WHERE grantee_organizations @> ARRAY['organizations/af']")[0]
                                   .as<std::string>();
  }
  id::WithdrawConsentRequest withdraw;
  withdraw.set_name(af_consent);
  withdraw.set_reason("The person no longer wants af to follow the placement.");
  id::Consent withdrawn;
  ASSERT_TRUE(
      identity_stub_
          ->WithdrawConsent(testing::CallWithToken(keys_->Token("soc")).get(), withdraw, &withdrawn)
          .ok());
  EXPECT_EQ(stub().GetAgreement(As("af", "caseworker").get(), get, &out).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);

  using Row = std::tuple<std::string, std::string, std::string>;
  const std::vector<Row> audit = Audit(a.name());
  const std::vector<Row> expected = {
      {"organizations/prakt", "permit", "consent"},  // create: prakt writes about soc's person
      {"organizations/prakt", "permit", "owner"},
      {"organizations/af", "permit", "consent"},
      {"organizations/fk", "deny", "no_consent"},
      {"organizations/prakt", "deny", "role"},
      {"organizations/fk", "deny", "no_consent"},
      {"organizations/af", "deny", "consent_withdrawn"},
  };
  EXPECT_EQ(audit, expected);
}

}  // namespace
}  // namespace samplan::placement
