// samplan-scheduling: the meetings around a person — booked without double
// booking, invitations only where the person consented, common free time, and
// the follow-ups of every placement agreement. Wiring only; the modes (serve,
// --migrate-only, --relay-only) are common/service_main.h's.
//
// Configuration comes from environment variables: docs/configuration.md. The
// identity schema must be migrated first: access decisions and audit records on
// meetings go through its SQL functions.

#include <signal.h>
#include <unistd.h>

#include "absl/strings/match.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/event_consumer.h"
#include "common/ids.h"
#include "common/log.h"
#include "common/service_main.h"
#include "common/stream_mac.h"
#include "services/scheduling/availability.h"
#include "services/scheduling/feed_server.h"
#include "services/scheduling/overdue.h"
#include "services/scheduling/pg_calendar_feed_repository.h"
#include "services/scheduling/pg_availability_repository.h"
#include "services/scheduling/pg_intake_repository.h"
#include "services/scheduling/pg_meeting_repository.h"
#include "services/scheduling/route.h"
#include "services/scheduling/scheduling_service.h"

namespace {

using namespace samplan;

// What the agreement consumer reads: the placement service's events of these
// municipalities, as the consumer group "scheduling".
struct ConsumerConfig {
  std::vector<std::string> municipalities;
  RedisOptions redis;
  StreamKeys stream_keys = StreamKeys::ProcessLocal();  // SAMPLAN_STREAM_KEYS
  std::string consumer;  // this replica's name in the group
};

// The calendar feeds' HTTP server and the sweep of overdue follow-ups.
struct FollowUpConfig {
  std::string feed_host;      // SAMPLAN_SCHEDULING_FEED_HOST
  int feed_port = 58055;      // SAMPLAN_SCHEDULING_FEED_PORT
  std::string feed_base_url;  // SAMPLAN_SCHEDULING_FEED_URL
  absl::Duration overdue_sweep = absl::Minutes(5);  // SAMPLAN_SCHEDULING_OVERDUE_SWEEP; 0: off
  // SAMPLAN_SCHEDULING_FAULT_EXIT_ON_EVENT_TYPE, for the crash tests only: the
  // process kills itself with SIGKILL when its consumer is handed an event of
  // this type, after the events before it in the batch committed and before
  // they are acknowledged. Unset in every deployment.
  std::string fault_exit_on_event_type;
};


// How routes measure the way between two places: SAMPLAN_ROUTE_DETOUR_FACTOR
// (roads against the straight line, 1 to 3; 1.3) and SAMPLAN_ROUTE_SPEED_KMH
// (5 to 130; 50).
struct RouteConfig {
  double detour_factor = 1.3;
  double kilometres_per_hour = 50;
};

double ReadNumber(EnvReader& env, absl::string_view name, double fallback, double min,
                  double max) {
  const std::string text = env.String(name, "");
  if (text.empty()) return fallback;
  double value = 0;
  if (!absl::SimpleAtod(text, &value) || !(value >= min && value <= max)) {
    env.AddProblem(absl::StrCat(name, ": must be a number from ", min, " to ", max));
    return fallback;
  }
  return value;
}

class SchedulingParts final : public ServingParts {
 public:
  SchedulingParts(PgPool& pool, const Outbox& outbox, const CallHandler& calls,
                  const ProcessedEvents& processed, const ConsumerConfig& config,
                  const FollowUpConfig& follow_ups, const RouteConfig& routes)
      : meetings_(pool, outbox),
        availability_(pool),
        feeds_(pool, outbox),
        overdue_(pool),
        distances_(routes.detour_factor, routes.kilometres_per_hour),
        intakes_(pool, outbox),
        service_(meetings_, availability_, calls,
                 {feeds_, overdue_, follow_ups.feed_base_url}, distances_, intakes_) {
    if (follow_ups.overdue_sweep > absl::ZeroDuration()) {
      sweeper_ = std::make_unique<scheduling::OverdueSweeper>(pool, outbox, RealClock(),
                                                              follow_ups.overdue_sweep);
      sweeper_->Start();
    }
    if (config.municipalities.empty()) return;
    EventConsumerOptions options;
    options.group = "scheduling";
    options.consumer = config.consumer;
    options.municipalities = config.municipalities;
    options.stream_keys = config.stream_keys;
    // A new group reads what is still on the streams: agreements signed before
    // the service first ran get their follow-ups too.
    options.start = GroupStart::kWholeStream;
    consumer_ = std::make_unique<EventConsumer>(
        options, config.redis, pool, processed,
        [&outbox, fault = follow_ups.fault_exit_on_event_type](
            pqxx::transaction_base& tx, const events::v1::Event& event) {
          if (!fault.empty() && event.type() == fault) kill(getpid(), SIGKILL);
          return scheduling::ApplyAgreementEvent(tx, outbox, event, absl::Now());
        });
    consumer_->Start();
  }
  ~SchedulingParts() override { Stopping(); }

  // Starts serving the calendar feeds over HTTP.
  absl::Status ServeFeeds(const FollowUpConfig& follow_ups) {
    absl::StatusOr<std::unique_ptr<scheduling::CalendarFeedServer>> server =
        scheduling::CalendarFeedServer::Start(feeds_, RealClock(), follow_ups.feed_host,
                                              follow_ups.feed_port);
    if (!server.ok()) return server.status();
    feed_server_ = *std::move(server);
    Log(LogLevel::kInfo, "serving calendar feeds", {{"port", feed_server_->port()}});
    return absl::OkStatus();
  }
  std::vector<grpc::Service*> services() override { return {&service_}; }
  void Stopping() override {
    if (consumer_ != nullptr) consumer_->Stop();
    if (sweeper_ != nullptr) sweeper_->Stop();
    if (feed_server_ != nullptr) feed_server_->Stop();
  }

 private:
  scheduling::PgMeetingRepository meetings_;
  scheduling::PgAvailabilityRepository availability_;
  scheduling::PgCalendarFeedRepository feeds_;
  scheduling::PgOverdueRepository overdue_;

  scheduling::GreatCircleDistances distances_;
  scheduling::PgIntakeRepository intakes_;
  scheduling::SchedulingService service_;
  std::unique_ptr<EventConsumer> consumer_;
  std::unique_ptr<scheduling::CalendarFeedServer> feed_server_;
  std::unique_ptr<scheduling::OverdueSweeper> sweeper_;
};

}  // namespace

int main(int argc, char** argv) {
  // Local times are Stockholm's: without the zone (tzdata) the service stops
  // here rather than book an hour off half the year.
  scheduling::StockholmZone();
  static const ProcessedEvents processed(scheduling::kSchema);
  ConsumerConfig consumer;
  FollowUpConfig follow_ups;
  RouteConfig routes;
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
    consumer.redis = redis.Options();
    consumer.stream_keys = ReadStreamKeys(env);
    consumer.consumer = env.String("HOSTNAME", "scheduling");
    follow_ups.feed_host = env.String("SAMPLAN_SCHEDULING_FEED_HOST", "0.0.0.0");
    follow_ups.feed_port = env.Int("SAMPLAN_SCHEDULING_FEED_PORT", 58055, 0, 65535);
    follow_ups.feed_base_url = env.String(
        "SAMPLAN_SCHEDULING_FEED_URL", absl::StrCat("http://localhost:", follow_ups.feed_port));
    if (!absl::StartsWith(follow_ups.feed_base_url, "https://") &&
        !absl::StartsWith(follow_ups.feed_base_url, "http://")) {
      env.AddProblem("SAMPLAN_SCHEDULING_FEED_URL: must start with https:// or http://");
    }
    follow_ups.overdue_sweep =
        env.Duration("SAMPLAN_SCHEDULING_OVERDUE_SWEEP", absl::Minutes(5));
    follow_ups.fault_exit_on_event_type =
        env.String("SAMPLAN_SCHEDULING_FAULT_EXIT_ON_EVENT_TYPE", "");
    routes.detour_factor = ReadNumber(env, "SAMPLAN_ROUTE_DETOUR_FACTOR", 1.3, 1, 3);
    routes.kilometres_per_hour = ReadNumber(env, "SAMPLAN_ROUTE_SPEED_KMH", 50, 5, 130);
  };
  scheduling.build = [&](PgPool& pool, const Outbox& outbox,
                         const CallHandler& calls) -> absl::StatusOr<std::unique_ptr<ServingParts>> {
    auto parts = std::make_unique<SchedulingParts>(pool, outbox, calls, processed, consumer,
                                                   follow_ups, routes);
    if (absl::Status feeds = parts->ServeFeeds(follow_ups); !feeds.ok()) return feeds;
    return parts;
  };
  return ServiceMain(argc, argv, scheduling);
}
