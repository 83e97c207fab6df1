#ifndef SAMPLAN_SERVICES_SCHEDULING_SCHEDULING_SERVICE_H_
#define SAMPLAN_SERVICES_SCHEDULING_SCHEDULING_SERVICE_H_

#include <functional>
#include <string>

#include "common/call.h"
#include "samplan/scheduling/v1/scheduling.grpc.pb.h"
#include "services/scheduling/availability_repository.h"
#include "services/scheduling/intake_repository.h"
#include "services/scheduling/meeting_repository.h"
// Calendar feeds and overdue follow-ups.
#include "services/scheduling/calendar_feed_repository.h"
#include "services/scheduling/overdue.h"

#include "services/scheduling/route.h"

namespace samplan::scheduling {

// The gRPC handlers of samplan.scheduling.v1.SchedulingService. Each one
// validates, calls the repository and maps the result; the decisions are pure
// functions (meeting_rules.h, availability.h, calendar_import.h), the storage
// and the access decisions behind MeetingRepository and AvailabilityRepository.
// The meeting handlers are in scheduling_service.cc, availability's in
// availability_handlers.cc.
class SchedulingService final : public v1::SchedulingService::Service {
 public:
  // Everything passed in must outlive the service.
  SchedulingService(MeetingRepository& meetings, AvailabilityRepository& availability,
                    const CallHandler& calls);

  using Context = grpc::ServerContext;
  grpc::Status CreateMeeting(Context*, const v1::CreateMeetingRequest*, v1::Meeting*) override;
  grpc::Status GetMeeting(Context*, const v1::GetMeetingRequest*, v1::Meeting*) override;
  grpc::Status ListMeetings(Context*, const v1::ListMeetingsRequest*,
                            v1::ListMeetingsResponse*) override;
  grpc::Status BookMeeting(Context*, const v1::BookMeetingRequest*, v1::Meeting*) override;
  grpc::Status RescheduleMeeting(Context*, const v1::RescheduleMeetingRequest*,
                                 v1::Meeting*) override;
  grpc::Status CancelMeeting(Context*, const v1::CancelMeetingRequest*, v1::Meeting*) override;
  grpc::Status AnswerMeeting(Context*, const v1::AnswerMeetingRequest*, v1::Meeting*) override;
  grpc::Status FulfilMeeting(Context*, const v1::FulfilMeetingRequest*, v1::Meeting*) override;
  grpc::Status MarkMeetingNoShow(Context*, const v1::MarkMeetingNoShowRequest*,
                                 v1::Meeting*) override;
  grpc::Status SetWorkingHours(Context*, const v1::SetWorkingHoursRequest*,
                               v1::WorkingHours*) override;
  grpc::Status GetWorkingHours(Context*, const v1::GetWorkingHoursRequest*,
                               v1::WorkingHours*) override;
  grpc::Status ImportBusyIntervals(Context*, const v1::ImportBusyIntervalsRequest*,
                                   v1::ImportBusyIntervalsResponse*) override;
  grpc::Status ImportCalendar(Context*, const v1::ImportCalendarRequest*,
                              v1::ImportBusyIntervalsResponse*) override;
  grpc::Status FindCommonSlots(Context*, const v1::FindCommonSlotsRequest*,
                               v1::FindCommonSlotsResponse*) override;

 private:
  // Runs one step of meeting `name` (field "name").
  using StepOf = std::function<absl::StatusOr<MeetingStep>(const v1::Meeting&, const CallContext&)>;
  grpc::Status Step(Context* context, absl::string_view method,
                    const google::protobuf::Message& request, const std::string& name,
                    const std::string& etag, bool allow_overlap, v1::Meeting* response,
                    const StepOf& step);

  MeetingRepository& meetings_;
  AvailabilityRepository& availability_;
  const CallHandler& calls_;

  // ---- Calendar feeds and overdue follow-ups (calendar_feed_handlers.cc,
  // overdue_handlers.cc)

 public:
  // What those calls need besides the meetings. Everything must outlive the
  // service.
  struct FollowUpParts {
    CalendarFeedRepository& feeds;
    OverdueRepository& overdue;
    // Where the feeds are served, e.g. "https://kalender.example.se"; a feed's
    // address is this and FeedPath(secret).
    std::string feed_base_url;
  };
  SchedulingService(MeetingRepository& meetings, AvailabilityRepository& availability,
                    const CallHandler& calls, FollowUpParts parts);

  grpc::Status RotateCalendarFeed(Context*, const v1::RotateCalendarFeedRequest*,
                                  v1::CalendarFeed*) override;
  grpc::Status RevokeCalendarFeed(Context*, const v1::RevokeCalendarFeedRequest*,
                                  v1::CalendarFeed*) override;
  grpc::Status ListOverdueFollowUps(Context*, const v1::ListOverdueFollowUpsRequest*,
                                    v1::ListOverdueFollowUpsResponse*) override;

 private:
  CalendarFeedRepository* feeds_ = nullptr;
  OverdueRepository* overdue_ = nullptr;
  std::string feed_base_url_;

  // ---- The coordinator's routes (route_handlers.cc) and group intakes
  // (intake_handlers.cc)
 public:
  // The same, measuring routes with `distances` instead of the great-circle
  // estimate's defaults, and serving group intakes from `intakes` (without
  // them the intake calls answer UNIMPLEMENTED). Both must outlive the service.
  SchedulingService(MeetingRepository& meetings, AvailabilityRepository& availability,
                    const CallHandler& calls, const DistanceModel& distances,
                    IntakeRepository& intakes);
  // With the calendar feeds and overdue follow-ups too: the service as the
  // process runs it.
  SchedulingService(MeetingRepository& meetings, AvailabilityRepository& availability,
                    const CallHandler& calls, FollowUpParts parts,
                    const DistanceModel& distances, IntakeRepository& intakes);

  grpc::Status PlanVisitRoute(Context*, const v1::PlanVisitRouteRequest*,
                              v1::VisitRoute*) override;
  grpc::Status PlanFollowUpMonth(Context*, const v1::PlanFollowUpMonthRequest*,
                                 v1::FollowUpMonthPlan*) override;
  grpc::Status CreateIntakeSession(Context*, const v1::CreateIntakeSessionRequest*,
                                   v1::IntakeSession*) override;
  grpc::Status GetIntakeSession(Context*, const v1::GetIntakeSessionRequest*,
                                v1::IntakeSession*) override;
  grpc::Status EnrolInIntake(Context*, const v1::EnrolInIntakeRequest*,
                             v1::IntakeEnrolment*) override;
  grpc::Status WithdrawFromIntake(Context*, const v1::WithdrawFromIntakeRequest*,
                                  v1::IntakeEnrolment*) override;
  grpc::Status ListIntakeEnrolments(Context*, const v1::ListIntakeEnrolmentsRequest*,
                                    v1::ListIntakeEnrolmentsResponse*) override;
  grpc::Status SplitIntakeGroups(Context*, const v1::SplitIntakeGroupsRequest*,
                                 v1::IntakeGroups*) override;

 private:
  // The meetings of `user` that overlap [from, to) and the caller may see,
  // each read decided and audited (as ListMeetings reads them).
  absl::StatusOr<std::vector<v1::Meeting>> MeetingsOf(const CallContext& call,
                                                      absl::string_view method,
                                                      const std::string& user, absl::Time from,
                                                      absl::Time to);

  const DistanceModel* distances_ = nullptr;
  IntakeRepository* intakes_ = nullptr;
};

}  // namespace samplan::scheduling

#endif  // SAMPLAN_SERVICES_SCHEDULING_SCHEDULING_SERVICE_H_
