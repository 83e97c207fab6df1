#ifndef SAMPLAN_SERVICES_SCHEDULING_INTAKES_H_
#define SAMPLAN_SERVICES_SCHEDULING_INTAKES_H_

// Group intakes (gruppintag: "intag två gånger per månad", a start list of
// about 20; teaching groups of eight): what a valid session and enrolment are,
// who comes off the waiting list first, who may see or change an enrolment,
// and the split of a start list into balanced teaching groups. No I/O here.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/access.h"
#include "common/auth.h"
#include "samplan/scheduling/v1/scheduling.pb.h"

namespace samplan::scheduling {

inline constexpr int kDefaultIntakeCapacity = 20;
inline constexpr int kMaxIntakeCapacity = 200;
inline constexpr int kDefaultGroupSize = 8;

// Validates the session a CreateIntakeSession asks for and returns it as it
// is to be stored: owned by the caller's organization in the caller's
// municipality, capacity 20 when 0, first come when no policy is named.
// Violations name "intake_session.…" and "request_id".
absl::StatusOr<v1::IntakeSession> IntakeSessionForCreate(
    const v1::CreateIntakeSessionRequest& request, const Principal& caller, absl::Time now);

// Validates the enrolment an EnrolInIntake asks for (violations name "parent"
// and "enrolment.…") and returns it as it is to be stored, enrolled by the
// caller's organization; the status is the repository's to decide.
absl::StatusOr<v1::IntakeEnrolment> EnrolmentForCreate(const v1::EnrolInIntakeRequest& request,
                                                       const Principal& caller);

// Checks the enrolment against its session's policy: a priority only where
// the session goes by priority (INVALID_ARGUMENT naming enrolment.priority).
absl::Status CheckPriorityAllowed(const v1::IntakeSession& session,
                                  const v1::IntakeEnrolment& enrolment);

// Whether `a` comes off `session`'s waiting list before `b`; `a_arrival` and
// `b_arrival` are their orders of arrival.
bool ComesFirst(const v1::IntakeSession& session, const v1::IntakeEnrolment& a, int64_t a_arrival,
                const v1::IntakeEnrolment& b, int64_t b_arrival);

// Decides `caller`'s `action` on `enrolment` (in `session`) by the access rule
// for the person's attendance data, with its audit record. The session's owner
// and the organization that enrolled the person own the enrolment; on create,
// the owner of the person's record does.
GuardedAccess DecideEnrolmentAccess(const Caller& caller, const v1::IntakeSession& session,
                                    const v1::IntakeEnrolment& enrolment, AccessAction action,
                                    const AccessFacts& facts);

// Splits a start list whose members have the balancing values `values` (in
// start-list order) into teaching groups of at most `max_group_size`: as few
// groups as that allows, sizes differing by at most one, and each value's
// count in any two groups differing by at most one. Returns, per group, the
// indices into `values` in start-list order. Deterministic.
std::vector<std::vector<int>> SplitIntoGroups(const std::vector<std::string>& values,
                                              int max_group_size);

}  // namespace samplan::scheduling

#endif  // SAMPLAN_SERVICES_SCHEDULING_INTAKES_H_
