#ifndef SAMPLAN_SERVICES_SURVEYS_SURVEYS_SERVICE_H_
#define SAMPLAN_SERVICES_SURVEYS_SURVEYS_SERVICE_H_

#include "common/call.h"
#include "samplan/surveys/v1/surveys.grpc.pb.h"
#include "services/surveys/invitation_repository.h"
#include "services/surveys/surveys_repository.h"

namespace samplan::surveys {

// The calls a person invited makes without an account: the invitation token in
// the request identifies them (ServiceDefinition::methods_without_token).
inline const std::vector<std::string>& MethodsWithoutToken() {
  static const std::vector<std::string> kMethods = {"GetInvitation", "SaveInvitationAnswers",
                                                    "SubmitInvitationAnswers"};
  return kMethods;
}

// The gRPC handlers of samplan.surveys.v1.SurveyService. Each one validates
// with the pure rules (questionnaire_rules.h, surveys_rules.h, statistics.h),
// calls the repository and maps the result; the storage and the access
// decisions on outcome records are behind SurveysRepository.
class SurveyService final : public v1::SurveyService::Service {
 public:
  // Everything passed in must outlive the service. `suppression_threshold` is
  // the least count statistics show (at least kMinSuppressionThreshold).
  SurveyService(SurveysRepository& repository, InvitationRepository& invitations,
                const CallHandler& calls, int suppression_threshold);

  using Context = grpc::ServerContext;
  grpc::Status CreateQuestionnaire(Context*, const v1::CreateQuestionnaireRequest*,
                                   v1::Questionnaire*) override;
  grpc::Status PublishQuestionnaireVersion(Context*,
                                           const v1::PublishQuestionnaireVersionRequest*,
                                           v1::Questionnaire*) override;
  grpc::Status GetQuestionnaire(Context*, const v1::GetQuestionnaireRequest*,
                                v1::Questionnaire*) override;
  grpc::Status ListQuestionnaires(Context*, const v1::ListQuestionnairesRequest*,
                                  v1::ListQuestionnairesResponse*) override;
  grpc::Status RecordOutcome(Context*, const v1::RecordOutcomeRequest*, v1::Outcome*) override;
  grpc::Status RecordOutcomeStatus(Context*, const v1::RecordOutcomeStatusRequest*,
                                   v1::Outcome*) override;
  grpc::Status GetOutcome(Context*, const v1::GetOutcomeRequest*, v1::Outcome*) override;
  grpc::Status GetOutcomeStatistics(Context*, const v1::GetOutcomeStatisticsRequest*,
                                    v1::OutcomeStatistics*) override;
  grpc::Status ExportOutcomeStatistics(Context*, const v1::ExportOutcomeStatisticsRequest*,
                                       v1::StatisticsExport*) override;
  grpc::Status GetInvitation(Context*, const v1::GetInvitationRequest*,
                             v1::InvitationForm*) override;
  grpc::Status SaveInvitationAnswers(Context*, const v1::SaveInvitationAnswersRequest*,
                                     v1::InvitationForm*) override;
  grpc::Status SubmitInvitationAnswers(Context*, const v1::SubmitInvitationAnswersRequest*,
                                       v1::SubmitInvitationAnswersResponse*) override;

 private:
  absl::Status Statistics(const CallContext& call, const v1::GetOutcomeStatisticsRequest& request,
                          v1::OutcomeStatistics& out);

  // Finds the open invitation of `token` (validated) for `questionnaire`.
  absl::StatusOr<OpenInvitation> OpenByToken(const CallContext& call, const std::string& token,
                                             const std::string& questionnaire, bool audited);

  SurveysRepository& repository_;
  InvitationRepository& invitations_;
  const CallHandler& calls_;
  const int threshold_;
};

}  // namespace samplan::surveys

#endif  // SAMPLAN_SERVICES_SURVEYS_SURVEYS_SERVICE_H_
