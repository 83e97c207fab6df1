// Measures UpdatePlan through gRPC against the database's own limit for the same
// SQL transaction, at the same concurrency, on this machine.
//
//   build/bench/update_plan_bench [--concurrency 8] [--seconds 10] [--warmup 2]
//
// It starts a throwaway PostgreSQL and Redis (as the tests do), runs the real
// samplan-caseplan binary as its own process (with its outbox relay publishing to
// Redis), and then:
//   1. gRPC: `concurrency` UpdatePlan calls in flight at all times (callback API,
//      one plan each: read, merge, validate, write plan + revision + outbox
//      event) for `seconds`;
//   2. direct: the same number of threads, each with its own libpqxx connection,
//      issuing the statements the service issues for one update — BEGIN, the plan
//      read with its row lock, the plan+revision write, the outbox insert, COMMIT —
//      with the parameters computed in the client, for `seconds`.
// It prints both throughputs, p50 and p99 latency, and the ratio gRPC / direct.

#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <thread>

#include <pqxx/pqxx>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "bench/load.h"
#include "common/access.h"
#include "common/outbox.h"
#include "common/pg.h"
#include "samplan/caseplan/v1/caseplan.grpc.pb.h"
#include "samplan/caseplan/v1/events.pb.h"
#include "services/caseplan/pg_plan_repository.h"
#include "services/caseplan/plan_rules.h"
#include "services/caseplan/sql.h"
#include "tests/support/fixtures.h"
#include "tests/support/servers.h"

namespace {

using namespace samplan;
namespace v1 = samplan::caseplan::v1;

struct Options {
  int concurrency = 8;
  int seconds = 10;
  int warmup = 2;
};

using bench::Result;

// The service's process, the only group whose CPU this benchmark reports.
std::vector<bench::ProcessGroup> ServiceGroup(pid_t service) { return {{"service", {service}}}; }

// Keeps `in_flight` UpdatePlan calls going with gRPC's callback API: when one
// completes, its callback starts the next. The load generator then costs less CPU
// than a thread per call would, as with gRPC's own benchmark clients; the CPU it
// does use is still counted (it shares the machine with the service).
Result RunCallbacks(pid_t service, int in_flight, int warmup, int seconds,
                    v1::CasePlanService::Stub& stub, const std::vector<v1::Plan>& plans,
                    const std::string& token) {
  struct Slot {
    v1::UpdatePlanRequest request;
    v1::Plan response;
    std::unique_ptr<grpc::ClientContext> context;
    absl::Time start;
    int64_t iteration = 0;
    std::vector<double> latencies;
    int64_t errors = 0;
  };
  std::atomic<int> phase{0};  // 0 warmup, 1 measure, 2 stop
  std::atomic<int> running{in_flight};
  std::vector<Slot> slots(in_flight);
  std::function<void(int)> start_call = [&](int s) {
    Slot& slot = slots[s];
    slot.request.Clear();
    slot.request.mutable_plan()->set_name(plans[s].name());
    slot.request.mutable_plan()->set_overall_goal_description(
        absl::StrCat("revision ", slot.iteration++));
    slot.request.mutable_update_mask()->add_paths("overall_goal_description");
    slot.context = std::make_unique<grpc::ClientContext>();
    slot.context->AddMetadata("authorization", "Bearer " + token);
    slot.context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    slot.start = absl::Now();
    stub.async()->UpdatePlan(slot.context.get(), &slot.request, &slot.response,
                             [&, s](grpc::Status status) {
      Slot& done = slots[s];
      const int current = phase.load();
      if (current == 1) {
        if (status.ok()) {
          done.latencies.push_back(absl::ToDoubleMilliseconds(absl::Now() - done.start));
        } else {
          ++done.errors;
        }
      }
      if (current == 2) {
        --running;
      } else {
        start_call(s);
      }
    });
  };
  for (int s = 0; s < in_flight; ++s) start_call(s);
  Result result = bench::MeasureWindow(ServiceGroup(service), absl::Seconds(warmup),
                                      absl::Seconds(seconds), phase);
  while (running.load() > 0) absl::SleepFor(absl::Milliseconds(5));
  for (const Slot& slot : slots) bench::Add(result, slot.latencies, slot.errors);
  bench::Finish(result);
  return result;
}

void Print(const char* label, const Options& options, const Result& result) {
  std::printf("%-34s %3d clients %3d s: %8.0f /s   p50 %6.2f ms   p99 %6.2f ms   errors %lld\n",
              label, options.concurrency, options.seconds, result.Throughput(),
              result.Percentile(0.50), result.Percentile(0.99),
              static_cast<long long>(result.errors));
  const double ops = std::max<int64_t>(1, result.operations);
  const double client = result.SelfPerOp();
  const double service = result.GroupPerOp(0);
  std::printf("%-34s CPU per update: client %5.0f us, service %5.0f us, database and rest "
              "%5.0f us; machine busy %3.0f%%; %4.1f context switches\n",
              "", client, service, result.MachinePerOp() - client - service,
              100.0 * result.MachineBusyFraction(),
              (result.cpu_after.context_switches - result.cpu_before.context_switches) / ops);
}

int Fail(const std::string& message) {
  std::fprintf(stderr, "update_plan_bench: %s\n", message.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  for (int i = 1; i + 1 < argc; i += 2) {
    int value = 0;
    if (!absl::SimpleAtoi(argv[i + 1], &value) || value < 1) {
      return Fail(absl::StrCat("bad value for ", argv[i]));
    }
    if (std::strcmp(argv[i], "--concurrency") == 0) {
      options.concurrency = value;
    } else if (std::strcmp(argv[i], "--seconds") == 0) {
      options.seconds = value;
    } else if (std::strcmp(argv[i], "--warmup") == 0) {
      options.warmup = value;
    } else {
      return Fail(absl::StrCat("unknown flag ", argv[i],
                               "; flags: --concurrency N --seconds N --warmup N"));
    }
  }

  auto pg = testing::PostgresServer::Start();
  if (!pg.ok()) return Fail(pg.status().ToString());
  auto redis = testing::RedisServer::Start();
  if (!redis.ok()) return Fail(redis.status().ToString());
  auto keys = testing::TestKeys::Create();
  if (!keys.ok()) return Fail(keys.status().ToString());
  auto dsn = (*pg)->CreateDatabase();
  if (!dsn.ok()) return Fail(dsn.status().ToString());
  if (absl::Status migrated = testing::MigrateIdentityAndCasePlan(*dsn); !migrated.ok()) {
    return Fail(migrated.ToString());
  }
  testing::TestPersons persons(*dsn);

  const int port = testing::FreePort();
  std::map<std::string, std::string> env = keys->Environment();
  env["SAMPLAN_PG_DSN"] = *dsn;
  env["SAMPLAN_PG_POOL_SIZE"] = absl::StrCat(options.concurrency);
  env["SAMPLAN_REDIS_ADDRESS"] = (*redis)->Address();
  env["SAMPLAN_LISTEN_ADDRESS"] = absl::StrCat("127.0.0.1:", port);
  env["SAMPLAN_DRAIN_PERIOD"] = "0s";
  auto service = testing::ChildProcess::Spawn(SAMPLAN_CASEPLAN_BINARY, {}, env,
                                              "/tmp/samplan-bench-caseplan.log");
  if (!service.ok()) return Fail(service.status().ToString());

  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", port),
                                     grpc::InsecureChannelCredentials());
  auto stub = v1::CasePlanService::NewStub(channel);
  const std::string token = keys->Token("soc");
  std::vector<v1::Plan> plans;
  // Two plans per thread: one for the gRPC phase, one for the direct phase, so
  // neither inherits the other's row versions.
  for (int i = 0; i < 2 * options.concurrency; ++i) {
    v1::CreatePlanRequest request;
    request.set_request_id(absl::StrCat("bench-", i));
    v1::Plan* plan = request.mutable_plan();
    plan->set_person(persons(absl::StrCat("bench-", i)));
    plan->set_status(v1::PLAN_STATUS_ACTIVE);
    plan->set_overall_goal(v1::OVERALL_GOAL_WORK);
    plan->add_participants()->set_organization("organizations/af");
    for (int g = 0; g < 3; ++g) {
      v1::Goal* goal = plan->add_goals();
      goal->set_description(absl::StrCat("Goal ", g, ": reach Swedish B1 and a job in care"));
      goal->set_status(v1::PROGRESS_STATUS_IN_PROGRESS);
      goal->add_sub_goals()->set_description("Finish SFI course C");
      goal->mutable_sub_goals(0)->set_status(v1::PROGRESS_STATUS_PLANNED);
      v1::Activity* activity = plan->add_activities();
      activity->set_kind(v1::ACTIVITY_KIND_WORK_PRACTICE);
      activity->set_description("Work practice at a care home, 20 h a week");
      activity->set_responsible_organization("organizations/af");
      activity->set_status(v1::PROGRESS_STATUS_PLANNED);
    }
    grpc::ClientContext context;
    context.AddMetadata("authorization", "Bearer " + token);
    context.set_wait_for_ready(true);
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    v1::Plan created;
    grpc::Status status = stub->CreatePlan(&context, request, &created);
    if (!status.ok()) return Fail(absl::StrCat("CreatePlan: ", status.error_message()));
    plans.push_back(created);
  }

  // 1. Through gRPC.
  std::vector<std::unique_ptr<v1::CasePlanService::Stub>> stubs;
  for (int t = 0; t < options.concurrency; ++t) {
    // One channel per client thread, as separate client processes would have.
    grpc::ChannelArguments arguments;
    arguments.SetInt("bench.channel", t);
    stubs.push_back(v1::CasePlanService::NewStub(grpc::CreateCustomChannel(
        absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials(), arguments)));
  }
  const pid_t service_pid = (*service)->pid();
  Result grpc_result = RunCallbacks(service_pid, options.concurrency, options.warmup,
                                    options.seconds, *stub, plans, token);

  // 0. The floor: a call the service answers without the database (a malformed
  //    name is refused after authentication), to show what gRPC, authentication
  //    and logging cost by themselves.
  Result floor_result = bench::RunThreads(ServiceGroup(service_pid), options.concurrency,
                                          absl::Seconds(1), absl::Seconds(3),
                                          [&](int t, int64_t) {
    v1::GetPlanRequest get;
    get.set_name("plans/not-a-uuid");
    grpc::ClientContext context;
    context.AddMetadata("authorization", "Bearer " + token);
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::Plan plan;
    return stubs[t]->GetPlan(&context, get, &plan).error_code() ==
           grpc::StatusCode::INVALID_ARGUMENT;
  });

  // 2. The same statements straight to PostgreSQL.
  const Outbox outbox(caseplan::kSchema);
  std::vector<PreparedStatement> statements = caseplan::PlanRepositoryStatements(outbox);
  std::vector<std::unique_ptr<pqxx::connection>> connections;
  for (int t = 0; t < options.concurrency; ++t) {
    connections.push_back(std::make_unique<pqxx::connection>(*dsn));
    for (const PreparedStatement& s : statements) connections.back()->prepare(s.name, s.sql);
  }
  std::vector<v1::Plan> direct_plans(plans.begin() + options.concurrency, plans.end());
  Result direct_result = bench::RunThreads(
      ServiceGroup(service_pid), options.concurrency, absl::Seconds(options.warmup),
      absl::Seconds(options.seconds), [&](int t, int64_t i) {
    try {
      pqxx::connection& connection = *connections[t];
      const v1::Plan& plan = direct_plans[t];
      const std::string id(plan.name().substr(6));
      v1::Plan next = plan;
      next.set_overall_goal_description(absl::StrCat("revision ", i));
      // The service fingerprints each request (for safe retries); so does this.
      v1::UpdatePlanRequest request;
      request.mutable_plan()->set_name(plan.name());
      request.mutable_plan()->set_overall_goal_description(next.overall_goal_description());
      request.mutable_update_mask()->add_paths("overall_goal_description");
      const std::string fingerprint = RequestFingerprint(request);
      // Each update its own request id, as each call has: a request id names one
      // change of a plan (the retry index refuses a second change under it).
      const std::string request_id = absl::StrCat("bench-", t, "-", i);
      pqxx::work tx(connection);
      const int64_t version =
          tx.exec_prepared1(caseplan::sql::kSelectPlanForUpdate.name, id)[1].as<int64_t>();
      caseplan::v1::PlanChanged payload;
      payload.set_plan(plan.name());
      payload.set_version(version + 1);
      payload.add_changed_fields("overall_goal_description");
      events::v1::Event event =
          MakeEvent("caseplan.plan.updated", "1885", plan.name(), version + 1, plan.person(),
                    "plan", payload, {"organizations/soc", "users/u-soc", request_id, absl::Now()});
      pqxx::result written = tx.exec_prepared(
          caseplan::sql::kUpdatePlan.name, id, version, PgTextArray({"organizations/af"}),
          "PLAN_STATUS_ACTIVE", pqxx::binarystring(caseplan::PlanContent(next)),
          PgTimestamp(absl::Now()),
          "users/u-soc", "organizations/soc", request_id,
          PgTextArray({"overall_goal_description"}),
          event.event_id(), fingerprint);
      if (written.empty()) return false;
      outbox.Append(tx, event);
      // The audit record the service appends for the lead's own update (no
      // identity facts needed: the lead owns the plan).
      AppendAudit(tx, {absl::Now(), "1885", "users/u-soc", "organizations/soc",
                       "caseplan.UpdatePlan", plan.name(), plan.person(), "plan", "coordination",
                       "", "permit", "owner", request_id});
      tx.commit();
      return true;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "direct: %s\n", e.what());
      return false;
    }
  });

  std::printf("\nUpdatePlan, gRPC vs the same SQL straight to PostgreSQL (%d cores)\n",
              static_cast<int>(std::thread::hardware_concurrency()));
  Print("no-database call (floor)", {options.concurrency, 3, 1}, floor_result);
  Print("UpdatePlan through gRPC", options, grpc_result);
  Print("same SQL directly with libpqxx", options, direct_result);
  std::printf("ratio gRPC / direct: %.2f   (goal: at least 0.60)\n",
              grpc_result.Throughput() / direct_result.Throughput());
  (*service)->Signal(SIGTERM);
  (void)(*service)->Wait(absl::Seconds(30));
  return 0;
}
