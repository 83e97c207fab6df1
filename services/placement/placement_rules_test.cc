#include "services/placement/placement_rules.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "common/status.h"

namespace samplan::placement {
namespace {

using ::google::protobuf::FieldMask;

const absl::Time kNow =
    absl::FromCivil(absl::CivilSecond(2027, 3, 10, 9, 0, 0), absl::UTCTimeZone());

v1::Agreement Visited() {
  v1::Agreement a;
  a.set_status(v1::AGREEMENT_STATUS_WORKPLACE_VISITED);
  *a.mutable_period()->mutable_start_date() = DateOf(absl::CivilDay(2027, 3, 1));
  *a.mutable_period()->mutable_end_date() = DateOf(absl::CivilDay(2027, 5, 31));
  return a;
}

std::vector<std::string> Fields(const absl::Status& status) {
  std::vector<std::string> fields;
  for (const auto& [field, description] : FieldViolationsOf(status)) fields.push_back(field);
  return fields;
}

// The coordinator who records the signatures on the visit.
Principal Recorder(const std::string& user = "users/karin") {
  Principal principal;
  principal.user = user;
  principal.organization = "organizations/lindesberg-prakt";
  principal.municipality = "1885";
  principal.roles = {"placement_coordinator"};
  return principal;
}

TEST(AgreementLifecycleTest, EachSignatureRecordsWhoRecordedItAndWhen) {
  absl::StatusOr<AgreementStep> step =
      Sign(Visited(), v1::PARTY_EMPLOYER, Recorder("users/olle"), kNow);
  ASSERT_TRUE(step.ok()) << step.status();
  const v1::SignatureRecord& employer = step->agreement.employer_signature();
  EXPECT_EQ(employer.user(), "users/olle");
  EXPECT_EQ(employer.organization(), "organizations/lindesberg-prakt");
  EXPECT_EQ(employer.time().seconds(), absl::ToUnixSeconds(kNow));
  EXPECT_FALSE(step->agreement.has_participant_signature());
  step = Sign(step->agreement, v1::PARTY_PARTICIPANT, Recorder(), kNow + absl::Minutes(1));
  ASSERT_TRUE(step.ok());
  EXPECT_EQ(step->agreement.participant_signature().user(), "users/karin");
  EXPECT_EQ(step->agreement.employer_signature().user(), "users/olle");
}

TEST(AgreementLifecycleTest, SignedOnlyWhenAllThreeHaveSigned) {
  absl::StatusOr<AgreementStep> step = Sign(Visited(), v1::PARTY_PARTICIPANT, Recorder(), kNow);
  ASSERT_TRUE(step.ok());
  EXPECT_EQ(step->event_type, "placement.agreement.party_signed");
  step = Sign(step->agreement, v1::PARTY_EMPLOYER, Recorder(), kNow);
  ASSERT_TRUE(step.ok());
  EXPECT_EQ(step->agreement.status(), v1::AGREEMENT_STATUS_WORKPLACE_VISITED);
  EXPECT_EQ(Sign(step->agreement, v1::PARTY_EMPLOYER, Recorder(), kNow).status().code(),
            absl::StatusCode::kFailedPrecondition);
  step = Sign(step->agreement, v1::PARTY_COORDINATOR, Recorder(), kNow);
  ASSERT_TRUE(step.ok());
  EXPECT_EQ(step->agreement.status(), v1::AGREEMENT_STATUS_SIGNED);
  EXPECT_EQ(step->event_type, "placement.agreement.signed");
  EXPECT_TRUE(HoldsSeat(step->agreement.status()));
}

TEST(AgreementLifecycleTest, StepsOutOfOrderAreRefusedSayingWhy) {
  v1::Agreement proposed = Visited();
  proposed.set_status(v1::AGREEMENT_STATUS_PROPOSED);
  absl::Status early = Sign(proposed, v1::PARTY_PARTICIPANT, Recorder(), kNow).status();
  EXPECT_EQ(early.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(early.message().find("AGREEMENT_STATUS_PROPOSED"), absl::string_view::npos);
  EXPECT_EQ(Complete(proposed, v1::OUTCOME_EMPLOYMENT, "", kNow).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Start(Visited(), kNow).status().code(), absl::StatusCode::kFailedPrecondition);
  v1::Agreement ended = Visited();
  ended.set_status(v1::AGREEMENT_STATUS_ENDED);
  EXPECT_EQ(End(ended, v1::END_REASON_HEALTH, v1::OUTCOME_OTHER, "", kNow).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(AgreementLifecycleTest, EndingEarlyNeedsReasonAndOutcome) {
  absl::Status missing =
      End(Visited(), v1::END_REASON_UNSPECIFIED, v1::OUTCOME_UNSPECIFIED, "", kNow).status();
  EXPECT_EQ(Fields(missing), (std::vector<std::string>{"reason", "outcome"}));
  // "Other" says what.
  EXPECT_EQ(Fields(End(Visited(), v1::END_REASON_OTHER, v1::OUTCOME_OTHER, "", kNow).status()),
            (std::vector<std::string>{"outcome_note"}));
  absl::StatusOr<AgreementStep> ended =
      End(Visited(), v1::END_REASON_GOT_JOB, v1::OUTCOME_EMPLOYMENT, "", kNow);
  ASSERT_TRUE(ended.ok());
  EXPECT_EQ(ended->agreement.status(), v1::AGREEMENT_STATUS_ENDED);
  EXPECT_EQ(DayOf(ended->agreement.ended_date()), absl::CivilDay(2027, 3, 10));
  EXPECT_FALSE(HoldsSeat(ended->agreement.status()));
}

TEST(AgreementLifecycleTest, ALastSeatTakenRefusesTheSigning) {
  v1::Placement placement;
  placement.set_name("placements/p");
  placement.set_seats(1);
  placement.set_status(v1::PLACEMENT_STATUS_OPEN);
  std::vector<DayRange> taken = {{absl::CivilDay(2027, 5, 1), absl::CivilDay(2027, 6, 30)}};
  absl::Status status = CheckSeatFree(placement, taken, Visited());
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(status.message().find("no free seat"), absl::string_view::npos);
  taken[0].start = absl::CivilDay(2027, 6, 1);
  EXPECT_TRUE(CheckSeatFree(placement, taken, Visited()).ok());
}

TEST(AgreementForCreateTest, FollowUpAtLeastMonthlyAndPeriodWithinAvailability) {
  v1::Placement placement;
  placement.set_name("placements/p");
  placement.set_employer("employers/e");
  placement.set_status(v1::PLACEMENT_STATUS_OPEN);
  *placement.add_availability() = Visited().period();
  v1::CreateAgreementRequest request;
  request.set_request_id("r1");
  v1::Agreement& a = *request.mutable_agreement();
  a.set_person("persons/x");
  a.mutable_supervisor()->set_display_name("Karin Handledare");
  *a.mutable_period() = Visited().period();
  a.mutable_period()->mutable_end_date()->set_month(6);
  a.mutable_period()->mutable_end_date()->set_day(30);
  a.set_hours_per_week(20);
  a.set_goal("Arbetserfarenhet inom handel");
  a.set_follow_up_interval_days(45);
  Principal coordinator{"organizations/prakt", "1885", "users/u", {"placement_coordinator"}};
  absl::Status status = AgreementForCreate(request, placement, coordinator).status();
  EXPECT_EQ(Fields(status),
            (std::vector<std::string>{"agreement.period", "agreement.follow_up_interval_days"}));
  a.mutable_period()->mutable_end_date()->set_month(5);
  a.mutable_period()->mutable_end_date()->set_day(31);
  a.set_follow_up_interval_days(0);
  absl::StatusOr<v1::Agreement> ok = AgreementForCreate(request, placement, coordinator);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->follow_up_interval_days(), 30);
  EXPECT_EQ(ok->coordinator_organization(), "organizations/prakt");
  EXPECT_EQ(ok->status(), v1::AGREEMENT_STATUS_PROPOSED);
}

TEST(NormalizeEmployerTest, NamesTheOrganizationNumberField) {
  v1::Employer e;
  e.set_organization_number("556036-0794");
  e.set_display_name("Lindesbergs Bygg AB");
  e.set_industry("Bygg");
  v1::Workplace* w = e.add_workplaces();
  w->set_display_name("Verkstaden");
  w->set_address("Kristinavägen 1, 711 30 Lindesberg");
  w->mutable_location()->set_latitude(59.59);
  w->mutable_location()->set_longitude(15.23);
  absl::Status status =
      NormalizeEmployer(e, absl::CivilDay(2026, 12, 2), [] { return std::string("w1"); });
  EXPECT_EQ(Fields(status), (std::vector<std::string>{"employer.organization_number"}));
  e.set_organization_number("5560360793");
  ASSERT_TRUE(
      NormalizeEmployer(e, absl::CivilDay(2026, 12, 2), [] { return std::string("w1"); }).ok());
  EXPECT_EQ(e.organization_number(), "556036-0793");
  EXPECT_EQ(e.industry(), "bygg");
  EXPECT_EQ(e.workplaces(0).id(), "w1");
}

v1::MatchProfile Waiting(std::vector<std::string> interests) {
  v1::MatchProfile p;
  for (auto& i : interests) p.add_interests(i);
  *p.mutable_period() = Visited().period();
  return p;
}

TEST(SupplyAndDemandTest, HidesCountsOfFewerThanFivePeople) {
  v1::Placement place;
  place.set_kind(v1::PLACEMENT_KIND_WORK_PRACTICE);
  place.set_industry("handel");
  place.set_status(v1::PLACEMENT_STATUS_OPEN);
  place.set_seats(3);
  *place.add_availability() = Visited().period();
  std::vector<SupplyInput> supply = {
      {&place, {{absl::CivilDay(2027, 3, 1), absl::CivilDay(2027, 3, 31)}}}};
  std::vector<v1::MatchProfile> waiting;
  for (int i = 0; i < 6; ++i) waiting.push_back(Waiting({}));
  for (int i = 0; i < 2; ++i) waiting.push_back(Waiting({"vård"}));
  for (int i = 0; i < 3; ++i) waiting.push_back(Waiting({"handel"}));
  const v1::SupplyAndDemand t = SupplyAndDemandTable(
      "1885", supply, waiting, absl::CivilMonth(2027, 3), absl::CivilMonth(2027, 3));
  EXPECT_EQ(t.suppression_threshold(), 5);
  // vård: two people waiting and no seat; the cell itself would tell, so it is
  // left out whole.
  ASSERT_EQ(t.cells_size(), 2);
  for (const auto& cell : t.cells()) {
    EXPECT_EQ(cell.month(), "2027-03");
    EXPECT_NE(cell.industry(), "vård");
    if (cell.industry() == "handel") {
      EXPECT_EQ(cell.open_seats(), 2);   // one seat taken all month
      EXPECT_FALSE(cell.has_waiting());  // three people: not shown
      EXPECT_FALSE(cell.has_gap());
    } else {
      EXPECT_EQ(cell.waiting(), 6);
      EXPECT_EQ(cell.gap(), -6);
    }
  }
}

v1::Placement StoredPlacement() {
  v1::Placement p;
  p.set_name("placements/7b0c8a52-3f4e-4d8a-9a51-0f6f7f3f2a10");
  p.set_employer("employers/1c0c8a52-3f4e-4d8a-9a51-0f6f7f3f2a10");
  p.set_workplace("butik");
  p.set_title("Butiksbiträde");
  p.set_seats(2);
  p.set_industry("handel");
  p.set_seats_taken(1);
  p.set_etag("4");
  return p;
}

FieldMask Mask(std::initializer_list<const char*> paths) {
  FieldMask mask;
  for (const char* path : paths) mask.add_paths(path);
  return mask;
}

TEST(PlacementUpdateTest, OutputOnlyPathsAreIgnored) {
  v1::Placement patch;
  patch.set_seats(3);
  patch.set_seats_taken(0);  // a client that sends back what it read
  patch.set_etag("4");
  absl::StatusOr<v1::Placement> next = ApplyMaskedUpdate(
      StoredPlacement(), patch, Mask({"seats", "seats_taken", "etag"}), PlacementFields());
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(next->seats(), 3);
  EXPECT_EQ(next->seats_taken(), 1);
  EXPECT_EQ(next->title(), "Butiksbiträde");
}

TEST(PlacementUpdateTest, ImmutableAndUnknownPathsAreRefusedNamingUpdateMask) {
  v1::Placement patch;
  patch.set_employer("employers/2c0c8a52-3f4e-4d8a-9a51-0f6f7f3f2a10");
  absl::StatusOr<v1::Placement> next =
      ApplyMaskedUpdate(StoredPlacement(), patch, Mask({"employer", "no_such_field"}), PlacementFields());
  EXPECT_EQ(Fields(next.status()), (std::vector<std::string>{"update_mask", "update_mask"}));
  EXPECT_EQ(Fields(ApplyMaskedUpdate(StoredPlacement(), patch, FieldMask(), PlacementFields()).status()),
            std::vector<std::string>{"update_mask"});
}

TEST(PlacementUpdateTest, StarReplacesEveryUpdatableFieldAndNothingElse) {
  v1::Placement patch;
  patch.set_title("Lager");
  patch.set_employer("employers/2c0c8a52-3f4e-4d8a-9a51-0f6f7f3f2a10");
  patch.set_industry("bygg");
  absl::StatusOr<v1::Placement> next =
      ApplyMaskedUpdate(StoredPlacement(), patch, Mask({"*"}), PlacementFields());
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(next->title(), "Lager");
  EXPECT_EQ(next->workplace(), "");  // replaced whole by the request's (empty) value
  EXPECT_EQ(next->seats(), 0);
  EXPECT_EQ(next->employer(), StoredPlacement().employer());
  EXPECT_EQ(next->industry(), "handel");
  EXPECT_EQ(next->name(), StoredPlacement().name());
}

TEST(EmployerUpdateTest, EveryFieldIsUpdatableOrOutputOnly) {
  const google::protobuf::Descriptor& type = *v1::Employer::descriptor();
  for (int i = 0; i < type.field_count(); ++i) {
    const std::string& field = type.field(i)->name();
    const auto& [updatable, output_only] = EmployerFields();
    EXPECT_NE(std::count(updatable.begin(), updatable.end(), field) +
                  std::count(output_only.begin(), output_only.end(), field),
              0)
        << field << " is neither: a mask naming it would be refused";
  }
}

}  // namespace
}  // namespace samplan::placement
