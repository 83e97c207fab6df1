#ifndef SAMPLAN_SERVICES_PLACEMENT_PLACEMENT_REPOSITORY_H_
#define SAMPLAN_SERVICES_PLACEMENT_PLACEMENT_REPOSITORY_H_

// Storage of the placement bank, the placement needs and the agreements. The
// service decides what a change is; the repository stores it in one
// transaction. Calls on personal data (needs, agreements) read the identity
// facts and append the audit record in that same transaction, denials included:
// a denied call commits its audit record and then returns PERMISSION_DENIED.
// Every agreement step writes its outbox event in the transaction of the step.

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "samplan/placement/v1/placement.pb.h"
#include "services/placement/matching.h"
#include "services/placement/placement_rules.h"

namespace samplan::placement {

// What every create carries: who, when, and the idempotency key.
struct CreateMeta {
  std::string municipality;
  std::string organization;
  std::string user;
  std::string request_id;
  std::string fingerprint;  // RequestFingerprint of the request
  absl::Time time;
  absl::Time deadline;
};

// The open placements of a municipality with the periods their seats are taken,
// as matching, allocation and statistics need them.
struct Bank {
  std::vector<v1::Placement> placements;
  // By placement name.
  std::map<std::string, std::vector<DayRange>, std::less<>> taken;
};

// Where the previous page of a list ended, as its page token holds it: the sort
// key of the page's last row. Lists page by it (keyset), never by an offset, so
// rows added or removed between two pages neither repeat nor vanish.
struct NameKey {  // lists ordered by display name, then id
  std::string display_name;
  std::string id;
};
struct TimeKey {  // lists ordered by a time, then id
  absl::Time time;
  std::string id;
};

class PlacementRepository {
 public:
  virtual ~PlacementRepository() = default;

  // ---- Employers (not personal data; scoped to the municipality)

  // Stores a new employer, or returns the one this organization created with
  // the same request id (INVALID_ARGUMENT naming request_id when its request
  // differed). ALREADY_EXISTS naming the organisationsnummer's field when the
  // municipality's bank has it.
  virtual absl::StatusOr<v1::Employer> CreateEmployer(const CreateMeta& meta,
                                                      const v1::Employer& employer) = 0;
  // NOT_FOUND when the municipality has no employer `id`.
  virtual absl::StatusOr<v1::Employer> GetEmployer(const std::string& municipality,
                                                   const std::string& id, absl::Time deadline) = 0;
  // At most `limit` employers (of `industry` when not empty) by display name,
  // then id, after `after` when given.
  virtual absl::StatusOr<std::vector<v1::Employer>> ListEmployers(
      const std::string& municipality, const std::string& industry,
      const std::optional<NameKey>& after, int limit, absl::Time deadline) = 0;
  // The employer as it is to be after an update, or nothing when unchanged; it
  // gets the workplace ids the employer's placements use, which must stay.
  using EmployerChange = std::function<absl::StatusOr<std::optional<v1::Employer>>(
      const v1::Employer& current, const std::vector<std::string>& workplaces_in_use)>;
  // Locks the employer, runs `change`, stores its result as the next version.
  virtual absl::StatusOr<v1::Employer> UpdateEmployer(const std::string& municipality,
                                                      const std::string& id, absl::Time time,
                                                      absl::Time deadline,
                                                      const EmployerChange& change) = 0;
  // Appends a contact and moves the employer's last contact time.
  virtual absl::StatusOr<v1::Contact> LogContact(const std::string& municipality,
                                                 const std::string& employer_id,
                                                 const v1::Contact& contact,
                                                 absl::Time deadline) = 0;
  // At most `limit` contacts of the employer, newest first (by contact time,
  // then id), before `before` when given. NOT_FOUND when the municipality has no
  // such employer.
  virtual absl::StatusOr<std::vector<v1::Contact>> ListContacts(
      const std::string& municipality, const std::string& employer_id,
      const std::optional<TimeKey>& before, int limit, absl::Time deadline) = 0;
  // Employers without contact (or, never contacted, registered) before
  // `cutoff`, longest ago first.
  virtual absl::StatusOr<std::vector<v1::Employer>> ListColdEmployers(
      const std::string& municipality, absl::Time cutoff, int limit, absl::Time deadline) = 0;

  // ---- Placements (not personal data)

  // Builds the placement from its employer (locked while it is stored) and
  // stores it; idempotent as CreateEmployer. NOT_FOUND naming the employer when
  // missing.
  using PlacementBuild = std::function<absl::StatusOr<v1::Placement>(const v1::Employer& employer)>;
  virtual absl::StatusOr<v1::Placement> CreatePlacement(const CreateMeta& meta,
                                                        const std::string& employer_id,
                                                        const PlacementBuild& build) = 0;
  // The placement with its industry, location and seats taken filled in.
  virtual absl::StatusOr<v1::Placement> GetPlacement(const std::string& municipality,
                                                     const std::string& id,
                                                     absl::Time deadline) = 0;
  // Placements by create time, then id; filters that are empty match all.
  struct PlacementQuery {
    std::string municipality, employer_id, kind, status;
    std::optional<TimeKey> after;  // (create_time, id) of the previous page's last
    int limit = 25;
  };
  virtual absl::StatusOr<std::vector<v1::Placement>> ListPlacements(const PlacementQuery& query,
                                                                    absl::Time deadline) = 0;
  // The placement after an update, given it (locked), its employer and the
  // periods of the agreements that hold its seats; nothing when unchanged.
  using PlacementChange = std::function<absl::StatusOr<std::optional<v1::Placement>>(
      const v1::Placement& current, const v1::Employer& employer,
      const std::vector<DayRange>& taken)>;
  virtual absl::StatusOr<v1::Placement> UpdatePlacement(const std::string& municipality,
                                                        const std::string& id, absl::Time time,
                                                        absl::Time deadline,
                                                        const PlacementChange& change) = 0;
  // Every open placement of the municipality, with the seats taken.
  virtual absl::StatusOr<Bank> LoadOpenPlacements(const std::string& municipality,
                                                  absl::Time deadline) = 0;

  // ---- Placement needs (personal data)

  // Stores a need for `need.person`, who must be registered in the municipality
  // (INVALID_ARGUMENT naming placement_need.person otherwise), if the caller
  // may write about the person; idempotent by the meta's request id.
  virtual absl::StatusOr<v1::PlacementNeed> CreateNeed(const Caller& caller,
                                                       const CreateMeta& meta,
                                                       const v1::PlacementNeed& need) = 0;
  // The need if the caller may read it; PERMISSION_DENIED otherwise or if
  // missing.
  virtual absl::StatusOr<v1::PlacementNeed> GetNeed(const Caller& caller,
                                                    const std::string& id) = 0;
  // The profiles of everyone waiting in the municipality, for counts only: they
  // never leave the service.
  virtual absl::StatusOr<std::vector<v1::MatchProfile>> ListWaitingProfiles(
      const std::string& municipality, absl::Time deadline) = 0;

  // ---- Agreements (personal data)

  // Builds the agreement from its placement and stores it with its event
  // (placement.agreement.proposed), if the caller may write about the person,
  // who must be registered in the municipality; idempotent by the meta's
  // request id.
  using AgreementBuild =
      std::function<absl::StatusOr<v1::Agreement>(const v1::Placement& placement)>;
  virtual absl::StatusOr<v1::Agreement> CreateAgreement(const Caller& caller,
                                                        const CreateMeta& meta,
                                                        const std::string& placement_id,
                                                        const AgreementBuild& build) = 0;
  virtual absl::StatusOr<v1::Agreement> GetAgreement(const Caller& caller,
                                                     const std::string& id) = 0;
  // At most `limit` agreements the caller's organization owns in the caller's
  // municipality (of `status` when not empty), newest first (by create time,
  // then id), before `before` when given; each read is decided and audited.
  virtual absl::StatusOr<std::vector<v1::Agreement>> ListAgreements(
      const Caller& caller, const std::string& status, const std::optional<TimeKey>& before,
      int limit) = 0;
  // One lifecycle step: locks the agreement, decides the caller's access
  // (update), checks `etag` when given (ABORTED when stale), runs `step`; when
  // the step makes it SIGNED, locks the placement and takes a seat
  // (FAILED_PRECONDITION when none is free) and marks the person's waiting
  // needs placed. Stores the next version with the step's event.
  using AgreementStepFn =
      std::function<absl::StatusOr<AgreementStep>(const v1::Agreement& current)>;
  virtual absl::StatusOr<v1::Agreement> StepAgreement(const Caller& caller,
                                                      const std::string& id,
                                                      const std::string& etag,
                                                      const AgreementStepFn& step) = 0;
};

}  // namespace samplan::placement

#endif  // SAMPLAN_SERVICES_PLACEMENT_PLACEMENT_REPOSITORY_H_
