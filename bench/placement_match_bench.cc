// Matching over a large bank: RankPlacements (services/placement/matching.h)
// over 10,000 generated placements around Lindesberg, for 500 generated
// profiles. Pure: no database, no network — the figure is the cost of the
// decision itself. Prints p50, p99 and max per call and whether the goal (p99
// <= 10 ms) is met.
//
//   build/bench/placement_match_bench [placements] [calls]

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "absl/strings/str_cat.h"
#include "services/placement/matching.h"

namespace {

using namespace samplan::placement;

const char* kIndustries[] = {
    "handel",   "vård och omsorg", "industri",      "bygg",  "restaurang", "lager och logistik",
    "förskola", "fordon",          "jord och skog", "kontor"};

v1::DateRange Range(absl::CivilDay start, absl::CivilDay end) {
  v1::DateRange r;
  *r.mutable_start_date() = DateOf(start);
  *r.mutable_end_date() = DateOf(end);
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  const int placements = argc > 1 ? std::atoi(argv[1]) : 10000;
  const int calls = argc > 2 ? std::atoi(argv[2]) : 500;
  std::mt19937 random(1885);
  std::uniform_real_distribution<double> offset(-0.35, 0.35);  // about ±39 km north, ±20 km east
  const absl::CivilDay year(2027, 1, 1);

  std::vector<v1::Placement> bank(placements);
  std::vector<MatchCandidate> candidates;
  candidates.reserve(placements);
  for (int i = 0; i < placements; ++i) {
    v1::Placement& p = bank[i];
    p.set_name(absl::StrCat("placements/", i));
    p.set_employer(absl::StrCat("employers/", i % 200));
    p.set_kind(static_cast<v1::PlacementKind>(1 + random() % 5));
    p.set_title(absl::StrCat("Plats ", i, " inom ", kIndustries[i % 10]));
    p.set_industry(kIndustries[(i * 7) % 10]);
    p.set_seats(1 + random() % 3);
    const absl::CivilDay start = year + static_cast<int>(random() % 200);
    *p.add_availability() = Range(start, start + 60 + static_cast<int>(random() % 120));
    p.set_hours_per_week(10 + random() % 31);
    p.mutable_requirements()->set_swedish_level(static_cast<v1::SwedishLevel>(random() % 4));
    p.mutable_requirements()->set_physical_demand(static_cast<v1::PhysicalDemand>(random() % 4));
    p.mutable_requirements()->set_driving_licence(random() % 8 == 0);
    if (p.kind() == v1::PLACEMENT_KIND_PRAO) p.mutable_requirements()->set_minimum_age(13);
    for (int a = 1; a <= 7; ++a) {
      if (random() % 3 == 0) p.add_adaptations(static_cast<v1::Adaptation>(a));
    }
    p.set_status(v1::PLACEMENT_STATUS_OPEN);
    p.mutable_location()->set_latitude(59.594 + offset(random));
    p.mutable_location()->set_longitude(15.227 + offset(random));
    MatchCandidate c{&p, {}};
    for (int t = 0; t < static_cast<int>(random() % 3); ++t) {
      const absl::CivilDay s = start + static_cast<int>(random() % 60);
      c.taken.push_back({s, s + 30});
    }
    candidates.push_back(std::move(c));
  }

  std::vector<double> millis;
  int matched = 0;
  for (int i = 0; i < calls; ++i) {
    v1::MatchProfile profile;
    profile.mutable_home()->set_latitude(59.594 + offset(random) / 2);
    profile.mutable_home()->set_longitude(15.227 + offset(random) / 2);
    profile.add_interests(kIndustries[random() % 10]);
    profile.add_interests(kIndustries[random() % 10]);
    profile.set_swedish_level(static_cast<v1::SwedishLevel>(random() % 4));
    profile.set_work_capacity_percent(25 * (1 + random() % 4));
    profile.set_max_physical_demand(static_cast<v1::PhysicalDemand>(random() % 4));
    if (random() % 2) profile.add_needed_adaptations(v1::ADAPTATION_CLOSE_SUPERVISION);
    const absl::CivilDay start = year + static_cast<int>(30 + random() % 150);
    *profile.mutable_period() = Range(start, start + 28);
    profile.set_age(18 + random() % 40);
    profile.set_has_driving_licence(random() % 2);
    const auto began = std::chrono::steady_clock::now();
    const v1::MatchPlacementsResponse response = RankPlacements(profile, candidates, 10, 20);
    const auto took = std::chrono::steady_clock::now() - began;
    millis.push_back(std::chrono::duration<double, std::milli>(took).count());
    matched += response.matches_size();
  }
  std::sort(millis.begin(), millis.end());
  const auto at = [&](double q) {
    return millis[std::min(millis.size() - 1, static_cast<size_t>(q * millis.size()))];
  };
  const double p99 = at(0.99);
  std::printf("placements %d, calls %d, matches returned per call %.1f\n", placements, calls,
              static_cast<double>(matched) / calls);
  std::printf("p50 %.2f ms   p99 %.2f ms   max %.2f ms\n", at(0.50), p99, millis.back());
  std::printf("goal p99 <= 10 ms: %s\n", p99 <= 10.0 ? "met" : "NOT met");
  return p99 <= 10.0 ? 0 : 1;
}
