#include "services/placement/matching.h"

#include <gtest/gtest.h>

namespace samplan::placement {
namespace {

v1::GeoPoint Point(double lat, double lon) {
  v1::GeoPoint p;
  p.set_latitude(lat);
  p.set_longitude(lon);
  return p;
}

v1::DateRange Range(absl::CivilDay start, absl::CivilDay end) {
  v1::DateRange r;
  *r.mutable_start_date() = DateOf(start);
  *r.mutable_end_date() = DateOf(end);
  return r;
}

const v1::GeoPoint kLindesberg = Point(59.594, 15.227);

v1::Placement Place(const std::string& id, double km_north = 1) {
  v1::Placement p;
  p.set_name("placements/" + id);
  p.set_employer("employers/e-" + id);
  p.set_kind(v1::PLACEMENT_KIND_WORK_PRACTICE);
  p.set_title("Butiksbiträde");
  p.set_industry("handel");
  p.set_seats(1);
  *p.add_availability() = Range(absl::CivilDay(2027, 1, 1), absl::CivilDay(2027, 12, 31));
  p.set_hours_per_week(20);
  p.set_status(v1::PLACEMENT_STATUS_OPEN);
  // One degree of latitude is about 111 km.
  *p.mutable_location() = Point(kLindesberg.latitude() + km_north / 111.2, kLindesberg.longitude());
  return p;
}

v1::MatchProfile Person() {
  v1::MatchProfile p;
  *p.mutable_home() = kLindesberg;
  p.add_interests("handel");
  p.set_swedish_level(v1::SWEDISH_LEVEL_INTERMEDIATE);
  p.set_work_capacity_percent(50);
  *p.mutable_period() = Range(absl::CivilDay(2027, 3, 1), absl::CivilDay(2027, 5, 31));
  p.set_age(24);
  return p;
}

const v1::ExcludedPlacement* Excluded(const v1::MatchPlacementsResponse& r,
                                      const std::string& name) {
  for (const auto& e : r.excluded()) {
    if (e.placement() == name) return &e;
  }
  return nullptr;
}

TEST(FreeSeatsTest, CountsTheWorstDayOfThePeriod) {
  const DayRange period{absl::CivilDay(2027, 3, 1), absl::CivilDay(2027, 3, 31)};
  // Two agreements that never overlap each other hold one seat at a time.
  std::vector<DayRange> taken = {{absl::CivilDay(2027, 2, 1), absl::CivilDay(2027, 3, 10)},
                                 {absl::CivilDay(2027, 3, 11), absl::CivilDay(2027, 4, 30)}};
  EXPECT_EQ(FreeSeats(2, taken, period), 1);
  taken.push_back({absl::CivilDay(2027, 3, 10), absl::CivilDay(2027, 3, 10)});
  EXPECT_EQ(FreeSeats(2, taken, period), 0);
  // Outside the period they hold nothing.
  EXPECT_EQ(FreeSeats(2, taken, {absl::CivilDay(2027, 6, 1), absl::CivilDay(2027, 6, 30)}), 2);
}

TEST(MatchingTest, HardConflictsExcludeWithTheirReason) {
  std::vector<v1::Placement> places;
  places.push_back(Place("ok"));
  places.push_back(Place("full"));
  places.push_back(Place("licence"));
  places.back().mutable_requirements()->set_driving_licence(true);
  places.push_back(Place("far", 80));
  places.push_back(Place("heavy"));
  places.back().mutable_requirements()->set_physical_demand(v1::PHYSICAL_DEMAND_HEAVY);
  places.push_back(Place("hours"));
  places.back().set_hours_per_week(40);
  places.push_back(Place("prao"));
  places.back().set_kind(v1::PLACEMENT_KIND_PRAO);
  places.push_back(Place("summer"));
  places.back().clear_availability();
  *places.back().add_availability() =
      Range(absl::CivilDay(2027, 6, 1), absl::CivilDay(2027, 8, 31));
  places.push_back(Place("old"));
  places.back().mutable_requirements()->set_minimum_age(25);

  v1::MatchProfile person = Person();
  person.set_max_physical_demand(v1::PHYSICAL_DEMAND_MODERATE);
  std::vector<MatchCandidate> candidates;
  for (const auto& p : places) candidates.push_back({&p, {}});
  candidates[1].taken = {{absl::CivilDay(2027, 4, 1), absl::CivilDay(2027, 4, 30)}};

  const v1::MatchPlacementsResponse r = RankPlacements(person, candidates, 10, 100);
  ASSERT_EQ(r.matches_size(), 1);
  EXPECT_EQ(r.matches(0).placement(), "placements/ok");
  EXPECT_EQ(r.considered(), 9);
  const std::pair<const char*, const char*> expected[] = {
      {"placements/full", "no_free_seat"},    {"placements/licence", "driving_licence"},
      {"placements/far", "distance"},         {"placements/heavy", "physical_demand"},
      {"placements/hours", "hours"},          {"placements/prao", "kind"},
      {"placements/summer", "not_available"}, {"placements/old", "too_young"}};
  for (const auto& [name, conflict] : expected) {
    const v1::ExcludedPlacement* e = Excluded(r, name);
    ASSERT_NE(e, nullptr) << name;
    EXPECT_EQ(e->conflict(), conflict) << name;
    EXPECT_FALSE(e->reason().empty());
  }
}

TEST(MatchingTest, ReducibleHoursAreAPenaltyNotAConflict) {
  v1::Placement place = Place("p");
  place.set_hours_per_week(40);
  place.add_adaptations(v1::ADAPTATION_REDUCED_HOURS);
  std::vector<MatchCandidate> c = {{&place, {}}};
  const v1::MatchPlacementsResponse r = RankPlacements(Person(), c, 10, 10);
  ASSERT_EQ(r.matches_size(), 1);
  EXPECT_NE(r.matches(0).parts(3).reason().find("reduced to 20"), std::string::npos);
}

TEST(MatchingTest, CloserInterestingAdaptedPlacesRankHigherAndSayWhy) {
  v1::Placement near = Place("near", 1);
  v1::Placement far = Place("far", 20);
  v1::Placement other = Place("other", 1);
  other.set_industry("industri");
  other.set_title("Montering");
  v1::Placement adapted = Place("adapted", 1);
  adapted.add_adaptations(v1::ADAPTATION_QUIET_PLACE);
  v1::MatchProfile person = Person();
  person.add_needed_adaptations(v1::ADAPTATION_QUIET_PLACE);
  std::vector<MatchCandidate> c = {{&near, {}}, {&far, {}}, {&other, {}}, {&adapted, {}}};
  const v1::MatchPlacementsResponse r = RankPlacements(person, c, 10, 0);
  ASSERT_EQ(r.matches_size(), 4);
  EXPECT_EQ(r.matches(0).placement(), "placements/adapted");
  EXPECT_EQ(r.matches(1).placement(), "placements/near");
  EXPECT_GT(r.matches(1).score(), r.matches(2).score());
  EXPECT_EQ(r.matches(3).placement(), "placements/other");
  for (const auto& m : r.matches()) {
    ASSERT_EQ(m.parts_size(), 4);
    double sum = 0;
    for (const auto& part : m.parts()) {
      EXPECT_FALSE(part.reason().empty()) << part.factor();
      EXPECT_LE(part.points(), part.max_points());
      sum += part.points();
    }
    EXPECT_NEAR(sum, m.score(), 0.21);
  }
  EXPECT_NE(r.matches(0).parts(1).reason().find("handel"), std::string::npos);
  EXPECT_NE(r.matches(0).parts(3).reason().find("1 of 1"), std::string::npos);
}

TEST(MatchingTest, SwedishOneLevelBelowScoresLowerTwoBelowExcludes) {
  v1::Placement meets = Place("a");
  v1::Placement one_below = Place("b");
  one_below.mutable_requirements()->set_swedish_level(v1::SWEDISH_LEVEL_FLUENT);
  v1::MatchProfile person = Person();
  std::vector<MatchCandidate> c = {{&meets, {}}, {&one_below, {}}};
  v1::MatchPlacementsResponse r = RankPlacements(person, c, 10, 10);
  ASSERT_EQ(r.matches_size(), 2);
  EXPECT_EQ(r.matches(0).placement(), "placements/a");
  person.set_swedish_level(v1::SWEDISH_LEVEL_BASIC);
  r = RankPlacements(person, c, 10, 10);
  ASSERT_EQ(r.matches_size(), 1);
  EXPECT_EQ(r.excluded(0).conflict(), "swedish");
}

TEST(MatchingTest, SameInputSameOrderTiesByName) {
  std::vector<v1::Placement> places;
  for (const char* id : {"c", "a", "b"}) places.push_back(Place(id));
  std::vector<MatchCandidate> c;
  for (const auto& p : places) c.push_back({&p, {}});
  const v1::MatchPlacementsResponse first = RankPlacements(Person(), c, 2, 0);
  ASSERT_EQ(first.matches_size(), 2);
  EXPECT_EQ(first.matches(0).placement(), "placements/a");
  EXPECT_EQ(first.matches(1).placement(), "placements/b");
  std::reverse(c.begin(), c.end());
  EXPECT_EQ(RankPlacements(Person(), c, 2, 0).SerializeAsString(), first.SerializeAsString());
}

}  // namespace
}  // namespace samplan::placement
