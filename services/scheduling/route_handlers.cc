// SchedulingService: the coordinator's day and month of visits. Both read the
// coordinator's meetings through MeetingRepository::ListMeetings, so each
// meeting read is decided by the access rule and audited as a list reads it;
// the plans themselves are pure (visit_route.h, month_plan.h, route.h) and
// nothing is stored.

#include "absl/strings/str_cat.h"
#include "common/access.h"
#include "common/status.h"
#include "services/scheduling/month_plan.h"
#include "services/scheduling/scheduling_service.h"
#include "services/scheduling/visit_route.h"

namespace samplan::scheduling {
namespace {

constexpr int kMeetingsPerPage = 200;
constexpr int kMostMeetingsPlanned = 2000;

const DistanceModel& DefaultDistances() {
  static const GreatCircleDistances* distances = new GreatCircleDistances();
  return *distances;
}

}  // namespace

SchedulingService::SchedulingService(MeetingRepository& meetings,
                                     AvailabilityRepository& availability,
                                     const CallHandler& calls, const DistanceModel& distances,
                                     IntakeRepository& intakes)
    : SchedulingService(meetings, availability, calls) {
  distances_ = &distances;
  intakes_ = &intakes;
}

SchedulingService::SchedulingService(MeetingRepository& meetings,
                                     AvailabilityRepository& availability,
                                     const CallHandler& calls, FollowUpParts parts,
                                     const DistanceModel& distances, IntakeRepository& intakes)
    : SchedulingService(meetings, availability, calls, std::move(parts)) {
  distances_ = &distances;
  intakes_ = &intakes;
}

absl::StatusOr<std::vector<v1::Meeting>> SchedulingService::MeetingsOf(
    const CallContext& call, absl::string_view method, const std::string& user, absl::Time from,
    absl::Time to) {
  const Caller caller{call.principal, absl::StrCat("scheduling.", method), call.request_id,
                      call.now, call.deadline};
  MeetingQuery query;
  query.user = user;
  query.from = from;
  query.to = to;
  query.limit = kMeetingsPerPage;
  std::vector<v1::Meeting> out;
  for (int read = 0;; read += kMeetingsPerPage) {
    if (read >= kMostMeetingsPlanned) {
      return absl::FailedPreconditionError(
          absl::StrCat("the coordinator has more than ", kMostMeetingsPlanned,
                       " meetings in the period; plan a shorter one"));
    }
    absl::StatusOr<MeetingPage> page = meetings_.ListMeetings(caller, query);
    if (!page.ok()) return page.status();
    for (v1::Meeting& m : page->meetings) out.push_back(std::move(m));
    if (!page->more || !page->last_scanned.has_value()) break;
    query.after = page->last_scanned;
  }
  return out;
}

grpc::Status SchedulingService::PlanVisitRoute(Context* context,
                                               const v1::PlanVisitRouteRequest* request,
                                               v1::VisitRoute* response) {
  return calls_.Handle(context, "PlanVisitRoute", *request, [&](const CallContext& call) -> absl::Status {
    if (!MayHandlePersonalData(call.principal)) return RoleDeniedStatus();
    absl::StatusOr<absl::CivilDay> day = ValidateVisitRouteRequest(*request);
    if (!day.ok()) return day.status();
    const std::string coordinator =
        request->coordinator().empty() ? call.principal.user : request->coordinator();
    const Interval whole_day = LocalDay(*day);
    absl::StatusOr<std::vector<v1::Meeting>> meetings =
        MeetingsOf(call, "PlanVisitRoute", coordinator, whole_day.start, whole_day.end);
    if (!meetings.ok()) return meetings.status();
    absl::StatusOr<DayRoute> route = DayRouteOf(*request, *day, *meetings);
    if (!route.ok()) return route.status();
    const DistanceModel& distances = distances_ != nullptr ? *distances_ : DefaultDistances();
    absl::StatusOr<RoutePlan> plan = PlanRoute(route->query, distances);
    if (!plan.ok()) return plan.status();
    *response = VisitRouteOf(*route, *plan, distances);
    return absl::OkStatus();
  });
}

grpc::Status SchedulingService::PlanFollowUpMonth(Context* context,
                                                  const v1::PlanFollowUpMonthRequest* request,
                                                  v1::FollowUpMonthPlan* response) {
  return calls_.Handle(context, "PlanFollowUpMonth", *request, [&](const CallContext& call) -> absl::Status {
    if (!MayHandlePersonalData(call.principal)) return RoleDeniedStatus();
    if (absl::Status valid = ValidateFollowUpMonthRequest(*request); !valid.ok()) return valid;
    const std::string coordinator =
        request->coordinator().empty() ? call.principal.user : request->coordinator();
    const auto [first, next] = MonthOf(*request);
    const absl::Time from = LocalDay(first).start, to = LocalDay(next).start;
    absl::StatusOr<std::optional<v1::WorkingHours>> hours =
        availability_.GetWorkingHours(coordinator, call.principal.municipality, call.deadline);
    if (!hours.ok()) return hours.status();
    const std::vector<Interval> working =
        WorkingIntervals(hours->has_value() ? **hours : DefaultWorkingHours(), from, to);
    absl::StatusOr<std::vector<v1::Meeting>> meetings =
        MeetingsOf(call, "PlanFollowUpMonth", coordinator, from, to);
    if (!meetings.ok()) return meetings.status();
    const MonthInput input = MonthInputOf(*request, working, *meetings);
    const DistanceModel& distances = distances_ != nullptr ? *distances_ : DefaultDistances();
    *response = FollowUpMonthPlanOf(input, PlanMonth(input.query, distances), distances);
    return absl::OkStatus();
  });
}

}  // namespace samplan::scheduling
