#ifndef SAMPLAN_SERVICES_SCHEDULING_FOLLOWUPS_H_
#define SAMPLAN_SERVICES_SCHEDULING_FOLLOWUPS_H_

// The follow-ups of a placement agreement ("enligt uppgörelse men dock minst 1
// gång/mån"): when they fall and what each proposed visit is. No I/O here.

#include <string>
#include <vector>

#include "absl/time/civil_time.h"
#include "samplan/placement/v1/events.pb.h"
#include "samplan/scheduling/v1/scheduling.pb.h"

namespace samplan::scheduling {

// Returns the days of the follow-ups of an agreement running from `start` to
// `end`: every `interval_days` (1 to 31; 30 when outside that) after the
// start, on or before the end; one that falls on a Saturday or Sunday moves
// to the Friday before (never before the start).
std::vector<absl::CivilDay> FollowUpDays(absl::CivilDay start, absl::CivilDay end,
                                         int interval_days);

// Returns the proposed follow-up visit of `agreement` on `day`, 10:00 to 11:00
// in Stockholm, owned by the coordinator's organization, with the coordinator
// (`coordinator_user`, when known) and the person taking part.
v1::Meeting FollowUpMeeting(const placement::v1::AgreementChanged& agreement,
                            absl::string_view municipality, absl::CivilDay day,
                            absl::string_view coordinator_user);

}  // namespace samplan::scheduling

#endif  // SAMPLAN_SERVICES_SCHEDULING_FOLLOWUPS_H_
