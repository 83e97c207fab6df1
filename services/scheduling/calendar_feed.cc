#include "services/scheduling/calendar_feed.h"

#include <libical/ical.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "services/scheduling/availability.h"
#include "services/scheduling/meeting_rules.h"

namespace samplan::scheduling {
namespace {

struct ComponentFree {
  void operator()(icalcomponent* c) const { icalcomponent_free(c); }
};
using Component = std::unique_ptr<icalcomponent, ComponentFree>;

constexpr char kZoneId[] = "Europe/Stockholm";

// Stockholm's rules since 1996 (the EU's: last Sunday of March and of
// October), as calendar programs write them. Parsed by libical, so a typo here
// fails the tests rather than a subscriber's calendar.
constexpr char kStockholmTimeZone[] =
    "BEGIN:VTIMEZONE\r\n"
    "TZID:Europe/Stockholm\r\n"
    "X-LIC-LOCATION:Europe/Stockholm\r\n"
    "BEGIN:DAYLIGHT\r\n"
    "TZNAME:CEST\r\n"
    "TZOFFSETFROM:+0100\r\n"
    "TZOFFSETTO:+0200\r\n"
    "DTSTART:19700329T020000\r\n"
    "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\n"
    "END:DAYLIGHT\r\n"
    "BEGIN:STANDARD\r\n"
    "TZNAME:CET\r\n"
    "TZOFFSETFROM:+0200\r\n"
    "TZOFFSETTO:+0100\r\n"
    "DTSTART:19701025T030000\r\n"
    "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\n"
    "END:STANDARD\r\n"
    "END:VTIMEZONE\r\n";

// A time in Stockholm, with TZID=Europe/Stockholm.
icalproperty* LocalTime(icalproperty* (*make)(struct icaltimetype), absl::Time t) {
  const absl::CivilSecond c = absl::ToCivilSecond(t, StockholmZone());
  icaltimetype local = icaltime_null_time();
  local.year = static_cast<int>(c.year());
  local.month = c.month();
  local.day = c.day();
  local.hour = c.hour();
  local.minute = c.minute();
  local.second = c.second();
  icalproperty* p = make(local);
  icalproperty_add_parameter(p, icalparameter_new_tzid(kZoneId));
  return p;
}

icaltimetype Utc(absl::Time t) {
  return icaltime_from_timet_with_zone(absl::ToTimeT(t), 0, icaltimezone_get_utc_timezone());
}

icalproperty_status StatusOf(v1::MeetingStatus status) {
  switch (status) {
    case v1::MEETING_STATUS_PROPOSED:
      return ICAL_STATUS_TENTATIVE;
    case v1::MEETING_STATUS_CANCELLED:
      return ICAL_STATUS_CANCELLED;
    default:
      return ICAL_STATUS_CONFIRMED;
  }
}

icalcomponent* EventOf(const FeedEntry& entry) {
  const v1::Meeting& m = entry.meeting;
  icalcomponent* event = icalcomponent_new(ICAL_VEVENT_COMPONENT);
  const absl::string_view id = ResourceId(m.name(), "meetings");
  icalcomponent_add_property(event,
                             icalproperty_new_uid(absl::StrCat(id, "@samplan").c_str()));
  // RFC 5545 counts from 0; the revision from 1.
  icalcomponent_add_property(
      event, icalproperty_new_sequence(static_cast<int>(std::max<int64_t>(m.revision() - 1, 0))));
  icalcomponent_add_property(event, icalproperty_new_dtstamp(Utc(TimeOf(m.update_time()))));
  icalcomponent_add_property(event, icalproperty_new_lastmodified(Utc(TimeOf(m.update_time()))));
  icalcomponent_add_property(event, LocalTime(icalproperty_new_dtstart, TimeOf(m.start_time())));
  icalcomponent_add_property(event, LocalTime(icalproperty_new_dtend, TimeOf(m.end_time())));
  icalcomponent_add_property(event, icalproperty_new_summary(FeedSummary(entry).c_str()));
  icalcomponent_add_property(event, icalproperty_new_status(StatusOf(m.status())));
  if (entry.visible) {
    if (!m.location().address().empty()) {
      icalcomponent_add_property(event,
                                 icalproperty_new_location(m.location().address().c_str()));
    }
    if (!m.location().video_link().empty()) {
      icalcomponent_add_property(event, icalproperty_new_url(m.location().video_link().c_str()));
    }
  }
  return event;
}

}  // namespace

std::string KindLabel(v1::MeetingKind kind) {
  switch (kind) {
    case v1::MEETING_KIND_PLANNING:
      return "Planeringsmöte";
    case v1::MEETING_KIND_WORKPLACE_VISIT:
      return "Arbetsplatsbesök";
    case v1::MEETING_KIND_THREE_PARTY_AGREEMENT:
      return "Trepartsöverenskommelse";
    case v1::MEETING_KIND_FOLLOW_UP:
      return "Uppföljning";
    case v1::MEETING_KIND_COORDINATION:
      return "Samordningsmöte";
    case v1::MEETING_KIND_GROUP_INTAKE_SESSION:
      return "Gruppintag";
    default:
      return "Möte";
  }
}

std::string FeedSummary(const FeedEntry& entry) {
  const v1::Meeting& m = entry.meeting;
  if (entry.visible) {
    std::string summary = m.title().empty() ? KindLabel(m.kind()) : m.title();
    if (!m.person_display_name().empty()) absl::StrAppend(&summary, " – ", m.person_display_name());
    return summary;
  }
  std::string summary = KindLabel(m.kind());
  if (!m.location().address().empty()) absl::StrAppend(&summary, ", ", m.location().address());
  return summary;
}

std::string WriteCalendarFeed(const std::vector<FeedEntry>& entries) {
  Component calendar(icalcomponent_new(ICAL_VCALENDAR_COMPONENT));
  icalcomponent_add_property(calendar.get(), icalproperty_new_version("2.0"));
  icalcomponent_add_property(calendar.get(),
                             icalproperty_new_prodid("-//Samplan//Scheduling//SV"));
  icalcomponent_add_property(calendar.get(), icalproperty_new_calscale("GREGORIAN"));
  icalproperty* name = icalproperty_new_x("Samplan");
  icalproperty_set_x_name(name, "X-WR-CALNAME");
  icalcomponent_add_property(calendar.get(), name);
  icalproperty* zone = icalproperty_new_x(kZoneId);
  icalproperty_set_x_name(zone, "X-WR-TIMEZONE");
  icalcomponent_add_property(calendar.get(), zone);
  icalcomponent_add_component(calendar.get(), icalcomponent_new_from_string(kStockholmTimeZone));
  for (const FeedEntry& entry : entries) {
    icalcomponent_add_component(calendar.get(), EventOf(entry));
  }
  char* text = icalcomponent_as_ical_string_r(calendar.get());
  std::string out(text);
  icalmemory_free_buffer(text);
  return out;
}

std::string FeedEtag(absl::string_view calendar) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(calendar.data()), calendar.size(), digest);
  return absl::StrCat(
      "\"",
      absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(digest), 16)),
      "\"");
}

std::string FeedPath(absl::string_view secret) { return absl::StrCat("/feeds/", secret, ".ics"); }

bool EtagMatches(absl::string_view if_none_match, absl::string_view etag) {
  for (absl::string_view candidate : absl::StrSplit(if_none_match, ',')) {
    candidate = absl::StripAsciiWhitespace(candidate);
    if (candidate == "*") return true;
    // A weak comparison (RFC 9110 13.1.2): W/"x" matches "x".
    absl::ConsumePrefix(&candidate, "W/");
    if (candidate == etag) return true;
  }
  return false;
}

std::string NewFeedSecret() {
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof bytes) != 1) {
    // Without the CSPRNG there is no secret to give: better no feed than a
    // guessable one.
    std::abort();
  }
  return absl::WebSafeBase64Escape(
      absl::string_view(reinterpret_cast<const char*>(bytes), sizeof bytes));
}

bool IsFeedSecret(absl::string_view secret) {
  if (secret.size() != 43) return false;
  for (char c : secret) {
    if (!absl::ascii_isalnum(c) && c != '-' && c != '_') return false;
  }
  return true;
}

std::string FeedSecretHash(absl::string_view secret) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(secret.data()), secret.size(), digest);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), sizeof digest));
}

}  // namespace samplan::scheduling
