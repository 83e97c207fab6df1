// samplan-scheduling: the meetings around a person — booked without double
// booking, invitations only where the person consented. Wiring only; the modes
// (serve, --migrate-only, --relay-only) are common/service_main.h's.
//
// Configuration comes from environment variables: docs/configuration.md. The
// identity schema must be migrated first: access decisions and audit records on
// meetings go through its SQL functions.

#include "common/service_main.h"
#include "services/scheduling/availability.h"
#include "services/scheduling/pg_availability_repository.h"
#include "services/scheduling/pg_meeting_repository.h"
#include "services/scheduling/scheduling_service.h"

namespace {

using namespace samplan;

class SchedulingParts final : public ServingParts {
 public:
  SchedulingParts(PgPool& pool, const Outbox& outbox, const CallHandler& calls)
      : meetings_(pool, outbox), availability_(pool), service_(meetings_, availability_, calls) {}
  std::vector<grpc::Service*> services() override { return {&service_}; }

 private:
  scheduling::PgMeetingRepository meetings_;
  scheduling::PgAvailabilityRepository availability_;
  scheduling::SchedulingService service_;
};

}  // namespace

int main(int argc, char** argv) {
  // Local times are Stockholm's: without the zone (tzdata) the service stops
  // here rather than book an hour off half the year.
  scheduling::StockholmZone();
  ServiceDefinition scheduling;
  scheduling.name = "scheduling";
  scheduling.schema = scheduling::kSchema;
  scheduling.migrations = scheduling::SchedulingMigrationSets();
  scheduling.statements = scheduling::SchedulingRepositoryStatements;
  scheduling.build = [&](PgPool& pool, const Outbox& outbox,
                         const CallHandler& calls) -> absl::StatusOr<std::unique_ptr<ServingParts>> {
    return std::make_unique<SchedulingParts>(pool, outbox, calls);
  };
  return ServiceMain(argc, argv, scheduling);
}
