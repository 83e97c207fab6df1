#ifndef SAMPLAN_TESTS_SUPPORT_SERVICE_ROLES_H_
#define SAMPLAN_TESTS_SUPPORT_SERVICE_ROLES_H_

// Logins of the services' database roles (samplan_<service>, identity migration
// 0007), so that a test runs a service as it runs in production: as a member of
// its role, owning nothing, and not as the superuser that migrated the schemas.

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace samplan::testing {

// Returns `dsn` (a DSN of this suite's PostgresServer, user postgres) with the
// user replaced by a login that is a member of samplan_<service> and of nothing
// else, creating the login when it is missing. The identity schema must be
// migrated (it creates the roles).
absl::StatusOr<std::string> ServiceRoleDsn(const std::string& dsn, absl::string_view service);

}  // namespace samplan::testing

#endif  // SAMPLAN_TESTS_SUPPORT_SERVICE_ROLES_H_
