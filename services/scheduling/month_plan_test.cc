// Tier 1: the month of follow-up visits — every visit within its window, each
// day within the working and opening hours, nearby workplaces on the same day,
// the same plan every time — and how follow-up meetings become visits.

#include "services/scheduling/month_plan.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>

#include "absl/strings/str_cat.h"
#include "services/scheduling/meeting_rules.h"

namespace samplan::scheduling {
namespace {

absl::Time Local(absl::CivilDay day, int minute) {
  return StockholmZone().At(absl::CivilMinute(day) + minute).pre;
}

// March 2027 (the clocks change on Sunday the 28th), Monday to Friday,
// 08:00 to 16:30.
std::vector<WorkDay> WorkDaysOfMarch() {
  std::vector<WorkDay> days;
  for (absl::CivilDay d(2027, 3, 1); d < absl::CivilDay(2027, 4, 1); ++d) {
    const absl::Weekday w = absl::GetWeekday(d);
    if (w == absl::Weekday::saturday || w == absl::Weekday::sunday) continue;
    days.push_back({d, Local(d, 8 * 60), Local(d, 16 * 60 + 30)});
  }
  return days;
}

// `count` workplaces around Lindesberg, due on random working days, each
// movable by up to a week, open from 08:00 to 16:00 or, one in four, only
// 09:00 to 12:00.
MonthQuery RandomMonth(std::mt19937& random, int count) {
  MonthQuery q;
  q.home = {59.594, 15.230};
  q.days = WorkDaysOfMarch();
  std::uniform_real_distribution<double> lat(59.40, 59.80), lon(14.90, 15.55);
  std::uniform_int_distribution<int> due(0, static_cast<int>(q.days.size()) - 1), slack(0, 7),
      kind(0, 3), minutes(3, 9);
  for (int i = 0; i < count; ++i) {
    MonthVisit v;
    v.id = absl::StrCat("meetings/", 100 + i);
    v.where = {lat(random), lon(random)};
    v.duration = absl::Minutes(10 * minutes(random));
    v.due = q.days[due(random)].day;
    const int s = slack(random);
    v.earliest = std::max(absl::CivilDay(2027, 3, 1), v.due - s);
    v.latest = std::min(absl::CivilDay(2027, 3, 31), v.due + s);
    if (kind(random) == 0) {
      v.open_minute = 9 * 60;
      v.close_minute = 12 * 60;
    }
    q.visits.push_back(v);
  }
  return q;
}

// Checks every promise a month plan makes about `q`.
void ExpectKeepsEveryPromise(const MonthQuery& q, const MonthPlan& plan,
                             const DistanceModel& distances) {
  std::map<absl::CivilDay, const WorkDay*> work;
  for (const WorkDay& d : q.days) work[d.day] = &d;
  std::set<int> seen;
  double meters = 0;
  for (const PlannedRoute& day : plan.days) {
    ASSERT_TRUE(work.count(day.day)) << day.day << " is no working day";
    const WorkDay& w = *work[day.day];
    EXPECT_LE(static_cast<int>(day.visits.size()), q.max_visits_per_day);
    ASSERT_EQ(day.plan.order.size(), day.visits.size());
    // The route is what it says: walked again from the start it keeps time.
    std::optional<RoutePlan> walked = Evaluate(day.query, distances, day.plan.order);
    ASSERT_TRUE(walked.has_value());
    EXPECT_NEAR(walked->meters, day.plan.meters, 1e-6);
    EXPECT_GE(day.query.leave_at, w.begin);
    EXPECT_LE(day.plan.back_at, w.end) << "not home by the day's end on " << day.day;
    for (size_t k = 0; k < day.plan.order.size(); ++k) {
      const int v = day.visits[day.plan.order[k]];
      const MonthVisit& visit = q.visits[v];
      EXPECT_TRUE(seen.insert(v).second) << visit.id << " planned twice";
      EXPECT_GE(day.day, visit.earliest) << visit.id;
      EXPECT_LE(day.day, visit.latest) << visit.id;
      const absl::Time start = day.plan.starts[k];
      EXPECT_GE(start, Local(day.day, visit.open_minute)) << visit.id;
      EXPECT_LE(start + visit.duration, Local(day.day, visit.close_minute)) << visit.id;
    }
    meters += day.plan.meters;
  }
  for (int v : plan.unplaced) EXPECT_TRUE(seen.insert(v).second);
  EXPECT_EQ(seen.size(), q.visits.size()) << "a visit is neither planned nor said unplaced";
  EXPECT_NEAR(meters, plan.meters, 1e-3);
}

TEST(PlanMonthTest, KeepsWindowsWorkingHoursAndOpeningHoursOnRandomMonths) {
  std::mt19937 random(2027);
  const GreatCircleDistances distances;
  for (int round = 0; round < 20; ++round) {
    const MonthQuery q = RandomMonth(random, 10 + 3 * round);
    const MonthPlan plan = PlanMonth(q, distances);
    SCOPED_TRACE(absl::StrCat("round ", round));
    ExpectKeepsEveryPromise(q, plan, distances);
    // A month with room for all: every visit finds a day.
    EXPECT_TRUE(plan.unplaced.empty()) << plan.unplaced.size() << " of " << q.visits.size();
  }
}

TEST(PlanMonthTest, PutsNearbyWorkplacesOnOneDayAndTravelsLessThanTheDueDates) {
  // Two towns 40 km apart, three workplaces in each, due on alternating days
  // of one week and movable within it; two-hour visits, so a day holds three.
  MonthQuery q;
  q.home = {59.594, 15.230};  // Lindesberg
  q.days = WorkDaysOfMarch();
  const GeoPoint nora{59.519, 15.039}, fellingsbro{59.433, 15.587};
  for (int i = 0; i < 6; ++i) {
    const GeoPoint town = i % 2 == 0 ? nora : fellingsbro;
    MonthVisit v;
    v.id = absl::StrCat("meetings/", i);
    v.where = {town.latitude + 0.002 * i, town.longitude};
    v.duration = absl::Hours(2);  // three a day at most
    v.due = absl::CivilDay(2027, 3, 8) + i % 5;
    v.earliest = absl::CivilDay(2027, 3, 8);
    v.latest = absl::CivilDay(2027, 3, 12);
    q.visits.push_back(v);
  }
  const GreatCircleDistances distances;
  const MonthPlan plan = PlanMonth(q, distances);
  ExpectKeepsEveryPromise(q, plan, distances);
  ASSERT_EQ(plan.days.size(), 2u);
  for (const PlannedRoute& day : plan.days) {
    ASSERT_EQ(day.visits.size(), 3u);
    const int town = day.visits[0] % 2;
    for (int v : day.visits) EXPECT_EQ(v % 2, town) << "a day mixes the two towns";
  }
  EXPECT_LT(plan.meters, 0.6 * plan.due_date_meters);
}

TEST(PlanMonthTest, AVisitWithoutRoomInItsWindowIsSaidUnplaced) {
  MonthQuery q;
  q.home = {59.594, 15.230};
  q.days = WorkDaysOfMarch();
  MonthVisit saturday;  // its whole window is a weekend
  saturday.id = "meetings/sat";
  saturday.where = {59.6, 15.2};
  saturday.due = saturday.earliest = saturday.latest = absl::CivilDay(2027, 3, 6);
  MonthVisit too_long;  // longer than the workplace is open
  too_long.id = "meetings/long";
  too_long.where = {59.6, 15.2};
  too_long.duration = absl::Hours(5);
  too_long.open_minute = 9 * 60;
  too_long.close_minute = 12 * 60;
  too_long.due = too_long.earliest = absl::CivilDay(2027, 3, 8);
  too_long.latest = absl::CivilDay(2027, 3, 12);
  q.visits = {saturday, too_long};
  const MonthPlan plan = PlanMonth(q, GreatCircleDistances());
  EXPECT_TRUE(plan.days.empty());
  EXPECT_EQ(plan.unplaced, (std::vector<int>{0, 1}));
}

TEST(PlanMonthTest, IsTheSamePlanEveryTime) {
  std::mt19937 random(7);
  const MonthQuery q = RandomMonth(random, 60);
  const GreatCircleDistances distances;
  const MonthPlan a = PlanMonth(q, distances), b = PlanMonth(q, distances);
  ASSERT_EQ(a.days.size(), b.days.size());
  for (size_t d = 0; d < a.days.size(); ++d) {
    EXPECT_EQ(a.days[d].day, b.days[d].day);
    EXPECT_EQ(a.days[d].visits, b.days[d].visits);
    EXPECT_EQ(a.days[d].plan.order, b.days[d].plan.order);
    EXPECT_EQ(a.days[d].plan.starts, b.days[d].plan.starts);
  }
  EXPECT_EQ(a.meters, b.meters);
  EXPECT_EQ(a.unplaced, b.unplaced);
}

v1::Meeting FollowUp(const std::string& id, absl::CivilDay day, v1::MeetingStatus status,
                     const std::string& agreement) {
  v1::Meeting m;
  m.set_name("meetings/" + id);
  m.set_kind(v1::MEETING_KIND_FOLLOW_UP);
  m.set_status(status);
  m.set_agreement(agreement);
  *m.mutable_start_time() = TimestampOf(Local(day, 10 * 60));
  *m.mutable_end_time() = TimestampOf(Local(day, 11 * 60));
  return m;
}

TEST(MonthInputOfTest, ProposedFollowUpsMoveWithinTheMonthBookedOnesStay) {
  v1::PlanFollowUpMonthRequest request;
  request.set_year(2027);
  request.set_month(3);
  request.mutable_home_place()->set_latitude(59.594);
  request.mutable_home_place()->set_longitude(15.230);
  request.set_window_days(5);
  v1::Workplace* shop = request.add_workplaces();
  shop->set_agreement("agreements/shop");
  shop->mutable_coordinates()->set_latitude(59.52);
  shop->mutable_coordinates()->set_longitude(15.04);
  shop->mutable_opening_hours()->set_start_time("10:00");
  shop->mutable_opening_hours()->set_end_time("18:00");
  ASSERT_TRUE(ValidateFollowUpMonthRequest(request).ok());
  v1::Meeting own_place = FollowUp("own", absl::CivilDay(2027, 3, 2), v1::MEETING_STATUS_BOOKED,
                                   "agreements/office");
  own_place.mutable_location()->mutable_coordinates()->set_latitude(59.6);
  own_place.mutable_location()->mutable_coordinates()->set_longitude(15.2);
  // A booked coordination meeting at a place holds its time; a proposed
  // planning meeting is no visit of the month.
  v1::Meeting coordination = own_place;
  coordination.set_name("meetings/coordination");
  coordination.set_kind(v1::MEETING_KIND_COORDINATION);
  *coordination.mutable_start_time() = TimestampOf(Local(absl::CivilDay(2027, 3, 29), 13 * 60));
  *coordination.mutable_end_time() = TimestampOf(Local(absl::CivilDay(2027, 3, 29), 15 * 60));
  v1::Meeting planning = own_place;
  planning.set_name("meetings/planning");
  planning.set_kind(v1::MEETING_KIND_PLANNING);
  planning.set_status(v1::MEETING_STATUS_PROPOSED);
  const std::vector<v1::Meeting> meetings = {
      FollowUp("shop", absl::CivilDay(2027, 3, 29), v1::MEETING_STATUS_PROPOSED,
               "agreements/shop"),
      own_place,
      FollowUp("nowhere", absl::CivilDay(2027, 3, 10), v1::MEETING_STATUS_PROPOSED,
               "agreements/unknown"),
      FollowUp("april", absl::CivilDay(2027, 4, 1), v1::MEETING_STATUS_PROPOSED,
               "agreements/shop"),
      coordination,
      planning,
  };
  const absl::Time from = Local(absl::CivilDay(2027, 3, 1), 0);
  const absl::Time to = Local(absl::CivilDay(2027, 4, 1), 0);
  const MonthInput input =
      MonthInputOf(request, WorkingIntervals(DefaultWorkingHours(), from, to), meetings);
  EXPECT_EQ(input.query.days.size(), 23u);
  EXPECT_EQ(input.query.days.back().day, absl::CivilDay(2027, 3, 31));
  // 08:00 in summer time after the change.
  EXPECT_EQ(input.query.days.back().begin, Local(absl::CivilDay(2027, 3, 31), 8 * 60));
  ASSERT_EQ(input.query.visits.size(), 3u);
  EXPECT_EQ(input.meeting_of, (std::vector<std::string>{"meetings/shop", "meetings/own",
                                                        "meetings/coordination"}));
  const MonthVisit& held = input.query.visits[2];
  EXPECT_EQ(held.earliest, absl::CivilDay(2027, 3, 29));
  EXPECT_EQ(held.latest, absl::CivilDay(2027, 3, 29));
  EXPECT_EQ(held.open_minute, 13 * 60);
  EXPECT_EQ(held.close_minute, 15 * 60);
  const MonthVisit& shop_visit = input.query.visits[0];
  EXPECT_EQ(shop_visit.earliest, absl::CivilDay(2027, 3, 24));
  EXPECT_EQ(shop_visit.latest, absl::CivilDay(2027, 3, 31));  // not into April
  EXPECT_EQ(shop_visit.open_minute, 10 * 60);
  EXPECT_DOUBLE_EQ(shop_visit.where.latitude, 59.52);
  const MonthVisit& booked = input.query.visits[1];
  EXPECT_EQ(booked.earliest, absl::CivilDay(2027, 3, 2));
  EXPECT_EQ(booked.latest, absl::CivilDay(2027, 3, 2));
  EXPECT_EQ(booked.open_minute, 10 * 60);
  EXPECT_EQ(booked.close_minute, 11 * 60);
  ASSERT_EQ(input.left_out.size(), 1u);
  EXPECT_EQ(input.left_out[0].meeting(), "meetings/nowhere");
  EXPECT_EQ(input.left_out[0].reason(), "no_coordinates");

  const v1::FollowUpMonthPlan answer =
      FollowUpMonthPlanOf(input, PlanMonth(input.query, GreatCircleDistances()),
                          GreatCircleDistances());
  ASSERT_GE(answer.days_size(), 2);
  EXPECT_EQ(answer.days(0).date().day(), 2);
  EXPECT_EQ(TimeOf(answer.days(0).route().legs(0).start_time()),
            Local(absl::CivilDay(2027, 3, 2), 10 * 60));
  // The shop's visit and the coordination meeting: each where and when it
  // must be, none overlapping.
  std::map<std::string, std::pair<absl::Time, absl::Time>> held_at;
  for (const v1::PlannedDay& day : answer.days()) {
    absl::Time free_from = absl::InfinitePast();
    for (const v1::RouteLeg& leg : day.route().legs()) {
      EXPECT_GE(TimeOf(leg.start_time()), free_from);
      free_from = TimeOf(leg.end_time());
      held_at[leg.meeting()] = {TimeOf(leg.start_time()), TimeOf(leg.end_time())};
    }
  }
  ASSERT_EQ(held_at.count("meetings/coordination"), 1u);
  EXPECT_EQ(held_at["meetings/coordination"].first, Local(absl::CivilDay(2027, 3, 29), 13 * 60));
  ASSERT_EQ(held_at.count("meetings/shop"), 1u);
  EXPECT_GT(answer.total_meters(), 0);
}

TEST(ValidateFollowUpMonthRequestTest, NamesEachBadField) {
  v1::PlanFollowUpMonthRequest request;
  request.set_year(1999);
  request.set_month(13);
  request.mutable_home_place()->set_latitude(-90.5);
  request.set_window_days(30);
  request.set_max_visits_per_day(13);
  v1::Workplace* w = request.add_workplaces();
  w->set_agreement("employers/x");
  w->mutable_coordinates()->set_longitude(200);
  w->mutable_opening_hours()->set_start_time("17:00");
  w->mutable_opening_hours()->set_end_time("09:00");
  std::vector<std::string> fields;
  for (auto& [field, description] : FieldViolationsOf(ValidateFollowUpMonthRequest(request))) {
    fields.push_back(field);
  }
  EXPECT_EQ(fields, (std::vector<std::string>{"year", "month", "home_place.latitude",
                                              "window_days", "max_visits_per_day",
                                              "workplaces[0].agreement",
                                              "workplaces[0].coordinates.longitude",
                                              "workplaces[0].opening_hours.end_time"}));
}

}  // namespace
}  // namespace samplan::scheduling
