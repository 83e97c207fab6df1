// Tier 1: the calendar feed's text, read back with libical.

#include "services/scheduling/calendar_feed.h"

#include <gtest/gtest.h>
#include <libical/ical.h>

#include "absl/strings/match.h"
#include "services/scheduling/meeting_rules.h"

namespace samplan::scheduling {
namespace {

FeedEntry Entry(bool visible) {
  FeedEntry e;
  e.visible = visible;
  v1::Meeting& m = e.meeting;
  m.set_name("meetings/6f1c2a52-8f0e-4f8a-9a43-1d2f1e0b7c11");
  m.set_kind(v1::MEETING_KIND_FOLLOW_UP);
  m.set_title("Uppföljning hos Bageriet");
  m.set_person("persons/x");
  m.set_person_display_name("Anna Andersson");
  m.mutable_location()->set_address("Kristinavägen 2, Lindesberg");
  m.set_status(v1::MEETING_STATUS_BOOKED);
  m.set_revision(3);
  // 30 March 2027, 09:00 in Stockholm: summer time (UTC+2), two days after
  // the change.
  *m.mutable_start_time() =
      TimestampOf(absl::FromCivil(absl::CivilSecond(2027, 3, 30, 7, 0, 0), absl::UTCTimeZone()));
  *m.mutable_end_time() =
      TimestampOf(absl::FromCivil(absl::CivilSecond(2027, 3, 30, 8, 0, 0), absl::UTCTimeZone()));
  *m.mutable_update_time() =
      TimestampOf(absl::FromCivil(absl::CivilSecond(2027, 3, 1, 12, 0, 0), absl::UTCTimeZone()));
  return e;
}

TEST(CalendarFeedTest, WritesAStableUidSequenceZoneAndStatus) {
  const std::string text = WriteCalendarFeed({Entry(true)});
  icalcomponent* calendar = icalparser_parse_string(text.c_str());
  ASSERT_NE(calendar, nullptr);
  icalcomponent* zone = icalcomponent_get_first_component(calendar, ICAL_VTIMEZONE_COMPONENT);
  ASSERT_NE(zone, nullptr);
  icalcomponent* event = icalcomponent_get_first_component(calendar, ICAL_VEVENT_COMPONENT);
  ASSERT_NE(event, nullptr);
  EXPECT_STREQ(icalcomponent_get_uid(event), "6f1c2a52-8f0e-4f8a-9a43-1d2f1e0b7c11@samplan");
  EXPECT_EQ(icalcomponent_get_sequence(event), 2);
  EXPECT_EQ(icalcomponent_get_status(event), ICAL_STATUS_CONFIRMED);
  EXPECT_STREQ(icalcomponent_get_summary(event), "Uppföljning hos Bageriet – Anna Andersson");
  EXPECT_TRUE(absl::StrContains(text, "DTSTART;TZID=Europe/Stockholm:20270330T090000"));
  EXPECT_TRUE(absl::StrContains(text, "DTSTAMP:20270301T120000Z"));
  icalcomponent_free(calendar);
  // The same meetings, the same text: the ETag moves only with a change.
  EXPECT_EQ(FeedEtag(text), FeedEtag(WriteCalendarFeed({Entry(true)})));
  FeedEntry cancelled = Entry(true);
  cancelled.meeting.set_status(v1::MEETING_STATUS_CANCELLED);
  cancelled.meeting.set_revision(4);
  const std::string after = WriteCalendarFeed({cancelled});
  EXPECT_NE(FeedEtag(text), FeedEtag(after));
  EXPECT_TRUE(absl::StrContains(after, "STATUS:CANCELLED"));
  EXPECT_TRUE(absl::StrContains(after, "SEQUENCE:3"));
}

TEST(CalendarFeedTest, AMeetingTheOwnerMayNotSeeShowsOnlyItsKindAndPlace) {
  const std::string text = WriteCalendarFeed({Entry(false)});
  EXPECT_FALSE(absl::StrContains(text, "Anna"));
  EXPECT_FALSE(absl::StrContains(text, "Bageriet"));
  EXPECT_EQ(FeedSummary(Entry(false)), "Uppföljning, Kristinavägen 2, Lindesberg");
}

TEST(CalendarFeedTest, SecretsAreLongRandomAndStoredOnlyAsHashes) {
  const std::string a = NewFeedSecret();
  const std::string b = NewFeedSecret();
  EXPECT_TRUE(IsFeedSecret(a));
  EXPECT_NE(a, b);
  EXPECT_EQ(FeedSecretHash(a).size(), 64u);
  EXPECT_FALSE(absl::StrContains(FeedSecretHash(a), a));
  EXPECT_FALSE(IsFeedSecret("short"));
  EXPECT_FALSE(IsFeedSecret(std::string(43, '/')));
}

TEST(CalendarFeedTest, IfNoneMatchComparesWeaklyAndAcceptsLists) {
  EXPECT_TRUE(EtagMatches("\"a\"", "\"a\""));
  EXPECT_TRUE(EtagMatches("\"b\", W/\"a\"", "\"a\""));
  EXPECT_TRUE(EtagMatches("*", "\"a\""));
  EXPECT_FALSE(EtagMatches("\"b\"", "\"a\""));
}

// The person's name a feed shows is the organizer's to give, bounded, and only
// for a meeting about a person.
TEST(CalendarFeedTest, APersonsDisplayNameIsBoundedAndBelongsToAPerson) {
  const absl::Time now = absl::FromUnixSeconds(1798761600);  // 2027-01-01
  Principal organizer;
  organizer.organization = "organizations/prakt";
  organizer.municipality = "1885";
  organizer.user = "users/anna";
  organizer.roles = {"placement_coordinator"};
  v1::CreateMeetingRequest r;
  r.set_request_id("r1");
  v1::Meeting* m = r.mutable_meeting();
  m->set_kind(v1::MEETING_KIND_FOLLOW_UP);
  m->set_person("persons/11111111-1111-4111-8111-111111111111");
  m->set_person_display_name(std::string(101, 'x'));
  *m->mutable_start_time() = TimestampOf(now + absl::Hours(24));
  *m->mutable_end_time() = TimestampOf(now + absl::Hours(25));
  m->add_participants()->set_is_person(true);
  auto fields = [&] {
    std::vector<std::string> out;
    for (auto& [field, description] :
         FieldViolationsOf(MeetingForCreate(r, organizer, now).status())) {
      out.push_back(field);
    }
    return out;
  };
  EXPECT_EQ(fields(), std::vector<std::string>{"meeting.person_display_name"});
  m->set_person_display_name("Anna Andersson");
  EXPECT_TRUE(fields().empty());
  m->clear_person();
  m->clear_participants();
  EXPECT_EQ(fields(), std::vector<std::string>{"meeting.person_display_name"});
}

}  // namespace
}  // namespace samplan::scheduling
