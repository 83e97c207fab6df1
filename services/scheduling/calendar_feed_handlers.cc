// SchedulingService: calendar feeds. A user makes (and remakes) the secret
// address of their own feed and stops it; the feed itself is served over HTTP
// (feed_server.h). The secret leaves only in the answer to RotateCalendarFeed.

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/access.h"
#include "common/ids.h"
#include "common/status.h"
#include "services/scheduling/calendar_feed.h"
#include "services/scheduling/feed_server.h"
#include "services/scheduling/scheduling_service.h"

namespace samplan::scheduling {
namespace {

// Checks that `name` is the caller's own "users/{id}/calendarFeed".
absl::Status CheckOwnFeed(const std::string& name, const Principal& principal) {
  if (!MayHandlePersonalData(principal)) return RoleDeniedStatus();
  absl::string_view user = name;
  if (!absl::ConsumeSuffix(&user, "/calendarFeed") || !IsResourceName(user, "users")) {
    return InvalidField("name", "must be users/{id}/calendarFeed");
  }
  if (principal.user.empty() || user != principal.user) {
    return absl::PermissionDeniedError("a calendar feed is made and stopped by its user only");
  }
  return absl::OkStatus();
}

Caller FeedCaller(const CallContext& call, absl::string_view method) {
  return {call.principal, absl::StrCat("scheduling.", method), call.request_id, call.now,
          call.deadline};
}

}  // namespace

SchedulingService::SchedulingService(MeetingRepository& meetings,
                                     AvailabilityRepository& availability,
                                     const CallHandler& calls, FollowUpParts parts)
    : SchedulingService(meetings, availability, calls) {
  feeds_ = &parts.feeds;
  overdue_ = &parts.overdue;
  feed_base_url_ = std::string(absl::StripSuffix(parts.feed_base_url, "/"));
}

grpc::Status SchedulingService::RotateCalendarFeed(Context* context,
                                                   const v1::RotateCalendarFeedRequest* request,
                                                   v1::CalendarFeed* response) {
  return calls_.Handle(context, "RotateCalendarFeed", *request,
                       [&](const CallContext& call) -> absl::Status {
    if (feeds_ == nullptr) return absl::UnimplementedError("calendar feeds are not served here");
    if (absl::Status own = CheckOwnFeed(request->name(), call.principal); !own.ok()) return own;
    const std::string secret = NewFeedSecret();
    absl::StatusOr<v1::CalendarFeed> feed = feeds_->SetFeedSecret(
        FeedCaller(call, "RotateCalendarFeed"), FeedSecretHash(secret), request->etag());
    if (!feed.ok()) return feed.status();
    *response = *std::move(feed);
    response->set_url(absl::StrCat(feed_base_url_, FeedPath(secret)));
    return absl::OkStatus();
  });
}

grpc::Status SchedulingService::RevokeCalendarFeed(Context* context,
                                                   const v1::RevokeCalendarFeedRequest* request,
                                                   v1::CalendarFeed* response) {
  return calls_.Handle(context, "RevokeCalendarFeed", *request,
                       [&](const CallContext& call) -> absl::Status {
    if (feeds_ == nullptr) return absl::UnimplementedError("calendar feeds are not served here");
    if (absl::Status own = CheckOwnFeed(request->name(), call.principal); !own.ok()) return own;
    absl::StatusOr<v1::CalendarFeed> feed =
        feeds_->SetFeedSecret(FeedCaller(call, "RevokeCalendarFeed"), "", request->etag());
    if (!feed.ok()) return feed.status();
    *response = *std::move(feed);
    return absl::OkStatus();
  });
}

}  // namespace samplan::scheduling
