// Tier 1: working hours and common free time, across both daylight-saving
// changes of 2027 (28 March and 31 October).

#include "services/scheduling/availability.h"

#include <gtest/gtest.h>

#include <map>

#include "services/scheduling/meeting_rules.h"

namespace samplan::scheduling {
namespace {

absl::Time Utc(int y, int m, int d, int hh, int mm = 0) {
  return absl::FromCivil(absl::CivilSecond(y, m, d, hh, mm, 0), absl::UTCTimeZone());
}

v1::WorkingHours NineToFive() {
  v1::WorkingHours hours;
  for (int day = 1; day <= 5; ++day) {
    v1::WeeklyRule* rule = hours.add_weekly_rules();
    rule->set_day_of_week(day);
    rule->mutable_hours()->set_start_time("09:00");
    rule->mutable_hours()->set_end_time("17:00");
  }
  return hours;
}

std::vector<std::string> Fields(const absl::Status& status) {
  std::vector<std::string> out;
  for (auto& [field, description] : FieldViolationsOf(status)) out.push_back(field);
  return out;
}

TEST(WorkingIntervalsTest, NineIsNineOnBothSidesOfTheSpringChange) {
  // Friday 26 March (UTC+1) and Monday 29 March (UTC+2).
  const std::vector<Interval> hours =
      WorkingIntervals(NineToFive(), Utc(2027, 3, 26, 0), Utc(2027, 3, 30, 0));
  ASSERT_EQ(hours.size(), 2u);
  EXPECT_EQ(hours[0], (Interval{Utc(2027, 3, 26, 8), Utc(2027, 3, 26, 16)}));
  EXPECT_EQ(hours[1], (Interval{Utc(2027, 3, 29, 7), Utc(2027, 3, 29, 15)}));
}

TEST(WorkingIntervalsTest, NineIsNineOnBothSidesOfTheAutumnChange) {
  // Friday 29 October (UTC+2) and Monday 1 November (UTC+1).
  const std::vector<Interval> hours =
      WorkingIntervals(NineToFive(), Utc(2027, 10, 29, 0), Utc(2027, 11, 2, 0));
  ASSERT_EQ(hours.size(), 2u);
  EXPECT_EQ(hours[0], (Interval{Utc(2027, 10, 29, 7), Utc(2027, 10, 29, 15)}));
  EXPECT_EQ(hours[1], (Interval{Utc(2027, 11, 1, 8), Utc(2027, 11, 1, 16)}));
}

TEST(WorkingIntervalsTest, AnExceptionReplacesTheDaysRules) {
  v1::WorkingHours hours = NineToFive();
  v1::DatedException* holiday = hours.add_exceptions();  // Långfredag
  holiday->mutable_date()->set_year(2027);
  holiday->mutable_date()->set_month(3);
  holiday->mutable_date()->set_day(26);
  v1::DatedException* short_day = hours.add_exceptions();
  short_day->mutable_date()->set_year(2027);
  short_day->mutable_date()->set_month(3);
  short_day->mutable_date()->set_day(29);
  short_day->add_hours()->set_start_time("13:00");
  short_day->mutable_hours(0)->set_end_time("15:00");
  const std::vector<Interval> intervals =
      WorkingIntervals(hours, Utc(2027, 3, 26, 0), Utc(2027, 3, 30, 0));
  ASSERT_EQ(intervals.size(), 1u);
  EXPECT_EQ(intervals[0], (Interval{Utc(2027, 3, 29, 11), Utc(2027, 3, 29, 13)}));
}

TEST(ValidateWorkingHoursTest, RefusesTimesTheClocksSkipOrRepeat) {
  v1::WorkingHours hours = NineToFive();
  v1::DatedException* spring = hours.add_exceptions();
  spring->mutable_date()->set_year(2027);
  spring->mutable_date()->set_month(3);
  spring->mutable_date()->set_day(28);
  spring->add_hours()->set_start_time("02:30");
  spring->mutable_hours(0)->set_end_time("04:00");
  v1::DatedException* autumn = hours.add_exceptions();
  autumn->mutable_date()->set_year(2027);
  autumn->mutable_date()->set_month(10);
  autumn->mutable_date()->set_day(31);
  autumn->add_hours()->set_start_time("01:00");
  autumn->mutable_hours(0)->set_end_time("02:30");
  EXPECT_EQ(Fields(ValidateWorkingHours(hours)),
            (std::vector<std::string>{"working_hours.exceptions[0].hours[0].start_time",
                                      "working_hours.exceptions[1].hours[0].end_time"}));
  // The same times on ordinary days are fine.
  spring->mutable_date()->set_day(21);
  autumn->mutable_date()->set_day(24);
  EXPECT_TRUE(ValidateWorkingHours(hours).ok());
}

TEST(ValidateWorkingHoursTest, RefusesOverlappingEmptyAndMalformedRules) {
  v1::WorkingHours hours = NineToFive();
  v1::WeeklyRule* overlap = hours.add_weekly_rules();
  overlap->set_day_of_week(1);
  overlap->mutable_hours()->set_start_time("16:00");
  overlap->mutable_hours()->set_end_time("18:00");
  v1::WeeklyRule* empty = hours.add_weekly_rules();
  empty->set_day_of_week(6);
  empty->mutable_hours()->set_start_time("10:00");
  empty->mutable_hours()->set_end_time("10:00");
  v1::WeeklyRule* bad = hours.add_weekly_rules();
  bad->set_day_of_week(8);
  bad->mutable_hours()->set_start_time("25:00");
  bad->mutable_hours()->set_end_time("9");
  EXPECT_EQ(Fields(ValidateWorkingHours(hours)),
            (std::vector<std::string>{"working_hours.weekly_rules[6].hours.end_time",
                                      "working_hours.weekly_rules[7].day_of_week",
                                      "working_hours.weekly_rules[7].hours.start_time",
                                      "working_hours.weekly_rules[7].hours.end_time",
                                      "working_hours.weekly_rules[5]"}));
}

SlotQuery Query(absl::Time from, absl::Time to) {
  SlotQuery query;
  query.duration = absl::Hours(1);
  query.window_start = from;
  query.window_end = to;
  return query;
}

Calendar Person(const std::string& user, bool required, absl::Time from, absl::Time to,
                std::vector<Interval> busy = {}) {
  return {user, required, WorkingIntervals(NineToFive(), from, to), std::move(busy)};
}

TEST(FindCommonSlotsTest, OffersNineLocalTimeAcrossTheSpringChange) {
  const absl::Time from = Utc(2027, 3, 26, 0), to = Utc(2027, 3, 30, 0);
  SlotQuery query = Query(from, to);
  // Anna is busy all of Friday; Bo is free.
  query.calendars = {Person("users/anna", true, from, to,
                            {{Utc(2027, 3, 26, 7), Utc(2027, 3, 26, 17)}}),
                     Person("users/bo", true, from, to)};
  const v1::FindCommonSlotsResponse slots = FindCommonSlots(query);
  ASSERT_GE(slots.candidates_size(), 2);
  EXPECT_EQ(TimeOf(slots.candidates(0).start_time()), Utc(2027, 3, 29, 7));  // 09:00 CEST
  EXPECT_EQ(TimeOf(slots.candidates(1).start_time()), Utc(2027, 3, 29, 7, 15));
  // Friday's 29 quarter-hour starts in working hours (09:00 to 16:00) were
  // Anna's busy time; the rest of the days before were outside working hours.
  std::map<std::pair<std::string, std::string>, int> obstacles;
  for (const v1::SlotObstacle& o : slots.obstacles()) obstacles[{o.user(), o.reason()}] = o.times();
  EXPECT_EQ(obstacles.size(), 3u);
  EXPECT_EQ((obstacles[{"users/anna", "busy"}]), 29);
  EXPECT_GT((obstacles[{"users/bo", "outside_working_hours"}]), 0);
}

TEST(FindCommonSlotsTest, OffersNineLocalTimeAcrossTheAutumnChange) {
  const absl::Time from = Utc(2027, 10, 30, 0), to = Utc(2027, 11, 3, 0);
  SlotQuery query = Query(from, to);
  query.earliest_minute = 9 * 60;
  query.calendars = {Person("users/anna", true, from, to)};
  const v1::FindCommonSlotsResponse slots = FindCommonSlots(query);
  ASSERT_GE(slots.candidates_size(), 1);
  EXPECT_EQ(TimeOf(slots.candidates(0).start_time()), Utc(2027, 11, 1, 8));  // 09:00 CET
  // The weekend's starts were outside working hours.
  ASSERT_EQ(slots.obstacles_size(), 1);
  EXPECT_EQ(slots.obstacles(0).reason(), "outside_working_hours");
}

TEST(FindCommonSlotsTest, RanksByOptionalPeopleThenTimeAndKeepsTheBuffer) {
  const absl::Time from = Utc(2027, 2, 1, 0), to = Utc(2027, 2, 2, 0);  // Monday (UTC+1)
  SlotQuery query = Query(from, to);
  query.buffer = absl::Minutes(15);
  query.max_candidates = 3;
  query.calendars = {
      // Anna has a meeting 10:00-11:00 local; with the buffer 09:00 and 11:00
      // are too close.
      Person("users/anna", true, from, to, {{Utc(2027, 2, 1, 9), Utc(2027, 2, 1, 10)}}),
      // Cilla, optional, is busy until 14:00 local: free from 14:15 with the
      // buffer.
      Person("users/cilla", false, from, to, {{Utc(2027, 2, 1, 8), Utc(2027, 2, 1, 13)}})};
  const v1::FindCommonSlotsResponse slots = FindCommonSlots(query);
  ASSERT_EQ(slots.candidates_size(), 3);
  EXPECT_EQ(TimeOf(slots.candidates(0).start_time()), Utc(2027, 2, 1, 13, 15));
  EXPECT_EQ(slots.candidates(0).free_optional_users_size(), 1);
  EXPECT_EQ(slots.candidates(0).reason(), "all required free; 1 of 1 optional free");
  // Determinism: the same input, the same answer.
  EXPECT_EQ(FindCommonSlots(query).SerializeAsString(), slots.SerializeAsString());
  // Without Cilla, the earliest time that keeps Anna's buffer: 11:15 local.
  query.calendars.pop_back();
  const v1::FindCommonSlotsResponse alone = FindCommonSlots(query);
  EXPECT_EQ(TimeOf(alone.candidates(0).start_time()), Utc(2027, 2, 1, 10, 15));
}

TEST(SlotQueryOfTest, NamesEveryBadField) {
  v1::FindCommonSlotsRequest request;
  for (int i = 0; i < 31; ++i) request.add_optional_users("users/u" + std::to_string(i));
  request.set_duration_minutes(0);
  *request.mutable_window_start() = TimestampOf(Utc(2027, 1, 1, 0));
  *request.mutable_window_end() = TimestampOf(Utc(2037, 1, 1, 0));  // ten years
  request.set_earliest_time_of_day("8.00");
  request.set_buffer_minutes(-1);
  EXPECT_EQ(Fields(SlotQueryOf(request).status()),
            (std::vector<std::string>{"required_users", "optional_users", "duration_minutes",
                                      "window_end", "earliest_time_of_day", "buffer_minutes"}));
}

}  // namespace
}  // namespace samplan::scheduling
