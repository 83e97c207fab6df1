#include "services/surveys/questionnaire_rules.h"

#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "common/text.h"

namespace samplan::surveys {
namespace {

using v1::Item;
using v1::ItemKind;

bool IsItemId(absl::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

bool IsChoiceCode(absl::string_view code) {
  if (code.empty() || code.size() > 64) return false;
  for (char c : code) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
          c == '_')) {
      return false;
    }
  }
  return true;
}

bool IsChoiceKind(ItemKind kind) {
  return kind == v1::ITEM_KIND_SINGLE_CHOICE || kind == v1::ITEM_KIND_MULTIPLE_CHOICE;
}

void CheckText(const v1::LocalizedText& text, const std::string& field, FieldViolations& v) {
  CheckTextLength(v, field + ".sv", text.sv(), 1, 500);
  CheckTextLength(v, field + ".sv_easy", text.sv_easy(), 0, 500);
  CheckTextLength(v, field + ".en", text.en(), 0, 500);
}

// What answers an earlier item can give that a condition may name.
std::set<std::string> AnswerCodes(const Item& item) {
  std::set<std::string> codes;
  if (item.kind() == v1::ITEM_KIND_YES_NO) return {"yes", "no"};
  for (const v1::Choice& c : item.choices()) codes.insert(c.code());
  return codes;
}

bool IsOccupationCode(const std::string& code) {
  v1::Occupation o;
  return v1::Occupation_Parse(code, &o) && o != v1::OCCUPATION_UNSPECIFIED;
}

bool IsMainIncomeCode(const std::string& code) {
  v1::MainIncome m;
  return v1::MainIncome_Parse(code, &m) && m != v1::MAIN_INCOME_UNSPECIFIED;
}

void CheckOutcomeCode(const Item& item, const std::string& field, FieldViolations& v) {
  switch (item.outcome_code()) {
    case v1::OUTCOME_CODE_UNSPECIFIED:
      return;
    case v1::OUTCOME_CODE_OCCUPATION:
    case v1::OUTCOME_CODE_MAIN_INCOME: {
      if (item.kind() != v1::ITEM_KIND_SINGLE_CHOICE) {
        v.Add(field, "an occupation or main income code needs a single-choice item");
        return;
      }
      for (int i = 0; i < item.choices_size(); ++i) {
        const std::string& code = item.choices(i).code();
        const bool known = item.outcome_code() == v1::OUTCOME_CODE_OCCUPATION
                               ? IsOccupationCode(code)
                               : IsMainIncomeCode(code);
        if (!known) {
          v.Add(absl::StrCat(field, ".choices[", i, "].code"),
                "must name a value of the outcome code's enum (e.g. OCCUPATION_WORK)");
        }
      }
      return;
    }
    case v1::OUTCOME_CODE_EXTENT_PERCENT:
      if (item.kind() != v1::ITEM_KIND_NUMBER || item.number_min() < 0 ||
          item.number_max() > 100) {
        v.Add(field, "an extent needs a number item within 0 to 100");
      }
      return;
    case v1::OUTCOME_CODE_HELPED:
      if (item.kind() != v1::ITEM_KIND_YES_NO && item.kind() != v1::ITEM_KIND_SCALE) {
        v.Add(field, "whether it helped needs a yes/no or scale item");
      }
      return;
    default:
      v.Add(field, "is not a known outcome code");
  }
}

}  // namespace

bool IsQuestionnaireId(absl::string_view id) {
  if (id.size() < 3 || id.size() > 63 || !(id[0] >= 'a' && id[0] <= 'z')) return false;
  for (char c : id) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return true;
}

void ValidateQuestionnaire(const v1::Questionnaire& questionnaire, absl::string_view prefix,
                           FieldViolations& v) {
  const std::string p(prefix);
  CheckText(questionnaire.title(), p + ".title", v);
  if (questionnaire.items().empty()) v.Add(p + ".items", "needs at least one item");
  if (questionnaire.items_size() > kMaxItems) {
    v.Add(p + ".items", absl::StrCat("holds at most ", kMaxItems, " items"));
    return;
  }
  // Items seen so far, by id: a condition may name only these.
  std::map<std::string, const Item*> earlier;
  std::set<std::string> all_ids;
  for (const Item& item : questionnaire.items()) all_ids.insert(item.id());
  for (int i = 0; i < questionnaire.items_size(); ++i) {
    const Item& item = questionnaire.items(i);
    const std::string f = absl::StrCat(p, ".items[", i, "]");
    if (!IsItemId(item.id())) {
      v.Add(f + ".id", "must be 1 to 64 characters of a-z, 0-9 and _");
    } else if (earlier.count(item.id()) > 0) {
      v.Add(f + ".id", absl::StrCat("repeats the id of an earlier item: ", item.id()));
    }
    if (item.kind() == v1::ITEM_KIND_UNSPECIFIED || !v1::ItemKind_IsValid(item.kind())) {
      v.Add(f + ".kind", "is required");
    }
    CheckText(item.text(), f + ".text", v);
    if (IsChoiceKind(item.kind())) {
      if (item.choices_size() < 2 || item.choices_size() > kMaxChoices) {
        v.Add(f + ".choices", absl::StrCat("needs 2 to ", kMaxChoices, " choices"));
      }
      std::set<std::string> codes;
      for (int c = 0; c < item.choices_size(); ++c) {
        const std::string cf = absl::StrCat(f, ".choices[", c, "]");
        if (!IsChoiceCode(item.choices(c).code())) {
          v.Add(cf + ".code", "must be 1 to 64 characters of A-Z, a-z, 0-9 and _");
        } else if (!codes.insert(item.choices(c).code()).second) {
          v.Add(cf + ".code", "repeats a code of this item");
        }
        CheckText(item.choices(c).text(), cf + ".text", v);
      }
    } else if (item.choices_size() > 0) {
      v.Add(f + ".choices", "only choice items have choices");
    }
    if (item.kind() == v1::ITEM_KIND_SCALE) {
      const int64_t steps = int64_t{item.scale_max()} - item.scale_min() + 1;
      if (steps < 2 || steps > kMaxScaleSteps) {
        v.Add(f + ".scale_max", absl::StrCat("a scale has 2 to ", kMaxScaleSteps, " steps"));
      }
    }
    if (item.kind() == v1::ITEM_KIND_NUMBER && !(item.number_min() <= item.number_max())) {
      v.Add(f + ".number_max", "must not be below number_min");
    }
    if (item.kind() == v1::ITEM_KIND_FREE_TEXT) {
      if (item.max_length() < 0 || item.max_length() > kMaxFreeTextLength) {
        v.Add(f + ".max_length", absl::StrCat("must be 0 to ", kMaxFreeTextLength));
      }
    } else if (item.max_length() != 0) {
      v.Add(f + ".max_length", "only free-text items have a length cap");
    }
    if (item.has_shown_when()) {
      const v1::Condition& when = item.shown_when();
      auto found = earlier.find(when.item_id());
      if (found == earlier.end()) {
        v.Add(f + ".shown_when.item_id",
              all_ids.count(when.item_id()) > 0
                  ? "names this or a later item; a condition names only earlier items"
                  : "names no item of this questionnaire");
      } else {
        const Item& on = *found->second;
        if (!IsChoiceKind(on.kind()) && on.kind() != v1::ITEM_KIND_YES_NO) {
          v.Add(f + ".shown_when.item_id", "names an item that is not a choice or yes/no");
        } else {
          const std::set<std::string> codes = AnswerCodes(on);
          if (when.any_of().empty()) v.Add(f + ".shown_when.any_of", "names no answer");
          for (int a = 0; a < when.any_of_size(); ++a) {
            if (codes.count(when.any_of(a)) == 0) {
              v.Add(absl::StrCat(f, ".shown_when.any_of[", a, "]"),
                    "is not an answer of the item it names");
            }
          }
        }
      }
    }
    CheckOutcomeCode(item, f + ".outcome_code", v);
    if (IsItemId(item.id())) earlier.emplace(item.id(), &item);
  }
}

namespace {

// The answer codes an answer gives, for conditions on its item.
std::set<std::string> GivenCodes(const v1::Answer& a) {
  switch (a.value_case()) {
    case v1::Answer::kChoice:
      return {a.choice()};
    case v1::Answer::kChoices:
      return {a.choices().codes().begin(), a.choices().codes().end()};
    case v1::Answer::kYes:
      return {a.yes() ? "yes" : "no"};
    default:
      return {};
  }
}

bool ValueFits(ItemKind kind, v1::Answer::ValueCase value) {
  switch (kind) {
    case v1::ITEM_KIND_SINGLE_CHOICE:
      return value == v1::Answer::kChoice;
    case v1::ITEM_KIND_MULTIPLE_CHOICE:
      return value == v1::Answer::kChoices;
    case v1::ITEM_KIND_SCALE:
      return value == v1::Answer::kScale;
    case v1::ITEM_KIND_YES_NO:
      return value == v1::Answer::kYes;
    case v1::ITEM_KIND_NUMBER:
      return value == v1::Answer::kNumber;
    case v1::ITEM_KIND_DATE:
      return value == v1::Answer::kDate;
    case v1::ITEM_KIND_FREE_TEXT:
      return value == v1::Answer::kText;
    default:
      return false;
  }
}

void CheckValue(const Item& item, const v1::Answer& a, const std::string& f, FieldViolations& v) {
  std::set<std::string> codes;
  for (const v1::Choice& c : item.choices()) codes.insert(c.code());
  switch (a.value_case()) {
    case v1::Answer::kChoice:
      if (codes.count(a.choice()) == 0) v.Add(f + ".choice", "is not a choice of the item");
      return;
    case v1::Answer::kChoices: {
      std::set<std::string> seen;
      for (int i = 0; i < a.choices().codes_size(); ++i) {
        const std::string& code = a.choices().codes(i);
        if (codes.count(code) == 0 || !seen.insert(code).second) {
          v.Add(absl::StrCat(f, ".choices.codes[", i, "]"),
                "is not a choice of the item, or is chosen twice");
        }
      }
      return;
    }
    case v1::Answer::kScale:
      if (a.scale() < item.scale_min() || a.scale() > item.scale_max()) {
        v.Add(f + ".scale", absl::StrCat("must be ", item.scale_min(), " to ", item.scale_max()));
      }
      return;
    case v1::Answer::kNumber:
      if (!(a.number() >= item.number_min() && a.number() <= item.number_max())) {
        v.Add(f + ".number",
              absl::StrCat("must be ", item.number_min(), " to ", item.number_max()));
      }
      return;
    case v1::Answer::kDate: {
      const google::type::Date& d = a.date();
      const absl::CivilDay day(d.year(), d.month(), d.day());
      if (d.year() < 1900 || d.year() > 2200 || day.month() != d.month() || day.day() != d.day()) {
        v.Add(f + ".date", "is not a date");
      }
      return;
    }
    case v1::Answer::kText: {
      const int cap = item.max_length() == 0 ? kDefaultFreeTextLength : item.max_length();
      CheckTextLength(v, f + ".text", a.text(), 0, static_cast<size_t>(cap));
      return;
    }
    default:
      return;
  }
}

}  // namespace

void ValidateAnswers(const v1::Questionnaire& questionnaire,
                     const google::protobuf::RepeatedPtrField<v1::Answer>& answers, bool final,
                     FieldViolations& v) {
  std::map<std::string, int> index;  // item id -> position in the questionnaire
  for (int i = 0; i < questionnaire.items_size(); ++i) index[questionnaire.items(i).id()] = i;
  std::map<std::string, const v1::Answer*> given;
  for (int i = 0; i < answers.size(); ++i) {
    const v1::Answer& a = answers[i];
    const std::string f = absl::StrCat("answers[", i, "]");
    auto it = index.find(a.item_id());
    if (it == index.end()) {
      v.Add(f + ".item_id", "names no item of this questionnaire version");
      continue;
    }
    if (!given.emplace(a.item_id(), &a).second) {
      v.Add(f + ".item_id", "answers an item answered before");
      continue;
    }
    const Item& item = questionnaire.items(it->second);
    if (!ValueFits(item.kind(), a.value_case())) {
      v.Add(f, "holds no value, or a value of another kind than the item's");
      continue;
    }
    CheckValue(item, a, f, v);
  }
  // Conditions name only earlier items, so one pass in order decides what is shown.
  std::set<std::string> shown;
  for (const Item& item : questionnaire.items()) {
    bool visible = true;
    if (item.has_shown_when()) {
      visible = false;
      auto on = given.find(item.shown_when().item_id());
      if (on != given.end() && shown.count(on->first) > 0) {
        const std::set<std::string> codes = GivenCodes(*on->second);
        for (const std::string& code : item.shown_when().any_of()) visible |= codes.count(code) > 0;
      }
    }
    if (visible) shown.insert(item.id());
    const bool answered = given.count(item.id()) > 0;
    if (answered && !visible) {
      for (int i = 0; i < answers.size(); ++i) {
        if (answers[i].item_id() == item.id()) {
          v.Add(absl::StrCat("answers[", i, "].item_id"),
                "answers an item the earlier answers do not show");
          break;
        }
      }
    }
    if (final && visible && item.required() && !answered) {
      v.Add("answers." + item.id(), "is required");
    }
  }
}

namespace {

v1::LocalizedText Text(const char* sv, const char* easy, const char* en) {
  v1::LocalizedText t;
  t.set_sv(sv);
  t.set_sv_easy(easy);
  t.set_en(en);
  return t;
}

Item* AddItem(v1::Questionnaire& q, const char* id, ItemKind kind, v1::LocalizedText text,
              bool required) {
  Item* item = q.add_items();
  item->set_id(id);
  item->set_kind(kind);
  *item->mutable_text() = std::move(text);
  item->set_required(required);
  return item;
}

void AddChoice(Item* item, const std::string& code, v1::LocalizedText text) {
  v1::Choice* c = item->add_choices();
  c->set_code(code);
  *c->mutable_text() = std::move(text);
}

v1::Questionnaire VadHandeSen() {
  v1::Questionnaire q;
  q.set_name(absl::StrCat("questionnaires/", kVadHandeSen));
  *q.mutable_title() = Text("Vad hände sen?", "Vad gör du nu?", "What happened next?");
  Item* now = AddItem(q, "sysselsattning", v1::ITEM_KIND_SINGLE_CHOICE,
                      Text("Vad gör du nu?", "Vad gör du nu?", "What do you do now?"), true);
  now->set_outcome_code(v1::OUTCOME_CODE_OCCUPATION);
  AddChoice(now, "OCCUPATION_WORK", Text("Arbetar", "Jag jobbar", "Working"));
  AddChoice(now, "OCCUPATION_STUDIES", Text("Studerar", "Jag studerar", "Studying"));
  AddChoice(now, "OCCUPATION_LOOKING_FOR_WORK",
            Text("Söker arbete", "Jag söker jobb", "Looking for work"));
  AddChoice(now, "OCCUPATION_OTHER", Text("Annat", "Något annat", "Other"));
  Item* extent = AddItem(
      q, "omfattning", v1::ITEM_KIND_NUMBER,
      Text("Hur många procent av heltid (40 timmar i veckan)?",
           "Hur mycket jobbar eller studerar du? Skriv i procent. 40 timmar i veckan är 100.",
           "What share of full time (40 hours a week), in percent?"),
      true);
  extent->set_number_min(0);
  extent->set_number_max(100);
  extent->set_outcome_code(v1::OUTCOME_CODE_EXTENT_PERCENT);
  extent->mutable_shown_when()->set_item_id("sysselsattning");
  extent->mutable_shown_when()->add_any_of("OCCUPATION_WORK");
  extent->mutable_shown_when()->add_any_of("OCCUPATION_STUDIES");
  Item* income = AddItem(q, "forsorjning", v1::ITEM_KIND_SINGLE_CHOICE,
                         Text("Vilken är din huvudsakliga försörjning?",
                              "Var får du mest pengar ifrån?", "What is your main income?"),
                         true);
  income->set_outcome_code(v1::OUTCOME_CODE_MAIN_INCOME);
  AddChoice(income, "MAIN_INCOME_SALARY", Text("Lön", "Lön från jobb", "Salary"));
  AddChoice(income, "MAIN_INCOME_STUDY_SUPPORT", Text("Studiemedel", "CSN", "Student aid"));
  AddChoice(income, "MAIN_INCOME_ACTIVITY_SUPPORT",
            Text("Aktivitetsstöd", "Aktivitetsstöd", "Activity support"));
  AddChoice(income, "MAIN_INCOME_SICKNESS_BENEFIT",
            Text("Sjukpenning eller aktivitetsersättning", "Pengar när jag är sjuk",
                 "Sickness or activity compensation"));
  AddChoice(income, "MAIN_INCOME_ECONOMIC_ASSISTANCE",
            Text("Ekonomiskt bistånd", "Pengar från socialtjänsten", "Economic assistance"));
  AddChoice(income, "MAIN_INCOME_OTHER", Text("Annat", "Något annat", "Other"));
  Item* helped =
      AddItem(q, "hjalpte", v1::ITEM_KIND_YES_NO,
              Text("Hade du nytta av praktiken?", "Hjälpte praktiken dig?",
                   "Did the placement help you?"),
              false);
  helped->set_outcome_code(v1::OUTCOME_CODE_HELPED);
  Item* free = AddItem(q, "ovrigt", v1::ITEM_KIND_FREE_TEXT,
                       Text("Vill du berätta något mer?", "Vill du säga något mer?",
                            "Anything else you want to tell us?"),
                       false);
  free->set_max_length(2000);
  return q;
}

v1::Questionnaire PraoEnkat() {
  v1::Questionnaire q;
  q.set_name(absl::StrCat("questionnaires/", kPraoEnkat));
  *q.mutable_title() = Text("Enkät om praoplatser", "Frågor om prao",
                            "Questionnaire on prao placements");
  q.set_anonymous(true);
  Item* role = AddItem(q, "roll", v1::ITEM_KIND_SINGLE_CHOICE,
                       Text("Vilken roll har du?", "Vad jobbar du med?", "What is your role?"),
                       true);
  AddChoice(role, "chef", Text("Chef", "Chef", "Manager"));
  AddChoice(role, "kontaktperson",
            Text("Kontaktperson i kommunen", "Kontaktperson", "Municipal contact person"));
  AddChoice(role, "handledare", Text("Handledare hos arbetsgivare", "Handledare", "Supervisor"));
  Item* offers = AddItem(q, "tar_emot", v1::ITEM_KIND_YES_NO,
                         Text("Tar er verksamhet emot praoelever?", "Tar ni emot praoelever?",
                              "Does your workplace take prao pupils?"),
                         true);
  (void)offers;
  Item* places = AddItem(q, "antal_platser", v1::ITEM_KIND_NUMBER,
                         Text("Hur många praoplatser kan ni erbjuda per år?",
                              "Hur många elever kan ni ta emot varje år?",
                              "How many prao places can you offer a year?"),
                         true);
  places->set_number_min(0);
  places->set_number_max(500);
  places->mutable_shown_when()->set_item_id("tar_emot");
  places->mutable_shown_when()->add_any_of("yes");
  Item* hinder = AddItem(q, "hinder", v1::ITEM_KIND_MULTIPLE_CHOICE,
                         Text("Vad hindrar er från att ta emot fler?",
                              "Varför kan ni inte ta emot fler?",
                              "What keeps you from taking more?"),
                         false);
  AddChoice(hinder, "tid", Text("Tid för handledning", "Vi har inte tid", "Time to supervise"));
  AddChoice(hinder, "lokaler", Text("Lokaler", "Vi har inte plats", "Premises"));
  AddChoice(hinder, "sakerhet", Text("Säkerhet eller sekretess", "Säkerhet", "Safety or secrecy"));
  AddChoice(hinder, "annat", Text("Annat", "Något annat", "Other"));
  Item* satisfied = AddItem(q, "nojd", v1::ITEM_KIND_SCALE,
                            Text("Hur nöjd är du med samarbetet med skolan?",
                                 "Hur bra fungerar det med skolan?",
                                 "How satisfied are you with the cooperation with the school?"),
                            false);
  satisfied->set_scale_min(1);
  satisfied->set_scale_max(5);
  Item* free = AddItem(q, "synpunkter", v1::ITEM_KIND_FREE_TEXT,
                       Text("Övriga synpunkter", "Vill du säga något mer?", "Other comments"),
                       false);
  free->set_max_length(2000);
  return q;
}

}  // namespace

std::vector<v1::Questionnaire> ShippedQuestionnaires() {
  std::vector<v1::Questionnaire> shipped = {VadHandeSen(), PraoEnkat()};
  for (v1::Questionnaire& q : shipped) {
    q.set_version(1);
    q.set_shipped(true);
    q.set_etag("1");
  }
  return shipped;
}

}  // namespace samplan::surveys
