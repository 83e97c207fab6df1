// The scheduling service's request rules on requests parsed from arbitrary
// bytes, as the handlers run them: meetings created and then rescheduled,
// answered or cancelled; working hours, slot searches, iCalendar imports,
// intakes, visit routes and month plans. Every refusal names its fields.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <fuzzer/FuzzedDataProvider.h>

#include "common/auth.h"
#include "fuzz/fuzz_support.h"
#include "samplan/scheduling/v1/scheduling.pb.h"
#include "services/scheduling/availability.h"
#include "services/scheduling/calendar_import.h"
#include "services/scheduling/intakes.h"
#include "services/scheduling/meeting_rules.h"
#include "services/scheduling/month_plan.h"
#include "services/scheduling/visit_route.h"

namespace sc = samplan::scheduling;
using samplan::fuzz::CheckRefusal;

namespace {

template <typename Message>
bool Parse(FuzzedDataProvider& input, Message& message, size_t max = 8192) {
  return message.ParseFromString(input.ConsumeRandomLengthString(max));
}

template <typename Value>
void CheckAnswer(const absl::StatusOr<Value>& answer) {
  if (!answer.ok()) CheckRefusal(answer.status());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider input(data, size);
  const absl::Time now = samplan::fuzz::FixedNow();
  samplan::Principal caller;
  caller.organization = "organizations/soc";
  caller.municipality = "1885";
  caller.user = "users/u-soc";
  caller.roles = {"caseworker"};

  switch (input.ConsumeIntegralInRange<int>(0, 7)) {
    case 0: {  // CreateMeeting, then steps on the meeting
      sc::v1::CreateMeetingRequest create;
      if (!Parse(input, create)) break;
      absl::StatusOr<sc::v1::Meeting> meeting = sc::MeetingForCreate(create, caller, now);
      if (!meeting.ok()) {
        CheckRefusal(meeting.status());
        break;
      }
      (void)sc::TimeHolders(*meeting);
      (void)sc::InvitedOrganizations(*meeting);
      while (input.remaining_bytes() > 0) {
        absl::StatusOr<sc::MeetingStep> step = absl::UnknownError("no step");
        switch (input.ConsumeIntegralInRange<int>(0, 5)) {
          case 0: {
            sc::v1::RescheduleMeetingRequest r;
            if (!Parse(input, r, 512)) return 0;
            step = sc::Reschedule(*meeting, r, caller, now);
            break;
          }
          case 1: {
            sc::v1::AnswerMeetingRequest r;
            if (!Parse(input, r, 512)) return 0;
            step = sc::Answer(*meeting, r, caller);
            break;
          }
          case 2: {
            sc::v1::CancelMeetingRequest r;
            if (!Parse(input, r, 1024)) return 0;
            step = sc::Cancel(*meeting, r.reason(), caller);
            break;
          }
          case 3:
            step = sc::Book(*meeting, caller);
            break;
          case 4:
            step = sc::Fulfil(*meeting, caller, now);
            break;
          default:
            step = sc::MarkNoShow(*meeting, caller, now);
            break;
        }
        if (!step.ok()) {
          FUZZ_CHECK(step.status().code() != absl::StatusCode::kUnknown);
          CheckRefusal(step.status());
          continue;
        }
        meeting = step->meeting;
      }
      break;
    }
    case 1: {
      sc::v1::SetWorkingHoursRequest request;
      if (!Parse(input, request)) break;
      const absl::Status valid = sc::ValidateWorkingHours(request.working_hours());
      CheckRefusal(valid);
      if (valid.ok()) {
        (void)sc::WorkingIntervals(request.working_hours(), now, now + absl::Hours(24 * 14));
      }
      break;
    }
    case 2: {
      sc::v1::FindCommonSlotsRequest request;
      if (!Parse(input, request)) break;
      CheckAnswer(sc::SlotQueryOf(request));
      break;
    }
    case 3: {
      sc::v1::ImportCalendarRequest request;
      if (!Parse(input, request, 65536)) break;
      CheckAnswer(sc::BusyFromICalendar(request.calendar(), now - absl::Hours(24 * 7),
                                        now + absl::Hours(24 * 60), "calendar"));
      break;
    }
    case 4: {
      sc::v1::CreateIntakeSessionRequest request;
      if (!Parse(input, request)) break;
      CheckAnswer(sc::IntakeSessionForCreate(request, caller, now));
      break;
    }
    case 5: {
      sc::v1::EnrolInIntakeRequest request;
      if (!Parse(input, request)) break;
      CheckAnswer(sc::EnrolmentForCreate(request, caller));
      break;
    }
    case 6: {
      sc::v1::PlanVisitRouteRequest request;
      if (!Parse(input, request)) break;
      absl::StatusOr<absl::CivilDay> day = sc::ValidateVisitRouteRequest(request);
      if (!day.ok()) {
        CheckRefusal(day.status());
        break;
      }
      CheckAnswer(sc::DayRouteOf(request, *day, {}));
      break;
    }
    default: {
      sc::v1::PlanFollowUpMonthRequest request;
      if (!Parse(input, request)) break;
      const absl::Status valid = sc::ValidateFollowUpMonthRequest(request);
      CheckRefusal(valid);
      if (valid.ok()) (void)sc::MonthOf(request);
      break;
    }
  }
  return 0;
}
