// The surveys service's request rules on requests parsed from arbitrary bytes,
// as the handlers run them: questionnaires, outcome records and their statuses,
// and a respondent's answers to the shipped questionnaires. Every refusal names
// its fields.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <fuzzer/FuzzedDataProvider.h>

#include "common/status.h"
#include "fuzz/fuzz_support.h"
#include "samplan/surveys/v1/surveys.pb.h"
#include "services/surveys/invitation_rules.h"
#include "services/surveys/questionnaire_rules.h"
#include "services/surveys/surveys_rules.h"

namespace sv = samplan::surveys;
using samplan::fuzz::CheckRefusal;

namespace {

template <typename Message>
bool Parse(FuzzedDataProvider& input, Message& message) {
  return message.ParseFromString(input.ConsumeRemainingBytesAsString());
}

const std::vector<sv::v1::Questionnaire>& Shipped() {
  static const auto* shipped = new std::vector<sv::v1::Questionnaire>(sv::ShippedQuestionnaires());
  return *shipped;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider input(data, size);
  switch (input.ConsumeIntegralInRange<int>(0, 4)) {
    case 0: {
      sv::v1::CreateQuestionnaireRequest request;
      if (!Parse(input, request)) break;
      (void)sv::IsQuestionnaireId(request.questionnaire_id());
      samplan::FieldViolations v;
      sv::ValidateQuestionnaire(request.questionnaire(), "questionnaire", v);
      CheckRefusal(v.ToStatus());
      break;
    }
    case 1: {
      sv::v1::RecordOutcomeRequest request;
      if (!Parse(input, request)) break;
      samplan::FieldViolations v;
      sv::ValidateOutcome(request.outcome(), v);
      CheckRefusal(v.ToStatus());
      break;
    }
    case 2: {
      sv::v1::Outcome outcome;
      if (!outcome.ParseFromString(input.ConsumeRandomLengthString(2048))) break;
      sv::v1::RecordOutcomeStatusRequest request;
      if (!Parse(input, request)) break;
      if (request.stage() == sv::v1::STAGE_UNSPECIFIED || !sv::v1::Stage_IsValid(request.stage())) {
        break;  // refused by the handler before the rules
      }
      samplan::FieldViolations v;
      sv::ValidateStatus(request.status(), request.stage(), "status", v);
      CheckRefusal(v.ToStatus());
      if (v.empty()) {
        CheckRefusal(sv::ApplyStatus(outcome, request.stage(), request.status(),
                                     sv::v1::STATUS_SOURCE_CASEWORKER));
      }
      break;
    }
    default: {  // a respondent's answers, saved (case 3) or submitted (case 4)
      const bool final = input.ConsumeBool();
      const sv::v1::Questionnaire& questionnaire =
          Shipped()[input.ConsumeIntegralInRange<size_t>(0, Shipped().size() - 1)];
      sv::v1::SubmitInvitationAnswersRequest request;
      if (!Parse(input, request)) break;
      (void)sv::IsInvitationTokenFormat(request.token());
      samplan::FieldViolations v;
      sv::ValidateAnswers(questionnaire, request.answers(), final, v);
      CheckRefusal(v.ToStatus());
      if (v.empty()) {
        (void)sv::StatusFromAnswers(questionnaire, request.answers(), absl::CivilDay(2026, 6, 15));
      }
      break;
    }
  }
  return 0;
}
