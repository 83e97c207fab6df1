#ifndef SAMPLAN_SERVICES_IDENTITY_PG_IDENTITY_REPOSITORY_H_
#define SAMPLAN_SERVICES_IDENTITY_PG_IDENTITY_REPOSITORY_H_

#include <vector>

#include "common/migrations.h"
#include "common/outbox.h"
#include "common/pg.h"
#include "services/identity/identity_repository.h"

namespace samplan::identity {

// The schema the identity service owns.
inline constexpr char kSchema[] = "identity";

// Returns the statements the repository needs prepared on its pool: its own, the
// outbox's and the access rule's (common/access.h).
std::vector<PreparedStatement> IdentityRepositoryStatements(const Outbox& outbox);

// The migration sets applied into kSchema: the identity schema's own
// (migrations/ beside this file) and the outbox's. Every service's database
// needs them: access decisions and audit records go through its functions.
std::vector<MigrationSet> IdentityMigrationSets();

// IdentityRepository over PostgreSQL (schema "identity", migrations/ beside this
// file). The pool must have been created with IdentityRepositoryStatements.
class PgIdentityRepository final : public IdentityRepository {
 public:
  PgIdentityRepository(PgPool& pool, const Outbox& outbox) : pool_(pool), outbox_(outbox) {}

  absl::StatusOr<StoredPerson> CreatePerson(const Caller& caller, const StoredPerson& person,
                                            const events::v1::Event& event) override;
  absl::StatusOr<v1::Person> ReadPerson(const Caller& caller, const PersonKey& key,
                                        const std::string& purpose, PersonView view) override;
  absl::StatusOr<StoredConsent> CreateConsent(const Caller& caller, const StoredConsent& consent,
                                              ConsentEventOf event_of) override;
  absl::StatusOr<StoredConsent> GetConsent(const Caller& caller, const std::string& id) override;
  absl::StatusOr<std::vector<StoredConsent>> ListConsents(const Caller& caller,
                                                          const std::string& person_id,
                                                          std::optional<absl::Time> before_time,
                                                          const std::string& before_id,
                                                          int limit) override;
  absl::StatusOr<StoredConsent> WithdrawConsent(const Caller& caller, const std::string& id,
                                                const std::string& reason,
                                                ConsentEventOf event_of) override;
  absl::StatusOr<AccessDecision> CheckAccess(const Caller& caller, const std::string& person,
                                             const std::string& data_category,
                                             const std::string& purpose) override;
  absl::Status BreakGlass(const Caller& caller, const v1::BreakGlassAccess& access,
                          BreakGlassEventOf event_of) override;
  absl::StatusOr<std::vector<AuditRecord>> ListAccessLog(const Caller& caller,
                                                         const std::string& person_id,
                                                         int64_t before, int limit) override;

  absl::Status Transaction(absl::Time deadline,
                           absl::FunctionRef<absl::Status(IdentityStore&)> work) override;
  absl::Status Read(absl::Time deadline,
                    absl::FunctionRef<absl::Status(IdentityStore&)> work) override;

 private:
  PgPool& pool_;
  const Outbox& outbox_;
};

}  // namespace samplan::identity

#endif  // SAMPLAN_SERVICES_IDENTITY_PG_IDENTITY_REPOSITORY_H_
