// Tier 3: the caseplan service in-process against real PostgreSQL and Redis
// processes started by the test: every change is one event on the municipality's
// stream, etags protect against lost updates, bad input stores nothing, and the
// schema migrations behave when replicas start together.

#include <google/protobuf/util/time_util.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/call.h"
#include "common/migrations.h"
#include "common/outbox.h"
#include "common/pg.h"
#include "common/relay.h"
#include "common/server.h"
#include "services/caseplan/caseplan_service.h"
#include "services/caseplan/pg_plan_repository.h"
#include "common/redis.h"
#include "samplan/caseplan/v1/events.pb.h"
#include "tests/support/caseplan_stack.h"
#include "tests/support/suite.h"
#include "tests/support/fixtures.h"
#include "tests/support/servers.h"

namespace samplan {
const std::vector<Migration>& caseplan_migrations();
}  // namespace samplan

namespace samplan::caseplan {
namespace {

using testing::PostgresServer;
using testing::RedisServer;
using testing::TestKeys;

class CasePlanStoreTest : public testing::ServersSuite {
 protected:
  void SetUp() override {
    auto dsn = pg_->CreateDatabase();
    ASSERT_TRUE(dsn.ok()) << dsn.status();
    dsn_ = *dsn;
    absl::Status migrated = testing::MigrateIdentityAndCasePlan(dsn_);
    ASSERT_TRUE(migrated.ok()) << migrated;
    persons_ = std::make_unique<testing::TestPersons>(dsn_);
    RedisClient redis({redis_->host(), redis_->port()});
    ASSERT_TRUE(redis.Command({"FLUSHALL"}).ok());

    auto stack = testing::InProcessCasePlan::Start(dsn_, keys_->VerifierOptions());
    ASSERT_TRUE(stack.ok()) << stack.status();
    stack_ = *std::move(stack);
    stub_ = stack_->NewStub();
    relay_ = std::make_unique<OutboxRelay>(RelayOptions{kSchema, 50, absl::Milliseconds(5)},
                                           dsn_, RedisOptions{redis_->host(), redis_->port()});
    relay_->Start();
  }

  void TearDown() override {
    relay_.reset();
    stack_.reset();
  }

  static std::vector<MigrationSet> Sets() {
    return PlanMigrationSets();
  }

  std::unique_ptr<grpc::ClientContext> As(const std::string& org,
                                          const std::string& role = "caseworker") {
    auto context = std::make_unique<grpc::ClientContext>();
    context->AddMetadata("authorization", "Bearer " + keys_->Token(org, role));
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    return context;
  }

  // Returns the registered person labelled `label`, who has consented to
  // organizations/af (which takes part in every plan these tests create) seeing
  // the plan.
  std::string Person(const std::string& label) {
    const std::string id = (*persons_)(label);
    if (consented_.insert(id).second) persons_->GrantConsent(id, "organizations/af");
    return id;
  }

  v1::Plan Create(const std::string& person = "persons/p1") {
    v1::CreatePlanRequest request;
    plan_request_id_ = NewItemId();
    request.set_request_id(plan_request_id_);
    request.mutable_plan()->set_person(Person(person));
    request.mutable_plan()->set_status(v1::PLAN_STATUS_DRAFT);
    request.mutable_plan()->add_participants()->set_organization("organizations/af");
    auto* goal = request.mutable_plan()->add_goals();
    goal->set_description("Work as an assistant nurse");
    goal->set_status(v1::PROGRESS_STATUS_PLANNED);
    v1::Plan plan;
    grpc::Status status = stub_->CreatePlan(As("soc").get(), request, &plan);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return plan;
  }

  grpc::Status SetStatus(const v1::Plan& plan, v1::PlanStatus status, const std::string& etag,
                         v1::Plan* out) {
    v1::UpdatePlanRequest update;
    update.mutable_plan()->set_name(plan.name());
    update.mutable_plan()->set_status(status);
    update.mutable_plan()->set_etag(etag);
    update.mutable_update_mask()->add_paths("status");
    return stub_->UpdatePlan(As("soc").get(), update, out);
  }

  // Returns how many events reached the stream once the relay has caught up.
  int64_t EventsOnStream() {
    EXPECT_TRUE(testing::WaitForOutboxDrained(dsn_, absl::Seconds(10)).ok());
    auto events = testing::ReadStream(redis_->Address(), "1885");
    EXPECT_TRUE(events.ok());
    return events.ok() ? static_cast<int64_t>(events->size()) : -1;
  }

  int64_t Count(const std::string& sql) {
    pqxx::connection connection(dsn_);
    pqxx::nontransaction tx(connection);
    return tx.exec(sql)[0][0].as<int64_t>();
  }

  std::string dsn_;
  std::unique_ptr<testing::TestPersons> persons_;
  std::set<std::string> consented_;
  std::unique_ptr<testing::InProcessCasePlan> stack_;
  std::unique_ptr<v1::CasePlanService::Stub> stub_;
  std::string plan_request_id_;  // of the last Create
  std::unique_ptr<OutboxRelay> relay_;
};


TEST_F(CasePlanStoreTest, CreateAndUpdatesGiveExactlyOneEventEachInOrder) {
  v1::Plan plan = Create();
  v1::Plan current = plan;
  for (v1::PlanStatus status : {v1::PLAN_STATUS_ACTIVE, v1::PLAN_STATUS_ON_HOLD,
                                v1::PLAN_STATUS_ACTIVE}) {
    grpc::Status result = SetStatus(current, status, current.etag(), &current);
    ASSERT_TRUE(result.ok()) << result.error_message();
  }
  EXPECT_EQ(current.version(), 4);
  ASSERT_TRUE(testing::WaitForOutboxDrained(dsn_, absl::Seconds(10)).ok());

  auto events = testing::ReadStream(redis_->Address(), "1885");
  ASSERT_TRUE(events.ok()) << events.status();
  ASSERT_EQ(events->size(), 4u);
  EXPECT_EQ((*events)[0].type, "caseplan.plan.created");
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ((*events)[i].aggregate, plan.name());
    EXPECT_EQ((*events)[i].version, i + 1);
    if (i > 0) {
      EXPECT_EQ((*events)[i].type, "caseplan.plan.updated");
    }
  }
  EXPECT_TRUE(testing::VerifyStreamMatchesDatabase(dsn_, redis_->Address(), "1885").ok());

  // What was stored reads back the same, through a fresh GetPlan.
  v1::GetPlanRequest get;
  get.set_name(plan.name());
  v1::Plan fetched;
  ASSERT_TRUE(stub_->GetPlan(As("af", "partner_system").get(), get, &fetched).ok());
  EXPECT_EQ(fetched.version(), 4);
  EXPECT_EQ(fetched.status(), v1::PLAN_STATUS_ACTIVE);
  EXPECT_EQ(fetched.goals(0).description(), "Work as an assistant nurse");
  EXPECT_EQ(fetched.goals(0).id(), plan.goals(0).id());
  EXPECT_EQ(fetched.create_time().seconds(), plan.create_time().seconds());
}

TEST_F(CasePlanStoreTest, StaleEtagIsAbortedAndStoresNothing) {
  v1::Plan plan = Create();
  v1::Plan updated;
  ASSERT_TRUE(SetStatus(plan, v1::PLAN_STATUS_ACTIVE, plan.etag(), &updated).ok());
  grpc::Status stale = SetStatus(plan, v1::PLAN_STATUS_CANCELLED, plan.etag(), &updated);
  EXPECT_EQ(stale.error_code(), grpc::StatusCode::ABORTED);
  EXPECT_EQ(Count("SELECT count(*) FROM caseplan.plan_revisions"), 2);
  EXPECT_EQ(EventsOnStream(), 2);
  EXPECT_EQ(Count("SELECT count(*) FROM caseplan.plans WHERE status = 'PLAN_STATUS_ACTIVE'"), 1);
}

// The audit log records every decision of the access rule: permitted reads and
// writes, and attempts the rule refuses. An attempt by a permitted caller that
// is refused for its own content (a stale etag, invalid input) reads and changes
// nothing of the person, and leaves no record (README, "Who sees a person's data").
TEST_F(CasePlanStoreTest, RefusalsByTheRuleAreAuditedRefusedContentIsNot) {
  v1::Plan plan = Create();
  const std::string audit_sql =
      absl::StrCat("SELECT count(*) FROM identity.audit_records WHERE resource = '", plan.name(),
                   "' AND action = 'caseplan.UpdatePlan'");
  v1::Plan updated;
  ASSERT_TRUE(SetStatus(plan, v1::PLAN_STATUS_ACTIVE, plan.etag(), &updated).ok());
  EXPECT_EQ(Count(audit_sql), 1);
  EXPECT_EQ(SetStatus(plan, v1::PLAN_STATUS_CANCELLED, plan.etag(), &updated).error_code(),
            grpc::StatusCode::ABORTED);
  EXPECT_EQ(SetStatus(plan, v1::PlanStatus(999), "", &updated).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Count(audit_sql), 1);
  // Försäkringskassan holds no consent: refused by the rule, and recorded.
  v1::UpdatePlanRequest update;
  update.mutable_plan()->set_name(plan.name());
  update.mutable_plan()->set_status(v1::PLAN_STATUS_CANCELLED);
  update.mutable_update_mask()->add_paths("status");
  EXPECT_EQ(stub_->UpdatePlan(As("fk", "partner_system").get(), update, &updated).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Count(audit_sql), 2);
  EXPECT_EQ(Count(absl::StrCat(audit_sql, " AND decision = 'deny'")), 1);
}

TEST_F(CasePlanStoreTest, TwoWritersWithOneEtagExactlyOneWins) {
  for (int round = 0; round < 20; ++round) {
    v1::Plan plan = Create(absl::StrCat("persons/race", round));
    std::atomic<int> won{0}, aborted{0}, other{0};
    std::vector<std::thread> writers;
    for (v1::PlanStatus status : {v1::PLAN_STATUS_ACTIVE, v1::PLAN_STATUS_CANCELLED}) {
      writers.emplace_back([&, status] {
        v1::Plan out;
        grpc::Status result = SetStatus(plan, status, plan.etag(), &out);
        if (result.ok()) {
          ++won;
        } else if (result.error_code() == grpc::StatusCode::ABORTED) {
          ++aborted;
        } else {
          ++other;
        }
      });
    }
    for (auto& writer : writers) writer.join();
    EXPECT_EQ(won.load(), 1) << "round " << round;
    EXPECT_EQ(aborted.load(), 1) << "round " << round;
    EXPECT_EQ(other.load(), 0);
  }
  EXPECT_EQ(Count("SELECT count(*) FROM caseplan.plans WHERE version = 2"), 20);
  EXPECT_EQ(Count("SELECT count(*) FROM caseplan.plan_revisions"), 40);
  ASSERT_TRUE(testing::WaitForOutboxDrained(dsn_, absl::Seconds(10)).ok());
  EXPECT_TRUE(testing::VerifyStreamMatchesDatabase(dsn_, redis_->Address(), "1885").ok());
}

TEST_F(CasePlanStoreTest, WithoutEtagConcurrentUpdatesAllLand) {
  v1::Plan plan = Create();
  std::vector<std::thread> writers;
  std::mutex mu;
  std::set<int64_t> versions;  // the version each successful call answered with
  int other_failures = 0, aborted = 0;
  for (int w = 0; w < 4; ++w) {
    writers.emplace_back([&, w] {
      for (int i = 0; i < 5; ++i) {
        v1::UpdatePlanRequest update;
        update.mutable_plan()->set_name(plan.name());
        update.mutable_plan()->set_overall_goal_description(absl::StrCat("writer ", w, " #", i));
        update.mutable_update_mask()->add_paths("overall_goal_description");
        v1::Plan out;
        grpc::Status status = stub_->UpdatePlan(As("soc").get(), update, &out);
        std::lock_guard<std::mutex> lock(mu);
        if (status.ok()) {
          EXPECT_TRUE(versions.insert(out.version()).second)
              << "two calls answered with version " << out.version() << ": a lost update";
        } else if (status.error_code() == grpc::StatusCode::ABORTED) {
          ++aborted;
        } else {
          ++other_failures;
        }
      }
    });
  }
  for (auto& writer : writers) writer.join();
  // Updates without an etag take turns on the plan's row: none fails, and every
  // change is a version of its own.
  EXPECT_EQ(other_failures, 0);
  EXPECT_EQ(aborted, 0);
  EXPECT_EQ(versions.size(), 20u);
  EXPECT_EQ(Count("SELECT version FROM caseplan.plans"), 21);
  ASSERT_TRUE(testing::WaitForOutboxDrained(dsn_, absl::Seconds(10)).ok());
  EXPECT_TRUE(testing::VerifyStreamMatchesDatabase(dsn_, redis_->Address(), "1885").ok());
}

TEST_F(CasePlanStoreTest, NotesFromTwoAgenciesAtOnceBothLand) {
  v1::Plan plan = Create();
  std::vector<std::thread> agencies;
  std::atomic<int> failed{0};
  for (const char* org : {"soc", "af"}) {
    agencies.emplace_back([&, org] {
      for (int i = 0; i < 10; ++i) {
        v1::UpdatePlanRequest update;
        update.mutable_plan()->set_name(plan.name());
        update.mutable_plan()->add_notes()->set_text(absl::StrCat(org, " note ", i));
        update.mutable_update_mask()->add_paths("notes");
        v1::Plan out;
        const std::string role = std::string(org) == "af" ? "partner_system" : "caseworker";
        grpc::Status status = stub_->UpdatePlan(As(org, role).get(), update, &out);
        if (!status.ok()) {
          ++failed;
          ADD_FAILURE() << status.error_message();
        }
      }
    });
  }
  for (auto& agency : agencies) agency.join();
  EXPECT_EQ(failed.load(), 0);
  v1::GetPlanRequest get;
  get.set_name(plan.name());
  v1::Plan fetched;
  ASSERT_TRUE(stub_->GetPlan(As("soc").get(), get, &fetched).ok());
  ASSERT_EQ(fetched.notes_size(), 20);
  int from_af = 0;
  for (const auto& note : fetched.notes()) from_af += note.author_organization() == "organizations/af";
  EXPECT_EQ(from_af, 10);
  EXPECT_EQ(fetched.version(), 21);
}

TEST_F(CasePlanStoreTest, RetriedUpdateWithSameRequestIdAppliesOnce) {
  v1::Plan plan = Create();
  v1::UpdatePlanRequest update;
  update.mutable_plan()->set_name(plan.name());
  update.mutable_plan()->add_notes()->set_text("Called the person: starts SFI Monday.");
  update.mutable_update_mask()->add_paths("notes");
  auto send = [&](const std::string& request_id, v1::Plan* out) {
    auto context = As("soc");
    context->AddMetadata("x-request-id", request_id);
    return stub_->UpdatePlan(context.get(), update, out);
  };
  v1::Plan first, retried, other;
  ASSERT_TRUE(send("note-call-1", &first).ok());
  // The answer got lost; the caller sends the very same call again.
  ASSERT_TRUE(send("note-call-1", &retried).ok());
  EXPECT_EQ(retried.version(), first.version());
  EXPECT_EQ(retried.notes_size(), 1);
  // A new call (new request id) with the same content is a new note.
  ASSERT_TRUE(send("note-call-2", &other).ok());
  EXPECT_EQ(other.notes_size(), 2);
  EXPECT_EQ(Count("SELECT count(*) FROM caseplan.plan_revisions"), 3);
  EXPECT_EQ(EventsOnStream(), 3);

  // A gateway that reuses one correlation id for a different change is told so;
  // the change is neither applied nor silently swallowed.
  update.mutable_plan()->clear_notes();
  update.mutable_plan()->set_status(v1::PLAN_STATUS_ACTIVE);
  update.mutable_update_mask()->set_paths(0, "status");
  v1::Plan reused;
  grpc::Status status = send("note-call-1", &reused);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("x-request-id"), std::string::npos);
  // The create's request id is no update's: an update carrying it is applied.
  v1::Plan applied;
  ASSERT_TRUE(send(plan_request_id_, &applied).ok());
  EXPECT_EQ(applied.status(), v1::PLAN_STATUS_ACTIVE);
  EXPECT_EQ(applied.version(), 4);
}

// A client that times out and retries at once may have several attempts of one
// call in flight: they must add the note once, as sequential retries do.
TEST_F(CasePlanStoreTest, RetriesSentAtOnceApplyTheChangeOnce) {
  for (int round = 0; round < 5; ++round) {
    v1::Plan plan = Create();
    v1::UpdatePlanRequest update;
    update.mutable_plan()->set_name(plan.name());
    update.mutable_plan()->add_notes()->set_text("Ringde personen: börjar SFI på måndag.");
    update.mutable_update_mask()->add_paths("notes");
    const std::string request_id = absl::StrCat("parallel-note-", round);
    constexpr int kAttempts = 8;
    std::vector<v1::Plan> answers(kAttempts);
    std::vector<grpc::Status> statuses(kAttempts);
    std::vector<std::thread> attempts;
    for (int i = 0; i < kAttempts; ++i) {
      attempts.emplace_back([&, i] {
        auto context = As("soc");
        context->AddMetadata("x-request-id", request_id);
        statuses[i] = stub_->UpdatePlan(context.get(), update, &answers[i]);
      });
    }
    for (std::thread& attempt : attempts) attempt.join();
    for (int i = 0; i < kAttempts; ++i) {
      ASSERT_TRUE(statuses[i].ok()) << statuses[i].error_message();
      EXPECT_EQ(answers[i].version(), 2) << "attempt " << i;
      EXPECT_EQ(answers[i].notes_size(), 1) << "attempt " << i;
    }
    v1::GetPlanRequest get;
    get.set_name(plan.name());
    v1::Plan stored;
    ASSERT_TRUE(stub_->GetPlan(As("soc").get(), get, &stored).ok());
    EXPECT_EQ(stored.notes_size(), 1);
    EXPECT_EQ(stored.version(), 2);
  }
  EXPECT_EQ(Count("SELECT count(*) FROM caseplan.plan_revisions WHERE request_id LIKE "
                  "'parallel-note-%'"),
            5);
  EXPECT_EQ(EventsOnStream(), 10);
}

TEST_F(CasePlanStoreTest, CreateWithAReusedRequestIdForAnotherPlanIsRefused) {
  v1::CreatePlanRequest request;
  request.set_request_id("1");
  request.mutable_plan()->set_person(Person("persons/anna"));
  request.mutable_plan()->set_status(v1::PLAN_STATUS_DRAFT);
  v1::Plan anna, again, bertil;
  ASSERT_TRUE(stub_->CreatePlan(As("soc").get(), request, &anna).ok());
  ASSERT_TRUE(stub_->CreatePlan(As("soc").get(), request, &again).ok());  // a true retry
  EXPECT_EQ(again.name(), anna.name());
  request.mutable_plan()->set_person(Person("persons/bertil"));
  grpc::Status status = stub_->CreatePlan(As("soc").get(), request, &bertil);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("request_id"), std::string::npos);
  EXPECT_TRUE(bertil.name().empty());
  EXPECT_EQ(Count("SELECT count(*) FROM caseplan.plans"), 1);
}

TEST_F(CasePlanStoreTest, InvalidInputStoresNothing) {
  v1::Plan plan = Create();
  v1::UpdatePlanRequest update;
  update.mutable_plan()->set_name(plan.name());
  auto* activity = update.mutable_plan()->add_activities();
  activity->set_kind(v1::ACTIVITY_KIND_WORK_PRACTICE);
  activity->set_responsible_organization("organizations/not-in-plan");
  activity->set_status(v1::PROGRESS_STATUS_PLANNED);
  update.mutable_update_mask()->add_paths("activities");
  v1::Plan out;
  grpc::Status status = stub_->UpdatePlan(As("soc").get(), update, &out);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("plan.activities[0].responsible_organization"),
            std::string::npos);

  v1::CreatePlanRequest create;
  create.set_request_id("bad-create");
  create.mutable_plan()->set_person("not a person");
  EXPECT_EQ(stub_->CreatePlan(As("soc").get(), create, &out).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  EXPECT_EQ(Count("SELECT count(*) FROM caseplan.plans"), 1);
  EXPECT_EQ(Count("SELECT count(*) FROM caseplan.plan_revisions"), 1);
  EXPECT_EQ(EventsOnStream(), 1);
}

TEST_F(CasePlanStoreTest, RetriedCreateFromTwoThreadsMakesOnePlan) {
  v1::CreatePlanRequest request;
  request.set_request_id("retry-me");
  request.mutable_plan()->set_person(Person("persons/p9"));
  request.mutable_plan()->set_status(v1::PLAN_STATUS_DRAFT);
  std::vector<std::string> names(4);
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] {
      v1::Plan plan;
      grpc::Status status = stub_->CreatePlan(As("soc").get(), request, &plan);
      EXPECT_TRUE(status.ok()) << status.error_message();
      names[i] = plan.name();
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& name : names) EXPECT_EQ(name, names[0]);
  EXPECT_EQ(Count("SELECT count(*) FROM caseplan.plans"), 1);
  EXPECT_EQ(EventsOnStream(), 1);
}

TEST_F(CasePlanStoreTest, ListPagesThroughVisiblePlansOnly) {
  for (int i = 0; i < 7; ++i) Create(absl::StrCat("persons/p", i));
  {
    // A plan of another organization, without soc taking part. fk may write a
    // plan about soc's registered person only with the person's consent.
    v1::CreatePlanRequest request;
    request.set_request_id("fk-plan");
    request.mutable_plan()->set_person(Person("persons/p0"));
    request.mutable_plan()->set_status(v1::PLAN_STATUS_ACTIVE);
    v1::Plan plan;
    EXPECT_EQ(stub_->CreatePlan(As("fk").get(), request, &plan).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
    persons_->GrantConsent(Person("persons/p0"), "organizations/fk");
    ASSERT_TRUE(stub_->CreatePlan(As("fk").get(), request, &plan).ok());
  }
  v1::ListPlansRequest list;
  list.set_page_size(3);
  std::set<std::string> names;
  int pages = 0;
  do {
    v1::ListPlansResponse page;
    grpc::Status status = stub_->ListPlans(As("soc").get(), list, &page);
    ASSERT_TRUE(status.ok()) << status.error_message();
    for (const auto& plan : page.plans()) {
      EXPECT_EQ(plan.lead_organization(), "organizations/soc");
      names.insert(plan.name());
    }
    list.set_page_token(page.next_page_token());
    ++pages;
  } while (!list.page_token().empty() && pages < 10);
  EXPECT_EQ(names.size(), 7u);
  EXPECT_EQ(pages, 3);

  // af takes part in soc's plans: it sees all seven; filtered to one person, one.
  v1::ListPlansRequest by_person;
  by_person.set_person(Person("persons/p0"));
  v1::ListPlansResponse page;
  ASSERT_TRUE(stub_->ListPlans(As("af", "partner_system").get(), by_person, &page).ok());
  ASSERT_EQ(page.plans_size(), 1);
  EXPECT_EQ(page.plans(0).lead_organization(), "organizations/soc");
}

TEST_F(CasePlanStoreTest, FiltersRevisionsAndEventPayloadsFromTheDatabase) {
  v1::Plan first = Create("persons/p1");
  v1::Plan second = Create("persons/p2");
  v1::Plan active;
  ASSERT_TRUE(SetStatus(second, v1::PLAN_STATUS_ACTIVE, second.etag(), &active).ok());

  // By status.
  v1::ListPlansRequest list;
  list.set_status(v1::PLAN_STATUS_ACTIVE);
  v1::ListPlansResponse page;
  ASSERT_TRUE(stub_->ListPlans(As("soc").get(), list, &page).ok());
  ASSERT_EQ(page.plans_size(), 1);
  EXPECT_EQ(page.plans(0).name(), second.name());
  // By organization: af takes part in both; fk in none.
  list.Clear();
  list.set_organization("organizations/af");
  ASSERT_TRUE(stub_->ListPlans(As("soc").get(), list, &page).ok());
  EXPECT_EQ(page.plans_size(), 2);
  list.set_organization("organizations/fk");
  ASSERT_TRUE(stub_->ListPlans(As("soc").get(), list, &page).ok());
  EXPECT_EQ(page.plans_size(), 0);

  // Revisions, newest first, with who, what and the event that announced them.
  v1::ListPlanRevisionsRequest revisions;
  revisions.set_name(second.name());
  v1::ListPlanRevisionsResponse history;
  ASSERT_TRUE(stub_->ListPlanRevisions(As("af", "partner_system").get(), revisions, &history).ok());
  ASSERT_EQ(history.revisions_size(), 2);
  EXPECT_EQ(history.revisions(0).version(), 2);
  EXPECT_EQ(history.revisions(0).actor_organization(), "organizations/soc");
  EXPECT_EQ(std::vector<std::string>(history.revisions(0).changed_fields().begin(),
                                     history.revisions(0).changed_fields().end()),
            std::vector<std::string>{"status"});
  EXPECT_EQ(history.revisions(0).plan().status(), v1::PLAN_STATUS_ACTIVE);
  EXPECT_EQ(history.revisions(1).plan().status(), v1::PLAN_STATUS_DRAFT);

  // The event of that revision names what changed and who takes part, nothing more.
  ASSERT_TRUE(testing::WaitForOutboxDrained(dsn_, absl::Seconds(10)).ok());
  RedisClient redis({redis_->host(), redis_->port()});
  auto reply = redis.Command({"XRANGE", EventStreamKey("1885"), "-", "+"});
  ASSERT_TRUE(reply.ok());
  bool found = false;
  for (const StreamEntry& entry : ParseStreamEntries(*reply)) {
    events::v1::Event event;
    ASSERT_TRUE(event.ParseFromString(entry.Field("event")));
    if (event.event_id() != history.revisions(0).event_id()) continue;
    found = true;
    EXPECT_EQ(event.type(), "caseplan.plan.updated");
    EXPECT_EQ(event.person(), Person("persons/p2"));
    EXPECT_EQ(event.data_category(), "plan");
    v1::PlanChanged changed;
    ASSERT_TRUE(event.payload().UnpackTo(&changed));
    EXPECT_EQ(changed.plan(), second.name());
    EXPECT_EQ(changed.version(), 2);
    EXPECT_EQ(changed.status(), "PLAN_STATUS_ACTIVE");
    ASSERT_EQ(changed.changed_fields_size(), 1);
    EXPECT_EQ(changed.changed_fields(0), "status");
    ASSERT_EQ(changed.participant_organizations_size(), 1);
    EXPECT_EQ(changed.participant_organizations(0), "organizations/af");
    // The payload carries no plan content: no goal text reaches the stream.
    EXPECT_EQ(entry.Field("event").find("assistant nurse"), std::string::npos);
  }
  EXPECT_TRUE(found) << "the revision's event is not on the stream";
  (void)first;
}

TEST_F(CasePlanStoreTest, MigrationsRunOnceWhenReplicasStartTogether) {
  auto dsn = pg_->CreateDatabase();
  ASSERT_TRUE(dsn.ok());
  std::vector<std::thread> replicas;
  std::atomic<int> failures{0};
  for (int i = 0; i < 4; ++i) {
    replicas.emplace_back([&] {
      if (!ApplyMigrations(*dsn, kSchema, Sets()).ok()) ++failures;
    });
  }
  for (auto& replica : replicas) replica.join();
  EXPECT_EQ(failures.load(), 0);
  pqxx::connection connection(*dsn);
  pqxx::nontransaction tx(connection);
  EXPECT_EQ(tx.exec("SELECT count(*) FROM caseplan.schema_migrations")[0][0].as<int>(),
            static_cast<int>(caseplan_migrations().size() + outbox_migrations().size()));

  // A migration edited after it was applied stops the start, naming it.
  std::vector<Migration> edited = caseplan_migrations();
  edited[0].sql += "\n-- edited";
  absl::Status status = ApplyMigrations(*dsn, kSchema, {{"caseplan", &edited}});
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(status.message().find(edited[0].name), std::string_view::npos);
}

}  // namespace
}  // namespace samplan::caseplan
