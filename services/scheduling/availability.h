#ifndef SAMPLAN_SERVICES_SCHEDULING_AVAILABILITY_H_
#define SAMPLAN_SERVICES_SCHEDULING_AVAILABILITY_H_

// When people are free: working hours as weekly rules with dated exceptions in
// Europe/Stockholm, turned into instants day by day (so 09:00 is 09:00 on both
// sides of a daylight-saving change), and the common free time of several
// people. Pure and deterministic: the same input gives the same candidates in
// the same order. No I/O here.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "common/status.h"
#include "samplan/scheduling/v1/scheduling.pb.h"

namespace samplan::scheduling {

// Returns Europe/Stockholm (Abseil's zone from the system's tzdata); the
// process fails at start when the zone is missing.
const absl::TimeZone& StockholmZone();

// [start, end).
struct Interval {
  absl::Time start;
  absl::Time end;
  friend bool operator==(const Interval&, const Interval&) = default;
};

// Parses "HH:MM" (00:00 to 24:00) into minutes after midnight; -1 when it is
// none.
int MinuteOfDay(absl::string_view text);

// Checks working hours as SetWorkingHours receives them: every range a real
// time span with its start before its end, no two rules of one day
// overlapping, at most 21 rules, at most 400 exceptions each on its own real
// date, and every exception's times existing once on their date in Stockholm
// (not in the hour skipped in March, not in the hour repeated in October).
// Violations name "working_hours.…".
absl::Status ValidateWorkingHours(const v1::WorkingHours& hours);

// The working hours of someone who set none: Monday to Friday, 08:00 to 17:00.
v1::WorkingHours DefaultWorkingHours();

// Returns the working intervals of `hours` that overlap [from, to), in order:
// a day's exception replaces its weekly rules.
std::vector<Interval> WorkingIntervals(const v1::WorkingHours& hours, absl::Time from,
                                       absl::Time to);

// Returns `intervals` sorted with overlapping and touching ones merged.
std::vector<Interval> Merged(std::vector<Interval> intervals);

// One person's calendar for FindCommonSlots.
struct Calendar {
  std::string user;
  bool required = true;
  std::vector<Interval> working;  // sorted, merged
  std::vector<Interval> busy;     // imported busy time and booked meetings
};

struct SlotQuery {
  std::vector<Calendar> calendars;
  absl::Duration duration;
  absl::Time window_start;
  absl::Time window_end;
  int earliest_minute = 0;        // of the local day
  int latest_minute = 24 * 60;    // the slot ends by then
  absl::Duration buffer;          // kept free around busy time
  int max_candidates = 5;
  absl::Duration step = absl::Minutes(15);  // starts on local quarter hours
};

// Returns the ranked candidates and the obstacles before the best one. Starts
// are looked at every `step` of each local day from earliest_minute, the slot
// within the day's limits and the window; a person is free for a slot when a
// working interval covers it and no busy interval, widened by the buffer on
// both sides, touches it. Candidates are those where every required person is
// free, ranked by the number of optional people free (more first), then by
// start (earlier first). Obstacles count, for each required person, the
// starts before the best candidate at which they were busy or not working.
v1::FindCommonSlotsResponse FindCommonSlots(const SlotQuery& query);

// Checks a FindCommonSlotsRequest (violations name its fields) and returns the
// query it asks for, without calendars.
absl::StatusOr<SlotQuery> SlotQueryOf(const v1::FindCommonSlotsRequest& request);

}  // namespace samplan::scheduling

#endif  // SAMPLAN_SERVICES_SCHEDULING_AVAILABILITY_H_
