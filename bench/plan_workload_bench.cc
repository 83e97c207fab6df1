// The plan workload of issue 16, with a C++ closed-loop client: create, update op
// (GetPlan, then UpdatePlan with its etag that starts an activity and appends a
// note) and read (GetPlan by name), each at every client count asked for, over
// plans of many persons and over plans of one person; then the same SQL issued
// straight to PostgreSQL, for the ratio.
//
//   build/bench/plan_workload_bench [--clients 8,32] [--seconds 15] [--warmup 3]
//                                   [--persons 200] [--direct 1]
//                                   [--phases create,update,read] [--tls-dir DIR]
//
// It starts a throwaway PostgreSQL and Redis (as the tests do) and the real
// samplan-caseplan binary with its outbox relay, so every call is authenticated,
// consent-checked and durably audited, and every change is published. The
// creator and updater is the lead organization (soc); the reader is a
// participant (af) reading under the person's consent, so every read looks up
// the consent facts. Per phase it prints operations/s, p50 and p99, and the CPU
// per operation of the client, the service, PostgreSQL and Redis (from /proc).
//
// --tls-dir DIR runs the service and its clients with mutual TLS, as the local
// start does, from DIR/ca.pem, DIR/caseplan.{pem,key} (the server's) and
// DIR/client.{pem,key} (the clients'): the layout deploy/local/start.sh writes to
// .local/tls. Missing files are made there first with the openssl CLI.

#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <thread>

#include <pqxx/pqxx>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "bench/load.h"
#include "common/access.h"
#include "common/channel.h"
#include "common/ids.h"
#include "common/outbox.h"
#include "common/pg.h"
#include "common/redis.h"
#include "samplan/caseplan/v1/caseplan.grpc.pb.h"
#include "samplan/caseplan/v1/events.pb.h"
#include "services/caseplan/pg_plan_repository.h"
#include "services/caseplan/plan_rules.h"
#include "services/caseplan/sql.h"
#include "tests/support/fixtures.h"
#include "tests/support/servers.h"

namespace {

using namespace samplan;
using samplan::bench::ProcessGroup;
using samplan::bench::Result;
namespace v1 = samplan::caseplan::v1;

struct Options {
  std::vector<int> clients = {8, 32};
  int seconds = 15;
  int warmup = 3;
  int persons = 200;
  bool direct = true;
  // Which of create, update and read to run.
  std::vector<std::string> phases = {"create", "update", "read"};
  // Mutual TLS from the files in this folder; empty: plaintext.
  std::string tls_dir;
  bool Runs(absl::string_view phase) const {
    return std::find(phases.begin(), phases.end(), phase) != phases.end();
  }
};

int Fail(const std::string& message) {
  std::fprintf(stderr, "plan_workload_bench: %s\n", message.c_str());
  return 1;
}

// A plan of the benchmark's shape: three goals, three activities, one note.
v1::Plan PlanFor(const std::string& person) {
  v1::Plan plan;
  plan.set_person(person);
  plan.set_status(v1::PLAN_STATUS_ACTIVE);
  plan.set_overall_goal(v1::OVERALL_GOAL_WORK);
  plan.set_overall_goal_description("Egen försörjning genom arbete inom vården");
  plan.add_participants()->set_organization("organizations/af");
  for (int g = 0; g < 3; ++g) {
    v1::Goal* goal = plan.add_goals();
    goal->set_description(absl::StrCat("Mål ", g + 1, ": svenska B1 och ett arbete inom vården"));
    goal->set_status(v1::PROGRESS_STATUS_IN_PROGRESS);
    v1::Activity* activity = plan.add_activities();
    activity->set_kind(v1::ACTIVITY_KIND_WORK_PRACTICE);
    activity->set_description("Arbetsträning på ett äldreboende, 20 timmar i veckan");
    activity->set_responsible_organization("organizations/af");
    activity->set_status(v1::PROGRESS_STATUS_PLANNED);
  }
  plan.add_notes()->set_text("Planeringsmöte hållet; nästa uppföljning om en månad.");
  return plan;
}

// The change of an update op: activity `i % 3` started, and a note appended.
v1::UpdatePlanRequest UpdateOf(const v1::Plan& current, int64_t i) {
  v1::UpdatePlanRequest request;
  v1::Plan* plan = request.mutable_plan();
  plan->set_name(current.name());
  plan->set_etag(current.etag());
  *plan->mutable_activities() = current.activities();
  plan->mutable_activities(static_cast<int>(i % 3))->set_status(v1::PROGRESS_STATUS_IN_PROGRESS);
  plan->add_notes()->set_text(absl::StrCat("Uppföljning ", i, ": närvaron god."));
  request.mutable_update_mask()->add_paths("activities");
  request.mutable_update_mask()->add_paths("notes");
  return request;
}

class Client {
 public:
  Client(const std::string& address, int channels, std::string writer, std::string reader,
         const std::optional<TlsFiles>& tls)
      : writer_(std::move(writer)), reader_(std::move(reader)) {
    for (int c = 0; c < channels; ++c) {
      // One channel per client, as separate client processes would have (each
      // its own TLS handshake, too).
      grpc::ChannelArguments arguments;
      arguments.SetInt("bench.channel", c);
      stubs_.push_back(v1::CasePlanService::NewStub(MakeChannel(address, tls, arguments)));
    }
  }

  v1::CasePlanService::Stub& stub(int slot) { return *stubs_[slot % stubs_.size()]; }

  std::unique_ptr<grpc::ClientContext> Context(bool as_reader) const {
    auto context = std::make_unique<grpc::ClientContext>();
    context->AddMetadata("authorization", "Bearer " + (as_reader ? reader_ : writer_));
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    return context;
  }

 private:
  const std::string writer_, reader_;
  std::vector<std::unique_ptr<v1::CasePlanService::Stub>> stubs_;
};

// One call in flight: owns what the callback API needs until it completes.
template <typename Request, typename Response>
struct Call {
  Request request;
  Response response;
  std::unique_ptr<grpc::ClientContext> context;
};

// Every backend and background process of the cluster now.
std::vector<pid_t> PostgresPids(const std::string& pg_dsn) {
  std::vector<pid_t> pids;
  pqxx::connection connection(pg_dsn);
  pqxx::work tx(connection);
  for (const pqxx::row& row :
       tx.exec("SELECT pid FROM pg_stat_activity WHERE pid <> pg_backend_pid()")) {
    pids.push_back(row[0].as<int>());
  }
  return pids;
}

std::vector<ProcessGroup> Groups(pid_t service, const std::string& pg_dsn,
                                 const std::string& redis_host, int redis_port) {
  std::vector<ProcessGroup> groups = {{"service", {service}}, {"postgres", {}}, {"redis", {}}};
  // Sampled again at the start of each measured window, once the pools have
  // opened the connections the load needs.
  groups[1].refresh = [pg_dsn] { return PostgresPids(pg_dsn); };
  RedisClient redis({redis_host, redis_port});
  absl::StatusOr<RedisReply> info = redis.Command({"INFO", "server"});
  if (info.ok()) {
    for (absl::string_view line : absl::StrSplit(info->text, "\r\n")) {
      int pid = 0;
      if (absl::ConsumePrefix(&line, "process_id:") && absl::SimpleAtoi(line, &pid)) {
        groups[2].pids.push_back(pid);
      }
    }
  }
  return groups;
}

void Print(const std::string& label, int clients, const Result& result) {
  std::printf("%-36s %3d clients: %7.0f /s  p50 %6.2f ms  p99 %6.2f ms  errors %lld\n",
              label.c_str(), clients, result.Throughput(), result.Percentile(0.50),
              result.Percentile(0.99), static_cast<long long>(result.errors));
  const double client = result.SelfPerOp();
  const double service = result.GroupPerOp(0);
  const double postgres = result.GroupPerOp(1);
  const double redis = result.GroupPerOp(2);
  std::printf("%-36s CPU per op: client %4.0f us, service %4.0f us, postgres %4.0f us, "
              "redis %3.0f us, rest %4.0f us; machine busy %3.0f%%\n",
              "", client, service, postgres, redis,
              result.MachinePerOp() - client - service - postgres - redis,
              100.0 * result.MachineBusyFraction());
  std::fflush(stdout);
}

// The plans one phase works on: `count` of them, of the persons given round robin.
absl::StatusOr<std::vector<v1::Plan>> CreatePlans(Client& client,
                                                  const std::vector<std::string>& persons,
                                                  int count, const std::string& tag) {
  std::vector<v1::Plan> plans;
  for (int i = 0; i < count; ++i) {
    v1::CreatePlanRequest request;
    request.set_request_id(absl::StrCat("seed-", tag, "-", i));
    *request.mutable_plan() = PlanFor(persons[i % persons.size()]);
    auto context = client.Context(false);
    context->set_wait_for_ready(true);
    v1::Plan created;
    grpc::Status status = client.stub(i).CreatePlan(context.get(), request, &created);
    if (!status.ok()) return absl::InternalError("CreatePlan: " + status.error_message());
    plans.push_back(created);
  }
  return plans;
}

struct Phase {
  std::string name;  // create, update, read
  std::string population;  // "200 persons", "one person"
};

Result RunCreate(Client& client, const std::vector<ProcessGroup>& groups, int clients,
                 const Options& options, const std::vector<std::string>& persons,
                 const std::string& tag) {
  std::atomic<int64_t> next{0};
  return bench::RunAsync(
      groups, clients, absl::Seconds(options.warmup), absl::Seconds(options.seconds),
      [&](int slot, std::function<void(bool)> done) {
        const int64_t i = next++;
        auto call = std::make_shared<Call<v1::CreatePlanRequest, v1::Plan>>();
        call->request.set_request_id(absl::StrCat("bench-", tag, "-", i));
        *call->request.mutable_plan() = PlanFor(persons[i % persons.size()]);
        call->context = client.Context(false);
        client.stub(slot).async()->CreatePlan(
            call->context.get(), &call->request, &call->response,
            [call, done](grpc::Status status) { done(status.ok()); });
      });
}

Result RunRead(Client& client, const std::vector<ProcessGroup>& groups, int clients,
               const Options& options, const std::vector<v1::Plan>& plans) {
  std::vector<int64_t> counters(clients, 0);
  return bench::RunAsync(
      groups, clients, absl::Seconds(options.warmup), absl::Seconds(options.seconds),
      [&](int slot, std::function<void(bool)> done) {
        const int64_t i = counters[slot]++;
        auto call = std::make_shared<Call<v1::GetPlanRequest, v1::Plan>>();
        call->request.set_name(plans[(slot + i * clients) % plans.size()].name());
        call->context = client.Context(true);
        client.stub(slot).async()->GetPlan(
            call->context.get(), &call->request, &call->response,
            [call, done](grpc::Status status) { done(status.ok()); });
      });
}

// Slot s updates only plans s, s + clients, … so that no two slots race for one
// plan's etag: each failure is then a real one.
Result RunUpdate(Client& client, const std::vector<ProcessGroup>& groups, int clients,
                 const Options& options, const std::vector<v1::Plan>& plans) {
  std::vector<int64_t> counters(clients, 0);
  const int64_t per_slot = std::max<int64_t>(1, static_cast<int64_t>(plans.size()) / clients);
  return bench::RunAsync(
      groups, clients, absl::Seconds(options.warmup), absl::Seconds(options.seconds),
      [&, per_slot](int slot, std::function<void(bool)> done) {
        const int64_t i = counters[slot]++;
        const v1::Plan& target = plans[(slot + (i % per_slot) * clients) % plans.size()];
        auto read = std::make_shared<Call<v1::GetPlanRequest, v1::Plan>>();
        read->request.set_name(target.name());
        read->context = client.Context(false);
        client.stub(slot).async()->GetPlan(
            read->context.get(), &read->request, &read->response,
            [&, read, slot, i, done](grpc::Status status) {
              if (!status.ok()) return done(false);
              auto write = std::make_shared<Call<v1::UpdatePlanRequest, v1::Plan>>();
              write->request = UpdateOf(read->response, i);
              write->context = client.Context(false);
              client.stub(slot).async()->UpdatePlan(
                  write->context.get(), &write->request, &write->response,
                  [write, done](grpc::Status status) { done(status.ok()); });
            });
      });
}

// The SQL the service issues for one call, straight from one libpqxx connection
// per client thread, with everything the service computes computed here.
class Direct {
 public:
  Direct(const std::string& dsn, int connections) : outbox_(caseplan::kSchema) {
    const std::vector<PreparedStatement> statements =
        caseplan::PlanRepositoryStatements(outbox_);
    for (int t = 0; t < connections; ++t) {
      connections_.push_back(std::make_unique<pqxx::connection>(dsn));
      for (const PreparedStatement& s : statements) connections_.back()->prepare(s.name, s.sql);
    }
  }

  // A read by a participant under consent: the plan, the consent facts, the
  // audit record, in one transaction.
  bool Read(int t, const v1::Plan& plan) {
    pqxx::work tx(*connections_[t]);
    pqxx::result rows = tx.exec_prepared(caseplan::sql::kSelectPlan.name, plan.name().substr(6));
    if (rows.empty()) return false;
    const AccessFacts facts = ReadAccessFacts(tx, "organizations/af", plan.person(), "plan",
                                              "coordination", absl::Now());
    AppendAudit(tx, {absl::Now(), "1885", "users/u-af", "organizations/af", "caseplan.GetPlan",
                     plan.name(), plan.person(), "plan", "coordination", facts.consent,
                     "permit", "consent", "bench-read"});
    tx.commit();
    return true;
  }

  // A create by the lead: the consent facts (the person's registration), the
  // audit record, the plan and its first revision, the event.
  bool Create(int t, const std::string& person, int64_t i) {
    const int clients = static_cast<int>(connections_.size());
    v1::Plan plan = PlanFor(person);
    const std::string id = NewUuid();
    plan.set_name("plans/" + id);
    plan.set_municipality("1885");
    plan.set_lead_organization("organizations/soc");
    const std::string request_id = absl::StrCat("direct-create-", clients, "-", t, "-", i);
    pqxx::work tx(*connections_[t]);
    (void)ReadAccessFacts(tx, "organizations/soc", person, "plan", "coordination", absl::Now());
    AppendAudit(tx, {absl::Now(), "1885", "users/u-soc", "organizations/soc",
                     "caseplan.CreatePlan", plan.name(), person, "plan", "coordination", "",
                     "permit", "owner", request_id});
    caseplan::v1::PlanChanged payload;
    payload.set_plan(plan.name());
    payload.set_version(1);
    events::v1::Event event = MakeEvent("caseplan.plan.created", "1885", plan.name(), 1, person,
                                        "plan", payload,
                                        {"organizations/soc", "users/u-soc", request_id,
                                         absl::Now()});
    pqxx::result inserted = tx.exec_prepared(
        caseplan::sql::kInsertPlan.name, id, "1885", person, "organizations/soc",
        PgTextArray({"organizations/af"}), "PLAN_STATUS_ACTIVE",
        pqxx::binarystring(caseplan::PlanContent(plan)), PgTimestamp(absl::Now()), request_id,
        "users/u-soc", PgTextArray({"plan"}), event.event_id(), "fingerprint");
    if (inserted.empty()) return false;
    outbox_.Append(tx, event);
    tx.commit();
    return true;
  }

  // An update op: the read above by the lead (no consent facts: it owns the
  // plan), then the update under the row lock with its audit record and event.
  bool Update(int t, v1::Plan& plan, int64_t i) {
    const std::string id(plan.name().substr(6));
    {
      pqxx::work tx(*connections_[t]);
      pqxx::result rows = tx.exec_prepared(caseplan::sql::kSelectPlan.name, id);
      if (rows.empty()) return false;
      AppendAudit(tx, {absl::Now(), "1885", "users/u-soc", "organizations/soc",
                       "caseplan.GetPlan", plan.name(), plan.person(), "plan", "coordination",
                       "", "permit", "owner", "bench-read"});
      tx.commit();
    }
    const std::string request_id =
        absl::StrCat("direct-update-", connections_.size(), "-", t, "-", i);
    v1::UpdatePlanRequest request = UpdateOf(plan, i);
    pqxx::work tx(*connections_[t]);
    const int64_t version =
        tx.exec_prepared1(caseplan::sql::kSelectPlanForUpdate.name, id)[1].as<int64_t>();
    AppendAudit(tx, {absl::Now(), "1885", "users/u-soc", "organizations/soc",
                     "caseplan.UpdatePlan", plan.name(), plan.person(), "plan", "coordination",
                     "", "permit", "owner", request_id});
    v1::Plan next = plan;
    *next.mutable_activities() = request.plan().activities();
    next.add_notes()->set_text(request.plan().notes(0).text());
    caseplan::v1::PlanChanged payload;
    payload.set_plan(plan.name());
    payload.set_version(version + 1);
    events::v1::Event event =
        MakeEvent("caseplan.plan.updated", "1885", plan.name(), version + 1, plan.person(),
                  "plan", payload, {"organizations/soc", "users/u-soc", request_id, absl::Now()});
    pqxx::result written = tx.exec_prepared(
        caseplan::sql::kUpdatePlan.name, id, version, PgTextArray({"organizations/af"}),
        "PLAN_STATUS_ACTIVE", pqxx::binarystring(caseplan::PlanContent(next)),
        PgTimestamp(absl::Now()), "users/u-soc", "organizations/soc", request_id,
        PgTextArray({"activities", "notes"}), event.event_id(), RequestFingerprint(request));
    if (written.empty()) return false;
    outbox_.Append(tx, event);
    tx.commit();
    // Notes grow as in the service, but the direct path keeps the plan small
    // enough to stay under the 500-note limit across phases.
    if (plan.notes_size() < 50) *plan.mutable_notes() = next.notes();
    plan.set_etag(absl::StrCat(version + 1));
    return true;
  }

 private:
  const Outbox outbox_;
  std::vector<std::unique_ptr<pqxx::connection>> connections_;
};

bool ParseOptions(int argc, char** argv, Options& options, std::string& error) {
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const std::string value = argv[i + 1];
    int number = 0;
    if (flag == "--phases") {
      options.phases = absl::StrSplit(value, ',');
      for (const std::string& phase : options.phases) {
        if (phase != "create" && phase != "update" && phase != "read") {
          error = "--phases takes create, update and read, comma-separated";
          return false;
        }
      }
      continue;
    }
    if (flag == "--tls-dir") {
      options.tls_dir = value;
      continue;
    }
    if (flag == "--clients") {
      options.clients.clear();
      for (absl::string_view part : absl::StrSplit(value, ',')) {
        if (!absl::SimpleAtoi(part, &number) || number < 1 || number > 256) {
          error = "--clients takes counts from 1 to 256, comma-separated";
          return false;
        }
        options.clients.push_back(number);
      }
      continue;
    }
    if (!absl::SimpleAtoi(value, &number) || number < 0) {
      error = absl::StrCat("bad value for ", flag);
      return false;
    }
    if (flag == "--seconds" && number > 0) {
      options.seconds = number;
    } else if (flag == "--warmup") {
      options.warmup = number;
    } else if (flag == "--persons" && number > 0) {
      options.persons = number;
    } else if (flag == "--direct") {
      options.direct = number != 0;
    } else {
      error = absl::StrCat("unknown flag or bad value: ", flag,
                           "; flags: --clients 8,32 --phases create,update,read --seconds N "
                           "--warmup N --persons N --direct 0|1 --tls-dir DIR");
      return false;
    }
  }
  return true;
}

// Makes the files --tls-dir names that are missing: a CA, the service's
// certificate for 127.0.0.1 and a client certificate, as the local start does.
bool EnsureTlsFiles(const std::string& dir) {
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  const std::string script = dir + "/make-certificates.sh";
  std::ofstream(script)
      << "set -e; cd \"$(dirname \"$0\")\"; umask 077\n"
         "[ -f ca.pem ] || openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes"
         " -days 30 -subj /CN=bench-ca -addext basicConstraints=critical,CA:TRUE"
         " -addext keyUsage=critical,keyCertSign -keyout ca.key -out ca.pem\n"
         "for name in caseplan client; do\n"
         "  [ -f $name.pem ] && continue\n"
         "  echo subjectAltName=DNS:localhost,IP:127.0.0.1 > $name.ext\n"
         "  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes"
         " -subj /CN=bench-$name -keyout $name.key -out $name.csr\n"
         "  openssl x509 -req -in $name.csr -CA ca.pem -CAkey ca.key -CAcreateserial"
         " -days 30 -extfile $name.ext -out $name.pem\n"
         "done\n";
  return std::system(("bash '" + script + "' >/dev/null 2>&1").c_str()) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  if (std::string error; !ParseOptions(argc, argv, options, error)) return Fail(error);
  const int max_clients = *std::max_element(options.clients.begin(), options.clients.end());

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
  // The persons, each with a consent for af (the reader) to see their plans.
  testing::TestPersons registry(*dsn);
  std::vector<std::string> many, one;
  for (int p = 0; p < options.persons; ++p) {
    many.push_back(registry(absl::StrCat("bench-", p)));
    registry.GrantConsent(many.back(), "organizations/af");
  }
  one.push_back(registry("bench-one"));
  registry.GrantConsent(one.back(), "organizations/af");

  const int port = testing::FreePort();
  std::map<std::string, std::string> env = keys->Environment();
  env["SAMPLAN_PG_DSN"] = *dsn;
  env["SAMPLAN_REDIS_ADDRESS"] = (*redis)->Address();
  env["SAMPLAN_LISTEN_ADDRESS"] = absl::StrCat("127.0.0.1:", port);
  env["SAMPLAN_DRAIN_PERIOD"] = "0s";
  std::optional<TlsFiles> client_tls;
  if (!options.tls_dir.empty()) {
    if (!EnsureTlsFiles(options.tls_dir)) return Fail("cannot make the files of --tls-dir");
    const std::string& dir = options.tls_dir;
    env.erase("SAMPLAN_PLAINTEXT");
    env["SAMPLAN_TLS_CA_FILE"] = dir + "/ca.pem";
    env["SAMPLAN_TLS_CERT_FILE"] = dir + "/caseplan.pem";
    env["SAMPLAN_TLS_KEY_FILE"] = dir + "/caseplan.key";
    env["SAMPLAN_TLS_REQUIRE_CLIENT_CERT"] = "true";
    client_tls = TlsFiles{dir + "/client.pem", dir + "/client.key", dir + "/ca.pem"};
  }
  auto service = testing::ChildProcess::Spawn(SAMPLAN_CASEPLAN_BINARY, {}, env,
                                              "/tmp/samplan-bench-plan-workload.log");
  if (!service.ok()) return Fail(service.status().ToString());

  Client client(absl::StrCat("127.0.0.1:", port), max_clients, keys->Token("soc"),
                keys->Token("af"), client_tls);
  absl::StatusOr<std::vector<v1::Plan>> many_plans = CreatePlans(client, many, 200, "many");
  if (!many_plans.ok()) return Fail(many_plans.status().ToString());
  absl::StatusOr<std::vector<v1::Plan>> one_plans = CreatePlans(client, one, 200, "one");
  if (!one_plans.ok()) return Fail(one_plans.status().ToString());
  const std::vector<ProcessGroup> groups =
      Groups((*service)->pid(), *dsn, (*redis)->host(), (*redis)->port());

  std::printf("plan workload, %d cores, %d s per phase after %d s warm-up; %d persons; %s\n",
              static_cast<int>(std::thread::hardware_concurrency()), options.seconds,
              options.warmup, options.persons,
              client_tls.has_value() ? "mutual TLS" : "plaintext");
  struct Figure {
    std::string label;
    int clients;
    double per_second;
  };
  std::vector<Figure> figures;
  int round = 0;
  for (int clients : options.clients) {
    for (const bool single : {false, true}) {
      const std::string population = single ? "one person" : absl::StrCat(options.persons,
                                                                          " persons");
      const std::vector<std::string>& persons = single ? one : many;
      const std::vector<v1::Plan>& plans = single ? *one_plans : *many_plans;
      const std::string tag = absl::StrCat(round++);
      if (options.Runs("create")) {
        Result create = RunCreate(client, groups, clients, options, persons, tag);
        Print("create, " + population, clients, create);
        figures.push_back({"create, " + population, clients, create.Throughput()});
      }
      if (options.Runs("update")) {
        Result update = RunUpdate(client, groups, clients, options, plans);
        Print("update op, " + population, clients, update);
        figures.push_back({"update op, " + population, clients, update.Throughput()});
      }
      if (options.Runs("read")) {
        Result read = RunRead(client, groups, clients, options, plans);
        Print("read, " + population, clients, read);
        figures.push_back({"read, " + population, clients, read.Throughput()});
      }
    }
  }

  if (options.direct) {
    std::printf("\nthe same SQL straight to PostgreSQL (libpqxx, one connection per thread)\n");
    for (int clients : options.clients) {
      Direct direct(*dsn, clients);
      std::vector<v1::Plan> own = *many_plans;
      std::vector<std::mutex> locks(own.size());
      const int64_t per_slot = std::max<int64_t>(1, static_cast<int64_t>(own.size()) / clients);
      const auto run = [&](auto operation) {
        return bench::RunThreads(groups, clients, absl::Seconds(options.warmup),
                                 absl::Seconds(options.seconds), [&](int t, int64_t i) {
                                   try {
                                     return operation(t, i);
                                   } catch (const std::exception& e) {
                                     std::fprintf(stderr, "direct: %s\n", e.what());
                                     return false;
                                   }
                                 });
      };
      Result create, update, read;
      const std::string population = absl::StrCat(options.persons, " persons");
      if (options.Runs("create")) {
        create = run([&](int t, int64_t i) {
          return direct.Create(t, many[(t + i * clients) % many.size()], i);
        });
        Print("direct create, " + population, clients, create);
      }
      if (options.Runs("update")) {
        update = run([&](int t, int64_t i) {
          v1::Plan& plan = own[(t + (i % per_slot) * clients) % own.size()];
          std::lock_guard<std::mutex> lock(locks[&plan - own.data()]);
          return direct.Update(t, plan, i);
        });
        Print("direct update op, " + population, clients, update);
      }
      if (options.Runs("read")) {
        read = run([&](int t, int64_t i) {
          return direct.Read(t, own[(t + i * clients) % own.size()]);
        });
        Print("direct read, " + population, clients, read);
      }
      for (const auto& [label, result] :
           {std::pair<std::string, Result*>{"create", &create}, {"update op", &update},
            {"read", &read}}) {
        for (const Figure& figure : figures) {
          if (figure.clients == clients &&
              figure.label == absl::StrCat(label, ", ", options.persons, " persons")) {
            if (result->seconds > 0) {
              std::printf("ratio gRPC / direct, %-10s %3d clients: %.2f\n", label.c_str(),
                          clients, figure.per_second / result->Throughput());
            }
          }
        }
      }
    }
  }
  (*service)->Signal(SIGTERM);
  (void)(*service)->Wait(absl::Seconds(30));
  return 0;
}
