#ifndef SAMPLAN_SERVICES_SURVEYS_PG_SURVEYS_REPOSITORY_H_
#define SAMPLAN_SERVICES_SURVEYS_PG_SURVEYS_REPOSITORY_H_

#include <vector>

#include "common/migrations.h"
#include "common/outbox.h"
#include "common/pg.h"
#include "services/surveys/surveys_repository.h"

namespace samplan::surveys {

// The schema the surveys service owns.
inline constexpr char kSchema[] = "surveys";

// The migration sets applied into kSchema: its own (migrations/) and the
// outbox's.
std::vector<MigrationSet> SurveysMigrationSets();

// The statements the repository needs prepared on its pool (its own, the
// outbox's and the access rule's).
std::vector<PreparedStatement> SurveysRepositoryStatements(const Outbox& outbox);

// Records `status` at `stage` (three or six months), from the person's answers,
// on `person`'s latest outcome record of `activity`, within `tx`: versioned,
// audited as the respondent's (reason "invitation_token") and published as
// surveys.outcome.recorded. Returns false, changing nothing, when there is no
// such record or its exit is not recorded yet.
absl::StatusOr<bool> RecordStatusFromAnswers(pqxx::transaction_base& tx, const Outbox& outbox,
                                             const Caller& caller, const std::string& person,
                                             const std::string& activity, v1::Stage stage,
                                             const v1::OutcomeStatus& status);

// SurveysRepository over PostgreSQL. The pool must have been created with
// SurveysRepositoryStatements, and the identity schema must be migrated (its
// access_facts and append_audit are called here).
class PgSurveysRepository final : public SurveysRepository {
 public:
  PgSurveysRepository(PgPool& pool, const Outbox& outbox) : pool_(pool), outbox_(outbox) {}

  absl::Status InstallShipped(const std::vector<v1::Questionnaire>& shipped,
                              absl::Time deadline) override;
  absl::StatusOr<v1::Questionnaire> CreateQuestionnaire(const std::string& municipality,
                                                        const std::string& id,
                                                        v1::Questionnaire questionnaire,
                                                        absl::Time now,
                                                        absl::Time deadline) override;
  absl::StatusOr<v1::Questionnaire> PublishVersion(const std::string& municipality,
                                                   const std::string& id, const std::string& etag,
                                                   v1::Questionnaire questionnaire, absl::Time now,
                                                   absl::Time deadline) override;
  absl::StatusOr<v1::Questionnaire> GetQuestionnaire(const std::string& municipality,
                                                     const std::string& id, int version,
                                                     absl::Time deadline) override;
  absl::StatusOr<std::vector<v1::Questionnaire>> ListQuestionnaires(
      const std::string& municipality, absl::Time deadline) override;
  absl::StatusOr<v1::Outcome> RecordOutcome(const Caller& caller, const std::string& request_id,
                                            const std::string& fingerprint,
                                            const v1::Outcome& outcome) override;
  absl::StatusOr<v1::Outcome> RecordStatus(const Caller& caller, const std::string& id,
                                           const std::string& etag, v1::Stage stage,
                                           const v1::OutcomeStatus& status) override;
  absl::StatusOr<v1::Outcome> GetOutcome(const Caller& caller, const std::string& id) override;
  absl::StatusOr<std::vector<OutcomeFacts>> LoadOutcomeFacts(const StatisticsQuery& query,
                                                             absl::Time deadline) override;

 private:
  PgPool& pool_;
  const Outbox& outbox_;
};

}  // namespace samplan::surveys

#endif  // SAMPLAN_SERVICES_SURVEYS_PG_SURVEYS_REPOSITORY_H_
