#ifndef SAMPLAN_SERVICES_SCHEDULING_MEETING_REPOSITORY_H_
#define SAMPLAN_SERVICES_SCHEDULING_MEETING_REPOSITORY_H_

// Storage of meetings. The service decides what a change is; the repository
// stores it in one transaction with its revision, its outbox event and its
// audit record. Every call reads the identity facts the access decision needs
// and appends the audit record in the same transaction, denials included: a
// denied call commits its audit record and then returns PERMISSION_DENIED.

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/access.h"
#include "samplan/scheduling/v1/scheduling.pb.h"
#include "services/scheduling/meeting_rules.h"

namespace samplan::scheduling {

// What a create carries besides the caller: the idempotency key.
struct CreateMeta {
  std::string request_id;
  std::string fingerprint;  // RequestFingerprint of the request
};

// Where the previous page of a list ended: the start time and id of its last
// meeting.
struct MeetingKey {
  absl::Time start;
  std::string id;
};

// Which meetings a list reads: of a person, or those a user takes part in, that
// overlap [from, to), by start time then id, after `after`.
struct MeetingQuery {
  std::string person;
  std::string user;
  absl::Time from;
  absl::Time to;
  std::optional<MeetingKey> after;
  int limit = 50;
};

// A page: the meetings the caller may see, and where the scan stopped (rows the
// caller may not see are left out but still move the position on).
struct MeetingPage {
  std::vector<v1::Meeting> meetings;
  std::optional<MeetingKey> last_scanned;
  bool more = false;
};

class MeetingRepository {
 public:
  virtual ~MeetingRepository() = default;

  // Stores `meeting` (as MeetingForCreate made it) with its event, if the
  // caller may write about its person, who must be registered in the caller's
  // municipality (INVALID_ARGUMENT naming meeting.person otherwise); every
  // invited organization but the person's owner must hold the person's consent
  // for attendance and coordination (FAILED_PRECONDITION, ConsentMissing). When
  // it holds time, the time holders are locked and a booked overlap refused
  // (OverlapRefused) unless `allow_overlap`. Idempotent by the meta's request id.
  virtual absl::StatusOr<v1::Meeting> CreateMeeting(const Caller& caller, const CreateMeta& meta,
                                                    const v1::Meeting& meeting,
                                                    bool allow_overlap) = 0;
  // The meeting if the caller may read it; PERMISSION_DENIED otherwise or if
  // missing.
  virtual absl::StatusOr<v1::Meeting> GetMeeting(const Caller& caller, const std::string& id) = 0;
  // A page of `query`; each meeting read is decided and audited.
  virtual absl::StatusOr<MeetingPage> ListMeetings(const Caller& caller,
                                                   const MeetingQuery& query) = 0;
  // One step: locks the meeting, decides the caller's access (update), checks
  // `etag` when given (ABORTED when stale), runs `step`; when the meeting is to
  // hold time, locks its time holders and refuses a booked overlap unless
  // `allow_overlap`. Stores the next revision with the step's event.
  using StepFn = std::function<absl::StatusOr<MeetingStep>(const v1::Meeting& current)>;
  virtual absl::StatusOr<v1::Meeting> StepMeeting(const Caller& caller, const std::string& id,
                                                  const std::string& etag, bool allow_overlap,
                                                  const StepFn& step) = 0;
};

}  // namespace samplan::scheduling

#endif  // SAMPLAN_SERVICES_SCHEDULING_MEETING_REPOSITORY_H_
