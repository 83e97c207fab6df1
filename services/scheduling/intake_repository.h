#ifndef SAMPLAN_SERVICES_SCHEDULING_INTAKE_REPOSITORY_H_
#define SAMPLAN_SERVICES_SCHEDULING_INTAKE_REPOSITORY_H_

// Storage of group intakes. Every change is stored in one transaction with its
// revision, its outbox event and, for an enrolment, its audit record; a denied
// call commits its audit record and then returns PERMISSION_DENIED.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/access.h"
#include "samplan/scheduling/v1/scheduling.pb.h"
#include "services/scheduling/meeting_repository.h"

namespace samplan::scheduling {

class IntakeRepository {
 public:
  virtual ~IntakeRepository() = default;

  // Stores `session` (as IntakeSessionForCreate made it) with its event;
  // idempotent by the meta's request id.
  virtual absl::StatusOr<v1::IntakeSession> CreateSession(const Caller& caller,
                                                          const CreateMeta& meta,
                                                          const v1::IntakeSession& session) = 0;
  // The session with its counts, if it is in the caller's municipality;
  // PERMISSION_DENIED otherwise or if missing.
  virtual absl::StatusOr<v1::IntakeSession> GetSession(const Caller& caller,
                                                       const std::string& id) = 0;
  // Enrols the person of `enrolment` (as EnrolmentForCreate made it) in
  // session `session_id`, locking the session: ENROLLED while the start list
  // has room, WAITLISTED after. The caller must be allowed the person's
  // attendance data; the session's owner must hold the person's consent unless
  // it owns the person's record (FAILED_PRECONDITION, ConsentMissing).
  // ALREADY_EXISTS when the person is on the session's lists.
  virtual absl::StatusOr<v1::IntakeEnrolment> Enrol(const Caller& caller,
                                                    const std::string& session_id,
                                                    const v1::IntakeEnrolment& enrolment) = 0;
  // Withdraws an enrolment; a seat that frees goes to the first on the waiting
  // list, in the same transaction (its own event and audit record).
  virtual absl::StatusOr<v1::IntakeEnrolment> Withdraw(const Caller& caller,
                                                       const std::string& session_id,
                                                       const std::string& enrolment_id,
                                                       const std::string& reason,
                                                       const std::string& etag) = 0;
  // The session's enrolments the caller may see (each decided and audited):
  // the start list, the waiting list in its order, the withdrawn.
  virtual absl::StatusOr<std::vector<v1::IntakeEnrolment>> ListEnrolments(
      const Caller& caller, const std::string& session_id) = 0;
  // Splits the start list into teaching groups (SplitIntoGroups), storing each
  // enrolment's group with its event and audit record (the session's owner
  // only; ABORTED on a stale session etag).
  virtual absl::StatusOr<v1::IntakeGroups> SplitGroups(const Caller& caller,
                                                       const std::string& session_id,
                                                       int max_group_size,
                                                       const std::string& balance_attribute,
                                                       const std::string& etag) = 0;
};

}  // namespace samplan::scheduling

#endif  // SAMPLAN_SERVICES_SCHEDULING_INTAKE_REPOSITORY_H_
