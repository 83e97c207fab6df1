#include "tests/support/service_roles.h"

#include <pqxx/pqxx>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "common/pg.h"

namespace samplan::testing {

absl::StatusOr<std::string> ServiceRoleDsn(const std::string& dsn, absl::string_view service) {
  const std::string role = absl::StrCat("samplan_", service);
  const std::string login = absl::StrCat("samplan_test_", service, "_login");
  if (!IsPlainIdentifier(login)) {
    return absl::InvalidArgumentError(absl::StrCat("bad service name \"", service, "\""));
  }
  if (dsn.find(" user=postgres ") == std::string::npos) {
    return absl::InvalidArgumentError("the DSN does not log in as user postgres");
  }
  try {
    pqxx::connection connection(dsn);
    pqxx::nontransaction tx(connection);
    if (tx.exec_params("SELECT 1 FROM pg_roles WHERE rolname = $1", role).empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat("role ", role, " is missing: migrate the identity schema first"));
    }
    // Roles belong to the cluster: a login made for an earlier test's database serves.
    if (tx.exec_params("SELECT 1 FROM pg_roles WHERE rolname = $1", login).empty()) {
      tx.exec(absl::StrCat("CREATE ROLE ", login, " LOGIN IN ROLE ", role));
    }
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("making the login of ", role, ": ", e.what()));
  }
  return absl::StrReplaceAll(dsn, {{" user=postgres ", absl::StrCat(" user=", login, " ")}});
}

}  // namespace samplan::testing
