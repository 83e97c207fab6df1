#ifndef SAMPLAN_SERVICES_SCHEDULING_MONTH_PLAN_H_
#define SAMPLAN_SERVICES_SCHEDULING_MONTH_PLAN_H_

// A coordinator's month of follow-up visits ("för att effektivisera
// tidsåtgången för uppföljningsmöten görs om möjligt en samordning beroende på
// var praktikplatserna är belägna"): every visit gets a day within its window,
// on a day the coordinator works and within the workplace's opening hours, so
// that each day's visits lie close together; then each day is ordered by
// PlanRoute. Pure and deterministic. No I/O here.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "samplan/scheduling/v1/scheduling.pb.h"
#include "services/scheduling/availability.h"
#include "services/scheduling/route.h"

namespace samplan::scheduling {

// One visit to place: where, how long, its due date and the days it may move
// to, and when it may take place on a day (minutes of the local day in
// Stockholm: it begins at or after `open_minute` and ends by `close_minute`).
struct MonthVisit {
  std::string id;
  GeoPoint where;
  absl::Duration duration = absl::Hours(1);
  absl::CivilDay due;
  absl::CivilDay earliest;
  absl::CivilDay latest;
  int open_minute = 8 * 60;
  int close_minute = 16 * 60;
};

// A day the coordinator works: leaves home at `begin`, is back by `end`.
struct WorkDay {
  absl::CivilDay day;
  absl::Time begin;
  absl::Time end;
};

struct MonthQuery {
  GeoPoint home;
  std::vector<WorkDay> days;  // in date order, each once
  std::vector<MonthVisit> visits;
  int max_visits_per_day = 6;
};

// One day of the plan: the route PlanRoute made of it. `visits` maps the
// route's visits (RouteQuery::visits) to MonthQuery::visits.
struct PlannedRoute {
  absl::CivilDay day;
  RouteQuery query;
  RoutePlan plan;
  std::vector<int> visits;
};

struct MonthPlan {
  std::vector<PlannedRoute> days;  // the days with visits, in date order
  std::vector<int> unplaced;       // visits no day of their window has room for
  double meters = 0;               // all days' routes
  // Each visit on its due date, a due date's visits in the order given.
  double due_date_meters = 0;
};

// Plans the month. Visits are placed most constrained first (fewest days to
// choose from, then due date, then id), each on the day and at the place in
// that day's round trip where it adds the least travel, a day's distance from
// the due date counting 50 m a day so that equal choices stay near it; then
// visits are moved, and pairs exchanged, between days while that shortens the
// total (at most five rounds); then each day
// is ordered by PlanRoute (exact up to 12 visits), keeping the placement's
// order when PlanRoute's would come home after the day's end. A day's visits
// all fit: each begins within its opening hours, ends by closing time, and the
// coordinator is home by the day's end.
MonthPlan PlanMonth(const MonthQuery& query, const DistanceModel& distances);

// Reads what PlanFollowUpMonth plans from a checked request and what the
// service loaded: the coordinator's working days of the month and follow-up
// meetings, with their reasons for those left out.
struct MonthInput {
  MonthQuery query;
  std::vector<std::string> meeting_of;  // per MonthQuery visit
  std::vector<v1::LeftOutMeeting> left_out;
};

// Checks a PlanFollowUpMonthRequest; violations name its fields (year, month,
// home_place.latitude, workplaces[3].agreement, …).
absl::Status ValidateFollowUpMonthRequest(const v1::PlanFollowUpMonthRequest& request);

// The first day of the checked request's month, and the first of the next.
std::pair<absl::CivilDay, absl::CivilDay> MonthOf(const v1::PlanFollowUpMonthRequest& request);

// Returns the month to plan: the coordinator's working days (from the first
// start to the last end of each day's working intervals), and a visit for
// each PROPOSED or BOOKED follow-up in `meetings`: due on its day, movable by
// the request's window_days within the month when PROPOSED, fixed at its time
// when BOOKED; at its own coordinates or its agreement's workplace, within
// the workplace's opening hours. Every other BOOKED meeting with coordinates
// is a fixed visit too, so that the follow-ups fit around it.
MonthInput MonthInputOf(const v1::PlanFollowUpMonthRequest& request,
                        const std::vector<Interval>& working,
                        const std::vector<v1::Meeting>& meetings);

// Returns the answer for `plan`, distances measured by `distances`.
v1::FollowUpMonthPlan FollowUpMonthPlanOf(const MonthInput& input, const MonthPlan& plan,
                                          const DistanceModel& distances);

}  // namespace samplan::scheduling

#endif  // SAMPLAN_SERVICES_SCHEDULING_MONTH_PLAN_H_
