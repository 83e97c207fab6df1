// samplan-placement: the placement bank, matching, prao allocation and the
// three-party agreements. Wiring only; the modes (serve, --migrate-only,
// --relay-only) are common/service_main.h's.
//
// Configuration comes from environment variables: docs/configuration.md. The
// identity schema must be migrated first: access decisions and audit records on
// agreements and placement needs go through its SQL functions.

#include "common/service_main.h"
#include "services/placement/pg_placement_repository.h"
#include "services/placement/placement_service.h"

namespace {

using namespace samplan;

class PlacementParts final : public ServingParts {
 public:
  PlacementParts(PgPool& pool, const Outbox& outbox, const CallHandler& calls, int cold_after_days)
      : repository_(pool, outbox),
        service_(repository_, calls, placement::NewWorkplaceId, cold_after_days) {}
  std::vector<grpc::Service*> services() override { return {&service_}; }

 private:
  placement::PgPlacementRepository repository_;
  placement::PlacementService service_;
};

}  // namespace

int main(int argc, char** argv) {
  int cold_after_days = 90;
  ServiceDefinition placement;
  placement.name = "placement";
  placement.schema = placement::kSchema;
  placement.migrations = placement::PlacementMigrationSets();
  placement.statements = placement::PlacementRepositoryStatements;
  placement.read_config = [&](EnvReader& env) {
    cold_after_days = env.Int("SAMPLAN_PLACEMENT_COLD_AFTER_DAYS", 90, 1, 3650);
  };
  placement.build = [&](PgPool& pool, const Outbox& outbox,
                        const CallHandler& calls) -> absl::StatusOr<std::unique_ptr<ServingParts>> {
    return std::make_unique<PlacementParts>(pool, outbox, calls, cold_after_days);
  };
  return ServiceMain(argc, argv, placement);
}
