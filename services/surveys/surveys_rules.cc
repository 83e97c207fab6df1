#include "services/surveys/surveys_rules.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/ids.h"

namespace samplan::surveys {
namespace {

bool IsActivity(absl::string_view activity) {
  if (IsResourceName(activity, "agreements")) return true;
  const std::vector<absl::string_view> parts = absl::StrSplit(activity, '/');
  return parts.size() == 4 && parts[0] == "plans" && IsResourceId(parts[1]) &&
         parts[2] == "activities" && IsResourceId(parts[3]);
}

bool IsDate(const google::type::Date& d) {
  return d.year() >= 1900 && d.year() <= 2200 && d.month() >= 1 && d.month() <= 12 &&
         d.day() >= 1 && d.day() <= 31;
}

}  // namespace

GuardedAccess DecideOutcomeAccess(const Caller& caller, const OutcomeRecord& record,
                                  AccessAction action, const AccessFacts& facts) {
  AccessRequest request;
  request.action = action;
  request.resource = record.resource;
  request.person = record.person;
  request.municipality = record.municipality;
  request.owner_organization =
      action == AccessAction::kCreate && !record.person.empty() ? facts.person_owner
                                                                : record.owner_organization;
  request.data_category = kOutcomeDataCategory;
  request.purpose = kOutcomePurpose;
  return DecideAndAudit(caller, request, facts);
}

GuardedAccess MissingOutcomeAccess(const Caller& caller, absl::string_view resource,
                                   AccessAction action) {
  AccessRequest request;
  request.action = action;
  request.resource = std::string(resource);
  request.data_category = kOutcomeDataCategory;
  request.purpose = kOutcomePurpose;
  return MissingRecordAccess(caller, std::move(request));
}

std::string StageName(v1::Stage stage) {
  switch (stage) {
    case v1::STAGE_EXIT:
      return "exit";
    case v1::STAGE_THREE_MONTHS:
      return "three_months";
    case v1::STAGE_SIX_MONTHS:
      return "six_months";
    default:
      return "entry";
  }
}

void ValidateStatus(const v1::OutcomeStatus& status, v1::Stage stage, absl::string_view prefix,
                    FieldViolations& v) {
  const std::string p(prefix);
  if (status.occupation() == v1::OCCUPATION_UNSPECIFIED ||
      !v1::Occupation_IsValid(status.occupation())) {
    v.Add(p + ".occupation", "is required");
  }
  if (!v1::MainIncome_IsValid(status.main_income())) v.Add(p + ".main_income", "is not known");
  if (status.extent_percent() < 0 || status.extent_percent() > 100) {
    v.Add(p + ".extent_percent", "must be 0 to 100 (% of 40 hours a week)");
  }
  if (status.has_date() && !IsDate(status.date())) v.Add(p + ".date", "is not a date");
  const bool entry = stage == v1::STAGE_UNSPECIFIED;
  if (entry) {
    if (!v1::EducationLevel_IsValid(status.education_level())) {
      v.Add(p + ".education_level", "is not known");
    }
    if (status.months_in_public_support() < 0 || status.months_in_public_support() > 600) {
      v.Add(p + ".months_in_public_support", "must be 0 to 600");
    }
  } else {
    if (status.education_level() != v1::EDUCATION_LEVEL_UNSPECIFIED) {
      v.Add(p + ".education_level", "is recorded at entry only");
    }
    if (status.months_in_public_support() != 0) {
      v.Add(p + ".months_in_public_support", "is recorded at entry only");
    }
  }
  if (stage == v1::STAGE_EXIT) {
    if (status.exit_reason() == v1::EXIT_REASON_UNSPECIFIED ||
        !v1::ExitReason_IsValid(status.exit_reason())) {
      v.Add(p + ".exit_reason", "is required at exit");
    }
  } else if (status.exit_reason() != v1::EXIT_REASON_UNSPECIFIED) {
    v.Add(p + ".exit_reason", "is recorded at exit only");
  }
}

void ValidateOutcome(const v1::Outcome& outcome, FieldViolations& v) {
  if (!outcome.person().empty() && !IsResourceName(outcome.person(), "persons")) {
    v.Add("outcome.person", "must be persons/{id}, or empty for an anonymous record");
  }
  if (!IsActivity(outcome.activity())) {
    v.Add("outcome.activity", "must be agreements/{id} or plans/{plan}/activities/{activity}");
  }
  if (outcome.activity_kind() == v1::ACTIVITY_KIND_UNSPECIFIED ||
      !v1::ActivityKind_IsValid(outcome.activity_kind())) {
    v.Add("outcome.activity_kind", "is required");
  }
  if (outcome.gender() == v1::GENDER_UNSPECIFIED || !v1::Gender_IsValid(outcome.gender())) {
    v.Add("outcome.gender", "is required (GENDER_UNKNOWN when not known)");
  }
  if (outcome.age_at_entry() < 0 || outcome.age_at_entry() > 120) {
    v.Add("outcome.age_at_entry", "must be 0 to 120");
  }
  if (!outcome.has_entry_date() || !IsDate(outcome.entry_date())) {
    v.Add("outcome.entry_date", "is required");
  }
  if (!outcome.has_entry()) {
    v.Add("outcome.entry", "is required: the status at entry");
  } else {
    ValidateStatus(outcome.entry(), v1::STAGE_UNSPECIFIED, "outcome.entry", v);
  }
  if (outcome.has_exit() || outcome.has_three_months() || outcome.has_six_months()) {
    v.Add("outcome.exit", "exit and follow-ups are recorded with RecordOutcomeStatus");
  }
}

absl::Status ApplyStatus(v1::Outcome& outcome, v1::Stage stage, v1::OutcomeStatus status,
                         v1::StatusSource source) {
  status.set_source(source);
  switch (stage) {
    case v1::STAGE_EXIT:
      *outcome.mutable_exit() = std::move(status);
      return absl::OkStatus();
    case v1::STAGE_THREE_MONTHS:
    case v1::STAGE_SIX_MONTHS:
      if (!outcome.has_exit()) {
        return absl::FailedPreconditionError(
            "the status after exit needs the status at exit recorded first");
      }
      *(stage == v1::STAGE_THREE_MONTHS ? outcome.mutable_three_months()
                                        : outcome.mutable_six_months()) = std::move(status);
      return absl::OkStatus();
    default:
      return absl::InvalidArgumentError("stage: is required");
  }
}

}  // namespace samplan::surveys
