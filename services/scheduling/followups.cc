#include "services/scheduling/followups.h"

#include "services/scheduling/availability.h"
#include "services/scheduling/meeting_rules.h"

namespace samplan::scheduling {

std::vector<absl::CivilDay> FollowUpDays(absl::CivilDay start, absl::CivilDay end,
                                         int interval_days) {
  if (interval_days < 1 || interval_days > 31) interval_days = 30;
  std::vector<absl::CivilDay> days;
  for (absl::CivilDay day = start + interval_days; day <= end; day += interval_days) {
    absl::CivilDay visit = day;
    const absl::Weekday weekday = absl::GetWeekday(visit);
    if (weekday == absl::Weekday::saturday) visit -= 1;
    if (weekday == absl::Weekday::sunday) visit -= 2;
    if (visit <= start) continue;
    if (days.empty() || days.back() != visit) days.push_back(visit);
  }
  return days;
}

v1::Meeting FollowUpMeeting(const placement::v1::AgreementChanged& agreement,
                            absl::string_view municipality, absl::CivilDay day,
                            absl::string_view coordinator_user) {
  v1::Meeting m;
  m.set_kind(v1::MEETING_KIND_FOLLOW_UP);
  m.set_title("Uppföljning");
  m.set_person(agreement.person());
  m.set_agreement(agreement.agreement());
  m.set_status(v1::MEETING_STATUS_PROPOSED);
  m.set_owner_organization(agreement.coordinator_organization());
  m.set_organizer_user(std::string(coordinator_user));
  m.set_municipality(std::string(municipality));
  m.set_revision(1);
  const absl::Time start = StockholmZone().At(absl::CivilSecond(day) + 10 * 3600).pre;
  *m.mutable_start_time() = TimestampOf(start);
  *m.mutable_end_time() = TimestampOf(start + absl::Hours(1));
  v1::Participant* coordinator = m.add_participants();
  coordinator->set_organization(agreement.coordinator_organization());
  coordinator->set_user(std::string(coordinator_user));
  coordinator->set_answer(v1::PARTICIPANT_ANSWER_NEEDS_ACTION);
  v1::Participant* person = m.add_participants();
  person->set_is_person(true);
  person->set_answer(v1::PARTICIPANT_ANSWER_NEEDS_ACTION);
  return m;
}

}  // namespace samplan::scheduling
