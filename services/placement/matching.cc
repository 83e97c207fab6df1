#include "services/placement/matching.h"

#include <algorithm>
#include <cmath>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/str_format.h"

namespace samplan::placement {
namespace {

using v1::PlacementKind;

constexpr double kFullDistanceKm = 2;
constexpr int kDefaultMaxDistanceKm = 30;

int Level(v1::SwedishLevel level) {
  // A person whose level is not stated is taken to have basic Swedish.
  return level == v1::SWEDISH_LEVEL_UNSPECIFIED ? v1::SWEDISH_LEVEL_BASIC : level;
}

int Demand(v1::PhysicalDemand demand) {
  return demand == v1::PHYSICAL_DEMAND_UNSPECIFIED ? v1::PHYSICAL_DEMAND_LIGHT : demand;
}

// ASCII case is ignored; interests are lower case by contract, titles may not
// be.
bool ContainsIgnoringCase(absl::string_view text, absl::string_view word) {
  const auto same = [](char a, char b) {
    return absl::ascii_tolower(static_cast<unsigned char>(a)) ==
           absl::ascii_tolower(static_cast<unsigned char>(b));
  };
  return std::search(text.begin(), text.end(), word.begin(), word.end(), same) != text.end();
}

bool Offers(const v1::Placement& placement, v1::Adaptation adaptation) {
  for (int a : placement.adaptations()) {
    if (a == adaptation) return true;
  }
  return false;
}

bool WantsKind(const v1::MatchProfile& profile, PlacementKind kind) {
  if (profile.kinds().empty()) return kind != v1::PLACEMENT_KIND_PRAO;
  for (int k : profile.kinds()) {
    if (k == kind) return true;
  }
  return false;
}

// The hours a person can work in a week.
double CapacityHours(const v1::MatchProfile& profile) {
  const int percent = profile.work_capacity_percent() == 0 ? 100 : profile.work_capacity_percent();
  return 40.0 * percent / 100.0;
}

// A candidate after the hard checks: its score parts as numbers. Reasons are
// written only for the ones returned.
struct Scored {
  const MatchCandidate* candidate;
  double distance_km;
  int free_seats;
  double distance, interest, language, fit;
  double total() const { return distance + interest + language + fit; }
};

// A hard conflict's code; its reason is written only for the exclusions
// returned.
struct Conflict {
  const char* code;
  std::string reason;
};

double InterestPoints(const v1::MatchProfile& profile, const v1::Placement& placement,
                      std::string* why) {
  for (const std::string& interest : profile.interests()) {
    if (interest == placement.industry()) {
      if (why) *why = absl::StrFormat("the industry %s is one of the interests", interest);
      return kInterestPoints;
    }
  }
  for (const std::string& interest : profile.interests()) {
    if (!interest.empty() && ContainsIgnoringCase(placement.title(), interest)) {
      if (why) *why = absl::StrFormat("the title mentions the interest %s", interest);
      return kInterestPoints / 2;
    }
  }
  if (why) {
    *why =
        profile.interests().empty()
            ? "no interests given"
            : absl::StrFormat("the industry %s is not among the interests", placement.industry());
  }
  return 0;
}

double LanguagePoints(const v1::MatchProfile& profile, const v1::Placement& placement,
                      std::string* why) {
  const int needed = placement.requirements().swedish_level();
  const int has = Level(profile.swedish_level());
  if (needed == v1::SWEDISH_LEVEL_UNSPECIFIED || has >= needed) {
    if (why) *why = needed == 0 ? "no Swedish requirement" : "meets the Swedish requirement";
    return kLanguagePoints;
  }
  if (why) *why = "Swedish one level below the requirement";
  return kLanguagePoints / 3;
}

// Fit of the place's demands and adaptations to the person's limitations:
// adaptations 15, physical demand 5, hours 5.
double FitPoints(const v1::MatchProfile& profile, const v1::Placement& placement,
                 std::string* why) {
  double points = 0;
  std::string text;
  if (profile.needed_adaptations().empty()) {
    points += 15;
    text = "needs no adaptation";
  } else {
    int offered = 0;
    for (int a : profile.needed_adaptations()) {
      offered += Offers(placement, static_cast<v1::Adaptation>(a));
    }
    points += 15.0 * offered / profile.needed_adaptations_size();
    text = absl::StrFormat("offers %d of %d adaptations needed", offered,
                           profile.needed_adaptations_size());
  }
  points += 5;  // physical demand within the limit: the hard check passed
  if (placement.hours_per_week() <= CapacityHours(profile)) {
    points += 5;
    absl::StrAppendFormat(&text, "; %d h/week within capacity", placement.hours_per_week());
  } else {
    points += 2;
    absl::StrAppendFormat(&text, "; %d h/week, to be reduced to %.0f", placement.hours_per_week(),
                          CapacityHours(profile));
  }
  if (why) *why = text;
  return points;
}

double DistancePoints(double km, double max_km) {
  if (km <= kFullDistanceKm) return kDistancePoints;
  return std::max(0.0, kDistancePoints * (1 - (km - kFullDistanceKm) / (max_km - kFullDistanceKm)));
}

// Returns the first hard conflict, or nullopt; `free_seats` and `km` are set
// when the checks got that far.
std::optional<Conflict> FirstConflict(const v1::MatchProfile& profile, const MatchCandidate& c,
                                      const DayRange& period, double max_km, int& free_seats,
                                      double& km, bool explain) {
  // Without `explain` the reasons stay empty: formatting them for every
  // excluded place of a large bank would cost more than the matching.

  const v1::Placement& p = *c.placement;
  if (p.status() != v1::PLACEMENT_STATUS_OPEN) return Conflict{"not_open", "not open"};
  if (!WantsKind(profile, p.kind())) {
    return Conflict{"kind", (explain ? absl::StrFormat("%s is not a kind the person wants",
                                                       v1::PlacementKind_Name(p.kind()))
                                     : std::string())};
  }
  if (!Available(p, period)) return Conflict{"not_available", "not available for the period"};
  free_seats = FreeSeats(p.seats(), c.taken, period);
  if (free_seats <= 0) {
    return Conflict{
        "no_free_seat",
        (explain ? absl::StrFormat("all %d seats taken in the period", p.seats()) : std::string())};
  }
  if (p.requirements().minimum_age() > 0 && profile.age() < p.requirements().minimum_age()) {
    return Conflict{"too_young",
                    (explain ? absl::StrFormat("minimum age %d", p.requirements().minimum_age())
                             : std::string())};
  }
  if (p.requirements().driving_licence() && !profile.has_driving_licence()) {
    return Conflict{"driving_licence", "needs a driving licence"};
  }
  km = DistanceKm(profile.home(), p.location());
  if (km > max_km) {
    return Conflict{
        "distance",
        (explain ? absl::StrFormat("%.1f km away, more than %.0f km", km, max_km) : std::string())};
  }
  if (profile.max_physical_demand() != v1::PHYSICAL_DEMAND_UNSPECIFIED &&
      Demand(p.requirements().physical_demand()) > profile.max_physical_demand()) {
    return Conflict{"physical_demand", "physically more demanding than the person can take"};
  }
  if (p.hours_per_week() > CapacityHours(profile) && !Offers(p, v1::ADAPTATION_REDUCED_HOURS)) {
    return Conflict{"hours",
                    (explain ? absl::StrFormat("%d h/week, more than the person's %.0f, and hours "
                                               "cannot be reduced",
                                               p.hours_per_week(), CapacityHours(profile))
                             : std::string())};
  }
  if (p.requirements().swedish_level() != v1::SWEDISH_LEVEL_UNSPECIFIED &&
      Level(profile.swedish_level()) + 1 < p.requirements().swedish_level()) {
    return Conflict{"swedish", "needs Swedish two or more levels above the person's"};
  }
  return std::nullopt;
}

void AddPart(v1::PlacementMatch& match, const char* factor, double points, double max,
             std::string reason) {
  v1::ScorePart* part = match.add_parts();
  part->set_factor(factor);
  part->set_points(std::round(points * 10) / 10);
  part->set_max_points(max);
  part->set_reason(std::move(reason));
}

}  // namespace

absl::CivilDay DayOf(const google::type::Date& date) {
  return absl::CivilDay(date.year(), date.month(), date.day());
}

google::type::Date DateOf(absl::CivilDay day) {
  google::type::Date date;
  date.set_year(static_cast<int32_t>(day.year()));
  date.set_month(day.month());
  date.set_day(day.day());
  return date;
}

DayRange RangeOf(const v1::DateRange& range) {
  return {DayOf(range.start_date()), DayOf(range.end_date())};
}

int FreeSeats(int seats, absl::Span<const DayRange> taken, const DayRange& period) {
  // Sweep over the start and end days of the overlapping agreements, clipped to
  // the period: the most at once is what holds seats on the worst day.
  std::vector<std::pair<absl::CivilDay, int>> edges;
  for (const DayRange& t : taken) {
    if (!t.Overlaps(period)) continue;
    edges.emplace_back(std::max(t.start, period.start), +1);
    edges.emplace_back(std::min(t.end, period.end) + 1, -1);
  }
  // Ends before starts on the same day: an agreement ending the day before
  // another begins does not overlap it.
  std::sort(edges.begin(), edges.end());
  int now = 0, most = 0;
  for (const auto& edge : edges) {
    now += edge.second;
    most = std::max(most, now);
  }
  return seats - most;
}

bool Available(const v1::Placement& placement, const DayRange& period) {
  for (const v1::DateRange& range : placement.availability()) {
    const DayRange r = RangeOf(range);
    if (r.start <= period.start && period.end <= r.end) return true;
  }
  return false;
}

double DistanceKm(const v1::GeoPoint& a, const v1::GeoPoint& b) {
  constexpr double kEarthRadiusKm = 6371.0;
  constexpr double kRadians = M_PI / 180.0;
  const double dlat = (b.latitude() - a.latitude()) * kRadians;
  const double dlon = (b.longitude() - a.longitude()) * kRadians;
  const double h = std::sin(dlat / 2) * std::sin(dlat / 2) +
                   std::cos(a.latitude() * kRadians) * std::cos(b.latitude() * kRadians) *
                       std::sin(dlon / 2) * std::sin(dlon / 2);
  return 2 * kEarthRadiusKm * std::asin(std::min(1.0, std::sqrt(h)));
}

v1::MatchPlacementsResponse RankPlacements(const v1::MatchProfile& profile,
                                           absl::Span<const MatchCandidate> candidates, int limit,
                                           int max_excluded) {
  const DayRange period = RangeOf(profile.period());
  const double max_km =
      profile.max_distance_km() == 0 ? kDefaultMaxDistanceKm : profile.max_distance_km();
  v1::MatchPlacementsResponse response;
  response.set_considered(static_cast<int32_t>(candidates.size()));

  std::vector<Scored> scored;
  std::vector<std::pair<const MatchCandidate*, Conflict>> excluded;
  scored.reserve(candidates.size());
  for (const MatchCandidate& c : candidates) {
    int free_seats = 0;
    double km = 0;
    if (std::optional<Conflict> conflict =
            FirstConflict(profile, c, period, max_km, free_seats, km, false)) {
      if (max_excluded > 0) excluded.emplace_back(&c, *std::move(conflict));
      continue;
    }
    const v1::Placement& p = *c.placement;
    scored.push_back({&c, km, free_seats, DistancePoints(km, max_km),
                      InterestPoints(profile, p, nullptr), LanguagePoints(profile, p, nullptr),
                      FitPoints(profile, p, nullptr)});
  }

  const auto better = [](const Scored& a, const Scored& b) {
    if (a.total() != b.total()) return a.total() > b.total();
    return a.candidate->placement->name() < b.candidate->placement->name();
  };
  const size_t n = std::min(scored.size(), static_cast<size_t>(std::max(limit, 0)));
  std::partial_sort(scored.begin(), scored.begin() + n, scored.end(), better);
  for (size_t i = 0; i < n; ++i) {
    const Scored& s = scored[i];
    const v1::Placement& p = *s.candidate->placement;
    v1::PlacementMatch* match = response.add_matches();
    match->set_placement(p.name());
    match->set_title(p.title());
    match->set_employer(p.employer());
    match->set_distance_km(std::round(s.distance_km * 10) / 10);
    match->set_free_seats(s.free_seats);
    std::string why;
    AddPart(*match, "distance", s.distance, kDistancePoints,
            absl::StrFormat("%.1f km from home", s.distance_km));
    InterestPoints(profile, p, &why);
    AddPart(*match, "interest", s.interest, kInterestPoints, why);
    LanguagePoints(profile, p, &why);
    AddPart(*match, "language", s.language, kLanguagePoints, why);
    FitPoints(profile, p, &why);
    AddPart(*match, "fit", s.fit, kFitPoints, why);
    match->set_score(std::round(s.total() * 10) / 10);
  }

  const size_t shown = std::min(excluded.size(), static_cast<size_t>(std::max(max_excluded, 0)));
  std::partial_sort(excluded.begin(), excluded.begin() + shown, excluded.end(),
                    [](const auto& a, const auto& b) {
                      return a.first->placement->name() < b.first->placement->name();
                    });
  for (size_t i = 0; i < shown; ++i) {
    int free_seats = 0;
    double km = 0;
    const Conflict explained =
        *FirstConflict(profile, *excluded[i].first, period, max_km, free_seats, km, true);
    v1::ExcludedPlacement* out = response.add_excluded();
    out->set_placement(excluded[i].first->placement->name());
    out->set_conflict(explained.code);
    out->set_reason(explained.reason);
  }
  return response;
}

}  // namespace samplan::placement
