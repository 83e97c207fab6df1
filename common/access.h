#ifndef SAMPLAN_COMMON_ACCESS_H_
#define SAMPLAN_COMMON_ACCESS_H_

// Who may read or write a person's data, and the audit record every such attempt
// leaves. One rule for every service:
//
//   1. Only roles that handle personal data (caseworker, placement_coordinator,
//      teacher, partner_system) get any; managers, supervisors and administrators
//      get statistics only. No role bypasses the rest.
//   2. Only within the record's municipality.
//   3. The organization that owns the record may.
//   4. An organization with an active break-glass access for the person and data
//      category may, for its time limit; the audit record says so.
//   5. Otherwise an organization needs an active consent of the person that names
//      it, the data category and the purpose, and — for records with participants,
//      such as plans — it must take part in the record.
//
// The facts for 4 and 5 come from the identity schema, read in the same
// transaction as the data (identity.access_facts), so a consent withdrawn before
// a call starts is never used by it, on any replica. The audit record is appended
// in that transaction too (identity.append_audit): no answer without its record.

#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/auth.h"
#include "absl/types/span.h"
#include "common/outbox.h"
#include "common/pg.h"

namespace samplan {

// The data categories a consent can name.
inline constexpr absl::string_view kDataCategories[] = {
    "plan",        // the shared action plan: goals, sub-goals, activities, notes
    "person",      // name, identity number, date of birth
    "contact",     // address, phone, e-mail
    "health",      // health information
    "attendance",  // attendance at activities
    "placement",   // work practice and prao placements
    "outcome",     // results follow-up: status at entry, exit, +3 and +6 months, survey answers
};
bool IsDataCategory(absl::string_view category);

// The purposes a consent can name.
inline constexpr absl::string_view kPurposes[] = {
    "coordination",  // samordning: the agencies plan and carry out the plan together
    "placement",     // matching to and running a placement
    "follow_up",     // following up after a plan or placement ended
};
bool IsPurpose(absl::string_view purpose);

enum class AccessAction { kRead, kCreate, kUpdate };

// What a caller wants to do with whose data.
struct AccessRequest {
  AccessAction action = AccessAction::kRead;
  // The record ("plans/…", "persons/…"), for the audit trail and the denial.
  std::string resource;
  // The person whose data it is ("persons/…").
  std::string person;
  // The municipality the record belongs to.
  std::string municipality;
  // The organization that owns (leads) the record.
  std::string owner_organization;
  // Whether only organizations in `participant_organizations` may use a consent
  // (plans); records without participants (persons) leave it false.
  bool requires_participation = false;
  std::vector<std::string> participant_organizations;
  std::string data_category;
  std::string purpose;
};

// What the identity schema knows about (caller's organization, person, data
// category, purpose) at the time of the call.
struct AccessFacts {
  // The consent that permits it now, "consents/{id}", or empty.
  std::string consent;
  // An active break-glass access, "breakGlassAccesses/{id}", or empty.
  std::string break_glass;
  // Why no consent permits it: no_consent, category_not_covered,
  // purpose_not_covered, consent_withdrawn, consent_not_yet_valid,
  // consent_expired; empty when one does.
  std::string consent_gap;
  // Where the person is registered and who owns the person's record; empty when
  // the person is not registered.
  std::string person_municipality;
  std::string person_owner;
  // The person's access version when the facts were read (identity raises it with
  // every consent or break-glass change): facts decide an event only when they
  // are at least as new as the version the event was written under.
  int64_t access_version = 0;
};

// The outcome, with what it rests on.
struct AccessDecision {
  bool permitted = false;
  // permit: owner, break_glass, consent; deny: role, other_municipality,
  // not_participant, not_found, person_not_registered, or AccessFacts::consent_gap.
  std::string reason;
  // The consent or break-glass access used, or empty.
  std::string consent;

  bool break_glass() const { return reason == "break_glass"; }
};

// Whether the records of `data_category` name the organizations that take part
// in them (plans): for such a record a consent serves only an organization that
// takes part, even while none does yet. The stream decides by this for events
// as the service does for its reads.
bool RecordsHaveParticipants(absl::string_view data_category);

// Returns whether DecideAccess needs the facts for `request`: not when the
// caller's role, municipality or ownership of the record settles it, as for an
// owner reading its own record — which then costs no identity query.
bool NeedsAccessFacts(const Principal& principal, const AccessRequest& request);

// Decides by the rule above. Pure: the facts are read by ReadAccessFacts.
AccessDecision DecideAccess(const Principal& principal, const AccessRequest& request,
                            const AccessFacts& facts);

// The status a denied caller gets: PERMISSION_DENIED that does not tell whether the
// record exists or why (the audit record keeps the reason), except for a caller
// whose roles handle no personal data at all, which is the caller's own fact.
absl::Status DeniedStatus(absl::string_view resource);
absl::Status RoleDeniedStatus();
absl::Status StatusOf(const AccessDecision& decision, absl::string_view resource);

// Returns whether the principal holds a role that handles personal data.
bool MayHandlePersonalData(const Principal& principal);

// One audit record, as identity.append_audit takes it.
struct AuditEntry {
  absl::Time time;
  std::string municipality;
  std::string actor_user;
  std::string actor_organization;
  std::string action;  // "<service>.<Method>", e.g. "caseplan.GetPlan"
  std::string resource;
  std::string subject_person;  // "persons/…", or empty when no person is known
  std::string data_category;
  std::string purpose;
  std::string consent;
  std::string decision;  // "permit" or "deny"
  std::string reason;
  std::string request_id;
};

// Returns the audit record of `decision` on `request` by `principal`.
AuditEntry AuditOf(const Principal& principal, absl::string_view action,
                   const AccessRequest& request, const AccessDecision& decision,
                   absl::Time time, absl::string_view request_id);

// Who calls a repository, in which call: what an access decision and its audit
// record are about.
struct Caller {
  Principal principal;
  std::string method;  // "<service>.<Method>", e.g. "caseplan.GetPlan"
  std::string request_id;
  absl::Time now;
  absl::Time deadline;
};

// A decision about one record and the audit record it leaves.
struct GuardedAccess {
  AccessDecision decision;
  AuditEntry audit;
};

// Decides `request` for `caller` on `facts` and makes the audit record of it.
GuardedAccess DecideAndAudit(const Caller& caller, const AccessRequest& request,
                             const AccessFacts& facts);

// The denial of a record that does not exist, with its audit record: the same
// answer as for a record the caller may not see ("not_found", or "role" for a
// caller whose roles handle no personal data). `request` names the resource,
// category and purpose; no person is known.
GuardedAccess MissingRecordAccess(const Caller& caller, AccessRequest request);

// Returns OK when the facts place the person in `municipality`, otherwise
// INVALID_ARGUMENT naming `field`: a record about a person needs the person
// registered with the identity service first.
absl::Status CheckPersonRegistered(const AccessFacts& facts, absl::string_view municipality,
                                   absl::string_view field);

// The statements ReadAccessFacts and AppendAudit run; add them to the pool of
// every service that uses them. The identity schema must be migrated.
std::vector<PreparedStatement> AccessStatements();

// Returns what the pool of a repository that decides access and writes events
// prepares: its own statements, the outbox's and AccessStatements().
std::vector<PreparedStatement> RepositoryStatements(absl::Span<const PreparedStatement> own,
                                                    const Outbox& outbox);

// Reads the facts within `tx`.
AccessFacts ReadAccessFacts(pqxx::transaction_base& tx, absl::string_view organization,
                            absl::string_view person, absl::string_view data_category,
                            absl::string_view purpose, absl::Time at);

// Reads facts from a row whose columns from `first` on are those of
// identity.access_facts (consent, break_glass, consent_gap, person_municipality,
// person_owner, access_version), as a query that joins them to its record returns
// them; NULLs (facts the query did not need) read as empty.
AccessFacts AccessFactsFromRow(const pqxx::row& row, int first);

// The columns AccessFactsFromRow reads, for a query to select from the function
// (a macro, so that statements can be string literals).
#define SAMPLAN_ACCESS_FACTS_COLUMNS \
  "consent, break_glass, consent_gap, person_municipality, person_owner, access_version"

// Appends `entry` to the audit log within `tx`: it commits with `tx` or not at all.
void AppendAudit(pqxx::transaction_base& tx, const AuditEntry& entry);

// The statement AuditLog (common/audit_log.h) appends a batch with.
inline constexpr char kAppendAuditBatch[] = "samplan_append_audit_batch";

}  // namespace samplan

#endif  // SAMPLAN_COMMON_ACCESS_H_
