// Tier 1: the common-slot search against a plain reference on random
// calendars. The reference looks at every start and asks every calendar by
// binary search, as the first version of FindCommonSlots did; the sweep that
// replaced it for speed must answer exactly the same, obstacles and reasons
// included, across both daylight-saving changes.

#include <gtest/gtest.h>
#include <google/protobuf/util/message_differencer.h>

#include <algorithm>
#include <map>
#include <random>

#include "absl/strings/str_cat.h"
#include "services/scheduling/availability.h"
#include "services/scheduling/meeting_rules.h"

namespace samplan::scheduling {
namespace {

bool Covered(const std::vector<Interval>& intervals, absl::Time s, absl::Time e) {
  auto it = std::upper_bound(intervals.begin(), intervals.end(), s,
                             [](absl::Time t, const Interval& i) { return t < i.start; });
  if (it == intervals.begin()) return false;
  --it;
  return it->start <= s && e <= it->end;
}

bool Touches(const std::vector<Interval>& intervals, absl::Time s, absl::Time e) {
  auto it = std::lower_bound(intervals.begin(), intervals.end(), s,
                             [](const Interval& i, absl::Time t) { return i.end <= t; });
  return it != intervals.end() && it->start < e;
}

v1::FindCommonSlotsResponse ReferenceCommonSlots(const SlotQuery& query) {
  struct Prepared {
    const Calendar* calendar;
    std::vector<Interval> busy;  // widened by the buffer, merged
  };
  std::vector<Prepared> people;
  for (const Calendar& c : query.calendars) {
    std::vector<Interval> busy;
    for (const Interval& b : c.busy) busy.push_back({b.start - query.buffer, b.end + query.buffer});
    people.push_back({&c, Merged(std::move(busy))});
  }
  struct Candidate {
    absl::Time start;
    int optional_free = 0;
    std::vector<std::string> free_optional, missing_optional;
  };
  std::vector<Candidate> candidates;
  // Per required user: (busy, outside) counts at each start looked at, in
  // order, so that those before the best candidate can be summed afterwards.
  struct Miss {
    absl::Time start;
    const std::string* user;
    bool busy;
  };
  std::vector<Miss> misses;
  const int slot_minutes = static_cast<int>(absl::ToInt64Minutes(query.duration));
  const int step_minutes = std::max<int>(1, static_cast<int>(absl::ToInt64Minutes(query.step)));
  const absl::CivilDay first = absl::ToCivilDay(query.window_start, StockholmZone());
  const absl::CivilDay last = absl::ToCivilDay(query.window_end, StockholmZone());
  for (absl::CivilDay day = first; day <= last; ++day) {
    for (int minute = query.earliest_minute; minute + slot_minutes <= query.latest_minute;
         minute += step_minutes) {
      const absl::TimeZone::TimeInfo info = StockholmZone().At(absl::CivilMinute(day) + minute);
      // A start the clocks skip is no start; a repeated one is taken once,
      // at its first occurrence.
      if (info.kind == absl::TimeZone::TimeInfo::SKIPPED) continue;
      const absl::Time start = info.pre;
      const absl::Time end = start + query.duration;
      if (start < query.window_start || end > query.window_end) continue;
      Candidate candidate{start, 0, {}, {}};
      bool all_required = true;
      for (const Prepared& p : people) {
        const bool working = Covered(p.calendar->working, start, end);
        const bool busy = working && Touches(p.busy, start, end);
        const bool free = working && !busy;
        if (p.calendar->required) {
          if (!free) {
            all_required = false;
            misses.push_back({start, &p.calendar->user, busy});
          }
        } else if (free) {
          ++candidate.optional_free;
          candidate.free_optional.push_back(p.calendar->user);
        } else {
          candidate.missing_optional.push_back(p.calendar->user);
        }
      }
      if (all_required) candidates.push_back(std::move(candidate));
    }
  }
  std::stable_sort(candidates.begin(), candidates.end(),
                   [](const Candidate& a, const Candidate& b) {
                     if (a.optional_free != b.optional_free) {
                       return a.optional_free > b.optional_free;
                     }
                     return a.start < b.start;
                   });
  v1::FindCommonSlotsResponse response;
  int optional_count = 0;
  for (const Calendar& c : query.calendars) optional_count += c.required ? 0 : 1;
  for (size_t i = 0; i < candidates.size() && static_cast<int>(i) < query.max_candidates; ++i) {
    const Candidate& c = candidates[i];
    v1::SlotCandidate* out = response.add_candidates();
    *out->mutable_start_time() = TimestampOf(c.start);
    *out->mutable_end_time() = TimestampOf(c.start + query.duration);
    for (const std::string& u : c.free_optional) out->add_free_optional_users(u);
    for (const std::string& u : c.missing_optional) out->add_missing_optional_users(u);
    std::string reason = "all required free";
    if (optional_count > 0) {
      absl::StrAppend(&reason, "; ", c.optional_free, " of ", optional_count, " optional free");
    }
    if (i == 0 && !c.missing_optional.empty()) {
      absl::StrAppend(&reason, "; no time in the window has every optional one free");
    } else if (i > 0 && c.optional_free < candidates[0].optional_free) {
      absl::StrAppend(&reason, "; fewer optional free than the first");
    }
    out->set_reason(reason);
  }
  // The obstacles: why no earlier time was offered first.
  const absl::Time until =
      candidates.empty() ? absl::InfiniteFuture() : candidates.front().start;
  std::map<std::pair<std::string, bool>, int> counts;
  for (const Miss& m : misses) {
    if (m.start < until) ++counts[{*m.user, m.busy}];
  }
  for (const auto& [key, times] : counts) {
    v1::SlotObstacle* o = response.add_obstacles();
    o->set_user(key.first);
    o->set_reason(key.second ? "busy" : "outside_working_hours");
    o->set_times(times);
  }
  return response;
}


std::string HHMM(int minute) {
  return absl::StrCat(minute / 600, (minute / 60) % 10, ":", (minute % 60) / 10, minute % 10);
}

// Random weekly rules (one or two ranges on some days), a few dated
// exceptions, and busy blocks, in a window that may hold a change of clocks.
SlotQuery RandomQuery(std::mt19937& random) {
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(random); };
  // Windows around 28 March and 31 October 2027 and an ordinary week.
  static const absl::CivilDay kDays[] = {absl::CivilDay(2027, 3, 24), absl::CivilDay(2027, 10, 27),
                                         absl::CivilDay(2027, 5, 10)};
  const absl::CivilDay day = kDays[pick(0, 2)] + pick(0, 3);
  SlotQuery query;
  query.window_start = StockholmZone().At(absl::CivilMinute(day) + pick(0, 23 * 60)).pre;
  query.window_end = query.window_start + absl::Hours(pick(6, 24 * 9));
  query.duration = absl::Minutes(5 * pick(1, 36));
  query.buffer = absl::Minutes(5 * pick(0, 4));
  query.max_candidates = pick(1, 12);
  query.step = absl::Minutes(std::vector<int>{5, 15, 30}[pick(0, 2)]);
  if (pick(0, 1) == 1) {
    query.earliest_minute = 15 * pick(0, 40);
    query.latest_minute = std::min(24 * 60, query.earliest_minute + 15 * pick(1, 60));
  }
  const int people = pick(1, 6);
  for (int p = 0; p < people; ++p) {
    v1::WorkingHours hours;
    for (int weekday = 1; weekday <= 7; ++weekday) {
      if (pick(0, 4) == 0) continue;
      const int a = 15 * pick(0, 40), b = a + 15 * pick(1, 30);
      v1::WeeklyRule* rule = hours.add_weekly_rules();
      rule->set_day_of_week(weekday);
      rule->mutable_hours()->set_start_time(HHMM(a));
      rule->mutable_hours()->set_end_time(HHMM(std::min(b, 24 * 60)));
      if (b + 60 < 22 * 60 && pick(0, 2) == 0) {
        v1::WeeklyRule* evening = hours.add_weekly_rules();
        evening->set_day_of_week(weekday);
        evening->mutable_hours()->set_start_time(HHMM(b + 60));
        evening->mutable_hours()->set_end_time(HHMM(std::min(24 * 60, b + 60 + 15 * pick(1, 8))));
      }
    }
    if (pick(0, 2) == 0) {
      v1::DatedException* off = hours.add_exceptions();
      const absl::CivilDay d = day + pick(0, 5);
      off->mutable_date()->set_year(static_cast<int>(d.year()));
      off->mutable_date()->set_month(d.month());
      off->mutable_date()->set_day(d.day());
    }
    Calendar c{absl::StrCat("users/u", p), pick(0, 2) != 0,
               WorkingIntervals(hours, query.window_start, query.window_end), {}};
    const int blocks = pick(0, 25);
    for (int b = 0; b < blocks; ++b) {
      const absl::Time start = query.window_start - absl::Hours(2) + absl::Minutes(pick(0, 60 * 24 * 10));
      c.busy.push_back({start, start + absl::Minutes(5 * pick(1, 30))});
    }
    query.calendars.push_back(std::move(c));
  }
  return query;
}

TEST(FindCommonSlotsPropertyTest, AnswersAsThePlainSearchOnRandomCalendars) {
  std::mt19937 random(20271031);
  int with_candidates = 0, with_obstacles = 0;
  for (int round = 0; round < 1500; ++round) {
    const SlotQuery query = RandomQuery(random);
    const v1::FindCommonSlotsResponse expected = ReferenceCommonSlots(query);
    const v1::FindCommonSlotsResponse got = FindCommonSlots(query);
    with_candidates += expected.candidates_size() > 0 ? 1 : 0;
    with_obstacles += expected.obstacles_size() > 0 ? 1 : 0;
    ASSERT_TRUE(google::protobuf::util::MessageDifferencer::Equals(got, expected))
        << "round " << round << "\nexpected:\n"
        << expected.DebugString() << "\ngot:\n"
        << got.DebugString();
  }
  // The random calendars reach both kinds of answer.
  EXPECT_GT(with_candidates, 300);
  EXPECT_GT(with_obstacles, 300);
}

}  // namespace
}  // namespace samplan::scheduling
