// Tier 3: "Vad hände sen?" invitations against real PostgreSQL, Redis and an
// SMTP sink (python3-aiosmtpd) started by the test: made from placement events
// through the consumer group exactly once, mailed when due with reminders at 7
// and 14 days, cancelled when the follow_up consent is withdrawn, answered by
// token without an account, and sent exactly once across a kill -9 of the
// surveys process.

#include <signal.h>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <pqxx/pqxx>
#include <regex>
#include <set>
#include <thread>

#include <google/protobuf/util/time_util.h>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/event_consumer.h"
#include "common/migrations.h"
#include "common/outbox.h"
#include "common/redis.h"
#include "samplan/caseplan/v1/events.pb.h"
#include "samplan/identity/v1/events.pb.h"
#include "samplan/placement/v1/events.pb.h"
#include "samplan/surveys/v1/events.pb.h"
#include "samplan/surveys/v1/surveys.grpc.pb.h"
#include "services/surveys/invitation_dispatcher.h"
#include "services/surveys/invitation_rules.h"
#include "services/surveys/mailer.h"
#include "services/surveys/pg_invitation_repository.h"
#include "services/surveys/pg_surveys_repository.h"
#include "services/surveys/questionnaire_rules.h"
#include "services/surveys/surveys_service.h"
#include "tests/support/fixtures.h"
#include "tests/support/identity_stack.h"
#include "tests/support/served_service.h"
#include "tests/support/smtp_sink.h"
#include "tests/support/suite.h"
#include "tests/support/service_roles.h"

namespace samplan::surveys {
namespace {

using ::google::protobuf::util::TimeUtil;
using testing::SmtpSink;

constexpr char kMunicipality[] = "1885";
constexpr char kCoordinator[] = "organizations/prakt";
constexpr char kPublicUrl[] = "https://samplan.example";
constexpr char kFrom[] = "vadhandesen@lindesberg.example";

// 2026-01-10 12:00 UTC; agreements in the tests ended the day before.
absl::Time Start() {
  return absl::FromCivil(absl::CivilSecond(2026, 1, 10, 12, 0, 0), absl::UTCTimeZone());
}

events::v1::Event AgreementEvent(const std::string& type, const std::string& agreement,
                                 const std::string& person, absl::CivilDay ended) {
  placement::v1::AgreementChanged payload;
  payload.set_agreement(agreement);
  payload.set_version(4);
  payload.set_person(person);
  payload.set_coordinator_organization(kCoordinator);
  payload.set_status("AGREEMENT_STATUS_COMPLETED");
  payload.mutable_ended_date()->set_year(static_cast<int>(ended.year()));
  payload.mutable_ended_date()->set_month(ended.month());
  payload.mutable_ended_date()->set_day(ended.day());
  return MakeEvent(type, kMunicipality, agreement, 4, person, "placement", payload,
                   {kCoordinator, "users/coordinator", "trace", Start()});
}

// The token of the link in a mail the sink stored.
std::string TokenOf(const std::string& message) {
  static const std::regex link("https://samplan\\.example/svar/([A-Za-z0-9_-]{43})");
  std::smatch m;
  const std::string body = testing::MailBody(message);
  if (!std::regex_search(body, m, link)) return "";
  return m[1];
}

class SurveysInvitationsTest : public testing::ServersSuite {
 protected:
  void SetUp() override {
    auto dsn = pg_->CreateDatabase();
    ASSERT_TRUE(dsn.ok()) << dsn.status();
    dsn_ = *dsn;
    ASSERT_TRUE(testing::InProcessIdentity::ApplyIdentityMigrations(dsn_).ok());
    ASSERT_TRUE(ApplyMigrations(dsn_, kSchema, SurveysMigrationSets()).ok());
    RedisClient redis({redis_->host(), redis_->port()});
    ASSERT_TRUE(redis.Command({"FLUSHALL"}).ok());
    auto sink = SmtpSink::Start();
    ASSERT_TRUE(sink.ok()) << sink.status();
    sink_ = *std::move(sink);
    persons_ = std::make_unique<testing::TestPersons>(dsn_, kMunicipality);
    std::vector<PreparedStatement> statements = SurveysRepositoryStatements(outbox_);
    for (const PreparedStatement& s : processed_.statements()) statements.push_back(s);
    // As its database role, as in production (tests/support/service_roles.h).
    absl::StatusOr<std::string> service_dsn = testing::ServiceRoleDsn(dsn_, "surveys");
    ASSERT_TRUE(service_dsn.ok()) << service_dsn.status();
    auto pool = PgPool::Create({*service_dsn, 4, absl::Seconds(10), "test", statements});
    ASSERT_TRUE(pool.ok()) << pool.status();
    pool_ = *std::move(pool);
    surveys_ = std::make_unique<PgSurveysRepository>(*pool_, outbox_);
    ASSERT_TRUE(surveys_->InstallShipped(ShippedQuestionnaires(), absl::Now() + absl::Seconds(10)).ok());
    invitations_ = std::make_unique<PgInvitationRepository>(
        *pool_, outbox_, DeliveryOptions{kPublicUrl, kFrom, 100});
    mailer_ = std::make_unique<CurlMailer>(SmtpOptions{sink_->Url(), absl::Seconds(10)});
    dispatcher_ = std::make_unique<InvitationDispatcher>(*invitations_, *mailer_,
                                                         absl::Seconds(1), clock_);
    EventConsumerOptions options;
    options.group = "surveys";
    options.consumer = "test";
    options.municipalities = {kMunicipality};
    options.start = GroupStart::kWholeStream;
    options.block = absl::Milliseconds(50);
    consumer_ = std::make_unique<EventConsumer>(
        options, RedisOptions{redis_->host(), redis_->port()}, *pool_, processed_,
        [this](pqxx::transaction_base& tx, const events::v1::Event& event) {
          return ApplyInvitationEvent(tx, outbox_, event, clock_.Now());
        });
    auto served = testing::ServedService::Create(keys_->VerifierOptions(), absl::Seconds(10),
                                                 clock_, MethodsWithoutToken());
    ASSERT_TRUE(served.ok());
    served_ = *std::move(served);
    ASSERT_TRUE(served_->Serve(std::make_unique<SurveyService>(*surveys_, *invitations_,
                                                               served_->calls(), 5)).ok());
    stub_ = v1::SurveyService::NewStub(served_->NewChannel());
  }

  void TearDown() override {
    served_.reset();
    consumer_.reset();
    dispatcher_.reset();
  }

  // A person of soc with an e-mail address and a consent for prakt to follow
  // them up (outcome, follow_up).
  std::string Person(const std::string& label, std::string* consent = nullptr) {
    const std::string person = (*persons_)(label);
    pqxx::connection c(dsn_);
    pqxx::work tx(c);
    tx.exec_params("UPDATE identity.persons SET email = $2 WHERE id = $1::uuid",
                   person.substr(8), label + "@example.org");
    tx.commit();
    const std::string granted = persons_->GrantConsent(person, kCoordinator, "outcome", "follow_up");
    // Valid through the months the tests' clock runs over.
    pqxx::work update(c);
    update.exec_params("UPDATE identity.consents SET valid_from = '2025-01-01',"
                       " valid_until = '2028-01-01' WHERE id = $1::uuid", granted.substr(9));
    update.commit();
    if (consent != nullptr) *consent = granted;
    return person;
  }

  void Publish(const events::v1::Event& event) {
    RedisClient redis({redis_->host(), redis_->port()});
    ASSERT_TRUE(testing::AppendSignedEvent(redis, EventStreamKey(kMunicipality), event).ok());
  }

  // Consumes until `count` entries were acknowledged.
  void Consume(int count) {
    int acknowledged = 0;
    for (int round = 0; round < 50 && acknowledged < count; ++round) {
      auto n = consumer_->ConsumeOnce();
      ASSERT_TRUE(n.ok()) << n.status();
      acknowledged += *n;
    }
    ASSERT_EQ(acknowledged, count);
  }

  int64_t Count(const std::string& sql) {
    pqxx::connection c(dsn_);
    pqxx::nontransaction tx(c);
    return tx.exec(sql)[0][0].as<int64_t>();
  }

  // Runs the sending loop once at the clock's time; returns the mails in the sink.
  size_t SendRound() {
    auto round = dispatcher_->RunOnce();
    EXPECT_TRUE(round.ok()) << round.status();
    return sink_->Messages().size();
  }

  // Ended yesterday: the +3 month invitation falls on 9 April 2026.
  std::string CompletedAgreement(const std::string& person, const std::string& agreement = "agreements/a1") {
    Publish(AgreementEvent("placement.agreement.completed", agreement, person,
                           absl::CivilDay(2026, 1, 9)));
    Consume(1);
    return agreement;
  }

  void AdvanceTo(absl::CivilSecond utc) {
    clock_.Set(absl::FromCivil(utc, absl::UTCTimeZone()));
  }

  // Answers to every required item of vad-hande-sen.
  static google::protobuf::RepeatedPtrField<v1::Answer> CompleteAnswers() {
    google::protobuf::RepeatedPtrField<v1::Answer> answers;
    v1::Answer* occupation = answers.Add();
    occupation->set_item_id("sysselsattning");
    occupation->set_choice("OCCUPATION_LOOKING_FOR_WORK");
    v1::Answer* income = answers.Add();
    income->set_item_id("forsorjning");
    income->set_choice("MAIN_INCOME_ACTIVITY_SUPPORT");
    return answers;
  }

  std::unique_ptr<grpc::ClientContext> Anonymous() { return testing::CallWithToken(""); }

  std::string dsn_;
  FakeClock clock_{Start()};
  Outbox outbox_{kSchema};
  ProcessedEvents processed_{kSchema};
  std::unique_ptr<SmtpSink> sink_;
  std::unique_ptr<testing::TestPersons> persons_;
  std::unique_ptr<PgPool> pool_;
  std::unique_ptr<PgSurveysRepository> surveys_;
  std::unique_ptr<PgInvitationRepository> invitations_;
  std::unique_ptr<CurlMailer> mailer_;
  std::unique_ptr<InvitationDispatcher> dispatcher_;
  std::unique_ptr<EventConsumer> consumer_;
  std::unique_ptr<testing::ServedService> served_;
  std::unique_ptr<v1::SurveyService::Stub> stub_;
};

TEST_F(SurveysInvitationsTest, ACompletedAgreementInvitesAtThreeAndSixMonthsOnceEvenIfDeliveredTwice) {
  const std::string anna = Person("anna");
  const events::v1::Event event =
      AgreementEvent("placement.agreement.completed", "agreements/a1", anna, absl::CivilDay(2026, 1, 9));
  Publish(event);
  Publish(event);  // the relay's occasional duplicate
  Consume(2);
  pqxx::connection c(dsn_);
  pqxx::nontransaction tx(c);
  pqxx::result rows = tx.exec(
      "SELECT wave, status, to_char(due_time AT TIME ZONE 'Europe/Stockholm', 'YYYY-MM-DD HH24:MI')"
      " FROM surveys.invitations ORDER BY due_time");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0][0].as<std::string>(), "three_months");
  EXPECT_EQ(rows[0][2].as<std::string>(), "2026-04-09 09:00");
  EXPECT_EQ(rows[1][0].as<std::string>(), "six_months");
  EXPECT_EQ(rows[1][2].as<std::string>(), "2026-07-09 09:00");
  EXPECT_EQ(rows[0][1].as<std::string>(), "scheduled");
  EXPECT_EQ(Count("SELECT count(*) FROM surveys.outbox WHERE event_type = 'surveys.invitation.scheduled'"), 2);
  EXPECT_EQ(Count("SELECT count(*) FROM identity.audit_records WHERE action = 'surveys.ScheduleInvitation'"), 2);

  // The same agreement ended (another event id) does not invite again under the
  // completed rules; a second agreement of hers does.
  CompletedAgreement(anna, "agreements/a2");
  EXPECT_EQ(Count("SELECT count(*) FROM surveys.invitations"), 4);
}

// A plan completed invites at six months, once: a later change to the
// completed plan (another event) invites no one again.
TEST_F(SurveysInvitationsTest, ACompletedPlanInvitesAtSixMonthsOnce) {
  const std::string anna = Person("anna");
  auto plan_event = [&](const std::string& status) {
    caseplan::v1::PlanChanged payload;
    payload.set_plan("plans/p1");
    payload.set_version(7);
    payload.set_lead_organization(kCoordinator);
    payload.set_status(status);
    return MakeEvent("caseplan.plan.updated", kMunicipality, "plans/p1", 7, anna, "plan", payload,
                     {kCoordinator, "users/lead", "trace", Start()});
  };
  Publish(plan_event("PLAN_STATUS_ACTIVE"));
  Publish(plan_event("PLAN_STATUS_COMPLETED"));
  Publish(plan_event("PLAN_STATUS_COMPLETED"));  // a note added to the completed plan
  Consume(3);
  pqxx::connection c(dsn_);
  pqxx::nontransaction tx(c);
  pqxx::result rows = tx.exec(
      "SELECT wave, activity, to_char(due_time AT TIME ZONE 'Europe/Stockholm', 'YYYY-MM-DD HH24:MI')"
      " FROM surveys.invitations");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0][0].as<std::string>(), "six_months");
  EXPECT_EQ(rows[0][1].as<std::string>(), "plans/p1");
  EXPECT_EQ(rows[0][2].as<std::string>(), "2026-07-10 09:00");
}

TEST_F(SurveysInvitationsTest, TheDueInvitationIsMailedOnceThenRemindedAtSevenAndFourteenDays) {
  const std::string anna = Person("anna");
  CompletedAgreement(anna);
  EXPECT_EQ(SendRound(), 0u);  // not due yet
  AdvanceTo(absl::CivilSecond(2026, 4, 9, 6, 59, 0));  // 08:59 in Stockholm
  EXPECT_EQ(SendRound(), 0u);
  AdvanceTo(absl::CivilSecond(2026, 4, 9, 7, 1, 0));
  EXPECT_EQ(SendRound(), 1u);
  EXPECT_EQ(SendRound(), 1u);  // once
  const std::vector<std::string> mails = sink_->Messages();
  ASSERT_FALSE(mails.empty());
  const std::string& mail = mails[0];
  EXPECT_EQ(testing::MailHeader(mail, "X-RcptTo"), "anna@example.org");
  EXPECT_FALSE(TokenOf(mail).empty());
  // The token is stored only as its hash; the sent notification keeps no body.
  EXPECT_EQ(Count(absl::StrCat("SELECT count(*) FROM surveys.invitation_tokens WHERE token_hash = '\\x",
                               absl::BytesToHexString(TokenHash(TokenOf(mail))), "'")), 1);
  EXPECT_EQ(Count("SELECT count(*) FROM surveys.notifications WHERE status = 'sent' AND body IS NULL"), 1);
  EXPECT_EQ(Count("SELECT count(*) FROM surveys.outbox WHERE event_type = 'surveys.invitation.sent'"), 1);

  clock_.Advance(absl::Hours(24 * 7));
  EXPECT_EQ(SendRound(), 2u);
  clock_.Advance(absl::Hours(24 * 7));
  EXPECT_EQ(SendRound(), 3u);
  clock_.Advance(absl::Hours(24 * 7));
  EXPECT_EQ(SendRound(), 3u);  // at most two reminders
  const std::vector<std::string> all = sink_->Messages();
  int reminders = 0;
  for (const std::string& m : all) {
    if (absl::StrContains(testing::MailHeader(m, "Subject"), "?=")) {
      std::string subject = testing::MailHeader(m, "Subject");
      std::string decoded;
      absl::Base64Unescape(subject.substr(10, subject.size() - 12), &decoded);
      if (absl::StartsWith(decoded, "Påminnelse")) ++reminders;
    }
  }
  EXPECT_EQ(reminders, 2);
}

TEST_F(SurveysInvitationsTest, NoReminderOnceAnswered) {
  const std::string anna = Person("anna");
  CompletedAgreement(anna);
  AdvanceTo(absl::CivilSecond(2026, 4, 9, 8, 0, 0));
  ASSERT_EQ(SendRound(), 1u);
  const std::string token = TokenOf(sink_->Messages()[0]);
  v1::SubmitInvitationAnswersRequest submit;
  submit.set_token(token);
  *submit.mutable_answers() = CompleteAnswers();
  v1::SubmitInvitationAnswersResponse submitted;
  grpc::Status s = stub_->SubmitInvitationAnswers(Anonymous().get(), submit, &submitted);
  ASSERT_TRUE(s.ok()) << s.error_message();
  clock_.Advance(absl::Hours(24 * 15));
  EXPECT_EQ(SendRound(), 1u);
  EXPECT_EQ(Count("SELECT count(*) FROM surveys.invitations WHERE status = 'answered'"), 1);
}

// Two replicas send at once: each due invitation is taken by one of them, and
// each is mailed once — not once by each, and not once as an invitation and
// again as a "reminder" by the one that found it just sent.
TEST_F(SurveysInvitationsTest, TwoSendersAtOnceMailEachInvitationOnce) {
  // 600 persons with an address and a follow_up consent, each with an
  // invitation due now, written as the consumer would.
  constexpr int kPersons = 600;
  {
    pqxx::connection c(dsn_);
    pqxx::work tx(c);
    tx.exec("INSERT INTO identity.municipalities (code, display_name, create_time)"
            " VALUES ('1885', '1885', now()) ON CONFLICT DO NOTHING");
    tx.exec_params(
        "INSERT INTO identity.persons (id, municipality, owner_organization, identity_number_kind,"
        "  identity_number_sealed, identity_number_hash, given_name, family_name, birth_date,"
        "  email, create_time, update_time, create_request_id)"
        " SELECT md5(i::text)::uuid, '1885', 'organizations/soc', 'personnummer', '\\x00',"
        "  'many-' || i, 'Test', 'Person', '1990-01-01', 'p' || i || '@example.org',"
        "  now(), now(), 'many-' || i FROM generate_series(1, $1) AS i",
        kPersons);
    tx.exec("INSERT INTO identity.consents (id, person_id, municipality, grantee_organizations,"
            "  purpose, data_categories, valid_from, valid_until, given_by, method,"
            "  recorded_by_user, recorded_by_organization, create_time, create_request_id)"
            " SELECT gen_random_uuid(), id, '1885', ARRAY['organizations/prakt'], 'follow_up',"
            "  ARRAY['outcome'], '2025-01-01', '2028-01-01', 'person', 'written', 'users/test',"
            "  'organizations/soc', now(), id::text FROM identity.persons");
    tx.exec_params(
        "INSERT INTO surveys.invitations (id, rule, municipality, person, owner_organization,"
        "  activity, wave, questionnaire, status, due_time, source_event, create_time, update_time)"
        " SELECT gen_random_uuid(), 'agreement-completed-3m', '1885', 'persons/' || id,"
        "  'organizations/prakt', 'agreements/' || id, 'three_months', 'vad-hande-sen',"
        "  'scheduled', $1, 'test', $1, $1 FROM identity.persons",
        PgTimestamp(Start()));
    tx.commit();
  }
  CurlMailer other_mailer(SmtpOptions{sink_->Url(), absl::Seconds(10)});
  InvitationDispatcher other(*invitations_, other_mailer, absl::Seconds(1), clock_);
  std::thread second([&] { EXPECT_TRUE(other.RunOnce().ok()); });
  EXPECT_TRUE(dispatcher_->RunOnce().ok());
  second.join();
  EXPECT_EQ(Count("SELECT count(*) FROM surveys.invitations WHERE reminders_sent > 0"), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM surveys.notifications"), kPersons);
  EXPECT_EQ(sink_->WaitForMessages(kPersons + 1, absl::Seconds(2)), static_cast<size_t>(kPersons));
}

TEST_F(SurveysInvitationsTest, AWithdrawnConsentCancelsThePendingInvitationsAndNothingIsSent) {
  std::string consent;
  const std::string anna = Person("anna", &consent);
  CompletedAgreement(anna);
  {
    pqxx::connection c(dsn_);
    pqxx::work tx(c);
    tx.exec_params("UPDATE identity.consents SET withdraw_time = $2 WHERE id = $1::uuid",
                   consent.substr(9), PgTimestamp(Start()));
    tx.commit();
  }
  identity::v1::ConsentChanged withdrawn;
  withdrawn.set_consent(consent);
  withdrawn.set_person(anna);
  withdrawn.set_version(2);
  withdrawn.set_purpose("follow_up");
  withdrawn.add_data_categories("outcome");
  withdrawn.add_grantee_organizations(kCoordinator);
  Publish(MakeEvent("identity.consent.withdrawn", kMunicipality, consent, 2, anna, "consent",
                    withdrawn, {"organizations/soc", "users/x", "trace", Start()}));
  Consume(1);
  EXPECT_EQ(Count("SELECT count(*) FROM surveys.invitations WHERE status = 'cancelled'"
                  " AND cancel_reason = 'consent_withdrawn'"), 2);
  EXPECT_EQ(Count("SELECT count(*) FROM surveys.outbox WHERE event_type = 'surveys.invitation.cancelled'"), 2);
  AdvanceTo(absl::CivilSecond(2026, 12, 1, 8, 0, 0));
  EXPECT_EQ(SendRound(), 0u);
}

TEST_F(SurveysInvitationsTest, AConsentWithdrawnWithoutAnEventIsCaughtWhenSending) {
  std::string consent;
  const std::string anna = Person("anna", &consent);
  const std::string bo = Person("bo");
  CompletedAgreement(anna);
  CompletedAgreement(bo, "agreements/b1");
  {
    pqxx::connection c(dsn_);
    pqxx::work tx(c);
    tx.exec_params("UPDATE identity.consents SET withdraw_time = $2 WHERE id = $1::uuid",
                   consent.substr(9), PgTimestamp(Start()));
    tx.commit();
  }
  AdvanceTo(absl::CivilSecond(2026, 4, 9, 8, 0, 0));
  EXPECT_EQ(SendRound(), 1u);  // Bo's only
  EXPECT_EQ(testing::MailHeader(sink_->Messages()[0], "X-RcptTo"), "bo@example.org");
  EXPECT_EQ(Count("SELECT count(*) FROM surveys.invitations WHERE person = '" + anna +
                  "' AND status = 'cancelled'"), 1);
}

TEST_F(SurveysInvitationsTest, NoContactChannelCancelsTheInvitation) {
  const std::string anna = Person("anna");
  {
    pqxx::connection c(dsn_);
    pqxx::work tx(c);
    tx.exec_params("UPDATE identity.persons SET email = '' WHERE id = $1::uuid", anna.substr(8));
    tx.commit();
  }
  CompletedAgreement(anna);
  AdvanceTo(absl::CivilSecond(2026, 4, 9, 8, 0, 0));
  EXPECT_EQ(SendRound(), 0u);
  EXPECT_EQ(Count("SELECT count(*) FROM surveys.invitations WHERE cancel_reason = 'no_contact_channel'"), 1);
}

TEST_F(SurveysInvitationsTest, AnsweringByTokenReadSavePartialSubmitOnce) {
  const std::string anna = Person("anna");
  // Her outcome record of the agreement, with the exit recorded: her answers
  // give its three-month status.
  v1::RecordOutcomeRequest record;
  record.set_request_id("outcome-anna");
  v1::Outcome* o = record.mutable_outcome();
  o->set_person(anna);
  o->set_activity("agreements/a1");
  o->set_activity_kind(v1::ACTIVITY_KIND_WORK_PRACTICE);
  o->set_gender(v1::GENDER_FEMALE);
  o->set_age_at_entry(30);
  o->mutable_entry_date()->set_year(2025);
  o->mutable_entry_date()->set_month(9);
  o->mutable_entry_date()->set_day(1);
  o->mutable_entry()->set_occupation(v1::OCCUPATION_LOOKING_FOR_WORK);
  v1::Outcome outcome;
  grpc::Status s = stub_->RecordOutcome(testing::CallWithToken(keys_->Token("prakt")).get(), record, &outcome);
  ASSERT_TRUE(s.ok()) << s.error_message();
  v1::RecordOutcomeStatusRequest exit;
  exit.set_name(outcome.name());
  exit.set_stage(v1::STAGE_EXIT);
  exit.mutable_status()->set_occupation(v1::OCCUPATION_LOOKING_FOR_WORK);
  exit.mutable_status()->set_exit_reason(v1::EXIT_REASON_COMPLETED);
  s = stub_->RecordOutcomeStatus(testing::CallWithToken(keys_->Token("prakt")).get(), exit, &outcome);
  ASSERT_TRUE(s.ok()) << s.error_message();

  CompletedAgreement(anna);
  AdvanceTo(absl::CivilSecond(2026, 4, 9, 8, 0, 0));
  ASSERT_EQ(SendRound(), 1u);
  const std::string token = TokenOf(sink_->Messages()[0]);
  ASSERT_FALSE(token.empty());

  v1::GetInvitationRequest get;
  get.set_token(token);
  v1::InvitationForm form;
  s = stub_->GetInvitation(Anonymous().get(), get, &form);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(form.questionnaire().name(), "questionnaires/vad-hande-sen");
  EXPECT_EQ(form.answers_size(), 0);

  // Partial answers are saved and read back.
  v1::SaveInvitationAnswersRequest save;
  save.set_token(token);
  v1::Answer* occupation = save.add_answers();
  occupation->set_item_id("sysselsattning");
  occupation->set_choice("OCCUPATION_WORK");
  s = stub_->SaveInvitationAnswers(Anonymous().get(), save, &form);
  ASSERT_TRUE(s.ok()) << s.error_message();
  s = stub_->GetInvitation(Anonymous().get(), get, &form);
  ASSERT_TRUE(s.ok());
  ASSERT_EQ(form.answers_size(), 1);
  EXPECT_EQ(form.answers(0).choice(), "OCCUPATION_WORK");

  // A bad answer names its field.
  v1::SaveInvitationAnswersRequest bad = save;
  bad.mutable_answers(0)->set_choice("OCCUPATION_ASTRONAUT");
  s = stub_->SaveInvitationAnswers(Anonymous().get(), bad, &form);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_FALSE(testing::ViolatedFields(s).empty());

  // Another questionnaire's name with this token: not found.
  get.set_questionnaire("questionnaires/prao-enkat");
  EXPECT_EQ(stub_->GetInvitation(Anonymous().get(), get, &form).error_code(), grpc::StatusCode::NOT_FOUND);
  get.clear_questionnaire();

  v1::SubmitInvitationAnswersRequest submit;
  submit.set_token(token);
  *submit.mutable_answers() = save.answers();
  v1::Answer* extent = submit.add_answers();
  extent->set_item_id("omfattning");
  extent->set_number(50);
  v1::SubmitInvitationAnswersResponse submitted;
  // Required items missing on the final submit are named.
  s = stub_->SubmitInvitationAnswers(Anonymous().get(), submit, &submitted);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(testing::ViolatedFields(s), std::vector<std::string>{"answers.forsorjning"});
  v1::Answer* income = submit.add_answers();
  income->set_item_id("forsorjning");
  income->set_choice("MAIN_INCOME_SALARY");
  s = stub_->SubmitInvitationAnswers(Anonymous().get(), submit, &submitted);
  ASSERT_TRUE(s.ok()) << s.error_message();
  // Once.
  s = stub_->SubmitInvitationAnswers(Anonymous().get(), submit, &submitted);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(stub_->GetInvitation(Anonymous().get(), get, &form).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(Count("SELECT count(*) FROM surveys.responses WHERE person = '" + anna + "'"), 1);
  EXPECT_EQ(Count("SELECT count(*) FROM surveys.outbox WHERE event_type = 'surveys.response.submitted'"), 1);

  // The answers gave the outcome record its three-month status.
  v1::GetOutcomeRequest read;
  read.set_name(outcome.name());
  s = stub_->GetOutcome(testing::CallWithToken(keys_->Token("prakt")).get(), read, &outcome);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(outcome.three_months().occupation(), v1::OCCUPATION_WORK);
  EXPECT_EQ(outcome.three_months().source(), v1::STATUS_SOURCE_ANSWERS);
}

// A rule may invite to an anonymous questionnaire: its answers are stored with
// no link to the invitation or the person, and its event names neither.
TEST_F(SurveysInvitationsTest, AnswersToAnAnonymousQuestionnaireKeepNoLinkToWhoAnswered) {
  {
    pqxx::connection c(dsn_);
    pqxx::work tx(c);
    tx.exec("INSERT INTO surveys.invitation_rules (id, event_type, amount, unit, questionnaire, wave)"
            " VALUES ('prao-after-placement', 'placement.agreement.completed', 2, 'days',"
            "         'prao-enkat', 'three_months')");
    tx.commit();
  }
  const std::string anna = Person("anna");
  CompletedAgreement(anna);
  EXPECT_EQ(Count("SELECT count(*) FROM surveys.invitations"), 3);
  AdvanceTo(absl::CivilSecond(2026, 1, 11, 9, 0, 0));  // two days after it ended
  ASSERT_EQ(SendRound(), 1u);
  v1::SubmitInvitationAnswersRequest submit;
  submit.set_token(TokenOf(sink_->Messages()[0]));
  submit.set_questionnaire("questionnaires/prao-enkat");
  v1::Answer* role = submit.add_answers();
  role->set_item_id("roll");
  role->set_choice("handledare");
  v1::Answer* takes = submit.add_answers();
  takes->set_item_id("tar_emot");
  takes->set_yes(false);
  v1::SubmitInvitationAnswersResponse submitted;
  grpc::Status s = stub_->SubmitInvitationAnswers(Anonymous().get(), submit, &submitted);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(Count("SELECT count(*) FROM surveys.responses WHERE questionnaire = 'prao-enkat'"
                  " AND invitation_id IS NULL AND person = ''"), 1);
  EXPECT_EQ(Count("SELECT count(*) FROM surveys.responses WHERE invitation_id IS NOT NULL"
                  " OR person <> ''"), 0);
  pqxx::connection c(dsn_);
  pqxx::nontransaction tx(c);
  pqxx::result envelope = tx.exec(
      "SELECT envelope FROM surveys.outbox WHERE event_type = 'surveys.response.submitted'");
  ASSERT_EQ(envelope.size(), 1u);
  events::v1::Event event;
  const pqxx::binarystring bytes(envelope[0][0]);
  ASSERT_TRUE(event.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())));
  v1::ResponseSubmitted payload;
  ASSERT_TRUE(event.payload().UnpackTo(&payload));
  EXPECT_EQ(event.person(), "");
  EXPECT_EQ(payload.invitation(), "");
  EXPECT_EQ(payload.person(), "");
  EXPECT_EQ(payload.questionnaire(), "questionnaires/prao-enkat");
}

TEST_F(SurveysInvitationsTest, MalformedUnknownAndExpiredTokensGetDistinctCodes) {
  v1::GetInvitationRequest get;
  v1::InvitationForm form;
  get.set_token("not-a-token");
  grpc::Status s = stub_->GetInvitation(Anonymous().get(), get, &form);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(testing::ViolatedFields(s), std::vector<std::string>{"token"});
  get.set_token(NewInvitationToken());
  EXPECT_EQ(stub_->GetInvitation(Anonymous().get(), get, &form).error_code(),
            grpc::StatusCode::NOT_FOUND);

  const std::string anna = Person("anna");
  CompletedAgreement(anna);
  AdvanceTo(absl::CivilSecond(2026, 4, 9, 8, 0, 0));
  ASSERT_EQ(SendRound(), 1u);
  get.set_token(TokenOf(sink_->Messages()[0]));
  EXPECT_TRUE(stub_->GetInvitation(Anonymous().get(), get, &form).ok());
  clock_.Advance(kAnswerPeriod + absl::Minutes(1));
  EXPECT_EQ(stub_->GetInvitation(Anonymous().get(), get, &form).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  v1::SubmitInvitationAnswersRequest submit;
  submit.set_token(get.token());
  *submit.mutable_answers() = CompleteAnswers();
  v1::SubmitInvitationAnswersResponse submitted;
  EXPECT_EQ(stub_->SubmitInvitationAnswers(Anonymous().get(), submit, &submitted).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  SendRound();  // marks it expired
  EXPECT_EQ(Count("SELECT count(*) FROM surveys.invitations WHERE status = 'expired'"), 1);
}

TEST_F(SurveysInvitationsTest, ARelayThatIsAwayIsRetriedWithBackoffAndEachMailGoesOnce) {
  const std::string anna = Person("anna");
  CompletedAgreement(anna);
  AdvanceTo(absl::CivilSecond(2026, 4, 9, 8, 0, 0));
  sink_->Kill();
  EXPECT_TRUE(dispatcher_->RunOnce().ok());
  EXPECT_EQ(Count("SELECT attempts FROM surveys.notifications"), 1);
  pqxx::connection c(dsn_);
  {
    pqxx::nontransaction tx(c);
    EXPECT_FALSE(tx.exec("SELECT last_failure FROM surveys.notifications")[0][0].as<std::string>().empty());
  }
  ASSERT_TRUE(sink_->Restart().ok());
  clock_.Advance(absl::Seconds(30));
  EXPECT_EQ(SendRound(), 0u);  // the retry waits a minute
  clock_.Advance(absl::Seconds(31));
  EXPECT_EQ(SendRound(), 1u);
  EXPECT_EQ(SendRound(), 1u);
  EXPECT_EQ(Count("SELECT attempts FROM surveys.notifications"), 2);
}


// The surveys process is killed (SIGKILL) after it decided to send and before
// the mail went (the relay was away), and again after the mails went: each
// invitation is mailed exactly once across the restarts.
TEST_F(SurveysInvitationsTest, EachInvitationIsMailedOnceAcrossAKillOfTheProcess) {
  const std::string anna = Person("anna");
  const std::string bo = Person("bo");
  // Ended seven months ago: both waves of both are due at once.
  const absl::CivilDay ended = StockholmDay(absl::Now()) - 7 * 31;
  Publish(AgreementEvent("placement.agreement.ended", "agreements/a1", anna, ended));
  Publish(AgreementEvent("placement.agreement.ended", "agreements/b1", bo, ended));

  auto start = [&](const std::string& smtp_url, int run) {
    std::map<std::string, std::string> env = keys_->Environment();
    env["SAMPLAN_PG_DSN"] = dsn_;
    env["SAMPLAN_REDIS_ADDRESS"] = redis_->Address();
    env["SAMPLAN_LISTEN_ADDRESS"] = absl::StrCat("127.0.0.1:", testing::FreePort());
    env["SAMPLAN_METRICS_ADDRESS"] = absl::StrCat("127.0.0.1:", testing::FreePort());
    env["SAMPLAN_SURVEYS_MUNICIPALITIES"] = kMunicipality;
    env["SAMPLAN_SMTP_URL"] = smtp_url;
    env["SAMPLAN_SURVEYS_SEND_INTERVAL"] = "50ms";
    env["SAMPLAN_SURVEYS_PUBLIC_URL"] = kPublicUrl;
    env["HOSTNAME"] = "surveys-0";
    auto process = testing::ChildProcess::Spawn(
        SAMPLAN_SURVEYS_BINARY, {}, env,
        absl::StrCat(::testing::TempDir(), "/surveys-kill-", run, ".log"));
    EXPECT_TRUE(process.ok()) << process.status();
    return process.ok() ? *std::move(process) : nullptr;
  };
  auto wait_for = [&](const std::string& sql, int64_t want) {
    const absl::Time until = absl::Now() + absl::Seconds(20);
    while (Count(sql) != want && absl::Now() < until) absl::SleepFor(absl::Milliseconds(50));
    return Count(sql);
  };

  // Run 1: the relay is away. The invitations are sent (their notifications
  // written), the deliveries fail; then the process dies.
  auto first = start(absl::StrCat("smtp://127.0.0.1:", testing::FreePort()), 1);
  ASSERT_NE(first, nullptr);
  ASSERT_EQ(wait_for("SELECT count(*) FROM surveys.notifications WHERE attempts >= 1", 4), 4);
  first->Signal(SIGKILL);
  ASSERT_TRUE(first->Wait(absl::Seconds(10)).ok());
  EXPECT_EQ(sink_->Messages().size(), 0u);
  // The backoff has passed.
  {
    pqxx::connection c(dsn_);
    pqxx::work tx(c);
    tx.exec("UPDATE surveys.notifications SET next_attempt_time = now()");
    tx.commit();
  }

  // Run 2: the relay is back; every mail goes, once; then the process dies.
  auto second = start(sink_->Url(), 2);
  ASSERT_NE(second, nullptr);
  EXPECT_EQ(sink_->WaitForMessages(4, absl::Seconds(20)), 4u);
  ASSERT_EQ(wait_for("SELECT count(*) FROM surveys.notifications WHERE status = 'sent'", 4), 4);
  second->Signal(SIGKILL);
  ASSERT_TRUE(second->Wait(absl::Seconds(10)).ok());

  // Run 3: nothing is left to send.
  auto third = start(sink_->Url(), 3);
  ASSERT_NE(third, nullptr);
  absl::SleepFor(absl::Seconds(1));  // twenty rounds
  third->Signal(SIGTERM);
  (void)third->Wait(absl::Seconds(20));

  const std::vector<std::string> mails = sink_->Messages();
  EXPECT_EQ(mails.size(), 4u);
  std::set<std::string> ids;
  for (const std::string& m : mails) ids.insert(testing::MailHeader(m, "Message-ID"));
  EXPECT_EQ(ids.size(), 4u);
  EXPECT_EQ(Count("SELECT count(*) FROM surveys.invitations WHERE status = 'sent'"), 4);
  EXPECT_EQ(Count("SELECT count(*) FROM surveys.notifications"), 4);
}

}  // namespace
}  // namespace samplan::surveys
