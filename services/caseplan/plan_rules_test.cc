// Tier 1: the plan rules as pure functions.

#include "services/caseplan/plan_rules.h"

#include <gtest/gtest.h>

#include "common/status.h"

namespace samplan::caseplan {
namespace {

using ::google::protobuf::FieldMask;

std::function<std::string()> Counter() {
  auto next = std::make_shared<int>(0);
  return [next] { return "id" + std::to_string(++*next); };
}

Principal Caller() {
  Principal p;
  p.organization = "organizations/soc";
  p.municipality = "1885";
  p.user = "users/anna";
  p.roles = {"caseworker"};
  return p;
}

google::type::Date Day(int y, int m, int d) {
  google::type::Date date;
  date.set_year(y);
  date.set_month(m);
  date.set_day(d);
  return date;
}

v1::CreatePlanRequest ValidCreate() {
  v1::CreatePlanRequest request;
  request.set_request_id("req-1");
  Plan* plan = request.mutable_plan();
  plan->set_person("persons/p1");
  plan->set_status(v1::PLAN_STATUS_DRAFT);
  plan->set_overall_goal(v1::OVERALL_GOAL_WORK);
  auto* participant = plan->add_participants();
  participant->set_organization("organizations/af");
  participant->set_contact_user("users/bo");
  auto* goal = plan->add_goals();
  goal->set_description("Swedish at B1");
  goal->set_status(v1::PROGRESS_STATUS_PLANNED);
  *goal->mutable_target_date() = Day(2027, 6, 30);
  auto* sub = goal->add_sub_goals();
  sub->set_description("Finish SFI course C");
  sub->set_status(v1::PROGRESS_STATUS_IN_PROGRESS);
  auto* activity = plan->add_activities();
  activity->set_kind(v1::ACTIVITY_KIND_SFI);
  activity->set_responsible_organization("organizations/af");
  activity->set_status(v1::PROGRESS_STATUS_PLANNED);
  *activity->mutable_start_date() = Day(2027, 1, 10);
  *activity->mutable_end_date() = Day(2027, 5, 30);
  plan->add_notes()->set_text("First meeting held together with the person.");
  return request;
}

std::vector<std::string> Fields(const absl::Status& status) {
  std::vector<std::string> fields;
  for (const auto& [field, description] : FieldViolationsOf(status)) fields.push_back(field);
  return fields;
}

TEST(PlanForCreateTest, ServerSetsIdentityAndIds) {
  absl::Time now = absl::FromUnixSeconds(1800000000);
  absl::StatusOr<Plan> plan = PlanForCreate(ValidCreate(), Caller(), now, Counter());
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_TRUE(plan->name().rfind("plans/", 0) == 0);
  EXPECT_EQ(plan->lead_organization(), "organizations/soc");
  EXPECT_EQ(plan->municipality(), "1885");
  EXPECT_FALSE(plan->goals(0).id().empty());
  EXPECT_FALSE(plan->goals(0).sub_goals(0).id().empty());
  EXPECT_FALSE(plan->activities(0).id().empty());
  EXPECT_EQ(plan->notes(0).author_user(), "users/anna");
  EXPECT_EQ(plan->notes(0).author_organization(), "organizations/soc");
  EXPECT_EQ(plan->notes(0).create_time().seconds(), 1800000000);
}

TEST(PlanForCreateTest, CallerCannotChooseLeadOrMunicipality) {
  v1::CreatePlanRequest request = ValidCreate();
  request.mutable_plan()->set_lead_organization("organizations/other");
  request.mutable_plan()->set_municipality("0180");
  absl::StatusOr<Plan> plan = PlanForCreate(request, Caller(), absl::Now(), Counter());
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->lead_organization(), "organizations/soc");
  EXPECT_EQ(plan->municipality(), "1885");
}

TEST(PlanForCreateTest, InvalidInputNamesEveryField) {
  v1::CreatePlanRequest request = ValidCreate();
  request.set_request_id("");
  Plan* plan = request.mutable_plan();
  plan->set_person("someone");
  plan->set_status(v1::PLAN_STATUS_UNSPECIFIED);
  plan->mutable_goals(0)->set_description("");
  *plan->mutable_goals(0)->mutable_target_date() = Day(2027, 2, 30);
  plan->mutable_activities(0)->set_responsible_organization("organizations/nobody");
  *plan->mutable_activities(0)->mutable_end_date() = Day(2026, 12, 1);
  plan->mutable_participants(0)->set_organization("organizations/soc");  // the lead itself
  absl::Status status = PlanForCreate(request, Caller(), absl::Now(), Counter()).status();
  ASSERT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  std::vector<std::string> fields = Fields(status);
  EXPECT_EQ(fields.size(), 8u) << status;
  for (const char* expected :
       {"request_id", "plan.person", "plan.status", "plan.goals[0].description", "plan.goals[0].target_date",
        "plan.activities[0].responsible_organization", "plan.activities[0].end_date",
        "plan.participants[0].organization"}) {
    EXPECT_NE(std::find(fields.begin(), fields.end(), expected), fields.end())
        << expected << " missing in " << status;
  }
}

TEST(PlanForCreateTest, LeapDaysAreValidDates) {
  v1::CreatePlanRequest request = ValidCreate();
  *request.mutable_plan()->mutable_next_review_date() = Day(2028, 2, 29);
  EXPECT_TRUE(PlanForCreate(request, Caller(), absl::Now(), Counter()).ok());
  *request.mutable_plan()->mutable_next_review_date() = Day(2027, 2, 29);
  EXPECT_EQ(Fields(PlanForCreate(request, Caller(), absl::Now(), Counter()).status()),
            std::vector<std::string>{"plan.next_review_date"});
}

TEST(PlanForCreateTest, TextLimitsCountCharactersNotBytes) {
  v1::CreatePlanRequest request = ValidCreate();
  std::string text;
  for (int i = 0; i < 500; ++i) text += "å";  // 1000 bytes, 500 characters
  request.mutable_plan()->mutable_goals(0)->set_description(text);
  EXPECT_TRUE(PlanForCreate(request, Caller(), absl::Now(), Counter()).ok());
  request.mutable_plan()->mutable_goals(0)->set_description(text + "å");
  EXPECT_EQ(Fields(PlanForCreate(request, Caller(), absl::Now(), Counter()).status()),
            std::vector<std::string>{"plan.goals[0].description"});
}

class ApplyUpdateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<Plan> plan = PlanForCreate(ValidCreate(), Caller(), absl::Now(), ids_);
    ASSERT_TRUE(plan.ok());
    current_ = *plan;
  }
  absl::StatusOr<Plan> Apply(const Plan& patch, std::vector<std::string> paths) {
    FieldMask mask;
    for (auto& p : paths) mask.add_paths(p);
    Principal other = Caller();
    other.user = "users/bo";
    other.organization = "organizations/af";
    return ApplyUpdate(current_, patch, mask, other, absl::FromUnixSeconds(1900000000), ids_);
  }
  std::function<std::string()> ids_ = Counter();
  Plan current_;
};

TEST_F(ApplyUpdateTest, OnlyMaskedFieldsChange) {
  Plan patch;
  patch.set_status(v1::PLAN_STATUS_ACTIVE);
  patch.set_overall_goal(v1::OVERALL_GOAL_STUDIES);  // not in the mask: ignored
  absl::StatusOr<Plan> next = Apply(patch, {"status"});
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(next->status(), v1::PLAN_STATUS_ACTIVE);
  EXPECT_EQ(next->overall_goal(), v1::OVERALL_GOAL_WORK);
  EXPECT_EQ(ChangedFields(current_, *next), std::vector<std::string>{"status"});
}

TEST_F(ApplyUpdateTest, MaskMustNameUpdatableFields) {
  Plan patch;
  EXPECT_EQ(Fields(Apply(patch, {}).status()), std::vector<std::string>{"update_mask"});
  EXPECT_EQ(Fields(Apply(patch, {"person"}).status()), std::vector<std::string>{"update_mask"});
  EXPECT_EQ(Fields(Apply(patch, {"status", "person"}).status()),
            std::vector<std::string>{"update_mask"});
  EXPECT_EQ(Fields(Apply(patch, {"no_such_field"}).status()),
            std::vector<std::string>{"update_mask"});
}

TEST_F(ApplyUpdateTest, OutputOnlyFieldsInTheMaskAreIgnored) {
  Plan patch = current_;
  patch.set_status(v1::PLAN_STATUS_ACTIVE);
  patch.set_lead_organization("organizations/other");
  patch.set_etag("whatever");
  absl::StatusOr<Plan> next = Apply(patch, {"status", "etag", "name", "lead_organization"});
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(next->status(), v1::PLAN_STATUS_ACTIVE);
  EXPECT_EQ(next->lead_organization(), "organizations/soc");  // unchanged
  EXPECT_EQ(ChangedFields(current_, *next), std::vector<std::string>{"status"});
}

TEST_F(ApplyUpdateTest, AMaskOfOnlyOutputOnlyFieldsChangesNothing) {
  Plan patch = current_;
  patch.set_etag("whatever");
  absl::StatusOr<Plan> next = Apply(patch, {"etag", "version"});
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_TRUE(ChangedFields(current_, *next).empty());
}

TEST(PlanForCreateTest, IdentityNumbersAreNoPersonIds) {
  for (const char* person : {"persons/199001011234", "persons/900101-1234",
                             "persons/19900101-1234", "persons/900101+1234"}) {
    v1::CreatePlanRequest request = ValidCreate();
    request.mutable_plan()->set_person(person);
    EXPECT_EQ(Fields(PlanForCreate(request, Caller(), absl::Now(), Counter()).status()),
              std::vector<std::string>{"plan.person"})
        << person;
  }
  v1::CreatePlanRequest request = ValidCreate();
  request.mutable_plan()->set_person("persons/p-1990");
  EXPECT_TRUE(PlanForCreate(request, Caller(), absl::Now(), Counter()).ok());
}

TEST_F(ApplyUpdateTest, NewItemsGetIdsOrKeepTheCallersChoice) {
  Plan patch;
  *patch.mutable_goals() = current_.goals();
  auto* added = patch.add_goals();
  added->set_description("Driving licence");
  added->set_status(v1::PROGRESS_STATUS_PLANNED);
  absl::StatusOr<Plan> next = Apply(patch, {"goals"});
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(next->goals(0).id(), current_.goals(0).id());
  EXPECT_FALSE(next->goals(1).id().empty());
  EXPECT_NE(next->goals(1).id(), next->goals(0).id());

  // A chosen id lets an activity of the same request name the new goal.
  patch.mutable_goals(1)->set_id("licence");
  *patch.mutable_activities() = current_.activities();
  auto* lessons = patch.add_activities();
  lessons->set_kind(v1::ACTIVITY_KIND_OTHER);
  lessons->set_responsible_organization("organizations/soc");
  lessons->set_status(v1::PROGRESS_STATUS_PLANNED);
  lessons->set_goal_id("licence");
  next = Apply(patch, {"goals", "activities"});
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(next->activities(1).goal_id(), "licence");

  patch.mutable_goals(1)->set_id(current_.goals(0).id());  // taken
  EXPECT_EQ(Fields(Apply(patch, {"goals"}).status()), std::vector<std::string>{"plan.goals[1].id"});
  patch.mutable_goals(1)->set_id("not valid!");
  EXPECT_EQ(Fields(Apply(patch, {"goals"}).status()), std::vector<std::string>{"plan.goals[1].id"});
}

TEST_F(ApplyUpdateTest, TheJournalIsAppendOnly) {
  Plan patch;
  patch.add_notes()->set_text("Follow-up: started SFI.");  // only the new note
  absl::StatusOr<Plan> next = Apply(patch, {"notes"});
  ASSERT_TRUE(next.ok()) << next.status();
  ASSERT_EQ(next->notes_size(), 2);
  EXPECT_EQ(next->notes(0).id(), current_.notes(0).id());  // kept, first
  EXPECT_EQ(next->notes(0).author_user(), "users/anna");
  EXPECT_EQ(next->notes(1).text(), "Follow-up: started SFI.");
  EXPECT_EQ(next->notes(1).author_user(), "users/bo");  // the caller
  EXPECT_EQ(next->notes(1).author_organization(), "organizations/af");

  // Sending the whole journal back, as a client that read it would, is the same.
  Plan whole;
  *whole.mutable_notes() = current_.notes();
  whole.add_notes()->set_text("Follow-up: started SFI.");
  next = Apply(whole, {"notes"});
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->notes_size(), 2);

  Plan edited = whole;
  edited.mutable_notes(0)->set_text("rewritten history");
  EXPECT_EQ(Fields(Apply(edited, {"notes"}).status()), std::vector<std::string>{"plan.notes[0].text"});

  Plan empty;  // leaving notes out removes nothing
  next = Apply(empty, {"notes"});
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->notes_size(), 1);
  EXPECT_TRUE(ChangedFields(current_, *next).empty());

  Plan forged;
  forged.add_notes()->set_text("x");
  forged.mutable_notes(0)->set_author_user("users/someone-else");
  next = Apply(forged, {"notes"});
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->notes(1).author_user(), "users/bo");  // output only: the server's

  Plan invented;
  invented.add_notes()->set_id("nope");
  invented.mutable_notes(0)->set_text("x");
  EXPECT_EQ(Fields(Apply(invented, {"notes"}).status()), std::vector<std::string>{"plan.notes[0].id"});
}

TEST_F(ApplyUpdateTest, StarMeansEveryUpdatableField) {
  Plan patch = current_;
  patch.set_status(v1::PLAN_STATUS_ON_HOLD);
  patch.clear_participants();
  patch.mutable_activities(0)->set_responsible_organization("organizations/soc");
  absl::StatusOr<Plan> next = Apply(patch, {"*"});
  ASSERT_TRUE(next.ok()) << next.status();
  std::vector<std::string> changed = ChangedFields(current_, *next);
  EXPECT_EQ(changed, (std::vector<std::string>{"participants", "status", "activities"}));
}

TEST_F(ApplyUpdateTest, RemovingAParticipantStillResponsibleIsRefused) {
  Plan patch;  // no participants, but activity 0 is organizations/af's
  EXPECT_EQ(Fields(Apply(patch, {"participants"}).status()),
            std::vector<std::string>{"plan.activities[0].responsible_organization"});
}

TEST(PlanIdFromNameTest, OnlyPlanUuids) {
  EXPECT_TRUE(PlanIdFromName("plans/6f1c3a4e-8b7d-4c1a-9e2f-0a1b2c3d4e5f", "name").ok());
  EXPECT_EQ(Fields(PlanIdFromName("plans/1", "name").status()), std::vector<std::string>{"name"});
  EXPECT_EQ(Fields(PlanIdFromName("persons/6f1c3a4e-8b7d-4c1a-9e2f-0a1b2c3d4e5f", "plan.name").status()),
            std::vector<std::string>{"plan.name"});
}

}  // namespace
}  // namespace samplan::caseplan

namespace samplan::caseplan {
namespace {

// A note of `chars` two-byte characters ("ä"): as long as a note may be in
// characters, twice that in bytes.
std::string LongText(int chars) {
  std::string text;
  for (int i = 0; i < chars; ++i) text += "\xc3\xa4";
  return text;
}

TEST_F(ApplyUpdateTest, AJournalPastItsBytesTakesNoMoreNotes) {
  // Notes added over time, each within its 4,000 characters: fine up to the
  // journal's bound.
  for (int round = 0; round < 30; ++round) {
    Plan patch;
    patch.add_notes()->set_text(LongText(4000));
    absl::StatusOr<Plan> next = Apply(patch, {"notes"});
    if (!next.ok()) {
      // Refused only once the journal is full, naming the journal.
      EXPECT_GT((round + 1) * 8000, static_cast<int>(kMaxNotesBytes) - 8000) << round;
      EXPECT_EQ(next.status().code(), absl::StatusCode::kInvalidArgument);
      std::vector<std::string> fields;
      for (const auto& [field, description] : FieldViolationsOf(next.status())) {
        fields.push_back(field);
      }
      EXPECT_EQ(fields, std::vector<std::string>{"plan.notes"});
      return;
    }
    current_ = *next;
  }
  FAIL() << "a journal of " << current_.notes_size() << " long notes ("
         << current_.ByteSizeLong() << " bytes) was taken";
}

TEST(PlanForCreateTest, APlanPastItsBytesIsRefusedNamingThePlan) {
  v1::CreatePlanRequest request = ValidCreate();
  // 30 goals of 50 sub-goals, each text as long as allowed: within every count
  // and length, about 3 MB in all.
  request.mutable_plan()->clear_goals();
  for (int g = 0; g < 30; ++g) {
    auto* goal = request.mutable_plan()->add_goals();
    goal->set_description(LongText(500));
    goal->set_status(v1::PROGRESS_STATUS_PLANNED);
    for (int s = 0; s < 50; ++s) {
      auto* sub = goal->add_sub_goals();
      sub->set_description(LongText(500));
      sub->set_status(v1::PROGRESS_STATUS_PLANNED);
    }
  }
  absl::StatusOr<Plan> plan = PlanForCreate(request, Caller(), absl::Now(), Counter());
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().code(), absl::StatusCode::kInvalidArgument);
  std::vector<std::string> fields;
  for (const auto& [field, description] : FieldViolationsOf(plan.status())) {
    fields.push_back(field);
  }
  EXPECT_EQ(fields, std::vector<std::string>{"plan"});

  // A large but ordinary plan is fine: ten goals of five sub-goals, long texts.
  request.mutable_plan()->mutable_goals()->DeleteSubrange(10, 20);
  for (auto& goal : *request.mutable_plan()->mutable_goals()) {
    goal.mutable_sub_goals()->DeleteSubrange(5, 45);
  }
  EXPECT_TRUE(PlanForCreate(request, Caller(), absl::Now(), Counter()).ok());
}

TEST(ItemsThatFitAPageTest, APageEndsBeforeItsBytesRunOutButCarriesOneAtLeast) {
  const size_t plan = kMaxPlanBytes;
  EXPECT_EQ(ItemsThatFitAPage({}, 25), 0);
  EXPECT_EQ(ItemsThatFitAPage({100, 100, 100}, 2), 2);
  EXPECT_EQ(ItemsThatFitAPage(std::vector<size_t>(100, plan), 100),
            static_cast<int>(kMaxPageBytes / plan));
  EXPECT_EQ(ItemsThatFitAPage({kMaxPageBytes * 2, 10}, 25), 1);
  EXPECT_EQ(ItemsThatFitAPage({10, kMaxPageBytes}, 25), 1);
}

}  // namespace
}  // namespace samplan::caseplan
