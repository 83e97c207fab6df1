#ifndef SAMPLAN_SERVICES_CASEPLAN_PLAN_RULES_H_
#define SAMPLAN_SERVICES_CASEPLAN_PLAN_RULES_H_

// The decisions of the caseplan service as pure functions: what a valid plan is,
// what an update changes, how new items get ids, how pages continue. No I/O here.

#include <functional>
#include <optional>
#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include <google/protobuf/field_mask.pb.h>

#include "absl/status/statusor.h"
#include "common/ids.h"
#include "absl/time/time.h"
#include "common/access.h"
#include "common/auth.h"
#include "samplan/caseplan/v1/caseplan.pb.h"

namespace samplan::caseplan {

using ::samplan::caseplan::v1::Plan;

// The top-level fields a caller may change, in proto order. "*" in an update mask
// stands for all of them.
const std::vector<std::string>& MutablePlanFields();

// Returns the id of a plan name "plans/{uuid}", or INVALID_ARGUMENT naming `field`.
absl::StatusOr<std::string> PlanIdFromName(absl::string_view name, absl::string_view field);

// The bounds of a plan, generous for a caseworker and small enough that a plan,
// its revisions and a page of either stay far below the largest message
// (common/message_limits.h, 4 MiB) and the database row stays cheap to copy.
//
// The whole plan as stored (its protobuf encoding): 256 KiB, some 250 pages of
// text. A revision is a copy of the plan, so it is bounded too.
inline constexpr size_t kMaxPlanBytes = 256 * 1024;
// The journal's share of it: the UTF-8 bytes of all notes' texts together,
// 192 KiB (some fifty notes of the longest kind, hundreds of ordinary ones). The
// journal is append-only, so a plan whose notes reach this takes no more: a
// follow-on plan continues the work.
inline constexpr size_t kMaxNotesBytes = 192 * 1024;
// The bytes of plans or revisions one page carries, at most: 1 MiB. A page ends
// early, with a next_page_token, when the next item would pass it.
inline constexpr size_t kMaxPageBytes = 1024 * 1024;

// Returns the field violations of a plan about to be stored, with paths under
// "plan." — lengths, counts, dates, enum values, references between goals,
// activities and organizations, and its size: "plan.notes" when the journal
// passes kMaxNotesBytes, "plan" when the whole plan passes kMaxPlanBytes.
absl::Status ValidatePlan(const Plan& plan);

// Returns how many items, of the encoded sizes `sizes` in page order, one page
// carries: as many as fit in kMaxPageBytes together, at least one, at most
// `page_size`.
int ItemsThatFitAPage(const std::vector<size_t>& sizes, int page_size);

// Returns the plan a CreatePlan request asks for: the caller's content with name,
// municipality, lead organization and create time set by the server, ids given to
// goals, sub-goals, activities and notes, and notes stamped with their author. The
// request's `request_id` and `plan.person` are checked here; the rest by
// ValidatePlan. `new_id` makes ids (a UUID generator outside tests).
absl::StatusOr<Plan> PlanForCreate(const v1::CreatePlanRequest& request,
                                   const Principal& caller, absl::Time now,
                                   const std::function<std::string()>& new_id);

// Returns `current` with the fields of `mask` taken from `patch`. Unknown or
// immutable paths in the mask are INVALID_ARGUMENT naming "update_mask". New
// goals, sub-goals and activities without an id get one. Notes are appended, not
// replaced: the journal is append-only (see MergeNotes in plan_rules.cc).
absl::StatusOr<Plan> ApplyUpdate(const Plan& current, const Plan& patch,
                                 const google::protobuf::FieldMask& mask,
                                 const Principal& caller, absl::Time now,
                                 const std::function<std::string()>& new_id);

// Returns the mutable top-level fields whose value differs between the two plans.
std::vector<std::string> ChangedFields(const Plan& before, const Plan& after);


// RequestFingerprint (a request's identity, for retries) is common/ids.h's.

// What plans are to the access rule (common/access.h): the data category "plan"
// for the purpose "coordination".
inline constexpr char kPlanDataCategory[] = "plan";
inline constexpr char kPlanPurpose[] = "coordination";

// The access request for `action` on `plan` (a participant needs a consent too).
AccessRequest PlanAccessRequest(const Plan& plan, AccessAction action);

// Whether deciding `action` on `plan` needs the identity facts (consents, break
// glass, the person's registration): samplan::NeedsAccessFacts, and always for a
// create, which needs the person's registration.
bool NeedsAccessFacts(const Caller& caller, const Plan& plan, AccessAction action);

// Decides `action` on `plan` for `caller` (common/access.h's rule). Creating a
// plan is writing about its person: the organization that registered the person
// may, another only with the person's consent for plans.
GuardedAccess DecidePlanAccess(const Caller& caller, const Plan& plan, AccessAction action,
                               const AccessFacts& facts);

// The denial of a plan that does not exist: the same answer as a hidden one, and
// an audit record that names no person.
GuardedAccess MissingPlanAccess(const Caller& caller, absl::string_view id, AccessAction action);

// Returns the plan with its lead handed over to `to_organization`, which must take
// part in the plan: the old lead becomes a participant, and a note in the journal
// records who handed over to whom and why. Field violations name `to_organization`
// and `reason`.
absl::StatusOr<Plan> HandOver(const Plan& current, absl::string_view to_organization,
                              absl::string_view reason, const Principal& caller, absl::Time now,
                              const std::function<std::string()>& new_id);


}  // namespace samplan::caseplan

#endif  // SAMPLAN_SERVICES_CASEPLAN_PLAN_RULES_H_
