#include "services/scheduling/pg_meeting_repository.h"

#include <google/protobuf/util/time_util.h>

#include "absl/strings/str_cat.h"
#include "common/ids.h"
#include "common/status.h"
#include "samplan/scheduling/v1/events.pb.h"
#include "samplan/placement/v1/events.pb.h"
#include "services/scheduling/followups.h"
#include "services/scheduling/sql.h"

namespace samplan {
const std::vector<Migration>& scheduling_migrations();
}  // namespace samplan

namespace samplan::scheduling {
namespace {

using ::google::protobuf::util::TimeUtil;

// What is stored in `content`: the meeting without what lives in columns.
std::string Content(v1::Meeting meeting) {
  meeting.clear_name();
  meeting.clear_etag();
  meeting.clear_revision();
  meeting.clear_create_time();
  meeting.clear_update_time();
  return meeting.SerializeAsString();
}

// (id, version, content, create_micros, update_micros).
absl::StatusOr<v1::Meeting> MeetingFromRow(const pqxx::row& row) {
  v1::Meeting meeting;
  const pqxx::binarystring bytes(row[2]);
  // Fields written by a newer version are kept as unknown fields, not lost.
  if (!meeting.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::DataLossError("a stored meeting could not be read");
  }
  meeting.set_name(absl::StrCat("meetings/", row[0].as<std::string>()));
  meeting.set_revision(row[1].as<int64_t>());
  meeting.set_etag(absl::StrCat(meeting.revision()));
  *meeting.mutable_create_time() = TimeUtil::MicrosecondsToTimestamp(row[3].as<int64_t>());
  *meeting.mutable_update_time() = TimeUtil::MicrosecondsToTimestamp(row[4].as<int64_t>());
  return meeting;
}

std::string Id(const v1::Meeting& meeting) {
  return std::string(ResourceId(meeting.name(), "meetings"));
}

AccessFacts FactsFor(pqxx::transaction_base& tx, const Caller& caller,
                     absl::string_view organization, const v1::Meeting& meeting) {
  if (meeting.person().empty()) return {};
  return ReadAccessFacts(tx, organization, meeting.person(), kAttendanceCategory,
                         kCoordinationPurpose, caller.now);
}

// Decides `caller`'s `action` on `meeting` (null: there is none named
// `resource`) and appends the audit record within `tx`. Returns OK or the
// denial to answer with once `tx` has committed the record.
absl::Status Guard(pqxx::transaction_base& tx, const Caller& caller, const v1::Meeting* meeting,
                   absl::string_view resource, AccessAction action) {
  GuardedAccess access;
  if (meeting == nullptr) {
    access = MissingMeetingAccess(caller, resource, action);
  } else {
    AccessRequest request;
    request.municipality = meeting->municipality();
    request.owner_organization = meeting->owner_organization();
    const AccessFacts facts = NeedsAccessFacts(caller.principal, request)
                                  ? FactsFor(tx, caller, caller.principal.organization, *meeting)
                                  : AccessFacts{};
    access = DecideMeetingAccess(caller, *meeting, action, facts);
  }
  AppendAudit(tx, access.audit);
  return StatusOf(access.decision, access.audit.resource);
}

events::v1::Event MeetingEvent(const v1::Meeting& m, absl::string_view type,
                               const Caller& caller) {
  v1::MeetingChanged payload;
  payload.set_meeting(m.name());
  payload.set_version(m.revision());
  payload.set_person(m.person());
  payload.set_kind(v1::MeetingKind_Name(m.kind()));
  payload.set_status(v1::MeetingStatus_Name(m.status()));
  *payload.mutable_start_time() = m.start_time();
  *payload.mutable_end_time() = m.end_time();
  payload.set_owner_organization(m.owner_organization());
  for (const std::string& user : ParticipantUsers(m)) payload.add_participant_users(user);
  const std::vector<std::string> invited = InvitedOrganizations(m);
  for (const std::string& org : invited) payload.add_participant_organizations(org);
  payload.set_plan(m.plan());
  payload.set_agreement(m.agreement());
  events::v1::Event event = MakeEvent(
      type, m.municipality(), m.name(), m.revision(), m.person(), kAttendanceCategory, payload,
      {caller.principal.organization, caller.principal.user, caller.request_id, caller.now});
  // Subscribers see it as they would read the meeting: its owner, or with the
  // person's consent for attendance.
  event.set_owner_organization(m.owner_organization());
  for (const std::string& org : invited) event.add_participant_organizations(org);
  return event;
}

// Locks the calendars of whose time `meeting` holds and refuses a booked
// overlap with another meeting, unless `allow_overlap`.
absl::Status CheckTimeFree(pqxx::transaction_base& tx, const v1::Meeting& meeting,
                           const std::string& id, bool allow_overlap) {
  const std::vector<std::string> holders = TimeHolders(meeting);
  if (holders.empty() || allow_overlap) return absl::OkStatus();
  for (const std::string& holder : holders) tx.exec_prepared(sql::kLockAttendee.name, holder);
  pqxx::result taken = tx.exec_prepared(
      sql::kFindHeldOverlap.name, PgTextArray(holders),
      PgTimestamp(TimeOf(meeting.start_time())), PgTimestamp(TimeOf(meeting.end_time())), id);
  if (!taken.empty()) return OverlapRefused(taken[0][0].as<std::string>());
  return absl::OkStatus();
}

// Rewrites who attends `meeting` and whose time it holds.
void StoreAttendees(pqxx::transaction_base& tx, const v1::Meeting& meeting,
                    const std::string& id) {
  std::vector<std::string> attendees = ParticipantUsers(meeting);
  for (const v1::Participant& p : meeting.participants()) {
    if (p.is_person()) attendees.push_back(meeting.person());
  }
  tx.exec_prepared(sql::kDeleteAttendees.name, id);
  tx.exec_prepared(sql::kInsertAttendees.name, id, PgTextArray(attendees),
                   PgTimestamp(TimeOf(meeting.start_time())),
                   PgTimestamp(TimeOf(meeting.end_time())), PgTextArray(TimeHolders(meeting)));
}

void StoreRevision(pqxx::transaction_base& tx, const v1::Meeting& meeting,
                   const std::string& id, absl::string_view event_type, const Caller& caller) {
  tx.exec_prepared(sql::kInsertRevision.name, id, meeting.revision(), PgBytes(Content(meeting)),
                   std::string(event_type), caller.principal.user, caller.principal.organization,
                   caller.request_id, PgTimestamp(caller.now));
}

// Finds the meeting `owner` created with the meta's request id into `result`:
// true when there is one, INVALID_ARGUMENT naming request_id when it was made
// by another request.
absl::StatusOr<bool> Earlier(pqxx::transaction_base& tx, const std::string& owner,
                             const CreateMeta& meta, v1::Meeting& result) {
  pqxx::result existing =
      tx.exec_prepared(sql::kSelectMeetingByRequest.name, owner, meta.request_id);
  if (existing.empty()) return false;
  if (existing[0][5].as<std::string>() != meta.fingerprint) {
    return InvalidField("request_id", "was used for another meeting; send a new request id");
  }
  absl::StatusOr<v1::Meeting> earlier = MeetingFromRow(existing[0]);
  if (!earlier.ok()) return earlier.status();
  result = *std::move(earlier);
  return true;
}

}  // namespace

std::vector<MigrationSet> SchedulingMigrationSets() {
  std::vector<MigrationSet> sets =
      PublishingServiceMigrationSets("scheduling", scheduling_migrations());
  sets.push_back({"processed_events", &processed_events_migrations()});
  return sets;
}

std::vector<PreparedStatement> SchedulingRepositoryStatements(const Outbox& outbox) {
  std::vector<PreparedStatement> own(std::begin(sql::kAll), std::end(sql::kAll));
  own.insert(own.end(), std::begin(sql::kIntakeAll), std::end(sql::kIntakeAll));
  own.insert(own.end(), std::begin(sql::kFeedAndOverdue), std::end(sql::kFeedAndOverdue));
  return RepositoryStatements(own, outbox);
}

absl::StatusOr<v1::Meeting> PgMeetingRepository::CreateMeeting(const Caller& caller,
                                                                const CreateMeta& meta,
                                                                const v1::Meeting& meeting,
                                                                bool allow_overlap) {
  v1::Meeting result;
  absl::Status denied;
  absl::Status status = pool_.Transaction(caller.deadline, [&](pqxx::transaction_base& tx) {
    const std::string id = NewUuid();
    v1::Meeting stored = meeting;
    stored.set_name(absl::StrCat("meetings/", id));
    const AccessFacts facts = FactsFor(tx, caller, caller.principal.organization, stored);
    if (!stored.person().empty() && MayHandlePersonalData(caller.principal)) {
      if (absl::Status registered =
              CheckPersonRegistered(facts, stored.municipality(), "meeting.person");
          !registered.ok()) {
        return registered;
      }
    }
    const GuardedAccess access =
        DecideMeetingAccess(caller, stored, AccessAction::kCreate, facts);
    AppendAudit(tx, access.audit);
    denied = StatusOf(access.decision, stored.name());
    if (!denied.ok()) return absl::OkStatus();
    // An invitation shows the person to the organization invited: it needs
    // the person's consent, unless it owns the person's record.
    if (!stored.person().empty()) {
      for (const std::string& org : InvitedOrganizations(stored)) {
        if (org == facts.person_owner) continue;
        const AccessFacts theirs = FactsFor(tx, caller, org, stored);
        if (theirs.consent.empty()) return ConsentMissing(org, theirs.consent_gap);
      }
    }
    // A retry finds its first answer before its time is checked again.
    if (absl::StatusOr<bool> earlier = Earlier(tx, stored.owner_organization(), meta, result);
        !earlier.ok() || *earlier) {
      return earlier.status();
    }
    if (absl::Status free = CheckTimeFree(tx, stored, id, allow_overlap); !free.ok()) return free;
    pqxx::result inserted = tx.exec_prepared(
        sql::kInsertMeeting.name, id, stored.municipality(), stored.person(),
        stored.owner_organization(), v1::MeetingKind_Name(stored.kind()),
        v1::MeetingStatus_Name(stored.status()), PgTimestamp(TimeOf(stored.start_time())),
        PgTimestamp(TimeOf(stored.end_time())), PgBytes(Content(stored)),
        PgTimestamp(caller.now), meta.request_id, meta.fingerprint, stored.agreement());
    if (inserted.empty()) {
      absl::StatusOr<bool> earlier = Earlier(tx, stored.owner_organization(), meta, result);
      if (!earlier.ok()) return earlier.status();
      return *earlier ? absl::OkStatus() : absl::AbortedError("concurrent create; retry");
    }
    stored.set_revision(1);
    StoreAttendees(tx, stored, id);
    const std::string type = stored.status() == v1::MEETING_STATUS_PROPOSED
                                 ? "scheduling.meeting.proposed"
                                 : "scheduling.meeting.booked";
    StoreRevision(tx, stored, id, type, caller);
    outbox_.Append(tx, MeetingEvent(stored, type, caller));
    result = std::move(stored);
    result.set_etag("1");
    *result.mutable_create_time() = TimestampOf(caller.now);
    *result.mutable_update_time() = result.create_time();
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  if (!denied.ok()) return denied;
  return result;
}

absl::StatusOr<v1::Meeting> PgMeetingRepository::GetMeeting(const Caller& caller,
                                                             const std::string& id) {
  absl::StatusOr<v1::Meeting> meeting = absl::NotFoundError("no such meeting");
  absl::Status status = pool_.Transaction(caller.deadline, [&](pqxx::transaction_base& tx) {
    pqxx::result rows = tx.exec_prepared(sql::kSelectMeeting.name, id);
    if (!rows.empty()) {
      meeting = MeetingFromRow(rows[0]);
      if (!meeting.ok()) return meeting.status();
    }
    absl::Status access = Guard(tx, caller, meeting.ok() ? &*meeting : nullptr,
                                absl::StrCat("meetings/", id), AccessAction::kRead);
    if (!access.ok()) meeting = access;
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return meeting;
}

absl::StatusOr<MeetingPage> PgMeetingRepository::ListMeetings(const Caller& caller,
                                                               const MeetingQuery& query) {
  MeetingPage page;
  const std::string after_time = query.after ? PgTimestamp(query.after->start) : "";
  const std::string after_id = query.after ? query.after->id : "";
  absl::Status status = pool_.Transaction(caller.deadline, [&](pqxx::transaction_base& tx) {
    const bool by_person = !query.person.empty();
    pqxx::result rows = tx.exec_prepared(
        by_person ? sql::kListMeetingsOfPerson.name : sql::kListMeetingsOfAttendee.name,
        caller.principal.municipality, by_person ? query.person : query.user,
        PgTimestamp(query.from), PgTimestamp(query.to), after_time, after_id, query.limit + 1);
    page.more = static_cast<int>(rows.size()) > query.limit;
    int scanned = 0;
    for (const pqxx::row& row : rows) {
      if (scanned++ == query.limit) break;
      absl::StatusOr<v1::Meeting> meeting = MeetingFromRow(row);
      if (!meeting.ok()) return meeting.status();
      page.last_scanned = MeetingKey{absl::FromUnixMicros(row[5].as<int64_t>()), Id(*meeting)};
      // Each row is decided, and audited, on its own: a calendar can hold
      // meetings about persons whose consent the caller's organization lacks.
      if (!Guard(tx, caller, &*meeting, meeting->name(), AccessAction::kRead).ok()) continue;
      page.meetings.push_back(*std::move(meeting));
    }
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return page;
}

absl::StatusOr<v1::Meeting> PgMeetingRepository::StepMeeting(const Caller& caller,
                                                              const std::string& id,
                                                              const std::string& etag,
                                                              bool allow_overlap,
                                                              const StepFn& step) {
  v1::Meeting result;
  absl::Status denied;
  absl::Status status = pool_.Transaction(caller.deadline, [&](pqxx::transaction_base& tx) {
    pqxx::result rows = tx.exec_prepared(sql::kSelectMeetingForUpdate.name, id);
    absl::StatusOr<v1::Meeting> current = absl::NotFoundError("no such meeting");
    if (!rows.empty()) {
      current = MeetingFromRow(rows[0]);
      if (!current.ok()) return current.status();
    }
    // A denial commits its audit record; a permitted step that then fails
    // rolls back with it, having changed and shown nothing.
    denied = Guard(tx, caller, current.ok() ? &*current : nullptr,
                   absl::StrCat("meetings/", id), AccessAction::kUpdate);
    if (!denied.ok()) return absl::OkStatus();
    if (!etag.empty() && etag != current->etag()) {
      return EtagMismatch(current->name(),
                          "the meeting has changed since this etag was read; get it again");
    }
    absl::StatusOr<MeetingStep> next = step(*current);
    if (!next.ok()) return next.status();
    v1::Meeting& m = next->meeting;
    // Only a step that takes time (books it, or moves it) can collide; an
    // answer to a meeting booked with an overlap allowed is not refused.
    const bool takes_time =
        HoldsTime(m) && (!HoldsTime(*current) || TimeOf(m.start_time()) != TimeOf(current->start_time()) ||
                         TimeOf(m.end_time()) != TimeOf(current->end_time()));
    if (takes_time) {
      if (absl::Status free = CheckTimeFree(tx, m, id, allow_overlap); !free.ok()) return free;
    }
    pqxx::result updated = tx.exec_prepared(
        sql::kUpdateMeeting.name, id, v1::MeetingStatus_Name(m.status()),
        PgTimestamp(TimeOf(m.start_time())), PgTimestamp(TimeOf(m.end_time())),
        PgBytes(Content(m)), PgTimestamp(caller.now));
    m.set_revision(updated[0][0].as<int64_t>());
    m.set_etag(absl::StrCat(m.revision()));
    *m.mutable_update_time() = TimestampOf(caller.now);
    StoreAttendees(tx, m, id);
    StoreRevision(tx, m, id, next->event_type, caller);
    outbox_.Append(tx, MeetingEvent(m, next->event_type, caller));
    result = m;
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  if (!denied.ok()) return denied;
  return result;
}

}  // namespace samplan::scheduling

namespace samplan::scheduling {
namespace {

// The audit record of a change the service makes on an agreement's behalf:
// the agreement's owner (the coordinator's organization) owns its follow-ups.
AuditEntry AgreementAudit(const Caller& caller, const v1::Meeting& m) {
  AuditEntry entry;
  entry.time = caller.now;
  entry.municipality = m.municipality();
  entry.actor_user = caller.principal.user;
  entry.actor_organization = caller.principal.organization;
  entry.action = caller.method;
  entry.resource = m.name();
  entry.subject_person = m.person();
  entry.data_category = kAttendanceCategory;
  entry.purpose = "follow_up";
  entry.decision = "permit";
  entry.reason = "agreement_owner";
  entry.request_id = caller.request_id;
  return entry;
}

}  // namespace

absl::Status ApplyAgreementEvent(pqxx::transaction_base& tx, const Outbox& outbox,
                                 const events::v1::Event& event, absl::Time now) {
  const bool signed_now = event.type() == "placement.agreement.signed";
  const bool over = event.type() == "placement.agreement.ended" ||
                    event.type() == "placement.agreement.completed";
  if (!signed_now && !over) return absl::OkStatus();
  placement::v1::AgreementChanged agreement;
  if (!event.payload().UnpackTo(&agreement)) {
    return absl::InvalidArgumentError("the event's payload is no AgreementChanged");
  }
  Caller caller;
  caller.principal.organization = agreement.coordinator_organization();
  // The coordinator when it was the coordinator's organization that acted.
  if (event.acting_organization() == agreement.coordinator_organization()) {
    caller.principal.user = event.acting_user();
  }
  caller.method = "scheduling.FollowUpsOfAgreement";
  caller.request_id = event.event_id();
  caller.now = now;
  if (signed_now) {
    const absl::CivilDay start(agreement.start_date().year(), agreement.start_date().month(),
                               agreement.start_date().day());
    const absl::CivilDay end(agreement.end_date().year(), agreement.end_date().month(),
                             agreement.end_date().day());
    for (absl::CivilDay day : FollowUpDays(start, end, agreement.follow_up_interval_days())) {
      v1::Meeting m = FollowUpMeeting(agreement, event.municipality(), day, caller.principal.user);
      const std::string id = NewUuid();
      m.set_name(absl::StrCat("meetings/", id));
      pqxx::result inserted = tx.exec_prepared(
          sql::kInsertMeeting.name, id, m.municipality(), m.person(), m.owner_organization(),
          v1::MeetingKind_Name(m.kind()), v1::MeetingStatus_Name(m.status()),
          PgTimestamp(TimeOf(m.start_time())), PgTimestamp(TimeOf(m.end_time())),
          PgBytes(Content(m)), PgTimestamp(now),
          absl::StrCat(event.event_id(), ":", absl::FormatCivilTime(day)), "", m.agreement());
      if (inserted.empty()) continue;  // made before under this event (never, once recorded)
      StoreAttendees(tx, m, id);
      StoreRevision(tx, m, id, "scheduling.meeting.proposed", caller);
      AppendAudit(tx, AgreementAudit(caller, m));
      outbox.Append(tx, MeetingEvent(m, "scheduling.meeting.proposed", caller));
    }
    return absl::OkStatus();
  }
  // Ended or completed: the visits still to come are cancelled, the past kept.
  for (const pqxx::row& row :
       tx.exec_prepared(sql::kSelectFutureFollowUps.name, agreement.agreement(), PgTimestamp(now))) {
    absl::StatusOr<v1::Meeting> current = MeetingFromRow(row);
    if (!current.ok()) return current.status();
    v1::Meeting m = *std::move(current);
    const std::string id = Id(m);
    m.set_status(v1::MEETING_STATUS_CANCELLED);
    m.set_cancel_reason(event.type() == "placement.agreement.completed"
                            ? "the placement agreement was completed"
                            : "the placement agreement ended");
    pqxx::result updated = tx.exec_prepared(
        sql::kUpdateMeeting.name, id, v1::MeetingStatus_Name(m.status()),
        PgTimestamp(TimeOf(m.start_time())), PgTimestamp(TimeOf(m.end_time())),
        PgBytes(Content(m)), PgTimestamp(now));
    m.set_revision(updated[0][0].as<int64_t>());
    StoreAttendees(tx, m, id);
    StoreRevision(tx, m, id, "scheduling.meeting.cancelled", caller);
    AppendAudit(tx, AgreementAudit(caller, m));
    outbox.Append(tx, MeetingEvent(m, "scheduling.meeting.cancelled", caller));
  }
  return absl::OkStatus();
}

}  // namespace samplan::scheduling

namespace samplan::scheduling {

absl::StatusOr<v1::Meeting> MeetingOfRow(const pqxx::row& row) { return MeetingFromRow(row); }

absl::Status GuardMeeting(pqxx::transaction_base& tx, const Caller& caller,
                          const v1::Meeting& meeting, AccessAction action) {
  return Guard(tx, caller, &meeting, meeting.name(), action);
}

}  // namespace samplan::scheduling
