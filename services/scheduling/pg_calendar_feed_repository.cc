#include "services/scheduling/pg_calendar_feed_repository.h"

#include <map>

#include "absl/strings/str_cat.h"
#include "common/ids.h"
#include "common/status.h"
#include "samplan/scheduling/v1/events.pb.h"
#include "services/scheduling/meeting_rules.h"
#include "services/scheduling/pg_meeting_repository.h"
#include "services/scheduling/sql.h"

namespace samplan::scheduling {
namespace {

std::string FeedName(absl::string_view user) { return absl::StrCat(user, "/calendarFeed"); }

// A user's own feed is no one else's data: the audit record says who made or
// stopped an address that shows their meetings.
AuditEntry FeedAudit(const Caller& caller) {
  AuditEntry entry;
  entry.time = caller.now;
  entry.municipality = caller.principal.municipality;
  entry.actor_user = caller.principal.user;
  entry.actor_organization = caller.principal.organization;
  entry.action = caller.method;
  entry.resource = FeedName(caller.principal.user);
  entry.data_category = kAttendanceCategory;
  entry.purpose = kCoordinationPurpose;
  entry.decision = "permit";
  entry.reason = "own_feed";
  entry.request_id = caller.request_id;
  return entry;
}

}  // namespace

absl::StatusOr<v1::CalendarFeed> PgCalendarFeedRepository::SetFeedSecret(
    const Caller& caller, const std::string& secret_hash, const std::string& etag) {
  v1::CalendarFeed feed;
  const std::string& user = caller.principal.user;
  feed.set_name(FeedName(user));
  absl::Status status = pool_.Transaction(caller.deadline, [&](pqxx::transaction_base& tx) {
    pqxx::result current = tx.exec_prepared(sql::kSelectFeedForUpdate.name, user);
    if (current.empty() && secret_hash.empty()) {
      return absl::NotFoundError(absl::StrCat(feed.name(), " was never made"));
    }
    if (!etag.empty() && (current.empty() || current[0][0].as<std::string>() != etag)) {
      return EtagMismatch(feed.name(), "the feed has changed since this etag was read; get it again");
    }
    pqxx::result updated = tx.exec_prepared(
        sql::kUpsertFeed.name, user, caller.principal.municipality, caller.principal.organization,
        PgTextArray(caller.principal.roles), secret_hash, PgTimestamp(caller.now));
    const int64_t version = updated[0][0].as<int64_t>();
    feed.set_active(!secret_hash.empty());
    feed.set_etag(absl::StrCat(version));
    *feed.mutable_update_time() = TimestampOf(caller.now);
    AppendAudit(tx, FeedAudit(caller));
    v1::CalendarFeedChanged payload;
    payload.set_feed(feed.name());
    payload.set_version(version);
    payload.set_active(feed.active());
    outbox_.Append(
        tx, MakeEvent(feed.active() ? "scheduling.calendar_feed.rotated"
                                    : "scheduling.calendar_feed.revoked",
                      caller.principal.municipality, feed.name(), version, "", "", payload,
                      {caller.principal.organization, user, caller.request_id, caller.now}));
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return feed;
}

absl::StatusOr<std::vector<FeedEntry>> PgCalendarFeedRepository::ReadFeed(
    const std::string& secret_hash, absl::Time now, absl::Time deadline) {
  std::vector<FeedEntry> entries;
  bool found = false;
  absl::Status status = pool_.Transaction(deadline, [&](pqxx::transaction_base& tx) {
    pqxx::result feeds = tx.exec_prepared(sql::kSelectFeedBySecret.name, secret_hash);
    if (feeds.empty()) return absl::OkStatus();
    found = true;
    Caller reader;
    reader.principal.user = feeds[0][0].as<std::string>();
    reader.principal.municipality = feeds[0][1].as<std::string>();
    reader.principal.organization = feeds[0][2].as<std::string>();
    reader.principal.roles = ParsePgTextArray(feeds[0][3]);
    reader.method = "scheduling.ReadCalendarFeed";
    reader.request_id = NewUuid();
    reader.now = now;
    reader.deadline = deadline;
    std::map<std::string, AccessFacts> facts_of;
    for (const pqxx::row& row : tx.exec_prepared(
             sql::kListMeetingsOfAttendee.name, reader.principal.municipality,
             reader.principal.user, PgTimestamp(now - kFeedPast), PgTimestamp(now + kFeedAhead),
             "", "", kFeedMeetings)) {
      absl::StatusOr<v1::Meeting> meeting = MeetingOfRow(row);
      if (!meeting.ok()) return meeting.status();
      // The owner takes part, so the time is theirs to see; what the meeting
      // is about is decided, and audited, like any other read of it. A feed
      // holds many meetings about the same few persons: each person's facts
      // are read once per feed read, in this transaction, so every meeting
      // about them is decided on the same facts.
      AccessRequest request;
      request.municipality = meeting->municipality();
      request.owner_organization = meeting->owner_organization();
      AccessFacts facts;
      if (!meeting->person().empty() && NeedsAccessFacts(reader.principal, request)) {
        auto known = facts_of.find(meeting->person());
        if (known == facts_of.end()) {
          known = facts_of
                      .emplace(meeting->person(),
                               ReadAccessFacts(tx, reader.principal.organization,
                                               meeting->person(), kAttendanceCategory,
                                               kCoordinationPurpose, now))
                      .first;
        }
        facts = known->second;
      }
      const GuardedAccess access = DecideMeetingAccess(reader, *meeting, AccessAction::kRead, facts);
      AppendAudit(tx, access.audit);
      entries.push_back({*std::move(meeting), access.decision.permitted});
    }
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  if (!found) return absl::NotFoundError("no such feed");
  return entries;
}

}  // namespace samplan::scheduling
