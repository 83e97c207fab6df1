// Tier 1: questionnaires and outcome records as pure rules — what is refused,
// naming which field, and that the shipped questionnaires pass.

#include <gtest/gtest.h>

#include <set>

#include "services/surveys/questionnaire_rules.h"
#include "services/surveys/surveys_rules.h"

namespace samplan::surveys {
namespace {

std::set<std::string> Fields(const FieldViolations& v) {
  std::set<std::string> fields;
  for (const auto& [field, description] : FieldViolationsOf(v.ToStatus())) fields.insert(field);
  return fields;
}

v1::Item ChoiceItem(const std::string& id) {
  v1::Item item;
  item.set_id(id);
  item.set_kind(v1::ITEM_KIND_SINGLE_CHOICE);
  item.mutable_text()->set_sv("Fråga");
  for (const char* code : {"a", "b"}) {
    v1::Choice* c = item.add_choices();
    c->set_code(code);
    c->mutable_text()->set_sv(code);
  }
  return item;
}

v1::Questionnaire Valid() {
  v1::Questionnaire q;
  q.mutable_title()->set_sv("Uppföljning");
  *q.add_items() = ChoiceItem("first");
  v1::Item second = ChoiceItem("second");
  second.mutable_shown_when()->set_item_id("first");
  second.mutable_shown_when()->add_any_of("a");
  *q.add_items() = second;
  return q;
}

TEST(QuestionnaireRulesTest, ShippedQuestionnairesAreValidInThreeLanguages) {
  const std::vector<v1::Questionnaire> shipped = ShippedQuestionnaires();
  ASSERT_EQ(shipped.size(), 2u);
  for (const v1::Questionnaire& q : shipped) {
    FieldViolations v;
    ValidateQuestionnaire(q, "questionnaire", v);
    EXPECT_TRUE(v.empty()) << q.name() << ": " << v.ToStatus();
    for (const v1::Item& item : q.items()) {
      EXPECT_FALSE(item.text().sv_easy().empty()) << item.id();
      EXPECT_FALSE(item.text().en().empty()) << item.id();
    }
  }
  // "Vad hände sen?" asks what the person does now, the extent, the income,
  // whether it helped, and free text; each of the first three feeds statistics.
  EXPECT_EQ(shipped[0].name(), "questionnaires/vad-hande-sen");
  EXPECT_EQ(shipped[0].items(0).outcome_code(), v1::OUTCOME_CODE_OCCUPATION);
  EXPECT_EQ(shipped[0].items(1).outcome_code(), v1::OUTCOME_CODE_EXTENT_PERCENT);
  EXPECT_EQ(shipped[0].items(2).outcome_code(), v1::OUTCOME_CODE_MAIN_INCOME);
  EXPECT_TRUE(shipped[1].anonymous());
}

TEST(QuestionnaireRulesTest, AValidQuestionnairePasses) {
  FieldViolations v;
  ValidateQuestionnaire(Valid(), "questionnaire", v);
  EXPECT_TRUE(v.empty()) << v.ToStatus();
}

TEST(QuestionnaireRulesTest, DuplicateItemIdsAreNamed) {
  v1::Questionnaire q = Valid();
  q.mutable_items(1)->set_id("first");
  FieldViolations v;
  ValidateQuestionnaire(q, "questionnaire", v);
  EXPECT_EQ(Fields(v), std::set<std::string>{"questionnaire.items[1].id"});
}

TEST(QuestionnaireRulesTest, AConditionOnALaterMissingOrOwnItemIsRefused) {
  // On a later item: the two conditions would otherwise form a cycle.
  v1::Questionnaire later = Valid();
  later.mutable_items(0)->mutable_shown_when()->set_item_id("second");
  later.mutable_items(0)->mutable_shown_when()->add_any_of("a");
  FieldViolations v1;
  ValidateQuestionnaire(later, "questionnaire", v1);
  EXPECT_EQ(Fields(v1), std::set<std::string>{"questionnaire.items[0].shown_when.item_id"});

  v1::Questionnaire missing = Valid();
  missing.mutable_items(1)->mutable_shown_when()->set_item_id("nowhere");
  FieldViolations v2;
  ValidateQuestionnaire(missing, "questionnaire", v2);
  EXPECT_EQ(Fields(v2), std::set<std::string>{"questionnaire.items[1].shown_when.item_id"});

  v1::Questionnaire own = Valid();
  own.mutable_items(1)->mutable_shown_when()->set_item_id("second");
  FieldViolations v3;
  ValidateQuestionnaire(own, "questionnaire", v3);
  EXPECT_EQ(Fields(v3), std::set<std::string>{"questionnaire.items[1].shown_when.item_id"});

  v1::Questionnaire answer = Valid();
  answer.mutable_items(1)->mutable_shown_when()->set_any_of(0, "z");
  FieldViolations v4;
  ValidateQuestionnaire(answer, "questionnaire", v4);
  EXPECT_EQ(Fields(v4), std::set<std::string>{"questionnaire.items[1].shown_when.any_of[0]"});
}

TEST(QuestionnaireRulesTest, EachKindsOwnBoundsAreChecked) {
  v1::Questionnaire q;
  q.mutable_title()->set_sv("Titel");
  v1::Item* scale = q.add_items();
  scale->set_id("scale");
  scale->set_kind(v1::ITEM_KIND_SCALE);
  scale->mutable_text()->set_sv("Hur nöjd?");
  scale->set_scale_min(1);
  scale->set_scale_max(20);
  v1::Item* number = q.add_items();
  number->set_id("number");
  number->set_kind(v1::ITEM_KIND_NUMBER);
  number->mutable_text()->set_sv("Hur många?");
  number->set_number_min(10);
  number->set_number_max(1);
  v1::Item* text = q.add_items();
  text->set_id("text");
  text->set_kind(v1::ITEM_KIND_FREE_TEXT);
  text->mutable_text()->set_sv("Berätta");
  text->set_max_length(1'000'000);
  v1::Item* kindless = q.add_items();
  kindless->set_id("Bad-Id");
  kindless->mutable_text()->set_sv("");
  v1::Item* one_choice = q.add_items();
  *one_choice = ChoiceItem("one");
  one_choice->mutable_choices()->RemoveLast();
  FieldViolations v;
  ValidateQuestionnaire(q, "questionnaire", v);
  EXPECT_EQ(Fields(v), (std::set<std::string>{
                           "questionnaire.items[0].scale_max",
                           "questionnaire.items[1].number_max",
                           "questionnaire.items[2].max_length",
                           "questionnaire.items[3].id",
                           "questionnaire.items[3].kind",
                           "questionnaire.items[3].text.sv",
                           "questionnaire.items[4].choices",
                       }));
}

TEST(QuestionnaireRulesTest, OutcomeCodesNeedItemsThatCanCarryThem) {
  v1::Questionnaire q = Valid();
  q.mutable_items(0)->set_outcome_code(v1::OUTCOME_CODE_OCCUPATION);  // codes a, b
  q.mutable_items(1)->set_outcome_code(v1::OUTCOME_CODE_EXTENT_PERCENT);
  FieldViolations v;
  ValidateQuestionnaire(q, "questionnaire", v);
  EXPECT_EQ(Fields(v), (std::set<std::string>{"questionnaire.items[0].outcome_code.choices[0].code",
                                              "questionnaire.items[0].outcome_code.choices[1].code",
                                              "questionnaire.items[1].outcome_code"}));
}

// "Vad hände sen?": sysselsattning (required choice), omfattning (required
// number, shown for work or studies), forsorjning (required choice), hjalpte
// (yes/no), ovrigt (free text, at most 2000 characters).
google::protobuf::RepeatedPtrField<v1::Answer> Answers(
    std::initializer_list<std::pair<const char*, v1::Answer>> given) {
  google::protobuf::RepeatedPtrField<v1::Answer> out;
  for (auto [id, answer] : given) {
    answer.set_item_id(id);
    *out.Add() = answer;
  }
  return out;
}

v1::Answer Choice(const char* code) {
  v1::Answer a;
  a.set_choice(code);
  return a;
}

v1::Answer Number(double n) {
  v1::Answer a;
  a.set_number(n);
  return a;
}

v1::Answer Text(std::string text) {
  v1::Answer a;
  a.set_text(std::move(text));
  return a;
}

std::set<std::string> AnswerFields(
    const google::protobuf::RepeatedPtrField<v1::Answer>& answers, bool final) {
  FieldViolations v;
  ValidateAnswers(ShippedQuestionnaires()[0], answers, final, v);
  return Fields(v);
}

TEST(AnswerRulesTest, ACompleteSubmissionPassesAndADraftMayBePartial) {
  EXPECT_TRUE(AnswerFields(Answers({{"sysselsattning", Choice("OCCUPATION_WORK")},
                                    {"omfattning", Number(75)},
                                    {"forsorjning", Choice("MAIN_INCOME_SALARY")},
                                    {"ovrigt", Text("Jag fick jobb på lagret.")}}),
                           true)
                  .empty());
  // Looking for work: the extent is not asked.
  EXPECT_TRUE(AnswerFields(Answers({{"sysselsattning", Choice("OCCUPATION_LOOKING_FOR_WORK")},
                                    {"forsorjning", Choice("MAIN_INCOME_ACTIVITY_SUPPORT")}}),
                           true)
                  .empty());
  EXPECT_TRUE(AnswerFields(Answers({{"sysselsattning", Choice("OCCUPATION_WORK")}}), false).empty());
}

TEST(AnswerRulesTest, ARequiredShownItemIsMissingOnlyOnFinalSubmit) {
  const auto partial = Answers({{"sysselsattning", Choice("OCCUPATION_STUDIES")}});
  EXPECT_EQ(AnswerFields(partial, true),
            (std::set<std::string>{"answers.omfattning", "answers.forsorjning"}));
}

TEST(AnswerRulesTest, WrongKindsRangesHiddenItemsAndAMegabyteOfTextAreNamed) {
  const auto bad = Answers({{"sysselsattning", Choice("OCCUPATION_ASTRONAUT")},
                            {"omfattning", Number(140)},
                            {"forsorjning", Number(3)},
                            {"ovrigt", Text(std::string(1 << 20, 'x'))},
                            {"nowhere", Choice("a")},
                            {"ovrigt", Text("again")}});
  EXPECT_EQ(AnswerFields(bad, false),
            (std::set<std::string>{"answers[0].choice", "answers[1].number", "answers[2]",
                                   "answers[3].text", "answers[4].item_id", "answers[5].item_id",
                                   // the extent is not shown for an unknown occupation
                                   "answers[1].item_id"}));
}

v1::Outcome ValidOutcome() {
  v1::Outcome o;
  o.set_person("persons/6f1f0d38-9f43-4a8e-9a55-3c1c2f0b9d11");
  o.set_activity("agreements/6f1f0d38-9f43-4a8e-9a55-3c1c2f0b9d12");
  o.set_activity_kind(v1::ACTIVITY_KIND_WORK_PRACTICE);
  o.set_gender(v1::GENDER_FEMALE);
  o.set_age_at_entry(24);
  o.mutable_entry_date()->set_year(2026);
  o.mutable_entry_date()->set_month(3);
  o.mutable_entry_date()->set_day(2);
  o.mutable_entry()->set_occupation(v1::OCCUPATION_LOOKING_FOR_WORK);
  o.mutable_entry()->set_education_level(v1::EDUCATION_LEVEL_ISCED_3_4);
  return o;
}

TEST(OutcomeRulesTest, AValidRecordPassesAndAnonymousIsAllowed) {
  FieldViolations v;
  ValidateOutcome(ValidOutcome(), v);
  EXPECT_TRUE(v.empty()) << v.ToStatus();
  v1::Outcome anonymous = ValidOutcome();
  anonymous.clear_person();
  ValidateOutcome(anonymous, v);
  EXPECT_TRUE(v.empty()) << v.ToStatus();
}

TEST(OutcomeRulesTest, BadFieldsAreEachNamed) {
  v1::Outcome o = ValidOutcome();
  o.set_person("199001011234");
  o.set_activity("plans/x");
  o.set_age_at_entry(130);
  o.mutable_entry()->set_extent_percent(140);
  o.mutable_entry()->set_exit_reason(v1::EXIT_REASON_MOVED);
  FieldViolations v;
  ValidateOutcome(o, v);
  EXPECT_EQ(Fields(v), (std::set<std::string>{"outcome.person", "outcome.activity",
                                              "outcome.age_at_entry",
                                              "outcome.entry.extent_percent",
                                              "outcome.entry.exit_reason"}));
}

TEST(OutcomeRulesTest, ExitNeedsAReasonAndFollowUpsNeedAnExit) {
  v1::OutcomeStatus exit;
  exit.set_occupation(v1::OCCUPATION_WORK);
  FieldViolations v;
  ValidateStatus(exit, v1::STAGE_EXIT, "status", v);
  EXPECT_EQ(Fields(v), std::set<std::string>{"status.exit_reason"});

  v1::Outcome o = ValidOutcome();
  EXPECT_EQ(ApplyStatus(o, v1::STAGE_SIX_MONTHS, exit, v1::STATUS_SOURCE_CASEWORKER).code(),
            absl::StatusCode::kFailedPrecondition);
  exit.set_exit_reason(v1::EXIT_REASON_GOT_JOB);
  ASSERT_TRUE(ApplyStatus(o, v1::STAGE_EXIT, exit, v1::STATUS_SOURCE_CASEWORKER).ok());
  EXPECT_EQ(o.exit().source(), v1::STATUS_SOURCE_CASEWORKER);
}

}  // namespace
}  // namespace samplan::surveys
