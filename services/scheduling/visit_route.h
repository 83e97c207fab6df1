#ifndef SAMPLAN_SERVICES_SCHEDULING_VISIT_ROUTE_H_
#define SAMPLAN_SERVICES_SCHEDULING_VISIT_ROUTE_H_

// A coordinator's day of visits as PlanVisitRoute asks for it: which of the
// day's meetings are stops (and which are fixed in time), the stops the caller
// adds, and the answer built from PlanRoute's order. No I/O here.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "common/status.h"
#include "samplan/scheduling/v1/scheduling.pb.h"
#include "services/scheduling/availability.h"
#include "services/scheduling/route.h"

namespace samplan::scheduling {

// Adds a violation for each of `c`'s numbers that is off the globe (or not a
// number): "<field>.latitude" outside -90..90, "<field>.longitude" outside
// -180..180.
void CheckCoordinates(const v1::Coordinates& c, const std::string& field, FieldViolations& v);

GeoPoint GeoPointOf(const v1::Coordinates& c);
v1::Coordinates CoordinatesOf(const GeoPoint& p);

// Whether `date` is a real date between the years 2000 and 2100.
bool IsRealDate(const google::type::Date& date);

// The local day `day` in Stockholm as instants [its midnight, the next).
Interval LocalDay(absl::CivilDay day);

// A day's route to plan: the query for PlanRoute, what each of its visits is
// (a meeting's name or a stop's id), and the meetings left out.
struct DayRoute {
  RouteQuery query;
  std::vector<std::string> meeting_of;  // per visit: "meetings/{id}" or ""
  std::vector<std::string> stop_of;     // per visit: the RouteStop's id or ""
  std::vector<v1::LeftOutMeeting> left_out;
};

// Checks a PlanVisitRouteRequest (violations name its fields: coordinator,
// date, start_place.latitude, stops[2].id, …) and returns its day in Stockholm.
absl::StatusOr<absl::CivilDay> ValidateVisitRouteRequest(const v1::PlanVisitRouteRequest& request);

// Returns the day's route of a checked `request` over the coordinator's
// `meetings` that overlap the day: a PROPOSED workplace visit or follow-up
// with coordinates is a stop at any time of the day, a BOOKED meeting with
// coordinates a stop at its booked start; the request's stops follow.
// Cancelled, held and missed meetings are no stops; the others are left out
// with their reason. INVALID_ARGUMENT naming "stops" when that makes no stop
// or more than kMaxRouteVisits.
absl::StatusOr<DayRoute> DayRouteOf(const v1::PlanVisitRouteRequest& request,
                                    absl::CivilDay day, const std::vector<v1::Meeting>& meetings);

// Returns the answer for `route` planned as `plan`: the legs in visiting
// order with arrival, start and end times and each leg's distance, measured
// by `distances` as the plan was.
v1::VisitRoute VisitRouteOf(const DayRoute& route, const RoutePlan& plan,
                            const DistanceModel& distances);

}  // namespace samplan::scheduling

#endif  // SAMPLAN_SERVICES_SCHEDULING_VISIT_ROUTE_H_
