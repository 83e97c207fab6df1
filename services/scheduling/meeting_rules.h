#ifndef SAMPLAN_SERVICES_SCHEDULING_MEETING_RULES_H_
#define SAMPLAN_SERVICES_SCHEDULING_MEETING_RULES_H_

// The decisions about meetings as pure functions: what a valid meeting is, its
// lifecycle (FHIR Appointment's statuses), whose time it holds, which
// organizations it invites, and who may see or change it. No I/O here.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/access.h"
#include "common/auth.h"
#include "common/ids.h"
#include "common/status.h"
#include "samplan/scheduling/v1/scheduling.pb.h"

namespace samplan::scheduling {

// Meetings about a person to the access rule (common/access.h).
inline constexpr char kAttendanceCategory[] = "attendance";
inline constexpr char kCoordinationPurpose[] = "coordination";

// The limits of a meeting.
inline constexpr int kMaxParticipants = 50;
inline constexpr absl::Duration kMaxMeetingLength = absl::Hours(12);
inline constexpr absl::Duration kHowFarBack = absl::Hours(24 * 366);
inline constexpr absl::Duration kHowFarAhead = absl::Hours(24 * 366 * 2);

// IdFromName (the id of "<collection>/{uuid}") is common/ids.h's.

absl::Time TimeOf(const google::protobuf::Timestamp& timestamp);
google::protobuf::Timestamp TimestampOf(absl::Time time);

// Checks a meeting's time: both set, the end after the start and at most
// kMaxMeetingLength later, within kHowFarBack and kHowFarAhead of `now`.
// Violations name `start_field` and `end_field`.
void CheckMeetingTime(const google::protobuf::Timestamp& start,
                      const google::protobuf::Timestamp& end, absl::Time now,
                      const std::string& start_field, const std::string& end_field,
                      FieldViolations& v);

// Validates the meeting a CreateMeeting asks for and returns it as it is to be
// stored: owned by the caller's organization in the caller's municipality,
// organized by the caller (added as an ACCEPTED participant when not named),
// BOOKED when no status is asked for, every other answer NEEDS_ACTION unless
// given. Violations name "meeting.…" and "request_id".
absl::StatusOr<v1::Meeting> MeetingForCreate(const v1::CreateMeetingRequest& request,
                                             const Principal& caller, absl::Time now);

// Whether the meeting holds its participants' time (BOOKED).
bool HoldsTime(const v1::Meeting& meeting);

// Returns whose time `meeting` holds, sorted and once each: the users taking
// part who have not declined, and the person when taking part ("persons/…").
// Empty unless HoldsTime.
std::vector<std::string> TimeHolders(const v1::Meeting& meeting);

// Returns the organizations the meeting invites besides its owner: those of its
// users and those invited as such, sorted and once each.
std::vector<std::string> InvitedOrganizations(const v1::Meeting& meeting);

// Returns the users taking part, sorted and once each.
std::vector<std::string> ParticipantUsers(const v1::Meeting& meeting);

// FAILED_PRECONDITION with a google.rpc.PreconditionFailure of type "CONSENT"
// naming `organization`: the person has given it no active consent for
// attendance data and coordination (`gap` says why: no_consent,
// consent_withdrawn, …).
absl::Status ConsentMissing(absl::string_view organization, absl::string_view gap);

// FAILED_PRECONDITION with a PreconditionFailure of type "OVERLAP" naming the
// user or person who is already booked at the time.
absl::Status OverlapRefused(absl::string_view holder);

// One step of a meeting's life: the meeting after it and its event's type.
struct MeetingStep {
  v1::Meeting meeting;
  std::string event_type;  // "scheduling.meeting.cancelled", …
};

// The steps. Each returns FAILED_PRECONDITION naming the status when the
// meeting's status does not allow it, PERMISSION_DENIED when the caller's
// organization may not take it (only the owner books, reschedules, cancels and
// marks; a participant answers for itself), INVALID_ARGUMENT naming the request
// field for wrong input. Each raises the revision.
absl::StatusOr<MeetingStep> Book(const v1::Meeting& current, const Principal& caller);
absl::StatusOr<MeetingStep> Reschedule(const v1::Meeting& current,
                                       const v1::RescheduleMeetingRequest& request,
                                       const Principal& caller, absl::Time now);
absl::StatusOr<MeetingStep> Cancel(const v1::Meeting& current, absl::string_view reason,
                                   const Principal& caller);
absl::StatusOr<MeetingStep> Answer(const v1::Meeting& current,
                                   const v1::AnswerMeetingRequest& request,
                                   const Principal& caller);
absl::StatusOr<MeetingStep> Fulfil(const v1::Meeting& current, const Principal& caller,
                                   absl::Time now);
absl::StatusOr<MeetingStep> MarkNoShow(const v1::Meeting& current, const Principal& caller,
                                       absl::Time now);

// ---- Access

// Decides `action` on `meeting` with its audit record. A meeting about a person
// is decided by common/access.h's rule for "attendance" and "coordination";
// creating one is writing about the person, so for kCreate the owner is the
// person's owner from `facts`. A meeting about no person is for every caller of
// the municipality whose roles handle personal data to read; its owner and its
// participating organizations change it.
GuardedAccess DecideMeetingAccess(const Caller& caller, const v1::Meeting& meeting,
                                  AccessAction action, const AccessFacts& facts);

// The denial of a meeting that does not exist: the same answer as a hidden one.
GuardedAccess MissingMeetingAccess(const Caller& caller, absl::string_view resource,
                                   AccessAction action);

}  // namespace samplan::scheduling

#endif  // SAMPLAN_SERVICES_SCHEDULING_MEETING_RULES_H_
