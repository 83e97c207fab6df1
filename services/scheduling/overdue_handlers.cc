// SchedulingService: the follow-ups a coordinator has not held by their time.

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/access.h"
#include "common/ids.h"
#include "common/paging.h"
#include "common/status.h"
#include "services/scheduling/scheduling_service.h"

namespace samplan::scheduling {
namespace {

constexpr PageSizeRule kOverduePage{50, 200};

}  // namespace

grpc::Status SchedulingService::ListOverdueFollowUps(
    Context* context, const v1::ListOverdueFollowUpsRequest* request,
    v1::ListOverdueFollowUpsResponse* response) {
  return calls_.Handle(context, "ListOverdueFollowUps", *request,
                       [&](const CallContext& call) -> absl::Status {
    if (overdue_ == nullptr) return absl::UnimplementedError("overdue follow-ups are not served here");
    if (!MayHandlePersonalData(call.principal)) return RoleDeniedStatus();
    FieldViolations v;
    if (!request->coordinator().empty() && !IsResourceName(request->coordinator(), "users")) {
      v.Add("coordinator", "must be users/{id}");
    }
    absl::StatusOr<int> size = PageSizeOf(request->page_size(), kOverduePage);
    if (!size.ok()) return size.status();
    if (!v.empty()) return v.ToStatus();
    OverdueQuery query;
    query.coordinator =
        request->coordinator().empty() ? call.principal.user : request->coordinator();
    query.now = call.now;
    query.limit = *size;
    // The position, not the time: a follow-up held meanwhile leaves the list
    // without moving the others.
    const std::string filters = absl::StrCat("overdue|", query.coordinator);
    if (!request->page_token().empty()) {
      absl::StatusOr<std::vector<std::string>> parts =
          DecodePageToken(request->page_token(), filters, 2);
      if (!parts.ok()) return parts.status();
      int64_t micros = 0;
      if (!absl::SimpleAtoi((*parts)[0], &micros) || !IsUuid((*parts)[1])) {
        return InvalidField("page_token", "is not a token this call returned");
      }
      query.after = MeetingKey{absl::FromUnixMicros(micros), (*parts)[1]};
    }
    absl::StatusOr<MeetingPage> page = overdue_->ListOverdue(
        {call.principal, "scheduling.ListOverdueFollowUps", call.request_id, call.now,
         call.deadline},
        query);
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

}  // namespace samplan::scheduling
