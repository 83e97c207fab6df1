// Tier 1: which of a day's meetings a route visits and when, and the bad
// input PlanVisitRoute refuses.

#include "services/scheduling/visit_route.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "services/scheduling/meeting_rules.h"

namespace samplan::scheduling {
namespace {

// Tuesday 2 February 2027 in Stockholm (UTC+1).
constexpr absl::CivilDay kDay(2027, 2, 2);

absl::Time Local(int hour, int minute = 0) {
  return StockholmZone().At(absl::CivilMinute(kDay) + hour * 60 + minute).pre;
}

v1::PlanVisitRouteRequest Request() {
  v1::PlanVisitRouteRequest r;
  r.mutable_date()->set_year(2027);
  r.mutable_date()->set_month(2);
  r.mutable_date()->set_day(2);
  r.mutable_start_place()->set_latitude(59.594);  // Lindesberg
  r.mutable_start_place()->set_longitude(15.230);
  return r;
}

v1::Meeting MeetingAt(const std::string& id, v1::MeetingKind kind, v1::MeetingStatus status,
                      int hour, double lat, double lon, bool with_coordinates = true) {
  v1::Meeting m;
  m.set_name("meetings/" + id);
  m.set_kind(kind);
  m.set_status(status);
  *m.mutable_start_time() = TimestampOf(Local(hour));
  *m.mutable_end_time() = TimestampOf(Local(hour) + absl::Minutes(45));
  if (with_coordinates) {
    m.mutable_location()->mutable_coordinates()->set_latitude(lat);
    m.mutable_location()->mutable_coordinates()->set_longitude(lon);
  }
  return m;
}

std::vector<std::string> Fields(const absl::Status& status) {
  std::vector<std::string> out;
  for (auto& [field, description] : FieldViolationsOf(status)) out.push_back(field);
  return out;
}

TEST(DayRouteOfTest, ProposedVisitsMoveBookedMeetingsAreFixedTheRestIsSaidWhy) {
  const std::vector<v1::Meeting> meetings = {
      MeetingAt("a", v1::MEETING_KIND_FOLLOW_UP, v1::MEETING_STATUS_PROPOSED, 10, 59.52, 15.00),
      MeetingAt("b", v1::MEETING_KIND_COORDINATION, v1::MEETING_STATUS_BOOKED, 13, 59.60, 15.25),
      MeetingAt("c", v1::MEETING_KIND_PLANNING, v1::MEETING_STATUS_PROPOSED, 9, 59.60, 15.25),
      MeetingAt("d", v1::MEETING_KIND_FOLLOW_UP, v1::MEETING_STATUS_BOOKED, 15, 0, 0, false),
      MeetingAt("e", v1::MEETING_KIND_FOLLOW_UP, v1::MEETING_STATUS_CANCELLED, 11, 59.5, 15.1),
  };
  v1::PlanVisitRouteRequest request = Request();
  v1::RouteStop* stop = request.add_stops();
  stop->set_id("lunch");
  stop->mutable_coordinates()->set_latitude(59.59);
  stop->mutable_coordinates()->set_longitude(15.22);
  absl::StatusOr<DayRoute> route = DayRouteOf(request, kDay, meetings);
  ASSERT_TRUE(route.ok()) << route.status();
  ASSERT_EQ(route->query.visits.size(), 3u);
  EXPECT_EQ(route->meeting_of, (std::vector<std::string>{"meetings/a", "meetings/b", ""}));
  EXPECT_EQ(route->stop_of, (std::vector<std::string>{"", "", "lunch"}));
  EXPECT_FALSE(route->query.visits[0].earliest_start.has_value());
  EXPECT_EQ(route->query.visits[1].earliest_start, Local(13));
  EXPECT_EQ(route->query.visits[1].latest_start, Local(13));
  EXPECT_EQ(route->query.visits[2].duration, absl::Minutes(30));
  EXPECT_EQ(route->query.leave_at, Local(8));
  ASSERT_EQ(route->left_out.size(), 2u);
  EXPECT_EQ(route->left_out[0].meeting(), "meetings/c");
  EXPECT_EQ(route->left_out[0].reason(), "not_a_visit");
  EXPECT_EQ(route->left_out[1].meeting(), "meetings/d");
  EXPECT_EQ(route->left_out[1].reason(), "no_coordinates");
}

TEST(VisitRouteOfTest, TheBookedMeetingBeginsOnTimeAndTheLegsAddUp) {
  const std::vector<v1::Meeting> meetings = {
      MeetingAt("far", v1::MEETING_KIND_FOLLOW_UP, v1::MEETING_STATUS_PROPOSED, 10, 59.45, 14.95),
      MeetingAt("near", v1::MEETING_KIND_WORKPLACE_VISIT, v1::MEETING_STATUS_PROPOSED, 10, 59.60,
                15.25),
      MeetingAt("fixed", v1::MEETING_KIND_THREE_PARTY_AGREEMENT, v1::MEETING_STATUS_BOOKED, 11,
                59.70, 15.40),
  };
  absl::StatusOr<DayRoute> route = DayRouteOf(Request(), kDay, meetings);
  ASSERT_TRUE(route.ok()) << route.status();
  const GreatCircleDistances distances;
  absl::StatusOr<RoutePlan> plan = PlanRoute(route->query, distances);
  ASSERT_TRUE(plan.ok()) << plan.status();
  const v1::VisitRoute answer = VisitRouteOf(*route, *plan, distances);
  ASSERT_EQ(answer.legs_size(), 3);
  double meters = 0;
  for (const v1::RouteLeg& leg : answer.legs()) {
    meters += leg.meters();
    EXPECT_LE(TimeOf(leg.arrival_time()), TimeOf(leg.start_time()));
    EXPECT_EQ(TimeOf(leg.end_time()) - TimeOf(leg.start_time()), absl::Minutes(45));
    if (leg.meeting() == "meetings/fixed") {
      EXPECT_EQ(TimeOf(leg.start_time()), Local(11));
    }
  }
  // Each leg is rounded to the metre; the way back is the rest.
  EXPECT_LT(meters, answer.total_meters());
  EXPECT_TRUE(answer.exact());
  EXPECT_EQ(TimeOf(answer.leave_time()), Local(8));
  EXPECT_GT(TimeOf(answer.back_time()), TimeOf(answer.legs(2).end_time()));
}

TEST(ValidateVisitRouteRequestTest, NamesCoordinatesOffTheGlobeAndTooManyStops) {
  v1::PlanVisitRouteRequest request = Request();
  request.mutable_start_place()->set_latitude(91);
  request.mutable_end_place()->set_longitude(std::numeric_limits<double>::quiet_NaN());
  request.set_coordinator("people/x");
  request.set_leave_time("8 am");
  v1::RouteStop* stop = request.add_stops();
  stop->set_id("s");
  stop->mutable_coordinates()->set_longitude(-181);
  stop->set_duration_minutes(481);
  *stop->mutable_earliest_start() = TimestampOf(Local(10) + absl::Hours(24));
  v1::RouteStop* twin = request.add_stops();
  twin->set_id("s");
  EXPECT_EQ(Fields(ValidateVisitRouteRequest(request).status()),
            (std::vector<std::string>{"coordinator", "start_place.latitude",
                                      "end_place.longitude", "leave_time",
                                      "stops[0].coordinates.longitude",
                                      "stops[0].duration_minutes", "stops[0].earliest_start",
                                      "stops[1].id", "stops[1].coordinates"}));

  v1::PlanVisitRouteRequest undated = Request();
  undated.mutable_date()->set_day(30);  // 30 February
  EXPECT_EQ(Fields(ValidateVisitRouteRequest(undated).status()),
            (std::vector<std::string>{"date"}));

  v1::PlanVisitRouteRequest crowded = Request();
  for (int i = 0; i < 500; ++i) {
    v1::RouteStop* s = crowded.add_stops();
    s->set_id(std::to_string(i));
    s->mutable_coordinates()->set_latitude(59.5);
  }
  EXPECT_EQ(Fields(ValidateVisitRouteRequest(crowded).status()),
            (std::vector<std::string>{"stops"}));
}

TEST(DayRouteOfTest, ADayWithoutStopsIsRefusedNamingStops) {
  const std::vector<v1::Meeting> video_only = {
      MeetingAt("v", v1::MEETING_KIND_COORDINATION, v1::MEETING_STATUS_BOOKED, 10, 0, 0, false)};
  absl::StatusOr<DayRoute> route = DayRouteOf(Request(), kDay, video_only);
  EXPECT_EQ(route.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Fields(route.status()), (std::vector<std::string>{"stops"}));
}

}  // namespace
}  // namespace samplan::scheduling
