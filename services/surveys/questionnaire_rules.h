#ifndef SAMPLAN_SERVICES_SURVEYS_QUESTIONNAIRE_RULES_H_
#define SAMPLAN_SERVICES_SURVEYS_QUESTIONNAIRE_RULES_H_

// Questionnaires as pure rules: what a valid questionnaire is, the two that ship
// with Samplan, and what a valid set of answers to one is. No I/O.

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/status.h"
#include "samplan/surveys/v1/surveys.pb.h"

namespace samplan::surveys {

// The longest a free-text item may allow, and what it allows when it says 0.
inline constexpr int kMaxFreeTextLength = 4000;
inline constexpr int kDefaultFreeTextLength = 1000;
inline constexpr int kMaxItems = 200;
inline constexpr int kMaxChoices = 50;
inline constexpr int kMaxScaleSteps = 11;

// Returns whether `id` is a questionnaire id: [a-z0-9-], 3 to 63 characters,
// starting with a letter.
bool IsQuestionnaireId(absl::string_view id);

// Validates the title and items of `questionnaire` as a version to publish:
// item ids unique and [a-z0-9_]; a kind; Swedish texts (1 to 500 characters;
// easy Swedish and English at most 500); choices for choice items and none for
// others, unique codes; a scale of 2 to 11 steps; number bounds in order; a
// free-text cap of 0 to 4000; a condition only on an earlier item of a choice or
// yes/no kind, naming its choices — so conditions can form no cycle; outcome
// codes only on items of a kind that can carry them. Each problem is added to
// `v` under "<prefix>.items[i].…" (prefix "questionnaire").
void ValidateQuestionnaire(const v1::Questionnaire& questionnaire, absl::string_view prefix,
                           FieldViolations& v);

// Validates `answers` to `questionnaire` (the version they answer): each names
// an item of it once, holds a value of the item's kind within its bounds (a
// choice among its codes, a scale or number within its range, a real date, free
// text within its cap), and answers only an item that the earlier answers show.
// With `final` (a submission rather than a saved draft), every required item
// that is shown must be answered. Violations name "answers[i]…", or
// "answers.<item id>" for a required item missing.
void ValidateAnswers(const v1::Questionnaire& questionnaire,
                     const google::protobuf::RepeatedPtrField<v1::Answer>& answers, bool final,
                     FieldViolations& v);

// The questionnaires that ship with Samplan, at their version 1:
// "vad-hande-sen" (the participant, 3 and 6 months after a placement or plan)
// and "prao-enkat" (the staff and employers of the prao survey). Both valid by
// ValidateQuestionnaire.
std::vector<v1::Questionnaire> ShippedQuestionnaires();
inline constexpr char kVadHandeSen[] = "vad-hande-sen";
inline constexpr char kPraoEnkat[] = "prao-enkat";

}  // namespace samplan::surveys

#endif  // SAMPLAN_SERVICES_SURVEYS_QUESTIONNAIRE_RULES_H_
