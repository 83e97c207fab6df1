// samplan-surveys: questionnaires, the results follow-up (SUS) and the funders'
// statistics. Wiring only; the modes (serve, --migrate-only, --relay-only) are
// common/service_main.h's.
//
// Configuration comes from environment variables: docs/configuration.md. The
// identity schema must be migrated first: access decisions and audit records on
// outcome records go through its SQL functions.

#include "common/service_main.h"
#include "services/surveys/pg_surveys_repository.h"
#include "services/surveys/questionnaire_rules.h"
#include "services/surveys/statistics.h"
#include "services/surveys/surveys_service.h"

namespace {

using namespace samplan;

class SurveysParts final : public ServingParts {
 public:
  SurveysParts(PgPool& pool, const Outbox& outbox, const CallHandler& calls, int threshold)
      : repository_(pool, outbox), service_(repository_, calls, threshold) {}
  std::vector<grpc::Service*> services() override { return {&service_}; }
  surveys::PgSurveysRepository& repository() { return repository_; }

 private:
  surveys::PgSurveysRepository repository_;
  surveys::SurveyService service_;
};

}  // namespace

int main(int argc, char** argv) {
  int threshold = surveys::kDefaultSuppressionThreshold;
  ServiceDefinition definition;
  definition.name = "surveys";
  definition.schema = surveys::kSchema;
  definition.migrations = surveys::SurveysMigrationSets();
  definition.statements = surveys::SurveysRepositoryStatements;
  definition.read_config = [&](EnvReader& env) {
    threshold = env.Int("SAMPLAN_SURVEYS_SUPPRESSION_THRESHOLD",
                        surveys::kDefaultSuppressionThreshold,
                        surveys::kMinSuppressionThreshold, 100);
  };
  definition.build = [&](PgPool& pool, const Outbox& outbox,
                         const CallHandler& calls) -> absl::StatusOr<std::unique_ptr<ServingParts>> {
    auto parts = std::make_unique<SurveysParts>(pool, outbox, calls, threshold);
    // The shipped questionnaires, stored once (a repeat stores nothing).
    if (absl::Status installed = parts->repository().InstallShipped(
            surveys::ShippedQuestionnaires(), absl::Now() + absl::Seconds(30));
        !installed.ok()) {
      return installed;
    }
    return parts;
  };
  return ServiceMain(argc, argv, definition);
}
