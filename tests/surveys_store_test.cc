// Tier 3: the surveys service in-process against real PostgreSQL and Redis
// processes started by the test, with the identity service in-process for the
// persons and consents outcome records are decided on: consent on outcome
// records with the audit record each decision leaves, the event of each change
// on the municipality's stream, anonymous records, versioned statuses and
// questionnaires, and statistics with suppressed cells and their export.

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <pqxx/pqxx>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/call.h"
#include "common/clock.h"
#include "common/ids.h"
#include "common/migrations.h"
#include "common/redis.h"
#include "common/relay.h"
#include "common/server.h"
#include "samplan/surveys/v1/surveys.grpc.pb.h"
#include "services/surveys/pg_invitation_repository.h"
#include "services/surveys/pg_surveys_repository.h"
#include "services/surveys/questionnaire_rules.h"
#include "services/surveys/surveys_service.h"
#include "tests/support/fixtures.h"
#include "tests/support/identity_stack.h"
#include "tests/support/suite.h"
#include "tests/support/service_roles.h"

namespace samplan::surveys {
namespace {

namespace id = ::samplan::identity::v1;
using testing::ViolatedFields;

// The surveys service wired as main.cc wires it, on a free loopback port.
class InProcessSurveys {
 public:
  InProcessSurveys(const std::string& dsn, const TokenVerifierOptions& tokens) {
    // As its database role, as in production (tests/support/service_roles.h).
    pool_ = *PgPool::Create({*testing::ServiceRoleDsn(dsn, "surveys"), 4, absl::Seconds(10),
                             "test", SurveysRepositoryStatements(outbox_)});
    repository_ = std::make_unique<PgSurveysRepository>(*pool_, outbox_);
    EXPECT_TRUE(repository_->InstallShipped(ShippedQuestionnaires(), absl::Now() + absl::Seconds(10)).ok());
    verifier_ = *MakeTokenVerifier(tokens);
    calls_ = std::make_unique<CallHandler>(*verifier_, absl::Seconds(10));
    invitations_ = std::make_unique<PgInvitationRepository>(*pool_, outbox_, DeliveryOptions{});
    service_ = std::make_unique<SurveyService>(*repository_, *invitations_, *calls_, 5);
    server_ = *GrpcServer::Start(
        {"127.0.0.1:0", absl::Seconds(10), absl::ZeroDuration(), absl::Seconds(2), ""},
        {service_.get()});
    stub_ = v1::SurveyService::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", server_->port()), grpc::InsecureChannelCredentials()));
  }
  v1::SurveyService::Stub& stub() { return *stub_; }

 private:
  Outbox outbox_{kSchema};
  std::unique_ptr<PgPool> pool_;
  std::unique_ptr<PgSurveysRepository> repository_;
  std::unique_ptr<PgInvitationRepository> invitations_;
  std::unique_ptr<TokenVerifier> verifier_;
  std::unique_ptr<CallHandler> calls_;
  std::unique_ptr<SurveyService> service_;
  std::unique_ptr<GrpcServer> server_;
  std::unique_ptr<v1::SurveyService::Stub> stub_;
};

class SurveysStoreTest : public testing::ServersSuite {
 protected:
  void SetUp() override {
    auto dsn = pg_->CreateDatabase();
    ASSERT_TRUE(dsn.ok()) << dsn.status();
    dsn_ = *dsn;
    ASSERT_TRUE(testing::InProcessIdentity::ApplyIdentityMigrations(dsn_).ok());
    ASSERT_TRUE(ApplyMigrations(dsn_, kSchema, SurveysMigrationSets()).ok());
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
    surveys_ = std::make_unique<InProcessSurveys>(dsn_, keys_->VerifierOptions());
    relay_ = std::make_unique<OutboxRelay>(RelayOptions{kSchema, 50, absl::Milliseconds(5)}, dsn_,
                                           RedisOptions{redis_->host(), redis_->port()});
    relay_->Start();
  }

  void TearDown() override {
    relay_.reset();
    surveys_.reset();
    identity_.reset();
  }

  v1::SurveyService::Stub& stub() { return surveys_->stub(); }

  std::unique_ptr<grpc::ClientContext> As(const std::string& org,
                                          const std::string& role = "caseworker") {
    return testing::CallWithToken(keys_->Token(org, role));
  }

  // A person registered by soc, with a consent for prakt to follow them up.
  std::string ConsentingPerson(std::string* consent = nullptr) {
    auto person =
        testing::CreateTestPerson(*identity_stub_, keys_->Token("soc"),
                                  testing::TestPersonnummer(absl::CivilDay(1999, 5, 3), ++serial_));
    EXPECT_TRUE(person.ok()) << person.status();
    auto granted = testing::GrantTestConsent(*identity_stub_, keys_->Token("soc"), person->name(),
                                             {"organizations/prakt"}, "follow_up", {"outcome"},
                                             absl::Now() + absl::Hours(24 * 365));
    EXPECT_TRUE(granted.ok()) << granted.status();
    if (consent != nullptr) *consent = granted->name();
    return person->name();
  }

  static v1::Outcome OutcomeOf(const std::string& person, v1::Gender gender = v1::GENDER_FEMALE,
                               int age = 24) {
    v1::Outcome o;
    o.set_person(person);
    o.set_activity(absl::StrCat("agreements/", NewUuid()));
    o.set_activity_kind(v1::ACTIVITY_KIND_WORK_PRACTICE);
    o.set_gender(gender);
    o.set_age_at_entry(age);
    o.mutable_entry_date()->set_year(2026);
    o.mutable_entry_date()->set_month(2);
    o.mutable_entry_date()->set_day(2);
    o.mutable_entry()->set_occupation(v1::OCCUPATION_LOOKING_FOR_WORK);
    o.mutable_entry()->set_main_income(v1::MAIN_INCOME_ECONOMIC_ASSISTANCE);
    o.mutable_entry()->set_education_level(v1::EDUCATION_LEVEL_ISCED_0_2);
    return o;
  }

  grpc::Status Record(const v1::Outcome& outcome, v1::Outcome* out,
                      const std::string& org = "prakt") {
    v1::RecordOutcomeRequest request;
    *request.mutable_outcome() = outcome;
    request.set_request_id(NewUuid());
    return stub().RecordOutcome(As(org).get(), request, out);
  }

  grpc::Status Status(const v1::Outcome& o, v1::Stage stage, v1::Occupation occupation,
                      v1::Outcome* out, const std::string& etag = "") {
    v1::RecordOutcomeStatusRequest request;
    request.set_name(o.name());
    request.set_stage(stage);
    request.set_etag(etag);
    request.mutable_status()->set_occupation(occupation);
    request.mutable_status()->set_extent_percent(occupation == v1::OCCUPATION_WORK ? 75 : 0);
    if (stage == v1::STAGE_EXIT) request.mutable_status()->set_exit_reason(v1::EXIT_REASON_COMPLETED);
    return stub().RecordOutcomeStatus(As("prakt").get(), request, out);
  }

  std::vector<std::tuple<std::string, std::string, std::string>> Audit(
      const std::string& resource) {
    pqxx::connection connection(dsn_);
    pqxx::nontransaction tx(connection);
    std::vector<std::tuple<std::string, std::string, std::string>> out;
    for (const pqxx::row& row : tx.exec_params(
             "SELECT actor_organization, decision, reason FROM identity.audit_records"
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

  std::vector<testing::StreamedEvent> Events(size_t count) {
    std::vector<testing::StreamedEvent> events;
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (absl::Now() < deadline) {
      auto read = testing::ReadStream(redis_->Address(), "1885");
      events.clear();
      if (read.ok()) {
        for (const auto& e : *read) {
          if (absl::StartsWith(e.type, "surveys.")) events.push_back(e);
        }
      }
      if (events.size() >= count) break;
      absl::SleepFor(absl::Milliseconds(20));
    }
    return events;
  }

  std::string dsn_;
  std::unique_ptr<testing::InProcessIdentity> identity_;
  std::unique_ptr<id::IdentityService::Stub> identity_stub_;
  std::unique_ptr<InProcessSurveys> surveys_;
  std::unique_ptr<OutboxRelay> relay_;
  int serial_ = 0;
};

TEST_F(SurveysStoreTest, OutcomesFollowConsentAndEveryDecisionIsAudited) {
  const std::string person = ConsentingPerson();
  // The owner of the person's record lets af follow the person up too.
  auto af_consent = testing::GrantTestConsent(*identity_stub_, keys_->Token("soc"), person,
                                              {"organizations/af"}, "follow_up", {"outcome"},
                                              absl::Now() + absl::Hours(24 * 365));
  ASSERT_TRUE(af_consent.ok()) << af_consent.status();
  v1::Outcome o;
  ASSERT_TRUE(Record(OutcomeOf(person), &o).ok());
  EXPECT_EQ(o.owner_organization(), "organizations/prakt");

  v1::GetOutcomeRequest get;
  get.set_name(o.name());
  v1::Outcome out;
  EXPECT_TRUE(stub().GetOutcome(As("prakt").get(), get, &out).ok());
  EXPECT_EQ(out.entry().occupation(), v1::OCCUPATION_LOOKING_FOR_WORK);
  EXPECT_TRUE(stub().GetOutcome(As("af").get(), get, &out).ok());
  EXPECT_EQ(stub().GetOutcome(As("fk").get(), get, &out).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(stub().GetOutcome(As("prakt", "manager").get(), get, &out).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  // A record that is not there is refused alike.
  get.set_name(absl::StrCat("outcomes/", NewUuid()));
  EXPECT_EQ(stub().GetOutcome(As("prakt").get(), get, &out).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  get.set_name(o.name());

  // A person without consent for prakt gets no record from prakt, and nothing is stored.
  auto stranger = testing::CreateTestPerson(
      *identity_stub_, keys_->Token("soc"), testing::TestPersonnummer(absl::CivilDay(2001, 1, 9), 900));
  ASSERT_TRUE(stranger.ok());
  EXPECT_EQ(Record(OutcomeOf(stranger->name()), &out).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(ViolatedFields(Record(OutcomeOf(absl::StrCat("persons/", NewUuid())), &out)),
            std::vector<std::string>{"outcome.person"});
  EXPECT_EQ(Count("SELECT count(*) FROM surveys.outcomes"), 1);

  // af's follow-up consent is withdrawn: at once, af sees nothing.
  id::WithdrawConsentRequest withdraw;
  withdraw.set_name(af_consent->name());
  withdraw.set_reason("The person no longer wants to be followed up.");
  id::Consent withdrawn;
  ASSERT_TRUE(identity_stub_
                  ->WithdrawConsent(testing::CallWithToken(keys_->Token("soc")).get(), withdraw,
                                    &withdrawn)
                  .ok());
  EXPECT_EQ(stub().GetOutcome(As("af").get(), get, &out).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);

  using Row = std::tuple<std::string, std::string, std::string>;
  const std::vector<Row> expected = {
      {"organizations/prakt", "permit", "consent"},  // create: about soc's person
      {"organizations/prakt", "permit", "owner"},
      {"organizations/af", "permit", "consent"},
      {"organizations/fk", "deny", "no_consent"},
      {"organizations/prakt", "deny", "role"},
      {"organizations/af", "deny", "consent_withdrawn"},
  };
  EXPECT_EQ(Audit(o.name()), expected);

  const std::vector<testing::StreamedEvent> events = Events(1);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].type, "surveys.outcome.recorded");
  EXPECT_EQ(events[0].aggregate, o.name());
}

TEST_F(SurveysStoreTest, AnAnonymousRecordIsItsOwnersAlone) {
  v1::Outcome o;
  ASSERT_TRUE(Record(OutcomeOf(""), &o).ok());
  EXPECT_TRUE(o.person().empty());
  v1::GetOutcomeRequest get;
  get.set_name(o.name());
  v1::Outcome out;
  EXPECT_TRUE(stub().GetOutcome(As("prakt").get(), get, &out).ok());
  EXPECT_EQ(stub().GetOutcome(As("af").get(), get, &out).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Count("SELECT count(*) FROM surveys.outcomes WHERE person <> ''"), 0);
}

TEST_F(SurveysStoreTest, StatusesAreVersionedAndEachIsAnEvent) {
  const std::string person = ConsentingPerson();
  v1::Outcome o;
  ASSERT_TRUE(Record(OutcomeOf(person), &o).ok());
  v1::Outcome out;
  // Six months before the exit is refused, and bad input names its fields.
  EXPECT_EQ(Status(o, v1::STAGE_SIX_MONTHS, v1::OCCUPATION_WORK, &out).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  v1::RecordOutcomeStatusRequest bad;
  bad.set_name(o.name());
  bad.set_stage(v1::STAGE_EXIT);
  bad.mutable_status()->set_extent_percent(300);
  EXPECT_EQ(ViolatedFields(stub().RecordOutcomeStatus(As("prakt").get(), bad, &out)),
            (std::vector<std::string>{"status.occupation", "status.extent_percent",
                                      "status.exit_reason"}));
  v1::Outcome exited;
  ASSERT_TRUE(Status(o, v1::STAGE_EXIT, v1::OCCUPATION_LOOKING_FOR_WORK, &exited, o.etag()).ok());
  EXPECT_EQ(exited.etag(), "2");
  EXPECT_EQ(exited.exit().source(), v1::STATUS_SOURCE_CASEWORKER);
  // A stale etag changes nothing.
  EXPECT_EQ(Status(o, v1::STAGE_SIX_MONTHS, v1::OCCUPATION_WORK, &out, o.etag()).error_code(),
            grpc::StatusCode::ABORTED);
  ASSERT_TRUE(Status(exited, v1::STAGE_SIX_MONTHS, v1::OCCUPATION_WORK, &out, "2").ok());
  EXPECT_EQ(out.etag(), "3");
  const std::vector<testing::StreamedEvent> events = Events(3);
  ASSERT_EQ(events.size(), 3u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(events[i].version, i + 1);
}

TEST_F(SurveysStoreTest, StatisticsHideSmallGroupsAndExportAsSemicolonCsv) {
  // 8 women, 7 men and 2 of another gender, all registered anonymously, all in
  // work six months after leaving.
  for (int i = 0; i < 17; ++i) {
    const v1::Gender gender =
        i < 8 ? v1::GENDER_FEMALE : i < 15 ? v1::GENDER_MALE : v1::GENDER_OTHER;
    v1::Outcome o;
    ASSERT_TRUE(Record(OutcomeOf("", gender, 20 + i), &o).ok());
    v1::Outcome exited;
    ASSERT_TRUE(Status(o, v1::STAGE_EXIT, v1::OCCUPATION_LOOKING_FOR_WORK, &exited).ok());
    ASSERT_TRUE(Status(exited, v1::STAGE_SIX_MONTHS, v1::OCCUPATION_WORK, &o).ok());
  }
  v1::GetOutcomeStatisticsRequest request;
  request.set_group_by(v1::DIMENSION_GENDER);
  v1::OutcomeStatistics stats;
  // Managers read statistics.
  ASSERT_TRUE(stub().GetOutcomeStatistics(As("soc", "manager").get(), request, &stats).ok());
  ASSERT_EQ(stats.tables_size(), 6);
  const v1::StatisticsTable& six = stats.tables(2);
  EXPECT_EQ(six.id(), "status_six_months_after_exit");
  EXPECT_EQ(six.rows(0).group(), "GENDER_FEMALE");
  EXPECT_EQ(six.rows(0).cells(0).value(), 8);
  EXPECT_EQ(six.rows(2).group(), "GENDER_OTHER");
  EXPECT_TRUE(six.rows(2).cells(0).suppressed());  // the two
  EXPECT_TRUE(six.rows(2).total().suppressed());
  EXPECT_EQ(six.rows(2).total().value(), 0);
  // And with them the men, or the two would be 17 - 8 - 7.
  EXPECT_TRUE(six.rows(1).total().suppressed());

  // An organization with no records singles no one out.
  request.set_organization("organizations/af");
  EXPECT_TRUE(stub().GetOutcomeStatistics(As("soc", "manager").get(), request, &stats).ok());

  v1::ExportOutcomeStatisticsRequest export_request;
  export_request.mutable_query()->set_group_by(v1::DIMENSION_GENDER);
  export_request.set_format("csv");
  v1::StatisticsExport file;
  ASSERT_TRUE(stub().ExportOutcomeStatistics(As("soc", "manager").get(), export_request, &file).ok());
  EXPECT_EQ(file.content_type(), "text/csv; charset=utf-8");
  EXPECT_TRUE(absl::StrContains(
      file.content(), "status_six_months_after_exit;GENDER_FEMALE;OCCUPATION_WORK;8\r\n"));
  EXPECT_TRUE(absl::StrContains(
      file.content(), "status_six_months_after_exit;GENDER_OTHER;OCCUPATION_WORK;..\r\n"));
  export_request.set_format("json");
  ASSERT_TRUE(stub().ExportOutcomeStatistics(As("soc", "manager").get(), export_request, &file).ok());
  EXPECT_TRUE(absl::StrContains(file.content(), "\"suppressionThreshold\":5"));
  export_request.set_format("xlsx");
  EXPECT_EQ(ViolatedFields(
                stub().ExportOutcomeStatistics(As("soc", "manager").get(), export_request, &file)),
            std::vector<std::string>{"format"});

  // The counts statistics read (kept by a trigger as records are registered
  // and their statuses recorded) are exactly what grouping the records gives.
  pqxx::connection c(dsn_);
  pqxx::nontransaction tx(c);
  constexpr char kKept[] =
      "SELECT municipality, entry_date, gender, age_band, activity_kind, owner_organization,"
      "  entry_occupation, exit_occupation, three_months_source, six_months_source,"
      "  six_months_occupation, extent_grew, count FROM surveys.outcome_counts WHERE count > 0";
  constexpr char kRecomputed[] =
      "SELECT (surveys.outcome_group_of(o)).*, count(*) FROM surveys.outcomes o"
      " GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12";
  EXPECT_GT(tx.exec(kKept).size(), 0u);
  EXPECT_EQ(tx.exec(absl::StrCat("(", kKept, ") EXCEPT (", kRecomputed, ")")).size(), 0u);
  EXPECT_EQ(tx.exec(absl::StrCat("(", kRecomputed, ") EXCEPT (", kKept, ")")).size(), 0u);
}

TEST_F(SurveysStoreTest, APublishedVersionNeverChanges) {
  v1::ListQuestionnairesResponse list;
  ASSERT_TRUE(stub().ListQuestionnaires(As("af", "partner_system").get(), {}, &list).ok());
  ASSERT_EQ(list.questionnaires_size(), 2);
  EXPECT_EQ(list.questionnaires(1).name(), "questionnaires/vad-hande-sen");
  EXPECT_TRUE(list.questionnaires(1).shipped());

  v1::CreateQuestionnaireRequest create;
  create.set_questionnaire_id("uppfoljning-sfi");
  *create.mutable_questionnaire() = ShippedQuestionnaires()[0];
  v1::Questionnaire v1q;
  ASSERT_TRUE(stub().CreateQuestionnaire(As("soc").get(), create, &v1q).ok());
  EXPECT_EQ(v1q.version(), 1);
  EXPECT_EQ(stub().CreateQuestionnaire(As("soc").get(), create, &v1q).error_code(),
            grpc::StatusCode::ALREADY_EXISTS);
  create.set_questionnaire_id("vad-hande-sen");
  EXPECT_EQ(stub().CreateQuestionnaire(As("soc").get(), create, &v1q).error_code(),
            grpc::StatusCode::ALREADY_EXISTS);
  // A condition on a later item is refused, naming it; nothing is stored.
  create.set_questionnaire_id("trasig");
  create.mutable_questionnaire()->mutable_items(1)->mutable_shown_when()->set_item_id("ovrigt");
  EXPECT_EQ(ViolatedFields(stub().CreateQuestionnaire(As("soc").get(), create, &v1q)),
            std::vector<std::string>{"questionnaire.items[1].shown_when.item_id"});
  EXPECT_EQ(Count("SELECT count(*) FROM surveys.questionnaires WHERE id = 'trasig'"), 0);
  EXPECT_EQ(stub().CreateQuestionnaire(As("soc", "manager").get(), create, &v1q).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);

  v1::PublishQuestionnaireVersionRequest publish;
  *publish.mutable_questionnaire() = ShippedQuestionnaires()[0];
  publish.mutable_questionnaire()->set_name("questionnaires/uppfoljning-sfi");
  publish.mutable_questionnaire()->set_etag("1");
  publish.mutable_questionnaire()->mutable_title()->set_sv("Uppföljning SFI");
  v1::Questionnaire v2q;
  ASSERT_TRUE(stub().PublishQuestionnaireVersion(As("soc").get(), publish, &v2q).ok());
  EXPECT_EQ(v2q.version(), 2);
  EXPECT_EQ(stub().PublishQuestionnaireVersion(As("soc").get(), publish, &v2q).error_code(),
            grpc::StatusCode::ABORTED);  // etag 1 is stale now

  v1::GetQuestionnaireRequest get;
  get.set_name("questionnaires/uppfoljning-sfi");
  get.set_version(1);
  v1::Questionnaire got;
  ASSERT_TRUE(stub().GetQuestionnaire(As("af", "partner_system").get(), get, &got).ok());
  EXPECT_EQ(got.title().sv(), "Vad hände sen?");
  get.set_version(0);
  ASSERT_TRUE(stub().GetQuestionnaire(As("af", "partner_system").get(), get, &got).ok());
  EXPECT_EQ(got.title().sv(), "Uppföljning SFI");
}

}  // namespace
}  // namespace samplan::surveys
