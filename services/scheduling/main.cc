// samplan-scheduling: the meetings around a person — booked without double
// booking, invitations only where the person consented, common free time, and
// the follow-ups of every placement agreement. Wiring only; the modes (serve,
// --migrate-only, --relay-only) are common/service_main.h's.
//
// Configuration comes from environment variables: docs/configuration.md. The
// identity schema must be migrated first: access decisions and audit records on
// meetings go through its SQL functions.

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/event_consumer.h"
#include "common/ids.h"
#include "common/service_main.h"
#include "services/scheduling/availability.h"
#include "services/scheduling/pg_availability_repository.h"
#include "services/scheduling/pg_meeting_repository.h"
#include "services/scheduling/scheduling_service.h"

namespace {

using namespace samplan;

// What the agreement consumer reads: the placement service's events of these
// municipalities, as the consumer group "scheduling".
struct ConsumerConfig {
  std::vector<std::string> municipalities;
  RedisOptions redis;
  std::string consumer;  // this replica's name in the group
};

class SchedulingParts final : public ServingParts {
 public:
  SchedulingParts(PgPool& pool, const Outbox& outbox, const CallHandler& calls,
                  const ProcessedEvents& processed, const ConsumerConfig& config)
      : meetings_(pool, outbox), availability_(pool), service_(meetings_, availability_, calls) {
    if (config.municipalities.empty()) return;
    EventConsumerOptions options;
    options.group = "scheduling";
    options.consumer = config.consumer;
    options.municipalities = config.municipalities;
    // A new group reads what is still on the streams: agreements signed before
    // the service first ran get their follow-ups too.
    options.start = GroupStart::kWholeStream;
    consumer_ = std::make_unique<EventConsumer>(
        options, config.redis, pool, processed,
        [&outbox](pqxx::transaction_base& tx, const events::v1::Event& event) {
          return scheduling::ApplyAgreementEvent(tx, outbox, event, absl::Now());
        });
    consumer_->Start();
  }
  ~SchedulingParts() override { Stopping(); }
  std::vector<grpc::Service*> services() override { return {&service_}; }
  void Stopping() override {
    if (consumer_ != nullptr) consumer_->Stop();
  }

 private:
  scheduling::PgMeetingRepository meetings_;
  scheduling::PgAvailabilityRepository availability_;
  scheduling::SchedulingService service_;
  std::unique_ptr<EventConsumer> consumer_;
};

}  // namespace

int main(int argc, char** argv) {
  // Local times are Stockholm's: without the zone (tzdata) the service stops
  // here rather than book an hour off half the year.
  scheduling::StockholmZone();
  static const ProcessedEvents processed(scheduling::kSchema);
  ConsumerConfig consumer;
  ServiceDefinition scheduling;
  scheduling.name = "scheduling";
  scheduling.schema = scheduling::kSchema;
  scheduling.migrations = scheduling::SchedulingMigrationSets();
  scheduling.statements = [](const Outbox& outbox) {
    std::vector<PreparedStatement> statements = scheduling::SchedulingRepositoryStatements(outbox);
    for (const PreparedStatement& s : processed.statements()) statements.push_back(s);
    return statements;
  };
  scheduling.read_config = [&](EnvReader& env) {
    const std::string list = env.String("SAMPLAN_SCHEDULING_MUNICIPALITIES", "");
    for (absl::string_view code : absl::StrSplit(list, ',', absl::SkipEmpty())) {
      if (!IsMunicipalityCode(code)) {
        env.AddProblem(absl::StrCat("SAMPLAN_SCHEDULING_MUNICIPALITIES: \"", code,
                                    "\" is not a four-digit kommunkod"));
      }
      consumer.municipalities.emplace_back(code);
    }
    const RedisConfig redis = ReadRedisConfig(env);
    consumer.redis.host = redis.host;
    consumer.redis.port = redis.port;
    consumer.consumer = env.String("HOSTNAME", "scheduling");
  };
  scheduling.build = [&](PgPool& pool, const Outbox& outbox,
                         const CallHandler& calls) -> absl::StatusOr<std::unique_ptr<ServingParts>> {
    return std::make_unique<SchedulingParts>(pool, outbox, calls, processed, consumer);
  };
  return ServiceMain(argc, argv, scheduling);
}
