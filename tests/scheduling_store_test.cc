// Tier 3: the scheduling service in-process against real PostgreSQL and Redis
// processes started by the test, over the identity schema's persons, consents
// and audit log: a meeting's life and its events on the municipality's stream,
// invitations refused without the person's consent, double booking refused,
// two bookings of the last free time at once with one winner, who sees a
// meeting about a person (and the audit record each decision leaves), and bad
// input that changes nothing.

#include <google/protobuf/util/time_util.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <barrier>
#include <pqxx/pqxx>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/event_consumer.h"
#include "common/ids.h"
#include "common/outbox.h"
#include "samplan/placement/v1/events.pb.h"
#include "common/redis.h"
#include "common/relay.h"
#include "common/rpc_details.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "tests/support/fixtures.h"
#include "tests/support/scheduling_suite.h"
#include "tests/support/served_service.h"
#include "tests/support/suite.h"

namespace samplan::scheduling {
namespace {

using ::google::protobuf::util::TimeUtil;
using testing::ViolatedFields;

// A Tuesday morning next year, 09:00 in Stockholm (08:00 UTC).
absl::Time Morning(int day_offset = 0) {
  return absl::FromCivil(absl::CivilSecond(2027, 2, 2 + day_offset, 8, 0, 0), absl::UTCTimeZone());
}

class SchedulingStoreTest : public testing::SchedulingSuite {
 protected:
  void SetUp() override {
    RedisClient redis({redis_->host(), redis_->port()});
    ASSERT_TRUE(redis.Command({"FLUSHALL"}).ok());
    SchedulingSuite::SetUp();
  }

  // A follow-up about `person` led by prakt, with af's caseworker and the
  // person, an hour from `start`.
  v1::CreateMeetingRequest FollowUp(const std::string& person, absl::Time start) {
    v1::CreateMeetingRequest r;
    r.set_request_id(NewUuid());
    v1::Meeting* m = r.mutable_meeting();
    m->set_kind(v1::MEETING_KIND_FOLLOW_UP);
    m->set_title("Uppföljning");
    m->set_person(person);
    m->mutable_location()->set_address("Kristinavägen 2, Lindesberg");
    m->mutable_location()->mutable_coordinates()->set_latitude(59.594);
    m->mutable_location()->mutable_coordinates()->set_longitude(15.230);
    *m->mutable_start_time() = TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(start));
    *m->mutable_end_time() =
        TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(start + absl::Hours(1)));
    v1::Participant* af = m->add_participants();
    af->set_user("users/u-af");
    af->set_organization("organizations/af");
    m->add_participants()->set_is_person(true);
    return r;
  }

  // The audit records left for `resource`: (organization, decision, reason).
  std::vector<std::tuple<std::string, std::string, std::string>> Audit(
      const std::string& resource) {
    pqxx::connection connection(dsn_);
    pqxx::nontransaction tx(connection);
    std::vector<std::tuple<std::string, std::string, std::string>> out;
    for (const pqxx::row& row : tx.exec_params(
             "SELECT actor_organization, decision, reason FROM identity.audit_records"
             " WHERE resource = $1 ORDER BY time, sequence",
             resource)) {
      out.emplace_back(row[0].as<std::string>(), row[1].as<std::string>(),
                       row[2].as<std::string>());
    }
    return out;
  }

  google::rpc::PreconditionFailure PreconditionOf(const grpc::Status& status) {
    google::rpc::Status details;
    google::rpc::PreconditionFailure failure;
    EXPECT_TRUE(details.ParseFromString(status.error_details()));
    EXPECT_TRUE(UnpackDetail(details, &failure));
    return failure;
  }
};

TEST_F(SchedulingStoreTest, AMeetingsLifeIsVersionedAuditedAndAnnouncedInOrder) {
  const std::string person = ConsentingPerson("anna");
  v1::Meeting created;
  grpc::Status status =
      stub_->CreateMeeting(As("prakt", "placement_coordinator").get(), FollowUp(person, Morning()),
                           &created);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(created.status(), v1::MEETING_STATUS_BOOKED);
  EXPECT_EQ(created.revision(), 1);
  EXPECT_EQ(created.owner_organization(), "organizations/prakt");

  // af takes part with the person's consent: it sees the meeting and answers.
  v1::GetMeetingRequest get;
  get.set_name(created.name());
  v1::Meeting seen;
  ASSERT_TRUE(stub_->GetMeeting(As("af").get(), get, &seen).ok());
  EXPECT_EQ(seen.etag(), "1");
  v1::AnswerMeetingRequest answer;
  answer.set_name(created.name());
  answer.set_answer(v1::PARTICIPANT_ANSWER_ACCEPTED);
  answer.set_etag(seen.etag());
  v1::Meeting answered;
  status = stub_->AnswerMeeting(As("af").get(), answer, &answered);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(answered.revision(), 2);
  // Only the owner moves it.
  v1::RescheduleMeetingRequest move;
  move.set_name(created.name());
  *move.mutable_start_time() = TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(Morning(1)));
  *move.mutable_end_time() =
      TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(Morning(1) + absl::Hours(1)));
  v1::Meeting moved;
  EXPECT_EQ(stub_->RescheduleMeeting(As("af").get(), move, &moved).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  move.set_etag("1");  // stale
  EXPECT_EQ(stub_->RescheduleMeeting(As("prakt").get(), move, &moved).error_code(),
            grpc::StatusCode::ABORTED);
  move.set_etag("2");
  status = stub_->RescheduleMeeting(As("prakt").get(), move, &moved);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(moved.revision(), 3);
  EXPECT_EQ(moved.participants(0).answer(), v1::PARTICIPANT_ANSWER_NEEDS_ACTION);

  v1::CancelMeetingRequest cancel;
  cancel.set_name(created.name());
  cancel.set_reason("Arbetsplatsen stängd");
  v1::Meeting cancelled;
  ASSERT_TRUE(stub_->CancelMeeting(As("prakt").get(), cancel, &cancelled).ok());
  EXPECT_EQ(cancelled.status(), v1::MEETING_STATUS_CANCELLED);
  EXPECT_EQ(cancelled.revision(), 4);
  // A cancelled meeting holds nobody's time: the slot can be booked again.
  v1::Meeting again;
  status = stub_->CreateMeeting(As("prakt").get(), FollowUp(person, Morning(1)), &again);
  EXPECT_TRUE(status.ok()) << status.error_message();

  EXPECT_EQ(Count(absl::StrCat("SELECT count(*) FROM scheduling.meeting_revisions WHERE "
                               "meeting_id = '",
                               ResourceId(created.name(), "meetings"), "'")),
            4);
  // Every step's event, relayed in order.
  OutboxRelay relay(RelayOptions{kSchema, 50, absl::Milliseconds(5)}, dsn_,
                    RedisOptions{redis_->host(), redis_->port()});
  relay.Start();
  std::vector<std::string> types;
  for (int i = 0; i < 200 && types.size() < 4; ++i) {
    absl::SleepFor(absl::Milliseconds(20));
    auto events = testing::ReadStream(redis_->Address(), "1885");
    ASSERT_TRUE(events.ok());
    types.clear();
    for (const auto& e : *events) {
      if (e.aggregate == created.name()) types.push_back(e.type);
    }
  }
  EXPECT_EQ(types, (std::vector<std::string>{
                       "scheduling.meeting.booked", "scheduling.meeting.answered",
                       "scheduling.meeting.rescheduled", "scheduling.meeting.cancelled"}));
  // Each read and write that went through left its record (create, af's read
  // and answer, the move, the cancellation; the refused steps rolled back
  // whole); af acted on the person's consent.
  const auto audit = Audit(created.name());
  ASSERT_EQ(audit.size(), 5u);
  EXPECT_EQ(audit[0], std::make_tuple(std::string("organizations/prakt"), std::string("permit"),
                                      std::string("consent")));
  EXPECT_EQ(audit[1], std::make_tuple(std::string("organizations/af"), std::string("permit"),
                                      std::string("consent")));
}

TEST_F(SchedulingStoreTest, InvitingAnOrganizationWithoutConsentIsRefusedAndStoresNothing) {
  const std::string person = (*persons_)("bertil");
  persons_->GrantConsent(person, "organizations/prakt", "attendance", "coordination");
  // af's consent is for plan data only: not attendance.
  persons_->GrantConsent(person, "organizations/af", "plan", "coordination");
  v1::Meeting out;
  grpc::Status status =
      stub_->CreateMeeting(As("prakt").get(), FollowUp(person, Morning()), &out);
  ASSERT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << status.error_message();
  const google::rpc::PreconditionFailure failure = PreconditionOf(status);
  ASSERT_EQ(failure.violations_size(), 1);
  EXPECT_EQ(failure.violations(0).type(), "CONSENT");
  EXPECT_EQ(failure.violations(0).subject(), "organizations/af");
  EXPECT_NE(status.error_message().find("category_not_covered"), std::string::npos)
      << status.error_message();
  EXPECT_EQ(Count("SELECT count(*) FROM scheduling.meetings"), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM scheduling.outbox"), 0);

  // The social services own the person's record: they are invited without a
  // consent, and a meeting without af is booked.
  v1::CreateMeetingRequest with_owner = FollowUp(person, Morning());
  with_owner.mutable_meeting()->mutable_participants(0)->set_user("users/u-soc");
  with_owner.mutable_meeting()->mutable_participants(0)->set_organization("organizations/soc");
  status = stub_->CreateMeeting(As("prakt").get(), with_owner, &out);
  EXPECT_TRUE(status.ok()) << status.error_message();
}

TEST_F(SchedulingStoreTest, ADoubleBookingIsRefusedUnlessTheOverlapIsAllowed) {
  const std::string person = ConsentingPerson("cecilia");
  v1::Meeting first;
  ASSERT_TRUE(stub_->CreateMeeting(As("prakt").get(), FollowUp(person, Morning()), &first).ok());
  // Half an hour later, with the same af caseworker and another person.
  const std::string other = ConsentingPerson("david");
  v1::CreateMeetingRequest second = FollowUp(other, Morning() + absl::Minutes(30));
  v1::Meeting out;
  grpc::Status status = stub_->CreateMeeting(As("prakt").get(), second, &out);
  ASSERT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  // prakt's coordinator is in both: the first holder in order is named.
  EXPECT_EQ(PreconditionOf(status).violations(0).type(), "OVERLAP");
  EXPECT_EQ(PreconditionOf(status).violations(0).subject(), "users/u-af");
  // Proposed meetings hold no time; so the same request as a proposal passes.
  second.mutable_meeting()->set_status(v1::MEETING_STATUS_PROPOSED);
  second.set_request_id(NewUuid());
  ASSERT_TRUE(stub_->CreateMeeting(As("prakt").get(), second, &out).ok());
  v1::BookMeetingRequest book;
  book.set_name(out.name());
  v1::Meeting booked;
  EXPECT_EQ(stub_->BookMeeting(As("prakt").get(), book, &booked).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  book.set_allow_overlap(true);
  status = stub_->BookMeeting(As("prakt").get(), book, &booked);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(booked.status(), v1::MEETING_STATUS_BOOKED);
  // Right after the booked ones end is free.
  v1::CreateMeetingRequest after = FollowUp(person, Morning() + absl::Minutes(90));
  after.mutable_meeting()->mutable_participants()->RemoveLast();
  after.mutable_meeting()->mutable_participants(0)->set_user("users/u-af2");
  status = stub_->CreateMeeting(As("prakt").get(), after, &out);
  EXPECT_TRUE(status.ok()) << status.error_message();
}

TEST_F(SchedulingStoreTest, TwoBookingsOfTheLastFreeTimeAtOnceHaveOneWinner) {
  const std::string person = ConsentingPerson("erik");
  for (int round = 0; round < 5; ++round) {
    // Two organizations book the same person at the same hour, each with its
    // own staff: only the person's calendar is shared.
    v1::CreateMeetingRequest a = FollowUp(person, Morning(round));
    a.mutable_meeting()->mutable_participants()->DeleteSubrange(0, 1);
    v1::CreateMeetingRequest b = a;
    b.set_request_id(NewUuid());
    std::barrier start(2);
    grpc::Status results[2];
    std::thread threads[2];
    const std::string orgs[2] = {"prakt", "af"};
    const v1::CreateMeetingRequest* requests[2] = {&a, &b};
    for (int i = 0; i < 2; ++i) {
      threads[i] = std::thread([&, i] {
        v1::Meeting out;
        auto context = As(orgs[i]);
        start.arrive_and_wait();
        results[i] = stub_->CreateMeeting(context.get(), *requests[i], &out);
      });
    }
    for (std::thread& t : threads) t.join();
    ASSERT_EQ(results[0].ok() + results[1].ok(), 1)
        << results[0].error_message() << " / " << results[1].error_message();
    const grpc::Status& lost = results[0].ok() ? results[1] : results[0];
    EXPECT_EQ(lost.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
    EXPECT_EQ(PreconditionOf(lost).violations(0).subject(), person);
  }
  EXPECT_EQ(Count("SELECT count(*) FROM scheduling.meetings"), 5);
}

TEST_F(SchedulingStoreTest, OnlyTheOwnerAndConsentedOrganizationsSeeAMeeting) {
  const std::string person = ConsentingPerson("fatima");
  v1::CreateMeetingRequest request = FollowUp(person, Morning());
  request.mutable_meeting()->mutable_participants()->DeleteSubrange(0, 1);
  v1::Meeting created;
  ASSERT_TRUE(stub_->CreateMeeting(As("prakt").get(), request, &created).ok());
  v1::GetMeetingRequest get;
  get.set_name(created.name());
  v1::Meeting out;
  EXPECT_TRUE(stub_->GetMeeting(As("af").get(), get, &out).ok());
  EXPECT_EQ(stub_->GetMeeting(As("fk").get(), get, &out).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(stub_->GetMeeting(As("af", "manager").get(), get, &out).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(stub_->GetMeeting(testing::CallWithToken(keys_->Token("af", "caseworker", "0180")).get(),
                              get, &out)
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  // A withdrawn consent removes af's view at once.
  {
    pqxx::connection connection(dsn_);
    pqxx::work tx(connection);
    tx.exec_params(
        "UPDATE identity.consents SET withdraw_time = now() - interval '1 second'"
        " WHERE $1 = ANY(grantee_organizations) AND person_id = substr($2, 9)::uuid",
        "organizations/af", person);
    tx.commit();
  }
  EXPECT_EQ(stub_->GetMeeting(As("af").get(), get, &out).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  const auto audit = Audit(created.name());
  ASSERT_EQ(audit.size(), 6u);
  EXPECT_EQ(std::get<2>(audit[1]), "consent");
  EXPECT_EQ(std::get<2>(audit[2]), "no_consent");
  EXPECT_EQ(std::get<2>(audit[3]), "role");
  EXPECT_EQ(std::get<2>(audit[4]), "other_municipality");
  EXPECT_EQ(std::get<2>(audit[5]), "consent_withdrawn");

  // A missing meeting answers as a hidden one.
  get.set_name(absl::StrCat("meetings/", NewUuid()));
  EXPECT_EQ(stub_->GetMeeting(As("prakt").get(), get, &out).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);

  // The person's meetings, listed: prakt sees it; fk's list is empty.
  v1::ListMeetingsRequest list;
  list.set_person(person);
  *list.mutable_start_time() =
      TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(Morning() - absl::Hours(24)));
  v1::ListMeetingsResponse page;
  ASSERT_TRUE(stub_->ListMeetings(As("prakt").get(), list, &page).ok());
  EXPECT_EQ(page.meetings_size(), 1);
  ASSERT_TRUE(stub_->ListMeetings(As("fk").get(), list, &page).ok());
  EXPECT_EQ(page.meetings_size(), 0);
}

TEST_F(SchedulingStoreTest, ListsPageByStartTimeWithoutRepeats) {
  const std::string person = ConsentingPerson("gustav");
  for (int day = 0; day < 5; ++day) {
    v1::Meeting out;
    ASSERT_TRUE(
        stub_->CreateMeeting(As("prakt").get(), FollowUp(person, Morning(day)), &out).ok());
  }
  v1::ListMeetingsRequest list;
  list.set_user("users/u-af");
  *list.mutable_start_time() =
      TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(Morning() - absl::Hours(1)));
  list.set_page_size(2);
  std::vector<std::string> starts;
  for (int pages = 0; pages < 5; ++pages) {
    v1::ListMeetingsResponse page;
    grpc::Status status = stub_->ListMeetings(As("af").get(), list, &page);
    ASSERT_TRUE(status.ok()) << status.error_message();
    for (const auto& m : page.meetings()) starts.push_back(TimeUtil::ToString(m.start_time()));
    if (page.next_page_token().empty()) break;
    list.set_page_token(page.next_page_token());
  }
  EXPECT_EQ(starts.size(), 5u);
  EXPECT_TRUE(std::is_sorted(starts.begin(), starts.end()));
  list.set_user("users/u-fk");  // the token was made for another filter
  v1::ListMeetingsResponse page;
  EXPECT_EQ(ViolatedFields(stub_->ListMeetings(As("af").get(), list, &page)),
            std::vector<std::string>{"page_token"});
}

TEST_F(SchedulingStoreTest, BadInputNamesEachFieldAndChangesNothing) {
  const std::string person = ConsentingPerson("hanna");
  v1::CreateMeetingRequest request = FollowUp(person, Morning());
  *request.mutable_meeting()->mutable_end_time() = request.meeting().start_time();
  request.mutable_meeting()->mutable_location()->mutable_coordinates()->set_latitude(123);
  v1::Meeting out;
  grpc::Status status = stub_->CreateMeeting(As("prakt").get(), request, &out);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(ViolatedFields(status),
            (std::vector<std::string>{"meeting.location.coordinates.latitude",
                                      "meeting.end_time"}));
  // A person not registered in the municipality.
  request = FollowUp(absl::StrCat("persons/", NewUuid()), Morning());
  status = stub_->CreateMeeting(As("prakt").get(), request, &out);
  EXPECT_EQ(ViolatedFields(status), std::vector<std::string>{"meeting.person"});
  // A window of ten years.
  v1::ListMeetingsRequest list;
  *list.mutable_start_time() = TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(Morning()));
  *list.mutable_end_time() =
      TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(Morning() + absl::Hours(24 * 3650)));
  v1::ListMeetingsResponse page;
  EXPECT_EQ(ViolatedFields(stub_->ListMeetings(As("prakt").get(), list, &page)),
            std::vector<std::string>{"end_time"});
  EXPECT_EQ(Count("SELECT count(*) FROM scheduling.meetings"), 0);
  // A retry with the same request id returns the first meeting; another
  // request under that id is refused.
  request = FollowUp(person, Morning());
  v1::Meeting first, retried;
  ASSERT_TRUE(stub_->CreateMeeting(As("prakt").get(), request, &first).ok());
  ASSERT_TRUE(stub_->CreateMeeting(As("prakt").get(), request, &retried).ok());
  EXPECT_EQ(first.name(), retried.name());
  request.mutable_meeting()->set_title("Annat");
  EXPECT_EQ(ViolatedFields(stub_->CreateMeeting(As("prakt").get(), request, &retried)),
            std::vector<std::string>{"request_id"});
  EXPECT_EQ(Count("SELECT count(*) FROM scheduling.meetings"), 1);
}

TEST_F(SchedulingStoreTest, CommonFreeTimeJoinsWorkingHoursImportedBusyTimeAndBookings) {
  // prakt's coordinator works 09:00 to 17:00; af's caseworker keeps the
  // default hours (08:00 to 17:00).
  v1::SetWorkingHoursRequest hours;
  for (int day = 1; day <= 5; ++day) {
    v1::WeeklyRule* rule = hours.mutable_working_hours()->add_weekly_rules();
    rule->set_day_of_week(day);
    rule->mutable_hours()->set_start_time("09:00");
    rule->mutable_hours()->set_end_time("17:00");
  }
  v1::WorkingHours stored;
  grpc::Status status = stub_->SetWorkingHours(As("prakt").get(), hours, &stored);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(stored.name(), "users/u-prakt/workingHours");
  hours.set_etag("7");  // stale
  EXPECT_EQ(stub_->SetWorkingHours(As("prakt").get(), hours, &stored).error_code(),
            grpc::StatusCode::ABORTED);

  // af's own calendar says busy Tuesday 2 February 09:00 to 12:00 in
  // Stockholm, and has a private event whose title must not be kept.
  v1::ImportCalendarRequest import;
  import.set_source("outlook");
  *import.mutable_window_start() = TimeUtil::MicrosecondsToTimestamp(
      absl::ToUnixMicros(Morning() - absl::Hours(24)));
  *import.mutable_window_end() = TimeUtil::MicrosecondsToTimestamp(
      absl::ToUnixMicros(Morning() + absl::Hours(24 * 7)));
  import.set_calendar(
      "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n"
      "BEGIN:VEVENT\r\nUID:1\r\nDTSTAMP:20270101T000000Z\r\nSUMMARY:Tandläkare\r\n"
      "DTSTART:20270202T080000Z\r\nDTEND:20270202T110000Z\r\nEND:VEVENT\r\n"
      "END:VCALENDAR\r\n");
  v1::ImportBusyIntervalsResponse imported;
  status = stub_->ImportCalendar(As("af").get(), import, &imported);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(imported.stored(), 1);
  EXPECT_EQ(Count("SELECT count(*) FROM scheduling.busy_intervals"), 1);

  // prakt's coordinator has a booked staff meeting 13:00 to 14:00.
  v1::CreateMeetingRequest staff;
  staff.set_request_id(NewUuid());
  staff.mutable_meeting()->set_kind(v1::MEETING_KIND_OTHER);
  *staff.mutable_meeting()->mutable_start_time() =
      TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(Morning() + absl::Hours(4)));
  *staff.mutable_meeting()->mutable_end_time() =
      TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(Morning() + absl::Hours(5)));
  v1::Meeting booked;
  ASSERT_TRUE(stub_->CreateMeeting(As("prakt").get(), staff, &booked).ok());

  v1::FindCommonSlotsRequest find;
  find.add_required_users("users/u-prakt");
  find.add_required_users("users/u-af");
  find.set_duration_minutes(60);
  *find.mutable_window_start() = TimeUtil::MicrosecondsToTimestamp(
      absl::ToUnixMicros(Morning() - absl::Hours(8)));  // Tuesday 01:00
  *find.mutable_window_end() = TimeUtil::MicrosecondsToTimestamp(
      absl::ToUnixMicros(Morning() + absl::Hours(15)));  // Tuesday 24:00
  find.set_max_candidates(2);
  v1::FindCommonSlotsResponse slots;
  status = stub_->FindCommonSlots(As("soc").get(), find, &slots);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(slots.candidates_size(), 2);
  // 12:00 to 13:00, then 14:00 to 15:00, Stockholm time.
  EXPECT_EQ(TimeUtil::ToString(slots.candidates(0).start_time()), "2027-02-02T11:00:00Z");
  EXPECT_EQ(TimeUtil::ToString(slots.candidates(1).start_time()), "2027-02-02T13:00:00Z");
  bool af_busy = false;
  for (const auto& o : slots.obstacles()) af_busy |= o.user() == "users/u-af" && o.reason() == "busy";
  EXPECT_TRUE(af_busy);

  // Bad input names its fields and stores nothing.
  import.set_calendar("this is no calendar");
  EXPECT_EQ(ViolatedFields(stub_->ImportCalendar(As("af").get(), import, &imported)),
            std::vector<std::string>{"calendar"});
  import.set_calendar(std::string(3 * 1024 * 1024, 'x'));
  EXPECT_EQ(ViolatedFields(stub_->ImportCalendar(As("af").get(), import, &imported)),
            std::vector<std::string>{"calendar"});
  EXPECT_EQ(Count("SELECT count(*) FROM scheduling.busy_intervals"), 1);
  v1::DatedException* spring = hours.mutable_working_hours()->add_exceptions();
  spring->mutable_date()->set_year(2027);
  spring->mutable_date()->set_month(3);
  spring->mutable_date()->set_day(28);
  spring->add_hours()->set_start_time("02:30");
  spring->mutable_hours(0)->set_end_time("05:00");
  hours.clear_etag();
  EXPECT_EQ(ViolatedFields(stub_->SetWorkingHours(As("prakt").get(), hours, &stored)),
            std::vector<std::string>{"working_hours.exceptions[0].hours[0].start_time"});
  find.set_duration_minutes(0);
  EXPECT_EQ(ViolatedFields(stub_->FindCommonSlots(As("soc").get(), find, &slots)),
            std::vector<std::string>{"duration_minutes"});
}

// A caseworker of another municipality who names this one's staff learns
// nothing of their time: their working hours read as the defaults, and neither
// their imported busy time nor their bookings show, as for a user unknown here.
TEST_F(SchedulingStoreTest, AnotherMunicipalitySeesNothingOfAUsersTime) {
  v1::SetWorkingHoursRequest hours;
  for (int day = 1; day <= 5; ++day) {
    v1::WeeklyRule* rule = hours.mutable_working_hours()->add_weekly_rules();
    rule->set_day_of_week(day);
    rule->mutable_hours()->set_start_time("10:00");
    rule->mutable_hours()->set_end_time("16:00");
  }
  v1::WorkingHours stored;
  ASSERT_TRUE(stub_->SetWorkingHours(As("prakt").get(), hours, &stored).ok());
  v1::ImportCalendarRequest import;
  import.set_source("outlook");
  *import.mutable_window_start() = TimeUtil::MicrosecondsToTimestamp(
      absl::ToUnixMicros(Morning() - absl::Hours(24)));
  *import.mutable_window_end() = TimeUtil::MicrosecondsToTimestamp(
      absl::ToUnixMicros(Morning() + absl::Hours(24 * 7)));
  import.set_calendar(
      "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n"
      "BEGIN:VEVENT\r\nUID:1\r\nDTSTAMP:20270101T000000Z\r\n"
      "DTSTART:20270202T080000Z\r\nDTEND:20270202T110000Z\r\nEND:VEVENT\r\n"
      "END:VCALENDAR\r\n");
  v1::ImportBusyIntervalsResponse imported;
  ASSERT_TRUE(stub_->ImportCalendar(As("af").get(), import, &imported).ok());
  v1::CreateMeetingRequest staff;
  staff.set_request_id(NewUuid());
  staff.mutable_meeting()->set_kind(v1::MEETING_KIND_OTHER);
  *staff.mutable_meeting()->mutable_start_time() =
      TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(Morning() + absl::Hours(4)));
  *staff.mutable_meeting()->mutable_end_time() =
      TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(Morning() + absl::Hours(5)));
  v1::Meeting booked;
  ASSERT_TRUE(stub_->CreateMeeting(As("prakt").get(), staff, &booked).ok());

  const std::string orebro = keys_->Token("orebro", "caseworker", "1880");
  v1::GetWorkingHoursRequest get;
  get.set_name("users/u-prakt/workingHours");
  v1::WorkingHours read;
  ASSERT_TRUE(stub_->GetWorkingHours(As("soc").get(), get, &read).ok());
  EXPECT_EQ(read.weekly_rules(0).hours().start_time(), "10:00");
  ASSERT_TRUE(stub_->GetWorkingHours(testing::CallWithToken(orebro).get(), get, &read).ok());
  EXPECT_TRUE(read.is_default());
  EXPECT_EQ(read.weekly_rules(0).hours().start_time(), "08:00");

  v1::FindCommonSlotsRequest find;
  find.add_required_users("users/u-prakt");
  find.add_required_users("users/u-af");
  find.set_duration_minutes(60);
  *find.mutable_window_start() = TimeUtil::MicrosecondsToTimestamp(
      absl::ToUnixMicros(Morning() - absl::Hours(8)));
  *find.mutable_window_end() = TimeUtil::MicrosecondsToTimestamp(
      absl::ToUnixMicros(Morning() + absl::Hours(15)));
  find.set_max_candidates(3);
  v1::FindCommonSlotsResponse here, there;
  ASSERT_TRUE(stub_->FindCommonSlots(As("soc").get(), find, &here).ok());
  ASSERT_TRUE(stub_->FindCommonSlots(testing::CallWithToken(orebro).get(), find, &there).ok());
  bool busy_here = false;
  for (const auto& o : here.obstacles()) busy_here |= o.reason() == "busy";
  EXPECT_TRUE(busy_here);
  for (const auto& o : there.obstacles()) EXPECT_NE(o.reason(), "busy") << o.user();
  // The day as a stranger's: from 08:00 Stockholm, whatever the staff booked.
  ASSERT_GE(there.candidates_size(), 1);
  EXPECT_EQ(TimeUtil::ToString(there.candidates(0).start_time()), "2027-02-02T07:00:00Z");
}

TEST_F(SchedulingStoreTest, ASignedAgreementGetsItsFollowUpsOnceAndAnEndedOneLosesTheRest) {
  const std::string person = ConsentingPerson("ida");
  ProcessedEvents processed(kSchema);
  Outbox outbox(kSchema);
  std::vector<PreparedStatement> statements = SchedulingRepositoryStatements(outbox);
  for (const PreparedStatement& p : processed.statements()) statements.push_back(p);
  auto pool = PgPool::Create({dsn_, 2, absl::Seconds(10), "test", statements});
  ASSERT_TRUE(pool.ok()) << pool.status();
  EventConsumerOptions options;
  options.group = "scheduling";
  options.consumer = "test";
  options.municipalities = {"1885"};
  options.start = GroupStart::kWholeStream;
  options.block = absl::Milliseconds(50);
  // "now" is 1 March 2027: the follow-ups of 3 March and on are still to come.
  const absl::Time now = absl::FromCivil(absl::CivilSecond(2027, 3, 1, 12, 0, 0),
                                         absl::UTCTimeZone());
  EventConsumer consumer(options, {redis_->host(), redis_->port()}, **pool, processed,
                         [&](pqxx::transaction_base& tx, const events::v1::Event& event) {
                           return ApplyAgreementEvent(tx, outbox, event, now);
                         });
  RedisClient redis({redis_->host(), redis_->port()});
  placement::v1::AgreementChanged agreement;
  agreement.set_agreement(absl::StrCat("agreements/", NewUuid()));
  agreement.set_person(person);
  agreement.set_coordinator_organization("organizations/prakt");
  agreement.mutable_start_date()->set_year(2027);
  agreement.mutable_start_date()->set_month(2);
  agreement.mutable_start_date()->set_day(1);
  agreement.mutable_end_date()->set_year(2027);
  agreement.mutable_end_date()->set_month(6);
  agreement.mutable_end_date()->set_day(30);
  agreement.set_follow_up_interval_days(30);
  auto publish = [&](const std::string& type) {
    events::v1::Event event =
        MakeEvent(type, "1885", agreement.agreement(), 3, person, "placement", agreement,
                  {"organizations/prakt", "users/u-prakt", "trace", absl::Now()});
    EXPECT_TRUE(testing::AppendSignedEvent(redis, EventStreamKey("1885"), event).ok());
    return event;
  };
  // A few rounds: the first one creates the group and reads its own pending
  // entries, the next ones the stream.
  auto consume = [&] {
    for (int i = 0; i < 4; ++i) ASSERT_TRUE(consumer.ConsumeOnce().ok());
  };
  const events::v1::Event signed_event = publish("placement.agreement.signed");
  consume();
  const std::string of_agreement =
      absl::StrCat("SELECT count(*) FROM scheduling.meetings WHERE agreement = '",
                   agreement.agreement(), "'");
  EXPECT_EQ(Count(of_agreement), 4);
  EXPECT_EQ(Count(of_agreement + " AND status = 'MEETING_STATUS_PROPOSED' AND kind = "
                                 "'MEETING_KIND_FOLLOW_UP'"),
            4);

  // The same event delivered again (a crash between commit and ack): once.
  ASSERT_TRUE(testing::AppendSignedEvent(redis, EventStreamKey("1885"), signed_event).ok());
  consume();
  EXPECT_EQ(Count(of_agreement), 4);

  // The coordinator sees them as proposed visits; af, with consent, too.
  v1::ListMeetingsRequest list;
  list.set_person(person);
  *list.mutable_start_time() = TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(now));
  *list.mutable_end_time() =
      TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(now + absl::Hours(24 * 200)));
  v1::ListMeetingsResponse page;
  ASSERT_TRUE(stub_->ListMeetings(As("prakt").get(), list, &page).ok());
  ASSERT_EQ(page.meetings_size(), 4);
  EXPECT_EQ(page.meetings(0).organizer_user(), "users/u-prakt");

  // The agreement ends on 1 March: the four visits still to come are
  // cancelled, each with its revision and event.
  publish("placement.agreement.ended");
  consume();
  EXPECT_EQ(Count(of_agreement + " AND status = 'MEETING_STATUS_CANCELLED'"), 4);
  EXPECT_EQ(Count("SELECT count(*) FROM scheduling.outbox WHERE event_type = "
                  "'scheduling.meeting.cancelled'"),
            4);
  ASSERT_TRUE(stub_->ListMeetings(As("prakt").get(), list, &page).ok());
  EXPECT_EQ(page.meetings(0).status(), v1::MEETING_STATUS_CANCELLED);
  EXPECT_EQ(page.meetings(0).revision(), 2);
}

}  // namespace
}  // namespace samplan::scheduling
