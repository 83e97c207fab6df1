// The scheduling service's pure decisions, timed (no servers):
//
//   1. FindCommonSlots for 10 required participants over 20 working days, each
//      with 5 busy blocks a day: p50 / p99 per call.
//   2. PlanRoute for 20 visits (the heuristic; the exact solver is for 12 and
//      fewer): p50 / p99 per call, and its distance against the optimum, which
//      this program computes itself with a plain Held-Karp over 2^20 x 20
//      states (no time windows) for the first --exact instances (30).
//
//   3. PlanMonth for 60 follow-up visits around Lindesberg in March 2027, each
//      movable a week either side of its due date within the month: the time
//      of one plan, its total travel, and the travel of visiting each
//      workplace on its due date in due-date order.
//
//   build/bench/scheduling_bench [--rounds N] [--exact N]

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "services/scheduling/availability.h"
#include "services/scheduling/month_plan.h"
#include "services/scheduling/route.h"

namespace samplan::scheduling {
namespace {

double Percentile(std::vector<double> values, double p) {
  std::sort(values.begin(), values.end());
  return values[static_cast<size_t>(p * (values.size() - 1))];
}

template <typename F>
double Millis(F&& f) {
  const auto start = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}

v1::WorkingHours EightToFive() {
  v1::WorkingHours hours;
  for (int day = 1; day <= 5; ++day) {
    v1::WeeklyRule* rule = hours.add_weekly_rules();
    rule->set_day_of_week(day);
    rule->mutable_hours()->set_start_time("08:00");
    rule->mutable_hours()->set_end_time("17:00");
  }
  return hours;
}

void CommonSlots(int rounds) {
  std::mt19937 random(1);
  // Monday 1 February 2027, four weeks: 20 working days.
  const absl::Time from =
      absl::FromCivil(absl::CivilSecond(2027, 2, 1, 0, 0, 0), StockholmZone());
  const absl::Time to = from + absl::Hours(24 * 28);
  SlotQuery query;
  query.duration = absl::Hours(1);
  query.window_start = from;
  query.window_end = to;
  query.buffer = absl::Minutes(10);
  query.max_candidates = 10;
  std::uniform_int_distribution<int> minute(8 * 60, 16 * 60);
  for (int p = 0; p < 10; ++p) {
    Calendar c{"users/u" + std::to_string(p), true, WorkingIntervals(EightToFive(), from, to), {}};
    for (absl::CivilDay day = absl::CivilDay(2027, 2, 1); day < absl::CivilDay(2027, 3, 1); ++day) {
      for (int b = 0; b < 5; ++b) {
        const absl::Time start = StockholmZone().At(absl::CivilMinute(day) + minute(random)).pre;
        c.busy.push_back({start, start + absl::Minutes(30)});
      }
    }
    query.calendars.push_back(std::move(c));
  }
  std::vector<double> ms;
  int found = 0;
  for (int i = 0; i < rounds; ++i) {
    ms.push_back(Millis([&] { found = FindCommonSlots(query).candidates_size(); }));
  }
  std::printf("common slots, 10 participants x 20 working days x 5 busy blocks/day: "
              "p50 %.3f ms  p99 %.3f ms  (%d rounds, %d candidates)\n",
              Percentile(ms, 0.5), Percentile(ms, 0.99), rounds, found);
}

// The shortest tour from the start through every visit to the end, by
// Held-Karp over plain distances.
double Optimum(const RouteQuery& q, const DistanceModel& d) {
  const int n = static_cast<int>(q.visits.size());
  std::vector<float> best(static_cast<size_t>(1) << n) ;
  best.assign((static_cast<size_t>(1) << n) * n, std::numeric_limits<float>::infinity());
  auto at = [&](size_t mask, int last) -> float& { return best[mask * n + last]; };
  std::vector<std::vector<double>> m(n, std::vector<double>(n));
  for (int a = 0; a < n; ++a) {
    for (int b = 0; b < n; ++b) m[a][b] = d.Meters(q.visits[a].where, q.visits[b].where);
  }
  for (int v = 0; v < n; ++v) at(size_t{1} << v, v) = d.Meters(q.start_place, q.visits[v].where);
  for (size_t mask = 1; mask < (size_t{1} << n); ++mask) {
    for (int last = 0; last < n; ++last) {
      const float here = at(mask, last);
      if (!(mask & (size_t{1} << last)) || here == std::numeric_limits<float>::infinity()) continue;
      for (int next = 0; next < n; ++next) {
        if (mask & (size_t{1} << next)) continue;
        float& there = at(mask | (size_t{1} << next), next);
        there = std::min(there, static_cast<float>(here + m[last][next]));
      }
    }
  }
  double result = std::numeric_limits<double>::infinity();
  for (int last = 0; last < n; ++last) {
    result = std::min(result, at((size_t{1} << n) - 1, last) +
                                  d.Meters(q.visits[last].where, q.end_place));
  }
  return result;
}

void Route(int rounds, int exact_instances) {
  std::mt19937 random(2);
  std::uniform_real_distribution<double> lat(59.45, 59.75), lon(14.95, 15.50);
  const GreatCircleDistances distances;
  std::vector<double> ms, gaps;
  for (int i = 0; i < rounds; ++i) {
    RouteQuery q;
    q.start_place = {59.594, 15.230};
    q.end_place = q.start_place;
    q.leave_at = absl::FromUnixSeconds(1800000000);
    for (int v = 0; v < 20; ++v) {
      q.visits.push_back({"v", {lat(random), lon(random)}, absl::Minutes(20), std::nullopt,
                          std::nullopt});
    }
    absl::StatusOr<RoutePlan> plan;
    ms.push_back(Millis([&] { plan = PlanRoute(q, distances); }));
    if (i < exact_instances) gaps.push_back(plan->meters / Optimum(q, distances) - 1);
  }
  double mean = 0, worst = 0;
  for (double g : gaps) {
    mean += g / gaps.size();
    worst = std::max(worst, g);
  }
  std::printf("route, 20 visits (heuristic): p50 %.2f ms  p99 %.2f ms  (%d rounds)\n",
              Percentile(ms, 0.5), Percentile(ms, 0.99), rounds);
  std::printf("route, 20 visits vs the exact optimum over %zu instances: mean %.2f %%  "
              "worst %.2f %% longer\n",
              gaps.size(), 100 * mean, 100 * worst);
}

void Month(int rounds) {
  std::mt19937 random(3);
  std::uniform_real_distribution<double> lat(59.40, 59.80), lon(14.90, 15.55);
  MonthQuery q;
  q.home = {59.594, 15.230};
  for (absl::CivilDay d(2027, 3, 1); d < absl::CivilDay(2027, 4, 1); ++d) {
    const absl::Weekday w = absl::GetWeekday(d);
    if (w == absl::Weekday::saturday || w == absl::Weekday::sunday) continue;
    q.days.push_back({d, StockholmZone().At(absl::CivilMinute(d) + 8 * 60).pre,
                      StockholmZone().At(absl::CivilMinute(d) + 17 * 60).pre});
  }
  std::uniform_int_distribution<int> due(0, static_cast<int>(q.days.size()) - 1);
  for (int v = 0; v < 60; ++v) {
    MonthVisit visit;
    visit.id = "meetings/" + std::to_string(v);
    visit.where = {lat(random), lon(random)};
    visit.duration = absl::Minutes(45);
    visit.due = q.days[due(random)].day;
    visit.earliest = std::max(absl::CivilDay(2027, 3, 1), visit.due - 7);
    visit.latest = std::min(absl::CivilDay(2027, 3, 31), visit.due + 7);
    q.visits.push_back(visit);
  }
  const GreatCircleDistances distances;
  std::vector<double> ms;
  MonthPlan plan;
  for (int i = 0; i < std::max(1, rounds / 20); ++i) {
    ms.push_back(Millis([&] { plan = PlanMonth(q, distances); }));
  }
  std::printf("month plan, 60 visits over %zu working days: p50 %.1f ms  max %.1f ms  (%zu runs)\n",
              q.days.size(), Percentile(ms, 0.5), Percentile(ms, 1.0), ms.size());
  std::printf("month plan travel %.0f km on %zu days (%zu unplaced)  vs  each on its due date in "
              "due-date order %.0f km\n",
              plan.meters / 1000, plan.days.size(), plan.unplaced.size(),
              plan.due_date_meters / 1000);
}

}  // namespace
}  // namespace samplan::scheduling

int main(int argc, char** argv) {
  int rounds = 200, exact = 30;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], "--rounds") == 0) rounds = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--exact") == 0) exact = std::atoi(argv[i + 1]);
  }
  samplan::scheduling::CommonSlots(rounds);
  samplan::scheduling::Route(rounds, exact);
  samplan::scheduling::Month(rounds);
  return 0;
}
