#ifndef SAMPLAN_SERVICES_SURVEYS_SURVEYS_REPOSITORY_H_
#define SAMPLAN_SERVICES_SURVEYS_SURVEYS_REPOSITORY_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/access.h"
#include "samplan/surveys/v1/surveys.pb.h"
#include "services/surveys/statistics.h"

namespace samplan::surveys {

// Which outcome records statistics count: a municipality's, entered within
// [from, to] (either open when unset), of one organization and activity kind
// when set.
struct StatisticsQuery {
  std::string municipality;
  std::optional<absl::CivilDay> from;
  std::optional<absl::CivilDay> to;
  std::string organization;
  v1::ActivityKind activity_kind = v1::ACTIVITY_KIND_UNSPECIFIED;
};

// The storage the handlers call. Questionnaires are no one's personal data;
// outcome records are (category "outcome", purpose "follow_up"), and every read
// and write of one is decided by the access rule and audited in the
// transaction that reads or writes it, with its event — all commit together or
// not at all. A refusal commits its audit record and answers PERMISSION_DENIED.
class SurveysRepository {
 public:
  virtual ~SurveysRepository() = default;

  // Stores `shipped` (version 1 of each, for every municipality) unless there.
  virtual absl::Status InstallShipped(const std::vector<v1::Questionnaire>& shipped,
                                      absl::Time deadline) = 0;
  // Stores version 1 of questionnaire `id`; ALREADY_EXISTS when the id is taken
  // in the municipality or by a shipped one.
  virtual absl::StatusOr<v1::Questionnaire> CreateQuestionnaire(const std::string& municipality,
                                                                const std::string& id,
                                                                v1::Questionnaire questionnaire,
                                                                absl::Time now,
                                                                absl::Time deadline) = 0;
  // Stores the next version; ABORTED when `etag` is set and is not the latest
  // version's; NOT_FOUND when there is none (or it is a shipped one, which
  // cannot change here).
  virtual absl::StatusOr<v1::Questionnaire> PublishVersion(const std::string& municipality,
                                                           const std::string& id,
                                                           const std::string& etag,
                                                           v1::Questionnaire questionnaire,
                                                           absl::Time now,
                                                           absl::Time deadline) = 0;
  // `version` 0: the latest.
  virtual absl::StatusOr<v1::Questionnaire> GetQuestionnaire(const std::string& municipality,
                                                             const std::string& id, int version,
                                                             absl::Time deadline) = 0;
  virtual absl::StatusOr<std::vector<v1::Questionnaire>> ListQuestionnaires(
      const std::string& municipality, absl::Time deadline) = 0;

  // Registers `outcome` (validated) for the caller's organization; idempotent by
  // (organization, request_id) with `fingerprint` telling a retry from a reuse.
  // A named person must be registered in the municipality (INVALID_ARGUMENT
  // naming outcome.person). Publishes surveys.outcome.recorded.
  virtual absl::StatusOr<v1::Outcome> RecordOutcome(const Caller& caller,
                                                    const std::string& request_id,
                                                    const std::string& fingerprint,
                                                    const v1::Outcome& outcome) = 0;
  // Records the status at `stage` (validated) entered by a caseworker;
  // etag-checked when `etag` is set. Publishes surveys.outcome.recorded.
  virtual absl::StatusOr<v1::Outcome> RecordStatus(const Caller& caller, const std::string& id,
                                                   const std::string& etag, v1::Stage stage,
                                                   const v1::OutcomeStatus& status) = 0;
  virtual absl::StatusOr<v1::Outcome> GetOutcome(const Caller& caller, const std::string& id) = 0;

  // What statistics count, no person named: the facts of the records, grouped
  // (OutcomeFacts::count records each).
  virtual absl::StatusOr<std::vector<OutcomeFacts>> LoadOutcomeFacts(const StatisticsQuery& query,
                                                                     absl::Time deadline) = 0;
};

}  // namespace samplan::surveys

#endif  // SAMPLAN_SERVICES_SURVEYS_SURVEYS_REPOSITORY_H_
