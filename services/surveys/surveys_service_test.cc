// Tier 2: the SurveyService over gRPC, in-process on port 0 with a real client
// stub and real token verification, over an in-memory repository: the codes
// and field violations a client sees, the role checks, and statistics with their
// export, without a database. (Access to outcome records is decided against
// PostgreSQL in tests/surveys_store_test.)

#include "services/surveys/surveys_service.h"

#include <gtest/gtest.h>

#include <map>

#include "absl/strings/match.h"
#include "absl/synchronization/mutex.h"
#include "common/ids.h"
#include "services/surveys/invitation_rules.h"
#include "services/surveys/questionnaire_rules.h"
#include "tests/support/fixtures.h"
#include "tests/support/middle_tier.h"

namespace samplan::surveys {
namespace {

using testing::ViolatedFields;

// Questionnaires and statistics' facts in memory; outcome records are not kept
// (their access rule needs PostgreSQL): every outcome call is refused.
class InMemorySurveys final : public SurveysRepository {
 public:
  absl::Status InstallShipped(const std::vector<v1::Questionnaire>& shipped,
                              absl::Time) override {
    absl::MutexLock lock(&mu_);
    for (const v1::Questionnaire& q : shipped) versions_[{"", q.name()}].push_back(q);
    return absl::OkStatus();
  }
  absl::StatusOr<v1::Questionnaire> CreateQuestionnaire(const std::string& municipality,
                                                        const std::string& id,
                                                        v1::Questionnaire q, absl::Time,
                                                        absl::Time) override {
    absl::MutexLock lock(&mu_);
    const std::string name = "questionnaires/" + id;
    if (versions_.count({"", name}) > 0 || versions_.count({municipality, name}) > 0) {
      return absl::AlreadyExistsError("exists");
    }
    q.set_name(name);
    q.set_version(1);
    q.set_etag("1");
    q.set_municipality(municipality);
    versions_[{municipality, name}].push_back(q);
    return q;
  }
  absl::StatusOr<v1::Questionnaire> PublishVersion(const std::string&, const std::string&,
                                                   const std::string&, v1::Questionnaire,
                                                   absl::Time, absl::Time) override {
    return absl::UnimplementedError("not kept here");
  }
  absl::StatusOr<v1::Questionnaire> GetQuestionnaire(const std::string& municipality,
                                                     const std::string& id, int version,
                                                     absl::Time) override {
    absl::MutexLock lock(&mu_);
    for (const std::string& m : {municipality, std::string()}) {
      auto it = versions_.find({m, "questionnaires/" + id});
      if (it == versions_.end()) continue;
      if (version == 0) return it->second.back();
      if (version <= static_cast<int>(it->second.size())) return it->second[version - 1];
    }
    return absl::NotFoundError("none");
  }
  absl::StatusOr<std::vector<v1::Questionnaire>> ListQuestionnaires(const std::string& municipality,
                                                                    absl::Time) override {
    absl::MutexLock lock(&mu_);
    std::vector<v1::Questionnaire> out;
    for (const auto& [key, versions] : versions_) {
      if (key.first.empty() || key.first == municipality) out.push_back(versions.back());
    }
    return out;
  }
  absl::StatusOr<v1::Outcome> RecordOutcome(const Caller&, const std::string&,
                                            const std::string&, const v1::Outcome&) override {
    return absl::PermissionDeniedError("not kept here");
  }
  absl::StatusOr<v1::Outcome> RecordStatus(const Caller&, const std::string&, const std::string&,
                                           v1::Stage, const v1::OutcomeStatus&) override {
    return absl::PermissionDeniedError("not kept here");
  }
  absl::StatusOr<v1::Outcome> GetOutcome(const Caller&, const std::string&) override {
    return absl::PermissionDeniedError("not kept here");
  }
  absl::StatusOr<std::vector<OutcomeFacts>> LoadOutcomeFacts(const StatisticsQuery& query,
                                                             absl::Time) override {
    absl::MutexLock lock(&mu_);
    last_query_ = query;
    return facts_;
  }

  void SetFacts(std::vector<OutcomeFacts> facts) {
    absl::MutexLock lock(&mu_);
    facts_ = std::move(facts);
  }

 private:
  absl::Mutex mu_;
  std::map<std::pair<std::string, std::string>, std::vector<v1::Questionnaire>> versions_
      ABSL_GUARDED_BY(mu_);
  std::vector<OutcomeFacts> facts_ ABSL_GUARDED_BY(mu_);
  StatisticsQuery last_query_ ABSL_GUARDED_BY(mu_);
};

// Invitations held in memory: a token's hash names one, open or answered.
class InMemoryInvitations final : public InvitationRepository {
 public:
  // Adds an open invitation to `questionnaire` reachable with `token`.
  void Add(const std::string& token, const v1::Questionnaire& questionnaire) {
    absl::MutexLock lock(&mu_);
    Entry& e = entries_[TokenHash(token)];
    e.id = absl::StrCat(entries_.size());
    *e.form.mutable_questionnaire() = questionnaire;
  }
  absl::StatusOr<OpenInvitation> Open(const std::string& token_hash,
                                      const std::string& questionnaire, bool,
                                      const std::string&, absl::Time, absl::Time) override {
    absl::MutexLock lock(&mu_);
    auto it = entries_.find(token_hash);
    if (it == entries_.end() ||
        (!questionnaire.empty() &&
         it->second.form.questionnaire().name() != "questionnaires/" + questionnaire)) {
      return absl::NotFoundError("no invitation has this token");
    }
    if (it->second.answered) return PreconditionFailed("ANSWERED", "invitation", "answered");
    return OpenInvitation{it->first, it->second.form};
  }
  absl::StatusOr<v1::InvitationForm> SaveAnswers(
      const std::string& id, const google::protobuf::RepeatedPtrField<v1::Answer>& answers,
      const std::string&, absl::Time, absl::Time) override {
    absl::MutexLock lock(&mu_);
    Entry& e = entries_[id];
    *e.form.mutable_answers() = answers;
    return e.form;
  }
  absl::Status Submit(const std::string& id, const google::protobuf::RepeatedPtrField<v1::Answer>&,
                      const std::string&, absl::Time, absl::Time) override {
    absl::MutexLock lock(&mu_);
    Entry& e = entries_[id];
    if (e.answered) return PreconditionFailed("ANSWERED", "invitation", "answered");
    e.answered = true;
    return absl::OkStatus();
  }

 private:
  struct Entry {
    std::string id;
    v1::InvitationForm form;
    bool answered = false;
  };
  absl::Mutex mu_;
  std::map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
};

class SurveyServiceTest : public testing::ServedServiceTest {
 protected:
  void SetUp() override {
    ServedServiceTest::SetUp();
    if (HasFatalFailure()) return;
    ASSERT_TRUE(repository_.InstallShipped(ShippedQuestionnaires(), absl::Now()).ok());
    ASSERT_TRUE(
        served_->Serve(std::make_unique<SurveyService>(repository_, invitations_, served_->calls(), 5)).ok());
    stub_ = v1::SurveyService::NewStub(served_->NewChannel());
  }

  std::unique_ptr<grpc::ClientContext> As(const std::string& org,
                                          const std::string& role = "caseworker") {
    return testing::CallWithToken(keys_->Token(org, role), absl::Seconds(5));
  }

  InMemorySurveys repository_;
  InMemoryInvitations invitations_;
  std::unique_ptr<v1::SurveyService::Stub> stub_;
};

TEST_F(SurveyServiceTest, EveryCallNeedsABearerToken) {
  v1::ListQuestionnairesResponse list;
  EXPECT_EQ(stub_->ListQuestionnaires(testing::CallWithToken("").get(), {}, &list).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(stub_->ListQuestionnaires(As("af", "partner_system").get(), {}, &list).ok());
  EXPECT_EQ(list.questionnaires_size(), 2);
}

// A method a service declares open (common/call.h) runs without a bearer token,
// and with an empty principal even when one is sent; every other method still
// needs one. (Surveys declares its invitation calls: MethodsWithoutToken.)
TEST(CallHandlerAllowListTest, OnlyTheDeclaredMethodsRunWithoutABearerToken) {
  auto keys = testing::TestKeys::Create();
  ASSERT_TRUE(keys.ok());
  auto served = testing::ServedService::Create(keys->VerifierOptions(), absl::Seconds(10),
                                               RealClock(), {"ListQuestionnaires"});
  ASSERT_TRUE(served.ok());
  InMemorySurveys repository;
  InMemoryInvitations invitations;
  ASSERT_TRUE(repository.InstallShipped(ShippedQuestionnaires(), absl::Now()).ok());
  ASSERT_TRUE((*served)->Serve(std::make_unique<SurveyService>(repository, invitations, (*served)->calls(), 5)).ok());
  auto stub = v1::SurveyService::NewStub((*served)->NewChannel());
  v1::ListQuestionnairesResponse list;
  EXPECT_TRUE(stub->ListQuestionnaires(testing::CallWithToken("").get(), {}, &list).ok());
  // Answered for no municipality: the caller is nobody, not the token's holder.
  EXPECT_TRUE(stub->ListQuestionnaires(testing::CallWithToken(keys->Token("soc")).get(), {}, &list).ok());
  for (const v1::Questionnaire& q : list.questionnaires()) EXPECT_TRUE(q.shipped());
  v1::GetQuestionnaireRequest get;
  get.set_name("questionnaires/vad-hande-sen");
  v1::Questionnaire out;
  EXPECT_EQ(stub->GetQuestionnaire(testing::CallWithToken("").get(), get, &out).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(SurveyServiceTest, AQuestionnaireIsValidatedInFullAndOnlyAuthorsWriteOne) {
  v1::CreateQuestionnaireRequest request;
  request.set_questionnaire_id("X");
  *request.mutable_questionnaire() = ShippedQuestionnaires()[0];
  request.mutable_questionnaire()->mutable_items(2)->set_id("sysselsattning");
  request.mutable_questionnaire()->mutable_items(4)->set_max_length(1'000'000);
  v1::Questionnaire out;
  EXPECT_EQ(ViolatedFields(stub_->CreateQuestionnaire(As("soc").get(), request, &out)),
            (std::vector<std::string>{"questionnaire_id", "questionnaire.items[2].id",
                                      "questionnaire.items[4].max_length"}));
  request.set_questionnaire_id("egen-enkat");
  *request.mutable_questionnaire() = ShippedQuestionnaires()[1];
  EXPECT_EQ(stub_->CreateQuestionnaire(As("soc", "manager").get(), request, &out).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  ASSERT_TRUE(stub_->CreateQuestionnaire(As("soc").get(), request, &out).ok());
  EXPECT_EQ(out.name(), "questionnaires/egen-enkat");
  v1::GetQuestionnaireRequest get;
  get.set_name("questionnaires/egen-enkat");
  EXPECT_TRUE(stub_->GetQuestionnaire(As("af", "partner_system").get(), get, &out).ok());
  get.set_name("enkater/egen");
  EXPECT_EQ(ViolatedFields(stub_->GetQuestionnaire(As("af").get(), get, &out)),
            std::vector<std::string>{"name"});
}

TEST_F(SurveyServiceTest, OutcomeCallsRefuseRolesWithoutPersonalDataAndNameBadFields) {
  v1::RecordOutcomeRequest record;
  v1::Outcome out;
  EXPECT_EQ(stub_->RecordOutcome(As("soc", "manager").get(), record, &out).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(ViolatedFields(stub_->RecordOutcome(As("soc").get(), record, &out)),
            (std::vector<std::string>{"request_id", "outcome.activity", "outcome.activity_kind",
                                      "outcome.gender", "outcome.entry_date", "outcome.entry"}));
  v1::RecordOutcomeStatusRequest status;
  status.set_name("outcomes/1");
  EXPECT_EQ(ViolatedFields(stub_->RecordOutcomeStatus(As("soc").get(), status, &out)),
            (std::vector<std::string>{"name", "stage"}));
}

TEST_F(SurveyServiceTest, StatisticsAreForManagersAndRefuseASelectionThatSinglesOut) {
  OutcomeFacts few;
  few.count = 3;
  few.gender = v1::GENDER_FEMALE;
  repository_.SetFacts({few});
  v1::GetOutcomeStatisticsRequest request;
  request.set_organization("organizations/af");
  v1::OutcomeStatistics out;
  EXPECT_EQ(ViolatedFields(stub_->GetOutcomeStatistics(As("soc", "manager").get(), request, &out)),
            std::vector<std::string>{"organization"});
  few.count = 12;
  OutcomeFacts one = few;
  one.count = 1;
  one.gender = v1::GENDER_OTHER;
  repository_.SetFacts({few, one});
  request.set_group_by(v1::DIMENSION_GENDER);
  ASSERT_TRUE(stub_->GetOutcomeStatistics(As("soc", "manager").get(), request, &out).ok());
  EXPECT_EQ(out.municipality(), "1885");
  EXPECT_TRUE(out.tables(0).rows(2).total().suppressed());  // the one of gender other

  v1::ExportOutcomeStatisticsRequest file_request;
  *file_request.mutable_query() = request;
  file_request.set_format("csv");
  v1::StatisticsExport file;
  ASSERT_TRUE(stub_->ExportOutcomeStatistics(As("soc", "manager").get(), file_request, &file).ok());
  EXPECT_TRUE(absl::StartsWith(file.content(), "\xEF\xBB\xBFtabell;grupp;kolumn;antal\r\n"));
  EXPECT_TRUE(absl::StrContains(file.content(), ";GENDER_OTHER;total;..\r\n"));
  request.mutable_end_date()->set_year(2026);
  request.mutable_end_date()->set_month(13);
  request.mutable_end_date()->set_day(1);
  EXPECT_EQ(ViolatedFields(stub_->GetOutcomeStatistics(As("soc", "manager").get(), request, &out)),
            std::vector<std::string>{"end_date"});
}

// The invitation calls, served as main.cc serves them: open without an
// account, validated before the repository is asked.
class InvitationCallsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto keys = testing::TestKeys::Create();
    ASSERT_TRUE(keys.ok());
    keys_ = std::make_unique<testing::TestKeys>(*std::move(keys));
    auto served = testing::ServedService::Create(keys_->VerifierOptions(), absl::Seconds(10),
                                                 RealClock(), MethodsWithoutToken());
    ASSERT_TRUE(served.ok());
    served_ = *std::move(served);
    ASSERT_TRUE(repository_.InstallShipped(ShippedQuestionnaires(), absl::Now()).ok());
    invitations_.Add(token_, ShippedQuestionnaires()[0]);
    ASSERT_TRUE(served_->Serve(std::make_unique<SurveyService>(repository_, invitations_,
                                                               served_->calls(), 5)).ok());
    stub_ = v1::SurveyService::NewStub(served_->NewChannel());
  }
  std::unique_ptr<grpc::ClientContext> NoAccount() { return testing::CallWithToken(""); }

  std::unique_ptr<testing::TestKeys> keys_;
  std::unique_ptr<testing::ServedService> served_;
  InMemorySurveys repository_;
  InMemoryInvitations invitations_;
  const std::string token_ = NewInvitationToken();
  std::unique_ptr<v1::SurveyService::Stub> stub_;
};

TEST_F(InvitationCallsTest, NeedNoBearerTokenOnlyTheInvitationToken) {
  v1::GetInvitationRequest get;
  get.set_token(token_);
  v1::InvitationForm form;
  ASSERT_TRUE(stub_->GetInvitation(NoAccount().get(), get, &form).ok());
  EXPECT_EQ(form.questionnaire().name(), "questionnaires/vad-hande-sen");
  get.set_token(NewInvitationToken());
  EXPECT_EQ(stub_->GetInvitation(NoAccount().get(), get, &form).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(InvitationCallsTest, AMalformedTokenOrQuestionnaireNamesTheField) {
  v1::GetInvitationRequest get;
  get.set_token(token_ + "x");
  get.set_questionnaire("vad-hande-sen");
  v1::InvitationForm form;
  const grpc::Status s = stub_->GetInvitation(NoAccount().get(), get, &form);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(testing::ViolatedFields(s), (std::vector<std::string>{"token", "questionnaire"}));
}

TEST_F(InvitationCallsTest, AnswersAreValidatedAndRequiredItemsOnlyOnSubmit) {
  v1::SaveInvitationAnswersRequest save;
  save.set_token(token_);
  v1::Answer* a = save.add_answers();
  a->set_item_id("sysselsattning");
  a->set_choice("OCCUPATION_WORK");
  v1::InvitationForm form;
  EXPECT_TRUE(stub_->SaveInvitationAnswers(NoAccount().get(), save, &form).ok());
  a->set_choice("NOT_A_CHOICE");
  grpc::Status s = stub_->SaveInvitationAnswers(NoAccount().get(), save, &form);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_FALSE(testing::ViolatedFields(s).empty());

  v1::SubmitInvitationAnswersRequest submit;
  submit.set_token(token_);
  v1::Answer* b = submit.add_answers();
  b->set_item_id("sysselsattning");
  b->set_choice("OCCUPATION_LOOKING_FOR_WORK");
  v1::SubmitInvitationAnswersResponse done;
  s = stub_->SubmitInvitationAnswers(NoAccount().get(), submit, &done);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(testing::ViolatedFields(s), std::vector<std::string>{"answers.forsorjning"});
  v1::Answer* c = submit.add_answers();
  c->set_item_id("forsorjning");
  c->set_choice("MAIN_INCOME_OTHER");
  EXPECT_TRUE(stub_->SubmitInvitationAnswers(NoAccount().get(), submit, &done).ok());
  EXPECT_EQ(stub_->SubmitInvitationAnswers(NoAccount().get(), submit, &done).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
}

}  // namespace
}  // namespace samplan::surveys
