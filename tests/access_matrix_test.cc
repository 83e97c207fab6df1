// The access matrix: every call of every service (AccessMatrixCoverage, at the
// end, fails for an RPC without a row), made by every kind of caller, against
// real PostgreSQL and Redis, the identity service as its own process and
// caseplan in two replicas. For each call it asserts the exact outcome and the
// audit record the call left (or that it left none).
//
// The person P is registered by the social services (soc), who lead P's plan. The
// other organizations take part in the plan and stand to P as their names say:
//   af      consent for plan and person data, coordination       → sees
//   fk      no consent at all                                    → refused
//   region  consent withdrawn                                    → refused
//   vux     consent expired                                      → refused
//   prakt   consent for health data only                         → refused
//   sthlm   consent, but the organization works in 0180          → refused
// and soc's manager (role manager), a caller without a token, one with a token
// signed by a key nobody trusts, and one with an expired token.

#include <gtest/gtest.h>
#include <grpcpp/grpcpp.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/util/time_util.h>
#include <pqxx/pqxx>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "common/ids.h"
#include "common/redis.h"
#include "common/relay.h"
#include "samplan/caseplan/v1/caseplan.grpc.pb.h"
#include "samplan/identity/v1/identity.grpc.pb.h"
#include "services/identity/identity_crypto.h"
#include "common/migrations.h"
#include "samplan/placement/v1/events.pb.h"
#include "samplan/surveys/v1/surveys.grpc.pb.h"
#include "services/identity/personnummer.h"
#include "services/placement/pg_placement_repository.h"
#include "services/placement/placement_service.h"
#include "services/surveys/invitation_rules.h"
#include "services/surveys/pg_invitation_repository.h"
#include "services/surveys/pg_surveys_repository.h"
#include "services/surveys/questionnaire_rules.h"
#include "services/surveys/surveys_service.h"
#include "tests/support/scheduling_stack.h"
#include "tests/support/caseplan_stack.h"
#include "tests/support/served_service.h"
#include "tests/support/suite.h"
#include "tests/support/events_stack.h"
#include "tests/support/fixtures.h"
#include "tests/support/servers.h"
// The scheduling service's routes and intakes.
#include "samplan/scheduling/v1/scheduling.grpc.pb.h"
#include "services/scheduling/intakes.h"
#include "services/scheduling/meeting_rules.h"
#include "services/scheduling/pg_availability_repository.h"
#include "services/scheduling/pg_intake_repository.h"
#include "services/scheduling/pg_meeting_repository.h"
#include "services/scheduling/scheduling_service.h"

namespace samplan {
namespace {

namespace cp = ::samplan::caseplan::v1;
namespace id = ::samplan::identity::v1;
using ::google::protobuf::util::TimeUtil;
using testing::ChildProcess;
using testing::PostgresServer;
using testing::RedisServer;
using testing::TestKeys;

constexpr char kPersonNumber[] = "19850312-2387";  // invented; valid check digit

// What one call answered and the audit records it left.
struct Outcome {
  grpc::StatusCode code = grpc::StatusCode::UNKNOWN;
  std::vector<std::map<std::string, std::string>> audit;
};

class AccessMatrixTest : public testing::ServersSuite {
 protected:
  static void SetUpTestSuite() {
    ServersSuite::SetUpTestSuite();
    if (HasFatalFailure()) return;
    auto stranger = TestKeys::Create();  // the same key id, a key nobody trusts
    ASSERT_TRUE(stranger.ok());
    stranger_ = new TestKeys(*std::move(stranger));
    auto dsn = pg_->CreateDatabase();
    ASSERT_TRUE(dsn.ok());
    dsn_ = new std::string(*dsn);
    ASSERT_TRUE(testing::MigrateIdentityAndCasePlan(*dsn_).ok());

    // The identity service as operators run it: its own process, its relay on.
    const int port = testing::FreePort();
    std::map<std::string, std::string> env = keys_->Environment();
    env["SAMPLAN_PG_DSN"] = *dsn_;
    env["SAMPLAN_REDIS_ADDRESS"] = redis_->Address();
    env["SAMPLAN_LISTEN_ADDRESS"] = absl::StrCat("127.0.0.1:", port);
    env["SAMPLAN_DRAIN_PERIOD"] = "0s";
    env["SAMPLAN_RELAY_POLL_INTERVAL"] = "5ms";
    env["SAMPLAN_LOG_LEVEL"] = "warning";
    env["SAMPLAN_IDENTITY_ENCRYPTION_KEY"] = identity::IdentityNumberProtector::GenerateKeyBase64();
    env["SAMPLAN_IDENTITY_LOOKUP_KEY"] = identity::IdentityNumberProtector::GenerateKeyBase64();
    auto process = ChildProcess::Spawn(SAMPLAN_IDENTITY_BINARY, {}, env,
                                       "/tmp/samplan-matrix-identity.log");
    ASSERT_TRUE(process.ok()) << process.status();
    identity_process_ = process->release();
    identity_ = id::IdentityService::NewStub(
                    grpc::CreateChannel(absl::StrCat("127.0.0.1:", port),
                                        grpc::InsecureChannelCredentials()))
                    .release();

    for (auto** replica : {&replica_a_, &replica_b_}) {
      auto stack = testing::InProcessCasePlan::Start(*dsn_, keys_->VerifierOptions());
      ASSERT_TRUE(stack.ok()) << stack.status();
      *replica = stack->release();
    }
    caseplan_ = replica_a_->NewStub().release();
    caseplan_b_ = replica_b_->NewStub().release();
    // Caseplan's events on the stream, and the event service that hands them out.
    caseplan_relay_ = new OutboxRelay({"caseplan", 500, absl::Milliseconds(5), absl::Hours(24)},
                                      *dsn_, {redis_->host(), redis_->port()});
    caseplan_relay_->Start();
    events::EventServiceOptions events_options;
    events_options.redis = {redis_->host(), redis_->port()};
    auto events = testing::InProcessEvents::Start(*dsn_, keys_->VerifierOptions(), events_options);
    ASSERT_TRUE(events.ok()) << events.status();
    events_ = events->release();
    events_stub_ = events_->NewStub().release();
    ASSERT_NO_FATAL_FAILURE(Bootstrap());
  }

  static void TearDownTestSuite() {
    delete events_;
    delete caseplan_relay_;
    identity_process_->Signal(SIGTERM);
    (void)identity_process_->Wait(absl::Seconds(10));
    ServersSuite::TearDownTestSuite();
  }

  // Sends `request` to `method` with `token` (none when empty) and a fresh
  // x-request-id, and returns the answer's code and the audit records carrying
  // that request id.
  template <typename Stub, typename Request, typename Response>
  static Outcome Call(Stub* stub,
                      grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&, Response*),
                      const std::string& token, const Request& request,
                      Response* response = nullptr) {
    const std::string request_id = absl::StrCat("matrix-", NewUuid());
    grpc::ClientContext context;
    context.set_wait_for_ready(true);
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(15));
    if (!token.empty()) context.AddMetadata("authorization", "Bearer " + token);
    context.AddMetadata("x-request-id", request_id);
    Response ignored;
    Outcome outcome;
    outcome.code = (stub->*method)(&context, request, response ? response : &ignored).error_code();
    outcome.audit = AuditOf(request_id);
    return outcome;
  }

  static std::vector<std::map<std::string, std::string>> AuditOf(const std::string& request_id) {
    pqxx::connection connection(*dsn_);
    pqxx::nontransaction tx(connection);
    std::vector<std::map<std::string, std::string>> records;
    for (const pqxx::row& row : tx.exec_params(
             "SELECT action, actor_organization, subject_person, data_category, consent,"
             "  decision, reason FROM identity.audit_records WHERE request_id = $1"
             " ORDER BY time, sequence",
             request_id)) {
      records.push_back({{"action", row[0].c_str()},
                         {"actor", row[1].c_str()},
                         {"person", row[2].c_str()},
                         {"category", row[3].c_str()},
                         {"consent", row[4].c_str()},
                         {"decision", row[5].c_str()},
                         {"reason", row[6].c_str()}});
    }
    return records;
  }

  // Waits up to 10 s for an event of `type` on 1885's stream.
  static bool Announced(const std::string& type) {
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (absl::Now() < deadline) {
      auto events = testing::ReadStream(redis_->Address(), "1885");
      if (events.ok()) {
        for (const auto& event : *events) {
          if (event.type == type) return true;
        }
      }
      absl::SleepFor(absl::Milliseconds(50));
    }
    return false;
  }

  static std::string Admin(const std::string& municipality = "1885") {
    return keys_->Token("soc", "administrator", municipality);
  }

  // Registers the municipalities, organizations, the person, the consents and the
  // plan the matrix runs on.
  static void Bootstrap() {
    for (const auto& [code, name] : {std::pair{"1885", "Lindesberg"}, {"0180", "Stockholm"}}) {
      id::CreateMunicipalityRequest request;
      request.mutable_municipality()->set_code(code);
      request.mutable_municipality()->set_display_name(name);
      ASSERT_EQ(Call(identity_, &id::IdentityService::Stub::CreateMunicipality, Admin(code),
                     request).code,
                grpc::StatusCode::OK);
    }
    const std::tuple<const char*, id::OrganizationKind, const char*> organizations[] = {
        {"soc", id::ORGANIZATION_KIND_SOCIAL_SERVICES, "1885"},
        {"af", id::ORGANIZATION_KIND_EMPLOYMENT_SERVICE, "1885"},
        {"fk", id::ORGANIZATION_KIND_SOCIAL_INSURANCE, "1885"},
        {"region", id::ORGANIZATION_KIND_HEALTH_CARE, "1885"},
        {"vux", id::ORGANIZATION_KIND_ADULT_EDUCATION, "1885"},
        {"prakt", id::ORGANIZATION_KIND_OTHER, "1885"},
        {"sthlm", id::ORGANIZATION_KIND_SOCIAL_SERVICES, "0180"},
    };
    for (const auto& [org, kind, municipality] : organizations) {
      id::CreateOrganizationRequest request;
      request.set_organization_id(org);
      request.mutable_organization()->set_display_name(org);
      request.mutable_organization()->set_kind(kind);
      request.mutable_organization()->add_municipalities(municipality);
      ASSERT_EQ(Call(identity_, &id::IdentityService::Stub::CreateOrganization,
                     Admin(municipality), request)
                    .code,
                grpc::StatusCode::OK)
          << org;
    }

    id::CreatePersonRequest person;
    person.set_request_id("matrix-person");
    person.mutable_person()->set_identity_number(kPersonNumber);
    person.mutable_person()->set_given_name("Amira");
    person.mutable_person()->set_family_name("Testsson");
    person.mutable_person()->set_phone("070-000 00 00");
    id::Person registered;
    ASSERT_EQ(Call(identity_, &id::IdentityService::Stub::CreatePerson, keys_->Token("soc"),
                   person, &registered)
                  .code,
              grpc::StatusCode::OK);
    person_ = new std::string(registered.name());

    Consent("af", {"plan", "person"});
    const std::string region = Consent("region", {"plan", "person"});
    Consent("vux", {"plan", "person"}, absl::Seconds(2));
    Consent("prakt", {"health"});
    Consent("sthlm", {"plan", "person"});
    id::WithdrawConsentRequest withdraw;
    withdraw.set_name(region);
    withdraw.set_reason("The person no longer wants the region to see the plan.");
    ASSERT_EQ(Call(identity_, &id::IdentityService::Stub::WithdrawConsent, keys_->Token("soc"),
                   withdraw)
                  .code,
              grpc::StatusCode::OK);

    cp::CreatePlanRequest plan;
    plan.set_request_id("matrix-plan");
    plan.mutable_plan()->set_person(*person_);
    plan.mutable_plan()->set_status(cp::PLAN_STATUS_ACTIVE);
    for (const char* org : {"af", "fk", "region", "vux", "prakt", "sthlm"}) {
      plan.mutable_plan()->add_participants()->set_organization(
          absl::StrCat("organizations/", org));
    }
    cp::Plan created;
    ASSERT_EQ(Call(caseplan_, &cp::CasePlanService::Stub::CreatePlan, keys_->Token("soc"), plan,
                   &created)
                  .code,
              grpc::StatusCode::OK);
    plan_ = new std::string(created.name());
    absl::SleepFor(absl::Seconds(2));  // vux's consent runs out
  }

  // Records P's consent for `org` (as soc, the owner), valid for `lifetime`.
  static std::string Consent(const std::string& org, std::vector<std::string> categories,
                             absl::Duration lifetime = absl::Hours(24 * 365),
                             const std::string& purpose = "coordination") {
    id::CreateConsentRequest request;
    request.set_request_id(absl::StrCat("matrix-consent-", org, "-", purpose, "-",
                                        absl::StrJoin(categories, "-")));
    id::Consent* consent = request.mutable_consent();
    consent->set_person(*person_);
    consent->add_grantee_organizations(absl::StrCat("organizations/", org));
    consent->set_purpose(purpose);
    for (const std::string& category : categories) consent->add_data_categories(category);
    *consent->mutable_valid_until() =
        TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(absl::Now() + lifetime));
    consent->set_given_by(id::CONSENT_GIVER_PERSON);
    consent->set_method(id::CONSENT_METHOD_WRITTEN);
    id::Consent recorded;
    Outcome outcome = Call(identity_, &id::IdentityService::Stub::CreateConsent,
                           keys_->Token("soc"), request, &recorded);
    EXPECT_EQ(outcome.code, grpc::StatusCode::OK) << org;
    return recorded.name();
  }

  // fk's plan consent, recorded and withdrawn as
  // WithdrawalIsSeenBySecondReplicaWithinOneSecond leaves it, so that the rows
  // after that test are the same run alone or after it.
  static void FkHoldsAWithdrawnPlanConsent() {
    id::WithdrawConsentRequest withdraw;
    withdraw.set_name(Consent("fk", {"plan"}));
    withdraw.set_reason("The person withdrew the consent at the meeting.");
    Call(identity_, &id::IdentityService::Stub::WithdrawConsent, keys_->Token("soc"), withdraw);
  }

  static TestKeys* stranger_;
  static std::string* dsn_;
  static ChildProcess* identity_process_;
  static id::IdentityService::Stub* identity_;
  static testing::InProcessCasePlan* replica_a_;
  static testing::InProcessCasePlan* replica_b_;
  static cp::CasePlanService::Stub* caseplan_;
  static cp::CasePlanService::Stub* caseplan_b_;
  static std::string* person_;
  static std::string* plan_;
  static OutboxRelay* caseplan_relay_;
  static testing::InProcessEvents* events_;
  static samplan::events::v1::EventService::Stub* events_stub_;
};
OutboxRelay* AccessMatrixTest::caseplan_relay_ = nullptr;
testing::InProcessEvents* AccessMatrixTest::events_ = nullptr;
samplan::events::v1::EventService::Stub* AccessMatrixTest::events_stub_ = nullptr;

TestKeys* AccessMatrixTest::stranger_ = nullptr;
std::string* AccessMatrixTest::dsn_ = nullptr;
ChildProcess* AccessMatrixTest::identity_process_ = nullptr;
id::IdentityService::Stub* AccessMatrixTest::identity_ = nullptr;
testing::InProcessCasePlan* AccessMatrixTest::replica_a_ = nullptr;
testing::InProcessCasePlan* AccessMatrixTest::replica_b_ = nullptr;
cp::CasePlanService::Stub* AccessMatrixTest::caseplan_ = nullptr;
cp::CasePlanService::Stub* AccessMatrixTest::caseplan_b_ = nullptr;
std::string* AccessMatrixTest::person_ = nullptr;
std::string* AccessMatrixTest::plan_ = nullptr;

// A kind of caller, and what the rule says of it: permitted with `reason`, or
// refused and audited with `reason`; empty `reason` means refused before any
// personal data is looked at, so no audit record.
struct Caller {
  const char* kind;
  std::function<std::string()> token;
  bool permitted;
  const char* reason;
  const char* organization;
  grpc::StatusCode refused_with = grpc::StatusCode::PERMISSION_DENIED;
};

std::vector<Caller> Callers(TestKeys* keys, TestKeys* stranger) {
  using grpc::StatusCode;
  return {
      {"owner", [=] { return keys->Token("soc"); }, true, "owner", "organizations/soc"},
      {"consented", [=] { return keys->Token("af", "partner_system"); }, true, "consent",
       "organizations/af"},
      {"not consented", [=] { return keys->Token("fk"); }, false, "no_consent",
       "organizations/fk"},
      {"withdrawn", [=] { return keys->Token("region"); }, false, "consent_withdrawn",
       "organizations/region"},
      {"expired", [=] { return keys->Token("vux", "teacher"); }, false, "consent_expired",
       "organizations/vux"},
      {"wrong category", [=] { return keys->Token("prakt", "placement_coordinator"); }, false,
       "category_not_covered", "organizations/prakt"},
      {"other municipality", [=] { return keys->Token("sthlm", "caseworker", "0180"); }, false,
       "other_municipality", "organizations/sthlm"},
      {"manager of the owner", [=] { return keys->Token("soc", "manager"); }, false, "role",
       "organizations/soc"},
      {"no token", [] { return std::string(); }, false, "", "", StatusCode::UNAUTHENTICATED},
      {"token signed by an untrusted key", [=] { return stranger->Token("soc"); }, false, "", "",
       StatusCode::UNAUTHENTICATED},
      {"expired token", [=] { return keys->TokenValidFor("soc", -absl::Minutes(5)); }, false, "",
       "", StatusCode::UNAUTHENTICATED},
  };
}

// Checks one call's outcome against the caller's row: the answer, and exactly one
// audit record naming the caller, the person, the decision and the reason — or
// none for a caller refused before anything was looked at.
void ExpectRow(const Caller& caller, const Outcome& outcome, const std::string& action,
               const std::string& person, const char* category) {
  SCOPED_TRACE(absl::StrCat(action, " by ", caller.kind));
  EXPECT_EQ(outcome.code, caller.permitted ? grpc::StatusCode::OK : caller.refused_with);
  if (std::string(caller.reason).empty()) {
    EXPECT_TRUE(outcome.audit.empty()) << "an unauthenticated call left an audit record";
    return;
  }
  ASSERT_EQ(outcome.audit.size(), 1u);
  const auto& record = outcome.audit[0];
  EXPECT_EQ(record.at("action"), action);
  EXPECT_EQ(record.at("actor"), caller.organization);
  EXPECT_EQ(record.at("decision"), caller.permitted ? "permit" : "deny");
  EXPECT_EQ(record.at("reason"), caller.reason);
  EXPECT_EQ(record.at("category"), category);
  // A refused role learns nothing and leaves its attempt on the person's chain too.
  EXPECT_EQ(record.at("person"), person);
  EXPECT_EQ(record.at("consent").empty(), std::string(caller.reason) != "consent");
}

TEST_F(AccessMatrixTest, CasePlanReadsAndWrites) {
  for (const Caller& caller : Callers(keys_, stranger_)) {
    cp::GetPlanRequest get;
    get.set_name(*plan_);
    cp::Plan plan;
    Outcome got = Call(caseplan_, &cp::CasePlanService::Stub::GetPlan, caller.token(), get, &plan);
    ExpectRow(caller, got, "caseplan.GetPlan", *person_, "plan");
    EXPECT_EQ(plan.name().empty(), !caller.permitted) << caller.kind;

    cp::UpdatePlanRequest update;
    update.mutable_plan()->set_name(*plan_);
    update.mutable_plan()->add_notes()->set_text(absl::StrCat("A note by ", caller.kind));
    update.mutable_update_mask()->add_paths("notes");
    ExpectRow(caller,
              Call(caseplan_, &cp::CasePlanService::Stub::UpdatePlan, caller.token(), update),
              "caseplan.UpdatePlan", *person_, "plan");

    cp::ListPlanRevisionsRequest revisions;
    revisions.set_name(*plan_);
    ExpectRow(caller,
              Call(caseplan_, &cp::CasePlanService::Stub::ListPlanRevisions, caller.token(),
                   revisions),
              "caseplan.ListPlanRevisions", *person_, "plan");
  }
  // Only the two permitted callers' notes are in the plan.
  cp::GetPlanRequest get;
  get.set_name(*plan_);
  cp::Plan plan;
  ASSERT_EQ(Call(caseplan_, &cp::CasePlanService::Stub::GetPlan, keys_->Token("soc"), get, &plan)
                .code,
            grpc::StatusCode::OK);
  ASSERT_EQ(plan.notes_size(), 2);
  EXPECT_EQ(plan.notes(0).text(), "A note by owner");
  EXPECT_EQ(plan.notes(1).text(), "A note by consented");
}

// The surveys service's outcome records (category outcome, purpose follow_up):
// P's consents for follow-up stand to each organization as its coordination
// consents do, so every caller's row is the same as for the plan.
TEST_F(AccessMatrixTest, SurveysOutcomeRecordsAndEveryOtherSurveysCall) {
  namespace sv = ::samplan::surveys;
  ASSERT_TRUE(ApplyMigrations(*dsn_, sv::kSchema, sv::SurveysMigrationSets()).ok());
  Consent("af", {"outcome"}, absl::Hours(24 * 365), "follow_up");
  const std::string region = Consent("region", {"outcome"}, absl::Hours(24 * 365), "follow_up");
  Consent("vux", {"outcome"}, absl::Seconds(1), "follow_up");
  Consent("prakt", {"health"}, absl::Hours(24 * 365), "follow_up");
  Consent("sthlm", {"outcome"}, absl::Hours(24 * 365), "follow_up");
  id::WithdrawConsentRequest withdraw;
  withdraw.set_name(region);
  withdraw.set_reason("The person no longer wants the region to follow up.");
  ASSERT_EQ(Call(identity_, &id::IdentityService::Stub::WithdrawConsent, keys_->Token("soc"),
                 withdraw)
                .code,
            grpc::StatusCode::OK);
  absl::SleepFor(absl::Seconds(1));  // vux's consent runs out

  Outbox outbox(sv::kSchema);
  auto pool = PgPool::Create({*dsn_, 2, absl::Seconds(10), "matrix-surveys",
                              sv::SurveysRepositoryStatements(outbox)});
  ASSERT_TRUE(pool.ok()) << pool.status();
  sv::PgSurveysRepository repository(**pool, outbox);
  sv::PgInvitationRepository invitations(**pool, outbox, sv::DeliveryOptions{});
  ASSERT_TRUE(repository.InstallShipped(sv::ShippedQuestionnaires(), absl::Now() + absl::Seconds(10)).ok());
  auto served = testing::ServedService::Create(keys_->VerifierOptions());
  ASSERT_TRUE(served.ok());
  ASSERT_TRUE((*served)->Serve(std::make_unique<sv::SurveyService>(repository, invitations, (*served)->calls(), 5)).ok());
  auto stub = sv::v1::SurveyService::NewStub((*served)->NewChannel());

  auto outcome_for_p = [&] {
    sv::v1::RecordOutcomeRequest request;
    request.set_request_id(NewUuid());
    sv::v1::Outcome* o = request.mutable_outcome();
    o->set_person(*person_);
    o->set_activity(*plan_ + "/activities/praktik");
    o->set_activity_kind(sv::v1::ACTIVITY_KIND_PLAN_ACTIVITY);
    o->set_gender(sv::v1::GENDER_FEMALE);
    o->set_age_at_entry(41);
    o->mutable_entry_date()->set_year(2026);
    o->mutable_entry_date()->set_month(1);
    o->mutable_entry_date()->set_day(12);
    o->mutable_entry()->set_occupation(sv::v1::OCCUPATION_LOOKING_FOR_WORK);
    return request;
  };
  sv::v1::Outcome record;
  ASSERT_EQ(Call(stub.get(), &sv::v1::SurveyService::Stub::RecordOutcome, keys_->Token("soc"),
                 outcome_for_p(), &record)
                .code,
            grpc::StatusCode::OK);

  for (const Caller& caller : Callers(keys_, stranger_)) {
    // Reading and writing the record, and registering one about P: the rule.
    sv::v1::GetOutcomeRequest get;
    get.set_name(record.name());
    sv::v1::Outcome got;
    ExpectRow(caller,
              Call(stub.get(), &sv::v1::SurveyService::Stub::GetOutcome, caller.token(), get, &got),
              "surveys.GetOutcome", *person_, "outcome");
    EXPECT_EQ(got.name().empty(), !caller.permitted) << caller.kind;
    sv::v1::RecordOutcomeStatusRequest status;
    status.set_name(record.name());
    status.set_stage(sv::v1::STAGE_EXIT);
    status.mutable_status()->set_occupation(sv::v1::OCCUPATION_WORK);
    status.mutable_status()->set_exit_reason(sv::v1::EXIT_REASON_GOT_JOB);
    const Outcome written = Call(stub.get(), &sv::v1::SurveyService::Stub::RecordOutcomeStatus,
                                 caller.token(), status);
    const Outcome created = Call(stub.get(), &sv::v1::SurveyService::Stub::RecordOutcome,
                                 caller.token(), outcome_for_p());
    const std::string kind = caller.kind;
    if (kind == "manager of the owner") {
      // Writes are refused for the role before anything about P is read.
      for (const Outcome& refused : {written, created}) {
        EXPECT_EQ(refused.code, grpc::StatusCode::PERMISSION_DENIED);
        EXPECT_TRUE(refused.audit.empty());
      }
    } else if (kind == "other municipality") {
      ExpectRow(caller, written, "surveys.RecordOutcomeStatus", *person_, "outcome");
      // P is not registered in 0180: the person named is the wrong field there,
      // and nothing is written, not even an audit record.
      EXPECT_EQ(created.code, grpc::StatusCode::INVALID_ARGUMENT);
      EXPECT_TRUE(created.audit.empty());
    } else {
      ExpectRow(caller, written, "surveys.RecordOutcomeStatus", *person_, "outcome");
      // Registering a record about P is writing about P, whom soc owns.
      ExpectRow(caller, created, "surveys.RecordOutcome", *person_, "outcome");
    }

    // The calls that touch no personal data: open to every caller with a token,
    // the same to all, and no audit record.
    const grpc::StatusCode authenticated =
        caller.refused_with == grpc::StatusCode::UNAUTHENTICATED ? grpc::StatusCode::UNAUTHENTICATED
                                                                 : grpc::StatusCode::OK;
    sv::v1::GetQuestionnaireRequest questionnaire;
    questionnaire.set_name("questionnaires/vad-hande-sen");
    const Outcome read = Call(stub.get(), &sv::v1::SurveyService::Stub::GetQuestionnaire,
                              caller.token(), questionnaire);
    EXPECT_EQ(read.code, authenticated) << caller.kind;
    EXPECT_TRUE(read.audit.empty());
    EXPECT_EQ(Call(stub.get(), &sv::v1::SurveyService::Stub::ListQuestionnaires, caller.token(),
                   sv::v1::ListQuestionnairesRequest())
                  .code,
              authenticated)
        << caller.kind;
    const Outcome statistics =
        Call(stub.get(), &sv::v1::SurveyService::Stub::GetOutcomeStatistics, caller.token(),
             sv::v1::GetOutcomeStatisticsRequest());
    // 1885 holds fewer than five records, which would single people out; 0180 none.
    EXPECT_EQ(statistics.code, authenticated != grpc::StatusCode::OK ? authenticated
                               : kind == "other municipality"       ? grpc::StatusCode::OK
                                    : grpc::StatusCode::INVALID_ARGUMENT)
        << caller.kind;
    EXPECT_TRUE(statistics.audit.empty());
    sv::v1::ExportOutcomeStatisticsRequest file;
    file.set_format("csv");
    EXPECT_EQ(Call(stub.get(), &sv::v1::SurveyService::Stub::ExportOutcomeStatistics,
                   caller.token(), file)
                  .code,
              statistics.code)
        << caller.kind;
    // Writing questionnaires: caseworkers, coordinators and administrators.
    sv::v1::CreateQuestionnaireRequest create_questionnaire;
    create_questionnaire.set_questionnaire_id(
        absl::StrCat("matrix-", absl::StrReplaceAll(caller.kind, {{" ", "-"}})));
    *create_questionnaire.mutable_questionnaire() = sv::ShippedQuestionnaires()[1];
    // Neither the manager, af's partner system nor vux's teacher.
    const bool author =
        kind != "manager of the owner" && kind != "consented" && kind != "expired";
    EXPECT_EQ(Call(stub.get(), &sv::v1::SurveyService::Stub::CreateQuestionnaire,
                   caller.token(), create_questionnaire)
                  .code,
              authenticated != grpc::StatusCode::OK ? authenticated
              : author                               ? grpc::StatusCode::OK
                                                     : grpc::StatusCode::PERMISSION_DENIED)
        << caller.kind;
    sv::v1::PublishQuestionnaireVersionRequest publish;
    *publish.mutable_questionnaire() = sv::ShippedQuestionnaires()[1];
    publish.mutable_questionnaire()->set_name(absl::StrCat(
        "questionnaires/", create_questionnaire.questionnaire_id()));
    EXPECT_EQ(Call(stub.get(), &sv::v1::SurveyService::Stub::PublishQuestionnaireVersion,
                   caller.token(), publish)
                  .code,
              authenticated != grpc::StatusCode::OK ? authenticated
              : author                               ? grpc::StatusCode::OK
                                                     : grpc::StatusCode::PERMISSION_DENIED)
        << caller.kind;
  }
}

// The invitation calls of the surveys service are for the person invited, who
// has no account: the invitation token in the request is the only credential.
// Whatever bearer token a caller sends (none, a stranger's, an expired one, a
// manager's), the answer and the audit record are the same — and the audit
// record names no organization, since none acted.
TEST_F(AccessMatrixTest, SurveysInvitationCallsAnswerToTheInvitationTokenAlone) {
  namespace sv = ::samplan::surveys;
  ASSERT_TRUE(ApplyMigrations(*dsn_, sv::kSchema, sv::SurveysMigrationSets()).ok());
  Consent("af", {"outcome"}, absl::Hours(24 * 365), "follow_up");
  {
    pqxx::connection c(*dsn_);
    pqxx::work tx(c);
    tx.exec_params("UPDATE identity.persons SET email = 'p@example.org' WHERE id = $1::uuid",
                   person_->substr(8));
    tx.commit();
  }
  Outbox outbox(sv::kSchema);
  auto pool = PgPool::Create({*dsn_, 2, absl::Seconds(10), "matrix-invitations",
                              sv::SurveysRepositoryStatements(outbox)});
  ASSERT_TRUE(pool.ok()) << pool.status();
  sv::PgSurveysRepository repository(**pool, outbox);
  sv::PgInvitationRepository invitations(
      **pool, outbox, sv::DeliveryOptions{"https://samplan.example", "vhs@lindesberg.example", 100});
  ASSERT_TRUE(repository.InstallShipped(sv::ShippedQuestionnaires(), absl::Now() + absl::Seconds(10)).ok());
  // P's placement with af ended four months ago: the three-month invitation is
  // due, and sent (its notification written, with the link's token).
  placement::v1::AgreementChanged ended;
  ended.set_agreement("agreements/matrix");
  ended.set_person(*person_);
  ended.set_coordinator_organization("organizations/af");
  const absl::CivilDay day = absl::ToCivilDay(absl::Now(), absl::UTCTimeZone()) - 4 * 31;
  ended.mutable_ended_date()->set_year(static_cast<int>(day.year()));
  ended.mutable_ended_date()->set_month(day.month());
  ended.mutable_ended_date()->set_day(day.day());
  const events::v1::Event event =
      MakeEvent("placement.agreement.ended", "1885", ended.agreement(), 3, *person_, "placement",
                ended, {"organizations/af", "", "matrix", absl::Now()});
  ASSERT_TRUE((*pool)->Transaction(absl::Now() + absl::Seconds(10), [&](pqxx::transaction_base& tx) {
    return sv::ApplyInvitationEvent(tx, outbox, event, absl::Now());
  }).ok());
  auto sent = invitations.ScheduleDue(absl::Now(), absl::Now() + absl::Seconds(10));
  ASSERT_TRUE(sent.ok()) << sent.status();
  ASSERT_EQ(*sent, 1);
  std::string token;
  {
    pqxx::connection c(*dsn_);
    pqxx::nontransaction tx(c);
    const std::string body = tx.exec("SELECT body FROM surveys.notifications")[0][0].as<std::string>();
    const size_t at = body.find("/svar/");
    ASSERT_NE(at, std::string::npos);
    token = body.substr(at + 6, sv::kTokenLength);
  }
  auto served = testing::ServedService::Create(keys_->VerifierOptions(), absl::Seconds(10),
                                               RealClock(), sv::MethodsWithoutToken());
  ASSERT_TRUE(served.ok());
  ASSERT_TRUE((*served)->Serve(std::make_unique<sv::SurveyService>(repository, invitations,
                                                                   (*served)->calls(), 5)).ok());
  auto stub = sv::v1::SurveyService::NewStub((*served)->NewChannel());

  auto expect_respondent_row = [&](const Caller& caller, const Outcome& outcome,
                                   const char* action) {
    EXPECT_EQ(outcome.code, grpc::StatusCode::OK) << caller.kind << " " << action;
    ASSERT_EQ(outcome.audit.size(), 1u) << caller.kind << " " << action;
    EXPECT_EQ(outcome.audit[0].at("action"), action);
    EXPECT_EQ(outcome.audit[0].at("actor"), "") << caller.kind;
    EXPECT_EQ(outcome.audit[0].at("person"), *person_);
    EXPECT_EQ(outcome.audit[0].at("category"), "outcome");
    EXPECT_EQ(outcome.audit[0].at("decision"), "permit");
    EXPECT_EQ(outcome.audit[0].at("reason"), "invitation_token");
  };
  std::vector<Caller> callers = Callers(keys_, stranger_);
  for (const Caller& caller : callers) {
    sv::v1::GetInvitationRequest get;
    get.set_token(token);
    expect_respondent_row(
        caller, Call(stub.get(), &sv::v1::SurveyService::Stub::GetInvitation, caller.token(), get),
        "surveys.GetInvitation");
    sv::v1::SaveInvitationAnswersRequest save;
    save.set_token(token);
    sv::v1::Answer* answer = save.add_answers();
    answer->set_item_id("sysselsattning");
    answer->set_choice("OCCUPATION_STUDIES");
    expect_respondent_row(caller,
                          Call(stub.get(), &sv::v1::SurveyService::Stub::SaveInvitationAnswers,
                               caller.token(), save),
                          "surveys.SaveInvitationAnswers");
    // A malformed token names the field; an unknown one is not found; neither
    // reads anything, so neither leaves an audit record.
    get.set_token("a-token-from-somewhere-else");
    const Outcome malformed =
        Call(stub.get(), &sv::v1::SurveyService::Stub::GetInvitation, caller.token(), get);
    EXPECT_EQ(malformed.code, grpc::StatusCode::INVALID_ARGUMENT) << caller.kind;
    EXPECT_TRUE(malformed.audit.empty());
    sv::v1::SubmitInvitationAnswersRequest unknown;
    unknown.set_token(sv::NewInvitationToken());
    const Outcome missing = Call(stub.get(), &sv::v1::SurveyService::Stub::SubmitInvitationAnswers,
                                 caller.token(), unknown);
    EXPECT_EQ(missing.code, grpc::StatusCode::NOT_FOUND) << caller.kind;
    EXPECT_TRUE(missing.audit.empty());
  }
  // Submitted once, by whoever holds the token; a second submit is refused
  // before anything is written.
  sv::v1::SubmitInvitationAnswersRequest submit;
  submit.set_token(token);
  sv::v1::Answer* occupation = submit.add_answers();
  occupation->set_item_id("sysselsattning");
  occupation->set_choice("OCCUPATION_LOOKING_FOR_WORK");
  sv::v1::Answer* income = submit.add_answers();
  income->set_item_id("forsorjning");
  income->set_choice("MAIN_INCOME_OTHER");
  expect_respondent_row(callers.front(),
                        Call(stub.get(), &sv::v1::SurveyService::Stub::SubmitInvitationAnswers,
                             std::string(), submit),
                        "surveys.SubmitInvitationAnswers");
  for (const Caller& caller : callers) {
    const Outcome again = Call(stub.get(), &sv::v1::SurveyService::Stub::SubmitInvitationAnswers,
                               caller.token(), submit);
    EXPECT_EQ(again.code, grpc::StatusCode::FAILED_PRECONDITION) << caller.kind;
    EXPECT_TRUE(again.audit.empty());
  }
  // The other calls still need a bearer token.
  EXPECT_EQ(Call(stub.get(), &sv::v1::SurveyService::Stub::ListQuestionnaires, std::string(),
                 sv::v1::ListQuestionnairesRequest())
                .code,
            grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(AccessMatrixTest, CasePlanDenialDoesNotTellWhetherThePlanExists) {
  for (const Caller& caller : Callers(keys_, stranger_)) {
    if (caller.permitted || std::string(caller.reason) == "role" ||
        std::string(caller.reason).empty()) {
      continue;
    }
    cp::GetPlanRequest hidden, missing;
    hidden.set_name(*plan_);
    missing.set_name(absl::StrCat("plans/", NewUuid()));
    Outcome a = Call(caseplan_, &cp::CasePlanService::Stub::GetPlan, caller.token(), hidden);
    Outcome b = Call(caseplan_, &cp::CasePlanService::Stub::GetPlan, caller.token(), missing);
    EXPECT_EQ(a.code, grpc::StatusCode::PERMISSION_DENIED) << caller.kind;
    EXPECT_EQ(b.code, grpc::StatusCode::PERMISSION_DENIED) << caller.kind;
    // The missing plan's attempt is audited too, on no person's chain.
    ASSERT_EQ(b.audit.size(), 1u) << caller.kind;
    EXPECT_EQ(b.audit[0].at("reason"), "not_found");
    EXPECT_EQ(b.audit[0].at("person"), "");
  }
}

TEST_F(AccessMatrixTest, CasePlanListShowsAndCountsOnlyWhatTheCallerMaySee) {
  for (const Caller& caller : Callers(keys_, stranger_)) {
    SCOPED_TRACE(caller.kind);
    cp::ListPlansRequest list;
    list.set_person(*person_);
    cp::ListPlansResponse page;
    Outcome listed =
        Call(caseplan_, &cp::CasePlanService::Stub::ListPlans, caller.token(), list, &page);
    if (std::string(caller.reason).empty()) {
      EXPECT_EQ(listed.code, grpc::StatusCode::UNAUTHENTICATED);
    } else if (std::string(caller.reason) == "role") {
      EXPECT_EQ(listed.code, grpc::StatusCode::PERMISSION_DENIED);
    } else {
      EXPECT_EQ(listed.code, grpc::StatusCode::OK);
    }
    // A plan the caller may not see is neither returned nor read, so no record.
    EXPECT_EQ(page.plans_size(), caller.permitted ? 1 : 0);
    EXPECT_TRUE(page.next_page_token().empty());
    ASSERT_EQ(listed.audit.size(), caller.permitted ? 1u : 0u);
    if (caller.permitted) {
      EXPECT_EQ(listed.audit[0].at("action"), "caseplan.ListPlans");
      EXPECT_EQ(listed.audit[0].at("reason"), caller.reason);
    }
  }
}

TEST_F(AccessMatrixTest, CasePlanCreateForThePerson) {
  for (const Caller& caller : Callers(keys_, stranger_)) {
    SCOPED_TRACE(caller.kind);
    cp::CreatePlanRequest create;
    create.set_request_id(caseplan::NewItemId());
    create.mutable_plan()->set_person(*person_);
    create.mutable_plan()->set_status(cp::PLAN_STATUS_DRAFT);
    Outcome created =
        Call(caseplan_, &cp::CasePlanService::Stub::CreatePlan, caller.token(), create);
    if (std::string(caller.reason) == "other_municipality") {
      // A caller of 0180 would create a 0180 plan, and P is not registered there.
      EXPECT_EQ(created.code, grpc::StatusCode::INVALID_ARGUMENT);
      EXPECT_TRUE(created.audit.empty());
    } else if (std::string(caller.reason) == "role") {
      EXPECT_EQ(created.code, grpc::StatusCode::PERMISSION_DENIED);
      EXPECT_TRUE(created.audit.empty());
    } else {
      ExpectRow(caller, created, "caseplan.CreatePlan", *person_, "plan");
    }
  }
}

TEST_F(AccessMatrixTest, IdentityPersonData) {
  for (const Caller& caller : Callers(keys_, stranger_)) {
    id::GetPersonRequest get;
    get.set_name(*person_);
    id::Person person;
    Outcome got =
        Call(identity_, &id::IdentityService::Stub::GetPerson, caller.token(), get, &person);
    ExpectRow(caller, got, "identity.GetPerson", *person_, "person");
    if (caller.permitted) {
      EXPECT_EQ(person.identity_number().empty(), false) << caller.kind;
      // Contact details: the owner's, and a consented caller's only with "contact".
      EXPECT_EQ(person.phone().empty(), std::string(caller.reason) != "owner") << caller.kind;
    } else {
      EXPECT_TRUE(person.name().empty() && person.identity_number().empty()) << caller.kind;
    }

    id::LookupPersonRequest lookup;
    lookup.set_identity_number(kPersonNumber);
    Outcome looked = Call(identity_, &id::IdentityService::Stub::LookupPerson, caller.token(),
                          lookup);
    if (std::string(caller.kind) == "other municipality") {
      // By number, a caller searches its own municipality only: there the
      // person is not registered, and nothing of 1885's record is touched.
      Caller elsewhere = caller;
      elsewhere.reason = "not_found";
      ExpectRow(elsewhere, looked, "identity.LookupPerson", "", "person");
      continue;
    }
    ExpectRow(caller, looked, "identity.LookupPerson", *person_, "person");
  }
}

TEST_F(AccessMatrixTest, IdentityCheckAccessAnswersForTheCallersOwnOrganization) {
  for (const Caller& caller : Callers(keys_, stranger_)) {
    SCOPED_TRACE(caller.kind);
    id::CheckAccessRequest check;
    check.set_organization(caller.organization);
    check.set_person(*person_);
    check.set_data_category("plan");
    check.set_purpose("coordination");
    id::CheckAccessResponse answer;
    Outcome checked =
        Call(identity_, &id::IdentityService::Stub::CheckAccess, caller.token(), check, &answer);
    if (std::string(caller.reason).empty()) {
      EXPECT_EQ(checked.code, grpc::StatusCode::UNAUTHENTICATED);
      EXPECT_TRUE(checked.audit.empty());
      continue;
    }
    if (checked.code == grpc::StatusCode::OK) {
      EXPECT_EQ(answer.permitted(), caller.permitted);
      // A person of another municipality is, to the caller, one it has no consent
      // for: the answer does not tell where the person is registered. The audit
      // record keeps the real reason.
      EXPECT_EQ(answer.reason(), std::string(caller.reason) == "other_municipality"
                                     ? "no_consent"
                                     : caller.reason);
    } else {
      EXPECT_FALSE(caller.permitted);
      EXPECT_EQ(checked.code, grpc::StatusCode::PERMISSION_DENIED);
    }
    ASSERT_EQ(checked.audit.size(), 1u);
    EXPECT_EQ(checked.audit[0].at("reason"), caller.reason);
  }
}

TEST_F(AccessMatrixTest, TheAccessLogIsTheOwnersToReadAndShowsEveryAttempt) {
  // Everyone tries to read the plan first: the log has permitted and refused
  // attempts to show.
  for (const Caller& caller : Callers(keys_, stranger_)) {
    cp::GetPlanRequest get;
    get.set_name(*plan_);
    Call(caseplan_, &cp::CasePlanService::Stub::GetPlan, caller.token(), get);
  }
  for (const Caller& caller : Callers(keys_, stranger_)) {
    SCOPED_TRACE(caller.kind);
    id::ListAccessLogRequest request;
    request.set_person(*person_);
    request.set_page_size(100);
    id::ListAccessLogResponse log;
    Outcome listed =
        Call(identity_, &id::IdentityService::Stub::ListAccessLog, caller.token(), request, &log);
    const bool owner = std::string(caller.reason) == "owner";
    if (std::string(caller.reason).empty()) {
      EXPECT_EQ(listed.code, grpc::StatusCode::UNAUTHENTICATED);
      EXPECT_TRUE(listed.audit.empty());
      continue;
    }
    EXPECT_EQ(listed.code, owner ? grpc::StatusCode::OK : grpc::StatusCode::PERMISSION_DENIED);
    EXPECT_EQ(listed.audit.size(), 1u);
    if (owner) {
      // Who has seen my data: the refused attempts are there with the rest.
      std::set<std::string> reasons;
      for (const auto& entry : log.entries()) reasons.insert(entry.reason());
      EXPECT_TRUE(reasons.contains("owner"));
      EXPECT_TRUE(reasons.contains("consent_withdrawn") || log.entries_size() == 100);
    }
  }
}

// A withdrawal is seen at once by every replica: the decision is read in the
// same transaction as the data, so there is no cache to go stale.
TEST_F(AccessMatrixTest, WithdrawalIsSeenBySecondReplicaWithinOneSecond) {
  const std::string consent = Consent("fk", {"plan"});
  cp::GetPlanRequest get;
  get.set_name(*plan_);
  ASSERT_EQ(Call(caseplan_, &cp::CasePlanService::Stub::GetPlan, keys_->Token("fk"), get).code,
            grpc::StatusCode::OK);
  ASSERT_EQ(Call(caseplan_b_, &cp::CasePlanService::Stub::GetPlan, keys_->Token("fk"), get).code,
            grpc::StatusCode::OK);

  id::WithdrawConsentRequest withdraw;
  withdraw.set_name(consent);
  withdraw.set_reason("The person withdrew the consent at the meeting.");
  ASSERT_EQ(Call(identity_, &id::IdentityService::Stub::WithdrawConsent, keys_->Token("soc"),
                 withdraw)
                .code,
            grpc::StatusCode::OK);
  const absl::Time withdrawn = absl::Now();
  Outcome after;
  do {
    after = Call(caseplan_b_, &cp::CasePlanService::Stub::GetPlan, keys_->Token("fk"), get);
  } while (after.code == grpc::StatusCode::OK && absl::Now() - withdrawn < absl::Seconds(1));
  const absl::Duration took = absl::Now() - withdrawn;
  EXPECT_EQ(after.code, grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_LT(took, absl::Seconds(1));
  ASSERT_EQ(after.audit.size(), 1u);
  EXPECT_EQ(after.audit[0].at("reason"), "consent_withdrawn");
  std::printf("withdrawal seen by the second replica after %s\n",
              absl::FormatDuration(took).c_str());

  // The withdrawal is announced on the municipality's stream too.
  EXPECT_TRUE(Announced("identity.consent.withdrawn"));
}

// The plan's events, as each caller gets them from the event service: pulled
// (ListEvents, with its audit record) and streamed (Subscribe from the start).
// Before BreakGlass below, which lets the region in.
TEST_F(AccessMatrixTest, EventsOfThePersonReachOnlyWhoMaySeeThem) {
  namespace ev = samplan::events::v1;
  for (int i = 0; i < 2; ++i) {  // two changes of the plan, besides its creation
    cp::UpdatePlanRequest update;
    update.mutable_plan()->set_name(*plan_);
    update.mutable_plan()->add_notes()->set_text(absl::StrCat("A change to tell, ", i));
    update.mutable_update_mask()->add_paths("notes");
    ASSERT_EQ(
        Call(caseplan_, &cp::CasePlanService::Stub::UpdatePlan, keys_->Token("soc"), update).code,
        grpc::StatusCode::OK);
  }
  ASSERT_TRUE(testing::WaitForOutboxDrained(*dsn_, absl::Seconds(10)).ok());
  auto about_person = [&](const auto& events) {
    int n = 0;
    for (const ev::DeliveredEvent& e : events) n += e.event().person() == *person_;
    return n;
  };
  for (const Caller& caller : Callers(keys_, stranger_)) {
    SCOPED_TRACE(caller.kind);
    ev::ListEventsRequest list;
    list.add_event_types("caseplan.");
    list.set_page_size(1000);
    ev::ListEventsResponse page;
    Outcome listed = Call(events_stub_, &ev::EventService::Stub::ListEvents, caller.token(), list,
                          &page);
    EXPECT_EQ(listed.code, std::string(caller.reason).empty() ? grpc::StatusCode::UNAUTHENTICATED
                                                              : grpc::StatusCode::OK);
    if (caller.permitted) {
      // The plan's creation and every change, and one record of the telling.
      EXPECT_GE(about_person(page.events()), 3);
      ASSERT_EQ(listed.audit.size(), 1u);
      EXPECT_EQ(listed.audit[0].at("action"), "events.ListEvents");
      EXPECT_EQ(listed.audit[0].at("actor"), caller.organization);
      EXPECT_EQ(listed.audit[0].at("person"), *person_);
      EXPECT_EQ(listed.audit[0].at("reason"), caller.reason);
    } else {
      // Nothing of the person, not even that there is a plan; nothing was read.
      EXPECT_EQ(about_person(page.events()), 0);
      EXPECT_TRUE(listed.audit.empty());
    }

    ev::SubscribeRequest subscribe;
    subscribe.add_event_types("caseplan.");
    // From the stream's start; another municipality's token names its own.
    if (std::string(caller.reason) != "other_municipality") subscribe.set_cursor("1885:0-0");
    testing::TestSubscriber stream(events_->address(), caller.token(), subscribe);
    if (std::string(caller.reason).empty()) {
      absl::StatusOr<grpc::Status> ended = stream.WaitForEnd(absl::Seconds(10));
      ASSERT_TRUE(ended.ok());
      EXPECT_EQ(ended->error_code(), grpc::StatusCode::UNAUTHENTICATED);
      EXPECT_TRUE(stream.received().empty());
      continue;
    }
    // Wait until the stream has passed everything ListEvents saw (another
    // municipality's stream: until it answers at all).
    const auto end = samplan::events::Cursor::Parse(page.next_page_token(), "").value().Get("1885");
    ASSERT_TRUE(stream.WaitFor(absl::Seconds(10), [&](const auto& received) {
      if (received.empty()) return false;
      if (std::string(caller.reason) == "other_municipality") return true;
      auto at = samplan::events::Cursor::Parse(received.back().message.cursor(), "");
      return at.ok() && at->Get("1885").has_value() && end.has_value() &&
             *end <= *at->Get("1885");
    }));
    EXPECT_EQ(about_person(stream.events()) > 0, caller.permitted);
  }
}

// Break-glass: time-limited access without consent, with a reason, flagged in
// the audit log and announced so that the owner learns of it.
TEST_F(AccessMatrixTest, BreakGlassGivesFlaggedTimeLimitedAccess) {
  cp::GetPlanRequest get;
  get.set_name(*plan_);
  const std::string region = keys_->Token("region");
  ASSERT_EQ(Call(caseplan_, &cp::CasePlanService::Stub::GetPlan, region, get).code,
            grpc::StatusCode::PERMISSION_DENIED);

  id::BreakGlassRequest request;
  request.set_person(*person_);
  request.set_data_category("plan");
  request.set_reason("Acute psychiatric care; the plan's contacts are needed tonight.");
  id::BreakGlassAccess access;
  ASSERT_EQ(Call(identity_, &id::IdentityService::Stub::BreakGlass, region, request, &access).code,
            grpc::StatusCode::OK);

  cp::Plan plan;
  Outcome read = Call(caseplan_, &cp::CasePlanService::Stub::GetPlan, region, get, &plan);
  EXPECT_EQ(read.code, grpc::StatusCode::OK);
  ASSERT_EQ(read.audit.size(), 1u);
  EXPECT_EQ(read.audit[0].at("reason"), "break_glass");
  EXPECT_EQ(read.audit[0].at("consent"), access.name());

  // Without a reason: refused, naming the field.
  request.set_reason("");
  EXPECT_EQ(Call(identity_, &id::IdentityService::Stub::BreakGlass, region, request).code,
            grpc::StatusCode::INVALID_ARGUMENT);

  EXPECT_TRUE(Announced("identity.break_glass.granted"));
}

// The scheduling service: meetings about P are personal data of the category
// attendance (purpose coordination), and P's attendance consents stand to each
// organization as its plan consents do, so the rows of the calls that read or
// change one meeting are the plan's. Then every other scheduling call by every
// kind of caller: lists (each row decided and audited), creating a meeting
// about P, the owner-only steps, overdue follow-ups, calendar feeds and
// availability.
TEST_F(AccessMatrixTest, SchedulingMeetingsAndEveryOtherSchedulingCall) {
  namespace sc = ::samplan::scheduling;
  ASSERT_TRUE(ApplyMigrations(*dsn_, sc::kSchema, sc::SchedulingMigrationSets()).ok());
  Consent("af", {"attendance"});
  const std::string region = Consent("region", {"attendance"});
  Consent("vux", {"attendance"}, absl::Seconds(1));
  Consent("sthlm", {"attendance"});
  id::WithdrawConsentRequest withdraw;
  withdraw.set_name(region);
  withdraw.set_reason("The person no longer wants the region at the meetings.");
  ASSERT_EQ(Call(identity_, &id::IdentityService::Stub::WithdrawConsent, keys_->Token("soc"),
                 withdraw)
                .code,
            grpc::StatusCode::OK);
  absl::SleepFor(absl::Seconds(1));  // vux's consent runs out
  auto served = testing::InProcessScheduling::Start(*dsn_, keys_->VerifierOptions());
  ASSERT_TRUE(served.ok()) << served.status();
  auto stub = (*served)->NewStub();
  using Stub = sc::v1::SchedulingService::Stub;
  const std::string soc = keys_->Token("soc");

  const absl::Time now = absl::Now();
  auto ts = [](absl::Time t) { return TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(t)); };
  // A meeting about P from `start`, an hour long, with af's caseworker invited.
  auto meeting_about_p = [&](absl::Time start, sc::v1::MeetingKind kind,
                             sc::v1::MeetingStatus status) {
    sc::v1::CreateMeetingRequest request;
    request.set_request_id(NewUuid());
    request.set_allow_overlap(true);
    sc::v1::Meeting* m = request.mutable_meeting();
    m->set_kind(kind);
    m->set_status(status);
    m->set_person(*person_);
    *m->mutable_start_time() = ts(start);
    *m->mutable_end_time() = ts(start + absl::Hours(1));
    sc::v1::Participant* af = m->add_participants();
    af->set_user("users/u-af");
    af->set_organization("organizations/af");
    m->add_participants()->set_is_person(true);
    return request;
  };
  auto create = [&](const sc::v1::CreateMeetingRequest& request) {
    sc::v1::Meeting created;
    EXPECT_EQ(Call(stub.get(), &Stub::CreateMeeting, soc, request, &created).code,
              grpc::StatusCode::OK);
    return created;
  };
  // soc's coordinator let one follow-up pass without holding it.
  const sc::v1::Meeting overdue = create(meeting_about_p(
      now - absl::Hours(5), sc::v1::MEETING_KIND_FOLLOW_UP, sc::v1::MEETING_STATUS_PROPOSED));

  int index = 0;
  for (const Caller& caller : Callers(keys_, stranger_)) {
    const std::string kind = caller.kind;
    const bool unauthenticated = caller.refused_with == grpc::StatusCode::UNAUTHENTICATED;
    const bool manager = kind == "manager of the owner";
    const absl::Time day = now + absl::Hours(24 * (30 + index));
    const absl::Time past = now - absl::Hours(24 + 2 * index);
    ++index;
    // Proposed, to come: read, answered, booked, moved, cancelled.
    const sc::v1::Meeting ahead = create(meeting_about_p(
        day, sc::v1::MEETING_KIND_PLANNING, sc::v1::MEETING_STATUS_PROPOSED));
    // Booked, begun: held, and one missed.
    const sc::v1::Meeting begun = create(meeting_about_p(
        past, sc::v1::MEETING_KIND_PLANNING, sc::v1::MEETING_STATUS_BOOKED));
    const sc::v1::Meeting missed = create(meeting_about_p(
        past + absl::Minutes(10), sc::v1::MEETING_KIND_PLANNING, sc::v1::MEETING_STATUS_BOOKED));

    // Reading one meeting, and answering it (each answers for itself): the rule.
    sc::v1::GetMeetingRequest get;
    get.set_name(ahead.name());
    sc::v1::Meeting got;
    ExpectRow(caller, Call(stub.get(), &Stub::GetMeeting, caller.token(), get, &got),
              "scheduling.GetMeeting", *person_, "attendance");
    EXPECT_EQ(got.name().empty(), !caller.permitted) << kind;
    sc::v1::AnswerMeetingRequest answer;
    answer.set_name(ahead.name());
    answer.set_answer(sc::v1::PARTICIPANT_ANSWER_ACCEPTED);
    ExpectRow(caller, Call(stub.get(), &Stub::AnswerMeeting, caller.token(), answer),
              "scheduling.AnswerMeeting", *person_, "attendance");

    // The owner's steps: the rule first, then only the owner. A consented
    // organization passes the rule and is refused the step, which rolls back
    // whole (its audit record with it: nothing was read or changed).
    sc::v1::BookMeetingRequest book;
    book.set_name(ahead.name());
    book.set_allow_overlap(true);
    sc::v1::RescheduleMeetingRequest move;
    move.set_name(ahead.name());
    *move.mutable_start_time() = ts(day + absl::Hours(2));
    *move.mutable_end_time() = ts(day + absl::Hours(3));
    move.set_allow_overlap(true);
    sc::v1::FulfilMeetingRequest fulfil;
    fulfil.set_name(begun.name());
    sc::v1::MarkMeetingNoShowRequest no_show;
    no_show.set_name(missed.name());
    sc::v1::CancelMeetingRequest cancel;
    cancel.set_name(ahead.name());
    cancel.set_reason("Deltagaren är sjuk");
    const std::vector<std::pair<std::string, Outcome>> steps = {
        {"scheduling.BookMeeting", Call(stub.get(), &Stub::BookMeeting, caller.token(), book)},
        {"scheduling.RescheduleMeeting",
         Call(stub.get(), &Stub::RescheduleMeeting, caller.token(), move)},
        {"scheduling.FulfilMeeting", Call(stub.get(), &Stub::FulfilMeeting, caller.token(), fulfil)},
        {"scheduling.MarkMeetingNoShow",
         Call(stub.get(), &Stub::MarkMeetingNoShow, caller.token(), no_show)},
        {"scheduling.CancelMeeting", Call(stub.get(), &Stub::CancelMeeting, caller.token(), cancel)},
    };
    for (const auto& [action, outcome] : steps) {
      if (kind == "consented") {
        SCOPED_TRACE(absl::StrCat(action, " by ", kind));
        EXPECT_EQ(outcome.code, grpc::StatusCode::PERMISSION_DENIED);
        EXPECT_TRUE(outcome.audit.empty());
      } else {
        ExpectRow(caller, outcome, action, *person_, "attendance");
      }
    }

    // Lists: each meeting decided and audited on its own; one hidden from the
    // caller is left out, not refused. Roles without personal data are
    // refused before anything is read; another municipality finds nothing.
    sc::v1::ListMeetingsRequest list;
    list.set_person(*person_);
    *list.mutable_start_time() = ts(day);
    *list.mutable_end_time() = ts(day + absl::Hours(5));
    sc::v1::ListMeetingsResponse listed;
    const Outcome of_person =
        Call(stub.get(), &Stub::ListMeetings, caller.token(), list, &listed);
    sc::v1::ListOverdueFollowUpsRequest overdue_request;
    overdue_request.set_coordinator("users/u-soc");
    sc::v1::ListOverdueFollowUpsResponse overdue_listed;
    const Outcome overdue_list = Call(stub.get(), &Stub::ListOverdueFollowUps, caller.token(),
                                      overdue_request, &overdue_listed);
    for (const auto& [action, outcome, shown] :
         {std::tuple{"scheduling.ListMeetings", of_person, listed.meetings_size()},
          std::tuple{"scheduling.ListOverdueFollowUps", overdue_list,
                     overdue_listed.meetings_size()}}) {
      SCOPED_TRACE(absl::StrCat(action, " by ", kind));
      if (unauthenticated) {
        EXPECT_EQ(outcome.code, grpc::StatusCode::UNAUTHENTICATED);
        EXPECT_TRUE(outcome.audit.empty());
      } else if (manager) {
        EXPECT_EQ(outcome.code, grpc::StatusCode::PERMISSION_DENIED);
        EXPECT_TRUE(outcome.audit.empty());
      } else if (kind == "other municipality") {
        EXPECT_EQ(outcome.code, grpc::StatusCode::OK);
        EXPECT_EQ(shown, 0);
        EXPECT_TRUE(outcome.audit.empty());
      } else {
        // The call succeeds; the row is decided by the rule, as a read.
        EXPECT_EQ(outcome.code, grpc::StatusCode::OK);
        ASSERT_EQ(outcome.audit.size(), 1u);
        EXPECT_EQ(outcome.audit[0].at("action"), action);
        EXPECT_EQ(outcome.audit[0].at("actor"), caller.organization);
        EXPECT_EQ(outcome.audit[0].at("person"), *person_);
        EXPECT_EQ(outcome.audit[0].at("decision"), caller.permitted ? "permit" : "deny");
        EXPECT_EQ(outcome.audit[0].at("reason"), caller.reason);
        EXPECT_EQ(shown, caller.permitted ? 1 : 0);
      }
    }
    EXPECT_EQ(overdue_listed.meetings_size() == 1 &&
                  overdue_listed.meetings(0).name() == overdue.name(),
              caller.permitted)
        << kind;

    // Creating a meeting about P is writing about P, whom soc owns.
    sc::v1::CreateMeetingRequest mine = meeting_about_p(
        day + absl::Hours(6), sc::v1::MEETING_KIND_COORDINATION, sc::v1::MEETING_STATUS_PROPOSED);
    mine.mutable_meeting()->clear_participants();
    mine.mutable_meeting()->add_participants()->set_is_person(true);
    const Outcome created = Call(stub.get(), &Stub::CreateMeeting, caller.token(), mine);
    if (manager) {
      EXPECT_EQ(created.code, grpc::StatusCode::PERMISSION_DENIED);
      EXPECT_TRUE(created.audit.empty());
    } else if (kind == "other municipality") {
      // P is not registered in 0180: the person named is the wrong field there.
      EXPECT_EQ(created.code, grpc::StatusCode::INVALID_ARGUMENT);
      EXPECT_TRUE(created.audit.empty());
    } else {
      ExpectRow(caller, created, "scheduling.CreateMeeting", *person_, "attendance");
    }

    // The calls about the caller's own things, no one's personal data: every
    // caller whose role handles personal data, for themself only, audited
    // where they make an address that shows meetings.
    const grpc::StatusCode own = unauthenticated ? grpc::StatusCode::UNAUTHENTICATED
                                 : manager       ? grpc::StatusCode::PERMISSION_DENIED
                                                 : grpc::StatusCode::OK;
    const std::string me = unauthenticated ? "users/u-soc"
                                           : absl::StrCat("users/u-", std::string(caller.organization).substr(14));
    sc::v1::RotateCalendarFeedRequest rotate;
    rotate.set_name(absl::StrCat(me, "/calendarFeed"));
    const Outcome rotated = Call(stub.get(), &Stub::RotateCalendarFeed, caller.token(), rotate);
    EXPECT_EQ(rotated.code, own) << kind;
    EXPECT_EQ(rotated.audit.size(), own == grpc::StatusCode::OK ? 1u : 0u) << kind;
    sc::v1::RevokeCalendarFeedRequest revoke;
    revoke.set_name(absl::StrCat(me, "/calendarFeed"));
    const Outcome revoked = Call(stub.get(), &Stub::RevokeCalendarFeed, caller.token(), revoke);
    EXPECT_EQ(revoked.code, own) << kind;
    EXPECT_EQ(revoked.audit.size(), own == grpc::StatusCode::OK ? 1u : 0u) << kind;
    if (!unauthenticated) {
      // Nobody makes or stops another user's feed.
      sc::v1::RotateCalendarFeedRequest theirs;
      theirs.set_name("users/u-someone-else/calendarFeed");
      EXPECT_EQ(Call(stub.get(), &Stub::RotateCalendarFeed, caller.token(), theirs).code,
                grpc::StatusCode::PERMISSION_DENIED)
          << kind;
    }

    sc::v1::SetWorkingHoursRequest hours;
    sc::v1::WeeklyRule* rule = hours.mutable_working_hours()->add_weekly_rules();
    rule->set_day_of_week(1);
    rule->mutable_hours()->set_start_time("08:00");
    rule->mutable_hours()->set_end_time("16:00");
    const Outcome set = Call(stub.get(), &Stub::SetWorkingHours, caller.token(), hours);
    EXPECT_EQ(set.code, own) << kind;
    EXPECT_TRUE(set.audit.empty());
    sc::v1::ImportBusyIntervalsRequest busy;
    busy.set_source("outlook");
    *busy.mutable_window_start() = ts(day);
    *busy.mutable_window_end() = ts(day + absl::Hours(24));
    *busy.add_intervals()->mutable_start_time() = ts(day + absl::Hours(1));
    *busy.mutable_intervals(0)->mutable_end_time() = ts(day + absl::Hours(2));
    EXPECT_EQ(Call(stub.get(), &Stub::ImportBusyIntervals, caller.token(), busy).code, own)
        << kind;
    sc::v1::ImportCalendarRequest calendar;
    calendar.set_source("ical");
    *calendar.mutable_window_start() = ts(day);
    *calendar.mutable_window_end() = ts(day + absl::Hours(24));
    calendar.set_calendar("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//matrix//EN\r\n"
                          "END:VCALENDAR\r\n");
    EXPECT_EQ(Call(stub.get(), &Stub::ImportCalendar, caller.token(), calendar).code, own)
        << kind;
    if (kind != "other municipality") {
      sc::v1::GetWorkingHoursRequest get_hours;
      get_hours.set_name("users/u-soc/workingHours");
      EXPECT_EQ(Call(stub.get(), &Stub::GetWorkingHours, caller.token(), get_hours).code, own)
          << kind;
      sc::v1::FindCommonSlotsRequest find;
      find.add_required_users("users/u-soc");
      find.add_required_users("users/u-af");
      find.set_duration_minutes(60);
      *find.mutable_window_start() = ts(day);
      *find.mutable_window_end() = ts(day + absl::Hours(24 * 7));
      const Outcome slots = Call(stub.get(), &Stub::FindCommonSlots, caller.token(), find);
      EXPECT_EQ(slots.code, own) << kind;
      EXPECT_TRUE(slots.audit.empty());
    }
  }
}

// The scheduling service's coordinator plans and group intakes (category
// attendance, purpose coordination). P's consents for attendance stand to each
// organization as its plan consents do. The plans read soc's coordinator's
// meetings: a caller the rule refuses still gets a route, without the meeting
// about P, and the refusal is audited; an enrolment is P's attendance data,
// decided and audited on every call.
TEST_F(AccessMatrixTest, SchedulingPlansAndIntakes) {
  namespace sc = ::samplan::scheduling;
  ASSERT_TRUE(ApplyMigrations(*dsn_, sc::kSchema, sc::SchedulingMigrationSets()).ok());
  auto attendance_consent = [&](const std::string& org, absl::Duration lifetime) {
    id::CreateConsentRequest request;
    request.set_request_id(absl::StrCat("matrix-consent-", org, "-attendance"));
    id::Consent* consent = request.mutable_consent();
    consent->set_person(*person_);
    consent->add_grantee_organizations(absl::StrCat("organizations/", org));
    consent->set_purpose("coordination");
    consent->add_data_categories("attendance");
    *consent->mutable_valid_until() =
        TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(absl::Now() + lifetime));
    consent->set_given_by(id::CONSENT_GIVER_PERSON);
    consent->set_method(id::CONSENT_METHOD_WRITTEN);
    id::Consent recorded;
    EXPECT_EQ(Call(identity_, &id::IdentityService::Stub::CreateConsent, keys_->Token("soc"),
                   request, &recorded)
                  .code,
              grpc::StatusCode::OK)
        << org;
    return recorded.name();
  };
  attendance_consent("af", absl::Hours(24 * 365));
  const std::string region = attendance_consent("region", absl::Hours(24 * 365));
  // Long enough to be recorded on a busy machine, short enough to wait out.
  attendance_consent("vux", absl::Seconds(3));
  attendance_consent("sthlm", absl::Hours(24 * 365));
  id::WithdrawConsentRequest withdraw_consent;
  withdraw_consent.set_name(region);
  withdraw_consent.set_reason("The person no longer wants the region to see the meetings.");
  ASSERT_EQ(Call(identity_, &id::IdentityService::Stub::WithdrawConsent, keys_->Token("soc"),
                 withdraw_consent)
                .code,
            grpc::StatusCode::OK);
  absl::SleepFor(absl::Seconds(3));  // vux's consent runs out

  Outbox outbox(sc::kSchema);
  auto pool = PgPool::Create({*dsn_, 2, absl::Seconds(10), "matrix-scheduling",
                              sc::SchedulingRepositoryStatements(outbox)});
  ASSERT_TRUE(pool.ok()) << pool.status();
  sc::PgMeetingRepository meetings(**pool, outbox);
  sc::PgAvailabilityRepository availability(**pool);
  sc::PgIntakeRepository intakes(**pool, outbox);
  const sc::GreatCircleDistances distances;
  auto served = testing::ServedService::Create(keys_->VerifierOptions());
  ASSERT_TRUE(served.ok());
  ASSERT_TRUE((*served)
                  ->Serve(std::make_unique<sc::SchedulingService>(
                      meetings, availability, (*served)->calls(), distances, intakes))
                  .ok());
  auto stub = sc::v1::SchedulingService::NewStub((*served)->NewChannel());

  // soc's coordinator's follow-up visit about P, a month from now.
  const absl::CivilDay day = absl::ToCivilDay(absl::Now(), sc::StockholmZone()) + 30;
  sc::v1::CreateMeetingRequest create;
  create.set_request_id("matrix-follow-up");
  sc::v1::Meeting* m = create.mutable_meeting();
  m->set_kind(sc::v1::MEETING_KIND_FOLLOW_UP);
  m->set_status(sc::v1::MEETING_STATUS_PROPOSED);
  m->set_person(*person_);
  m->mutable_location()->mutable_coordinates()->set_latitude(59.519);
  m->mutable_location()->mutable_coordinates()->set_longitude(15.039);
  const absl::Time ten = sc::StockholmZone().At(absl::CivilMinute(day) + 10 * 60).pre;
  *m->mutable_start_time() = sc::TimestampOf(ten);
  *m->mutable_end_time() = sc::TimestampOf(ten + absl::Hours(1));
  sc::v1::Meeting meeting;
  ASSERT_EQ(Call(stub.get(), &sc::v1::SchedulingService::Stub::CreateMeeting, keys_->Token("soc"),
                 create, &meeting)
                .code,
            grpc::StatusCode::OK);

  // A fresh session of soc's with P enrolled by soc.
  int sessions = 0;
  auto session = [&](bool with_p) {
    sc::v1::CreateIntakeSessionRequest r;
    r.set_request_id(absl::StrCat("matrix-session-", ++sessions));
    r.mutable_intake_session()->set_title("Gruppintag");
    *r.mutable_intake_session()->mutable_start_time() = sc::TimestampOf(ten);
    sc::v1::IntakeSession s;
    EXPECT_EQ(Call(stub.get(), &sc::v1::SchedulingService::Stub::CreateIntakeSession,
                   keys_->Token("soc"), r, &s)
                  .code,
              grpc::StatusCode::OK);
    sc::v1::IntakeEnrolment e;
    if (with_p) {
      sc::v1::EnrolInIntakeRequest enrol;
      enrol.set_parent(s.name());
      enrol.mutable_enrolment()->set_person(*person_);
      EXPECT_EQ(Call(stub.get(), &sc::v1::SchedulingService::Stub::EnrolInIntake,
                     keys_->Token("soc"), enrol, &e)
                    .code,
                grpc::StatusCode::OK);
    }
    return std::pair{s, e};
  };
  const auto [started, p_enrolled] = session(true);

  for (const Caller& caller : Callers(keys_, stranger_)) {
    SCOPED_TRACE(caller.kind);
    const std::string kind = caller.kind;
    const bool unauthenticated = caller.refused_with == grpc::StatusCode::UNAUTHENTICATED;
    const bool role = kind == "manager of the owner";
    // A read that leaves out what the caller may not see: OK with the
    // meeting or without it, its one audit record; none for a role refused
    // first, an unauthenticated caller, or one of another municipality (the
    // meeting is not among 1885's for it).
    auto expect_filtered_read = [&](const Outcome& outcome, const std::string& action) {
      if (unauthenticated || role) {
        EXPECT_EQ(outcome.code, caller.refused_with);
        EXPECT_TRUE(outcome.audit.empty());
        return;
      }
      EXPECT_EQ(outcome.code, grpc::StatusCode::OK);
      if (kind == "other municipality") {
        EXPECT_TRUE(outcome.audit.empty());
        return;
      }
      ASSERT_EQ(outcome.audit.size(), 1u);
      EXPECT_EQ(outcome.audit[0].at("action"), action);
      EXPECT_EQ(outcome.audit[0].at("actor"), caller.organization);
      EXPECT_EQ(outcome.audit[0].at("person"), *person_);
      EXPECT_EQ(outcome.audit[0].at("category"), "attendance");
      EXPECT_EQ(outcome.audit[0].at("decision"), caller.permitted ? "permit" : "deny");
      EXPECT_EQ(outcome.audit[0].at("reason"), caller.reason);
    };

    sc::v1::PlanVisitRouteRequest route;
    route.set_coordinator("users/u-soc");
    route.mutable_date()->set_year(static_cast<int>(day.year()));
    route.mutable_date()->set_month(day.month());
    route.mutable_date()->set_day(day.day());
    route.mutable_start_place()->set_latitude(59.594);
    route.mutable_start_place()->set_longitude(15.230);
    sc::v1::RouteStop* stop = route.add_stops();
    stop->set_id("depot");
    stop->mutable_coordinates()->set_latitude(59.60);
    stop->mutable_coordinates()->set_longitude(15.25);
    sc::v1::VisitRoute planned;
    expect_filtered_read(Call(stub.get(), &sc::v1::SchedulingService::Stub::PlanVisitRoute,
                              caller.token(), route, &planned),
                         "scheduling.PlanVisitRoute");
    if (!unauthenticated && !role) {
      EXPECT_EQ(planned.legs_size(), caller.permitted ? 2 : 1);
    }

    sc::v1::PlanFollowUpMonthRequest month;
    month.set_coordinator("users/u-soc");
    month.set_year(static_cast<int>(day.year()));
    month.set_month(day.month());
    *month.mutable_home_place() = route.start_place();
    sc::v1::FollowUpMonthPlan month_plan;
    expect_filtered_read(Call(stub.get(), &sc::v1::SchedulingService::Stub::PlanFollowUpMonth,
                              caller.token(), month, &month_plan),
                         "scheduling.PlanFollowUpMonth");
    if (!unauthenticated && !role) {
      EXPECT_EQ(month_plan.days_size(), caller.permitted ? 1 : 0);
    }

    // Enrolling P, into a session of soc's of its own: the rule, audited.
    const auto [fresh, unused] = session(false);
    sc::v1::EnrolInIntakeRequest enrol;
    enrol.set_parent(fresh.name());
    enrol.mutable_enrolment()->set_person(*person_);
    const Outcome enrolled =
        Call(stub.get(), &sc::v1::SchedulingService::Stub::EnrolInIntake, caller.token(), enrol);
    if (role) {
      EXPECT_EQ(enrolled.code, grpc::StatusCode::PERMISSION_DENIED);
      EXPECT_TRUE(enrolled.audit.empty());
    } else {
      ExpectRow(caller, enrolled, "scheduling.EnrolInIntake", *person_, "attendance");
    }

    // The start list with P on it: each enrolment decided and audited.
    sc::v1::ListIntakeEnrolmentsRequest list;
    list.set_parent(started.name());
    sc::v1::ListIntakeEnrolmentsResponse listed;
    const Outcome read = Call(stub.get(), &sc::v1::SchedulingService::Stub::ListIntakeEnrolments,
                              caller.token(), list, &listed);
    if (unauthenticated || role) {
      EXPECT_EQ(read.code, caller.refused_with);
      EXPECT_TRUE(read.audit.empty());
    } else {
      EXPECT_EQ(read.code, grpc::StatusCode::OK);
      EXPECT_EQ(listed.enrolments_size(), caller.permitted ? 1 : 0);
      ASSERT_EQ(read.audit.size(), 1u);
      EXPECT_EQ(read.audit[0].at("decision"), caller.permitted ? "permit" : "deny");
      EXPECT_EQ(read.audit[0].at("reason"), caller.reason);
      EXPECT_EQ(read.audit[0].at("action"), "scheduling.ListIntakeEnrolments");
    }

    // Withdrawing P from a session of soc's: the rule, audited.
    const auto [other, p_there] = session(true);
    sc::v1::WithdrawFromIntakeRequest withdraw;
    withdraw.set_name(p_there.name());
    withdraw.set_reason("Började arbeta.");
    const Outcome withdrawn = Call(stub.get(), &sc::v1::SchedulingService::Stub::WithdrawFromIntake,
                                   caller.token(), withdraw);
    if (role) {
      EXPECT_EQ(withdrawn.code, grpc::StatusCode::PERMISSION_DENIED);
      EXPECT_TRUE(withdrawn.audit.empty());
    } else {
      ExpectRow(caller, withdrawn, "scheduling.WithdrawFromIntake", *person_, "attendance");
    }

    // Splitting the start list: the session's owner only.
    sc::v1::SplitIntakeGroupsRequest split;
    split.set_name(other.name());
    const Outcome grouped = Call(stub.get(), &sc::v1::SchedulingService::Stub::SplitIntakeGroups,
                                 caller.token(), split);
    EXPECT_EQ(grouped.code, kind == "owner" ? grpc::StatusCode::OK
                            : unauthenticated ? grpc::StatusCode::UNAUTHENTICATED
                                              : grpc::StatusCode::PERMISSION_DENIED);

    // A session holds no personal data: the municipality's staff read it, no
    // audit record.
    sc::v1::GetIntakeSessionRequest get;
    get.set_name(started.name());
    const Outcome got = Call(stub.get(), &sc::v1::SchedulingService::Stub::GetIntakeSession,
                             caller.token(), get);
    EXPECT_EQ(got.code, unauthenticated                  ? grpc::StatusCode::UNAUTHENTICATED
                        : role || kind == "other municipality" ? grpc::StatusCode::PERMISSION_DENIED
                                                               : grpc::StatusCode::OK);
    EXPECT_TRUE(got.audit.empty());
  }
}

// A call's outcome as one line: its code, and the decision and reason of each
// audit record it left ("OK [permit owner]"; "PERMISSION_DENIED" for none).
std::string Summary(const Outcome& outcome) {
  std::string line = absl::StatusCodeToString(static_cast<absl::StatusCode>(outcome.code));
  for (const auto& record : outcome.audit) {
    absl::StrAppend(&line, " [", record.at("decision"), " ", record.at("reason"), "]");
  }
  return line;
}

// Checks one RPC's row: `outcomes` by caller kind against `others` (what every
// authenticated caller not in `expected` gets) and `expected`; a caller without
// a valid token is refused UNAUTHENTICATED with no audit record, always.
void ExpectOutcomes(const std::string& action, const std::map<std::string, Outcome>& outcomes,
               const std::string& others, std::map<std::string, std::string> expected = {}) {
  for (const auto& [kind, outcome] : outcomes) {
    std::string want = others;
    if (kind == "no token" || kind == "token signed by an untrusted key" ||
        kind == "expired token") {
      want = "UNAUTHENTICATED";
    } else if (auto it = expected.find(kind); it != expected.end()) {
      want = it->second;
    }
    EXPECT_EQ(Summary(outcome), want) << action << " by " << kind;
  }
}

// What the access rule answers each kind of caller for P's data, each
// decision audited.
std::map<std::string, std::string> ByTheRule() {
  return {{"owner", "OK [permit owner]"},
          {"consented", "OK [permit consent]"},
          {"not consented", "PERMISSION_DENIED [deny no_consent]"},
          {"withdrawn", "PERMISSION_DENIED [deny consent_withdrawn]"},
          {"expired", "PERMISSION_DENIED [deny consent_expired]"},
          {"wrong category", "PERMISSION_DENIED [deny category_not_covered]"},
          {"other municipality", "PERMISSION_DENIED [deny other_municipality]"},
          {"manager of the owner", "PERMISSION_DENIED [deny role]"}};
}

// Identity's directory (municipalities, organizations, users), a person's
// consents and the supervisor's audit calls. The directory is no one's personal
// data: any caller with a token reads it, no audit record; changing it is for
// administrators. A consent is read under the person's rule; the audit chain
// and the access review are the supervisor's.
TEST_F(AccessMatrixTest, IdentityDirectoryConsentsAndSupervision) {
  const std::string consent = Consent("af", {"plan", "person"});
  FkHoldsAWithdrawnPlanConsent();
  const std::string user_id = absl::StrCat("matrix-", NewUuid().substr(0, 8));
  id::CreateUserRequest user;
  user.set_user_id(user_id);
  user.mutable_user()->set_display_name("Matrix user");
  id::Membership* membership = user.mutable_user()->add_memberships();
  membership->set_organization("organizations/soc");
  membership->add_roles("caseworker");
  ASSERT_EQ(Call(identity_, &id::IdentityService::Stub::CreateUser, Admin(), user).code,
            grpc::StatusCode::OK);

  std::map<std::string, std::map<std::string, Outcome>> rows;
  int n = 0;
  for (const Caller& caller : Callers(keys_, stranger_)) {
    auto row = [&](const char* action) -> Outcome& { return rows[action][caller.kind]; };
    id::GetMunicipalityRequest municipality;
    municipality.set_name("municipalities/1885");
    row("GetMunicipality") = Call(identity_, &id::IdentityService::Stub::GetMunicipality,
                                  caller.token(), municipality);
    row("ListMunicipalities") = Call(identity_, &id::IdentityService::Stub::ListMunicipalities,
                                     caller.token(), id::ListMunicipalitiesRequest());
    id::GetOrganizationRequest organization;
    organization.set_name("organizations/af");
    row("GetOrganization") = Call(identity_, &id::IdentityService::Stub::GetOrganization,
                                  caller.token(), organization);
    id::ListOrganizationsRequest organizations;
    organizations.set_municipality("1885");
    row("ListOrganizations") = Call(identity_, &id::IdentityService::Stub::ListOrganizations,
                                    caller.token(), organizations);
    id::UpdateOrganizationRequest update;
    update.mutable_organization()->set_name(caller.organization[0] ? caller.organization
                                                                   : "organizations/soc");
    update.mutable_organization()->set_display_name(absl::StrCat("Renamed ", ++n));
    update.mutable_update_mask()->add_paths("display_name");
    row("UpdateOrganization") = Call(identity_, &id::IdentityService::Stub::UpdateOrganization,
                                     caller.token(), update);
    id::CreateUserRequest create_user = user;
    create_user.set_user_id(absl::StrCat(user_id, "-", n));
    create_user.mutable_user()->mutable_memberships(0)->set_organization(
        caller.organization[0] ? caller.organization : "organizations/soc");
    row("CreateUser") =
        Call(identity_, &id::IdentityService::Stub::CreateUser, caller.token(), create_user);
    id::GetUserRequest get_user;
    get_user.set_name(absl::StrCat("users/", user_id));
    row("GetUser") = Call(identity_, &id::IdentityService::Stub::GetUser, caller.token(), get_user);
    id::GetConsentRequest get_consent;
    get_consent.set_name(consent);
    row("GetConsent") =
        Call(identity_, &id::IdentityService::Stub::GetConsent, caller.token(), get_consent);
    id::ListConsentsRequest list_consents;
    list_consents.set_person(*person_);
    row("ListConsents") =
        Call(identity_, &id::IdentityService::Stub::ListConsents, caller.token(), list_consents);
    id::VerifyAuditLogRequest verify;
    verify.set_person(*person_);
    row("VerifyAuditLog") =
        Call(identity_, &id::IdentityService::Stub::VerifyAuditLog, caller.token(), verify);
    id::ReviewAccessRequest review;
    *review.mutable_start_time() =
        TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(absl::Now() - absl::Hours(1)));
    *review.mutable_end_time() =
        TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(absl::Now() + absl::Hours(1)));
    row("ReviewAccess") =
        Call(identity_, &id::IdentityService::Stub::ReviewAccess, caller.token(), review);
  }
  // The directory: read by anyone with a token; changed by administrators only
  // (none of the callers above is one), nothing audited.
  for (const char* action : {"GetMunicipality", "ListMunicipalities", "GetOrganization",
                             "ListOrganizations"}) {
    ExpectOutcomes(action, rows[action], "OK");
  }
  ExpectOutcomes("UpdateOrganization", rows["UpdateOrganization"], "PERMISSION_DENIED");
  ExpectOutcomes("CreateUser", rows["CreateUser"], "PERMISSION_DENIED");
  // A user is read by that user and its organizations' administrators.
  ExpectOutcomes("GetUser", rows["GetUser"], "PERMISSION_DENIED");
  // A consent: its person's owner, and the organizations it names.
  auto consent_rule = ByTheRule();
  consent_rule["consented"] = "OK [permit grantee]";
  for (const char* kind : {"withdrawn", "expired", "wrong category"}) {
    consent_rule[kind] = "PERMISSION_DENIED [deny no_consent]";
  }
  ExpectOutcomes("GetConsent", rows["GetConsent"], "", consent_rule);
  // The list: for the owner, and for the organizations P's consents name (here
  // every caller of 1885 but the manager).
  for (const char* kind : {"not consented", "withdrawn", "expired", "wrong category"}) {
    consent_rule[kind] = "OK [permit grantee]";
  }
  ExpectOutcomes("ListConsents", rows["ListConsents"], "", consent_rule);
  // The supervisor's calls: no one else's.
  ExpectOutcomes("VerifyAuditLog", rows["VerifyAuditLog"], "PERMISSION_DENIED");
  ExpectOutcomes("ReviewAccess", rows["ReviewAccess"], "PERMISSION_DENIED");
  // And what the administrator and the supervisor may do.
  id::UpdateOrganizationRequest rename;
  rename.mutable_organization()->set_name("organizations/soc");
  rename.mutable_organization()->set_display_name("Socialtjänsten");
  rename.mutable_update_mask()->add_paths("display_name");
  EXPECT_EQ(Call(identity_, &id::IdentityService::Stub::UpdateOrganization, Admin(), rename).code,
            grpc::StatusCode::OK);
  id::GetUserRequest get_user;
  get_user.set_name(absl::StrCat("users/", user_id));
  EXPECT_EQ(Call(identity_, &id::IdentityService::Stub::GetUser, Admin(), get_user).code,
            grpc::StatusCode::OK);
  id::VerifyAuditLogRequest verify;
  verify.set_person(*person_);
  EXPECT_EQ(Call(identity_, &id::IdentityService::Stub::VerifyAuditLog,
                 keys_->Token("soc", "supervisor"), verify)
                .code,
            grpc::StatusCode::OK);
}

// The case plan's lead handed over, by every kind of caller: each hands over a
// plan of its own, soc's and about P, with every organization taking part.
TEST_F(AccessMatrixTest, CasePlanHandOver) {
  FkHoldsAWithdrawnPlanConsent();
  std::map<std::string, Outcome> outcomes;
  for (const Caller& caller : Callers(keys_, stranger_)) {
    cp::CreatePlanRequest create;
    create.set_request_id(NewUuid());
    create.mutable_plan()->set_person(*person_);
    create.mutable_plan()->set_status(cp::PLAN_STATUS_ACTIVE);
    for (const char* org : {"af", "fk", "region", "vux", "prakt", "sthlm"}) {
      create.mutable_plan()->add_participants()->set_organization(
          absl::StrCat("organizations/", org));
    }
    cp::Plan plan;
    ASSERT_EQ(Call(caseplan_, &cp::CasePlanService::Stub::CreatePlan, keys_->Token("soc"), create,
                   &plan)
                  .code,
              grpc::StatusCode::OK);
    cp::HandOverPlanRequest hand_over;
    hand_over.set_name(plan.name());
    hand_over.set_to_organization("organizations/af");
    hand_over.set_reason("Arbetsförmedlingen leder planen från och med nu.");
    outcomes[caller.kind] =
        Call(caseplan_, &cp::CasePlanService::Stub::HandOverPlan, caller.token(), hand_over);
  }
  // Handing over changes P's plan: the rule, as for UpdatePlan; and then only
  // the lead hands over, so a consented organization's attempt is refused and
  // rolls back whole, its audit record with it.
  auto hand_over_rule = ByTheRule();
  hand_over_rule["consented"] = "PERMISSION_DENIED";
  hand_over_rule["not consented"] = "PERMISSION_DENIED [deny consent_withdrawn]";
  ExpectOutcomes("HandOverPlan", outcomes, "", hand_over_rule);
}

// The placement service, by every kind of caller. The bank (employers,
// placements, contacts, supply and demand, prao) is no one's personal data: the
// municipality's staff read it and placement coordinators change it, no audit
// record. Needs and agreements are P's placement data (purpose placement): P's
// placement consents stand to each organization as its plan consents do, and
// every read or step is decided and audited. soc, P's owner, makes each
// agreement and brings it to the state the step needs; then the caller steps.
TEST_F(AccessMatrixTest, PlacementBankNeedsAndAgreements) {
  namespace pl = ::samplan::placement;
  ASSERT_TRUE(ApplyMigrations(*dsn_, pl::kSchema, pl::PlacementMigrationSets()).ok());
  FkHoldsAWithdrawnPlanConsent();
  Consent("af", {"placement"}, absl::Hours(24 * 365 * 2), "placement");
  const std::string region = Consent("region", {"placement"}, absl::Hours(24 * 365 * 2), "placement");
  Consent("vux", {"placement"}, absl::Seconds(1), "placement");
  Consent("prakt", {"health"}, absl::Hours(24 * 365 * 2), "placement");
  Consent("sthlm", {"placement"}, absl::Hours(24 * 365 * 2), "placement");
  id::WithdrawConsentRequest withdraw;
  withdraw.set_name(region);
  withdraw.set_reason("The person no longer wants the region to see the placement.");
  ASSERT_EQ(Call(identity_, &id::IdentityService::Stub::WithdrawConsent, keys_->Token("soc"),
                 withdraw)
                .code,
            grpc::StatusCode::OK);
  absl::SleepFor(absl::Seconds(1));  // vux's consent runs out

  Outbox outbox(pl::kSchema);
  auto pool = PgPool::Create({*dsn_, 2, absl::Seconds(10), "matrix-placement",
                              pl::PlacementRepositoryStatements(outbox)});
  ASSERT_TRUE(pool.ok()) << pool.status();
  pl::PgPlacementRepository repository(**pool, outbox);
  // The day the agreements' periods begin, so that they can start.
  FakeClock clock(absl::FromCivil(absl::CivilSecond(2027, 3, 1, 8, 0, 0), absl::UTCTimeZone()));
  auto served = testing::ServedService::Create(keys_->VerifierOptions(), absl::Seconds(10), clock);
  ASSERT_TRUE(served.ok());
  ASSERT_TRUE((*served)
                  ->Serve(std::make_unique<pl::PlacementService>(repository, (*served)->calls(),
                                                                 pl::NewWorkplaceId, 90))
                  .ok());
  auto stub = pl::v1::PlacementService::NewStub((*served)->NewChannel());
  using Stub = pl::v1::PlacementService::Stub;
  const std::string coordinator = keys_->Token("soc", "placement_coordinator");
  const std::string soc = keys_->Token("soc");
  auto range = [](absl::CivilDay from, absl::CivilDay to) {
    pl::v1::DateRange r;
    r.mutable_start_date()->set_year(static_cast<int>(from.year()));
    r.mutable_start_date()->set_month(from.month());
    r.mutable_start_date()->set_day(from.day());
    r.mutable_end_date()->set_year(static_cast<int>(to.year()));
    r.mutable_end_date()->set_month(to.month());
    r.mutable_end_date()->set_day(to.day());
    return r;
  };
  int numbers = 0;
  auto employer_request = [&] {
    const std::string nine = absl::StrCat("559", 200000 + (++numbers));
    pl::v1::CreateEmployerRequest request;
    request.set_request_id(NewUuid());
    pl::v1::Employer* e = request.mutable_employer();
    e->set_organization_number(nine + identity::LuhnCheckDigit(nine));
    e->set_display_name("Matrisbutiken");
    e->set_industry("handel");
    pl::v1::Workplace* w = e->add_workplaces();
    w->set_id("butik");
    w->set_display_name("Butiken");
    w->set_address("Kristinavägen 2, 711 30 Lindesberg");
    w->mutable_location()->set_latitude(59.594);
    w->mutable_location()->set_longitude(15.230);
    return request;
  };
  pl::v1::Employer employer;
  ASSERT_EQ(Call(stub.get(), &Stub::CreateEmployer, coordinator, employer_request(), &employer).code,
            grpc::StatusCode::OK);
  auto placement_request = [&](pl::v1::PlacementKind kind) {
    pl::v1::CreatePlacementRequest request;
    request.set_request_id(NewUuid());
    pl::v1::Placement* p = request.mutable_placement();
    p->set_employer(employer.name());
    p->set_workplace("butik");
    p->set_kind(kind);
    p->set_title("Butiksbiträde");
    p->set_seats(100);
    *p->add_availability() = range(absl::CivilDay(2027, 1, 1), absl::CivilDay(2027, 12, 31));
    p->set_hours_per_week(20);
    return request;
  };
  pl::v1::Placement placement;
  ASSERT_EQ(Call(stub.get(), &Stub::CreatePlacement, coordinator,
                 placement_request(pl::v1::PLACEMENT_KIND_WORK_PRACTICE), &placement)
                .code,
            grpc::StatusCode::OK);
  pl::v1::Placement prao;
  ASSERT_EQ(Call(stub.get(), &Stub::CreatePlacement, coordinator,
                 placement_request(pl::v1::PLACEMENT_KIND_PRAO), &prao)
                .code,
            grpc::StatusCode::OK);
  auto need_request = [&] {
    pl::v1::CreatePlacementNeedRequest request;
    request.set_request_id(NewUuid());
    request.mutable_placement_need()->set_person(*person_);
    pl::v1::MatchProfile* profile = request.mutable_placement_need()->mutable_profile();
    profile->mutable_home()->set_latitude(59.6);
    profile->mutable_home()->set_longitude(15.2);
    profile->add_interests("handel");
    profile->set_work_capacity_percent(50);
    *profile->mutable_period() = range(absl::CivilDay(2027, 3, 1), absl::CivilDay(2027, 5, 31));
    return request;
  };
  pl::v1::PlacementNeed need;
  ASSERT_EQ(Call(stub.get(), &Stub::CreatePlacementNeed, soc, need_request(), &need).code,
            grpc::StatusCode::OK);
  // An agreement about P, made by soc and brought through `steps` (0: none,
  // 1: visited, 2: signed by all three, 3: started).
  auto agreement = [&](int steps) {
    pl::v1::CreateAgreementRequest request;
    request.set_request_id(NewUuid());
    pl::v1::Agreement* a = request.mutable_agreement();
    a->set_person(*person_);
    a->set_placement(placement.name());
    a->mutable_supervisor()->set_display_name("Per Handledare");
    *a->mutable_period() = range(absl::CivilDay(2027, 3, 1), absl::CivilDay(2027, 5, 31));
    a->set_hours_per_week(20);
    a->set_goal("Arbetserfarenhet och referens inom handel");
    pl::v1::Agreement made;
    EXPECT_EQ(Call(stub.get(), &Stub::CreateAgreement, soc, request, &made).code,
              grpc::StatusCode::OK);
    if (steps >= 1) {
      pl::v1::RecordWorkplaceVisitRequest visit;
      visit.set_name(made.name());
      visit.mutable_visit_date()->set_year(2027);
      visit.mutable_visit_date()->set_month(2);
      visit.mutable_visit_date()->set_day(20);
      EXPECT_EQ(Call(stub.get(), &Stub::RecordWorkplaceVisit, soc, visit).code,
                grpc::StatusCode::OK);
    }
    if (steps >= 2) {
      for (pl::v1::Party party : {pl::v1::PARTY_PARTICIPANT, pl::v1::PARTY_EMPLOYER,
                                  pl::v1::PARTY_COORDINATOR}) {
        pl::v1::SignAgreementRequest sign;
        sign.set_name(made.name());
        sign.set_party(party);
        EXPECT_EQ(Call(stub.get(), &Stub::SignAgreement, soc, sign).code, grpc::StatusCode::OK);
      }
    }
    if (steps >= 3) {
      pl::v1::StartAgreementRequest start;
      start.set_name(made.name());
      EXPECT_EQ(Call(stub.get(), &Stub::StartAgreement, soc, start).code, grpc::StatusCode::OK);
    }
    return made.name();
  };

  std::map<std::string, std::map<std::string, Outcome>> rows;
  for (const Caller& caller : Callers(keys_, stranger_)) {
    SCOPED_TRACE(caller.kind);
    auto row = [&](const char* action) -> Outcome& { return rows[action][caller.kind]; };
    const std::string token = caller.token();
    // The bank.
    row("CreateEmployer") = Call(stub.get(), &Stub::CreateEmployer, token, employer_request());
    pl::v1::GetEmployerRequest get_employer;
    get_employer.set_name(employer.name());
    row("GetEmployer") = Call(stub.get(), &Stub::GetEmployer, token, get_employer);
    row("ListEmployers") =
        Call(stub.get(), &Stub::ListEmployers, token, pl::v1::ListEmployersRequest());
    pl::v1::UpdateEmployerRequest update_employer;
    update_employer.mutable_employer()->set_name(employer.name());
    update_employer.mutable_employer()->set_industry("livsmedel");
    update_employer.mutable_update_mask()->add_paths("industry");
    row("UpdateEmployer") = Call(stub.get(), &Stub::UpdateEmployer, token, update_employer);
    pl::v1::LogContactRequest contact;
    contact.set_employer(employer.name());
    contact.mutable_contact()->set_kind(pl::v1::CONTACT_KIND_CALL);
    contact.mutable_contact()->set_agreed("Ringde om nya platser.");
    row("LogContact") = Call(stub.get(), &Stub::LogContact, token, contact);
    pl::v1::ListContactsRequest contacts;
    contacts.set_employer(employer.name());
    row("ListContacts") = Call(stub.get(), &Stub::ListContacts, token, contacts);
    row("ListColdEmployers") =
        Call(stub.get(), &Stub::ListColdEmployers, token, pl::v1::ListColdEmployersRequest());
    row("CreatePlacement") =
        Call(stub.get(), &Stub::CreatePlacement, token,
             placement_request(pl::v1::PLACEMENT_KIND_WORK_PRACTICE));
    pl::v1::GetPlacementRequest get_placement;
    get_placement.set_name(placement.name());
    row("GetPlacement") = Call(stub.get(), &Stub::GetPlacement, token, get_placement);
    row("ListPlacements") =
        Call(stub.get(), &Stub::ListPlacements, token, pl::v1::ListPlacementsRequest());
    pl::v1::UpdatePlacementRequest update_placement;
    update_placement.mutable_placement()->set_name(placement.name());
    update_placement.mutable_placement()->set_title("Butiksbiträde, kassa");
    update_placement.mutable_update_mask()->add_paths("title");
    row("UpdatePlacement") = Call(stub.get(), &Stub::UpdatePlacement, token, update_placement);
    pl::v1::GetSupplyAndDemandRequest supply;
    supply.mutable_from_date()->set_year(2027);
    supply.mutable_from_date()->set_month(1);
    supply.mutable_from_date()->set_day(1);
    supply.mutable_to_date()->set_year(2027);
    supply.mutable_to_date()->set_month(6);
    supply.mutable_to_date()->set_day(30);
    row("GetSupplyAndDemand") = Call(stub.get(), &Stub::GetSupplyAndDemand, token, supply);
    pl::v1::AllocatePraoRequest allocate;
    allocate.set_class_id("9b");
    *allocate.mutable_period() = range(absl::CivilDay(2027, 4, 5), absl::CivilDay(2027, 4, 9));
    pl::v1::PraoPupil* pupil = allocate.add_pupils();
    pupil->set_pupil("elev-1");
    pupil->add_choices(prao.name());
    row("AllocatePrao") = Call(stub.get(), &Stub::AllocatePrao, token, allocate);

    // P's need and agreements.
    row("CreatePlacementNeed") = Call(stub.get(), &Stub::CreatePlacementNeed, token, need_request());
    pl::v1::GetPlacementNeedRequest get_need;
    get_need.set_name(need.name());
    row("GetPlacementNeed") = Call(stub.get(), &Stub::GetPlacementNeed, token, get_need);
    pl::v1::MatchPlacementsRequest match;
    match.set_placement_need(need.name());
    row("MatchPlacements") = Call(stub.get(), &Stub::MatchPlacements, token, match);
    pl::v1::CreateAgreementRequest create;
    create.set_request_id(NewUuid());
    create.mutable_agreement()->set_person(*person_);
    create.mutable_agreement()->set_placement(placement.name());
    create.mutable_agreement()->mutable_supervisor()->set_display_name("Per Handledare");
    *create.mutable_agreement()->mutable_period() =
        range(absl::CivilDay(2027, 3, 1), absl::CivilDay(2027, 5, 31));
    create.mutable_agreement()->set_hours_per_week(20);
    create.mutable_agreement()->set_goal("Arbetserfarenhet inom handel");
    row("CreateAgreement") = Call(stub.get(), &Stub::CreateAgreement, token, create);
    pl::v1::GetAgreementRequest get_agreement;
    get_agreement.set_name(agreement(0));
    row("GetAgreement") = Call(stub.get(), &Stub::GetAgreement, token, get_agreement);
    row("ListAgreements") =
        Call(stub.get(), &Stub::ListAgreements, token, pl::v1::ListAgreementsRequest());
    pl::v1::RecordWorkplaceVisitRequest visit;
    visit.set_name(agreement(0));
    visit.mutable_visit_date()->set_year(2027);
    visit.mutable_visit_date()->set_month(2);
    visit.mutable_visit_date()->set_day(20);
    row("RecordWorkplaceVisit") = Call(stub.get(), &Stub::RecordWorkplaceVisit, token, visit);
    pl::v1::SignAgreementRequest sign;
    sign.set_name(agreement(1));
    sign.set_party(pl::v1::PARTY_EMPLOYER);
    row("SignAgreement") = Call(stub.get(), &Stub::SignAgreement, token, sign);
    pl::v1::StartAgreementRequest start;
    start.set_name(agreement(2));
    row("StartAgreement") = Call(stub.get(), &Stub::StartAgreement, token, start);
    pl::v1::CompleteAgreementRequest complete;
    complete.set_name(agreement(3));
    complete.set_outcome(pl::v1::OUTCOME_EMPLOYMENT);
    row("CompleteAgreement") = Call(stub.get(), &Stub::CompleteAgreement, token, complete);
    pl::v1::EndAgreementRequest end;
    end.set_name(agreement(0));
    end.set_reason(pl::v1::END_REASON_GOT_JOB);
    end.set_outcome(pl::v1::OUTCOME_EMPLOYMENT);
    row("EndAgreement") = Call(stub.get(), &Stub::EndAgreement, token, end);
  }
  // The bank: read by the municipality's staff (another municipality does not
  // find 1885's employer or placement), changed by placement coordinators (of
  // the callers, prakt's), prao allocated by coordinators and teachers.
  const std::map<std::string, std::string> coordinators = {{"wrong category", "OK"}};
  for (const char* action : {"CreateEmployer", "UpdateEmployer", "LogContact", "CreatePlacement",
                             "UpdatePlacement"}) {
    ExpectOutcomes(action, rows[action], "PERMISSION_DENIED", coordinators);
  }
  for (const char* action : {"GetEmployer", "ListContacts", "GetPlacement"}) {
    ExpectOutcomes(action, rows[action], "OK", {{"other municipality", "NOT_FOUND"}});
  }
  for (const char* action : {"ListEmployers", "ListColdEmployers", "ListPlacements",
                             "GetSupplyAndDemand"}) {
    ExpectOutcomes(action, rows[action], "OK");
  }
  ExpectOutcomes("AllocatePrao", rows["AllocatePrao"], "PERMISSION_DENIED",
                 {{"wrong category", "OK"}, {"expired", "OK"}});
  // P's need and agreements: the rule, each decision audited. A role without
  // personal data is refused making or listing them before anything is read;
  // another municipality cannot name P, who is not registered there.
  // fk's only consent (plan, withdrawn) covers other data than placement.
  auto placement_rule = ByTheRule();
  placement_rule["not consented"] = "PERMISSION_DENIED [deny category_not_covered]";
  for (const char* action : {"GetPlacementNeed", "MatchPlacements", "GetAgreement",
                             "RecordWorkplaceVisit", "SignAgreement", "StartAgreement",
                             "CompleteAgreement", "EndAgreement"}) {
    ExpectOutcomes(action, rows[action], "", placement_rule);
  }
  auto create_rule = placement_rule;
  create_rule["manager of the owner"] = "PERMISSION_DENIED";
  create_rule["other municipality"] = "INVALID_ARGUMENT";
  ExpectOutcomes("CreatePlacementNeed", rows["CreatePlacementNeed"], "", create_rule);
  ExpectOutcomes("CreateAgreement", rows["CreateAgreement"], "", create_rule);
  // The list: the agreements the caller's organization made (the owner two by
  // now, af the one of its row), each read audited.
  ExpectOutcomes("ListAgreements", rows["ListAgreements"], "OK",
                 {{"owner", "OK [permit owner] [permit owner]"},
                  {"consented", "OK [permit owner]"},
                  {"manager of the owner", "PERMISSION_DENIED"}});
}

// Every RPC of every Samplan service has a row here: each service of each file
// under proto/samplan is found (it must be linked into this test), and each of
// its methods must be called in this file as `<Service>::Stub::<Method>` (or
// through an alias `Stub::<Method>`; the event stream through TestSubscriber).
// A new RPC, or a new service, fails this test until the matrix says who may
// call it.
TEST(AccessMatrixCoverage, EveryRpcOfEveryServiceHasARow) {
  const std::filesystem::path root(SAMPLAN_SOURCE_DIR);
  const std::filesystem::path source = root / "tests" / "access_matrix_test.cc";
  const std::filesystem::path protos = root / "proto";
  std::ifstream in(source);
  ASSERT_TRUE(in.good()) << source;
  std::stringstream text;
  text << in.rdbuf();
  // What the matrix calls, comments left out.
  const std::string code =
      std::regex_replace(text.str(), std::regex("//[^\n]*"), std::string());
  std::set<std::string> called;
  const std::regex stub_method("Stub::([A-Z][A-Za-z0-9]*)");
  for (auto it = std::sregex_iterator(code.begin(), code.end(), stub_method);
       it != std::sregex_iterator(); ++it) {
    called.insert((*it)[1]);
  }
  if (code.find("TestSubscriber stream(") != std::string::npos) called.insert("Subscribe");

  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(protos / "samplan")) {
    if (entry.path().extension() == ".proto") {
      files.push_back(std::filesystem::relative(entry.path(), protos).generic_string());
    }
  }
  ASSERT_FALSE(files.empty()) << protos;
  std::vector<std::string> missing;
  std::map<std::string, std::string> service_of_method;
  int methods = 0;
  for (const std::string& name : files) {
    const google::protobuf::FileDescriptor* file =
        google::protobuf::DescriptorPool::generated_pool()->FindFileByName(name);
    if (file == nullptr) {
      missing.push_back(absl::StrCat(name, " (not linked into the matrix: none of its RPCs has a row)"));
      continue;
    }
    for (int s = 0; s < file->service_count(); ++s) {
      const google::protobuf::ServiceDescriptor* service = file->service(s);
      for (int m = 0; m < service->method_count(); ++m) {
        const std::string& method = service->method(m)->name();
        ++methods;
        // Rows are found by method name: two services with one name would
        // make the name ambiguous here.
        auto [it, fresh] = service_of_method.emplace(method, service->full_name());
        EXPECT_TRUE(fresh) << method << " is a method of both " << it->second << " and "
                           << service->full_name() << "; name the services in the rows";
        if (!called.contains(method)) missing.push_back(service->method(m)->full_name());
      }
    }
  }
  EXPECT_GT(methods, 0);
  EXPECT_TRUE(missing.empty()) << missing.size() << " RPCs have no row in the access matrix:\n  "
                               << absl::StrJoin(missing, "\n  ");
}

}  // namespace
}  // namespace samplan
