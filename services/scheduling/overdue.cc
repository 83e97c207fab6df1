#include "services/scheduling/overdue.h"

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "samplan/scheduling/v1/events.pb.h"
#include "services/scheduling/meeting_rules.h"
#include "services/scheduling/pg_meeting_repository.h"
#include "services/scheduling/sql.h"

namespace samplan::scheduling {
namespace {

// The coordinator of a follow-up: the organizer, else the first user of the
// owner's organization taking part.
std::string CoordinatorOf(const v1::Meeting& m) {
  if (!m.organizer_user().empty()) return m.organizer_user();
  for (const v1::Participant& p : m.participants()) {
    if (!p.user().empty() && p.organization() == m.owner_organization()) return p.user();
  }
  return "";
}

events::v1::Event OverdueEvent(const v1::Meeting& m, absl::Time now) {
  v1::FollowUpOverdue payload;
  payload.set_meeting(m.name());
  payload.set_person(m.person());
  payload.set_agreement(m.agreement());
  payload.set_coordinator(CoordinatorOf(m));
  payload.set_owner_organization(m.owner_organization());
  *payload.mutable_start_time() = m.start_time();
  *payload.mutable_end_time() = m.end_time();
  events::v1::Event event = MakeEvent(
      "scheduling.followup.overdue", m.municipality(), m.name(), m.revision(), m.person(),
      kAttendanceCategory, payload,
      {m.owner_organization(), "", absl::StrCat("overdue:", m.name()), now});
  // Seen as the meeting is: its owner, or with the person's consent.
  event.set_owner_organization(m.owner_organization());
  for (const std::string& org : InvitedOrganizations(m)) event.add_participant_organizations(org);
  return event;
}

}  // namespace

absl::StatusOr<MeetingPage> PgOverdueRepository::ListOverdue(const Caller& caller,
                                                             const OverdueQuery& query) {
  MeetingPage page;
  const std::string after_time = query.after ? PgTimestamp(query.after->start) : "";
  const std::string after_id = query.after ? query.after->id : "";
  absl::Status status = pool_.Transaction(caller.deadline, [&](pqxx::transaction_base& tx) {
    pqxx::result rows = tx.exec_prepared(
        sql::kListOverdueOfCoordinator.name, caller.principal.municipality, query.coordinator,
        PgTimestamp(query.now), after_time, after_id, query.limit + 1);
    page.more = static_cast<int>(rows.size()) > query.limit;
    int scanned = 0;
    for (const pqxx::row& row : rows) {
      if (scanned++ == query.limit) break;
      absl::StatusOr<v1::Meeting> meeting = MeetingOfRow(row);
      if (!meeting.ok()) return meeting.status();
      page.last_scanned = MeetingKey{absl::FromUnixMicros(row[5].as<int64_t>()),
                                     std::string(ResourceId(meeting->name(), "meetings"))};
      if (!GuardMeeting(tx, caller, *meeting, AccessAction::kRead).ok()) continue;
      page.meetings.push_back(*std::move(meeting));
    }
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return page;
}

absl::StatusOr<int> AnnounceOverdueFollowUps(PgPool& pool, const Outbox& outbox, absl::Time now,
                                             int limit) {
  int announced = 0;
  absl::Status status =
      pool.Transaction(now + absl::Seconds(30), [&](pqxx::transaction_base& tx) {
        announced = 0;
        for (const pqxx::row& row :
             tx.exec_prepared(sql::kSelectUnannouncedOverdue.name, PgTimestamp(now), limit)) {
          absl::StatusOr<v1::Meeting> meeting = MeetingOfRow(row);
          if (!meeting.ok()) return meeting.status();
          outbox.Append(tx, OverdueEvent(*meeting, now));
          tx.exec_prepared(sql::kMarkOverdueAnnounced.name, row[0].as<std::string>(),
                           PgTimestamp(now));
          ++announced;
        }
        return absl::OkStatus();
      });
  if (!status.ok()) return status;
  return announced;
}

OverdueSweeper::OverdueSweeper(PgPool& pool, const Outbox& outbox, const Clock& clock,
                               absl::Duration interval)
    : pool_(pool), outbox_(outbox), clock_(clock), interval_(interval) {}

OverdueSweeper::~OverdueSweeper() { Stop(); }

void OverdueSweeper::Start() { thread_ = std::thread([this] { Run(); }); }

void OverdueSweeper::Stop() {
  if (!stop_.HasBeenNotified()) stop_.Notify();
  if (thread_.joinable()) thread_.join();
}

void OverdueSweeper::Run() {
  do {
    // A full batch means more may wait: sweep again at once.
    for (;;) {
      absl::StatusOr<int> announced = AnnounceOverdueFollowUps(pool_, outbox_, clock_.Now(), 100);
      if (!announced.ok()) {
        Log(LogLevel::kWarning, "overdue follow-ups not announced; trying again later",
            {{"error", announced.status().message()}});
        break;
      }
      if (*announced > 0) {
        Log(LogLevel::kInfo, "overdue follow-ups announced", {{"count", *announced}});
      }
      if (*announced < 100 || stop_.HasBeenNotified()) break;
    }
  } while (!stop_.WaitForNotificationWithTimeout(interval_));
}

}  // namespace samplan::scheduling
