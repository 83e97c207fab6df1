#include "common/authorizer.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace samplan {

bool MayHandlePersonalData(const Principal& principal) {
  static constexpr std::string_view kRoles[] = {
      "caseworker", "placement_coordinator", "teacher", "partner_system"};
  return std::any_of(std::begin(kRoles), std::end(kRoles),
                     [&](std::string_view role) { return principal.HasRole(role); });
}

absl::Status DeniedStatus(absl::string_view resource) {
  return absl::PermissionDeniedError(absl::StrCat(
      "permission denied on ", resource,
      " (or it does not exist)"));
}

absl::Status RoleDeniedStatus() {
  return absl::PermissionDeniedError(
      "the caller's roles do not include one that handles personal data (caseworker, "
      "placement_coordinator, teacher, partner_system); managers and administrators see "
      "statistics only");
}

absl::StatusOr<AccessDecision> RecordAuthorizer::Authorize(
    const Principal& principal, const AccessRequest& request) const {
  // The role is the caller's own fact, so saying it is the reason reveals nothing
  // about the resource.
  if (!MayHandlePersonalData(principal)) return RoleDeniedStatus();
  if (principal.municipality != request.municipality) return DeniedStatus(request.resource);
  if (principal.organization == request.owner_organization) return AccessDecision{"owner"};
  if (request.action != AccessAction::kCreate &&
      std::find(request.participant_organizations.begin(),
                request.participant_organizations.end(),
                principal.organization) != request.participant_organizations.end()) {
    return AccessDecision{"participant"};
  }
  return DeniedStatus(request.resource);
}

}  // namespace samplan
