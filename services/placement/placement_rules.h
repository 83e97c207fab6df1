#ifndef SAMPLAN_SERVICES_PLACEMENT_PLACEMENT_RULES_H_
#define SAMPLAN_SERVICES_PLACEMENT_PLACEMENT_RULES_H_

// The decisions of the placement service as pure functions: what valid input
// is, what an update changes, the agreement's lifecycle, who may see an
// agreement or a placement need, and the supply-and-demand table. No I/O here.

#include <google/protobuf/field_mask.pb.h>
#include <google/protobuf/message.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/auth.h"
#include "common/ids.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "common/access.h"
#include "common/auth.h"
#include "common/field_mask.h"
#include "common/status.h"
#include "samplan/placement/v1/placement.pb.h"
#include "services/placement/matching.h"

namespace samplan::placement {

// Agreements and placement needs to the access rule (common/access.h).
inline constexpr char kPlacementDataCategory[] = "placement";
inline constexpr char kPlacementPurpose[] = "placement";

// The least count of people GetSupplyAndDemand shows.
inline constexpr int kSuppressionThreshold = 5;

// IdFromName (the id of "<collection>/{uuid}") is common/ids.h's.

// Returns the day of `time` in UTC.
absl::CivilDay Today(absl::Time time);

// RequestFingerprint (a request's identity, for retries) is common/ids.h's.

// Checks `request_id` (1 to 128 characters), naming "request_id".
void CheckRequestId(absl::string_view request_id, FieldViolations& v);

// Validates an employer as it is to be stored and normalizes it: the
// organisationsnummer to NNNNNN-NNNN (and `sole_trader`), industry to lower
// case, workplaces without an id get one from `new_id`. Violations name
// "employer.…".
absl::Status NormalizeEmployer(v1::Employer& employer, absl::CivilDay today,
                               const std::function<std::string()>& new_id);

// Validates a placement as it is to be stored (its employer resolved,
// `employer` given), and copies the employer's industry and the workplace's
// location into it. Violations name "placement.…".
absl::Status NormalizePlacement(v1::Placement& placement, const v1::Employer& employer);

// Validates a matching profile; violations name `prefix` + ".…".
void ValidateProfile(const v1::MatchProfile& profile, absl::string_view prefix, FieldViolations& v);

// Validates a contact to log at `now`, setting its time to now when unset.
absl::Status NormalizeContact(v1::Contact& contact, absl::Time now);

// The fields of an employer and of a placement that an update may change, and
// those the server sets (ignored in an update mask). A placement's employer
// cannot be changed.
const UpdatableFields& EmployerFields();
const UpdatableFields& PlacementFields();

// ---- Agreements

// Validates the agreement a CreateAgreement asks for, against its placement,
// and returns it as it is to be stored: PROPOSED, owned by the caller's
// organization, the employer copied from the placement, follow-ups every 30
// days when unset.
absl::StatusOr<v1::Agreement> AgreementForCreate(const v1::CreateAgreementRequest& request,
                                                 const v1::Placement& placement,
                                                 const Principal& caller);

// Whether an agreement of `status` holds a seat of its placement.
bool HoldsSeat(v1::AgreementStatus status);

// One step of the lifecycle: the agreement after it and the event that
// announces it.
struct AgreementStep {
  v1::Agreement agreement;
  std::string event_type;  // "placement.agreement.signed", …
};

// The steps. Each returns FAILED_PRECONDITION naming the status when the
// agreement's status does not allow it, INVALID_ARGUMENT naming the request
// field when the input is wrong; `now` stamps signatures and gives today's
// date.
absl::StatusOr<AgreementStep> RecordVisit(const v1::Agreement& current,
                                          const google::type::Date& visit_date, absl::Time now);
// Records `party`'s signature as recorded by `recorder` (the caller).
absl::StatusOr<AgreementStep> Sign(const v1::Agreement& current, v1::Party party,
                                   const Principal& recorder, absl::Time now);
absl::StatusOr<AgreementStep> Start(const v1::Agreement& current, absl::Time now);
absl::StatusOr<AgreementStep> Complete(const v1::Agreement& current, v1::Outcome outcome,
                                       absl::string_view note, absl::Time now);
absl::StatusOr<AgreementStep> End(const v1::Agreement& current, v1::EndReason reason,
                                  v1::Outcome outcome, absl::string_view note, absl::Time now);

// Returns FAILED_PRECONDITION unless `placement` has a seat for `agreement`'s
// period beside the seats `taken` by other signed or active agreements.
absl::Status CheckSeatFree(const v1::Placement& placement, absl::Span<const DayRange> taken,
                           const v1::Agreement& agreement);

// ---- Access to personal data (agreements, placement needs)

// Who asks, in which call: what the decision and its audit record are about.
// A personal record of the service: an agreement or a placement need.
struct PersonalRecord {
  std::string resource;  // "agreements/{id}"
  std::string person;
  std::string municipality;
  std::string owner_organization;
};

// Decides `action` on `record` by common/access.h's rule, with its audit
// record. Creating is writing about the person: the organization that
// registered the person may, another only with the person's consent for
// "placement" — so for kCreate the owner is the person's owner from `facts`.
GuardedAccess DecideRecordAccess(const Caller& caller, const PersonalRecord& record,
                                 AccessAction action, const AccessFacts& facts);

// The denial of a record that does not exist: the same answer as a hidden one.
GuardedAccess MissingPlacementRecordAccess(const Caller& caller, absl::string_view resource,
                                           AccessAction action);

// ---- Supply and demand

// An open placement for the table: its seats and the periods agreements hold.
struct SupplyInput {
  const v1::Placement* placement = nullptr;
  std::vector<DayRange> taken;
};

// Returns the table for `municipality` over the months from `from` to `to`: per
// (kind, industry, month), the seats of open placements free throughout the
// part of the month they are available, and the waiting needs whose period
// overlaps the month, counted under each kind they want
// (a need naming no kind counts as work practice) and each industry they name
// ("" when none). Waiting counts of 1 to 4 are left out, and so is the gap they
// would give away; a cell with no open seat and such a count is left out whole,
// since its presence would tell. Cells with nothing in them are left out; the rest are
// ordered by month, kind, industry.
v1::SupplyAndDemand SupplyAndDemandTable(absl::string_view municipality,
                                         absl::Span<const SupplyInput> supply,
                                         absl::Span<const v1::MatchProfile> waiting,
                                         absl::CivilMonth from, absl::CivilMonth to);

}  // namespace samplan::placement

#endif  // SAMPLAN_SERVICES_PLACEMENT_PLACEMENT_RULES_H_
