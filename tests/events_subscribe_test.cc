// Tier 3: the event subscription API against real PostgreSQL and Redis processes,
// with identity and caseplan serving in-process and their relays publishing, as a
// partner agency's system meets it: what it receives, what it never receives, and
// what happens when it or the servers go away.

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <set>
#include <thread>

#include <signal.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/metrics.h"
#include "common/outbox.h"
#include "common/redis.h"
#include "common/relay.h"
#include "common/stream_mac.h"
#include "samplan/caseplan/v1/caseplan.grpc.pb.h"
#include "samplan/caseplan/v1/events.pb.h"
#include "samplan/identity/v1/identity.grpc.pb.h"
#include "services/caseplan/pg_plan_repository.h"
#include "services/identity/pg_identity_repository.h"
#include "tests/support/caseplan_stack.h"
#include "tests/support/suite.h"
#include "tests/support/events_stack.h"
#include "tests/support/fixtures.h"
#include "tests/support/identity_stack.h"
#include "tests/support/servers.h"

namespace samplan {
namespace {

namespace cp = caseplan::v1;
namespace ev = events::v1;
namespace id = identity::v1;
using google::protobuf::util::TimeUtil;
using testing::InProcessCasePlan;
using testing::InProcessEvents;
using testing::InProcessIdentity;
using testing::TestSubscriber;

// What a list of messages holds of one plan: its versions, in the order delivered.
std::vector<int64_t> VersionsOf(const std::vector<ev::DeliveredEvent>& events,
                                const std::string& plan) {
  std::vector<int64_t> versions;
  for (const ev::DeliveredEvent& e : events) {
    if (e.has_event() && e.event().aggregate() == plan) {
      versions.push_back(e.event().aggregate_version());
    }
  }
  return versions;
}

std::vector<int64_t> Range(int64_t from, int64_t to) {
  std::vector<int64_t> out;
  for (int64_t v = from; v <= to; ++v) out.push_back(v);
  return out;
}

bool Mentions(const std::vector<ev::DeliveredEvent>& events, const std::string& person) {
  return std::any_of(events.begin(), events.end(), [&](const ev::DeliveredEvent& e) {
    return (e.has_event() && e.event().person() == person) ||
           (e.has_consent_withdrawn() && e.consent_withdrawn().person() == person);
  });
}

class EventsSubscribeTest : public testing::ServersSuite {
 protected:
  static void SetUpTestSuite() {
    ServersSuite::SetUpTestSuite();
    if (HasFatalFailure()) return;
    dsn_ = new std::string(*pg_->CreateDatabase());
    ASSERT_TRUE(testing::MigrateIdentityAndCasePlan(*dsn_).ok());
    identity_ = InProcessIdentity::Start(*dsn_, keys_->VerifierOptions(),
                                         testing::IdentityKeys::Generate())
                    ->release();
    caseplan_ = InProcessCasePlan::Start(*dsn_, keys_->VerifierOptions())->release();
    for (const char* schema : {"identity", "caseplan"}) {
      relays_.push_back(new OutboxRelay({schema, 500, absl::Milliseconds(5), absl::Hours(24)},
                                        *dsn_, {redis_->host(), redis_->port()}));
      relays_.back()->Start();
    }
    events::EventServiceOptions options;
    options.redis = {redis_->host(), redis_->port()};
    options.retention = absl::Hours(24);
    options.default_heartbeat = absl::Seconds(15);
    options.queue_limit = 2500;
    options.hub_buffer = 32;  // small, so that resuming also takes the Redis path
    events_ = InProcessEvents::Start(*dsn_, keys_->VerifierOptions(), options)->release();
    identity_stub_ = identity_->NewStub().release();
    caseplan_stub_ = caseplan_->NewStub().release();
    Bootstrap();
  }

  static void TearDownTestSuite() {
    delete events_;
    for (OutboxRelay* relay : relays_) delete relay;
    delete caseplan_;
    delete identity_;
    ServersSuite::TearDownTestSuite();
  }

  static std::string Token(const std::string& org) {
    return keys_->Token(org, org == "soc" ? "caseworker" : "partner_system");
  }

  static void Bootstrap() {
    const std::string admin = keys_->Token("soc", "administrator");
    ASSERT_TRUE(testing::EnsureMunicipality(*identity_stub_, admin, "1885").ok());
    for (const auto& [org, kind] :
         {std::pair{"soc", id::ORGANIZATION_KIND_SOCIAL_SERVICES},
          {"af", id::ORGANIZATION_KIND_EMPLOYMENT_SERVICE},
          {"fk", id::ORGANIZATION_KIND_SOCIAL_INSURANCE},
          {"region", id::ORGANIZATION_KIND_HEALTH_CARE}}) {
      ASSERT_TRUE(testing::EnsureOrganization(*identity_stub_, admin, org, kind).ok());
    }
  }

  // Registers a person (owned by soc) with consents for `consented` and a plan led
  // by soc in which af, fk and region take part; returns {person, plan}.
  static std::pair<std::string, std::string> PersonWithPlan(
      const std::vector<std::string>& consented) {
    static int serial = 0;
    absl::StatusOr<id::Person> person = testing::CreateTestPerson(
        *identity_stub_, Token("soc"),
        testing::TestPersonnummer(absl::CivilDay(1990, 1, 1), ++serial));
    EXPECT_TRUE(person.ok()) << person.status();
    std::vector<std::string> grantees;
    for (const std::string& org : consented) grantees.push_back("organizations/" + org);
    if (!grantees.empty()) {
      absl::StatusOr<id::Consent> consent = testing::GrantTestConsent(
          *identity_stub_, Token("soc"), person->name(), grantees, "coordination", {"plan"},
          absl::Now() + absl::Hours(24 * 30));
      EXPECT_TRUE(consent.ok()) << consent.status();
      last_consent_ = consent->name();
    }
    cp::CreatePlanRequest create;
    create.set_request_id(absl::StrCat("events-plan-", serial));
    create.mutable_plan()->set_person(person->name());
    create.mutable_plan()->set_status(cp::PLAN_STATUS_ACTIVE);
    for (const char* org : {"af", "fk", "region"}) {
      create.mutable_plan()->add_participants()->set_organization(
          absl::StrCat("organizations/", org));
    }
    cp::Plan plan;
    grpc::Status status =
        caseplan_stub_->CreatePlan(testing::CallWithToken(Token("soc")).get(), create, &plan);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return {person->name(), plan.name()};
  }

  // Changes the plan's goal description `times` times, as soc: a new version each.
  static void UpdatePlan(const std::string& plan, int times = 1) {
    static int step = 0;
    for (int i = 0; i < times; ++i) {
      cp::UpdatePlanRequest update;
      update.mutable_plan()->set_name(plan);
      update.mutable_plan()->set_overall_goal_description(absl::StrCat("step ", ++step));
      update.mutable_update_mask()->add_paths("overall_goal_description");
      cp::Plan out;
      grpc::Status status =
          caseplan_stub_->UpdatePlan(testing::CallWithToken(Token("soc")).get(), update, &out);
      ASSERT_TRUE(status.ok()) << status.error_message();
    }
  }

  static ev::SubscribeRequest Request(const std::string& cursor = "",
                                      std::vector<std::string> types = {"caseplan.",
                                                                        "identity.consent."}) {
    ev::SubscribeRequest request;
    request.set_cursor(cursor);
    request.mutable_heartbeat_interval()->set_seconds(1);
    for (const std::string& type : types) request.add_event_types(type);
    return request;
  }

  static std::unique_ptr<TestSubscriber> Subscribe(const std::string& org,
                                                   ev::SubscribeRequest request, bool read = true) {
    auto subscriber =
        std::make_unique<TestSubscriber>(events_->address(), Token(org), request, read);
    if (read) {
      // The first message says where it stands: from then on it is live.
      EXPECT_TRUE(subscriber->WaitFor(absl::Seconds(10), [](const auto& r) { return !r.empty(); }));
    }
    return subscriber;
  }

  // Waits until `subscriber` has received versions 1..`last` of `plan`.
  static bool WaitForVersion(TestSubscriber& subscriber, const std::string& plan, int64_t last) {
    return subscriber.WaitFor(absl::Seconds(15), [&](const auto& received) {
      for (const auto& r : received) {
        for (const auto& e : r.message.events()) {
          if (e.has_event() && e.event().aggregate() == plan &&
              e.event().aggregate_version() >= last) {
            return true;
          }
        }
      }
      return false;
    }) || Ended(subscriber);
  }

  // Returns false, saying how the subscription ended if it did.
  static bool Ended(TestSubscriber& subscriber) {
    absl::StatusOr<grpc::Status> ended = subscriber.WaitForEnd(absl::ZeroDuration());
    if (ended.ok()) {
      ADD_FAILURE() << "the subscription ended: " << ended->error_code() << " "
                    << ended->error_message();
    }
    return false;
  }

  // Waits until `subscriber`'s cursor has passed `position` on 1885's stream: it
  // has been shown, or passed over, everything up to there.
  static bool WaitForCursorPast(TestSubscriber& subscriber, const std::string& position) {
    const events::StreamPosition target = *events::StreamPosition::Parse(position);
    return subscriber.WaitFor(absl::Seconds(15), [&](const auto& received) {
      if (received.empty()) return false;
      absl::StatusOr<events::Cursor> cursor =
          events::Cursor::Parse(received.back().message.cursor(), "cursor");
      if (!cursor.ok() || !cursor->Get("1885").has_value()) return false;
      return target <= *cursor->Get("1885");
    });
  }

  static int64_t AuditRecords(const std::string& organization, const std::string& person,
                              const std::string& action) {
    pqxx::connection connection(*dsn_);
    pqxx::work tx(connection);
    return tx
        .exec_params1("SELECT count(*) FROM identity.audit_records WHERE actor_organization = $1 "
                      "AND subject_person = $2 AND action = $3 AND decision = 'permit'",
                      organization, person, action)[0]
        .as<int64_t>();
  }

  static std::string* dsn_;
  static InProcessIdentity* identity_;
  static InProcessCasePlan* caseplan_;
  static std::vector<OutboxRelay*> relays_;
  static InProcessEvents* events_;
  static id::IdentityService::Stub* identity_stub_;
  static cp::CasePlanService::Stub* caseplan_stub_;
  static std::string last_consent_;
};

std::string* EventsSubscribeTest::dsn_ = nullptr;
InProcessIdentity* EventsSubscribeTest::identity_ = nullptr;
InProcessCasePlan* EventsSubscribeTest::caseplan_ = nullptr;
std::vector<OutboxRelay*> EventsSubscribeTest::relays_;
InProcessEvents* EventsSubscribeTest::events_ = nullptr;
id::IdentityService::Stub* EventsSubscribeTest::identity_stub_ = nullptr;
cp::CasePlanService::Stub* EventsSubscribeTest::caseplan_stub_ = nullptr;
std::string EventsSubscribeTest::last_consent_;

TEST_F(EventsSubscribeTest, ASubscriberSeesOnlyThePersonsWhoConsentedToIt) {
  auto af = Subscribe("af", Request());
  auto fk = Subscribe("fk", Request());
  auto soc = Subscribe("soc", Request());
  const auto [consenting, consenting_plan] = PersonWithPlan({"af"});
  const auto [silent, silent_plan] = PersonWithPlan({});
  UpdatePlan(consenting_plan, 2);
  UpdatePlan(silent_plan, 2);

  // The lead sees both plans; af, with consent, the one; fk, which takes part in
  // both but has no consent, neither.
  ASSERT_TRUE(WaitForVersion(*soc, silent_plan, 3));
  ASSERT_TRUE(WaitForVersion(*af, consenting_plan, 3));
  EXPECT_EQ(VersionsOf(soc->events(), consenting_plan), Range(1, 3));
  EXPECT_EQ(VersionsOf(af->events(), consenting_plan), Range(1, 3));
  // The lead's last event is on af's stream too by now, only not for af: af's
  // heartbeat cursor passes it without showing it.
  const std::string soc_last = soc->events().back().position();
  ASSERT_TRUE(WaitForCursorPast(*af, soc_last));
  ASSERT_TRUE(WaitForCursorPast(*fk, soc_last));
  EXPECT_FALSE(Mentions(af->events(), silent)) << "af was told of a person without consent";
  EXPECT_FALSE(Mentions(fk->events(), consenting)) << "fk was told of a person without consent";
  EXPECT_FALSE(Mentions(fk->events(), silent));

  // Events name what changed, never the plan's content.
  for (const ev::DeliveredEvent& e : af->events()) {
    if (!e.has_event() || e.event().aggregate() != consenting_plan) continue;
    cp::PlanChanged changed;
    ASSERT_TRUE(e.event().payload().UnpackTo(&changed));
    EXPECT_EQ(changed.plan(), consenting_plan);
  }
  // af's deliveries about the person are in the person's access log.
  EXPECT_GE(AuditRecords("organizations/af", consenting, "events.Subscribe"), 1);
  EXPECT_EQ(AuditRecords("organizations/af", silent, "events.Subscribe"), 0);
  EXPECT_EQ(AuditRecords("organizations/fk", consenting, "events.Subscribe"), 0);
}

TEST_F(EventsSubscribeTest, AReconnectingClientMissesNothingAndGetsNothingTwice) {
  const auto [person, plan] = PersonWithPlan({"af"});
  auto first = Subscribe("af", Request());
  UpdatePlan(plan, 3);
  ASSERT_TRUE(WaitForVersion(*first, plan, 4));
  const std::string cursor = first->events().back().cursor();
  first->Cancel();

  // While it is away: a few changes (served from the hub's memory on return), then
  // many more than the hub keeps (served from Redis first).
  UpdatePlan(plan, 5);
  auto near = Subscribe("af", Request(cursor));
  ASSERT_TRUE(WaitForVersion(*near, plan, 9));
  EXPECT_EQ(VersionsOf(near->events(), plan), Range(5, 9));
  const std::string near_cursor = near->last_cursor();
  near->Cancel();

  UpdatePlan(plan, 60);
  auto far = Subscribe("af", Request(near_cursor));
  ASSERT_TRUE(WaitForVersion(*far, plan, 69));
  UpdatePlan(plan, 2);  // and live after the catch-up
  ASSERT_TRUE(WaitForVersion(*far, plan, 71));
  EXPECT_EQ(VersionsOf(far->events(), plan), Range(10, 71));

  // Positions only grow, and each message's cursor resumes after its last event.
  std::string previous;
  for (const ev::DeliveredEvent& e : far->events()) {
    EXPECT_LT(*events::StreamPosition::Parse(previous.empty() ? "0-0" : previous),
              *events::StreamPosition::Parse(e.position()));
    EXPECT_EQ(e.cursor(), absl::StrCat("1885:", e.position()));
    previous = e.position();
  }
}

TEST_F(EventsSubscribeTest, WithdrawalStopsDeliveriesWithinOneSecond) {
  auto af = Subscribe("af", Request());
  auto soc = Subscribe("soc", Request());
  const auto [person, plan] = PersonWithPlan({"af"});
  const std::string consent = last_consent_;
  UpdatePlan(plan);
  ASSERT_TRUE(WaitForVersion(*af, plan, 2));

  id::WithdrawConsentRequest withdraw;
  withdraw.set_name(consent);
  withdraw.set_reason("The person asked Arbetsförmedlingen to stop seeing the plan.");
  id::Consent withdrawn;
  const absl::Time withdrawn_at = absl::Now();
  ASSERT_TRUE(identity_stub_
                  ->WithdrawConsent(testing::CallWithToken(Token("soc")).get(), withdraw,
                                    &withdrawn)
                  .ok());
  // af is told, without the person's data, and promptly.
  ASSERT_TRUE(af->WaitFor(absl::Seconds(5), [&](const auto& received) {
    for (const auto& r : received) {
      for (const auto& e : r.message.events()) {
        if (e.has_consent_withdrawn() && e.consent_withdrawn().consent() == consent) return true;
      }
    }
    return false;
  }));
  absl::Time notified;
  for (const auto& r : af->received()) {
    for (const auto& e : r.message.events()) {
      if (e.has_consent_withdrawn()) {
        notified = r.at;
        EXPECT_EQ(e.consent_withdrawn().person(), person);
        EXPECT_FALSE(e.has_event());
      }
    }
  }
  std::printf("consent.withdrawn reached the subscriber %.1f ms after the withdrawal call\n",
              absl::ToDoubleMilliseconds(notified - withdrawn_at));
  EXPECT_LT(notified - withdrawn_at, absl::Seconds(1));

  // Then nothing more about the plan, though the lead keeps changing it.
  UpdatePlan(plan, 3);
  ASSERT_TRUE(WaitForVersion(*soc, plan, 5));
  const std::string soc_last = soc->events().back().position();
  ASSERT_TRUE(WaitForCursorPast(*af, soc_last));
  EXPECT_EQ(VersionsOf(af->events(), plan), Range(1, 2));
  std::string after_version_2;
  for (const ev::DeliveredEvent& e : af->events()) {
    if (e.has_event() && e.event().aggregate_version() == 2) after_version_2 = e.cursor();
  }
  af->Cancel();
  // Resuming from before the withdrawal shows nothing more either: the decision
  // is made at delivery, on today's consent.
  auto again = Subscribe("af", Request(after_version_2));
  ASSERT_TRUE(WaitForCursorPast(*again, soc_last));
  EXPECT_EQ(VersionsOf(again->events(), plan), std::vector<int64_t>{});
}

// The withdrawal's event and the plan's events are published by two relays, each
// on its own: on the stream, a plan change committed after the withdrawal may
// stand before it. Whatever that order, from the moment WithdrawConsent returns
// nothing more about the person reaches the agency. Identity's relay is made slow
// here so that the stream holds them in the wrong order nearly every round.
TEST_F(EventsSubscribeTest, NoChangeMadeAfterAWithdrawalReturnedReachesTheAgency) {
  relays_[0]->Stop();
  OutboxRelay slow_identity({"identity", 500, absl::Milliseconds(40), absl::Hours(24)}, *dsn_,
                            {redis_->host(), redis_->port()});
  slow_identity.Start();
  auto af = Subscribe("af", Request());

  struct Round {
    std::string plan;
    // The first version written by an update that began after the withdrawal had
    // returned; every version from it on must stay unseen.
    int64_t first_unseen = 0;
  };
  std::vector<Round> rounds;
  for (int round = 0; round < 30; ++round) {
    const auto [person, plan] = PersonWithPlan({"af"});
    const std::string consent = last_consent_;
    absl::Mutex mu;
    std::vector<std::pair<absl::Time, int64_t>> writes;  // start of the call, version
    std::atomic<bool> stop{false};
    std::thread writer([&, plan = plan] {
      for (int i = 0; !stop.load(); ++i) {
        cp::UpdatePlanRequest update;
        update.mutable_plan()->set_name(plan);
        update.mutable_plan()->set_overall_goal_description(absl::StrCat("round step ", i));
        update.mutable_update_mask()->add_paths("overall_goal_description");
        cp::Plan out;
        const absl::Time started = absl::Now();
        grpc::Status status = caseplan_stub_->UpdatePlan(
            testing::CallWithToken(Token("soc")).get(), update, &out);
        ASSERT_TRUE(status.ok()) << status.error_message();
        absl::MutexLock lock(&mu);
        writes.emplace_back(started, out.version());
      }
    });
    absl::SleepFor(absl::Milliseconds(15));
    id::WithdrawConsentRequest withdraw;
    withdraw.set_name(consent);
    withdraw.set_reason("Personen vill inte längre att Arbetsförmedlingen ser planen.");
    id::Consent withdrawn;
    ASSERT_TRUE(identity_stub_
                    ->WithdrawConsent(testing::CallWithToken(Token("soc")).get(), withdraw,
                                      &withdrawn)
                    .ok());
    const absl::Time returned = absl::Now();
    // Writes go on until one that began after the withdrawal has answered (on a
    // loaded machine an update can take longer than the pause between rounds).
    absl::SleepFor(absl::Milliseconds(40));
    {
      auto began_after = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
        for (const auto& write : writes) {
          if (write.first > returned) return true;
        }
        return false;
      };
      absl::MutexLock lock(&mu);
      mu.AwaitWithTimeout(absl::Condition(&began_after), absl::Seconds(10));
    }
    stop = true;
    writer.join();
    Round r{plan, 0};
    absl::MutexLock lock(&mu);
    for (const auto& [started, version] : writes) {
      if (started > returned && (r.first_unseen == 0 || version < r.first_unseen)) {
        r.first_unseen = version;
      }
    }
    ASSERT_NE(r.first_unseen, 0) << "round " << round << ": no update began after the withdrawal";
    rounds.push_back(r);
  }
  ASSERT_TRUE(testing::WaitForOutboxDrained(*dsn_, absl::Seconds(20)).ok());
  absl::StatusOr<std::vector<testing::StreamedEvent>> stream =
      testing::ReadStream(redis_->Address(), "1885");
  ASSERT_TRUE(stream.ok() && !stream->empty());
  ASSERT_TRUE(WaitForCursorPast(*af, stream->back().stream_id));

  int leaked = 0;
  for (const Round& r : rounds) {
    for (int64_t version : VersionsOf(af->events(), r.plan)) {
      if (version >= r.first_unseen) ++leaked;
    }
  }
  EXPECT_EQ(leaked, 0) << "events of changes made after the withdrawal had returned reached "
                          "the agency, over "
                       << rounds.size() << " rounds";
  slow_identity.Stop();
  // A stopped relay does not start again: the fixture gets a new one.
  delete relays_[0];
  relays_[0] = new OutboxRelay({"identity", 500, absl::Milliseconds(5), absl::Hours(24)}, *dsn_,
                               {redis_->host(), redis_->port()});
  relays_[0]->Start();
}

// One partner's oversize token must not end another call on the same HTTP/2
// connection: a proxy that pools upstream connections carries many partners'.
TEST_F(EventsSubscribeTest, AnOversizeTokenIsRefusedForItsOwnCallOnly) {
  std::shared_ptr<grpc::Channel> shared =
      grpc::CreateChannel(events_->address(), grpc::InsecureChannelCredentials());
  TestSubscriber open(shared, Token("af"), Request());
  ASSERT_TRUE(open.WaitFor(absl::Seconds(10), [](const auto& r) { return !r.empty(); }));
  auto stub = ev::EventService::NewStub(shared);
  for (size_t size : {9 * 1024, 20 * 1024}) {
    grpc::ClientContext context;
    context.AddMetadata("authorization", "Bearer " + std::string(size, 'a'));
    ev::ListEventsRequest list;
    ev::ListEventsResponse page;
    grpc::Status status = stub->ListEvents(&context, list, &page);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED)
        << size << " bytes: " << status.error_code() << " " << status.error_message();
  }
  // The open subscription is still there and still served.
  const size_t before = open.received().size();
  EXPECT_TRUE(open.WaitFor(absl::Seconds(5),
                           [&](const auto& received) { return received.size() > before; }) ||
              Ended(open));
  EXPECT_FALSE(open.WaitForEnd(absl::ZeroDuration()).ok());
}

TEST_F(EventsSubscribeTest, HeartbeatsKeepAnIdleStreamAlive) {
  ev::SubscribeRequest request = Request("", {"nothing.happens.here"});
  request.mutable_heartbeat_interval()->set_seconds(1);
  auto idle = Subscribe("af", request);
  ASSERT_TRUE(idle->WaitFor(absl::Seconds(6), [](const auto& received) {
    return std::count_if(received.begin(), received.end(), [](const auto& r) {
             return r.message.has_heartbeat();
           }) >= 3;
  }));
  std::vector<TestSubscriber::Received> received = idle->received();
  for (const auto& r : received) {
    EXPECT_TRUE(r.message.events().empty());
    EXPECT_FALSE(r.message.cursor().empty()) << "a heartbeat carries the position";
  }
  // About a second apart, not a flood.
  EXPECT_GE(received[2].at - received[1].at, absl::Milliseconds(800));
}

TEST_F(EventsSubscribeTest, ACursorOlderThanWhatIsKeptIsOutOfRange) {
  const auto [person, plan] = PersonWithPlan({"af"});
  UpdatePlan(plan, 3);
  ASSERT_TRUE(testing::WaitForOutboxDrained(*dsn_, absl::Seconds(10)).ok());
  absl::StatusOr<std::vector<testing::StreamedEvent>> stream =
      testing::ReadStream(redis_->Address(), "1885");
  ASSERT_TRUE(stream.ok());
  ASSERT_GE(stream->size(), 4u);
  // Trimming (as retention does) removes the stream's first two entries.
  const std::string& first = (*stream)[0].stream_id;
  const std::string& third = (*stream)[2].stream_id;
  RedisClient redis({redis_->host(), redis_->port()});
  ASSERT_TRUE(redis.Command({"XTRIM", EventStreamKey("1885"), "MINID", (*stream)[2].stream_id}).ok());

  // A client whose cursor is the first entry missed the second: it is told so,
  // and gets nothing.
  auto old = std::make_unique<TestSubscriber>(events_->address(), Token("af"),
                                              Request("1885:" + first));
  absl::StatusOr<grpc::Status> ended = old->WaitForEnd(absl::Seconds(10));
  ASSERT_TRUE(ended.ok());
  EXPECT_EQ(ended->error_code(), grpc::StatusCode::OUT_OF_RANGE);
  EXPECT_NE(ended->error_message().find("resynchronise"), std::string::npos);
  EXPECT_TRUE(old->events().empty());
  ev::ListEventsRequest list;
  list.set_page_token("1885:" + first);
  ev::ListEventsResponse page;
  grpc::Status status = events_->NewStub()->ListEvents(
      testing::CallWithToken(Token("af")).get(), list, &page);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::OUT_OF_RANGE);

  // One whose cursor is the oldest entry kept missed nothing.
  list.set_page_token("1885:" + third);
  status = events_->NewStub()->ListEvents(testing::CallWithToken(Token("af")).get(), list, &page);
  EXPECT_TRUE(status.ok()) << status.error_message();
}

TEST_F(EventsSubscribeTest, ListEventsPagesTheSameEvents) {
  const auto [person, plan] = PersonWithPlan({"af"});
  const auto [silent, silent_plan] = PersonWithPlan({});
  UpdatePlan(plan, 4);
  UpdatePlan(silent_plan, 2);
  ASSERT_TRUE(testing::WaitForOutboxDrained(*dsn_, absl::Seconds(10)).ok());
  auto stub = events_->NewStub();
  std::vector<ev::DeliveredEvent> seen;
  std::string token;
  for (int page = 0; page < 200; ++page) {
    ev::ListEventsRequest request;
    request.set_page_token(token);
    request.set_page_size(2);
    request.add_event_types("caseplan.");
    ev::ListEventsResponse response;
    grpc::Status status =
        stub->ListEvents(testing::CallWithToken(Token("af")).get(), request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    ASSERT_FALSE(response.next_page_token().empty());
    EXPECT_LE(response.events_size(), 2);
    for (const auto& e : response.events()) seen.push_back(e);
    if (response.next_page_token() == token) break;  // at the end
    token = response.next_page_token();
  }
  EXPECT_EQ(VersionsOf(seen, plan), Range(1, 5));
  EXPECT_FALSE(Mentions(seen, silent));

  // A page size above the maximum is lowered to it (common/paging.h), not refused.
  ev::ListEventsRequest large;
  large.set_page_size(5000);
  ev::ListEventsResponse ignored;
  grpc::Status status =
      stub->ListEvents(testing::CallWithToken(Token("af")).get(), large, &ignored);
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_LE(ignored.events_size(), 1000);

  // Bad input names the field; nothing of another municipality.
  ev::ListEventsRequest bad;
  bad.set_page_size(-1);
  bad.add_event_types("Not A Type");
  status = stub->ListEvents(testing::CallWithToken(Token("af")).get(), bad, &ignored);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("event_types[0]"), std::string::npos);
  bad.clear_event_types();
  status = stub->ListEvents(testing::CallWithToken(Token("af")).get(), bad, &ignored);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("page_size"), std::string::npos);
  ev::ListEventsRequest other;
  other.add_municipalities("0180");
  status = stub->ListEvents(testing::CallWithToken(Token("af")).get(), other, &ignored);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(EventsSubscribeTest, CallersWithoutAValidTokenGetNothing) {
  ev::SubscribeRequest request = Request();
  TestSubscriber anonymous(events_->address(), "not-a-token", request);
  absl::StatusOr<grpc::Status> ended = anonymous.WaitForEnd(absl::Seconds(10));
  ASSERT_TRUE(ended.ok());
  EXPECT_EQ(ended->error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(anonymous.received().empty());

  TestSubscriber expired(events_->address(),
                         keys_->TokenValidFor("af", -absl::Hours(1), "partner_system"), request);
  ended = expired.WaitForEnd(absl::Seconds(10));
  ASSERT_TRUE(ended.ok());
  EXPECT_EQ(ended->error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

// A token is accepted up to the verifier's clock skew (60 s) past its expiry. A
// stream and a new call agree on that: the stream lives exactly as long as a new
// call with the token would be accepted, then ends UNAUTHENTICATED.
TEST_F(EventsSubscribeTest, AStreamEndsWhenANewCallWithItsTokenWouldBeRefused) {
  const std::string token = keys_->TokenValidFor("af", -absl::Seconds(57), "partner_system");
  auto stub = events_->NewStub();
  ev::ListEventsResponse page;
  ASSERT_TRUE(stub->ListEvents(testing::CallWithToken(token).get(), ev::ListEventsRequest(),
                               &page)
                  .ok())
      << "within the skew, a new call is accepted";
  TestSubscriber stream(events_->address(), token, Request());
  ASSERT_TRUE(stream.WaitFor(absl::Seconds(5), [](const auto& r) { return !r.empty(); }));
  EXPECT_FALSE(stream.WaitForEnd(absl::Seconds(1)).ok())
      << "ended while a new call with the token is still accepted";
  absl::StatusOr<grpc::Status> ended = stream.WaitForEnd(absl::Seconds(10));
  ASSERT_TRUE(ended.ok());
  EXPECT_EQ(ended->error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(stub->ListEvents(testing::CallWithToken(token).get(), ev::ListEventsRequest(), &page)
                .error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(EventsSubscribeTest, SubscribersLiveThroughARedisRestart) {
  auto af = Subscribe("af", Request());
  auto soc = Subscribe("soc", Request());
  const auto [person, plan] = PersonWithPlan({"af"});
  UpdatePlan(plan, 2);
  ASSERT_TRUE(WaitForVersion(*af, plan, 3));

  ASSERT_TRUE(redis_->Kill().ok());
  UpdatePlan(plan, 3);  // committed while Redis is down: the relay waits
  ASSERT_TRUE(redis_->Restart().ok());
  UpdatePlan(plan, 2);

  ASSERT_TRUE(WaitForVersion(*af, plan, 8));
  ASSERT_TRUE(WaitForVersion(*soc, plan, 8));
  EXPECT_EQ(VersionsOf(af->events(), plan), Range(1, 8));
  EXPECT_EQ(VersionsOf(soc->events(), plan), Range(1, 8));
}

// "Redis restarting is a pause": once Redis answers again, every new subscription
// is served, including the first on each delivery worker, whose connection died.
TEST_F(EventsSubscribeTest, NewSubscriptionsAfterARedisRestartAreAllServed) {
  const auto [person, plan] = PersonWithPlan({"af"});
  UpdatePlan(plan, 2);
  ASSERT_TRUE(testing::WaitForOutboxDrained(*dsn_, absl::Seconds(10)).ok());
  absl::StatusOr<std::vector<testing::StreamedEvent>> stream =
      testing::ReadStream(redis_->Address(), "1885");
  ASSERT_TRUE(stream.ok() && stream->size() >= 3);
  const std::string cursor = absl::StrCat("1885:", (*stream)[stream->size() - 3].stream_id);
  // Subscriptions from a cursor read the stream on the delivery workers' own
  // connections: every worker then holds one.
  std::vector<std::unique_ptr<TestSubscriber>> before;
  for (int i = 0; i < 8; ++i) before.push_back(Subscribe("af", Request(cursor)));

  ASSERT_TRUE(redis_->Kill().ok());
  ASSERT_TRUE(redis_->Restart().ok());
  auto stub = events_->NewStub();
  ev::ListEventsResponse page;
  grpc::Status listed;
  for (int attempt = 0; attempt < 50; ++attempt) {
    ev::ListEventsRequest list;
    list.set_page_token(cursor);
    page.Clear();
    listed = stub->ListEvents(testing::CallWithToken(Token("af")).get(), list, &page);
    if (listed.ok()) break;
    absl::SleepFor(absl::Milliseconds(100));
  }
  ASSERT_TRUE(listed.ok()) << listed.error_message();

  int refused = 0;
  std::vector<std::unique_ptr<TestSubscriber>> after;
  for (int i = 0; i < 8; ++i) after.push_back(Subscribe("af", Request(cursor)));
  for (auto& subscriber : after) {
    absl::StatusOr<grpc::Status> ended = subscriber->WaitForEnd(absl::Milliseconds(300));
    if (ended.ok()) {
      ++refused;
      ADD_FAILURE() << "a new subscription ended: " << ended->error_code() << " "
                    << ended->error_message();
    }
  }
  EXPECT_EQ(refused, 0);
  for (auto& subscriber : after) EXPECT_TRUE(WaitForVersion(*subscriber, plan, 3));
}

TEST_F(EventsSubscribeTest, AStalledSubscriberIsCutOffAndTheOthersKeepUp) {
  auto stalled = Subscribe("soc", Request("", {"test."}), /*read=*/false);
  auto healthy = Subscribe("soc", Request("", {"test."}));
  absl::SleepFor(absl::Milliseconds(200));  // the stalled one attaches too

  // Many events at once, straight into the outbox as a service would write them.
  constexpr int kEvents = 8000;
  auto pool = PgPool::Create({*dsn_, 2, absl::Seconds(10), "test-load",
                              Outbox(caseplan::kSchema).statements()});
  ASSERT_TRUE(pool.ok());
  const Outbox outbox(caseplan::kSchema);
  cp::PlanChanged payload;
  payload.add_changed_fields(std::string(200, 'x'));
  for (int batch = 0; batch < kEvents / 500; ++batch) {
    ASSERT_TRUE((*pool)
                    ->Transaction(absl::Now() + absl::Seconds(10),
                                  [&](pqxx::transaction_base& tx) {
                                    for (int i = 0; i < 500; ++i) {
                                      outbox.Append(
                                          tx, MakeEvent("test.load", "1885", "plans/load",
                                                        batch * 500 + i + 1, "", "plan", payload,
                                                        {"organizations/soc", "users/soc", "",
                                                         absl::Now()}));
                                    }
                                    return absl::OkStatus();
                                  })
                    .ok());
  }
  ASSERT_TRUE(healthy->WaitFor(absl::Seconds(30), [&](const auto& received) {
    size_t count = 0;
    for (const auto& r : received) count += r.message.events_size();
    return count >= kEvents;
  })) << healthy->events().size();
  std::vector<absl::Duration> lags;
  for (const auto& r : healthy->received()) {
    for (const auto& e : r.message.events()) {
      lags.push_back(r.at - absl::FromUnixMicros(
                                TimeUtil::TimestampToMicroseconds(e.event().occurred_at())));
    }
  }
  std::sort(lags.begin(), lags.end());
  std::printf("healthy subscriber beside a stalled one: %zu events, lag p50 %.1f ms, p99 %.1f ms\n",
              lags.size(), absl::ToDoubleMilliseconds(lags[lags.size() / 2]),
              absl::ToDoubleMilliseconds(lags[lags.size() * 99 / 100]));

  // The stalled one, once it reads, finds what was sent before the cut and the
  // reason; it was never allowed to hold up the healthy one.
  stalled->Resume();
  absl::StatusOr<grpc::Status> ended = stalled->WaitForEnd(absl::Seconds(40));
  ASSERT_TRUE(ended.ok());
  EXPECT_EQ(ended->error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_LT(stalled->events().size(), static_cast<size_t>(kEvents));
  EXPECT_EQ(VersionsOf(healthy->events(), "plans/load"), Range(1, kEvents));
}

// The events process killed with SIGKILL while a client follows a plan: the client
// reconnects to a new process with its last cursor, and what it has, in the end, is
// every version once, in order — also when the kill comes after it had everything.
TEST_F(EventsSubscribeTest, AClientResumesExactlyAcrossAKilledEventsProcess) {
  std::map<std::string, std::string> env = keys_->Environment();
  env["SAMPLAN_PG_DSN"] = *dsn_;
  env["SAMPLAN_REDIS_ADDRESS"] = redis_->Address();
  env["SAMPLAN_DRAIN_PERIOD"] = "0s";
  const int port = testing::FreePort();
  env["SAMPLAN_LISTEN_ADDRESS"] = absl::StrCat("127.0.0.1:", port);
  const std::string address = absl::StrCat("127.0.0.1:", port);
  auto start = [&]() {
    auto process = testing::ChildProcess::Spawn(SAMPLAN_EVENTS_BINARY, {}, env,
                                                ::testing::TempDir() + "/events-process.log");
    EXPECT_TRUE(process.ok()) << process.status();
    for (int i = 0; i < 200 && !testing::PortAcceptsConnections(port); ++i) {
      absl::SleepFor(absl::Milliseconds(25));
    }
    return *std::move(process);
  };

  auto process = start();
  auto client = std::make_unique<TestSubscriber>(address, Token("af"), Request());
  ASSERT_TRUE(client->WaitFor(absl::Seconds(10), [](const auto& r) { return !r.empty(); }));
  const auto [person, plan] = PersonWithPlan({"af"});
  std::vector<ev::DeliveredEvent> kept;
  std::string cursor;
  int64_t last_version = 1;
  for (int round = 0; round < 3; ++round) {
    // Changes stream in; the process dies in the middle of them.
    std::thread writer([&] { UpdatePlan(plan, 10); });
    ASSERT_TRUE(WaitForVersion(*client, plan, last_version + 3));
    process->Signal(SIGKILL);
    writer.join();
    last_version += 10;
    client->WaitForEnd(absl::Seconds(10)).IgnoreError();
    // What the client processed, up to the last cursor it was given.
    for (const auto& r : client->received()) {
      for (const auto& e : r.message.events()) kept.push_back(e);
      cursor = r.message.cursor();
    }
    process = start();
    client = std::make_unique<TestSubscriber>(address, Token("af"), Request(cursor));
  }
  // The resumed client has caught up once its cursor has passed the last
  // version's position on the stream. It may get nothing more: a process that
  // fell behind sends what piled up as one message, so the last version can
  // reach the client before the kill (under load, it did).
  ASSERT_TRUE(testing::WaitForOutboxDrained(*dsn_, absl::Seconds(10)).ok());
  absl::StatusOr<std::vector<testing::StreamedEvent>> stream =
      testing::ReadStream(redis_->Address(), "1885");
  ASSERT_TRUE(stream.ok()) << stream.status();
  std::string last_position;
  std::string on_stream;
  for (const testing::StreamedEvent& e : *stream) {
    if (e.aggregate != plan) continue;
    absl::StrAppend(&on_stream, " ", e.version, "@", e.stream_id);
    if (e.version == last_version) last_position = e.stream_id;
  }
  ASSERT_FALSE(last_position.empty()) << "not on the stream:" << on_stream;
  auto caught_up = [&](TestSubscriber& resumed) {
    if (WaitForCursorPast(resumed, last_position)) return true;
    Ended(resumed);
    ADD_FAILURE() << "resumed from " << cursor << "; kept "
                  << ::testing::PrintToString(VersionsOf(kept, plan)) << "; the resumed client got "
                  << ::testing::PrintToString(VersionsOf(resumed.events(), plan)) << " in "
                  << resumed.received().size() << " messages; on the stream:" << on_stream;
    return false;
  };
  ASSERT_TRUE(caught_up(*client));
  for (const auto& e : client->events()) kept.push_back(e);
  EXPECT_EQ(VersionsOf(kept, plan), Range(1, last_version));

  // That case on purpose: killed when the client has had everything, it resumes
  // at the newest event and gets nothing twice.
  cursor = client->last_cursor();
  process->Signal(SIGKILL);
  client->WaitForEnd(absl::Seconds(10)).IgnoreError();
  process = start();
  client = std::make_unique<TestSubscriber>(address, Token("af"), Request(cursor));
  ASSERT_TRUE(caught_up(*client));
  ASSERT_TRUE(client->WaitFor(absl::Seconds(5), [](const auto& r) { return r.size() >= 2; }))
      << "no heartbeat";
  EXPECT_EQ(VersionsOf(client->events(), plan), std::vector<int64_t>{});
}

// Whoever can write to Redis is not trusted: an entry without the MAC of a relay of
// ours — none, a wrong one, or one made for another municipality's stream — never
// reaches a subscriber or a ListEvents page, and is counted; genuine entries
// around it flow as before.
TEST_F(EventsSubscribeTest, EntriesWithoutAValidMacReachNoSubscriberAndNoPage) {
  const auto [person, plan] = PersonWithPlan({"af"});
  auto af = Subscribe("af", Request());
  ASSERT_TRUE(WaitForVersion(*af, plan, 1));

  // A genuine entry of the plan, as its relay wrote it: the pattern to forge from.
  RedisClient redis({redis_->host(), redis_->port()});
  const std::string stream = EventStreamKey("1885");
  auto all = redis.Command({"XRANGE", stream, "-", "+"});
  ASSERT_TRUE(all.ok());
  ev::Event genuine;
  std::string genuine_mac;
  for (const StreamEntry& entry : ParseStreamEntries(*all)) {
    ev::Event event;
    if (event.ParseFromString(entry.Field("event")) && event.aggregate() == plan) {
      genuine = event;
      genuine_mac = entry.Field("mac");
    }
  }
  ASSERT_FALSE(genuine_mac.empty()) << "the relay wrote no MAC";

  // Forged versions 50, 51, 52 of the plan: each would be shown to af if believed.
  auto forge = [&](int64_t version, const std::string& mac_of) {
    ev::Event event = genuine;
    event.set_event_id(absl::StrCat("forged-", version, "-", plan));
    event.set_aggregate_version(version);
    const std::string envelope = event.SerializeAsString();
    std::vector<std::string> command = {"XADD", stream, "*", "event_id", event.event_id(),
                                        "type", event.type(), "event", envelope,
                                        "access_version", "0"};
    if (mac_of == "wrong") command.insert(command.end(), {"mac", genuine_mac});
    if (mac_of == "0180") {
      // What a relay of ours would write for municipality 0180, copied here.
      command.insert(command.end(),
                     {"mac", StreamKeys::ProcessLocal().Sign(EventStreamKey("0180"),
                                                             event.event_id(), event.type(),
                                                             envelope, "0")});
    }
    auto reply = redis.Command(command);
    ASSERT_TRUE(reply.ok() && !reply->is_error());
  };
  const int64_t refused_before = [] {
    const std::string text = Metrics::Global().Render();
    const std::string name = "samplan_events_unauthentic_total ";
    const size_t at = text.find("\n" + name);
    return at == std::string::npos ? int64_t{0}
                                   : std::stoll(text.substr(at + 1 + name.size()));
  }();
  forge(50, "none");
  forge(51, "wrong");
  forge(52, "0180");
  UpdatePlan(plan);  // version 2, genuine, after the forgeries

  ASSERT_TRUE(WaitForVersion(*af, plan, 2));
  EXPECT_EQ(VersionsOf(af->events(), plan), Range(1, 2));
  // A subscriber catching up from Redis, and a page, pass over them too.
  auto from_start = Subscribe("af", Request(absl::StrCat("1885:", 0, "-", 1)));
  ASSERT_TRUE(WaitForVersion(*from_start, plan, 2));
  EXPECT_EQ(VersionsOf(from_start->events(), plan), Range(1, 2));
  std::vector<ev::DeliveredEvent> listed;
  std::string token;
  for (int page = 0; page < 100; ++page) {
    ev::ListEventsRequest request;
    request.set_page_token(token);
    request.set_page_size(100);
    ev::ListEventsResponse response;
    grpc::Status status = events_->NewStub()->ListEvents(
        testing::CallWithToken(Token("af")).get(), request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    for (const ev::DeliveredEvent& e : response.events()) listed.push_back(e);
    if (response.events().empty()) break;
    token = response.next_page_token();
  }
  EXPECT_EQ(VersionsOf(listed, plan), Range(1, 2));
  // Counted each time read: by the hub, the catch-up and the page at least.
  const std::string text = Metrics::Global().Render();
  const size_t at = text.find("\nsamplan_events_unauthentic_total ");
  ASSERT_NE(at, std::string::npos) << "not counted";
  EXPECT_GE(std::stoll(text.substr(at + 1 + std::string("samplan_events_unauthentic_total ").size())),
            refused_before + 3);
}

}  // namespace
}  // namespace samplan
