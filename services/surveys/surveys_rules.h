#ifndef SAMPLAN_SERVICES_SURVEYS_SURVEYS_RULES_H_
#define SAMPLAN_SERVICES_SURVEYS_SURVEYS_RULES_H_

// The surveys service's decisions about outcome records, as pure functions: what
// a valid record and status are, and what a status at a stage changes. No I/O.

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/access.h"
#include "common/status.h"
#include "samplan/surveys/v1/surveys.pb.h"

namespace samplan::surveys {

// Outcome records to the access rule (common/access.h).
inline constexpr char kOutcomeDataCategory[] = "outcome";
inline constexpr char kOutcomePurpose[] = "follow_up";

// Validates a new outcome record: the person ("persons/{uuid}") or none
// (anonymous), the activity ("agreements/{id}" or "plans/{p}/activities/{a}"),
// its kind, gender, age 0 to 120, entry date, and the status at entry with its
// occupation, extent 0 to 100, education level and months in public support 0 to
// 600. The exit and follow-up statuses are RecordOutcomeStatus's. Violations
// name "outcome.…".
void ValidateOutcome(const v1::Outcome& outcome, FieldViolations& v);

// Validates a status recorded at `stage` (exit needs an exit reason; the
// follow-ups have none), naming "<prefix>.…".
void ValidateStatus(const v1::OutcomeStatus& status, v1::Stage stage, absl::string_view prefix,
                    FieldViolations& v);

// Sets the status of `stage` on `outcome`, marked as recorded by `source`.
// FAILED_PRECONDITION for a follow-up before the exit is recorded.
absl::Status ApplyStatus(v1::Outcome& outcome, v1::Stage stage, v1::OutcomeStatus status,
                         v1::StatusSource source);

// An outcome record as the access rule sees it. An anonymous record names no
// person: its owner reads it, nobody else.
struct OutcomeRecord {
  std::string resource;  // "outcomes/{id}"
  std::string person;    // "persons/{id}" or empty
  std::string municipality;
  std::string owner_organization;
};

// Decides `caller`'s `action` on `record` (category outcome, purpose follow_up)
// on `facts` and makes the audit record. A create is writing about the person,
// which the person's owner may, another only with the person's consent.
GuardedAccess DecideOutcomeAccess(const Caller& caller, const OutcomeRecord& record,
                                  AccessAction action, const AccessFacts& facts);

// The denial of a record that is not there, answered as a refused one.
GuardedAccess MissingOutcomeAccess(const Caller& caller, absl::string_view resource,
                                   AccessAction action);

// "entry", "exit", "three_months", "six_months".
std::string StageName(v1::Stage stage);

}  // namespace samplan::surveys

#endif  // SAMPLAN_SERVICES_SURVEYS_SURVEYS_RULES_H_
