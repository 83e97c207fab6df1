// Tier 1: busy time out of iCalendar files, read with libical.

#include "services/scheduling/calendar_import.h"

#include <gtest/gtest.h>

namespace samplan::scheduling {
namespace {

absl::Time Utc(int y, int m, int d, int hh, int mm = 0) {
  return absl::FromCivil(absl::CivilSecond(y, m, d, hh, mm, 0), absl::UTCTimeZone());
}

const absl::Time kFrom = Utc(2027, 3, 1, 0);
const absl::Time kTo = Utc(2027, 4, 1, 0);

TEST(BusyFromICalendarTest, KeepsOnlyTheTimeOfEventsThatTakeIt) {
  const std::string ics =
      "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n"
      "BEGIN:VEVENT\r\nUID:1\r\nDTSTAMP:20270101T000000Z\r\n"
      "DTSTART:20270301T080000Z\r\nDTEND:20270301T090000Z\r\nSUMMARY:Hemligt\r\nEND:VEVENT\r\n"
      "BEGIN:VEVENT\r\nUID:2\r\nDTSTAMP:20270101T000000Z\r\nTRANSP:TRANSPARENT\r\n"
      "DTSTART:20270302T080000Z\r\nDTEND:20270302T090000Z\r\nEND:VEVENT\r\n"
      "BEGIN:VEVENT\r\nUID:3\r\nDTSTAMP:20270101T000000Z\r\nSTATUS:CANCELLED\r\n"
      "DTSTART:20270303T080000Z\r\nDTEND:20270303T090000Z\r\nEND:VEVENT\r\n"
      // Floating local time after the spring change: 10:00 CEST = 08:00 UTC.
      "BEGIN:VEVENT\r\nUID:4\r\nDTSTAMP:20270101T000000Z\r\n"
      "DTSTART:20270329T100000\r\nDURATION:PT30M\r\nEND:VEVENT\r\n"
      "END:VCALENDAR\r\n";
  absl::StatusOr<std::vector<Interval>> busy = BusyFromICalendar(ics, kFrom, kTo, "calendar");
  ASSERT_TRUE(busy.ok()) << busy.status();
  EXPECT_EQ(*busy, (std::vector<Interval>{{Utc(2027, 3, 1, 8), Utc(2027, 3, 1, 9)},
                                          {Utc(2027, 3, 29, 8), Utc(2027, 3, 29, 8, 30)}}));
}

TEST(BusyFromICalendarTest, ReadsFreeBusyPeriodsButNotFreeOnes) {
  const std::string ics =
      "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n"
      "BEGIN:VFREEBUSY\r\nUID:fb\r\nDTSTAMP:20270101T000000Z\r\n"
      "FREEBUSY:20270310T080000Z/20270310T093000Z,20270311T120000Z/PT1H\r\n"
      "FREEBUSY;FBTYPE=FREE:20270312T080000Z/20270312T170000Z\r\n"
      "FREEBUSY;FBTYPE=BUSY-TENTATIVE:20270331T230000Z/20270401T010000Z\r\n"
      "END:VFREEBUSY\r\nEND:VCALENDAR\r\n";
  absl::StatusOr<std::vector<Interval>> busy = BusyFromICalendar(ics, kFrom, kTo, "calendar");
  ASSERT_TRUE(busy.ok()) << busy.status();
  EXPECT_EQ(*busy, (std::vector<Interval>{{Utc(2027, 3, 10, 8), Utc(2027, 3, 10, 9, 30)},
                                          {Utc(2027, 3, 11, 12), Utc(2027, 3, 11, 13)},
                                          // cut at the window's end
                                          {Utc(2027, 3, 31, 23), Utc(2027, 4, 1, 0)}}));
}

TEST(BusyFromICalendarTest, ConvertsByTheFilesOwnTimeZone) {
  const std::string ics =
      "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n"
      "BEGIN:VTIMEZONE\r\nTZID:Europe/Stockholm\r\n"
      "BEGIN:DAYLIGHT\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nTZNAME:CEST\r\n"
      "DTSTART:19700329T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nEND:DAYLIGHT\r\n"
      "BEGIN:STANDARD\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nTZNAME:CET\r\n"
      "DTSTART:19701025T030000\r\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nEND:STANDARD\r\n"
      "END:VTIMEZONE\r\n"
      "BEGIN:VEVENT\r\nUID:1\r\nDTSTAMP:20270101T000000Z\r\n"
      "DTSTART;TZID=Europe/Stockholm:20270326T090000\r\n"
      "DTEND;TZID=Europe/Stockholm:20270326T100000\r\nEND:VEVENT\r\n"
      "BEGIN:VEVENT\r\nUID:2\r\nDTSTAMP:20270101T000000Z\r\n"
      "DTSTART;TZID=Europe/Stockholm:20270329T090000\r\n"
      "DTEND;TZID=Europe/Stockholm:20270329T100000\r\nEND:VEVENT\r\n"
      "END:VCALENDAR\r\n";
  absl::StatusOr<std::vector<Interval>> busy = BusyFromICalendar(ics, kFrom, kTo, "calendar");
  ASSERT_TRUE(busy.ok()) << busy.status();
  EXPECT_EQ(*busy, (std::vector<Interval>{{Utc(2027, 3, 26, 8), Utc(2027, 3, 26, 9)},
                                          {Utc(2027, 3, 29, 7), Utc(2027, 3, 29, 8)}}));
}

TEST(BusyFromICalendarTest, RefusesWhatIsNoCalendarOrTooLarge) {
  EXPECT_EQ(BusyFromICalendar("hello", kFrom, kTo, "calendar").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(BusyFromICalendar("BEGIN:VCALENDAR\r\nthis is not", kFrom, kTo, "calendar")
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  const std::string huge(kMaxCalendarBytes + 1, 'x');
  EXPECT_EQ(FieldViolationsOf(BusyFromICalendar(huge, kFrom, kTo, "calendar").status())[0].first,
            "calendar");
}

}  // namespace
}  // namespace samplan::scheduling
