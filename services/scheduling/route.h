#ifndef SAMPLAN_SERVICES_SCHEDULING_ROUTE_H_
#define SAMPLAN_SERVICES_SCHEDULING_ROUTE_H_

// The coordinator's day: in which order to visit the workplaces ("en
// samordning beroende på var praktikplatserna är belägna"), when to arrive and
// how far it is. Exact for small days (Held-Karp over the visited set and the
// last stop, keeping every (distance, time) that is not beaten in both), a
// heuristic above (nearest neighbour, 2-opt and Or-opt, restarted from each
// first stop). Pure and deterministic. No I/O here.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace samplan::scheduling {

struct GeoPoint {
  double latitude = 0;
  double longitude = 0;
};

// How far and how long between two places. An interface, so that a road
// distance matrix can replace the estimate.
class DistanceModel {
 public:
  virtual ~DistanceModel() = default;
  virtual double Meters(const GeoPoint& from, const GeoPoint& to) const = 0;
  virtual absl::Duration Travel(const GeoPoint& from, const GeoPoint& to) const = 0;
};

// The great-circle distance times a detour factor (roads are not straight),
// driven at a steady speed.
class GreatCircleDistances final : public DistanceModel {
 public:
  explicit GreatCircleDistances(double detour_factor = 1.3, double kilometres_per_hour = 50)
      : detour_factor_(detour_factor), kilometres_per_hour_(kilometres_per_hour) {}
  double Meters(const GeoPoint& from, const GeoPoint& to) const override;
  absl::Duration Travel(const GeoPoint& from, const GeoPoint& to) const override;

 private:
  const double detour_factor_;
  const double kilometres_per_hour_;
};

// One visit: where, how long it takes, and, for a meeting at a fixed time,
// when it may begin (arriving earlier means waiting).
struct Visit {
  std::string id;
  GeoPoint where;
  absl::Duration duration;
  std::optional<absl::Time> earliest_start;
  std::optional<absl::Time> latest_start;
};

struct RouteQuery {
  GeoPoint start_place;
  GeoPoint end_place;
  absl::Time leave_at;
  std::vector<Visit> visits;
  // Days of up to this many visits are solved exactly.
  int exact_up_to = 12;
};

struct RoutePlan {
  // Indices into RouteQuery::visits, in visiting order.
  std::vector<int> order;
  // When each visit (in `order`) begins, and when the route is back.
  std::vector<absl::Time> starts;
  absl::Time back_at;
  double meters = 0;
  // Whether the order is proven the shortest that keeps every time window.
  bool exact = false;
};

// The most visits a route takes.
inline constexpr int kMaxRouteVisits = 60;

// Returns the shortest order (by distance) that begins every visit within its
// window, or FAILED_PRECONDITION when no order can. INVALID_ARGUMENT for 0 or
// more than kMaxRouteVisits visits (naming "visits").
absl::StatusOr<RoutePlan> PlanRoute(const RouteQuery& query, const DistanceModel& distances);

// Returns the length and times of visiting in `order`, or nothing when it
// misses a window. For tests and benchmarks (brute force).
std::optional<RoutePlan> Evaluate(const RouteQuery& query, const DistanceModel& distances,
                                  const std::vector<int>& order);

}  // namespace samplan::scheduling

#endif  // SAMPLAN_SERVICES_SCHEDULING_ROUTE_H_
