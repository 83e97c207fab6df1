// SchedulingService: group intakes. Validation and the split are pure
// (intakes.h); storage, the last-seat turnstile, access decisions and audit
// records are IntakeRepository's.

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/access.h"
#include "common/ids.h"
#include "common/status.h"
#include "common/text.h"
#include "services/scheduling/intakes.h"
#include "services/scheduling/scheduling_service.h"

namespace samplan::scheduling {
namespace {

Caller IntakeCaller(const CallContext& call, absl::string_view method) {
  return {call.principal, absl::StrCat("scheduling.", method), call.request_id, call.now,
          call.deadline};
}

absl::Status NoIntakes() {
  return absl::UnimplementedError("this server keeps no group intakes");
}

// The session and enrolment ids of "intakeSessions/{id}/enrolments/{id}".
absl::StatusOr<std::pair<std::string, std::string>> EnrolmentIds(const std::string& name) {
  const std::vector<std::string> parts = absl::StrSplit(name, '/');
  if (parts.size() != 4 || parts[0] != "intakeSessions" || parts[2] != "enrolments" ||
      !IsUuid(parts[1]) || !IsUuid(parts[3])) {
    return InvalidField("name", "must be intakeSessions/{id}/enrolments/{id}");
  }
  return std::pair{parts[1], parts[3]};
}

}  // namespace

grpc::Status SchedulingService::CreateIntakeSession(Context* context,
                                                    const v1::CreateIntakeSessionRequest* request,
                                                    v1::IntakeSession* response) {
  return calls_.Handle(context, "CreateIntakeSession", *request, [&](const CallContext& call) -> absl::Status {
    if (intakes_ == nullptr) return NoIntakes();
    if (!MayHandlePersonalData(call.principal)) return RoleDeniedStatus();
    absl::StatusOr<v1::IntakeSession> session =
        IntakeSessionForCreate(*request, call.principal, call.now);
    if (!session.ok()) return session.status();
    absl::StatusOr<v1::IntakeSession> created = intakes_->CreateSession(
        IntakeCaller(call, "CreateIntakeSession"),
        {request->request_id(), RequestFingerprint(*request)}, *session);
    if (!created.ok()) return created.status();
    *response = *std::move(created);
    return absl::OkStatus();
  });
}

grpc::Status SchedulingService::GetIntakeSession(Context* context,
                                                 const v1::GetIntakeSessionRequest* request,
                                                 v1::IntakeSession* response) {
  return calls_.Handle(context, "GetIntakeSession", *request, [&](const CallContext& call) -> absl::Status {
    if (intakes_ == nullptr) return NoIntakes();
    absl::StatusOr<std::string> id = IdFromName(request->name(), "intakeSessions", "name");
    if (!id.ok()) return id.status();
    absl::StatusOr<v1::IntakeSession> session =
        intakes_->GetSession(IntakeCaller(call, "GetIntakeSession"), *id);
    if (!session.ok()) return session.status();
    *response = *std::move(session);
    return absl::OkStatus();
  });
}

grpc::Status SchedulingService::EnrolInIntake(Context* context,
                                              const v1::EnrolInIntakeRequest* request,
                                              v1::IntakeEnrolment* response) {
  return calls_.Handle(context, "EnrolInIntake", *request, [&](const CallContext& call) -> absl::Status {
    if (intakes_ == nullptr) return NoIntakes();
    if (!MayHandlePersonalData(call.principal)) return RoleDeniedStatus();
    absl::StatusOr<v1::IntakeEnrolment> enrolment = EnrolmentForCreate(*request, call.principal);
    if (!enrolment.ok()) return enrolment.status();
    absl::StatusOr<std::string> session = IdFromName(request->parent(), "intakeSessions", "parent");
    if (!session.ok()) return session.status();
    absl::StatusOr<v1::IntakeEnrolment> enrolled =
        intakes_->Enrol(IntakeCaller(call, "EnrolInIntake"), *session, *enrolment);
    if (!enrolled.ok()) return enrolled.status();
    *response = *std::move(enrolled);
    return absl::OkStatus();
  });
}

grpc::Status SchedulingService::WithdrawFromIntake(Context* context,
                                                   const v1::WithdrawFromIntakeRequest* request,
                                                   v1::IntakeEnrolment* response) {
  return calls_.Handle(context, "WithdrawFromIntake", *request, [&](const CallContext& call) -> absl::Status {
    if (intakes_ == nullptr) return NoIntakes();
    FieldViolations v;
    absl::StatusOr<std::pair<std::string, std::string>> ids = EnrolmentIds(request->name());
    if (!ids.ok()) v.Add("name", "must be intakeSessions/{id}/enrolments/{id}");
    CheckTextLength(v, "reason", request->reason(), 1, 500);
    if (!v.empty()) return v.ToStatus();
    absl::StatusOr<v1::IntakeEnrolment> withdrawn =
        intakes_->Withdraw(IntakeCaller(call, "WithdrawFromIntake"), ids->first, ids->second,
                           request->reason(), request->etag());
    if (!withdrawn.ok()) return withdrawn.status();
    *response = *std::move(withdrawn);
    return absl::OkStatus();
  });
}

grpc::Status SchedulingService::ListIntakeEnrolments(
    Context* context, const v1::ListIntakeEnrolmentsRequest* request,
    v1::ListIntakeEnrolmentsResponse* response) {
  return calls_.Handle(context, "ListIntakeEnrolments", *request, [&](const CallContext& call) -> absl::Status {
    if (intakes_ == nullptr) return NoIntakes();
    absl::StatusOr<std::string> session = IdFromName(request->parent(), "intakeSessions", "parent");
    if (!session.ok()) return session.status();
    absl::StatusOr<std::vector<v1::IntakeEnrolment>> enrolments =
        intakes_->ListEnrolments(IntakeCaller(call, "ListIntakeEnrolments"), *session);
    if (!enrolments.ok()) return enrolments.status();
    for (v1::IntakeEnrolment& e : *enrolments) *response->add_enrolments() = std::move(e);
    return absl::OkStatus();
  });
}

grpc::Status SchedulingService::SplitIntakeGroups(Context* context,
                                                  const v1::SplitIntakeGroupsRequest* request,
                                                  v1::IntakeGroups* response) {
  return calls_.Handle(context, "SplitIntakeGroups", *request, [&](const CallContext& call) -> absl::Status {
    if (intakes_ == nullptr) return NoIntakes();
    if (!MayHandlePersonalData(call.principal)) return RoleDeniedStatus();
    FieldViolations v;
    absl::StatusOr<std::string> session = IdFromName(request->name(), "intakeSessions", "name");
    if (!session.ok()) v.Add("name", "must be intakeSessions/{id}");
    if (request->max_group_size() != 0 &&
        (request->max_group_size() < 2 || request->max_group_size() > 50)) {
      v.Add("max_group_size", "must be 2 to 50 (8 when 0)");
    }
    CheckTextLength(v, "balance_attribute", request->balance_attribute(), 0, 40);
    if (!v.empty()) return v.ToStatus();
    absl::StatusOr<v1::IntakeGroups> groups = intakes_->SplitGroups(
        IntakeCaller(call, "SplitIntakeGroups"), *session,
        request->max_group_size() == 0 ? kDefaultGroupSize : request->max_group_size(),
        request->balance_attribute(), request->etag());
    if (!groups.ok()) return groups.status();
    *response = *std::move(groups);
    return absl::OkStatus();
  });
}

}  // namespace samplan::scheduling
