// Tier 1: the coordinator's route, exact against brute force up to 9 visits.

#include "services/scheduling/route.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <random>

namespace samplan::scheduling {
namespace {

const absl::Time kEight = absl::FromUnixSeconds(1800000000);

RouteQuery RandomDay(std::mt19937& random, int visits) {
  // Around Lindesberg: 59.59 N, 15.23 E, within some 20 km.
  std::uniform_real_distribution<double> lat(59.45, 59.75), lon(14.95, 15.50);
  RouteQuery q;
  q.start_place = {59.594, 15.230};
  q.end_place = q.start_place;
  q.leave_at = kEight;
  for (int i = 0; i < visits; ++i) {
    q.visits.push_back({"v" + std::to_string(i), {lat(random), lon(random)}, absl::Minutes(45),
                        std::nullopt, std::nullopt});
  }
  return q;
}

// The shortest of all orders. Days without time windows are summed over a
// matrix of their own (9! orders); with windows every order is walked.
double BruteForce(const RouteQuery& q, const DistanceModel& d) {
  const int n = static_cast<int>(q.visits.size());
  bool windows = false;
  for (const Visit& v : q.visits) windows |= v.latest_start.has_value();
  std::vector<std::vector<double>> m(n + 2, std::vector<double>(n + 2));
  std::vector<GeoPoint> places;
  for (const Visit& v : q.visits) places.push_back(v.where);
  places.push_back(q.start_place);
  places.push_back(q.end_place);
  for (int a = 0; a < n + 2; ++a) {
    for (int b = 0; b < n + 2; ++b) m[a][b] = d.Meters(places[a], places[b]);
  }
  std::vector<int> order(n);
  std::iota(order.begin(), order.end(), 0);
  double best = std::numeric_limits<double>::infinity();
  do {
    if (windows) {
      std::optional<RoutePlan> plan = Evaluate(q, d, order);
      if (plan) best = std::min(best, plan->meters);
      continue;
    }
    double total = m[n][order[0]] + m[order[n - 1]][n + 1];
    for (int i = 1; i < n; ++i) total += m[order[i - 1]][order[i]];
    best = std::min(best, total);
  } while (std::next_permutation(order.begin(), order.end()));
  return best;
}

TEST(PlanRouteTest, IsTheShortestOrderUpToNineVisits) {
  std::mt19937 random(20270301);
  const GreatCircleDistances distances;
  for (int visits = 1; visits <= 9; ++visits) {
    for (int round = 0; round < (visits <= 7 ? 5 : 2); ++round) {
      const RouteQuery q = RandomDay(random, visits);
      absl::StatusOr<RoutePlan> plan = PlanRoute(q, distances);
      ASSERT_TRUE(plan.ok()) << plan.status();
      EXPECT_TRUE(plan->exact);
      EXPECT_NEAR(plan->meters, BruteForce(q, distances), 1e-6) << visits << " visits";
      EXPECT_EQ(plan->order.size(), static_cast<size_t>(visits));
    }
  }
}

TEST(PlanRouteTest, KeepsTimeWindowsAgainstBruteForce) {
  std::mt19937 random(7);
  const GreatCircleDistances distances;
  for (int round = 0; round < 5; ++round) {
    RouteQuery q = RandomDay(random, 7);
    // Two fixed-time meetings: one at 13:00, one at 09:30 (to 09:45).
    q.visits[2].earliest_start = kEight + absl::Hours(5);
    q.visits[2].latest_start = kEight + absl::Hours(5);
    q.visits[5].earliest_start = kEight + absl::Minutes(90);
    q.visits[5].latest_start = kEight + absl::Minutes(105);
    absl::StatusOr<RoutePlan> plan = PlanRoute(q, distances);
    ASSERT_TRUE(plan.ok()) << plan.status();
    EXPECT_NEAR(plan->meters, BruteForce(q, distances), 1e-6);
    for (size_t i = 0; i < plan->order.size(); ++i) {
      const Visit& v = q.visits[plan->order[i]];
      if (v.latest_start) {
        EXPECT_GE(plan->starts[i], *v.earliest_start);
        EXPECT_LE(plan->starts[i], *v.latest_start);
      }
    }
  }
}

TEST(PlanRouteTest, TheHeuristicIsCloseToTheOptimumAndRefusesWhatCannotBe) {
  std::mt19937 random(11);
  const GreatCircleDistances distances;
  double worst = 0;
  for (int round = 0; round < 5; ++round) {
    RouteQuery q = RandomDay(random, 9);
    const double optimum = PlanRoute(q, distances)->meters;
    q.exact_up_to = 0;
    absl::StatusOr<RoutePlan> plan = PlanRoute(q, distances);
    ASSERT_TRUE(plan.ok());
    EXPECT_FALSE(plan->exact);
    worst = std::max(worst, plan->meters / optimum - 1);
  }
  EXPECT_LT(worst, 0.05);

  RouteQuery q = RandomDay(random, 3);
  q.visits[0].latest_start = kEight - absl::Hours(1);  // before leaving
  EXPECT_EQ(PlanRoute(q, distances).status().code(), absl::StatusCode::kFailedPrecondition);
  q.visits.clear();
  EXPECT_EQ(PlanRoute(q, distances).status().code(), absl::StatusCode::kInvalidArgument);
  q = RandomDay(random, 500);
  EXPECT_EQ(PlanRoute(q, distances).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(GreatCircleDistancesTest, LindesbergToOrebroIsAboutFortyKilometresAsTheCrowFlies) {
  const GreatCircleDistances crow(1.0, 60);
  const double meters = crow.Meters({59.594, 15.230}, {59.274, 15.207});
  EXPECT_NEAR(meters, 35600, 500);
  EXPECT_NEAR(absl::ToDoubleMinutes(crow.Travel({59.594, 15.230}, {59.274, 15.207})), 35.6, 0.5);
}

}  // namespace
}  // namespace samplan::scheduling
