// Tier 3: the coordinator's day and month of visits through the scheduling
// service in-process, over real PostgreSQL and the identity schema's persons,
// consents and audit log: the stops are the coordinator's meetings the caller
// may see, each meeting read leaves its audit record (a hidden one its
// denial), nothing is stored, and bad input is refused naming each field.

#include <google/protobuf/util/time_util.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <pqxx/pqxx>
#include <set>

#include "absl/strings/str_cat.h"
#include "common/ids.h"
#include "services/scheduling/availability.h"
#include "services/scheduling/meeting_rules.h"
#include "tests/support/fixtures.h"
#include "tests/support/scheduling_suite.h"
#include "tests/support/served_service.h"
#include "tests/support/suite.h"

namespace samplan::scheduling {
namespace {

using testing::ViolatedFields;

absl::Time Local(absl::CivilDay day, int hour, int minute = 0) {
  return StockholmZone().At(absl::CivilMinute(day) + hour * 60 + minute).pre;
}

constexpr absl::CivilDay kTuesday(2027, 2, 2);

class SchedulingRouteTest : public testing::SchedulingSuite {
 protected:
  SchedulingRouteTest() { default_role_ = "placement_coordinator"; }

  // Creates, as `org`'s coordinator, a meeting about `person` with prakt's
  // coordinator (users/u-prakt) taking part, 45 minutes from `start`, at
  // (lat, lon) unless both are 0.
  v1::Meeting Create(const std::string& org, const std::string& person, absl::Time start,
                     v1::MeetingKind kind, v1::MeetingStatus status, double lat, double lon,
                     const std::string& agreement = "") {
    v1::CreateMeetingRequest r;
    r.set_request_id(NewUuid());
    v1::Meeting* m = r.mutable_meeting();
    m->set_kind(kind);
    m->set_status(status);
    m->set_title("Uppföljning");
    m->set_person(person);
    m->set_agreement(agreement);
    if (lat != 0 || lon != 0) {
      m->mutable_location()->mutable_coordinates()->set_latitude(lat);
      m->mutable_location()->mutable_coordinates()->set_longitude(lon);
    } else {
      m->mutable_location()->set_video_link("https://video.example/room");
    }
    *m->mutable_start_time() = TimestampOf(start);
    *m->mutable_end_time() = TimestampOf(start + absl::Minutes(45));
    if (org != "prakt") {
      v1::Participant* coordinator = m->add_participants();
      coordinator->set_user("users/u-prakt");
      coordinator->set_organization("organizations/prakt");
    }
    m->add_participants()->set_is_person(true);
    v1::Meeting created;
    grpc::Status answer = stub_->CreateMeeting(As(org).get(), r, &created);
    EXPECT_TRUE(answer.ok()) << answer.error_message();
    return created;
  }

  // (resource, decision, reason) of the audit records `action` left, by resource.
  std::vector<std::tuple<std::string, std::string, std::string>> AuditOf(
      const std::string& action) {
    pqxx::connection connection(dsn_);
    pqxx::nontransaction tx(connection);
    std::vector<std::tuple<std::string, std::string, std::string>> out;
    for (const pqxx::row& row : tx.exec_params(
             "SELECT resource, decision, reason FROM identity.audit_records"
             " WHERE action = $1 ORDER BY resource",
             action)) {
      out.emplace_back(row[0].as<std::string>(), row[1].as<std::string>(),
                       row[2].as<std::string>());
    }
    return out;
  }

  v1::PlanVisitRouteRequest DayRequest() {
    v1::PlanVisitRouteRequest r;
    r.mutable_date()->set_year(2027);
    r.mutable_date()->set_month(2);
    r.mutable_date()->set_day(2);
    r.mutable_start_place()->set_latitude(59.594);  // the office in Lindesberg
    r.mutable_start_place()->set_longitude(15.230);
    return r;
  }
};

TEST_F(SchedulingRouteTest, ADaysRouteVisitsWhatTheCoordinatorMaySeeAndAuditsEachRead) {
  const std::string anna = ConsentingPerson("anna"), bo = ConsentingPerson("bo"),
                    cecilia = ConsentingPerson("cecilia");
  const v1::Meeting nora = Create("prakt", anna, Local(kTuesday, 10), v1::MEETING_KIND_FOLLOW_UP,
                                  v1::MEETING_STATUS_PROPOSED, 59.519, 15.039);
  const v1::Meeting fellingsbro =
      Create("prakt", bo, Local(kTuesday, 10), v1::MEETING_KIND_WORKPLACE_VISIT,
             v1::MEETING_STATUS_PROPOSED, 59.433, 15.587);
  const v1::Meeting fixed =
      Create("prakt", anna, Local(kTuesday, 13), v1::MEETING_KIND_THREE_PARTY_AGREEMENT,
             v1::MEETING_STATUS_BOOKED, 59.60, 15.25);
  const v1::Meeting video = Create("prakt", bo, Local(kTuesday, 15), v1::MEETING_KIND_COORDINATION,
                                   v1::MEETING_STATUS_BOOKED, 0, 0);
  // af's meeting about Cecilia with prakt's coordinator invited; then Cecilia
  // withdraws prakt's consent: prakt no longer sees it.
  const v1::Meeting hidden = Create("af", cecilia, Local(kTuesday, 11), v1::MEETING_KIND_FOLLOW_UP,
                                    v1::MEETING_STATUS_PROPOSED, 59.70, 15.40);
  {
    pqxx::connection connection(dsn_);
    pqxx::work tx(connection);
    tx.exec_params(
        "UPDATE identity.consents SET withdraw_time = now() - interval '1 second'"
        " WHERE $1 = ANY(grantee_organizations) AND person_id = substr($2, 9)::uuid",
        "organizations/prakt", cecilia);
    tx.commit();
  }
  const int64_t outbox = Count("SELECT count(*) FROM scheduling.outbox");

  v1::VisitRoute route;
  grpc::Status status = stub_->PlanVisitRoute(As("prakt").get(), DayRequest(), &route);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(route.legs_size(), 3);
  std::set<std::string> visited;
  for (const v1::RouteLeg& leg : route.legs()) {
    visited.insert(leg.meeting());
    EXPECT_LE(TimeOf(leg.arrival_time()), TimeOf(leg.start_time()));
    EXPECT_GT(leg.meters(), 0);
    if (leg.meeting() == fixed.name()) {
      EXPECT_EQ(TimeOf(leg.start_time()), Local(kTuesday, 13));
    }
  }
  EXPECT_EQ(visited, (std::set<std::string>{nora.name(), fellingsbro.name(), fixed.name()}));
  EXPECT_TRUE(route.exact());
  EXPECT_EQ(TimeOf(route.leave_time()), Local(kTuesday, 8));
  ASSERT_EQ(route.left_out_size(), 1);
  EXPECT_EQ(route.left_out(0).meeting(), video.name());
  EXPECT_EQ(route.left_out(0).reason(), "no_coordinates");

  // Each meeting read left its record; the hidden one its denial.
  std::vector<std::tuple<std::string, std::string, std::string>> expected = {
      {nora.name(), "permit", "owner"},
      {fellingsbro.name(), "permit", "owner"},
      {fixed.name(), "permit", "owner"},
      {video.name(), "permit", "owner"},
      {hidden.name(), "deny", "consent_withdrawn"}};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(AuditOf("scheduling.PlanVisitRoute"), expected);
  // A plan changes nothing.
  EXPECT_EQ(Count("SELECT count(*) FROM scheduling.outbox"), outbox);
  EXPECT_EQ(Count("SELECT max(version) FROM scheduling.meetings"), 1);

  // Someone else's day: fk, without the persons' consent, sees none of its visits.
  v1::PlanVisitRouteRequest theirs = DayRequest();
  theirs.set_coordinator("users/u-prakt");
  EXPECT_EQ(stub_->PlanVisitRoute(As("fk").get(), theirs, &route).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);  // no visit fk may see: no stops
  EXPECT_EQ(stub_->PlanVisitRoute(As("prakt", "manager").get(), DayRequest(), &route).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(SchedulingRouteTest, BadRouteInputIsRefusedNamingEachFieldAndReadsNothing) {
  const std::string anna = ConsentingPerson("anna");
  Create("prakt", anna, Local(kTuesday, 10), v1::MEETING_KIND_FOLLOW_UP,
         v1::MEETING_STATUS_PROPOSED, 59.519, 15.039);
  v1::VisitRoute route;

  v1::PlanVisitRouteRequest off_globe = DayRequest();
  off_globe.mutable_start_place()->set_latitude(95);
  v1::RouteStop* stop = off_globe.add_stops();
  stop->set_id("depot");
  stop->mutable_coordinates()->set_latitude(59.5);
  stop->mutable_coordinates()->set_longitude(190);
  grpc::Status status = stub_->PlanVisitRoute(As("prakt").get(), off_globe, &route);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(ViolatedFields(status),
            (std::vector<std::string>{"start_place.latitude", "stops[0].coordinates.longitude"}));

  v1::PlanVisitRouteRequest crowded = DayRequest();
  for (int i = 0; i < 500; ++i) {
    v1::RouteStop* s = crowded.add_stops();
    s->set_id(absl::StrCat("s", i));
    s->mutable_coordinates()->set_latitude(59.5);
    s->mutable_coordinates()->set_longitude(15.2);
  }
  status = stub_->PlanVisitRoute(As("prakt").get(), crowded, &route);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(ViolatedFields(status), (std::vector<std::string>{"stops"}));
  EXPECT_TRUE(AuditOf("scheduling.PlanVisitRoute").empty());

  // A day with nothing to visit: no stops.
  v1::PlanVisitRouteRequest empty_day = DayRequest();
  empty_day.mutable_date()->set_day(3);
  status = stub_->PlanVisitRoute(As("prakt").get(), empty_day, &route);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(ViolatedFields(status), (std::vector<std::string>{"stops"}));

  v1::FollowUpMonthPlan plan;
  v1::PlanFollowUpMonthRequest month;
  month.set_year(2027);
  month.set_month(0);
  month.mutable_home_place()->set_longitude(-200);
  status = stub_->PlanFollowUpMonth(As("prakt").get(), month, &plan);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(ViolatedFields(status), (std::vector<std::string>{"month", "home_place.longitude"}));
  EXPECT_TRUE(AuditOf("scheduling.PlanFollowUpMonth").empty());
}

TEST_F(SchedulingRouteTest, AMonthPlanGivesEveryFollowUpADayInItsWindow) {
  const std::string anna = ConsentingPerson("anna"), bo = ConsentingPerson("bo");
  // Five follow-ups in March 2027; one has no coordinates of its own but its
  // agreement's workplace is given.
  struct Due {
    absl::CivilDay day;
    double lat, lon;
  };
  const Due dues[] = {{absl::CivilDay(2027, 3, 3), 59.519, 15.039},
                      {absl::CivilDay(2027, 3, 5), 59.521, 15.041},
                      {absl::CivilDay(2027, 3, 16), 59.433, 15.587},
                      {absl::CivilDay(2027, 3, 18), 59.435, 15.585},
                      {absl::CivilDay(2027, 3, 30), 0, 0}};
  std::map<std::string, absl::CivilDay> due_of;
  v1::PlanFollowUpMonthRequest request;
  request.set_year(2027);
  request.set_month(3);
  request.mutable_home_place()->set_latitude(59.594);
  request.mutable_home_place()->set_longitude(15.230);
  request.set_window_days(3);
  const std::string workplace_agreement = absl::StrCat("agreements/", NewUuid());
  v1::Workplace* workplace = request.add_workplaces();
  workplace->set_agreement(workplace_agreement);
  workplace->mutable_coordinates()->set_latitude(59.70);
  workplace->mutable_coordinates()->set_longitude(15.40);
  int i = 0;
  for (const Due& d : dues) {
    v1::Meeting m = Create("prakt", i % 2 == 0 ? anna : bo, Local(d.day, 10),
                           v1::MEETING_KIND_FOLLOW_UP, v1::MEETING_STATUS_PROPOSED, d.lat, d.lon,
                           d.lat == 0 ? workplace_agreement : "");
    due_of[m.name()] = d.day;
    ++i;
  }
  // A video follow-up of no agreement given: nowhere to go.
  const v1::Meeting video = Create("prakt", anna, Local(absl::CivilDay(2027, 3, 10), 10),
                                   v1::MEETING_KIND_FOLLOW_UP, v1::MEETING_STATUS_PROPOSED, 0, 0);
  v1::FollowUpMonthPlan plan;
  grpc::Status status = stub_->PlanFollowUpMonth(As("prakt").get(), request, &plan);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(plan.left_out_size(), 1);
  EXPECT_EQ(plan.left_out(0).meeting(), video.name());
  EXPECT_EQ(plan.left_out(0).reason(), "no_coordinates");
  int visits = 0;
  for (const v1::PlannedDay& day : plan.days()) {
    const absl::CivilDay date(day.date().year(), day.date().month(), day.date().day());
    const absl::Weekday weekday = absl::GetWeekday(date);
    EXPECT_NE(weekday, absl::Weekday::saturday);
    EXPECT_NE(weekday, absl::Weekday::sunday);
    for (const v1::RouteLeg& leg : day.route().legs()) {
      ++visits;
      ASSERT_TRUE(due_of.count(leg.meeting())) << leg.meeting();
      EXPECT_LE(std::abs(date - due_of[leg.meeting()]), 3) << leg.meeting();
      // The default working hours (08:00–17:00) and opening hours (08:00–16:00).
      EXPECT_GE(TimeOf(leg.start_time()), Local(date, 8));
      EXPECT_LE(TimeOf(leg.end_time()), Local(date, 16));
    }
  }
  EXPECT_EQ(visits, 5);
  // The two pairs of nearby workplaces share a day each; the fifth is alone.
  EXPECT_EQ(plan.days_size(), 3);
  EXPECT_LT(plan.total_meters(), plan.due_date_meters());
  EXPECT_EQ(AuditOf("scheduling.PlanFollowUpMonth").size(), 6u);
  EXPECT_EQ(Count("SELECT max(version) FROM scheduling.meetings"), 1);
}

}  // namespace
}  // namespace samplan::scheduling
