#include "services/scheduling/meeting_rules.h"

#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/ids.h"
#include "common/text.h"

namespace samplan::scheduling {
namespace {

using ::google::protobuf::util::TimeUtil;

std::vector<std::string> Sorted(std::set<std::string> set) { return {set.begin(), set.end()}; }

void CheckLocation(const v1::Location& location, FieldViolations& v) {
  CheckTextLength(v, "meeting.location.address", location.address(), 0, 300);
  if (location.has_coordinates()) {
    const v1::Coordinates& c = location.coordinates();
    if (!(c.latitude() >= -90 && c.latitude() <= 90)) {
      v.Add("meeting.location.coordinates.latitude", "must be between -90 and 90");
    }
    if (!(c.longitude() >= -180 && c.longitude() <= 180)) {
      v.Add("meeting.location.coordinates.longitude", "must be between -180 and 180");
    }
  }
  if (!location.video_link().empty() &&
      (!absl::StartsWith(location.video_link(), "https://") ||
       CharacterCount(location.video_link()) > 2000)) {
    v.Add("meeting.location.video_link", "must be an https:// link of at most 2000 characters");
  }
}

void CheckParticipants(const v1::Meeting& meeting, FieldViolations& v) {
  if (meeting.participants_size() > kMaxParticipants) {
    v.Add("meeting.participants", absl::StrCat("holds ", meeting.participants_size(),
                                               " participants; at most ", kMaxParticipants));
    return;
  }
  std::set<std::string> seen;
  for (int i = 0; i < meeting.participants_size(); ++i) {
    const v1::Participant& p = meeting.participants(i);
    const std::string field = absl::StrCat("meeting.participants[", i, "]");
    if (!v1::ParticipantAnswer_IsValid(p.answer())) {
      v.Add(field + ".answer", "is not an answer");
    }
    std::string key;
    if (p.is_person()) {
      if (!p.user().empty() || !p.organization().empty()) {
        v.Add(field, "is the person or a user or an organization, not more");
        continue;
      }
      if (meeting.person().empty()) {
        v.Add(field + ".is_person", "needs the meeting's person");
        continue;
      }
      key = "person";
    } else {
      if (!IsResourceName(p.organization(), "organizations")) {
        v.Add(field + ".organization", "must be organizations/{id}");
        continue;
      }
      if (!p.user().empty() && !IsResourceName(p.user(), "users")) {
        v.Add(field + ".user", "must be users/{id}");
        continue;
      }
      key = p.user().empty() ? p.organization() : p.user();
    }
    if (!seen.insert(key).second) v.Add(field, "names a participant already named");
  }
}

absl::Status WrongStatus(const v1::Meeting& current, absl::string_view step) {
  return absl::FailedPreconditionError(absl::StrCat(
      "cannot ", step, " a meeting that is ", v1::MeetingStatus_Name(current.status())));
}

absl::Status OwnerOnly(const v1::Meeting& current, const Principal& caller,
                       absl::string_view step) {
  if (caller.organization == current.owner_organization()) return absl::OkStatus();
  return absl::PermissionDeniedError(
      absl::StrCat("only the meeting's owner, ", current.owner_organization(), ", may ", step,
                   " it"));
}

bool Open(const v1::Meeting& m) {
  return m.status() == v1::MEETING_STATUS_PROPOSED || m.status() == v1::MEETING_STATUS_BOOKED;
}

MeetingStep Next(v1::Meeting meeting, std::string event_type) {
  meeting.set_revision(meeting.revision() + 1);
  return {std::move(meeting), std::move(event_type)};
}

}  // namespace

absl::Time TimeOf(const google::protobuf::Timestamp& timestamp) {
  return absl::FromUnixSeconds(timestamp.seconds()) + absl::Nanoseconds(timestamp.nanos());
}

google::protobuf::Timestamp TimestampOf(absl::Time time) {
  return TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(time));
}

void CheckMeetingTime(const google::protobuf::Timestamp& start,
                      const google::protobuf::Timestamp& end, absl::Time now,
                      const std::string& start_field, const std::string& end_field,
                      FieldViolations& v) {
  const bool start_set = start.seconds() != 0 || start.nanos() != 0;
  const bool end_set = end.seconds() != 0 || end.nanos() != 0;
  if (!start_set) v.Add(start_field, "is required");
  if (!end_set) v.Add(end_field, "is required");
  if (!start_set || !end_set) return;
  const absl::Time s = TimeOf(start), e = TimeOf(end);
  if (s < now - kHowFarBack || s > now + kHowFarAhead) {
    v.Add(start_field, "must lie within a year back and two years ahead");
  }
  if (e <= s) {
    v.Add(end_field, "must be after start_time");
  } else if (e - s > kMaxMeetingLength) {
    v.Add(end_field, "must be at most 12 hours after start_time");
  }
}

absl::StatusOr<v1::Meeting> MeetingForCreate(const v1::CreateMeetingRequest& request,
                                             const Principal& caller, absl::Time now) {
  FieldViolations v;
  CheckTextLength(v, "request_id", request.request_id(), 1, 128);
  v1::Meeting m = request.meeting();
  if (m.kind() == v1::MEETING_KIND_UNSPECIFIED || !v1::MeetingKind_IsValid(m.kind())) {
    v.Add("meeting.kind", "is required: one of the MeetingKind values");
  }
  CheckTextLength(v, "meeting.title", m.title(), 0, 200);
  CheckTextLength(v, "meeting.person_display_name", m.person_display_name(), 0, 100);
  if (!m.person_display_name().empty() && m.person().empty()) {
    v.Add("meeting.person_display_name", "names the meeting's person: set meeting.person");
  }
  if (!m.person().empty() && ResourceId(m.person(), "persons").empty()) {
    v.Add("meeting.person", "must be persons/{id}");
  }
  if (!m.plan().empty() && !IdFromName(m.plan(), "plans", "meeting.plan").ok()) {
    v.Add("meeting.plan", "must be plans/{id}");
  }
  if (!m.agreement().empty() &&
      !IdFromName(m.agreement(), "agreements", "meeting.agreement").ok()) {
    v.Add("meeting.agreement", "must be agreements/{id}");
  }
  CheckLocation(m.location(), v);
  CheckMeetingTime(m.start_time(), m.end_time(), now, "meeting.start_time", "meeting.end_time",
                   v);
  CheckParticipants(m, v);
  if (m.status() != v1::MEETING_STATUS_UNSPECIFIED && m.status() != v1::MEETING_STATUS_PROPOSED &&
      m.status() != v1::MEETING_STATUS_BOOKED) {
    v.Add("meeting.status", "must be PROPOSED or BOOKED (or unset: BOOKED)");
  }
  if (!v.empty()) return v.ToStatus();

  m.clear_name();
  m.clear_cancel_reason();
  m.clear_create_time();
  m.clear_update_time();
  m.clear_etag();
  m.set_owner_organization(caller.organization);
  m.set_organizer_user(caller.user);
  m.set_municipality(caller.municipality);
  m.set_revision(1);
  if (m.status() == v1::MEETING_STATUS_UNSPECIFIED) m.set_status(v1::MEETING_STATUS_BOOKED);
  bool organizer_named = false;
  for (v1::Participant& p : *m.mutable_participants()) {
    if (p.user() == caller.user && !p.user().empty()) {
      organizer_named = true;
      p.set_organization(caller.organization);
      if (p.answer() == v1::PARTICIPANT_ANSWER_UNSPECIFIED) {
        p.set_answer(v1::PARTICIPANT_ANSWER_ACCEPTED);
      }
    }
    if (p.answer() == v1::PARTICIPANT_ANSWER_UNSPECIFIED) {
      p.set_answer(v1::PARTICIPANT_ANSWER_NEEDS_ACTION);
    }
  }
  if (!organizer_named && !caller.user.empty()) {
    v1::Participant* organizer = m.add_participants();
    organizer->set_user(caller.user);
    organizer->set_organization(caller.organization);
    organizer->set_answer(v1::PARTICIPANT_ANSWER_ACCEPTED);
  }
  return m;
}

bool HoldsTime(const v1::Meeting& meeting) {
  return meeting.status() == v1::MEETING_STATUS_BOOKED;
}

std::vector<std::string> TimeHolders(const v1::Meeting& meeting) {
  std::set<std::string> holders;
  if (!HoldsTime(meeting)) return {};
  for (const v1::Participant& p : meeting.participants()) {
    if (p.answer() == v1::PARTICIPANT_ANSWER_DECLINED) continue;
    if (p.is_person()) holders.insert(meeting.person());
    if (!p.user().empty()) holders.insert(p.user());
  }
  return Sorted(std::move(holders));
}

std::vector<std::string> InvitedOrganizations(const v1::Meeting& meeting) {
  std::set<std::string> orgs;
  for (const v1::Participant& p : meeting.participants()) {
    if (!p.organization().empty() && p.organization() != meeting.owner_organization()) {
      orgs.insert(p.organization());
    }
  }
  return Sorted(std::move(orgs));
}

std::vector<std::string> ParticipantUsers(const v1::Meeting& meeting) {
  std::set<std::string> users;
  for (const v1::Participant& p : meeting.participants()) {
    if (!p.user().empty()) users.insert(p.user());
  }
  return Sorted(std::move(users));
}

absl::Status ConsentMissing(absl::string_view organization, absl::string_view gap) {
  return PreconditionFailed(
      "CONSENT", std::string(organization),
      absl::StrCat("the person has given this organization no active consent for attendance "
                   "data and coordination (",
                   gap.empty() ? "no_consent" : gap,
                   "); record the consent before inviting it"));
}

absl::Status OverlapRefused(absl::string_view holder) {
  return PreconditionFailed("OVERLAP", std::string(holder),
                            "is already booked at that time; choose another time or allow the "
                            "overlap");
}

absl::StatusOr<MeetingStep> Book(const v1::Meeting& current, const Principal& caller) {
  if (absl::Status s = OwnerOnly(current, caller, "book"); !s.ok()) return s;
  if (current.status() != v1::MEETING_STATUS_PROPOSED) return WrongStatus(current, "book");
  v1::Meeting next = current;
  next.set_status(v1::MEETING_STATUS_BOOKED);
  return Next(std::move(next), "scheduling.meeting.booked");
}

absl::StatusOr<MeetingStep> Reschedule(const v1::Meeting& current,
                                       const v1::RescheduleMeetingRequest& request,
                                       const Principal& caller, absl::Time now) {
  FieldViolations v;
  CheckMeetingTime(request.start_time(), request.end_time(), now, "start_time", "end_time", v);
  if (!v.empty()) return v.ToStatus();
  if (absl::Status s = OwnerOnly(current, caller, "reschedule"); !s.ok()) return s;
  if (!Open(current)) return WrongStatus(current, "reschedule");
  v1::Meeting next = current;
  *next.mutable_start_time() = request.start_time();
  *next.mutable_end_time() = request.end_time();
  // A new time is a new question to everyone but whoever moved it.
  for (v1::Participant& p : *next.mutable_participants()) {
    if (p.user() != caller.user || p.user().empty()) {
      p.set_answer(v1::PARTICIPANT_ANSWER_NEEDS_ACTION);
    }
  }
  return Next(std::move(next), "scheduling.meeting.rescheduled");
}

absl::StatusOr<MeetingStep> Cancel(const v1::Meeting& current, absl::string_view reason,
                                   const Principal& caller) {
  FieldViolations v;
  CheckTextLength(v, "reason", reason, 1, 500);
  if (!v.empty()) return v.ToStatus();
  if (absl::Status s = OwnerOnly(current, caller, "cancel"); !s.ok()) return s;
  if (!Open(current)) return WrongStatus(current, "cancel");
  v1::Meeting next = current;
  next.set_status(v1::MEETING_STATUS_CANCELLED);
  next.set_cancel_reason(std::string(reason));
  return Next(std::move(next), "scheduling.meeting.cancelled");
}

absl::StatusOr<MeetingStep> Answer(const v1::Meeting& current,
                                   const v1::AnswerMeetingRequest& request,
                                   const Principal& caller) {
  if (request.answer() != v1::PARTICIPANT_ANSWER_ACCEPTED &&
      request.answer() != v1::PARTICIPANT_ANSWER_DECLINED &&
      request.answer() != v1::PARTICIPANT_ANSWER_TENTATIVE) {
    return InvalidField("answer", "must be ACCEPTED, DECLINED or TENTATIVE");
  }
  const std::string who = request.participant().empty() ? caller.user : request.participant();
  const bool as_user = absl::StartsWith(who, "users/");
  if (as_user ? who != caller.user : who != caller.organization) {
    return InvalidField("participant",
                        "must be the caller's own user or the caller's own organization");
  }
  if (!Open(current)) return WrongStatus(current, "answer");
  v1::Meeting next = current;
  bool found = false;
  for (v1::Participant& p : *next.mutable_participants()) {
    if (as_user ? p.user() == who : (p.user().empty() && p.organization() == who)) {
      p.set_answer(request.answer());
      found = true;
    }
  }
  if (!found) return InvalidField("participant", "is not a participant of the meeting");
  return Next(std::move(next), "scheduling.meeting.answered");
}

absl::StatusOr<MeetingStep> Fulfil(const v1::Meeting& current, const Principal& caller,
                                   absl::Time now) {
  if (absl::Status s = OwnerOnly(current, caller, "mark"); !s.ok()) return s;
  if (current.status() != v1::MEETING_STATUS_BOOKED) return WrongStatus(current, "fulfil");
  if (TimeOf(current.start_time()) > now) {
    return absl::FailedPreconditionError("the meeting has not begun yet");
  }
  v1::Meeting next = current;
  next.set_status(v1::MEETING_STATUS_FULFILLED);
  return Next(std::move(next), "scheduling.meeting.fulfilled");
}

absl::StatusOr<MeetingStep> MarkNoShow(const v1::Meeting& current, const Principal& caller,
                                       absl::Time now) {
  if (absl::Status s = OwnerOnly(current, caller, "mark"); !s.ok()) return s;
  if (current.status() != v1::MEETING_STATUS_BOOKED) return WrongStatus(current, "mark as missed");
  if (TimeOf(current.start_time()) > now) {
    return absl::FailedPreconditionError("the meeting has not begun yet");
  }
  if (current.person().empty()) {
    return absl::FailedPreconditionError("a meeting about no person has nobody to miss it");
  }
  v1::Meeting next = current;
  next.set_status(v1::MEETING_STATUS_NO_SHOW);
  return Next(std::move(next), "scheduling.meeting.no_show");
}

GuardedAccess DecideMeetingAccess(const Caller& caller, const v1::Meeting& meeting,
                                  AccessAction action, const AccessFacts& facts) {
  AccessRequest request;
  request.action = action;
  request.resource = meeting.name();
  request.person = meeting.person();
  request.municipality = meeting.municipality();
  request.data_category = kAttendanceCategory;
  request.purpose = kCoordinationPurpose;
  if (!meeting.person().empty()) {
    request.owner_organization =
        action == AccessAction::kCreate ? facts.person_owner : meeting.owner_organization();
    return DecideAndAudit(caller, request, facts);
  }
  // About no person: the municipality's staff meeting. The rule's first two
  // steps hold; then reading is open to the municipality and changing to the
  // owner and the participating organizations.
  request.owner_organization = meeting.owner_organization();
  const Principal& who = caller.principal;
  AccessDecision decision;
  if (!MayHandlePersonalData(who)) {
    decision = {false, "role", ""};
  } else if (who.municipality != meeting.municipality()) {
    decision = {false, "other_municipality", ""};
  } else if (who.organization == meeting.owner_organization() ||
             action == AccessAction::kCreate) {
    decision = {true, "owner", ""};
  } else if (action == AccessAction::kRead) {
    decision = {true, "municipality", ""};
  } else {
    const std::vector<std::string> invited = InvitedOrganizations(meeting);
    const bool participates =
        std::find(invited.begin(), invited.end(), who.organization) != invited.end();
    decision = participates ? AccessDecision{true, "participant", ""}
                            : AccessDecision{false, "not_participant", ""};
  }
  GuardedAccess access;
  access.decision = decision;
  access.audit = AuditOf(who, caller.method, request, decision, caller.now, caller.request_id);
  return access;
}

GuardedAccess MissingMeetingAccess(const Caller& caller, absl::string_view resource,
                                   AccessAction action) {
  AccessRequest request;
  request.action = action;
  request.resource = std::string(resource);
  request.data_category = kAttendanceCategory;
  request.purpose = kCoordinationPurpose;
  return MissingRecordAccess(caller, std::move(request));
}

}  // namespace samplan::scheduling
