// Measures commit-to-delivery latency of the event subscription API: many
// subscribers, a steady rate of committed changes, each change decided for every
// subscriber by the person's consent.
//
//   build/bench/event_fanout_bench [--subscribers 500] [--rate 1000] [--seconds 10]
//                                  [--warmup 2] [--persons 50] [--organizations 10]
//                                  [--consents 1] [--wake 1]
//
// It starts a throwaway PostgreSQL and Redis (as the tests do) and runs the real
// processes: samplan-events serving the subscribers, and samplan-caseplan
// --relay-only publishing caseplan's outbox. A writer commits plan-change events
// into caseplan's outbox at `rate` per second, one transaction each, as the
// service does with every update; `subscribers` gRPC streams, spread over
// `organizations` partner organizations that all take part in every plan, receive
// them. Each person has consented to `consents` of the organizations (person p to
// organizations p, p+1, …), so each event reaches consents/organizations of the
// subscribers; --consents equal to --organizations sends every event to every
// subscriber. Latency is from the event's commit time
// (set just before COMMIT) to its arrival at the subscriber; printed as p50, p99
// and max over the measured window, with the events delivered per second.

#include <grpcpp/grpcpp.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <thread>

#include <google/protobuf/util/time_util.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/outbox.h"
#include "common/pg.h"
#include "common/relay.h"
#include "samplan/caseplan/v1/events.pb.h"
#include "samplan/events/v1/event_service.grpc.pb.h"
#include "services/caseplan/pg_plan_repository.h"
#include "tests/support/fixtures.h"
#include "tests/support/identity_stack.h"
#include "tests/support/servers.h"

namespace {

using namespace samplan;
using google::protobuf::util::TimeUtil;
namespace ev = samplan::events::v1;

struct Options {
  int subscribers = 500;
  int rate = 1000;
  int seconds = 10;
  int warmup = 2;
  int persons = 50;
  int organizations = 10;
  int consents = 1;
  // 1: the relay runs in the writers' process and each commit wakes it, as a
  // service's own relay is woken (common/service_main.cc); 0: a separate
  // `samplan-caseplan --relay-only` process that only polls.
  int wake = 1;
};

// One subscriber: a callback-API stream that records the latency of each event
// committed inside the measured window.
class Subscriber final : public grpc::ClientReadReactor<ev::SubscribeResponse> {
 public:
  Subscriber(ev::EventService::Stub& stub, const std::string& token, absl::Time measure_from,
             absl::Time measure_until)
      : from_(absl::ToUnixMicros(measure_from)), until_(absl::ToUnixMicros(measure_until)) {
    context_.AddMetadata("authorization", "Bearer " + token);
    request_.add_event_types("caseplan.");
    latencies_us_.reserve(32768);
    stub.async()->Subscribe(&context_, &request_, this);
    StartRead(&response_);
    StartCall();
  }

  void OnReadDone(bool ok) override {
    if (!ok) return;
    const int64_t now = absl::ToUnixMicros(absl::Now());
    for (const ev::DeliveredEvent& e : response_.events()) {
      const int64_t committed = TimeUtil::TimestampToMicroseconds(e.event().occurred_at());
      if (committed >= from_ && committed < until_) latencies_us_.push_back(now - committed);
    }
    StartRead(&response_);
  }

  void OnDone(const grpc::Status& status) override {
    absl::MutexLock lock(&mu_);
    status_ = status;
    done_ = true;
  }

  void Cancel() { context_.TryCancel(); }
  void WaitDone() {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(&done_));
  }
  const std::vector<int64_t>& latencies_us() const { return latencies_us_; }
  grpc::Status status() {
    absl::MutexLock lock(&mu_);
    return status_;
  }

 private:
  grpc::ClientContext context_;
  ev::SubscribeRequest request_;
  ev::SubscribeResponse response_;
  const int64_t from_, until_;
  std::vector<int64_t> latencies_us_;
  absl::Mutex mu_;
  bool done_ = false;
  grpc::Status status_;
};

bool ParseOptions(int argc, char** argv, Options* options) {
  for (int i = 1; i + 1 < argc; i += 2) {
    int* target = nullptr;
    if (!std::strcmp(argv[i], "--subscribers")) target = &options->subscribers;
    if (!std::strcmp(argv[i], "--rate")) target = &options->rate;
    if (!std::strcmp(argv[i], "--seconds")) target = &options->seconds;
    if (!std::strcmp(argv[i], "--warmup")) target = &options->warmup;
    if (!std::strcmp(argv[i], "--persons")) target = &options->persons;
    if (!std::strcmp(argv[i], "--organizations")) target = &options->organizations;
    if (!std::strcmp(argv[i], "--consents")) target = &options->consents;
    if (!std::strcmp(argv[i], "--wake")) {
      if (!absl::SimpleAtoi(argv[i + 1], &options->wake) || options->wake < 0) return false;
      continue;
    }
    if (target == nullptr || !absl::SimpleAtoi(argv[i + 1], target) || *target <= 0) return false;
  }
  return argc % 2 == 1 && options->consents <= options->organizations;
}

int Fail(const std::string& what) {
  std::fprintf(stderr, "event_fanout_bench: %s\n", what.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  if (!ParseOptions(argc, argv, &options)) {
    std::fprintf(stderr,
                 "usage: %s [--subscribers N] [--rate EVENTS_PER_S] [--seconds S] [--warmup S] "
                 "[--persons N] [--organizations N] [--consents N] [--wake 0|1]\n",
                 argv[0]);
    return 2;
  }
  // Each stream is a file descriptor's worth of work on neither side, but make
  // sure the limit is not what stops a large run.
  rlimit files{65536, 65536};
  setrlimit(RLIMIT_NOFILE, &files);

  auto pg = testing::PostgresServer::Start();
  if (!pg.ok()) return Fail(pg.status().ToString());
  auto redis = testing::RedisServer::Start();
  if (!redis.ok()) return Fail(redis.status().ToString());
  auto dsn = (*pg)->CreateDatabase();
  if (!dsn.ok()) return Fail(dsn.status().ToString());
  if (absl::Status s = testing::MigrateIdentityAndCasePlan(*dsn); !s.ok()) return Fail(s.ToString());
  auto keys = testing::TestKeys::Create();
  if (!keys.ok()) return Fail(keys.status().ToString());

  // Persons, each with consents naming `consents` of the organizations.
  testing::TestPersons persons(*dsn);
  std::vector<std::string> person_names, organizations;
  for (int o = 0; o < options.organizations; ++o) organizations.push_back(absl::StrCat("partner", o));
  for (int p = 0; p < options.persons; ++p) {
    person_names.push_back(persons(absl::StrCat("person", p)));
    for (int c = 0; c < options.consents; ++c) {
      persons.GrantConsent(person_names.back(),
                           "organizations/" + organizations[(p + c) % organizations.size()]);
    }
  }

  std::map<std::string, std::string> env = keys->Environment();
  env["SAMPLAN_PG_DSN"] = *dsn;
  env["SAMPLAN_REDIS_ADDRESS"] = (*redis)->Address();
  env["SAMPLAN_DRAIN_PERIOD"] = "0s";
  env["SAMPLAN_LOG_LEVEL"] = "warning";
  const int port = testing::FreePort();
  env["SAMPLAN_LISTEN_ADDRESS"] = absl::StrCat("127.0.0.1:", port);
  auto events = testing::ChildProcess::Spawn(SAMPLAN_EVENTS_BINARY, {}, env, "/tmp/samplan-bench-events.log");
  if (!events.ok()) return Fail(events.status().ToString());
  // The relay: woken by the writers' commits in this process, or polling in its own.
  std::unique_ptr<testing::ChildProcess> relay_process;
  OutboxRelay relay({caseplan::kSchema}, *dsn, {(*redis)->host(), (*redis)->port()});
  if (options.wake != 0) {
    relay.Start();
  } else {
    auto spawned = testing::ChildProcess::Spawn(SAMPLAN_CASEPLAN_BINARY, {"--relay-only"}, env,
                                                "/tmp/samplan-bench-relay.log");
    if (!spawned.ok()) return Fail(spawned.status().ToString());
    relay_process = *std::move(spawned);
  }
  for (int i = 0; i < 200 && !testing::PortAcceptsConnections(port); ++i) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  if (!testing::PortAcceptsConnections(port)) return Fail("samplan-events did not start");

  // Subscribers share a few connections, as partner systems behind one gateway
  // would; gRPC multiplexes the streams.
  std::vector<std::unique_ptr<ev::EventService::Stub>> stubs;
  for (int c = 0; c < 16; ++c) {
    grpc::ChannelArguments args;
    args.SetInt("samplan.bench.channel", c);
    stubs.push_back(ev::EventService::NewStub(grpc::CreateCustomChannel(
        absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials(), args)));
  }
  const absl::Time start = absl::Now() + absl::Seconds(2);  // subscribers attach first
  const absl::Time measure_from = start + absl::Seconds(options.warmup);
  const absl::Time measure_until = measure_from + absl::Seconds(options.seconds);
  std::vector<std::unique_ptr<Subscriber>> subscribers;
  for (int s = 0; s < options.subscribers; ++s) {
    const std::string& org = organizations[s % organizations.size()];
    subscribers.push_back(std::make_unique<Subscriber>(
        *stubs[s % stubs.size()], keys->Token(org, "partner_system"), measure_from,
        measure_until));
  }

  // The writers: one committed change per transaction, as a service commits each
  // update, paced together to `rate`; several connections, since one commit waits
  // for its fsync. Person p's changes all come from writer p % kWriters, so each
  // plan's versions are committed in order.
  constexpr int kWriters = 8;
  // The outbox outlives the pool, which keeps pointers to its statements.
  const Outbox outbox(caseplan::kSchema);
  PgPoolOptions pool_options{*dsn, kWriters, absl::Seconds(10), "bench-writer",
                             outbox.statements()};
  if (options.wake != 0) {
    pool_options.after_commit = [&relay] {
      if (Outbox::TakeAppendedOnThisThread()) relay.Wake();
    };
  }
  auto pool = PgPool::Create(std::move(pool_options));
  if (!pool.ok()) return Fail(pool.status().ToString());
  absl::SleepFor(start - absl::Now());
  std::atomic<int64_t> written{0}, in_window{0}, behind{0};
  std::atomic<bool> failed{false};
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      const absl::Duration interval = absl::Seconds(1) * kWriters / options.rate;
      std::vector<int64_t> versions(options.persons, 0);
      int64_t n = 0;
      for (absl::Time next = start + interval * w / kWriters;
           next < measure_until + absl::Milliseconds(200); next += interval, ++n) {
        if (absl::Now() < next) {
          absl::SleepFor(next - absl::Now());
        } else if (absl::Now() - next > absl::Milliseconds(50)) {
          ++behind;
        }
        const int p = static_cast<int>((n * kWriters + w) % options.persons);
        caseplan::v1::PlanChanged payload;
        payload.set_plan(absl::StrCat("plans/bench-", p));
        payload.set_version(++versions[p]);
        payload.add_changed_fields("overall_goal_description");
        absl::Time committed;
        absl::Status status = (*pool)->Transaction(
            absl::Now() + absl::Seconds(5), [&](pqxx::transaction_base& tx) {
              committed = absl::Now();
              events::v1::Event event =
                  MakeEvent("caseplan.plan.updated", "1885", payload.plan(), versions[p],
                            person_names[p], "plan", payload,
                            {"organizations/soc", "users/bench", "", committed});
              event.set_owner_organization("organizations/soc");
              for (const std::string& org : organizations) {
                event.add_participant_organizations("organizations/" + org);
              }
              outbox.Append(tx, event);
              return absl::OkStatus();
            });
        if (!status.ok()) {
          failed = true;
          return;
        }
        ++written;
        if (committed >= measure_from && committed < measure_until) ++in_window;
      }
    });
  }
  for (std::thread& writer : writers) writer.join();
  if (failed) return Fail("a writer's commit failed");
  absl::SleepFor(absl::Seconds(1));  // the last ones arrive

  std::vector<int64_t> all;
  int cut_off = 0;
  for (auto& subscriber : subscribers) {
    subscriber->Cancel();
    subscriber->WaitDone();
    if (subscriber->status().error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) ++cut_off;
    all.insert(all.end(), subscriber->latencies_us().begin(), subscriber->latencies_us().end());
  }
  std::sort(all.begin(), all.end());
  const int64_t expected =
      in_window.load() * options.subscribers * options.consents / options.organizations;
  auto at = [&](double q) {
    return all.empty() ? 0.0 : all[std::min(all.size() - 1, static_cast<size_t>(q * all.size()))] / 1000.0;
  };
  std::printf(
      "subscribers %d, rate %d events/s, %d s measured (%d s warm-up), persons %d, "
      "organizations %d, consents per person %d\n",
      options.subscribers, options.rate, options.seconds, options.warmup, options.persons,
      options.organizations, options.consents);
  std::printf("committed %lld events, %lld in the measured window (%.0f/s); writers fell "
              "behind by >50 ms %lld times\n",
              static_cast<long long>(written.load()), static_cast<long long>(in_window.load()),
              in_window.load() / static_cast<double>(options.seconds),
              static_cast<long long>(behind.load()));
  std::printf("deliveries measured %zu of %lld expected (%.1f%%), %.0f deliveries/s; "
              "subscribers cut off: %d\n",
              all.size(), static_cast<long long>(expected), 100.0 * all.size() / expected,
              all.size() / static_cast<double>(options.seconds), cut_off);
  std::printf("commit-to-delivery latency: p50 %.1f ms, p99 %.1f ms, max %.1f ms (goal p99 <= 20 ms: %s)\n",
              at(0.5), at(0.99), all.empty() ? 0.0 : all.back() / 1000.0,
              at(0.99) <= 20.0 ? "met" : "missed");
  relay.Stop();
  return 0;
}
