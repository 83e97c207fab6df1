#ifndef SAMPLAN_COMMON_AUTHORIZER_H_
#define SAMPLAN_COMMON_AUTHORIZER_H_

// The authorization hook every service asks before it reads or writes personal
// data. The rule here is record ownership; the identity service's consent check
// plugs in as another Authorizer without changing the services.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/auth.h"

namespace samplan {

enum class AccessAction { kRead, kCreate, kUpdate };

// What a caller wants to do with whose data.
struct AccessRequest {
  AccessAction action = AccessAction::kRead;
  // The resource, for the audit trail and the denial message ("plans/…").
  std::string resource;
  // The person whose data it is ("persons/…").
  std::string person;
  // The municipality the record belongs to.
  std::string municipality;
  // The organization that owns (leads) the record.
  std::string owner_organization;
  // Organizations taking part in the record.
  std::vector<std::string> participant_organizations;
  // The data category ("plan", "health", "placement", …) and purpose.
  std::string data_category;
  std::string purpose;
};

// Why access was granted.
struct AccessDecision {
  // "owner", "participant", or later "consent:consents/{id}".
  std::string basis;
};

// Roles that may handle personal data; managers and administrators may not (they
// get statistics only), and no role bypasses the record rule.
bool MayHandlePersonalData(const Principal& principal);

class Authorizer {
 public:
  virtual ~Authorizer() = default;
  // Returns the basis of access, or PERMISSION_DENIED with a message that does not
  // reveal whether the resource exists.
  virtual absl::StatusOr<AccessDecision> Authorize(const Principal& principal,
                                                   const AccessRequest& request) const = 0;
};

// Grants access to the owning organization and to participating organizations of
// the same municipality, for callers whose role handles personal data.
class RecordAuthorizer final : public Authorizer {
 public:
  absl::StatusOr<AccessDecision> Authorize(const Principal& principal,
                                           const AccessRequest& request) const override;
};

// Returns the PERMISSION_DENIED status used for every denial of `resource`, the same
// whether the resource is missing or hidden.
absl::Status DeniedStatus(absl::string_view resource);

// Returns the PERMISSION_DENIED status for a caller whose roles may not handle
// personal data at all.
absl::Status RoleDeniedStatus();

}  // namespace samplan

#endif  // SAMPLAN_COMMON_AUTHORIZER_H_
