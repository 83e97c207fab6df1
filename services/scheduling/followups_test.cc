// Tier 1: when an agreement's follow-ups fall.

#include "services/scheduling/followups.h"

#include <gtest/gtest.h>

#include "services/scheduling/meeting_rules.h"

namespace samplan::scheduling {
namespace {

TEST(FollowUpDaysTest, AtLeastMonthlyOnWeekdaysWithinThePeriod) {
  // 1 February to 30 June 2027, every 30 days.
  const std::vector<absl::CivilDay> days =
      FollowUpDays(absl::CivilDay(2027, 2, 1), absl::CivilDay(2027, 6, 30), 30);
  ASSERT_EQ(days.size(), 4u);
  EXPECT_EQ(days[0], absl::CivilDay(2027, 3, 3));
  EXPECT_EQ(days[1], absl::CivilDay(2027, 4, 2));
  // 2 May is a Sunday: Friday 30 April.
  EXPECT_EQ(days[2], absl::CivilDay(2027, 4, 30));
  EXPECT_EQ(days[3], absl::CivilDay(2027, 6, 1));
  for (absl::CivilDay d : days) {
    EXPECT_NE(absl::GetWeekday(d), absl::Weekday::saturday);
    EXPECT_NE(absl::GetWeekday(d), absl::Weekday::sunday);
  }
}

TEST(FollowUpDaysTest, AnIntervalOutsideOneToThirtyOneIsMonthly) {
  EXPECT_EQ(FollowUpDays(absl::CivilDay(2027, 2, 1), absl::CivilDay(2027, 6, 30), 0),
            FollowUpDays(absl::CivilDay(2027, 2, 1), absl::CivilDay(2027, 6, 30), 30));
  EXPECT_EQ(FollowUpDays(absl::CivilDay(2027, 2, 1), absl::CivilDay(2027, 2, 20), 14).size(), 1u);
}

TEST(FollowUpMeetingTest, IsAProposedVisitAtTenInStockholm) {
  placement::v1::AgreementChanged a;
  a.set_agreement("agreements/a");
  a.set_person("persons/p");
  a.set_coordinator_organization("organizations/prakt");
  // 29 March 2027 is after the spring change: 10:00 CEST is 08:00 UTC.
  const v1::Meeting m = FollowUpMeeting(a, "1885", absl::CivilDay(2027, 3, 29), "users/anna");
  EXPECT_EQ(m.status(), v1::MEETING_STATUS_PROPOSED);
  EXPECT_EQ(m.kind(), v1::MEETING_KIND_FOLLOW_UP);
  EXPECT_EQ(absl::FormatTime(TimeOf(m.start_time()), absl::UTCTimeZone()),
            "2027-03-29T08:00:00+00:00");
  EXPECT_EQ(m.agreement(), "agreements/a");
  EXPECT_EQ(m.owner_organization(), "organizations/prakt");
}

}  // namespace
}  // namespace samplan::scheduling
