#include "services/scheduling/availability.h"

#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/ids.h"
#include "services/scheduling/meeting_rules.h"

namespace samplan::scheduling {
namespace {

constexpr int kMaxRules = 21;
constexpr int kMaxExceptions = 400;
constexpr int kMaxUsers = 30;
constexpr absl::Duration kLongestSearch = absl::Hours(24 * 62);

absl::Weekday WeekdayOf(int day_of_week) {
  static constexpr absl::Weekday kDays[] = {
      absl::Weekday::monday, absl::Weekday::tuesday,  absl::Weekday::wednesday,
      absl::Weekday::thursday, absl::Weekday::friday, absl::Weekday::saturday,
      absl::Weekday::sunday};
  return kDays[day_of_week - 1];
}

bool RealDate(const google::type::Date& d) {
  if (d.year() < 2000 || d.year() > 2100 || d.month() < 1 || d.month() > 12 || d.day() < 1) {
    return false;
  }
  const absl::CivilDay day(d.year(), d.month(), d.day());
  return day.year() == d.year() && day.month() == d.month() && day.day() == d.day();
}

absl::CivilDay DayOf(const google::type::Date& d) {
  return absl::CivilDay(d.year(), d.month(), d.day());
}

// The instant of `minute` after midnight of `day` in Stockholm; minute 1440 is
// the next midnight. A time skipped by the spring change maps as Abseil's
// `pre` (the instant the clock would have shown it before the change).
absl::Time At(absl::CivilDay day, int minute) {
  return StockholmZone().At(absl::CivilMinute(day) + minute).pre;
}

// Checks that `minute` of `day` exists once in Stockholm.
void CheckExistsOnce(absl::CivilDay day, int minute, const std::string& field,
                     FieldViolations& v) {
  if (minute == 24 * 60) return;
  const absl::TimeZone::TimeInfo info = StockholmZone().At(absl::CivilMinute(day) + minute);
  if (info.kind == absl::TimeZone::TimeInfo::SKIPPED) {
    v.Add(field, "does not exist on that date in Europe/Stockholm (the clocks skip it)");
  } else if (info.kind == absl::TimeZone::TimeInfo::REPEATED) {
    v.Add(field, "happens twice on that date in Europe/Stockholm (the clocks go back)");
  }
}

// Checks a range; returns [start, end) minutes or {-1, -1}.
std::pair<int, int> CheckRange(const v1::LocalTimeRange& range, const std::string& field,
                               FieldViolations& v) {
  const int start = MinuteOfDay(range.start_time());
  const int end = MinuteOfDay(range.end_time());
  if (start < 0) v.Add(field + ".start_time", "must be HH:MM");
  if (end < 0) v.Add(field + ".end_time", "must be HH:MM");
  if (start < 0 || end < 0) return {-1, -1};
  if (end <= start) {
    v.Add(field + ".end_time", "must be after start_time (an empty or backwards range)");
    return {-1, -1};
  }
  return {start, end};
}

// Checks that the ranges of one day do not overlap.
void CheckNoOverlap(std::vector<std::pair<std::pair<int, int>, std::string>> ranges,
                    FieldViolations& v) {
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i) {
    if (ranges[i].first.first < ranges[i - 1].first.second) {
      v.Add(ranges[i].second, absl::StrCat("overlaps ", ranges[i - 1].second));
    }
  }
}

}  // namespace

const absl::TimeZone& StockholmZone() {
  static const absl::TimeZone* zone = [] {
    auto* z = new absl::TimeZone;
    if (!absl::LoadTimeZone("Europe/Stockholm", z)) {
      // Without the zone every local time would be UTC: an hour off half the
      // year. Better to stop than to book wrongly.
      abort();
    }
    return z;
  }();
  return *zone;
}

int MinuteOfDay(absl::string_view text) {
  int hours = 0, minutes = 0;
  if (text.size() != 5 || text[2] != ':' || !absl::SimpleAtoi(text.substr(0, 2), &hours) ||
      !absl::SimpleAtoi(text.substr(3, 2), &minutes) || !absl::ascii_isdigit(text[0]) ||
      !absl::ascii_isdigit(text[3])) {
    return -1;
  }
  if (hours < 0 || minutes < 0 || minutes > 59 || hours > 24 || (hours == 24 && minutes != 0)) {
    return -1;
  }
  return hours * 60 + minutes;
}

absl::Status ValidateWorkingHours(const v1::WorkingHours& hours) {
  FieldViolations v;
  if (hours.weekly_rules_size() > kMaxRules) {
    v.Add("working_hours.weekly_rules", absl::StrCat("at most ", kMaxRules, " rules"));
    return v.ToStatus();
  }
  if (hours.exceptions_size() > kMaxExceptions) {
    v.Add("working_hours.exceptions", absl::StrCat("at most ", kMaxExceptions, " exceptions"));
    return v.ToStatus();
  }
  std::map<int, std::vector<std::pair<std::pair<int, int>, std::string>>> by_day;
  for (int i = 0; i < hours.weekly_rules_size(); ++i) {
    const v1::WeeklyRule& rule = hours.weekly_rules(i);
    const std::string field = absl::StrCat("working_hours.weekly_rules[", i, "]");
    if (rule.day_of_week() < 1 || rule.day_of_week() > 7) {
      v.Add(field + ".day_of_week", "must be 1 (Monday) to 7 (Sunday)");
    }
    const auto range = CheckRange(rule.hours(), field + ".hours", v);
    if (range.first >= 0) by_day[rule.day_of_week()].push_back({range, field});
  }
  for (auto& [day, ranges] : by_day) CheckNoOverlap(std::move(ranges), v);
  std::set<absl::CivilDay> dates;
  for (int i = 0; i < hours.exceptions_size(); ++i) {
    const v1::DatedException& e = hours.exceptions(i);
    const std::string field = absl::StrCat("working_hours.exceptions[", i, "]");
    if (!RealDate(e.date())) {
      v.Add(field + ".date", "must be a real date");
      continue;
    }
    if (!dates.insert(DayOf(e.date())).second) v.Add(field + ".date", "is given twice");
    std::vector<std::pair<std::pair<int, int>, std::string>> ranges;
    for (int j = 0; j < e.hours_size(); ++j) {
      const std::string range_field = absl::StrCat(field, ".hours[", j, "]");
      const auto range = CheckRange(e.hours(j), range_field, v);
      if (range.first < 0) continue;
      CheckExistsOnce(DayOf(e.date()), range.first, range_field + ".start_time", v);
      CheckExistsOnce(DayOf(e.date()), range.second, range_field + ".end_time", v);
      ranges.push_back({range, range_field});
    }
    CheckNoOverlap(std::move(ranges), v);
  }
  return v.ToStatus();
}

v1::WorkingHours DefaultWorkingHours() {
  v1::WorkingHours hours;
  for (int day = 1; day <= 5; ++day) {
    v1::WeeklyRule* rule = hours.add_weekly_rules();
    rule->set_day_of_week(day);
    rule->mutable_hours()->set_start_time("08:00");
    rule->mutable_hours()->set_end_time("17:00");
  }
  hours.set_time_zone("Europe/Stockholm");
  hours.set_is_default(true);
  return hours;
}

std::vector<Interval> WorkingIntervals(const v1::WorkingHours& hours, absl::Time from,
                                       absl::Time to) {
  std::vector<Interval> out;
  if (to <= from) return out;
  std::map<absl::CivilDay, const v1::DatedException*> exceptions;
  for (const v1::DatedException& e : hours.exceptions()) {
    if (RealDate(e.date())) exceptions[DayOf(e.date())] = &e;
  }
  // A day either side: a local day's hours can lie in the UTC day before.
  const absl::CivilDay first = absl::ToCivilDay(from, StockholmZone()) - 1;
  const absl::CivilDay last = absl::ToCivilDay(to, StockholmZone()) + 1;
  for (absl::CivilDay day = first; day <= last; ++day) {
    auto add = [&](const v1::LocalTimeRange& range) {
      const int s = MinuteOfDay(range.start_time()), e = MinuteOfDay(range.end_time());
      if (s < 0 || e <= s) return;
      const Interval interval{At(day, s), At(day, e)};
      if (interval.end > from && interval.start < to && interval.start < interval.end) {
        out.push_back(interval);
      }
    };
    auto exception = exceptions.find(day);
    if (exception != exceptions.end()) {
      for (const v1::LocalTimeRange& range : exception->second->hours()) add(range);
      continue;
    }
    for (const v1::WeeklyRule& rule : hours.weekly_rules()) {
      if (rule.day_of_week() >= 1 && rule.day_of_week() <= 7 &&
          WeekdayOf(rule.day_of_week()) == absl::GetWeekday(day)) {
        add(rule.hours());
      }
    }
  }
  return Merged(std::move(out));
}

std::vector<Interval> Merged(std::vector<Interval> intervals) {
  std::sort(intervals.begin(), intervals.end(), [](const Interval& a, const Interval& b) {
    return a.start < b.start || (a.start == b.start && a.end < b.end);
  });
  std::vector<Interval> out;
  for (const Interval& i : intervals) {
    if (i.end <= i.start) continue;
    if (!out.empty() && i.start <= out.back().end) {
      out.back().end = std::max(out.back().end, i.end);
    } else {
      out.push_back(i);
    }
  }
  return out;
}

v1::FindCommonSlotsResponse FindCommonSlots(const SlotQuery& query) {
  // Each person's calendar is swept once, in time order: the starts looked at
  // only move forward, so a cursor into the working and the busy intervals
  // replaces a search per start. What each required person was at each start
  // is kept as one byte, and the obstacles are counted from those bytes once
  // the best candidate is known.
  enum State : uint8_t { kFree, kBusy, kOutside };
  struct Person {
    const Calendar* calendar;
    std::vector<Interval> working;  // merged
    std::vector<Interval> busy;     // widened by the buffer, merged
    size_t next_working = 0, next_busy = 0;
    absl::Time last_start = absl::InfinitePast();

    State At(absl::Time s, absl::Time e) {
      if (s < last_start) next_working = next_busy = 0;  // never, starts only rise
      last_start = s;
      while (next_working < working.size() && working[next_working].end <= s) ++next_working;
      if (next_working == working.size() || working[next_working].start > s ||
          e > working[next_working].end) {
        return kOutside;
      }
      while (next_busy < busy.size() && busy[next_busy].end <= s) ++next_busy;
      return next_busy < busy.size() && busy[next_busy].start < e ? kBusy : kFree;
    }
  };
  std::vector<Person> required, optional;
  for (const Calendar& c : query.calendars) {
    std::vector<Interval> busy;
    busy.reserve(c.busy.size());
    for (const Interval& b : c.busy) busy.push_back({b.start - query.buffer, b.end + query.buffer});
    (c.required ? required : optional)
        .push_back({&c, Merged(c.working), Merged(std::move(busy))});
  }
  std::vector<absl::Time> starts;      // every start looked at, in order
  std::vector<uint8_t> required_state;  // starts × required
  std::vector<uint8_t> optional_state;  // starts × optional
  struct Candidate {
    absl::Time start;
    int optional_free;
    size_t index;
  };
  std::vector<Candidate> candidates;
  const int slot_minutes = static_cast<int>(absl::ToInt64Minutes(query.duration));
  const int step_minutes = std::max<int>(1, static_cast<int>(absl::ToInt64Minutes(query.step)));
  const absl::TimeZone& zone = StockholmZone();
  const absl::CivilDay first = absl::ToCivilDay(query.window_start, zone);
  const absl::CivilDay last = absl::ToCivilDay(query.window_end, zone);
  for (absl::CivilDay day = first; day <= last; ++day) {
    // On a day without a change of the clocks, a local minute is midnight
    // plus that many minutes; only the two change days ask the zone each time.
    const absl::Time midnight = zone.At(absl::CivilMinute(day)).pre;
    absl::TimeZone::CivilTransition change;
    const bool steady = !zone.NextTransition(midnight, &change) ||
                        absl::CivilDay(change.from) > day;
    for (int minute = query.earliest_minute; minute + slot_minutes <= query.latest_minute;
         minute += step_minutes) {
      absl::Time start;
      if (steady) {
        start = midnight + absl::Minutes(minute);
      } else {
        const absl::TimeZone::TimeInfo info = zone.At(absl::CivilMinute(day) + minute);
        // A start the clocks skip is no start; a repeated one is taken once,
        // at its first occurrence.
        if (info.kind == absl::TimeZone::TimeInfo::SKIPPED) continue;
        start = info.pre;
      }
      const absl::Time end = start + query.duration;
      if (start < query.window_start || end > query.window_end) continue;
      const size_t index = starts.size();
      starts.push_back(start);
      bool all_required = true;
      for (Person& p : required) {
        const State state = p.At(start, end);
        required_state.push_back(state);
        all_required &= state == kFree;
      }
      int optional_free = 0;
      for (Person& p : optional) {
        const State state = p.At(start, end);
        optional_state.push_back(state);
        optional_free += state == kFree ? 1 : 0;
      }
      if (all_required) candidates.push_back({start, optional_free, index});
    }
  }
  // Starts are distinct and in order, so a stable sort on the number of
  // optional people free keeps the earlier of equals first.
  std::stable_sort(candidates.begin(), candidates.end(),
                   [](const Candidate& a, const Candidate& b) {
                     return a.optional_free > b.optional_free;
                   });
  v1::FindCommonSlotsResponse response;
  const int optional_count = static_cast<int>(optional.size());
  for (size_t i = 0; i < candidates.size() && static_cast<int>(i) < query.max_candidates; ++i) {
    const Candidate& c = candidates[i];
    v1::SlotCandidate* out = response.add_candidates();
    *out->mutable_start_time() = TimestampOf(c.start);
    *out->mutable_end_time() = TimestampOf(c.start + query.duration);
    bool someone_missing = false;
    for (size_t k = 0; k < optional.size(); ++k) {
      if (optional_state[c.index * optional.size() + k] == kFree) {
        out->add_free_optional_users(optional[k].calendar->user);
      } else {
        out->add_missing_optional_users(optional[k].calendar->user);
        someone_missing = true;
      }
    }
    std::string reason = "all required free";
    if (optional_count > 0) {
      absl::StrAppend(&reason, "; ", c.optional_free, " of ", optional_count, " optional free");
    }
    if (i == 0 && someone_missing) {
      absl::StrAppend(&reason, "; no time in the window has every optional one free");
    } else if (i > 0 && c.optional_free < candidates[0].optional_free) {
      absl::StrAppend(&reason, "; fewer optional free than the first");
    }
    out->set_reason(reason);
  }
  // The obstacles: why no earlier time was offered first.
  const absl::Time until =
      candidates.empty() ? absl::InfiniteFuture() : candidates.front().start;
  std::vector<int> busy_times(required.size()), outside_times(required.size());
  for (size_t s = 0; s < starts.size() && starts[s] < until; ++s) {
    for (size_t k = 0; k < required.size(); ++k) {
      const uint8_t state = required_state[s * required.size() + k];
      busy_times[k] += state == kBusy ? 1 : 0;
      outside_times[k] += state == kOutside ? 1 : 0;
    }
  }
  std::map<std::pair<std::string, bool>, int> counts;
  for (size_t k = 0; k < required.size(); ++k) {
    if (busy_times[k] > 0) counts[{required[k].calendar->user, true}] += busy_times[k];
    if (outside_times[k] > 0) counts[{required[k].calendar->user, false}] += outside_times[k];
  }
  for (const auto& [key, times] : counts) {
    v1::SlotObstacle* o = response.add_obstacles();
    o->set_user(key.first);
    o->set_reason(key.second ? "busy" : "outside_working_hours");
    o->set_times(times);
  }
  return response;
}

absl::StatusOr<SlotQuery> SlotQueryOf(const v1::FindCommonSlotsRequest& request) {
  FieldViolations v;
  SlotQuery query;
  std::set<std::string> seen;
  auto check_users = [&](const google::protobuf::RepeatedPtrField<std::string>& users,
                         const char* field, bool required) {
    if (users.size() > kMaxUsers) {
      v.Add(field, absl::StrCat("holds ", users.size(), " users; at most ", kMaxUsers));
      return;
    }
    for (int i = 0; i < users.size(); ++i) {
      const std::string f = absl::StrCat(field, "[", i, "]");
      if (!IsResourceName(users[i], "users")) {
        v.Add(f, "must be users/{id}");
      } else if (!seen.insert(users[i]).second) {
        v.Add(f, "names a user already named");
      } else {
        query.calendars.push_back({users[i], required, {}, {}});
      }
    }
  };
  if (request.required_users().empty()) v.Add("required_users", "name at least one user");
  check_users(request.required_users(), "required_users", true);
  check_users(request.optional_users(), "optional_users", false);
  if (request.duration_minutes() < 5 || request.duration_minutes() > 480) {
    v.Add("duration_minutes", "must be 5 to 480");
  }
  query.duration = absl::Minutes(request.duration_minutes());
  if (!request.has_window_start()) v.Add("window_start", "is required");
  if (!request.has_window_end()) v.Add("window_end", "is required");
  query.window_start = TimeOf(request.window_start());
  query.window_end = TimeOf(request.window_end());
  if (request.has_window_start() && request.has_window_end()) {
    if (query.window_end <= query.window_start) {
      v.Add("window_end", "must be after window_start");
    } else if (query.window_end - query.window_start > kLongestSearch) {
      v.Add("window_end", "must be at most 62 days after window_start");
    }
  }
  if (!request.earliest_time_of_day().empty()) {
    query.earliest_minute = MinuteOfDay(request.earliest_time_of_day());
    if (query.earliest_minute < 0) v.Add("earliest_time_of_day", "must be HH:MM");
  }
  if (!request.latest_time_of_day().empty()) {
    query.latest_minute = MinuteOfDay(request.latest_time_of_day());
    if (query.latest_minute < 0) v.Add("latest_time_of_day", "must be HH:MM");
  }
  if (query.earliest_minute >= 0 && query.latest_minute >= 0 &&
      query.latest_minute <= query.earliest_minute) {
    v.Add("latest_time_of_day", "must be after earliest_time_of_day");
  }
  if (request.buffer_minutes() < 0 || request.buffer_minutes() > 120) {
    v.Add("buffer_minutes", "must be 0 to 120");
  }
  query.buffer = absl::Minutes(request.buffer_minutes());
  if (request.max_candidates() < 0 || request.max_candidates() > 50) {
    v.Add("max_candidates", "must be 0 (5) to 50");
  }
  query.max_candidates = request.max_candidates() == 0 ? 5 : request.max_candidates();
  if (!v.empty()) return v.ToStatus();
  return query;
}

}  // namespace samplan::scheduling
