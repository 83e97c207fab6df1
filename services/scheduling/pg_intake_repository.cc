#include "services/scheduling/pg_intake_repository.h"

#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <map>

#include "absl/strings/str_cat.h"
#include "common/ids.h"
#include "common/status.h"
#include "samplan/scheduling/v1/events.pb.h"
#include "services/scheduling/intakes.h"
#include "services/scheduling/meeting_rules.h"
#include "services/scheduling/sql.h"

namespace samplan::scheduling {
namespace {

using ::google::protobuf::util::TimeUtil;

constexpr char kCreated[] = "scheduling.intake.created";
constexpr char kEnrolled[] = "scheduling.intake.enrolled";
constexpr char kWaitlisted[] = "scheduling.intake.waitlisted";
constexpr char kWithdrawn[] = "scheduling.intake.withdrawn";
constexpr char kGrouped[] = "scheduling.intake.grouped";

template <typename Message>
std::string Content(Message m) {
  m.clear_name();
  m.clear_etag();
  m.clear_revision();
  m.clear_create_time();
  m.clear_update_time();
  return m.SerializeAsString();
}

// A session's counts are counted when read, never stored.
template <>
std::string Content(v1::IntakeSession s) {
  s.clear_name();
  s.clear_etag();
  s.clear_revision();
  s.clear_create_time();
  s.clear_update_time();
  s.clear_enrolled_count();
  s.clear_waitlisted_count();
  return s.SerializeAsString();
}

template <typename Message>
absl::Status Parse(const pqxx::field& field, Message& m) {
  const pqxx::binarystring bytes(field);
  if (!m.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::DataLossError("a stored intake could not be read");
  }
  return absl::OkStatus();
}

template <typename Message>
void SetStored(Message& m, const pqxx::row& row) {
  m.set_revision(row[1].as<int64_t>());
  m.set_etag(absl::StrCat(m.revision()));
  *m.mutable_create_time() = TimeUtil::MicrosecondsToTimestamp(row[3].as<int64_t>());
  *m.mutable_update_time() = TimeUtil::MicrosecondsToTimestamp(row[4].as<int64_t>());
}

// (id, version, content, create_micros, update_micros).
absl::StatusOr<v1::IntakeSession> SessionFromRow(const pqxx::row& row) {
  v1::IntakeSession s;
  if (absl::Status parsed = Parse(row[2], s); !parsed.ok()) return parsed;
  s.set_name(absl::StrCat("intakeSessions/", row[0].as<std::string>()));
  SetStored(s, row);
  return s;
}

// An enrolment and its arrival.
struct StoredEnrolment {
  v1::IntakeEnrolment enrolment;
  int64_t arrival = 0;
};

absl::StatusOr<StoredEnrolment> EnrolmentFromRow(const std::string& session,
                                                 const pqxx::row& row) {
  StoredEnrolment out;
  if (absl::Status parsed = Parse(row[2], out.enrolment); !parsed.ok()) return parsed;
  out.enrolment.set_name(absl::StrCat(session, "/enrolments/", row[0].as<std::string>()));
  SetStored(out.enrolment, row);
  out.arrival = row[5].as<int64_t>();
  return out;
}

std::string LastId(absl::string_view name) {
  const size_t slash = name.rfind('/');
  return std::string(name.substr(slash + 1));
}

// Reads the session's counts into it.
void AddCounts(pqxx::transaction_base& tx, const std::string& id, v1::IntakeSession& s) {
  pqxx::result counts = tx.exec_prepared(sql::kCountEnrolments.name, id);
  s.set_enrolled_count(counts[0][0].as<int>());
  s.set_waitlisted_count(counts[0][1].as<int>());
}

// Whether `caller` may see the session: a role that handles personal data, in
// its municipality. Sessions hold no personal data: no audit record.
bool MaySeeSession(const Caller& caller, const v1::IntakeSession& s) {
  return MayHandlePersonalData(caller.principal) &&
         caller.principal.municipality == s.municipality();
}

events::v1::Event IntakeEvent(const v1::IntakeSession& s, const v1::IntakeEnrolment* e,
                              absl::string_view type, const Caller& caller) {
  v1::IntakeChanged payload;
  payload.set_intake_session(s.name());
  *payload.mutable_start_time() = s.start_time();
  payload.set_owner_organization(s.owner_organization());
  std::string aggregate = s.name(), person;
  int64_t version = s.revision();
  if (e != nullptr) {
    payload.set_enrolment(e->name());
    payload.set_person(e->person());
    payload.set_status(v1::EnrolmentStatus_Name(e->status()));
    payload.set_enrolling_organization(e->enrolling_organization());
    payload.set_group(e->group());
    aggregate = e->name();
    person = e->person();
    version = e->revision();
  }
  payload.set_version(version);
  events::v1::Event event =
      MakeEvent(type, s.municipality(), aggregate, version, person, kAttendanceCategory, payload,
                {caller.principal.organization, caller.principal.user, caller.request_id,
                 caller.now});
  // Subscribers see it as they would read the enrolment: the session's owner,
  // the organization that enrolled the person, or with the person's consent.
  event.set_owner_organization(s.owner_organization());
  if (e != nullptr && e->enrolling_organization() != s.owner_organization()) {
    event.add_participant_organizations(e->enrolling_organization());
  }
  return event;
}

void StoreRevision(pqxx::transaction_base& tx, const std::string& resource, int64_t version,
                   const std::string& content, absl::string_view type, const Caller& caller) {
  tx.exec_prepared(sql::kInsertIntakeRevision.name, resource, version, PgBytes(content),
                   std::string(type), caller.principal.user, caller.principal.organization,
                   caller.request_id, PgTimestamp(caller.now));
}

// Stores the next version of the session (its lists changed) with its
// revision; no event of its own (the enrolment's event says what changed).
void BumpSession(pqxx::transaction_base& tx, v1::IntakeSession& s, absl::string_view type,
                 const Caller& caller) {
  const std::string id = LastId(s.name());
  pqxx::result updated =
      tx.exec_prepared(sql::kUpdateIntakeSession.name, id, PgBytes(Content(s)),
                       PgTimestamp(caller.now));
  s.set_revision(updated[0][0].as<int64_t>());
  s.set_etag(absl::StrCat(s.revision()));
  *s.mutable_update_time() = TimestampOf(caller.now);
  StoreRevision(tx, s.name(), s.revision(), Content(s), type, caller);
}

// Stores `e`'s next version (status and content) with its revision and event.
void StoreEnrolment(pqxx::transaction_base& tx, const Outbox& outbox,
                    const v1::IntakeSession& s, v1::IntakeEnrolment& e, absl::string_view type,
                    const Caller& caller) {
  pqxx::result updated =
      tx.exec_prepared(sql::kUpdateEnrolment.name, LastId(e.name()),
                       v1::EnrolmentStatus_Name(e.status()), PgBytes(Content(e)),
                       PgTimestamp(caller.now));
  e.set_revision(updated[0][0].as<int64_t>());
  e.set_etag(absl::StrCat(e.revision()));
  *e.mutable_update_time() = TimestampOf(caller.now);
  StoreRevision(tx, e.name(), e.revision(), Content(e), type, caller);
  outbox.Append(tx, IntakeEvent(s, &e, type, caller));
}

// Decides `action` on `e` with the facts it needs, appending the audit record.
absl::Status GuardEnrolment(pqxx::transaction_base& tx, const Caller& caller,
                            const v1::IntakeSession& s, const v1::IntakeEnrolment& e,
                            AccessAction action) {
  AccessRequest request;
  request.municipality = s.municipality();
  request.owner_organization = caller.principal.organization == e.enrolling_organization()
                                   ? e.enrolling_organization()
                                   : s.owner_organization();
  const AccessFacts facts =
      NeedsAccessFacts(caller.principal, request)
          ? ReadAccessFacts(tx, caller.principal.organization, e.person(), kAttendanceCategory,
                            kCoordinationPurpose, caller.now)
          : AccessFacts{};
  const GuardedAccess access = DecideEnrolmentAccess(caller, s, e, action, facts);
  AppendAudit(tx, access.audit);
  return StatusOf(access.decision, access.audit.resource);
}

// The audit record of a move up the waiting list, made on the session's
// behalf by whoever freed the seat.
AuditEntry MovedUpAudit(const Caller& caller, const v1::IntakeSession& s,
                        const v1::IntakeEnrolment& e) {
  AuditEntry entry;
  entry.time = caller.now;
  entry.municipality = s.municipality();
  entry.actor_user = caller.principal.user;
  entry.actor_organization = caller.principal.organization;
  entry.action = caller.method;
  entry.resource = e.name();
  entry.subject_person = e.person();
  entry.data_category = kAttendanceCategory;
  entry.purpose = kCoordinationPurpose;
  entry.decision = "permit";
  entry.reason = "waitlist_moved_up";
  entry.request_id = caller.request_id;
  return entry;
}

// The session, locked, or the denial of a missing one. A session of another
// municipality is returned: the access decision on the enrolment refuses it
// (other_municipality) and leaves its audit record.
absl::StatusOr<v1::IntakeSession> LockSession(pqxx::transaction_base& tx, const Caller& caller,
                                              const std::string& id) {
  pqxx::result rows = tx.exec_prepared(sql::kLockIntakeSession.name, id);
  const std::string name = absl::StrCat("intakeSessions/", id);
  if (!MayHandlePersonalData(caller.principal)) return RoleDeniedStatus();
  if (rows.empty()) return DeniedStatus(name);
  return SessionFromRow(rows[0]);
}

// The waiting list in its order.
std::vector<StoredEnrolment*> WaitingList(const v1::IntakeSession& s,
                                          std::vector<StoredEnrolment>& all) {
  std::vector<StoredEnrolment*> waiting;
  for (StoredEnrolment& e : all) {
    if (e.enrolment.status() == v1::ENROLMENT_STATUS_WAITLISTED) waiting.push_back(&e);
  }
  std::stable_sort(waiting.begin(), waiting.end(),
                   [&](const StoredEnrolment* a, const StoredEnrolment* b) {
                     return ComesFirst(s, a->enrolment, a->arrival, b->enrolment, b->arrival);
                   });
  return waiting;
}

absl::StatusOr<std::vector<StoredEnrolment>> AllEnrolments(pqxx::transaction_base& tx,
                                                           const v1::IntakeSession& s) {
  std::vector<StoredEnrolment> out;
  for (const pqxx::row& row : tx.exec_prepared(sql::kSelectEnrolments.name, LastId(s.name()))) {
    absl::StatusOr<StoredEnrolment> e = EnrolmentFromRow(s.name(), row);
    if (!e.ok()) return e.status();
    out.push_back(*std::move(e));
  }
  return out;
}

}  // namespace

absl::StatusOr<v1::IntakeSession> PgIntakeRepository::CreateSession(
    const Caller& caller, const CreateMeta& meta, const v1::IntakeSession& session) {
  v1::IntakeSession result;
  absl::Status status = pool_.Transaction(caller.deadline, [&](pqxx::transaction_base& tx) {
    auto earlier = [&]() -> absl::StatusOr<bool> {
      pqxx::result rows = tx.exec_prepared(sql::kSelectIntakeSessionByRequest.name,
                                           session.owner_organization(), meta.request_id);
      if (rows.empty()) return false;
      if (rows[0][5].as<std::string>() != meta.fingerprint) {
        return InvalidField("request_id", "was used for another session; send a new request id");
      }
      absl::StatusOr<v1::IntakeSession> s = SessionFromRow(rows[0]);
      if (!s.ok()) return s.status();
      result = *std::move(s);
      AddCounts(tx, LastId(result.name()), result);
      return true;
    };
    if (absl::StatusOr<bool> found = earlier(); !found.ok() || *found) return found.status();
    const std::string id = NewUuid();
    v1::IntakeSession s = session;
    s.set_name(absl::StrCat("intakeSessions/", id));
    pqxx::result inserted = tx.exec_prepared(
        sql::kInsertIntakeSession.name, id, s.municipality(), s.owner_organization(),
        s.capacity(), PgTimestamp(TimeOf(s.start_time())), PgBytes(Content(s)),
        PgTimestamp(caller.now), meta.request_id, meta.fingerprint);
    if (inserted.empty()) {
      absl::StatusOr<bool> found = earlier();
      if (!found.ok()) return found.status();
      return *found ? absl::OkStatus() : absl::AbortedError("concurrent create; retry");
    }
    s.set_revision(1);
    s.set_etag("1");
    *s.mutable_create_time() = TimestampOf(caller.now);
    *s.mutable_update_time() = s.create_time();
    StoreRevision(tx, s.name(), 1, Content(s), kCreated, caller);
    outbox_.Append(tx, IntakeEvent(s, nullptr, kCreated, caller));
    result = std::move(s);
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return result;
}

absl::StatusOr<v1::IntakeSession> PgIntakeRepository::GetSession(const Caller& caller,
                                                                  const std::string& id) {
  absl::StatusOr<v1::IntakeSession> result = DeniedStatus(absl::StrCat("intakeSessions/", id));
  absl::Status status = pool_.Transaction(caller.deadline, [&](pqxx::transaction_base& tx) {
    pqxx::result rows = tx.exec_prepared(sql::kSelectIntakeSession.name, id);
    if (rows.empty()) return absl::OkStatus();
    absl::StatusOr<v1::IntakeSession> s = SessionFromRow(rows[0]);
    if (!s.ok()) return s.status();
    if (!MayHandlePersonalData(caller.principal)) {
      result = RoleDeniedStatus();
    } else if (MaySeeSession(caller, *s)) {
      AddCounts(tx, id, *s);
      result = *std::move(s);
    }
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return result;
}

absl::StatusOr<v1::IntakeEnrolment> PgIntakeRepository::Enrol(
    const Caller& caller, const std::string& session_id, const v1::IntakeEnrolment& enrolment) {
  v1::IntakeEnrolment result;
  absl::Status denied;
  absl::Status status = pool_.Transaction(caller.deadline, [&](pqxx::transaction_base& tx) {
    // The session's row is the turnstile: enrolments take turns, so each
    // counts the seats the others took.
    absl::StatusOr<v1::IntakeSession> s = LockSession(tx, caller, session_id);
    if (!s.ok()) {
      denied = s.status();
      return absl::OkStatus();
    }
    if (absl::Status allowed = CheckPriorityAllowed(*s, enrolment); !allowed.ok()) return allowed;
    const std::string id = NewUuid();
    v1::IntakeEnrolment e = enrolment;
    e.set_name(absl::StrCat(s->name(), "/enrolments/", id));
    const AccessFacts facts = ReadAccessFacts(tx, caller.principal.organization, e.person(),
                                              kAttendanceCategory, kCoordinationPurpose,
                                              caller.now);
    if (absl::Status registered =
            CheckPersonRegistered(facts, s->municipality(), "enrolment.person");
        !registered.ok()) {
      return registered;
    }
    const GuardedAccess access =
        DecideEnrolmentAccess(caller, *s, e, AccessAction::kCreate, facts);
    AppendAudit(tx, access.audit);
    denied = StatusOf(access.decision, e.name());
    if (!denied.ok()) return absl::OkStatus();
    // The session's owner sees the enrolment: it needs the person's consent
    // unless it registered the person.
    if (s->owner_organization() != facts.person_owner &&
        s->owner_organization() != caller.principal.organization) {
      const AccessFacts theirs = ReadAccessFacts(tx, s->owner_organization(), e.person(),
                                                 kAttendanceCategory, kCoordinationPurpose,
                                                 caller.now);
      if (theirs.consent.empty()) return ConsentMissing(s->owner_organization(), theirs.consent_gap);
    }
    AddCounts(tx, session_id, *s);
    const bool seat = s->enrolled_count() < s->capacity();
    e.set_status(seat ? v1::ENROLMENT_STATUS_ENROLLED : v1::ENROLMENT_STATUS_WAITLISTED);
    pqxx::result inserted = tx.exec_prepared(
        sql::kInsertEnrolment.name, id, session_id, e.person(), v1::EnrolmentStatus_Name(e.status()),
        e.priority(), PgBytes(Content(e)), PgTimestamp(caller.now));
    const int64_t arrival = inserted[0][0].as<int64_t>();
    e.set_revision(1);
    e.set_etag("1");
    *e.mutable_create_time() = TimestampOf(caller.now);
    *e.mutable_update_time() = e.create_time();
    const char* type = seat ? kEnrolled : kWaitlisted;
    StoreRevision(tx, e.name(), 1, Content(e), type, caller);
    outbox_.Append(tx, IntakeEvent(*s, &e, type, caller));
    if (!seat) {
      absl::StatusOr<std::vector<StoredEnrolment>> all = AllEnrolments(tx, *s);
      if (!all.ok()) return all.status();
      int position = 1;
      for (const StoredEnrolment* w : WaitingList(*s, *all)) {
        if (w->arrival == arrival) break;
        ++position;
      }
      e.set_waitlist_position(position);
    }
    BumpSession(tx, *s, type, caller);
    result = std::move(e);
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  if (!denied.ok()) return denied;
  return result;
}

absl::StatusOr<v1::IntakeEnrolment> PgIntakeRepository::Withdraw(
    const Caller& caller, const std::string& session_id, const std::string& enrolment_id,
    const std::string& reason, const std::string& etag) {
  v1::IntakeEnrolment result;
  absl::Status denied;
  absl::Status status = pool_.Transaction(caller.deadline, [&](pqxx::transaction_base& tx) {
    absl::StatusOr<v1::IntakeSession> s = LockSession(tx, caller, session_id);
    const std::string name =
        absl::StrCat("intakeSessions/", session_id, "/enrolments/", enrolment_id);
    if (!s.ok()) {
      denied = s.status().code() == absl::StatusCode::kPermissionDenied ? DeniedStatus(name)
                                                                       : s.status();
      return absl::OkStatus();
    }
    pqxx::result rows = tx.exec_prepared(sql::kLockEnrolment.name, session_id, enrolment_id);
    if (rows.empty()) {
      AccessRequest missing;
      missing.action = AccessAction::kUpdate;
      missing.resource = name;
      missing.data_category = kAttendanceCategory;
      missing.purpose = kCoordinationPurpose;
      const GuardedAccess access = MissingRecordAccess(caller, missing);
      AppendAudit(tx, access.audit);
      denied = StatusOf(access.decision, name);
      return absl::OkStatus();
    }
    absl::StatusOr<StoredEnrolment> stored = EnrolmentFromRow(s->name(), rows[0]);
    if (!stored.ok()) return stored.status();
    v1::IntakeEnrolment& e = stored->enrolment;
    denied = GuardEnrolment(tx, caller, *s, e, AccessAction::kUpdate);
    if (!denied.ok()) return absl::OkStatus();
    if (!etag.empty() && etag != e.etag()) {
      return EtagMismatch(e.name(), "the enrolment has changed since this etag was read");
    }
    if (e.status() == v1::ENROLMENT_STATUS_WITHDRAWN) {
      return absl::FailedPreconditionError("the enrolment is already withdrawn");
    }
    const bool freed_a_seat = e.status() == v1::ENROLMENT_STATUS_ENROLLED;
    e.set_status(v1::ENROLMENT_STATUS_WITHDRAWN);
    e.set_withdraw_reason(reason);
    e.clear_waitlist_position();
    StoreEnrolment(tx, outbox_, *s, e, kWithdrawn, caller);
    if (freed_a_seat) {
      absl::StatusOr<std::vector<StoredEnrolment>> all = AllEnrolments(tx, *s);
      if (!all.ok()) return all.status();
      std::vector<StoredEnrolment*> waiting = WaitingList(*s, *all);
      if (!waiting.empty()) {
        v1::IntakeEnrolment& next = waiting.front()->enrolment;
        next.set_status(v1::ENROLMENT_STATUS_ENROLLED);
        StoreEnrolment(tx, outbox_, *s, next, kEnrolled, caller);
        AppendAudit(tx, MovedUpAudit(caller, *s, next));
      }
    }
    BumpSession(tx, *s, kWithdrawn, caller);
    result = e;
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  if (!denied.ok()) return denied;
  return result;
}

absl::StatusOr<std::vector<v1::IntakeEnrolment>> PgIntakeRepository::ListEnrolments(
    const Caller& caller, const std::string& session_id) {
  std::vector<v1::IntakeEnrolment> result;
  absl::Status denied;
  absl::Status status = pool_.Transaction(caller.deadline, [&](pqxx::transaction_base& tx) {
    pqxx::result rows = tx.exec_prepared(sql::kSelectIntakeSession.name, session_id);
    const std::string name = absl::StrCat("intakeSessions/", session_id);
    if (rows.empty()) {
      denied = MayHandlePersonalData(caller.principal) ? DeniedStatus(name) : RoleDeniedStatus();
      return absl::OkStatus();
    }
    absl::StatusOr<v1::IntakeSession> s = SessionFromRow(rows[0]);
    if (!s.ok()) return s.status();
    if (!MayHandlePersonalData(caller.principal)) {
      denied = RoleDeniedStatus();
      return absl::OkStatus();
    }
    // A caller of another municipality is refused enrolment by enrolment
    // below (other_municipality), each refusal audited.
    absl::StatusOr<std::vector<StoredEnrolment>> all = AllEnrolments(tx, *s);
    if (!all.ok()) return all.status();
    std::vector<const StoredEnrolment*> ordered;
    for (const StoredEnrolment& e : *all) {
      if (e.enrolment.status() == v1::ENROLMENT_STATUS_ENROLLED) ordered.push_back(&e);
    }
    int position = 0;
    std::map<const StoredEnrolment*, int> positions;
    for (const StoredEnrolment* e : WaitingList(*s, *all)) {
      ordered.push_back(e);
      positions[e] = ++position;
    }
    for (const StoredEnrolment& e : *all) {
      if (e.enrolment.status() == v1::ENROLMENT_STATUS_WITHDRAWN) ordered.push_back(&e);
    }
    // Each enrolment is decided, and audited, on its own: a start list can
    // hold persons whose consent the caller's organization lacks.
    for (const StoredEnrolment* e : ordered) {
      if (!GuardEnrolment(tx, caller, *s, e->enrolment, AccessAction::kRead).ok()) continue;
      v1::IntakeEnrolment out = e->enrolment;
      if (positions.count(e)) out.set_waitlist_position(positions[e]);
      result.push_back(std::move(out));
    }
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  if (!denied.ok()) return denied;
  return result;
}

absl::StatusOr<v1::IntakeGroups> PgIntakeRepository::SplitGroups(
    const Caller& caller, const std::string& session_id, int max_group_size,
    const std::string& balance_attribute, const std::string& etag) {
  v1::IntakeGroups result;
  absl::Status denied;
  absl::Status status = pool_.Transaction(caller.deadline, [&](pqxx::transaction_base& tx) {
    absl::StatusOr<v1::IntakeSession> s = LockSession(tx, caller, session_id);
    if (!s.ok()) {
      denied = s.status();
      return absl::OkStatus();
    }
    if (caller.principal.organization != s->owner_organization() || !MaySeeSession(caller, *s)) {
      denied = DeniedStatus(s->name());
      return absl::OkStatus();
    }
    if (!etag.empty() && etag != s->etag()) {
      return EtagMismatch(s->name(), "the session has changed since this etag was read");
    }
    absl::StatusOr<std::vector<StoredEnrolment>> all = AllEnrolments(tx, *s);
    if (!all.ok()) return all.status();
    std::vector<StoredEnrolment*> start_list;
    for (StoredEnrolment& e : *all) {
      if (e.enrolment.status() == v1::ENROLMENT_STATUS_ENROLLED) start_list.push_back(&e);
    }
    std::vector<std::string> values;
    for (const StoredEnrolment* e : start_list) {
      auto value = e->enrolment.attributes().find(balance_attribute);
      values.push_back(balance_attribute.empty() || value == e->enrolment.attributes().end()
                           ? ""
                           : value->second);
    }
    const std::vector<std::vector<int>> groups = SplitIntoGroups(values, max_group_size);
    for (size_t g = 0; g < groups.size(); ++g) {
      v1::IntakeGroup* group = result.add_groups();
      group->set_number(static_cast<int>(g) + 1);
      for (int member : groups[g]) {
        v1::IntakeEnrolment& e = start_list[member]->enrolment;
        // The owner reads each enrolment to place it: decided and audited.
        if (absl::Status access = GuardEnrolment(tx, caller, *s, e, AccessAction::kUpdate);
            !access.ok()) {
          return access;
        }
        e.set_group(group->number());
        StoreEnrolment(tx, outbox_, *s, e, kGrouped, caller);
        group->add_enrolments(e.name());
        if (!balance_attribute.empty()) {
          (*group->mutable_attribute_counts())[values[member]] += 1;
        }
      }
    }
    s->set_group_count(static_cast<int>(groups.size()));
    BumpSession(tx, *s, kGrouped, caller);
    AddCounts(tx, session_id, *s);
    *result.mutable_intake_session() = *s;
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  if (!denied.ok()) return denied;
  return result;
}

}  // namespace samplan::scheduling
