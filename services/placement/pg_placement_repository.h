#ifndef SAMPLAN_SERVICES_PLACEMENT_PG_PLACEMENT_REPOSITORY_H_
#define SAMPLAN_SERVICES_PLACEMENT_PG_PLACEMENT_REPOSITORY_H_

#include <vector>

#include "common/migrations.h"
#include "common/outbox.h"
#include "common/pg.h"
#include "services/placement/placement_repository.h"

namespace samplan::placement {

// The schema the placement service owns.
inline constexpr char kSchema[] = "placement";

// The migration sets applied into kSchema: its own (migrations/) and the
// outbox's.
std::vector<MigrationSet> PlacementMigrationSets();

// The statements the repository needs prepared on its pool (its own, the
// outbox's and the access rule's).
std::vector<PreparedStatement> PlacementRepositoryStatements(const Outbox& outbox);

// PlacementRepository over PostgreSQL. The pool must have been created with
// PlacementRepositoryStatements, and the identity schema must be migrated (its
// access_facts and append_audit are called here).
//
// Defined in two files: pg_placement_repository.cc, the bank (employers, their
// contact log, placements), which is no one's personal data; and
// pg_needs_and_agreements.cc, placement needs and agreements, the personal data
// whose every read and write the access rule decides. pg_placement_rows.h is
// what they share.
class PgPlacementRepository final : public PlacementRepository {
 public:
  PgPlacementRepository(PgPool& pool, const Outbox& outbox) : pool_(pool), outbox_(outbox) {}

  absl::StatusOr<v1::Employer> CreateEmployer(const CreateMeta& meta,
                                              const v1::Employer& employer) override;
  absl::StatusOr<v1::Employer> GetEmployer(const std::string& municipality, const std::string& id,
                                           absl::Time deadline) override;
  absl::StatusOr<std::vector<v1::Employer>> ListEmployers(const std::string& municipality,
                                                          const std::string& industry,
                                                          const std::optional<NameKey>& after,
                                                          int limit, absl::Time deadline) override;
  absl::StatusOr<v1::Employer> UpdateEmployer(const std::string& municipality,
                                              const std::string& id, absl::Time time,
                                              absl::Time deadline,
                                              const EmployerChange& change) override;
  absl::StatusOr<v1::Contact> LogContact(const std::string& municipality,
                                         const std::string& employer_id, const v1::Contact& contact,
                                         absl::Time deadline) override;
  absl::StatusOr<std::vector<v1::Contact>> ListContacts(const std::string& municipality,
                                                        const std::string& employer_id,
                                                        const std::optional<TimeKey>& before,
                                                        int limit, absl::Time deadline) override;
  absl::StatusOr<std::vector<v1::Employer>> ListColdEmployers(const std::string& municipality,
                                                              absl::Time cutoff, int limit,
                                                              absl::Time deadline) override;
  absl::StatusOr<v1::Placement> CreatePlacement(const CreateMeta& meta,
                                                const std::string& employer_id,
                                                const PlacementBuild& build) override;
  absl::StatusOr<v1::Placement> GetPlacement(const std::string& municipality, const std::string& id,
                                             absl::Time deadline) override;
  absl::StatusOr<std::vector<v1::Placement>> ListPlacements(const PlacementQuery& query,
                                                            absl::Time deadline) override;
  absl::StatusOr<v1::Placement> UpdatePlacement(const std::string& municipality,
                                                const std::string& id, absl::Time time,
                                                absl::Time deadline,
                                                const PlacementChange& change) override;
  absl::StatusOr<Bank> LoadOpenPlacements(const std::string& municipality,
                                          absl::Time deadline) override;
  absl::StatusOr<v1::PlacementNeed> CreateNeed(const Caller& caller,
                                               const CreateMeta& meta,
                                               const v1::PlacementNeed& need) override;
  absl::StatusOr<v1::PlacementNeed> GetNeed(const Caller& caller,
                                            const std::string& id) override;
  absl::StatusOr<std::vector<v1::MatchProfile>> ListWaitingProfiles(const std::string& municipality,
                                                                    absl::Time deadline) override;
  absl::StatusOr<v1::Agreement> CreateAgreement(const Caller& caller,
                                                const CreateMeta& meta,
                                                const std::string& placement_id,
                                                const AgreementBuild& build) override;
  absl::StatusOr<v1::Agreement> GetAgreement(const Caller& caller,
                                             const std::string& id) override;
  absl::StatusOr<std::vector<v1::Agreement>> ListAgreements(const Caller& caller,
                                                            const std::string& status,
                                                            const std::optional<TimeKey>& before,
                                                            int limit) override;
  absl::StatusOr<v1::Agreement> StepAgreement(const Caller& caller, const std::string& id,
                                              const std::string& etag,
                                              const AgreementStepFn& step) override;

 private:
  PgPool& pool_;
  const Outbox& outbox_;
};

}  // namespace samplan::placement

#endif  // SAMPLAN_SERVICES_PLACEMENT_PG_PLACEMENT_REPOSITORY_H_
