// samplan-identity: municipalities, organizations, users, persons, consents and the
// audit log. Wiring only; the modes (serve, --migrate-only, --relay-only) are
// common/service_main.h's.
//
// Configuration comes from environment variables (docs/configuration.md), plus
// SAMPLAN_IDENTITY_ENCRYPTION_KEY and SAMPLAN_IDENTITY_LOOKUP_KEY: two different
// 32-byte keys in standard base64 that protect personal identity numbers at rest;
// and SAMPLAN_IDENTITY_AUDIT_KEY, a third, that seals the audit chains.

#include <optional>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/service_main.h"
#include "services/identity/audit_sealing.h"
#include "services/identity/identity_crypto.h"
#include "services/identity/identity_service.h"
#include "services/identity/pg_identity_repository.h"

namespace {

using namespace samplan;

// How the audit chains are sealed: with the key, and how often.
struct AuditSealing {
  std::optional<identity::AuditSealer> sealer;
  absl::Duration interval;
};

class IdentityParts final : public ServingParts {
 public:
  IdentityParts(PgPool& pool, const Outbox& outbox, const CallHandler& calls,
                const identity::IdentityNumberProtector& protector, const AuditSealing& sealing)
      : repository_(pool, outbox),
        service_(repository_, protector, calls, sealing.sealer ? &*sealing.sealer : nullptr) {
    if (sealing.sealer) {
      seal_loop_.emplace(repository_, *sealing.sealer, sealing.interval);
    }
  }
  std::vector<grpc::Service*> services() override { return {&service_}; }

 private:
  identity::PgIdentityRepository repository_;
  identity::IdentityService service_;
  std::optional<identity::AuditSealLoop> seal_loop_;
};

// Reads the two keys; a problem names which key is wrong, never its value.
void ReadKeys(EnvReader& env, std::optional<identity::IdentityNumberProtector>& protector) {
  const std::string encryption_key = env.RequiredString("SAMPLAN_IDENTITY_ENCRYPTION_KEY");
  const std::string lookup_key = env.RequiredString("SAMPLAN_IDENTITY_LOOKUP_KEY");
  if (encryption_key.empty() || lookup_key.empty()) return;
  absl::StatusOr<identity::IdentityNumberProtector> made =
      identity::MakeIdentityNumberProtector(encryption_key, lookup_key);
  if (made.ok()) {
    protector.emplace(*std::move(made));
  } else {
    env.AddProblem(absl::StrCat("SAMPLAN_IDENTITY_ENCRYPTION_KEY / SAMPLAN_IDENTITY_LOOKUP_KEY: ",
                                made.status().message()));
  }
}

// Reads the key that seals the audit chains. Without it the chains are still
// hash chains, which the tables' owner could recompute: said once at start.
void ReadAuditSealing(EnvReader& env, AuditSealing& sealing) {
  sealing.interval =
      env.Duration("SAMPLAN_IDENTITY_AUDIT_SEAL_INTERVAL", absl::Seconds(5), absl::Seconds(1));
  const std::string key = env.String("SAMPLAN_IDENTITY_AUDIT_KEY", "");
  if (key.empty()) {
    Log(LogLevel::kWarning,
        "SAMPLAN_IDENTITY_AUDIT_KEY is not set: the audit chains are not sealed, so the "
        "owner of the identity tables could rewrite them undetected");
    return;
  }
  absl::StatusOr<identity::AuditSealer> sealer = identity::AuditSealer::Make(key);
  if (sealer.ok()) {
    sealing.sealer.emplace(*std::move(sealer));
  } else {
    env.AddProblem(absl::StrCat("SAMPLAN_IDENTITY_AUDIT_KEY: ", sealer.status().message()));
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::optional<identity::IdentityNumberProtector> protector;
  AuditSealing sealing;
  ServiceDefinition identity;
  identity.name = "identity";
  identity.schema = identity::kSchema;
  identity.migrations = identity::IdentityMigrationSets();
  identity.read_config = [&](EnvReader& env) {
    ReadKeys(env, protector);
    ReadAuditSealing(env, sealing);
  };
  identity.statements = identity::IdentityRepositoryStatements;
  identity.build = [&](PgPool& pool, const Outbox& outbox, const CallHandler& calls)
      -> absl::StatusOr<std::unique_ptr<ServingParts>> {
    return std::make_unique<IdentityParts>(pool, outbox, calls, *protector, sealing);
  };
  return ServiceMain(argc, argv, identity);
}
