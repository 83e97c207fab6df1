#ifndef SAMPLAN_TESTS_SUPPORT_IDENTITY_STACK_H_
#define SAMPLAN_TESTS_SUPPORT_IDENTITY_STACK_H_

// The identity service running inside the test process over a real database, on a
// free loopback port, wired as main.cc wires it (without the relay), and helpers
// that other services' tests use to register the persons and consents their own
// calls are decided on.

#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "common/auth.h"
#include "common/call.h"
#include "common/clock.h"
#include "common/outbox.h"
#include "common/pg.h"
#include "common/server.h"
#include "samplan/identity/v1/identity.grpc.pb.h"
#include "services/identity/audit_chain.h"
#include "services/identity/identity_crypto.h"
#include "services/identity/identity_service.h"
#include "services/identity/pg_identity_repository.h"
#include "tests/support/served_service.h"

namespace samplan::testing {

// The two keys that protect identity numbers, and the key that seals the audit
// chains (empty: not sealed), as configuration gives them.
struct IdentityKeys {
  std::string encryption_key_base64;
  std::string lookup_key_base64;
  std::string audit_key_base64;
  // Returns three fresh random keys.
  static IdentityKeys Generate();
};

class InProcessIdentity {
 public:
  // Serves identity over `dsn` (already migrated: ApplyIdentityMigrations),
  // trusting `tokens`, with `keys`. `clock` is the time of calls (consent periods,
  // audit times); it must outlive the stack.
  static absl::StatusOr<std::unique_ptr<InProcessIdentity>> Start(
      const std::string& dsn, const TokenVerifierOptions& tokens, const IdentityKeys& keys,
      const Clock& clock = RealClock());

  // Applies the identity schema (and its outbox) to the database at `dsn`. Other
  // services' tests need it too: their access decisions read identity's tables.
  static absl::Status ApplyIdentityMigrations(const std::string& dsn);

  // "127.0.0.1:<port>".
  const std::string& address() const { return served_->address(); }
  // A client stub of this service.
  std::unique_ptr<identity::v1::IdentityService::Stub> NewStub() const;
  // Seals the audit chains now, as the service's seal loop does every few
  // seconds (the stack runs no loop, so a test says when); returns the seals
  // written. FAILED_PRECONDITION without an audit key.
  absl::StatusOr<int> SealAuditChains();

 private:
  InProcessIdentity() = default;
  Outbox outbox_{identity::kSchema};
  std::unique_ptr<identity::IdentityNumberProtector> protector_;
  std::unique_ptr<identity::AuditSealer> sealer_;
  std::unique_ptr<PgPool> pool_;
  std::unique_ptr<identity::PgIdentityRepository> repository_;
  std::unique_ptr<ServedService> served_;
};

// Returns a valid personnummer, twelve digits, of someone born on `birth_date`
// with birth number `serial` (0 to 999); distinct serials give distinct numbers.
std::string TestPersonnummer(absl::CivilDay birth_date, int serial);

// Registers municipality `code` unless it is registered; `admin_token` must carry
// role administrator.
absl::Status EnsureMunicipality(identity::v1::IdentityService::Stub& stub,
                                const std::string& admin_token, const std::string& code);

// Registers organization `id` of `kind` serving `municipality`, unless it exists.
absl::Status EnsureOrganization(identity::v1::IdentityService::Stub& stub,
                                const std::string& admin_token, const std::string& id,
                                identity::v1::OrganizationKind kind,
                                const std::string& municipality = "1885");

// Registers a person owned by the token's organization and returns it (with its
// name, "persons/{uuid}").
absl::StatusOr<identity::v1::Person> CreateTestPerson(
    identity::v1::IdentityService::Stub& stub, const std::string& owner_token,
    const std::string& identity_number, bool protected_identity = false);

// Records a consent of `person` for `grantees` (organization names), `purpose`
// and `categories`, valid from `valid_from` (unset: now) until `valid_until`, by
// the owner.
absl::StatusOr<identity::v1::Consent> GrantTestConsent(
    identity::v1::IdentityService::Stub& stub, const std::string& owner_token,
    const std::string& person, const std::vector<std::string>& grantees,
    const std::string& purpose, const std::vector<std::string>& categories,
    absl::Time valid_until, absl::Time valid_from = absl::InfinitePast());

}  // namespace samplan::testing

#endif  // SAMPLAN_TESTS_SUPPORT_IDENTITY_STACK_H_
