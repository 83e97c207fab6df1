#include "services/scheduling/visit_route.h"

#include <cmath>
#include <set>

#include "absl/strings/str_cat.h"
#include "common/ids.h"
#include "services/scheduling/meeting_rules.h"

namespace samplan::scheduling {
namespace {

constexpr int kDefaultLeaveMinute = 8 * 60;
constexpr int kDefaultStopMinutes = 30;
constexpr int kLongestStopMinutes = 480;
constexpr size_t kLongestStopId = 100;

// Whether a proposed meeting of this kind is a visit the coordinator may make
// at any time of its day.
bool IsMovableVisit(const v1::Meeting& m) {
  return m.status() == v1::MEETING_STATUS_PROPOSED &&
         (m.kind() == v1::MEETING_KIND_WORKPLACE_VISIT || m.kind() == v1::MEETING_KIND_FOLLOW_UP);
}

}  // namespace

void CheckCoordinates(const v1::Coordinates& c, const std::string& field, FieldViolations& v) {
  // Written so that NaN fails too.
  if (!(c.latitude() >= -90 && c.latitude() <= 90)) {
    v.Add(field + ".latitude", "must be between -90 and 90");
  }
  if (!(c.longitude() >= -180 && c.longitude() <= 180)) {
    v.Add(field + ".longitude", "must be between -180 and 180");
  }
}

GeoPoint GeoPointOf(const v1::Coordinates& c) { return {c.latitude(), c.longitude()}; }

v1::Coordinates CoordinatesOf(const GeoPoint& p) {
  v1::Coordinates c;
  c.set_latitude(p.latitude);
  c.set_longitude(p.longitude);
  return c;
}

bool IsRealDate(const google::type::Date& d) {
  if (d.year() < 2000 || d.year() > 2100 || d.month() < 1 || d.month() > 12 || d.day() < 1) {
    return false;
  }
  const absl::CivilDay day(d.year(), d.month(), d.day());
  return day.year() == d.year() && day.month() == d.month() && day.day() == d.day();
}

Interval LocalDay(absl::CivilDay day) {
  return {StockholmZone().At(absl::CivilSecond(day)).pre,
          StockholmZone().At(absl::CivilSecond(day + 1)).pre};
}

absl::StatusOr<absl::CivilDay> ValidateVisitRouteRequest(
    const v1::PlanVisitRouteRequest& request) {
  FieldViolations v;
  if (!request.coordinator().empty() && !IsResourceName(request.coordinator(), "users")) {
    v.Add("coordinator", "must be users/{id}, or empty for the caller");
  }
  const bool real_date = request.has_date() && IsRealDate(request.date());
  if (!real_date) v.Add("date", "must be a real date");
  const absl::CivilDay day = real_date ? absl::CivilDay(request.date().year(),
                                                        request.date().month(),
                                                        request.date().day())
                                       : absl::CivilDay();
  if (!request.has_start_place()) {
    v.Add("start_place", "is required");
  } else {
    CheckCoordinates(request.start_place(), "start_place", v);
  }
  if (request.has_end_place()) CheckCoordinates(request.end_place(), "end_place", v);
  if (!request.leave_time().empty() && MinuteOfDay(request.leave_time()) < 0) {
    v.Add("leave_time", "must be HH:MM");
  }
  if (request.stops_size() > kMaxRouteVisits) {
    v.Add("stops", absl::StrCat("holds ", request.stops_size(), " stops; at most ",
                                kMaxRouteVisits));
    return v.ToStatus();
  }
  const Interval whole_day = LocalDay(day);
  std::set<std::string> ids;
  for (int i = 0; i < request.stops_size(); ++i) {
    const v1::RouteStop& stop = request.stops(i);
    const std::string field = absl::StrCat("stops[", i, "]");
    if (stop.id().empty() || stop.id().size() > kLongestStopId) {
      v.Add(field + ".id", "must be 1 to 100 characters");
    } else if (!ids.insert(stop.id()).second) {
      v.Add(field + ".id", "names a stop already named");
    }
    if (!stop.has_coordinates()) {
      v.Add(field + ".coordinates", "is required");
    } else {
      CheckCoordinates(stop.coordinates(), field + ".coordinates", v);
    }
    if (stop.duration_minutes() < 0 || stop.duration_minutes() > kLongestStopMinutes) {
      v.Add(field + ".duration_minutes", "must be 1 to 480 (30 when 0)");
    }
    for (const auto& [has, time, name] :
         {std::tuple{stop.has_earliest_start(), stop.earliest_start(), "earliest_start"},
          std::tuple{stop.has_latest_start(), stop.latest_start(), "latest_start"}}) {
      if (has && real_date && (TimeOf(time) < whole_day.start || TimeOf(time) >= whole_day.end)) {
        v.Add(absl::StrCat(field, ".", name), "must be on the day planned");
      }
    }
    if (stop.has_earliest_start() && stop.has_latest_start() &&
        TimeOf(stop.latest_start()) < TimeOf(stop.earliest_start())) {
      v.Add(field + ".latest_start", "must not be before earliest_start");
    }
  }
  if (!v.empty()) return v.ToStatus();
  return day;
}

absl::StatusOr<DayRoute> DayRouteOf(const v1::PlanVisitRouteRequest& request, absl::CivilDay day,
                                    const std::vector<v1::Meeting>& meetings) {
  DayRoute route;
  RouteQuery& q = route.query;
  q.start_place = GeoPointOf(request.start_place());
  q.end_place = request.has_end_place() ? GeoPointOf(request.end_place()) : q.start_place;
  const int leave_minute =
      request.leave_time().empty() ? kDefaultLeaveMinute : MinuteOfDay(request.leave_time());
  q.leave_at = StockholmZone().At(absl::CivilMinute(day) + leave_minute).pre;
  for (const v1::Meeting& m : meetings) {
    if (m.status() != v1::MEETING_STATUS_PROPOSED && m.status() != v1::MEETING_STATUS_BOOKED) {
      continue;
    }
    const bool movable = IsMovableVisit(m);
    if (!movable && m.status() != v1::MEETING_STATUS_BOOKED) {
      route.left_out.emplace_back().set_meeting(m.name());
      route.left_out.back().set_reason("not_a_visit");
      continue;
    }
    if (!m.location().has_coordinates()) {
      route.left_out.emplace_back().set_meeting(m.name());
      route.left_out.back().set_reason("no_coordinates");
      continue;
    }
    Visit visit;
    visit.id = m.name();
    visit.where = GeoPointOf(m.location().coordinates());
    visit.duration = TimeOf(m.end_time()) - TimeOf(m.start_time());
    if (!movable) visit.earliest_start = visit.latest_start = TimeOf(m.start_time());
    q.visits.push_back(std::move(visit));
    route.meeting_of.push_back(m.name());
    route.stop_of.emplace_back();
  }
  for (const v1::RouteStop& stop : request.stops()) {
    Visit visit;
    visit.id = stop.id();
    visit.where = GeoPointOf(stop.coordinates());
    visit.duration = absl::Minutes(stop.duration_minutes() == 0 ? kDefaultStopMinutes
                                                                : stop.duration_minutes());
    if (stop.has_earliest_start()) visit.earliest_start = TimeOf(stop.earliest_start());
    if (stop.has_latest_start()) visit.latest_start = TimeOf(stop.latest_start());
    q.visits.push_back(std::move(visit));
    route.meeting_of.emplace_back();
    route.stop_of.push_back(stop.id());
  }
  const int n = static_cast<int>(q.visits.size());
  if (n == 0) {
    return InvalidField("stops", "the day holds no visit with coordinates: give 1 to 60 stops");
  }
  if (n > kMaxRouteVisits) {
    return InvalidField("stops", absl::StrCat("the day's meetings and the stops make ", n,
                                              " stops; at most ", kMaxRouteVisits));
  }
  return route;
}

v1::VisitRoute VisitRouteOf(const DayRoute& route, const RoutePlan& plan,
                            const DistanceModel& distances) {
  v1::VisitRoute out;
  const RouteQuery& q = route.query;
  GeoPoint at = q.start_place;
  absl::Time free_at = q.leave_at;
  for (size_t k = 0; k < plan.order.size(); ++k) {
    const int i = plan.order[k];
    const Visit& visit = q.visits[i];
    const absl::Duration travel = distances.Travel(at, visit.where);
    v1::RouteLeg* leg = out.add_legs();
    leg->set_meeting(route.meeting_of[i]);
    leg->set_stop(route.stop_of[i]);
    *leg->mutable_coordinates() = CoordinatesOf(visit.where);
    *leg->mutable_arrival_time() = TimestampOf(free_at + travel);
    *leg->mutable_start_time() = TimestampOf(plan.starts[k]);
    *leg->mutable_end_time() = TimestampOf(plan.starts[k] + visit.duration);
    leg->set_meters(std::round(distances.Meters(at, visit.where)));
    leg->set_travel_minutes(static_cast<int>(std::ceil(absl::ToDoubleMinutes(travel))));
    at = visit.where;
    free_at = plan.starts[k] + visit.duration;
  }
  *out.mutable_leave_time() = TimestampOf(q.leave_at);
  *out.mutable_back_time() = TimestampOf(plan.back_at);
  out.set_total_meters(std::round(plan.meters));
  out.set_exact(plan.exact);
  for (const v1::LeftOutMeeting& l : route.left_out) *out.add_left_out() = l;
  return out;
}

}  // namespace samplan::scheduling
