// SchedulingService: working hours, imported busy time and common free time.
// A user's working hours and busy time are staff data, times only: any caller
// of the municipality whose roles handle personal data reads them and finds
// common free time; only the user changes their own.

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/access.h"
#include "common/ids.h"
#include "common/status.h"
#include "services/scheduling/availability.h"
#include "services/scheduling/calendar_import.h"
#include "services/scheduling/scheduling_service.h"

namespace samplan::scheduling {
namespace {

constexpr int kMaxImportedIntervals = 5000;
constexpr absl::Duration kLongestImportWindow = absl::Hours(24 * 400);

// Only the user changes their own availability.
absl::Status CheckOwnUser(const Principal& principal) {
  if (!MayHandlePersonalData(principal)) return RoleDeniedStatus();
  if (principal.user.empty()) {
    return absl::PermissionDeniedError("the token names no user whose availability this is");
  }
  return absl::OkStatus();
}

void CheckSource(absl::string_view source, FieldViolations& v) {
  bool ok = !source.empty() && source.size() <= 40;
  for (char c : source) {
    ok &= absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '_' || c == '-';
  }
  if (!ok) v.Add("source", "must be 1 to 40 characters of [a-z0-9_-]");
}

// Checks the import window; returns it.
Interval CheckWindow(const google::protobuf::Timestamp& start,
                     const google::protobuf::Timestamp& end, bool has_start, bool has_end,
                     FieldViolations& v) {
  if (!has_start) v.Add("window_start", "is required");
  if (!has_end) v.Add("window_end", "is required");
  const Interval window{TimeOf(start), TimeOf(end)};
  if (has_start && has_end) {
    if (window.end <= window.start) {
      v.Add("window_end", "must be after window_start");
    } else if (window.end - window.start > kLongestImportWindow) {
      v.Add("window_end", "must be at most 400 days after window_start");
    }
  }
  return window;
}

}  // namespace

grpc::Status SchedulingService::SetWorkingHours(Context* context,
                                                const v1::SetWorkingHoursRequest* request,
                                                v1::WorkingHours* response) {
  return calls_.Handle(context, "SetWorkingHours", *request, [&](const CallContext& call) -> absl::Status {
    if (absl::Status own = CheckOwnUser(call.principal); !own.ok()) return own;
    const std::string& name = request->working_hours().name();
    if (!name.empty() && name != absl::StrCat(call.principal.user, "/workingHours")) {
      return InvalidField("working_hours.name", "must be the caller's own, or empty");
    }
    if (absl::Status valid = ValidateWorkingHours(request->working_hours()); !valid.ok()) {
      return valid;
    }
    absl::StatusOr<v1::WorkingHours> stored = availability_.SetWorkingHours(
        call.principal.user, call.principal.municipality, request->working_hours(),
        request->etag(), call.now, call.deadline);
    if (!stored.ok()) return stored.status();
    *response = *std::move(stored);
    return absl::OkStatus();
  });
}

grpc::Status SchedulingService::GetWorkingHours(Context* context,
                                                const v1::GetWorkingHoursRequest* request,
                                                v1::WorkingHours* response) {
  return calls_.Handle(context, "GetWorkingHours", *request, [&](const CallContext& call) -> absl::Status {
    if (!MayHandlePersonalData(call.principal)) return RoleDeniedStatus();
    absl::string_view user = request->name();
    if (!absl::ConsumeSuffix(&user, "/workingHours") || !IsResourceName(user, "users")) {
      return InvalidField("name", "must be users/{id}/workingHours");
    }
    absl::StatusOr<std::optional<v1::WorkingHours>> hours =
        availability_.GetWorkingHours(std::string(user), call.principal.municipality,
                                      call.deadline);
    if (!hours.ok()) return hours.status();
    *response = hours->has_value() ? **hours : DefaultWorkingHours();
    response->set_name(request->name());
    return absl::OkStatus();
  });
}

grpc::Status SchedulingService::ImportBusyIntervals(Context* context,
                                                    const v1::ImportBusyIntervalsRequest* request,
                                                    v1::ImportBusyIntervalsResponse* response) {
  return calls_.Handle(context, "ImportBusyIntervals", *request, [&](const CallContext& call) -> absl::Status {
    if (absl::Status own = CheckOwnUser(call.principal); !own.ok()) return own;
    FieldViolations v;
    CheckSource(request->source(), v);
    const Interval window = CheckWindow(request->window_start(), request->window_end(),
                                        request->has_window_start(), request->has_window_end(), v);
    if (request->intervals_size() > kMaxImportedIntervals) {
      v.Add("intervals", absl::StrCat("at most ", kMaxImportedIntervals));
    }
    std::vector<Interval> busy;
    for (int i = 0; i < request->intervals_size() && i < kMaxImportedIntervals; ++i) {
      const v1::BusyInterval& b = request->intervals(i);
      const Interval interval{TimeOf(b.start_time()), TimeOf(b.end_time())};
      if (!b.has_start_time() || !b.has_end_time() || interval.end <= interval.start) {
        v.Add(absl::StrCat("intervals[", i, "].end_time"), "must be after start_time");
        continue;
      }
      const Interval cut{std::max(interval.start, window.start), std::min(interval.end, window.end)};
      if (cut.start < cut.end) busy.push_back(cut);
    }
    if (!v.empty()) return v.ToStatus();
    absl::StatusOr<int> stored =
        availability_.ReplaceBusy(call.principal.user, call.principal.municipality,
                                  request->source(), window.start,
                                  window.end, Merged(std::move(busy)), call.deadline);
    if (!stored.ok()) return stored.status();
    response->set_stored(*stored);
    return absl::OkStatus();
  });
}

grpc::Status SchedulingService::ImportCalendar(Context* context,
                                               const v1::ImportCalendarRequest* request,
                                               v1::ImportBusyIntervalsResponse* response) {
  return calls_.Handle(context, "ImportCalendar", *request, [&](const CallContext& call) -> absl::Status {
    if (absl::Status own = CheckOwnUser(call.principal); !own.ok()) return own;
    FieldViolations v;
    CheckSource(request->source(), v);
    const Interval window = CheckWindow(request->window_start(), request->window_end(),
                                        request->has_window_start(), request->has_window_end(), v);
    if (!v.empty()) return v.ToStatus();
    absl::StatusOr<std::vector<Interval>> busy =
        BusyFromICalendar(request->calendar(), window.start, window.end, "calendar");
    if (!busy.ok()) return busy.status();
    if (busy->size() > static_cast<size_t>(kMaxImportedIntervals)) {
      return InvalidField("calendar", absl::StrCat("holds more than ", kMaxImportedIntervals,
                                                   " busy intervals in the window"));
    }
    absl::StatusOr<int> stored =
        availability_.ReplaceBusy(call.principal.user, call.principal.municipality,
                                  request->source(), window.start, window.end, *busy,
                                  call.deadline);
    if (!stored.ok()) return stored.status();
    response->set_stored(*stored);
    return absl::OkStatus();
  });
}

grpc::Status SchedulingService::FindCommonSlots(Context* context,
                                                const v1::FindCommonSlotsRequest* request,
                                                v1::FindCommonSlotsResponse* response) {
  return calls_.Handle(context, "FindCommonSlots", *request, [&](const CallContext& call) -> absl::Status {
    if (!MayHandlePersonalData(call.principal)) return RoleDeniedStatus();
    absl::StatusOr<SlotQuery> query = SlotQueryOf(*request);
    if (!query.ok()) return query.status();
    std::vector<std::string> users;
    for (const Calendar& c : query->calendars) users.push_back(c.user);
    // Busy time a buffer away from the window still keeps its edges busy.
    absl::StatusOr<std::map<std::string, StoredAvailability>> stored =
        availability_.LoadAvailability(users, call.principal.municipality,
                                       query->window_start - query->buffer,
                                       query->window_end + query->buffer, call.deadline);
    if (!stored.ok()) return stored.status();
    for (Calendar& c : query->calendars) {
      StoredAvailability& a = (*stored)[c.user];
      c.working = WorkingIntervals(a.working_hours ? *a.working_hours : DefaultWorkingHours(),
                                   query->window_start, query->window_end);
      c.busy = std::move(a.busy);
    }
    *response = scheduling::FindCommonSlots(*query);
    return absl::OkStatus();
  });
}

}  // namespace samplan::scheduling
