#ifndef SAMPLAN_SERVICES_IDENTITY_IDENTITY_RULES_H_
#define SAMPLAN_SERVICES_IDENTITY_IDENTITY_RULES_H_

// The identity service's decisions as pure functions: validation of requests, the
// state of a consent at a time, who may see a consent record, who may break the
// glass, and the text forms enums are stored in. The access rule itself is
// common/access.h's DecideAccess, shared by every service.

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "common/access.h"
#include "common/auth.h"
#include "common/field_mask.h"
#include "common/ids.h"
#include "google/protobuf/field_mask.pb.h"
#include "google/protobuf/message.h"
#include "samplan/identity/v1/identity.pb.h"

namespace samplan::identity {

// The roles a membership can hold.
inline constexpr absl::string_view kRoles[] = {
    "caseworker", "placement_coordinator", "teacher",   "manager",
    "administrator", "partner_system",     "supervisor"};
bool IsRole(absl::string_view role);

// Returns whether `id` is a caller-chosen id of an organization or user:
// 2 to 63 characters of [a-z0-9-].
bool IsCallerChosenId(absl::string_view id);


// Returns whether `id` is a caller's request id: 1 to 100 of [A-Za-z0-9_-].
bool IsRequestId(absl::string_view id);

// The text forms the database stores ("social_services", "guardian", "oral");
// unknown text maps to the UNSPECIFIED value.
std::string OrganizationKindText(v1::OrganizationKind kind);
v1::OrganizationKind OrganizationKindFromText(absl::string_view text);
std::string ConsentGiverText(v1::ConsentGiver giver);
v1::ConsentGiver ConsentGiverFromText(absl::string_view text);
std::string ConsentMethodText(v1::ConsentMethod method);
v1::ConsentMethod ConsentMethodFromText(absl::string_view text);

// Checks a municipality to register; INVALID_ARGUMENT naming the fields.
absl::Status ValidateMunicipality(const v1::Municipality& municipality);

// Checks an organization's fields (`prefix` is the request field, "organization");
// INVALID_ARGUMENT naming each invalid field.
absl::Status ValidateOrganization(const v1::Organization& organization,
                                  absl::string_view prefix);

// The fields of an organization UpdateOrganization may change, in the order its
// events name them.
const std::vector<std::string>& UpdatableOrganizationFields();

// Returns `current` with the fields `mask` names replaced by their values in
// `patch`, by the one rule for masks (common/field_mask.h): "*" is every field
// UpdateOrganization may change (display_name, kind, description,
// municipalities), output-only fields are ignored, anything else is refused
// naming update_mask. Does not validate the result.
absl::StatusOr<v1::Organization> ApplyOrganizationUpdate(const v1::Organization& current,
                                                         const v1::Organization& patch,
                                                         const google::protobuf::FieldMask& mask);


// Whether caseworkers of an organization of `kind` may break the glass
// (SOCIAL_SERVICES and HEALTH_CARE): the access rule trusts this, so it is given
// at registration and never gained by an update.
bool KindMayBreakTheGlass(v1::OrganizationKind kind);

// Returns why an administrator acting in `municipality` may not change
// `current` into `next`, or an empty string when it may. The rule protects what
// others rely on:
//   kind_widens_break_glass   the new kind may break the glass and the old one
//                             may not;
//   shared_organization_kind  the kind of an organization that also serves
//                             other municipalities (theirs to rely on);
//   other_municipality        a municipality other than the caller's own added
//                             to or removed from the organization.
std::string OrganizationChangeRefusal(const v1::Organization& current,
                                      const v1::Organization& next,
                                      absl::string_view municipality);

// Checks a user to register; INVALID_ARGUMENT naming the fields.
absl::Status ValidateUser(const v1::User& user);

// Checks the fields of a person to register other than the identity number;
// INVALID_ARGUMENT naming the fields ("person.given_name", ...).
absl::Status ValidatePersonFields(const v1::Person& person);

// Returns `purpose`, or "coordination" when empty; INVALID_ARGUMENT naming
// `field` when it is not a purpose of common/access.h.
absl::StatusOr<std::string> PurposeOrDefault(absl::string_view purpose, absl::string_view field);

// Checks a consent to record at `now`, everything but the guardian rule (which
// needs the person): person name, grantees, purpose, categories, period, giver,
// guardian name, method. INVALID_ARGUMENT naming each field
// ("consent.data_categories[1]"). `valid_from` unset means `now`.
absl::Status ValidateNewConsent(const v1::Consent& consent, absl::Time now);

// Returns the person's age in whole years on `day`.
int AgeOn(absl::CivilDay birth_date, absl::CivilDay day);

// Checks that a person under 18 on the consent's first day has a guardian's
// consent; INVALID_ARGUMENT naming consent.given_by otherwise.
absl::Status CheckGuardianRule(const v1::Consent& consent, absl::CivilDay birth_date,
                               absl::Time valid_from);

// Returns where `consent` stands at `now`.
v1::ConsentState ConsentStateAt(const v1::Consent& consent, absl::Time now);

// Decides whether `principal` may see consent records of a person: the access
// rule (DecideAccess without consent facts: owner only), and besides it a grantee
// named in `grantees`, with reason "grantee" — so that an organization sees the
// consent that names it, also once withdrawn or expired. A withdrawal (kUpdate)
// by a grantee is permitted only when the consent names it alone; otherwise it
// is refused with reason "other_grantees", since it would end the consent for
// the others too.
AccessDecision DecideConsentAccess(const Principal& principal, const AccessRequest& request,
                                   const std::vector<std::string>& grantees);

// The default and longest duration of a break-glass access.
inline constexpr absl::Duration kDefaultBreakGlassDuration = absl::Hours(1);
inline constexpr absl::Duration kMaxBreakGlassDuration = absl::Hours(4);

// Checks a break-glass request and returns its duration; INVALID_ARGUMENT naming
// person, data_category, reason (20 to 1000 characters) or duration.
absl::StatusOr<absl::Duration> ValidateBreakGlass(const v1::BreakGlassRequest& request);

// Returns why `principal` may not break the glass for a person registered in
// `person_municipality`, or an empty string when it may: the role must be
// caseworker, the caller's organization (`organization`, null when unregistered)
// of kind SOCIAL_SERVICES or HEALTH_CARE and serving the person's municipality,
// and the caller acting in that municipality.
std::string BreakGlassRefusal(const Principal& principal, const v1::Organization* organization,
                              absl::string_view person_municipality);

// The reason CheckAccess tells the caller: the decision's, except that it does not
// reveal whether an unreachable person exists (not_found, other_municipality →
// no_consent).
std::string CallerVisibleReason(const AccessDecision& decision);

// Returns the id of a "persons/{uuid}" name, or empty when it is not one.
std::string PersonIdOf(absl::string_view name);

}  // namespace samplan::identity

#endif  // SAMPLAN_SERVICES_IDENTITY_IDENTITY_RULES_H_
