#include "services/scheduling/scheduling_service.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/ids.h"
#include "common/paging.h"
#include "common/status.h"

namespace samplan::scheduling {
namespace {

constexpr PageSizeRule kListMeetingsPage{50, 200};
constexpr absl::Duration kLongestListWindow = absl::Hours(24 * 400);

Caller CallerOf(const CallContext& call, absl::string_view method) {
  return {call.principal, absl::StrCat("scheduling.", method), call.request_id, call.now,
          call.deadline};
}

absl::Status NotOurToken() {
  return InvalidField("page_token", "is not a token this call returned");
}

absl::StatusOr<std::optional<MeetingKey>> KeyOf(const std::string& token,
                                                absl::string_view filters) {
  if (token.empty()) return std::nullopt;
  absl::StatusOr<std::vector<std::string>> parts = DecodePageToken(token, filters, 2);
  if (!parts.ok()) return parts.status();
  int64_t micros = 0;
  if (!absl::SimpleAtoi((*parts)[0], &micros) || !IsUuid((*parts)[1])) return NotOurToken();
  return MeetingKey{absl::FromUnixMicros(micros), (*parts)[1]};
}

}  // namespace

SchedulingService::SchedulingService(MeetingRepository& meetings,
                                     AvailabilityRepository& availability,
                                     const CallHandler& calls)
    : meetings_(meetings), availability_(availability), calls_(calls) {}

grpc::Status SchedulingService::CreateMeeting(Context* context,
                                              const v1::CreateMeetingRequest* request,
                                              v1::Meeting* response) {
  return calls_.Handle(context, "CreateMeeting", *request, [&](const CallContext& call) -> absl::Status {
    if (!MayHandlePersonalData(call.principal)) return RoleDeniedStatus();
    absl::StatusOr<v1::Meeting> meeting = MeetingForCreate(*request, call.principal, call.now);
    if (!meeting.ok()) return meeting.status();
    absl::StatusOr<v1::Meeting> created = meetings_.CreateMeeting(
        CallerOf(call, "CreateMeeting"), {request->request_id(), RequestFingerprint(*request)},
        *meeting, request->allow_overlap());
    if (!created.ok()) return created.status();
    *response = *std::move(created);
    return absl::OkStatus();
  });
}

grpc::Status SchedulingService::GetMeeting(Context* context, const v1::GetMeetingRequest* request,
                                           v1::Meeting* response) {
  return calls_.Handle(context, "GetMeeting", *request, [&](const CallContext& call) -> absl::Status {
    absl::StatusOr<std::string> id = IdFromName(request->name(), "meetings", "name");
    if (!id.ok()) return id.status();
    absl::StatusOr<v1::Meeting> meeting = meetings_.GetMeeting(CallerOf(call, "GetMeeting"), *id);
    if (!meeting.ok()) return meeting.status();
    *response = *std::move(meeting);
    return absl::OkStatus();
  });
}

grpc::Status SchedulingService::ListMeetings(Context* context,
                                             const v1::ListMeetingsRequest* request,
                                             v1::ListMeetingsResponse* response) {
  return calls_.Handle(context, "ListMeetings", *request, [&](const CallContext& call) -> absl::Status {
    if (!MayHandlePersonalData(call.principal)) return RoleDeniedStatus();
    FieldViolations v;
    if (!request->person().empty() && ResourceId(request->person(), "persons").empty()) {
      v.Add("person", "must be persons/{id}");
    }
    if (!request->user().empty() && !IsResourceName(request->user(), "users")) {
      v.Add("user", "must be users/{id}");
    }
    if (!request->person().empty() && !request->user().empty()) {
      v.Add("user", "give person or user, not both");
    }
    MeetingQuery query;
    query.person = request->person();
    query.user = request->person().empty() && request->user().empty() ? call.principal.user
                                                                        : request->user();
    query.from = request->has_start_time() ? TimeOf(request->start_time())
                                           : call.now - absl::Hours(24);
    query.to = request->has_end_time() ? TimeOf(request->end_time())
                                       : query.from + absl::Hours(24 * 90);
    if (query.to <= query.from) {
      v.Add("end_time", "must be after start_time");
    } else if (query.to - query.from > kLongestListWindow) {
      v.Add("end_time", "must be at most 400 days after start_time");
    }
    absl::StatusOr<int> size = PageSizeOf(request->page_size(), kListMeetingsPage);
    if (!size.ok()) return size.status();
    if (!v.empty()) return v.ToStatus();
    query.limit = *size;
    const std::string filters =
        absl::StrCat("meetings|", query.person, "|", query.user, "|",
                     absl::ToUnixMicros(query.from), "|", absl::ToUnixMicros(query.to));
    absl::StatusOr<std::optional<MeetingKey>> after = KeyOf(request->page_token(), filters);
    if (!after.ok()) return after.status();
    query.after = *after;
    absl::StatusOr<MeetingPage> page = meetings_.ListMeetings(CallerOf(call, "ListMeetings"), query);
    if (!page.ok()) return page.status();
    if (page->more && page->last_scanned.has_value()) {
      response->set_next_page_token(EncodePageToken(
          filters, {absl::StrCat(absl::ToUnixMicros(page->last_scanned->start)),
                    page->last_scanned->id}));
    }
    for (v1::Meeting& meeting : page->meetings) *response->add_meetings() = std::move(meeting);
    return absl::OkStatus();
  });
}

grpc::Status SchedulingService::Step(Context* context, absl::string_view method,
                                     const google::protobuf::Message& request,
                                     const std::string& name, const std::string& etag,
                                     bool allow_overlap, v1::Meeting* response,
                                     const StepOf& step) {
  return calls_.Handle(context, method, request, [&](const CallContext& call) -> absl::Status {
    absl::StatusOr<std::string> id = IdFromName(name, "meetings", "name");
    if (!id.ok()) return id.status();
    absl::StatusOr<v1::Meeting> stepped = meetings_.StepMeeting(
        CallerOf(call, method), *id, etag, allow_overlap,
        [&](const v1::Meeting& current) { return step(current, call); });
    if (!stepped.ok()) return stepped.status();
    *response = *std::move(stepped);
    return absl::OkStatus();
  });
}

grpc::Status SchedulingService::BookMeeting(Context* context, const v1::BookMeetingRequest* request,
                                            v1::Meeting* response) {
  return Step(context, "BookMeeting", *request, request->name(), request->etag(),
              request->allow_overlap(), response,
              [&](const v1::Meeting& current, const CallContext& call) {
                return Book(current, call.principal);
              });
}

grpc::Status SchedulingService::RescheduleMeeting(Context* context,
                                                  const v1::RescheduleMeetingRequest* request,
                                                  v1::Meeting* response) {
  return Step(context, "RescheduleMeeting", *request, request->name(), request->etag(),
              request->allow_overlap(), response,
              [&](const v1::Meeting& current, const CallContext& call) {
                return Reschedule(current, *request, call.principal, call.now);
              });
}

grpc::Status SchedulingService::CancelMeeting(Context* context,
                                              const v1::CancelMeetingRequest* request,
                                              v1::Meeting* response) {
  return Step(context, "CancelMeeting", *request, request->name(), request->etag(), false,
              response, [&](const v1::Meeting& current, const CallContext& call) {
                return Cancel(current, request->reason(), call.principal);
              });
}

grpc::Status SchedulingService::AnswerMeeting(Context* context,
                                              const v1::AnswerMeetingRequest* request,
                                              v1::Meeting* response) {
  return Step(context, "AnswerMeeting", *request, request->name(), request->etag(), false,
              response, [&](const v1::Meeting& current, const CallContext& call) {
                return Answer(current, *request, call.principal);
              });
}

grpc::Status SchedulingService::FulfilMeeting(Context* context,
                                              const v1::FulfilMeetingRequest* request,
                                              v1::Meeting* response) {
  return Step(context, "FulfilMeeting", *request, request->name(), request->etag(), false,
              response, [&](const v1::Meeting& current, const CallContext& call) {
                return Fulfil(current, call.principal, call.now);
              });
}

grpc::Status SchedulingService::MarkMeetingNoShow(Context* context,
                                                  const v1::MarkMeetingNoShowRequest* request,
                                                  v1::Meeting* response) {
  return Step(context, "MarkMeetingNoShow", *request, request->name(), request->etag(), false,
              response, [&](const v1::Meeting& current, const CallContext& call) {
                return MarkNoShow(current, call.principal, call.now);
              });
}

}  // namespace samplan::scheduling
