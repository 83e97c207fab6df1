#include "services/scheduling/route.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace samplan::scheduling {
namespace {

constexpr double kEarthRadiusMeters = 6371000.0;

// Distances and travel times between the start (index n), the visits (0..n-1)
// and the end (index n + 1).
struct Matrix {
  int n;
  std::vector<double> meters;
  std::vector<absl::Duration> travel;
  double Meters(int a, int b) const { return meters[a * (n + 2) + b]; }
  absl::Duration Travel(int a, int b) const { return travel[a * (n + 2) + b]; }
};

Matrix MatrixOf(const RouteQuery& q, const DistanceModel& d) {
  const int n = static_cast<int>(q.visits.size());
  std::vector<GeoPoint> places;
  for (const Visit& v : q.visits) places.push_back(v.where);
  places.push_back(q.start_place);
  places.push_back(q.end_place);
  Matrix m{n, std::vector<double>((n + 2) * (n + 2)),
           std::vector<absl::Duration>((n + 2) * (n + 2))};
  for (int a = 0; a < n + 2; ++a) {
    for (int b = 0; b < n + 2; ++b) {
      m.meters[a * (n + 2) + b] = d.Meters(places[a], places[b]);
      m.travel[a * (n + 2) + b] = d.Travel(places[a], places[b]);
    }
  }
  return m;
}

// When visit `v` begins if one arrives at `arrival`; nothing when too late.
std::optional<absl::Time> BeginAt(const Visit& v, absl::Time arrival) {
  absl::Time begin = arrival;
  if (v.earliest_start && begin < *v.earliest_start) begin = *v.earliest_start;
  if (v.latest_start && begin > *v.latest_start) return std::nullopt;
  return begin;
}

std::optional<RoutePlan> Walk(const RouteQuery& q, const Matrix& m, const std::vector<int>& order) {
  RoutePlan plan;
  plan.order = order;
  int at = m.n;
  absl::Time now = q.leave_at;
  for (int v : order) {
    std::optional<absl::Time> begin = BeginAt(q.visits[v], now + m.Travel(at, v));
    if (!begin) return std::nullopt;
    plan.meters += m.Meters(at, v);
    plan.starts.push_back(*begin);
    now = *begin + q.visits[v].duration;
    at = v;
  }
  plan.meters += m.Meters(at, m.n + 1);
  plan.back_at = now + m.Travel(at, m.n + 1);
  return plan;
}

// Held-Karp with labels: for each (visited set, last visit) every (distance,
// free-again time) that no other label beats in both. Exact with windows,
// since a label beaten in both can never lead to a better route.
std::optional<RoutePlan> Exact(const RouteQuery& q, const Matrix& m) {
  const int n = m.n;
  struct Label {
    double meters;
    absl::Time free_at;
    int parent;  // index of the label in the state before, or -1
    int parent_last;
  };
  const int states = 1 << n;
  std::vector<std::vector<Label>> labels(static_cast<size_t>(states) * n);
  auto at = [&](int mask, int last) -> std::vector<Label>& {
    return labels[static_cast<size_t>(mask) * n + last];
  };
  auto insert = [](std::vector<Label>& set, const Label& l) {
    for (const Label& o : set) {
      if (o.meters <= l.meters && o.free_at <= l.free_at) return;
    }
    set.erase(std::remove_if(set.begin(), set.end(),
                             [&](const Label& o) {
                               return l.meters <= o.meters && l.free_at <= o.free_at;
                             }),
              set.end());
    set.push_back(l);
  };
  for (int v = 0; v < n; ++v) {
    std::optional<absl::Time> begin = BeginAt(q.visits[v], q.leave_at + m.Travel(n, v));
    if (begin) insert(at(1 << v, v), {m.Meters(n, v), *begin + q.visits[v].duration, -1, -1});
  }
  for (int mask = 1; mask < states; ++mask) {
    for (int last = 0; last < n; ++last) {
      if (!(mask & (1 << last))) continue;
      const std::vector<Label>& here = at(mask, last);
      for (int i = 0; i < static_cast<int>(here.size()); ++i) {
        const Label& l = here[i];
        for (int next = 0; next < n; ++next) {
          if (mask & (1 << next)) continue;
          std::optional<absl::Time> begin =
              BeginAt(q.visits[next], l.free_at + m.Travel(last, next));
          if (!begin) continue;
          insert(at(mask | (1 << next), next),
                 {l.meters + m.Meters(last, next), *begin + q.visits[next].duration, i, last});
        }
      }
    }
  }
  const int full = states - 1;
  double best = std::numeric_limits<double>::infinity();
  int best_last = -1, best_label = -1;
  for (int last = 0; last < n; ++last) {
    const std::vector<Label>& set = at(full, last);
    for (int i = 0; i < static_cast<int>(set.size()); ++i) {
      const double total = set[i].meters + m.Meters(last, n + 1);
      if (total < best - 1e-9) {
        best = total;
        best_last = last;
        best_label = i;
      }
    }
  }
  if (best_last < 0) return std::nullopt;
  std::vector<int> order;
  int mask = full, last = best_last, label = best_label;
  while (last >= 0) {
    order.push_back(last);
    const Label& l = at(mask, last)[label];
    mask &= ~(1 << last);
    label = l.parent;
    last = l.parent_last;
  }
  std::reverse(order.begin(), order.end());
  std::optional<RoutePlan> plan = Walk(q, m, order);
  if (plan) plan->exact = true;
  return plan;
}

// Improves `order` by 2-opt (reversing a stretch) and Or-opt (moving a run of
// one to three visits), keeping only feasible improvements, until neither
// finds one. A move's change in distance is worked out from the few legs it
// changes (prefix sums along the route in both directions, so a reversed
// stretch costs the same to price on an asymmetric road matrix); only a move
// that shortens the route is walked, to check its time windows, and only when
// there are windows at all. The passes are capped, so that a day's plan takes
// a bounded time whatever the distances.
void Improve(const RouteQuery& q, const Matrix& m, std::vector<int>& order, double& meters) {
  const int n = static_cast<int>(order.size());
  const bool timed = std::any_of(q.visits.begin(), q.visits.end(), [](const Visit& v) {
    return v.earliest_start.has_value() || v.latest_start.has_value();
  });
  // The place at position k of the route: the start before it, the end after.
  auto place = [&](int k) { return k < 0 ? m.n : k >= n ? m.n + 1 : order[k]; };
  std::vector<double> forward(n), backward(n);  // legs along order[0..k]
  auto sums = [&] {
    for (int k = 1; k < n; ++k) {
      forward[k] = forward[k - 1] + m.Meters(order[k - 1], order[k]);
      backward[k] = backward[k - 1] + m.Meters(order[k], order[k - 1]);
    }
  };
  // Takes `candidate` when it keeps every window; returns whether it did.
  auto take = [&](std::vector<int>& candidate, double delta) {
    if (timed) {
      std::optional<RoutePlan> plan = Walk(q, m, candidate);
      if (!plan || plan->meters >= meters - 1e-6) return false;
      meters = plan->meters;
    } else {
      meters += delta;
    }
    order = std::move(candidate);
    sums();
    return true;
  };
  sums();
  const int max_passes = 50 * n;
  bool improved = true;
  for (int pass = 0; improved && pass < max_passes; ++pass) {
    improved = false;
    for (int i = 0; i < n - 1 && !improved; ++i) {
      for (int j = i + 1; j < n && !improved; ++j) {
        const int before = place(i - 1), after = place(j + 1);
        const double delta = m.Meters(before, order[j]) + (backward[j] - backward[i]) +
                             m.Meters(order[i], after) - m.Meters(before, order[i]) -
                             (forward[j] - forward[i]) - m.Meters(order[j], after);
        if (delta >= -1e-6) continue;
        std::vector<int> candidate = order;
        std::reverse(candidate.begin() + i, candidate.begin() + j + 1);
        improved = take(candidate, delta);
      }
    }
    for (int len = 1; len <= 3 && !improved; ++len) {
      for (int i = 0; i + len <= n && !improved; ++i) {
        const int first = order[i], last = order[i + len - 1];
        const int before = place(i - 1), after = place(i + len);
        const double removed =
            m.Meters(before, first) + m.Meters(last, after) - m.Meters(before, after);
        // The route without the run: position k of it.
        auto rest = [&](int k) { return place(k < i ? k : k + len); };
        for (int j = 0; j <= n - len && !improved; ++j) {
          if (j == i) continue;
          const int u = rest(j - 1), w = rest(j);
          const double delta =
              m.Meters(u, first) + m.Meters(last, w) - m.Meters(u, w) - removed;
          if (delta >= -1e-6) continue;
          std::vector<int> candidate = order;
          std::vector<int> run(candidate.begin() + i, candidate.begin() + i + len);
          candidate.erase(candidate.begin() + i, candidate.begin() + i + len);
          candidate.insert(candidate.begin() + j, run.begin(), run.end());
          improved = take(candidate, delta);
        }
      }
    }
  }
}

std::optional<RoutePlan> Heuristic(const RouteQuery& q, const Matrix& m) {
  const int n = m.n;
  std::optional<RoutePlan> best;
  // Windows first: visits with a latest start in that order, the rest by
  // nearest neighbour, from each first visit in turn.
  for (int first = 0; first < n; ++first) {
    std::vector<int> order = {first};
    std::vector<bool> used(n, false);
    used[first] = true;
    for (int k = 1; k < n; ++k) {
      int at = order.back(), pick = -1;
      for (int v = 0; v < n; ++v) {
        if (used[v]) continue;
        if (pick < 0 || m.Meters(at, v) < m.Meters(at, pick)) pick = v;
      }
      used[pick] = true;
      order.push_back(pick);
    }
    std::optional<RoutePlan> plan = Walk(q, m, order);
    if (!plan) {
      // Put the timed visits in the order of their windows and try again.
      std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
        const absl::Time la = q.visits[a].latest_start.value_or(absl::InfiniteFuture());
        const absl::Time lb = q.visits[b].latest_start.value_or(absl::InfiniteFuture());
        return la < lb;
      });
      plan = Walk(q, m, order);
      if (!plan) continue;
    }
    double meters = plan->meters;
    Improve(q, m, order, meters);
    plan = Walk(q, m, order);
    if (plan && (!best || plan->meters < best->meters - 1e-6)) best = plan;
  }
  return best;
}

}  // namespace

double GreatCircleDistances::Meters(const GeoPoint& from, const GeoPoint& to) const {
  constexpr double kRad = M_PI / 180.0;
  const double dlat = (to.latitude - from.latitude) * kRad;
  const double dlon = (to.longitude - from.longitude) * kRad;
  const double a = std::sin(dlat / 2) * std::sin(dlat / 2) +
                   std::cos(from.latitude * kRad) * std::cos(to.latitude * kRad) *
                       std::sin(dlon / 2) * std::sin(dlon / 2);
  return detour_factor_ * 2 * kEarthRadiusMeters * std::asin(std::min(1.0, std::sqrt(a)));
}

absl::Duration GreatCircleDistances::Travel(const GeoPoint& from, const GeoPoint& to) const {
  return absl::Seconds(Meters(from, to) / (kilometres_per_hour_ / 3.6));
}

std::optional<RoutePlan> Evaluate(const RouteQuery& query, const DistanceModel& distances,
                                  const std::vector<int>& order) {
  return Walk(query, MatrixOf(query, distances), order);
}

absl::StatusOr<RoutePlan> PlanRoute(const RouteQuery& query, const DistanceModel& distances) {
  const int n = static_cast<int>(query.visits.size());
  if (n == 0 || n > kMaxRouteVisits) {
    return InvalidField("visits", absl::StrCat("must hold 1 to ", kMaxRouteVisits,
                                               " visits, not ", n));
  }
  const Matrix m = MatrixOf(query, distances);
  std::optional<RoutePlan> plan =
      n <= std::min(query.exact_up_to, 16) ? Exact(query, m) : Heuristic(query, m);
  if (!plan) {
    return absl::FailedPreconditionError(
        "no order of the visits begins each within its time window");
  }
  return *plan;
}

}  // namespace samplan::scheduling
