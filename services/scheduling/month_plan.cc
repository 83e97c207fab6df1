#include "services/scheduling/month_plan.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <optional>
#include <set>

#include "absl/strings/str_cat.h"
#include "common/ids.h"
#include "common/status.h"
#include "services/scheduling/meeting_rules.h"
#include "services/scheduling/visit_route.h"

namespace samplan::scheduling {
namespace {

// What a day away from the due date costs, in metres: enough to keep a visit
// on its due date when the travel is the same, too little to beat a shorter
// route.
constexpr double kMetersPerDayFromDue = 50;
constexpr int kRelocationPasses = 5;
constexpr int kMaxWorkplaces = 500;
constexpr int kDefaultWindowDays = 7;
constexpr int kDefaultVisitsPerDay = 6;

class Planner {
 public:
  Planner(const MonthQuery& q, const DistanceModel& d)
      : q_(q), n_(static_cast<int>(q.visits.size())), days_(static_cast<int>(q.days.size())) {
    std::vector<GeoPoint> places;
    for (const MonthVisit& v : q.visits) places.push_back(v.where);
    places.push_back(q.home);
    const int p = n_ + 1;
    meters_.resize(static_cast<size_t>(p) * p);
    travel_.resize(static_cast<size_t>(p) * p);
    for (int a = 0; a < p; ++a) {
      for (int b = 0; b < p; ++b) {
        meters_[a * p + b] = d.Meters(places[a], places[b]);
        travel_[a * p + b] = d.Travel(places[a], places[b]);
      }
    }
    open_.resize(static_cast<size_t>(n_) * days_);
    latest_.resize(static_cast<size_t>(n_) * days_);
    feasible_.resize(n_);
    for (int v = 0; v < n_; ++v) {
      const MonthVisit& visit = q.visits[v];
      for (int day = 0; day < days_; ++day) {
        const absl::CivilDay civil = q.days[day].day;
        open_[v * days_ + day] =
            StockholmZone().At(absl::CivilMinute(civil) + visit.open_minute).pre;
        latest_[v * days_ + day] =
            StockholmZone().At(absl::CivilMinute(civil) + visit.close_minute).pre -
            visit.duration;
        if (civil >= visit.earliest && civil <= visit.latest && Fits(day, {v})) {
          feasible_[v].push_back(day);
        }
      }
    }
    order_.resize(days_);
    day_meters_.assign(days_, 0);
    day_of_.assign(n_, -1);
  }

  MonthPlan Plan(const DistanceModel& distances) {
    std::vector<int> by_constraint(n_);
    std::iota(by_constraint.begin(), by_constraint.end(), 0);
    std::sort(by_constraint.begin(), by_constraint.end(), [&](int a, int b) {
      const MonthVisit &va = q_.visits[a], &vb = q_.visits[b];
      if (feasible_[a].size() != feasible_[b].size()) {
        return feasible_[a].size() < feasible_[b].size();
      }
      if (va.due != vb.due) return va.due < vb.due;
      if (va.id != vb.id) return va.id < vb.id;
      return a < b;
    });
    MonthPlan plan;
    for (int v : by_constraint) {
      double best_cost = std::numeric_limits<double>::infinity();
      int best_day = -1, best_position = -1;
      for (int day : feasible_[v]) {
        std::optional<std::pair<double, int>> insertion = BestInsertion(day, v);
        if (!insertion) continue;
        const double cost = insertion->first + FromDue(v, day);
        if (cost < best_cost) {
          best_cost = cost;
          best_day = day;
          best_position = insertion->second;
        }
      }
      if (best_day < 0) {
        plan.unplaced.push_back(v);
        continue;
      }
      Insert(best_day, v, best_position);
    }
    Relocate();
    for (int day = 0; day < days_; ++day) {
      if (order_[day].empty()) continue;
      plan.days.push_back(Route(day, distances));
      plan.meters += plan.days.back().plan.meters;
    }
    std::sort(plan.unplaced.begin(), plan.unplaced.end());
    plan.due_date_meters = DueDateMeters();
    return plan;
  }

 private:
  double Meters(int a, int b) const { return meters_[a * (n_ + 1) + b]; }
  absl::Duration Travel(int a, int b) const { return travel_[a * (n_ + 1) + b]; }
  double FromDue(int v, int day) const {
    return kMetersPerDayFromDue *
           static_cast<double>(std::abs(q_.days[day].day - q_.visits[v].due));
  }

  // The length of the round trip of `day` through `order`, or nothing when a
  // visit misses its opening hours or the coordinator is not home by the
  // day's end.
  std::optional<double> Fits(int day, const std::vector<int>& order) const {
    absl::Time now = q_.days[day].begin;
    int at = n_;
    double meters = 0;
    for (int v : order) {
      const absl::Time start = std::max(now + Travel(at, v), open_[v * days_ + day]);
      if (start > latest_[v * days_ + day]) return std::nullopt;
      meters += Meters(at, v);
      now = start + q_.visits[v].duration;
      at = v;
    }
    if (now + Travel(at, n_) > q_.days[day].end) return std::nullopt;
    return meters + Meters(at, n_);
  }

  // The length of `day`'s round trip through `order` with `v` at its
  // cheapest place that keeps the day feasible, and that place.
  std::optional<std::pair<double, int>> Cheapest(int day, const std::vector<int>& order,
                                                 int v) const {
    std::optional<std::pair<double, int>> best;
    std::vector<int> candidate;
    for (int position = 0; position <= static_cast<int>(order.size()); ++position) {
      candidate = order;
      candidate.insert(candidate.begin() + position, v);
      std::optional<double> meters = Fits(day, candidate);
      if (meters && (!best || *meters < best->first - 1e-6)) best = {*meters, position};
    }
    return best;
  }

  // The added metres and the position of the cheapest place for `v` in
  // `day`'s round trip, when the day has room.
  std::optional<std::pair<double, int>> BestInsertion(int day, int v) const {
    if (static_cast<int>(order_[day].size()) >= q_.max_visits_per_day) return std::nullopt;
    std::optional<std::pair<double, int>> best = Cheapest(day, order_[day], v);
    if (best) best->first -= day_meters_[day];
    return best;
  }

  bool FeasibleOn(int v, int day) const {
    return std::binary_search(feasible_[v].begin(), feasible_[v].end(), day);
  }

  // Exchanges two visits of different days while that shortens the month:
  // what moving one at a time cannot do once both days are full, or when
  // either move alone would first make the month longer.
  bool Exchange() {
    bool exchanged = false;
    for (int v = 0; v < n_; ++v) {
      for (int w = v + 1; w < n_; ++w) {
        const int a = day_of_[v], b = day_of_[w];
        if (a < 0 || b < 0 || a == b || !FeasibleOn(v, b) || !FeasibleOn(w, a)) continue;
        std::vector<int> without_v = order_[a], without_w = order_[b];
        without_v.erase(std::find(without_v.begin(), without_v.end(), v));
        without_w.erase(std::find(without_w.begin(), without_w.end(), w));
        std::optional<std::pair<double, int>> w_in_a = Cheapest(a, without_v, w);
        if (!w_in_a) continue;
        std::optional<std::pair<double, int>> v_in_b = Cheapest(b, without_w, v);
        if (!v_in_b) continue;
        const double before =
            day_meters_[a] + day_meters_[b] + FromDue(v, a) + FromDue(w, b);
        const double after = w_in_a->first + v_in_b->first + FromDue(w, a) + FromDue(v, b);
        if (after >= before - 1.0) continue;
        without_v.insert(without_v.begin() + w_in_a->second, w);
        without_w.insert(without_w.begin() + v_in_b->second, v);
        order_[a] = std::move(without_v);
        order_[b] = std::move(without_w);
        day_meters_[a] = w_in_a->first;
        day_meters_[b] = v_in_b->first;
        day_of_[v] = b;
        day_of_[w] = a;
        exchanged = true;
      }
    }
    return exchanged;
  }

  void Insert(int day, int v, int position) {
    order_[day].insert(order_[day].begin() + position, v);
    day_meters_[day] = *Fits(day, order_[day]);
    day_of_[v] = day;
  }

  // Moves single visits to another day, and exchanges pairs, while that
  // shortens the month (the due-date term included).
  void Relocate() {
    for (int pass = 0; pass < kRelocationPasses; ++pass) {
      bool moved = false;
      for (int v = 0; v < n_; ++v) {
        const int from = day_of_[v];
        if (from < 0) continue;
        std::vector<int> without = order_[from];
        without.erase(std::find(without.begin(), without.end(), v));
        std::optional<double> left = without.empty() ? std::optional<double>(0.0)
                                                     : Fits(from, without);
        if (!left) continue;
        const double now_costs = day_meters_[from] - *left + FromDue(v, from);
        double best_cost = now_costs - 1.0;
        int best_day = -1, best_position = -1;
        for (int day : feasible_[v]) {
          if (day == from) continue;
          std::optional<std::pair<double, int>> insertion = BestInsertion(day, v);
          if (!insertion) continue;
          const double cost = insertion->first + FromDue(v, day);
          if (cost < best_cost) {
            best_cost = cost;
            best_day = day;
            best_position = insertion->second;
          }
        }
        if (best_day < 0) continue;
        order_[from] = std::move(without);
        day_meters_[from] = *left;
        Insert(best_day, v, best_position);
        moved = true;
      }
      moved |= Exchange();
      if (!moved) break;
    }
  }

  PlannedRoute Route(int day, const DistanceModel& distances) const {
    PlannedRoute out;
    out.day = q_.days[day].day;
    out.visits = order_[day];
    out.query.start_place = q_.home;
    out.query.end_place = q_.home;
    out.query.leave_at = q_.days[day].begin;
    for (int v : order_[day]) {
      const MonthVisit& m = q_.visits[v];
      out.query.visits.push_back(
          {m.id, m.where, m.duration, open_[v * days_ + day], latest_[v * days_ + day]});
    }
    absl::StatusOr<RoutePlan> planned = PlanRoute(out.query, distances);
    if (planned.ok() && planned->back_at <= q_.days[day].end) {
      out.plan = *std::move(planned);
    } else {
      // The placement's own order fits the day by construction.
      std::vector<int> as_placed(order_[day].size());
      std::iota(as_placed.begin(), as_placed.end(), 0);
      out.plan = *Evaluate(out.query, distances, as_placed);
    }
    return out;
  }

  double DueDateMeters() const {
    std::map<absl::CivilDay, std::vector<int>> by_due;
    for (int v = 0; v < n_; ++v) by_due[q_.visits[v].due].push_back(v);
    double meters = 0;
    for (const auto& [due, visits] : by_due) {
      int at = n_;
      for (int v : visits) {
        meters += Meters(at, v);
        at = v;
      }
      meters += Meters(at, n_);
    }
    return meters;
  }

  const MonthQuery& q_;
  const int n_;     // visits; the home is place n_
  const int days_;
  std::vector<double> meters_;
  std::vector<absl::Duration> travel_;
  std::vector<absl::Time> open_, latest_;  // per visit and day
  std::vector<std::vector<int>> feasible_;  // per visit: days it fits alone
  std::vector<std::vector<int>> order_;     // per day: its visits in order
  std::vector<double> day_meters_;
  std::vector<int> day_of_;
};

// Checks "HH:MM"–"HH:MM" as opening hours; returns the minutes or {-1, -1}.
std::pair<int, int> OpeningHours(const v1::LocalTimeRange& range, const std::string& field,
                                 FieldViolations& v) {
  const int open = MinuteOfDay(range.start_time()), close = MinuteOfDay(range.end_time());
  if (open < 0) v.Add(field + ".start_time", "must be HH:MM");
  if (close < 0) v.Add(field + ".end_time", "must be HH:MM");
  if (open >= 0 && close >= 0 && close <= open) {
    v.Add(field + ".end_time", "must be after start_time");
  }
  if (open < 0 || close <= open) return {-1, -1};
  return {open, close};
}

int LocalMinute(absl::Time t) {
  const absl::CivilMinute m = absl::ToCivilMinute(t, StockholmZone());
  return m.hour() * 60 + m.minute();
}

}  // namespace

MonthPlan PlanMonth(const MonthQuery& query, const DistanceModel& distances) {
  return Planner(query, distances).Plan(distances);
}

absl::Status ValidateFollowUpMonthRequest(const v1::PlanFollowUpMonthRequest& request) {
  FieldViolations v;
  if (!request.coordinator().empty() && !IsResourceName(request.coordinator(), "users")) {
    v.Add("coordinator", "must be users/{id}, or empty for the caller");
  }
  if (request.year() < 2000 || request.year() > 2100) v.Add("year", "must be 2000 to 2100");
  if (request.month() < 1 || request.month() > 12) v.Add("month", "must be 1 to 12");
  if (!request.has_home_place()) {
    v.Add("home_place", "is required");
  } else {
    CheckCoordinates(request.home_place(), "home_place", v);
  }
  if (request.has_window_days() && (request.window_days() < 0 || request.window_days() > 14)) {
    v.Add("window_days", "must be 0 to 14");
  }
  if (request.has_opening_hours()) OpeningHours(request.opening_hours(), "opening_hours", v);
  if (request.max_visits_per_day() < 0 || request.max_visits_per_day() > 12) {
    v.Add("max_visits_per_day", "must be 1 to 12 (6 when 0)");
  }
  if (request.workplaces_size() > kMaxWorkplaces) {
    v.Add("workplaces", absl::StrCat("holds ", request.workplaces_size(), "; at most ",
                                     kMaxWorkplaces));
    return v.ToStatus();
  }
  std::set<std::string> agreements;
  for (int i = 0; i < request.workplaces_size(); ++i) {
    const v1::Workplace& w = request.workplaces(i);
    const std::string field = absl::StrCat("workplaces[", i, "]");
    if (!IsResourceName(w.agreement(), "agreements")) {
      v.Add(field + ".agreement", "must be agreements/{id}");
    } else if (!agreements.insert(w.agreement()).second) {
      v.Add(field + ".agreement", "names an agreement already named");
    }
    if (!w.has_coordinates()) {
      v.Add(field + ".coordinates", "is required");
    } else {
      CheckCoordinates(w.coordinates(), field + ".coordinates", v);
    }
    if (w.has_opening_hours()) OpeningHours(w.opening_hours(), field + ".opening_hours", v);
  }
  return v.ToStatus();
}

std::pair<absl::CivilDay, absl::CivilDay> MonthOf(const v1::PlanFollowUpMonthRequest& request) {
  const absl::CivilMonth month(request.year(), request.month());
  return {absl::CivilDay(month), absl::CivilDay(month + 1)};
}

MonthInput MonthInputOf(const v1::PlanFollowUpMonthRequest& request,
                        const std::vector<Interval>& working,
                        const std::vector<v1::Meeting>& meetings) {
  MonthInput input;
  MonthQuery& q = input.query;
  const auto [first, next] = MonthOf(request);
  q.home = GeoPointOf(request.home_place());
  q.max_visits_per_day =
      request.max_visits_per_day() == 0 ? kDefaultVisitsPerDay : request.max_visits_per_day();
  // A day's working time: from its first start to its last end.
  std::map<absl::CivilDay, WorkDay> days;
  for (const Interval& i : working) {
    const absl::CivilDay day = absl::ToCivilDay(i.start, StockholmZone());
    if (day < first || day >= next) continue;
    auto [it, added] = days.try_emplace(day, WorkDay{day, i.start, i.end});
    if (!added) {
      it->second.begin = std::min(it->second.begin, i.start);
      it->second.end = std::max(it->second.end, i.end);
    }
  }
  for (const auto& [day, work] : days) q.days.push_back(work);
  FieldViolations ignored;
  const std::pair<int, int> default_hours =
      request.has_opening_hours() ? OpeningHours(request.opening_hours(), "", ignored)
                                  : std::pair<int, int>{8 * 60, 16 * 60};
  std::map<std::string, const v1::Workplace*> workplaces;
  for (const v1::Workplace& w : request.workplaces()) workplaces[w.agreement()] = &w;
  const int window = request.has_window_days() ? request.window_days() : kDefaultWindowDays;
  for (const v1::Meeting& m : meetings) {
    // The follow-ups to place, and the other booked meetings with a place:
    // they hold their time and place on their day, so the visits fit around
    // them.
    const bool follow_up = m.kind() == v1::MEETING_KIND_FOLLOW_UP &&
                           (m.status() == v1::MEETING_STATUS_PROPOSED ||
                            m.status() == v1::MEETING_STATUS_BOOKED);
    const bool fixed_elsewhere =
        m.status() == v1::MEETING_STATUS_BOOKED && m.location().has_coordinates();
    if (!follow_up && !fixed_elsewhere) continue;
    const absl::Time start = TimeOf(m.start_time());
    const absl::CivilDay due = absl::ToCivilDay(start, StockholmZone());
    if (due < first || due >= next) continue;
    auto workplace = workplaces.find(m.agreement());
    const v1::Workplace* w = workplace == workplaces.end() ? nullptr : workplace->second;
    if (!m.location().has_coordinates() && w == nullptr) {
      input.left_out.emplace_back().set_meeting(m.name());
      input.left_out.back().set_reason("no_coordinates");
      continue;
    }
    MonthVisit visit;
    visit.id = m.name();
    visit.where = GeoPointOf(m.location().has_coordinates() ? m.location().coordinates()
                                                            : w->coordinates());
    visit.duration = TimeOf(m.end_time()) - start;
    visit.due = due;
    if (m.status() == v1::MEETING_STATUS_BOOKED) {
      // Booked: kept at its day and time.
      visit.earliest = visit.latest = due;
      visit.open_minute = LocalMinute(start);
      visit.close_minute = visit.open_minute + static_cast<int>(absl::ToInt64Minutes(visit.duration));
    } else {
      visit.earliest = std::max(first, due - window);
      visit.latest = std::min(next - 1, due + window);
      std::pair<int, int> hours = default_hours;
      if (w != nullptr && w->has_opening_hours()) {
        hours = OpeningHours(w->opening_hours(), "", ignored);
      }
      visit.open_minute = hours.first;
      visit.close_minute = hours.second;
    }
    q.visits.push_back(std::move(visit));
    input.meeting_of.push_back(m.name());
  }
  return input;
}

v1::FollowUpMonthPlan FollowUpMonthPlanOf(const MonthInput& input, const MonthPlan& plan,
                                          const DistanceModel& distances) {
  v1::FollowUpMonthPlan out;
  for (const PlannedRoute& day : plan.days) {
    DayRoute route;
    route.query = day.query;
    for (int v : day.visits) {
      route.meeting_of.push_back(input.meeting_of[v]);
      route.stop_of.emplace_back();
    }
    v1::PlannedDay* planned = out.add_days();
    planned->mutable_date()->set_year(static_cast<int>(day.day.year()));
    planned->mutable_date()->set_month(day.day.month());
    planned->mutable_date()->set_day(day.day.day());
    *planned->mutable_route() = VisitRouteOf(route, day.plan, distances);
  }
  out.set_total_meters(std::round(plan.meters));
  out.set_due_date_meters(std::round(plan.due_date_meters));
  for (const v1::LeftOutMeeting& l : input.left_out) *out.add_left_out() = l;
  for (int v : plan.unplaced) {
    v1::LeftOutMeeting* l = out.add_left_out();
    l->set_meeting(input.meeting_of[v]);
    l->set_reason("no_day_in_window");
  }
  return out;
}

}  // namespace samplan::scheduling
