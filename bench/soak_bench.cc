// Soak: the caseplan and events services as processes over a real PostgreSQL and
// Redis, under half of the measured update capacity for a long time (20 minutes
// unless told), with reads and 50 subscribers following the stream. Samples, over
// time, the resident memory of every process and the p50/p99 of the updates, and
// at the end checks that nothing was lost or came twice. Not a test: run it by
// hand (docs/reliability.md).
//
//   build/bench/soak_bench [--minutes 20] [--sample-seconds 60] [--capacity N]
//
// --capacity skips the measuring of capacity (updates/s, closed loop, 16 clients).

#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <pqxx/pqxx>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "tests/support/fixtures.h"
#include "tests/support/plan_load.h"
#include "tests/support/servers.h"

namespace samplan {
namespace {

using testing::Follower;
using testing::LoadOptions;
using testing::Outcome;
using testing::PlanLoad;

constexpr int kPlans = 64;
constexpr int kSubscribers = 50;

int Fail(const std::string& message) {
  std::fprintf(stderr, "soak_bench: %s\n", message.c_str());
  return 1;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// Resident memory of `pid` in MiB, from /proc (0 when it is gone).
double RssMiB(pid_t pid) {
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atof(line.c_str() + 6) / 1024.0;
  }
  return 0;
}

// The pids of the database's backends and of the postmaster's other children.
std::vector<pid_t> PostgresPids(const std::string& dsn) {
  std::vector<pid_t> pids;
  try {
    pqxx::connection connection(dsn);
    pqxx::nontransaction tx(connection);
    for (const pqxx::row& row : tx.exec("SELECT pid FROM pg_stat_activity")) {
      pids.push_back(row[0].as<int>());
    }
  } catch (const std::exception&) {
  }
  return pids;
}

pid_t RedisPid(int port) {
  // The server's own answer: INFO server carries process_id.
  std::string command = absl::StrCat("redis-cli -p ", port, " INFO server");
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return 0;
  char line[512];
  pid_t pid = 0;
  while (std::fgets(line, sizeof(line), pipe) != nullptr) {
    if (std::strncmp(line, "process_id:", 11) == 0) pid = std::atoi(line + 11);
  }
  pclose(pipe);
  return pid;
}

double Quantile(std::vector<absl::Duration> values, double q) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  return absl::ToDoubleMilliseconds(values[std::min(values.size() - 1,
                                                    static_cast<size_t>(values.size() * q))]);
}

}  // namespace
}  // namespace samplan

int main(int argc, char** argv) {
  using namespace samplan;
  double minutes = 20;
  int sample_seconds = 60;
  double capacity = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--minutes") {
      minutes = std::atof(argv[i + 1]);
    } else if (flag == "--sample-seconds") {
      sample_seconds = std::atoi(argv[i + 1]);
    } else if (flag == "--capacity") {
      capacity = std::atof(argv[i + 1]);
    } else {
      return Fail("usage: soak_bench [--minutes M] [--sample-seconds S] [--capacity N]");
    }
  }
  if (minutes <= 0 || sample_seconds <= 0) return Fail("--minutes and --sample-seconds > 0");

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

  struct Service {
    const char* name;
    const char* binary;
    int port;
    std::unique_ptr<testing::ChildProcess> process;
  };
  std::vector<Service> services;
  services.push_back({"caseplan", SAMPLAN_CASEPLAN_BINARY, testing::FreePort(), nullptr});
  services.push_back({"events", SAMPLAN_EVENTS_BINARY, testing::FreePort(), nullptr});
  for (Service& service : services) {
    std::map<std::string, std::string> env = keys->Environment();
    env["SAMPLAN_PG_DSN"] = *dsn;
    env["SAMPLAN_REDIS_ADDRESS"] = (*redis)->Address();
    env["SAMPLAN_LISTEN_ADDRESS"] = absl::StrCat("127.0.0.1:", service.port);
    env["SAMPLAN_DRAIN_PERIOD"] = "0s";
    env["SAMPLAN_LOG_LEVEL"] = "warning";
    auto process = testing::ChildProcess::Spawn(
        service.binary, {}, env, absl::StrCat("/tmp/samplan-soak-", service.name, ".log"));
    if (!process.ok()) return Fail(process.status().ToString());
    service.process = *std::move(process);
    for (int i = 0; i < 400 && !testing::PortAcceptsConnections(service.port); ++i) {
      absl::SleepFor(absl::Milliseconds(25));
    }
  }
  const std::string config = ReadFile(SAMPLAN_SERVICE_CONFIG);
  const std::string token = keys->Token("soc");

  std::vector<std::unique_ptr<Follower>> followers;
  for (int i = 0; i < kSubscribers; ++i) {
    followers.push_back(std::make_unique<Follower>(
        testing::PolicyChannel(config, {services[1].port}, 1000 + i), token));
  }
  for (auto& follower : followers) {
    for (int i = 0; i < 1000 && !follower->live(); ++i) absl::SleepFor(absl::Milliseconds(10));
  }
  auto channel = testing::PolicyChannel(config, {services[0].port});
  auto stub = caseplan::v1::CasePlanService::NewStub(channel);
  std::vector<std::string> plans;
  for (int i = 0; i < kPlans; ++i) {
    caseplan::v1::CreatePlanRequest request;
    request.set_request_id(absl::StrCat("soak-plan-", i));
    request.mutable_plan()->set_person(persons(absl::StrCat("soak-", i)));
    request.mutable_plan()->set_status(caseplan::v1::PLAN_STATUS_ACTIVE);
    grpc::ClientContext context;
    context.AddMetadata("authorization", "Bearer " + token);
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    caseplan::v1::Plan plan;
    grpc::Status status = stub->CreatePlan(&context, request, &plan);
    if (!status.ok()) return Fail("CreatePlan: " + status.error_message());
    plans.push_back(plan.name());
  }

  if (capacity <= 0) {
    // Closed loop: 16 writers with no pause, for 20 s, events flowing meanwhile.
    PlanLoad flat_out(channel, token, plans,
                      LoadOptions{16, absl::ZeroDuration(), 0, absl::Seconds(1), absl::Seconds(2)});
    const absl::Time start = absl::Now();
    flat_out.Start();
    absl::SleepFor(absl::Seconds(20));
    flat_out.Stop();
    int ok = 0;
    for (const Outcome& o : flat_out.outcomes()) ok += o.code == grpc::StatusCode::OK;
    capacity = ok / absl::ToDoubleSeconds(absl::Now() - start);
  }
  // Half the capacity, in updates; reads at 40 % of that, as in the fault tests.
  const double rate = capacity / 2;
  const int writers = 10;
  const int readers = 4;
  LoadOptions options{writers, absl::Seconds(writers / rate), readers,
                      absl::Seconds(readers / (rate * 0.4)), absl::Seconds(2)};
  std::printf("soak: capacity %.0f updates/s; running %.0f updates/s and %.0f reads/s with %d "
              "subscribers for %.1f min, %d cores\n",
              capacity, rate, rate * 0.4, kSubscribers, minutes,
              static_cast<int>(std::thread::hardware_concurrency()));
  std::printf("%7s %8s %7s %8s %8s %9s %12s %10s %8s %10s\n", "minute", "updates", "failed",
              "p50 ms", "p99 ms", "events", "caseplan MiB", "events MiB", "redis MiB",
              "postgres MiB");
  const pid_t redis_pid = RedisPid((*redis)->port());
  PlanLoad load(channel, token, plans, options);
  const absl::Time start = absl::Now();
  load.Start();
  int64_t delivered_before = 0;
  while (absl::Now() - start < absl::Minutes(minutes)) {
    const absl::Time window = absl::Now();
    absl::SleepFor(std::min(absl::Seconds(sample_seconds),
                            absl::Minutes(minutes) - (window - start)));
    std::vector<absl::Duration> latencies;
    int ok = 0, failed = 0;
    for (const Outcome& o : load.outcomes_since(window)) {
      if (!o.write) continue;
      if (o.code == grpc::StatusCode::OK) {
        ++ok;
        latencies.push_back(o.took);
      } else {
        ++failed;
      }
    }
    int64_t delivered = 0;
    for (auto& follower : followers) delivered += follower->received();
    double pg_mib = 0;
    for (pid_t pid : PostgresPids(*dsn)) pg_mib += RssMiB(pid);
    std::printf("%7.1f %8d %7d %8.1f %8.1f %9lld %12.1f %10.1f %8.1f %10.1f\n",
                absl::ToDoubleMinutes(absl::Now() - start), ok, failed, Quantile(latencies, 0.5),
                Quantile(latencies, 0.99), static_cast<long long>(delivered - delivered_before),
                RssMiB(services[0].process->pid()), RssMiB(services[1].process->pid()),
                RssMiB(redis_pid), pg_mib);
    std::fflush(stdout);
    delivered_before = delivered;
  }
  load.Stop();

  // Nothing lost, nothing twice: the stream against the database, and every
  // subscriber against the stored revisions.
  absl::Status drained = testing::WaitForOutboxDrained(*dsn, absl::Seconds(60));
  absl::Status exact = testing::VerifyStreamMatchesDatabase(*dsn, (*redis)->Address(), "1885");
  std::map<std::string, int64_t> last_version;
  std::set<std::pair<std::string, int64_t>> stored;
  {
    pqxx::connection connection(*dsn);
    pqxx::nontransaction tx(connection);
    for (const pqxx::row& row :
         tx.exec("SELECT 'plans/' || plan_id::text, version FROM caseplan.plan_revisions")) {
      stored.emplace(row[0].as<std::string>(), row[1].as<int64_t>());
      int64_t& last = last_version[row[0].as<std::string>()];
      last = std::max(last, row[1].as<int64_t>());
    }
  }
  int lost = 0;
  for (const auto& change : load.confirmed()) lost += stored.contains(change) ? 0 : 1;
  const absl::Time wait_until = absl::Now() + absl::Seconds(60);
  int64_t missing = 0, twice = 0;
  for (auto& follower : followers) {
    std::map<std::string, std::vector<int64_t>> got;
    while (true) {
      got = follower->versions();
      bool complete = true;
      for (const auto& [plan, last] : last_version) {
        complete = complete && !got[plan].empty() && got[plan].back() >= last;
      }
      if (complete || absl::Now() > wait_until) break;
      absl::SleepFor(absl::Milliseconds(50));
    }
    for (const auto& [plan, last] : last_version) {
      std::set<int64_t> distinct(got[plan].begin(), got[plan].end());
      twice += static_cast<int64_t>(got[plan].size() - distinct.size());
      for (int64_t v = 1; v <= last; ++v) missing += distinct.contains(v) ? 0 : 1;
    }
  }
  int failed = 0;
  for (const Outcome& o : load.outcomes()) failed += o.code != grpc::StatusCode::OK;
  std::printf("soak: %zu changes stored, %zu confirmed, calls failed %d, writes lost %d, events "
              "missing %lld, twice %lld (over %d subscribers); outbox drained: %s; stream "
              "matches the database: %s\n",
              stored.size(), load.confirmed().size(), failed, lost,
              static_cast<long long>(missing), static_cast<long long>(twice), kSubscribers,
              drained.ok() ? "yes" : std::string(drained.message()).c_str(),
              exact.ok() ? "yes" : std::string(exact.message()).c_str());
  followers.clear();
  for (Service& service : services) {
    service.process->Signal(SIGTERM);
    service.process->Wait(absl::Seconds(30)).IgnoreError();
  }
  return lost == 0 && missing == 0 && twice == 0 && drained.ok() && exact.ok() ? 0 : 1;
}
