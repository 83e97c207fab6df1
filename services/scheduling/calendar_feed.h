#ifndef SAMPLAN_SERVICES_SCHEDULING_CALENDAR_FEED_H_
#define SAMPLAN_SERVICES_SCHEDULING_CALENDAR_FEED_H_

// A user's meetings as an iCalendar feed (RFC 5545), and the secret in its
// address. The calendar is written with libical, the same library that reads
// imported calendars (calendar_import.h), so what is escaped, folded and
// named is libical's business, not ours. No I/O here.

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "samplan/scheduling/v1/scheduling.pb.h"

namespace samplan::scheduling {

// One meeting of a feed, as the feed's owner may see it.
struct FeedEntry {
  v1::Meeting meeting;
  // Whether the owner's organization may see the meeting (the access rule for
  // attendance): only then are its title, its person's name and its place
  // shown; otherwise only its kind and the workplace's address.
  bool visible = false;
};

// Returns how a kind of meeting is named in Swedish, e.g. "Uppföljning".
std::string KindLabel(v1::MeetingKind kind);

// Returns the SUMMARY of `entry`: for a visible meeting its title (or its
// kind) and the person's display name when there is one; otherwise the kind
// and the address, "Uppföljning, Kristinavägen 2, Lindesberg".
std::string FeedSummary(const FeedEntry& entry);

// Returns the calendar of `entries`: a VTIMEZONE for Europe/Stockholm and one
// VEVENT per meeting with a UID stable across changes, SEQUENCE from the
// revision (raised by every change), DTSTAMP at the meeting's last change,
// DTSTART and DTEND in Stockholm time, and STATUS (a cancelled meeting stays,
// CANCELLED). The same entries give the same text.
std::string WriteCalendarFeed(const std::vector<FeedEntry>& entries);

// Returns the HTTP entity tag of a feed's text (quoted).
std::string FeedEtag(absl::string_view calendar);

// The path of a feed's calendar: "/feeds/{secret}.ics".
std::string FeedPath(absl::string_view secret);

// Returns whether an If-None-Match header's value names `etag` (or is "*").
bool EtagMatches(absl::string_view if_none_match, absl::string_view etag);

// Returns a new secret for a feed's address: 32 bytes from OpenSSL's CSPRNG,
// base64url without padding (43 characters).
std::string NewFeedSecret();

// Returns whether `secret` has the shape NewFeedSecret gives.
bool IsFeedSecret(absl::string_view secret);

// Returns the hex SHA-256 of `secret`: what is stored, so that the database
// never holds an address that works.
std::string FeedSecretHash(absl::string_view secret);

}  // namespace samplan::scheduling

#endif  // SAMPLAN_SERVICES_SCHEDULING_CALENDAR_FEED_H_
