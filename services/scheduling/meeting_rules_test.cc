// Tier 1: the meeting rules — validation, the lifecycle, whose time a meeting
// holds, who is invited, and who may see a meeting about no person.

#include "services/scheduling/meeting_rules.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "google/rpc/error_details.pb.h"

namespace samplan::scheduling {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1798761600);  // 2027-01-01T00:00:00Z

Principal Coordinator() {
  Principal p;
  p.organization = "organizations/prakt";
  p.municipality = "1885";
  p.user = "users/anna";
  p.roles = {"placement_coordinator"};
  return p;
}

v1::CreateMeetingRequest Request() {
  v1::CreateMeetingRequest r;
  r.set_request_id("r1");
  v1::Meeting* m = r.mutable_meeting();
  m->set_kind(v1::MEETING_KIND_FOLLOW_UP);
  m->set_person("persons/11111111-1111-4111-8111-111111111111");
  *m->mutable_start_time() = TimestampOf(kNow + absl::Hours(24 * 7));
  *m->mutable_end_time() = TimestampOf(kNow + absl::Hours(24 * 7 + 1));
  v1::Participant* af = m->add_participants();
  af->set_user("users/bo");
  af->set_organization("organizations/af");
  m->add_participants()->set_is_person(true);
  return r;
}

std::vector<std::string> Fields(const absl::Status& status) {
  std::vector<std::string> out;
  for (auto& [field, description] : FieldViolationsOf(status)) out.push_back(field);
  return out;
}

bool Has(const std::vector<std::string>& fields, const std::string& field) {
  return std::find(fields.begin(), fields.end(), field) != fields.end();
}

TEST(MeetingForCreateTest, AddsTheOrganizerAndBooksByDefault) {
  absl::StatusOr<v1::Meeting> m = MeetingForCreate(Request(), Coordinator(), kNow);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->status(), v1::MEETING_STATUS_BOOKED);
  EXPECT_EQ(m->owner_organization(), "organizations/prakt");
  EXPECT_EQ(m->revision(), 1);
  ASSERT_EQ(m->participants_size(), 3);
  EXPECT_EQ(m->participants(2).user(), "users/anna");
  EXPECT_EQ(m->participants(2).answer(), v1::PARTICIPANT_ANSWER_ACCEPTED);
  EXPECT_EQ(m->participants(0).answer(), v1::PARTICIPANT_ANSWER_NEEDS_ACTION);
  EXPECT_EQ(TimeHolders(*m),
            (std::vector<std::string>{"persons/11111111-1111-4111-8111-111111111111",
                                      "users/anna", "users/bo"}));
  EXPECT_EQ(InvitedOrganizations(*m), std::vector<std::string>{"organizations/af"});
}

TEST(MeetingForCreateTest, NamesEveryBadField) {
  v1::CreateMeetingRequest r = Request();
  r.clear_request_id();
  v1::Meeting* m = r.mutable_meeting();
  m->set_kind(v1::MEETING_KIND_UNSPECIFIED);
  *m->mutable_end_time() = m->start_time();  // zero length
  m->mutable_location()->mutable_coordinates()->set_latitude(91);
  m->mutable_location()->mutable_coordinates()->set_longitude(-181);
  m->mutable_location()->set_video_link("http://insecure.example");
  m->set_plan("plans/not-a-uuid");
  const std::vector<std::string> fields =
      Fields(MeetingForCreate(r, Coordinator(), kNow).status());
  for (const char* field :
       {"request_id", "meeting.kind", "meeting.end_time", "meeting.location.coordinates.latitude",
        "meeting.location.coordinates.longitude", "meeting.location.video_link", "meeting.plan"}) {
    EXPECT_TRUE(Has(fields, field)) << field;
  }
}

TEST(MeetingForCreateTest, RefusesOverLongMeetingsAndEndsBeforeStarts) {
  v1::CreateMeetingRequest r = Request();
  *r.mutable_meeting()->mutable_end_time() = TimestampOf(kNow + absl::Hours(24 * 7 + 13));
  EXPECT_TRUE(Has(Fields(MeetingForCreate(r, Coordinator(), kNow).status()), "meeting.end_time"));
  *r.mutable_meeting()->mutable_end_time() = TimestampOf(kNow);
  EXPECT_TRUE(Has(Fields(MeetingForCreate(r, Coordinator(), kNow).status()), "meeting.end_time"));
  *r.mutable_meeting()->mutable_start_time() = TimestampOf(kNow + absl::Hours(24 * 365 * 10));
  EXPECT_TRUE(
      Has(Fields(MeetingForCreate(r, Coordinator(), kNow).status()), "meeting.start_time"));
}

TEST(MeetingForCreateTest, RefusesTenThousandParticipantsAndDuplicates) {
  v1::CreateMeetingRequest r = Request();
  for (int i = 0; i < 10000; ++i) {
    v1::Participant* p = r.mutable_meeting()->add_participants();
    p->set_user("users/u" + std::to_string(i));
    p->set_organization("organizations/af");
  }
  EXPECT_TRUE(
      Has(Fields(MeetingForCreate(r, Coordinator(), kNow).status()), "meeting.participants"));
  r = Request();
  *r.mutable_meeting()->add_participants() = r.meeting().participants(0);
  EXPECT_TRUE(
      Has(Fields(MeetingForCreate(r, Coordinator(), kNow).status()), "meeting.participants[2]"));
  r = Request();
  r.mutable_meeting()->clear_person();
  EXPECT_TRUE(Has(Fields(MeetingForCreate(r, Coordinator(), kNow).status()),
                  "meeting.participants[1].is_person"));
}

TEST(MeetingStepsTest, FollowTheLifecycleAndRaiseTheRevision) {
  v1::Meeting m = *MeetingForCreate(Request(), Coordinator(), kNow);
  m.set_status(v1::MEETING_STATUS_PROPOSED);
  EXPECT_TRUE(TimeHolders(m).empty());
  absl::StatusOr<MeetingStep> booked = Book(m, Coordinator());
  ASSERT_TRUE(booked.ok()) << booked.status();
  EXPECT_EQ(booked->event_type, "scheduling.meeting.booked");
  EXPECT_EQ(booked->meeting.revision(), 2);
  EXPECT_EQ(Book(booked->meeting, Coordinator()).status().code(),
            absl::StatusCode::kFailedPrecondition);

  // Too early to be held or missed.
  EXPECT_EQ(Fulfil(booked->meeting, Coordinator(), kNow).status().code(),
            absl::StatusCode::kFailedPrecondition);
  const absl::Time later = kNow + absl::Hours(24 * 8);
  absl::StatusOr<MeetingStep> missed = MarkNoShow(booked->meeting, Coordinator(), later);
  ASSERT_TRUE(missed.ok());
  EXPECT_EQ(missed->meeting.status(), v1::MEETING_STATUS_NO_SHOW);
  EXPECT_EQ(Cancel(missed->meeting, "sjuk", Coordinator()).status().code(),
            absl::StatusCode::kFailedPrecondition);

  absl::StatusOr<MeetingStep> cancelled = Cancel(booked->meeting, "", Coordinator());
  EXPECT_EQ(Fields(cancelled.status()), std::vector<std::string>{"reason"});
}

TEST(MeetingStepsTest, OnlyTheOwnerMovesAMeetingAndAnswersResetOnAMove) {
  v1::Meeting m = *MeetingForCreate(Request(), Coordinator(), kNow);
  Principal af;
  af.organization = "organizations/af";
  af.municipality = "1885";
  af.user = "users/bo";
  v1::RescheduleMeetingRequest move;
  *move.mutable_start_time() = TimestampOf(kNow + absl::Hours(24 * 8));
  *move.mutable_end_time() = TimestampOf(kNow + absl::Hours(24 * 8 + 1));
  EXPECT_EQ(Reschedule(m, move, af, kNow).status().code(), absl::StatusCode::kPermissionDenied);

  v1::AnswerMeetingRequest answer;
  answer.set_answer(v1::PARTICIPANT_ANSWER_DECLINED);
  absl::StatusOr<MeetingStep> declined = Answer(m, answer, af);
  ASSERT_TRUE(declined.ok()) << declined.status();
  EXPECT_EQ(declined->meeting.participants(0).answer(), v1::PARTICIPANT_ANSWER_DECLINED);
  // Bo declined: the meeting no longer holds his time.
  const std::vector<std::string> holders = TimeHolders(declined->meeting);
  EXPECT_EQ(std::count(holders.begin(), holders.end(), "users/bo"), 0);

  absl::StatusOr<MeetingStep> moved = Reschedule(declined->meeting, move, Coordinator(), kNow);
  ASSERT_TRUE(moved.ok()) << moved.status();
  EXPECT_EQ(moved->meeting.participants(0).answer(), v1::PARTICIPANT_ANSWER_NEEDS_ACTION);
  EXPECT_EQ(moved->meeting.participants(2).answer(), v1::PARTICIPANT_ANSWER_ACCEPTED);

  answer.set_participant("users/someone-else");
  EXPECT_EQ(Fields(Answer(m, answer, af).status()), std::vector<std::string>{"participant"});
}

TEST(PreconditionTest, ConsentMissingNamesTheOrganization) {
  const absl::Status status = ConsentMissing("organizations/fk", "consent_withdrawn");
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(status.message().find("organizations/fk"), absl::string_view::npos);
  EXPECT_NE(status.message().find("consent_withdrawn"), absl::string_view::npos);
}

TEST(MeetingAccessTest, AStaffMeetingIsTheMunicipalitysToReadAndItsParticipantsToChange) {
  v1::CreateMeetingRequest r = Request();
  r.mutable_meeting()->clear_person();
  r.mutable_meeting()->mutable_participants()->RemoveLast();
  v1::Meeting m = *MeetingForCreate(r, Coordinator(), kNow);
  m.set_name("meetings/x");
  Caller caller;
  caller.principal = Coordinator();
  caller.principal.organization = "organizations/fk";
  caller.now = kNow;
  EXPECT_TRUE(DecideMeetingAccess(caller, m, AccessAction::kRead, {}).decision.permitted);
  EXPECT_FALSE(DecideMeetingAccess(caller, m, AccessAction::kUpdate, {}).decision.permitted);
  caller.principal.organization = "organizations/af";
  EXPECT_TRUE(DecideMeetingAccess(caller, m, AccessAction::kUpdate, {}).decision.permitted);
  caller.principal.municipality = "0180";
  EXPECT_FALSE(DecideMeetingAccess(caller, m, AccessAction::kRead, {}).decision.permitted);
  caller.principal.municipality = "1885";
  caller.principal.roles = {"manager"};
  EXPECT_EQ(DecideMeetingAccess(caller, m, AccessAction::kRead, {}).decision.reason, "role");
}

}  // namespace
}  // namespace samplan::scheduling
