// Tier 2: the CasePlanService over gRPC, in-process on port 0 with a real client
// stub and real token verification, over an in-memory repository.

#include "services/caseplan/caseplan_service.h"

#include <google/protobuf/util/time_util.h>
#include <grpcpp/generic/generic_stub.h>
#include <gtest/gtest.h>

#include <future>
#include <map>
#include <set>

#include "absl/synchronization/mutex.h"
#include "common/message_limits.h"
#include "common/server.h"
#include "google/rpc/error_details.pb.h"
#include "common/rpc_details.h"
#include "google/rpc/status.pb.h"
#include "services/caseplan/plan_rules.h"
#include "tests/support/fixtures.h"
#include "tests/support/middle_tier.h"

namespace samplan::caseplan {
namespace {

using ::google::protobuf::util::TimeUtil;

// Keeps plans in memory with the same contract as PgPlanRepository, deciding access
// by the same rule from facts the test sets: every person is registered in 1885,
// and an organization holds a consent for every person once GrantConsent named it.
class InMemoryPlanRepository final : public PlanRepository {
 public:
  absl::StatusOr<CreateResult> CreatePlan(const Caller& caller,
                                          const PlanWrite& write) override {
    absl::MutexLock lock(&mu_);
    if (absl::Status registered = CheckPersonRegistered(
            FactsLocked(caller.principal.organization), write.plan.municipality(), "plan.person");
        !registered.ok()) {
      return registered;
    }
    if (absl::Status denied = GuardLocked(caller, &write.plan, "", AccessAction::kCreate);
        !denied.ok()) {
      return denied;
    }
    auto key = std::make_pair(write.plan.lead_organization(), write.request_id);
    if (auto it = by_request_.find(key); it != by_request_.end()) {
      if (create_fingerprints_.at(it->second) != write.fingerprint) {
        return absl::InvalidArgumentError("request_id reused");
      }
      return CreateResult{plans_.at(it->second), false};
    }
    Plan plan = write.plan;
    plan.set_version(1);
    plan.set_etag("1");
    *plan.mutable_update_time() = plan.create_time();
    plans_[plan.name()] = plan;
    by_request_[key] = plan.name();
    create_fingerprints_[plan.name()] = write.fingerprint;
    Record(write, plan);
    return CreateResult{plan, true};
  }
  absl::StatusOr<Plan> GetPlan(const Caller& caller, const std::string& id) override {
    absl::MutexLock lock(&mu_);
    auto it = plans_.find("plans/" + id);
    const Plan* plan = it == plans_.end() ? nullptr : &it->second;
    if (absl::Status denied = GuardLocked(caller, plan, id, AccessAction::kRead); !denied.ok()) {
      return denied;
    }
    return *plan;
  }
  absl::StatusOr<UpdateResult> UpdatePlan(const Caller& caller, const std::string& id,
                                          const std::string& retry_request_id,
                                          const PlanChange& change) override {
    absl::MutexLock lock(&mu_);  // the row lock
    auto it = plans_.find("plans/" + id);
    const Plan* plan = it == plans_.end() ? nullptr : &it->second;
    if (absl::Status denied = GuardLocked(caller, plan, id, AccessAction::kUpdate);
        !denied.ok()) {
      return denied;
    }
    if (!retry_request_id.empty()) {
      for (const auto& [revision, fingerprint] : revisions_["plans/" + id]) {
        if (revision.version() > 1 && revision.request_id() == retry_request_id) {
          return UpdateResult{{}, EarlierUpdate{revision, fingerprint}};
        }
      }
    }
    const FactsFor facts_for = [&](absl::string_view organization) {
      mu_.AssertHeld();
      return FactsLocked(std::string(organization));
    };
    absl::StatusOr<std::optional<PlanWrite>> write = change(it->second, facts_for);
    if (!write.ok()) return write.status();
    if (!write->has_value()) return UpdateResult{it->second, std::nullopt};
    const int64_t version = it->second.version() + 1;
    it->second = (*write)->plan;
    it->second.set_version(version);
    it->second.set_etag(std::to_string(version));
    Record(**write, it->second);
    return UpdateResult{it->second, std::nullopt};
  }
  absl::StatusOr<std::vector<Plan>> ListPlans(const Caller& caller,
                                              const PlanQuery& query) override {
    absl::MutexLock lock(&mu_);
    std::vector<Plan> out;
    for (auto it = order_.rbegin(); it != order_.rend(); ++it) {
      const Plan& plan = plans_.at(*it);
      if (plan.municipality() != query.municipality ||
          (!query.person.empty() && plan.person() != query.person)) {
        continue;
      }
      if (query.after_create_time.has_value() &&
          !(std::make_pair(TimeUtil::TimestampToMicroseconds(plan.create_time()), plan.name()) <
            std::make_pair(absl::ToUnixMicros(*query.after_create_time), "plans/" + query.after_id))) {
        continue;
      }
      // What the SQL query selects: plans the viewer leads, or takes part in with
      // a consent. A plan it may not see leaves no audit record: it was not read.
      const GuardedAccess access = DecidePlanAccess(caller, plan, AccessAction::kRead,
                                                 FactsLocked(caller.principal.organization));
      if (!access.decision.permitted) continue;
      audits_.push_back(access.audit);
      out.push_back(plan);
      if (static_cast<int>(out.size()) == query.limit) break;
    }
    return out;
  }
  absl::StatusOr<std::vector<v1::PlanRevision>> ListRevisions(const Caller& caller,
                                                              const std::string& id,
                                                              std::optional<int64_t> before,
                                                              int limit) override {
    absl::MutexLock lock(&mu_);
    auto plan = plans_.find("plans/" + id);
    if (absl::Status denied = GuardLocked(
            caller, plan == plans_.end() ? nullptr : &plan->second, id, AccessAction::kRead);
        !denied.ok()) {
      return denied;
    }
    std::vector<v1::PlanRevision> out;
    const auto& revisions = revisions_["plans/" + id];
    for (auto it = revisions.rbegin(); it != revisions.rend() && static_cast<int>(out.size()) < limit; ++it) {
      if (!before.has_value() || it->first.version() < *before) out.push_back(it->first);
    }
    return out;
  }

  void GrantConsent(const std::string& organization) {
    absl::MutexLock lock(&mu_);
    consented_.insert(organization);
  }
  void WithdrawConsent(const std::string& organization) {
    absl::MutexLock lock(&mu_);
    consented_.erase(organization);
    withdrawn_.insert(organization);
  }
  std::vector<AuditEntry> audits() {
    absl::MutexLock lock(&mu_);
    return audits_;
  }

  std::vector<events::v1::Event> events() {
    absl::MutexLock lock(&mu_);
    return events_;
  }

  // Stores a note of `bytes` in plan `name` as it is, past every rule: a plan
  // as large as no rule lets it become.
  void InflateUnchecked(const std::string& name, size_t bytes) {
    absl::MutexLock lock(&mu_);
    plans_.at(name).add_notes()->set_text(std::string(bytes, 'x'));
  }

 private:
  AccessFacts FactsLocked(const std::string& organization) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    AccessFacts facts;
    facts.person_municipality = "1885";
    // Every person counts as registered by whichever organization asks, so any
    // caseworker may create plans here; the real rule runs in the PostgreSQL tests.
    facts.person_owner = organization;
    if (consented_.contains(organization)) {
      facts.consent = "consents/c-" + organization.substr(organization.find('/') + 1);
    } else {
      facts.consent_gap = withdrawn_.contains(organization) ? "consent_withdrawn" : "no_consent";
    }
    return facts;
  }
  absl::Status GuardLocked(const Caller& caller, const Plan* plan, const std::string& id,
                           AccessAction action) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const GuardedAccess access =
        plan == nullptr
            ? MissingPlanAccess(caller, id, action)
            : DecidePlanAccess(caller, *plan, action, FactsLocked(caller.principal.organization));
    audits_.push_back(access.audit);
    return StatusOf(access.decision, access.audit.resource);
  }
  void Record(const PlanWrite& write, const Plan& plan) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (write.plan.version() == 0 && plan.version() == 1) order_.push_back(plan.name());
    v1::PlanRevision revision;
    revision.set_version(plan.version());
    revision.set_actor_user(write.actor_user);
    revision.set_actor_organization(write.actor_organization);
    revision.set_request_id(write.request_id);
    for (const auto& f : write.changed_fields) revision.add_changed_fields(f);
    *revision.mutable_plan() = plan;
    revisions_[plan.name()].emplace_back(revision, write.fingerprint);
    events_.push_back(write.event);
  }

  absl::Mutex mu_;
  std::map<std::string, Plan> plans_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> order_ ABSL_GUARDED_BY(mu_);
  std::map<std::pair<std::string, std::string>, std::string> by_request_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::vector<std::pair<v1::PlanRevision, std::string>>> revisions_
      ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::string> create_fingerprints_ ABSL_GUARDED_BY(mu_);
  std::vector<events::v1::Event> events_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> consented_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> withdrawn_ ABSL_GUARDED_BY(mu_);
  std::vector<AuditEntry> audits_ ABSL_GUARDED_BY(mu_);
};

class CasePlanServiceTest : public testing::ServedServiceTest {
 protected:
  void SetUp() override {
    ServedServiceTest::SetUp();
    if (HasFatalFailure()) return;
    repository_.GrantConsent("organizations/af");
    ASSERT_TRUE(
        served_->Serve(std::make_unique<CasePlanService>(repository_, served_->calls(), NewItemId))
            .ok());
    channel_ = served_->NewChannel();
    stub_ = v1::CasePlanService::NewStub(channel_);
  }

  std::string Token(const std::string& org, const std::string& role = "caseworker",
                    const std::string& municipality = "1885") {
    return keys_->Token(org, role, municipality);
  }

  std::unique_ptr<grpc::ClientContext> As(const std::string& token) {
    auto context = std::make_unique<grpc::ClientContext>();
    if (!token.empty()) context->AddMetadata("authorization", "Bearer " + token);
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    return context;
  }

  v1::Plan CreateAs(const std::string& org, const std::string& person = "persons/p1",
                    const std::string& request_id = "") {
    v1::CreatePlanRequest request;
    request.set_request_id(request_id.empty() ? NewItemId() : request_id);
    request.mutable_plan()->set_person(person);
    request.mutable_plan()->set_status(v1::PLAN_STATUS_DRAFT);
    auto* participant = request.mutable_plan()->add_participants();
    participant->set_organization("organizations/af");
    v1::Plan plan;
    grpc::Status status = stub_->CreatePlan(As(Token(org)).get(), request, &plan);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return plan;
  }

  InMemoryPlanRepository repository_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::CasePlanService::Stub> stub_;
};

TEST_F(CasePlanServiceTest, CreateThenGetReturnsThePlanWithVersionAndEvent) {
  v1::Plan created = CreateAs("soc");
  EXPECT_EQ(created.version(), 1);
  EXPECT_EQ(created.lead_organization(), "organizations/soc");
  v1::GetPlanRequest get;
  get.set_name(created.name());
  v1::Plan fetched;
  ASSERT_TRUE(stub_->GetPlan(As(Token("soc")).get(), get, &fetched).ok());
  EXPECT_EQ(fetched.name(), created.name());
  EXPECT_EQ(fetched.etag(), "1");
  std::vector<events::v1::Event> events = repository_.events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].type(), "caseplan.plan.created");
  EXPECT_EQ(events[0].municipality(), "1885");
  EXPECT_EQ(events[0].aggregate(), created.name());
  EXPECT_EQ(events[0].aggregate_version(), 1);
  EXPECT_EQ(events[0].acting_organization(), "organizations/soc");
}

TEST_F(CasePlanServiceTest, RetriedCreateWithSameRequestIdCreatesNothingNew) {
  v1::Plan first = CreateAs("soc", "persons/p1", "same-request");
  v1::Plan second = CreateAs("soc", "persons/p1", "same-request");
  EXPECT_EQ(first.name(), second.name());
  EXPECT_EQ(repository_.events().size(), 1u);
}

TEST_F(CasePlanServiceTest, CallsWithoutAValidTokenAreUnauthenticated) {
  v1::GetPlanRequest get;
  get.set_name("plans/6f1c3a4e-8b7d-4c1a-9e2f-0a1b2c3d4e5f");
  v1::Plan plan;
  EXPECT_EQ(stub_->GetPlan(As("").get(), get, &plan).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(stub_->GetPlan(As("not.a.token").get(), get, &plan).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(CasePlanServiceTest, HealthAnswersWithoutToken) {
  grpc::GenericStub generic(channel_);
  grpc::ClientContext context;
  grpc::ByteBuffer request_buffer(nullptr, 0), response;  // HealthCheckRequest{service: ""}
  std::promise<grpc::Status> done;
  generic.UnaryCall(&context, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request_buffer,
                    &response, [&](grpc::Status s) { done.set_value(s); });
  grpc::Status status = done.get_future().get();
  ASSERT_TRUE(status.ok()) << status.error_message();
  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(response.Dump(&slices).ok());
  std::string bytes;
  for (auto& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  EXPECT_EQ(bytes, std::string("\x08\x01", 2));  // status: SERVING
}

TEST_F(CasePlanServiceTest, RequestIdIsEchoed) {
  v1::GetPlanRequest get;
  get.set_name("plans/6f1c3a4e-8b7d-4c1a-9e2f-0a1b2c3d4e5f");
  auto context = As(Token("soc"));
  context->AddMetadata("x-request-id", "trace-123");
  v1::Plan plan;
  stub_->GetPlan(context.get(), get, &plan);
  auto it = context->GetServerInitialMetadata().find("x-request-id");
  ASSERT_NE(it, context->GetServerInitialMetadata().end());
  EXPECT_EQ(std::string(it->second.data(), it->second.size()), "trace-123");
}

// A request id lands in logs, audit records and events: one shaped like a
// personnummer is replaced by a new id, as a malformed one is.
TEST_F(CasePlanServiceTest, ARequestIdShapedLikeAPersonnummerIsNotUsed) {
  v1::Plan created = CreateAs("soc");
  v1::GetPlanRequest get;
  get.set_name(created.name());
  auto context = As(Token("soc"));
  context->AddMetadata("x-request-id", "19850312-2387");
  v1::Plan plan;
  ASSERT_TRUE(stub_->GetPlan(context.get(), get, &plan).ok());
  auto it = context->GetServerInitialMetadata().find("x-request-id");
  ASSERT_NE(it, context->GetServerInitialMetadata().end());
  const std::string echoed(it->second.data(), it->second.size());
  EXPECT_NE(echoed, "19850312-2387");
  EXPECT_TRUE(IsUuid(echoed)) << echoed;
  for (const AuditEntry& entry : repository_.audits()) {
    EXPECT_EQ(entry.request_id.find("850312"), std::string::npos) << entry.request_id;
  }
}

TEST_F(CasePlanServiceTest, OtherOrganizationsCannotTellHiddenFromMissing) {
  v1::Plan created = CreateAs("soc");
  v1::GetPlanRequest hidden, missing;
  hidden.set_name(created.name());
  missing.set_name("plans/6f1c3a4e-8b7d-4c1a-9e2f-0a1b2c3d4e5f");
  v1::Plan plan;
  grpc::Status a = stub_->GetPlan(As(Token("fk")).get(), hidden, &plan);
  grpc::Status b = stub_->GetPlan(As(Token("fk")).get(), missing, &plan);
  EXPECT_EQ(a.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(b.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  // The same words, apart from the name the caller itself sent.
  std::string hidden_words = a.error_message(), missing_words = b.error_message();
  hidden_words.replace(hidden_words.find(created.name()), created.name().size(), "NAME");
  missing_words.replace(missing_words.find(missing.name()), missing.name().size(), "NAME");
  EXPECT_EQ(hidden_words, missing_words);
  // The participant sees it; a manager of the lead organization does not.
  EXPECT_TRUE(stub_->GetPlan(As(Token("af", "partner_system")).get(), hidden, &plan).ok());
  EXPECT_EQ(stub_->GetPlan(As(Token("soc", "manager")).get(), hidden, &plan).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  // Same organization id in another municipality: denied.
  EXPECT_EQ(stub_->GetPlan(As(Token("soc", "caseworker", "0180")).get(), hidden, &plan)
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(CasePlanServiceTest, AParticipantNeedsTheConsentAndEveryAttemptIsAudited) {
  v1::Plan created = CreateAs("soc");
  v1::GetPlanRequest get;
  get.set_name(created.name());
  v1::Plan plan;
  ASSERT_TRUE(stub_->GetPlan(As(Token("af", "partner_system")).get(), get, &plan).ok());
  repository_.WithdrawConsent("organizations/af");
  EXPECT_EQ(stub_->GetPlan(As(Token("af", "partner_system")).get(), get, &plan).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);

  const std::vector<AuditEntry> audits = repository_.audits();
  ASSERT_EQ(audits.size(), 3u);  // create, the permitted read, the denied read
  EXPECT_EQ(audits[0].action, "caseplan.CreatePlan");
  EXPECT_EQ(audits[0].reason, "owner");
  EXPECT_EQ(audits[1].action, "caseplan.GetPlan");
  EXPECT_EQ(audits[1].decision, "permit");
  EXPECT_EQ(audits[1].reason, "consent");
  EXPECT_EQ(audits[1].consent, "consents/c-af");
  EXPECT_EQ(audits[1].subject_person, "persons/p1");
  EXPECT_EQ(audits[2].decision, "deny");
  EXPECT_EQ(audits[2].reason, "consent_withdrawn");
  EXPECT_EQ(audits[2].actor_organization, "organizations/af");
  EXPECT_EQ(audits[2].resource, created.name());
}

TEST_F(CasePlanServiceTest, HandOverMovesTheLeadAndKeepsTheFormerLeadInThePlan) {
  v1::Plan created = CreateAs("soc");
  v1::HandOverPlanRequest request;
  request.set_name(created.name());
  request.set_to_organization("organizations/af");
  request.set_reason("Arbetsförmedlingen leads the job-search phase from now on.");
  v1::Plan handed;
  // Only the lead hands over.
  EXPECT_EQ(stub_->HandOverPlan(As(Token("af", "partner_system")).get(), request, &handed)
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  ASSERT_TRUE(stub_->HandOverPlan(As(Token("soc")).get(), request, &handed).ok());
  EXPECT_EQ(handed.lead_organization(), "organizations/af");
  ASSERT_EQ(handed.participants_size(), 1);
  EXPECT_EQ(handed.participants(0).organization(), "organizations/soc");
  ASSERT_EQ(handed.notes_size(), 1);
  EXPECT_NE(handed.notes(0).text().find("job-search phase"), std::string::npos);
  EXPECT_EQ(handed.version(), 2);

  v1::ListPlanRevisionsRequest history;
  history.set_name(created.name());
  v1::ListPlanRevisionsResponse revisions;
  ASSERT_TRUE(stub_->ListPlanRevisions(As(Token("af", "partner_system")).get(), history,
                                       &revisions)
                  .ok());
  ASSERT_GE(revisions.revisions_size(), 1);
  EXPECT_EQ(revisions.revisions(0).actor_organization(), "organizations/soc");
  EXPECT_EQ(revisions.revisions(0).changed_fields(0), "lead_organization");
  EXPECT_EQ(repository_.events().back().type(), "caseplan.plan.handed_over");

  // The former lead now needs a consent like any participant.
  v1::GetPlanRequest get;
  get.set_name(created.name());
  v1::Plan plan;
  EXPECT_EQ(stub_->GetPlan(As(Token("soc")).get(), get, &plan).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(CasePlanServiceTest, HandOverNeedsAParticipantWithConsent) {
  v1::Plan created = CreateAs("soc");
  v1::HandOverPlanRequest request;
  request.set_name(created.name());
  request.set_reason("The person moves to health care's rehabilitation.");
  request.set_to_organization("organizations/region");  // not taking part
  v1::Plan handed;
  grpc::Status status = stub_->HandOverPlan(As(Token("soc")).get(), request, &handed);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("to_organization"), std::string::npos);
  repository_.WithdrawConsent("organizations/af");
  request.set_to_organization("organizations/af");  // takes part, consent withdrawn
  status = stub_->HandOverPlan(As(Token("soc")).get(), request, &handed);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("consent"), std::string::npos);
  request.set_reason("short");
  status = stub_->HandOverPlan(As(Token("soc")).get(), request, &handed);
  EXPECT_NE(status.error_message().find("reason"), std::string::npos);
}

TEST_F(CasePlanServiceTest, EveryCallOnAHiddenPlanIsDeniedAndWritesNothing) {
  v1::Plan created = CreateAs("soc");
  v1::UpdatePlanRequest update;
  update.mutable_plan()->set_name(created.name());
  update.mutable_plan()->set_status(v1::PLAN_STATUS_CANCELLED);
  update.mutable_update_mask()->add_paths("status");
  v1::Plan plan;
  EXPECT_EQ(stub_->UpdatePlan(As(Token("fk")).get(), update, &plan).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  v1::ListPlanRevisionsRequest revisions;
  revisions.set_name(created.name());
  v1::ListPlanRevisionsResponse page;
  EXPECT_EQ(stub_->ListPlanRevisions(As(Token("fk")).get(), revisions, &page).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(page.revisions_size(), 0);
  v1::ListPlansRequest list;
  list.set_person(created.person());
  v1::ListPlansResponse plans;
  ASSERT_TRUE(stub_->ListPlans(As(Token("fk")).get(), list, &plans).ok());
  EXPECT_EQ(plans.plans_size(), 0);  // not listed, not counted
  EXPECT_EQ(repository_.events().size(), 1u);  // only the create
}

TEST_F(CasePlanServiceTest, StaleEtagIsAbortedAndChangesNothing) {
  v1::Plan created = CreateAs("soc");
  v1::UpdatePlanRequest update;
  update.mutable_plan()->set_name(created.name());
  update.mutable_plan()->set_status(v1::PLAN_STATUS_ACTIVE);
  update.mutable_plan()->set_etag(created.etag());
  update.mutable_update_mask()->add_paths("status");
  v1::Plan updated;
  ASSERT_TRUE(stub_->UpdatePlan(As(Token("soc")).get(), update, &updated).ok());
  EXPECT_EQ(updated.version(), 2);

  update.mutable_plan()->set_status(v1::PLAN_STATUS_ON_HOLD);  // same, now stale, etag
  grpc::Status stale = stub_->UpdatePlan(As(Token("soc")).get(), update, &updated);
  EXPECT_EQ(stale.error_code(), grpc::StatusCode::ABORTED);
  google::rpc::Status details;
  ASSERT_TRUE(details.ParseFromString(stale.error_details()));
  google::rpc::PreconditionFailure failure;
  ASSERT_TRUE(UnpackDetail(details, &failure));
  EXPECT_EQ(failure.violations(0).subject(), created.name());

  v1::GetPlanRequest get;
  get.set_name(created.name());
  v1::Plan fetched;
  ASSERT_TRUE(stub_->GetPlan(As(Token("soc")).get(), get, &fetched).ok());
  EXPECT_EQ(fetched.status(), v1::PLAN_STATUS_ACTIVE);
  EXPECT_EQ(fetched.version(), 2);
  EXPECT_EQ(repository_.events().size(), 2u);
}

TEST_F(CasePlanServiceTest, InvalidUpdateNamesTheFieldOnTheWire) {
  v1::Plan created = CreateAs("soc");
  v1::UpdatePlanRequest update;
  update.mutable_plan()->set_name(created.name());
  auto* goal = update.mutable_plan()->add_goals();
  goal->set_status(v1::PROGRESS_STATUS_PLANNED);  // no description
  update.mutable_update_mask()->add_paths("goals");
  v1::Plan updated;
  grpc::Status status = stub_->UpdatePlan(As(Token("soc")).get(), update, &updated);
  ASSERT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  google::rpc::Status details;
  ASSERT_TRUE(details.ParseFromString(status.error_details()));
  google::rpc::BadRequest bad_request;
  ASSERT_TRUE(UnpackDetail(details, &bad_request));
  EXPECT_EQ(bad_request.field_violations(0).field(), "plan.goals[0].description");
  EXPECT_EQ(repository_.events().size(), 1u);  // only the create
}

TEST_F(CasePlanServiceTest, UpdateWithoutChangeMakesNoVersion) {
  v1::Plan created = CreateAs("soc");
  v1::UpdatePlanRequest update;
  update.mutable_plan()->set_name(created.name());
  update.mutable_plan()->set_status(created.status());
  update.mutable_update_mask()->add_paths("status");
  v1::Plan updated;
  ASSERT_TRUE(stub_->UpdatePlan(As(Token("soc")).get(), update, &updated).ok());
  EXPECT_EQ(updated.version(), 1);
  EXPECT_EQ(repository_.events().size(), 1u);
}

TEST_F(CasePlanServiceTest, OnlyTheLeadDecidesWhoTakesPart) {
  v1::Plan created = CreateAs("soc");
  v1::UpdatePlanRequest update;
  update.mutable_plan()->set_name(created.name());
  *update.mutable_plan()->mutable_participants() = created.participants();
  update.mutable_plan()->add_participants()->set_organization("organizations/fk");
  update.mutable_update_mask()->add_paths("participants");
  v1::Plan updated;
  EXPECT_EQ(stub_->UpdatePlan(As(Token("af", "partner_system")).get(), update, &updated)
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(stub_->UpdatePlan(As(Token("soc")).get(), update, &updated).ok());
  EXPECT_EQ(updated.participants_size(), 2);
}

TEST_F(CasePlanServiceTest, RevisionsTellWhoChangedWhat) {
  v1::Plan created = CreateAs("soc");
  v1::UpdatePlanRequest update;
  update.mutable_plan()->set_name(created.name());
  update.mutable_plan()->set_overall_goal(v1::OVERALL_GOAL_STUDIES);
  update.mutable_update_mask()->add_paths("overall_goal");
  v1::Plan updated;
  ASSERT_TRUE(stub_->UpdatePlan(As(Token("af", "partner_system")).get(), update, &updated).ok());

  v1::ListPlanRevisionsRequest list;
  list.set_name(created.name());
  list.set_page_size(1);
  v1::ListPlanRevisionsResponse page;
  ASSERT_TRUE(stub_->ListPlanRevisions(As(Token("soc")).get(), list, &page).ok());
  ASSERT_EQ(page.revisions_size(), 1);
  EXPECT_EQ(page.revisions(0).version(), 2);
  EXPECT_EQ(page.revisions(0).actor_user(), "users/u-af");
  EXPECT_EQ(page.revisions(0).changed_fields(0), "overall_goal");
  ASSERT_FALSE(page.next_page_token().empty());
  list.set_page_token(page.next_page_token());
  ASSERT_TRUE(stub_->ListPlanRevisions(As(Token("soc")).get(), list, &page).ok());
  ASSERT_EQ(page.revisions_size(), 1);
  EXPECT_EQ(page.revisions(0).version(), 1);
  EXPECT_TRUE(page.next_page_token().empty());
}

TEST_F(CasePlanServiceTest, ListShowsOnlyVisiblePlansInPages) {
  for (int i = 0; i < 5; ++i) CreateAs("soc", "persons/p" + std::to_string(i));
  CreateAs("fk", "persons/hidden");  // fk leads, af takes part; soc sees nothing of it
  std::set<std::string> seen;
  v1::ListPlansRequest list;
  list.set_page_size(2);
  int pages = 0;
  do {
    v1::ListPlansResponse page;
    ASSERT_TRUE(stub_->ListPlans(As(Token("soc")).get(), list, &page).ok());
    for (const auto& plan : page.plans()) {
      EXPECT_NE(plan.person(), "persons/hidden");
      EXPECT_TRUE(seen.insert(plan.name()).second) << "seen twice: " << plan.name();
    }
    list.set_page_token(page.next_page_token());
    ++pages;
  } while (!list.page_token().empty() && pages < 10);
  EXPECT_EQ(seen.size(), 5u);
  EXPECT_EQ(pages, 3);

  list.set_page_size(10);
  list.set_page_token("");
  list.set_person("persons/p3");
  v1::ListPlansResponse filtered;
  ASSERT_TRUE(stub_->ListPlans(As(Token("soc")).get(), list, &filtered).ok());
  ASSERT_EQ(filtered.plans_size(), 1);
  EXPECT_EQ(filtered.plans(0).person(), "persons/p3");

  EXPECT_EQ(stub_->ListPlans(As(Token("soc", "manager")).get(), list, &filtered).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}

// No message beyond kMaxMessageBytes travels either way, and one that would is
// refused for its own call only.
TEST_F(CasePlanServiceTest, AnOversizeRequestIsRefusedAndTheServerCarriesOn) {
  v1::CreatePlanRequest request;
  request.set_request_id(NewItemId());
  request.mutable_plan()->set_person("persons/p1");
  request.mutable_plan()->add_notes()->set_text(std::string(kMaxMessageBytes + 1024, 'x'));
  v1::Plan plan;
  grpc::Status status = stub_->CreatePlan(As(Token("soc")).get(), request, &plan);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << status.error_message();
  // A client made as Samplan makes them does not even send it.
  auto limited = v1::CasePlanService::NewStub(grpc::CreateCustomChannel(
      served_->address(), grpc::InsecureChannelCredentials(), SamplanChannelArguments()));
  status = limited->CreatePlan(As(Token("soc")).get(), request, &plan);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << status.error_message();
  // The same connection, the next call: served.
  EXPECT_EQ(CreateAs("soc").version(), 1);
}

TEST_F(CasePlanServiceTest, AnOversizeAnswerIsNotSentEvenToAClientThatWouldTakeIt) {
  const v1::Plan created = CreateAs("soc");
  repository_.InflateUnchecked(created.name(), kMaxMessageBytes + 1024);
  // A partner's client that accepts anything.
  grpc::ChannelArguments generous;
  generous.SetMaxReceiveMessageSize(-1);
  auto stub = v1::CasePlanService::NewStub(grpc::CreateCustomChannel(
      served_->address(), grpc::InsecureChannelCredentials(), generous));
  v1::GetPlanRequest get;
  get.set_name(created.name());
  v1::Plan fetched;
  grpc::Status status = stub->GetPlan(As(Token("soc")).get(), get, &fetched);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << status.error_code() << " " << fetched.ByteSizeLong() << " bytes";
  EXPECT_EQ(CreateAs("soc").version(), 1);
}

// Each revision holds the whole plan, so a page of them ends before it passes
// kMaxPageBytes, with a token that continues where it ended.
TEST_F(CasePlanServiceTest, APageOfLargeRevisionsEndsEarlyAndContinues) {
  std::string long_text;
  for (int i = 0; i < 500; ++i) long_text += "\xc3\xa4";  // 500 characters, 1000 bytes
  v1::CreatePlanRequest create;
  create.set_request_id(NewItemId());
  create.mutable_plan()->set_person("persons/p1");
  create.mutable_plan()->set_status(v1::PLAN_STATUS_DRAFT);
  for (int g = 0; g < 10; ++g) {
    auto* goal = create.mutable_plan()->add_goals();
    goal->set_description(long_text);
    goal->set_status(v1::PROGRESS_STATUS_PLANNED);
    for (int s = 0; s < 10; ++s) {
      auto* sub = goal->add_sub_goals();
      sub->set_description(long_text);
      sub->set_status(v1::PROGRESS_STATUS_PLANNED);
    }
  }
  v1::Plan plan;
  ASSERT_TRUE(stub_->CreatePlan(As(Token("soc")).get(), create, &plan).ok());
  ASSERT_GT(plan.ByteSizeLong(), 100u * 1000);
  constexpr int kVersions = 12;  // some 1.3 MB of revisions in all
  for (int v = 2; v <= kVersions; ++v) {
    v1::UpdatePlanRequest update;
    update.mutable_plan()->set_name(plan.name());
    update.mutable_plan()->set_overall_goal_description(absl::StrCat("step ", v));
    update.mutable_update_mask()->add_paths("overall_goal_description");
    ASSERT_TRUE(stub_->UpdatePlan(As(Token("soc")).get(), update, &plan).ok());
  }
  std::vector<int64_t> versions;
  std::string token;
  int pages = 0;
  do {
    v1::ListPlanRevisionsRequest list;
    list.set_name(plan.name());
    list.set_page_size(25);
    list.set_page_token(token);
    v1::ListPlanRevisionsResponse page;
    grpc::Status status = stub_->ListPlanRevisions(As(Token("soc")).get(), list, &page);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_LE(page.ByteSizeLong(), kMaxPageBytes + 4096);
    for (const v1::PlanRevision& revision : page.revisions()) versions.push_back(revision.version());
    token = page.next_page_token();
    ++pages;
  } while (!token.empty() && pages < 10);
  EXPECT_GE(pages, 2);
  std::vector<int64_t> expected;
  for (int64_t v = kVersions; v >= 1; --v) expected.push_back(v);
  EXPECT_EQ(versions, expected);
}

}  // namespace
}  // namespace samplan::caseplan
