#include "services/caseplan/caseplan_service.h"

#include <google/protobuf/util/time_util.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "common/ids.h"
#include "common/paging.h"
#include "common/outbox.h"
#include "common/status.h"
#include "samplan/caseplan/v1/events.pb.h"
#include "services/caseplan/plan_rules.h"

namespace samplan::caseplan {
namespace {

using ::google::protobuf::util::TimeUtil;

// The caller of `method` in `call`, for the access decision and the audit record.
Caller CallerOf(const CallContext& call, absl::string_view method) {
  return {call.principal, absl::StrCat("caseplan.", method), call.request_id, call.now,
          call.deadline};
}

// The stored change with its revision trail and its event.
PlanWrite WriteOf(const Plan& plan, std::vector<std::string> changed, absl::string_view event_type,
                  int64_t version, const CallContext& call) {
  PlanWrite write;
  write.plan = plan;
  write.changed_fields = std::move(changed);
  write.request_id = call.request_id;
  write.actor_user = call.principal.user;
  write.actor_organization = call.principal.organization;
  write.time = call.now;
  write.deadline = call.deadline;
  v1::PlanChanged payload;
  payload.set_plan(plan.name());
  payload.set_version(version);
  for (const std::string& field : write.changed_fields) payload.add_changed_fields(field);
  payload.set_lead_organization(plan.lead_organization());
  for (const auto& participant : plan.participants()) {
    payload.add_participant_organizations(participant.organization());
  }
  payload.set_status(v1::PlanStatus_Name(plan.status()));
  write.event = MakeEvent(event_type, plan.municipality(), plan.name(), version, plan.person(),
                          kPlanDataCategory, payload,
                          {call.principal.organization, call.principal.user, call.request_id,
                           call.now});
  // Who may see the event: the lead, and participants with the person's consent.
  write.event.set_owner_organization(plan.lead_organization());
  for (const auto& participant : plan.participants()) {
    write.event.add_participant_organizations(participant.organization());
  }
  return write;
}

}  // namespace

std::string NewItemId() {
  // 12 hex digits: unique enough within one plan, short enough to read aloud.
  return absl::StrReplaceAll(NewUuid(), {{"-", ""}}).substr(0, 12);
}

CasePlanService::CasePlanService(PlanRepository& repository, const CallHandler& calls,
                                 std::function<std::string()> new_id)
    : repository_(repository), calls_(calls), new_id_(std::move(new_id)) {}

grpc::Status CasePlanService::CreatePlan(grpc::ServerContext* context,
                                         const v1::CreatePlanRequest* request,
                                         v1::Plan* response) {
  return calls_.Handle(context, "CreatePlan", *request, [&](const CallContext& call) -> absl::Status {
    // A caller whose role handles no personal data learns nothing from validation.
    if (!MayHandlePersonalData(call.principal)) return RoleDeniedStatus();
    absl::StatusOr<Plan> plan = PlanForCreate(*request, call.principal, call.now, new_id_);
    if (!plan.ok()) return plan.status();
    PlanWrite write = WriteOf(*plan, MutablePlanFields(), "caseplan.plan.created", 1, call);
    write.request_id = request->request_id();
    write.fingerprint = RequestFingerprint(request->plan());
    absl::StatusOr<CreateResult> created =
        repository_.CreatePlan(CallerOf(call, "CreatePlan"), write);
    if (!created.ok()) return created.status();
    *response = std::move(created->plan);
    return absl::OkStatus();
  });
}

grpc::Status CasePlanService::GetPlan(grpc::ServerContext* context,
                                      const v1::GetPlanRequest* request, v1::Plan* response) {
  return calls_.Handle(context, "GetPlan", *request, [&](const CallContext& call) -> absl::Status {
    absl::StatusOr<std::string> id = PlanIdFromName(request->name(), "name");
    if (!id.ok()) return id.status();
    absl::StatusOr<Plan> plan = repository_.GetPlan(CallerOf(call, "GetPlan"), *id);
    if (!plan.ok()) return plan.status();
    *response = *std::move(plan);
    return absl::OkStatus();
  });
}

grpc::Status CasePlanService::ListPlans(grpc::ServerContext* context,
                                        const v1::ListPlansRequest* request,
                                        v1::ListPlansResponse* response) {
  return calls_.Handle(context, "ListPlans", *request, [&](const CallContext& call) -> absl::Status {
    FieldViolations v;
    if (!request->person().empty() && ResourceId(request->person(), "persons").empty()) {
      v.Add("person", "must be a person name, persons/{id}");
    }
    if (!request->organization().empty() &&
        ResourceId(request->organization(), "organizations").empty()) {
      v.Add("organization", "must be an organization name, organizations/{id}");
    }
    if (!v1::PlanStatus_IsValid(request->status())) v.Add("status", "is not a known status");
    if (!v.empty()) return v.ToStatus();
    absl::StatusOr<int> page_size = PageSizeOf(request->page_size());
    if (!page_size.ok()) return page_size.status();
    if (!MayHandlePersonalData(call.principal)) return RoleDeniedStatus();

    PlanQuery query;
    query.municipality = call.principal.municipality;
    query.viewer_organization = call.principal.organization;
    query.person = request->person();
    query.organization = request->organization();
    if (request->status() != v1::PLAN_STATUS_UNSPECIFIED) {
      query.status = v1::PlanStatus_Name(request->status());
    }
    const std::string filters =
        absl::StrCat(query.person, ",", query.organization, ",", query.status);
    if (!request->page_token().empty()) {
      absl::StatusOr<std::vector<std::string>> after =
          DecodePageToken(request->page_token(), filters, 2);
      if (!after.ok()) return after.status();
      int64_t create_micros = 0;
      if (!absl::SimpleAtoi((*after)[0], &create_micros) || !IsUuid((*after)[1])) {
        return InvalidField("page_token", "is not a token this call returned");
      }
      query.after_create_time = absl::FromUnixMicros(create_micros);
      query.after_id = (*after)[1];
    }
    query.limit = *page_size + 1;  // one more tells whether another page follows
    absl::StatusOr<std::vector<Plan>> plans =
        repository_.ListPlans(CallerOf(call, "ListPlans"), query);
    if (!plans.ok()) return plans.status();
    // A page ends early rather than pass kMaxPageBytes.
    std::vector<size_t> sizes;
    for (const Plan& plan : *plans) sizes.push_back(plan.ByteSizeLong());
    const int fit = ItemsThatFitAPage(sizes, *page_size);
    for (int i = 0; i < fit; ++i) *response->add_plans() = std::move((*plans)[i]);
    if (static_cast<int>(plans->size()) > fit) {
      const Plan& last = response->plans(fit - 1);
      response->set_next_page_token(
          EncodePageToken(filters, {absl::StrCat(TimeUtil::TimestampToMicroseconds(last.create_time())),
                                    std::string(ResourceId(last.name(), "plans"))}));
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<std::optional<PlanWrite>> CasePlanService::ChangeFor(
    const CallContext& call, const v1::UpdatePlanRequest& request, const Plan& current) {
  const std::string& etag = request.plan().etag();
  if (!etag.empty() && etag != current.etag()) {
    return EtagMismatch(current.name(),
                        "the plan has changed since this etag was read; get it again");
  }
  absl::StatusOr<Plan> next = ApplyUpdate(current, request.plan(), request.update_mask(),
                                          call.principal, call.now, new_id_);
  if (!next.ok()) return next.status();
  std::vector<std::string> changed = ChangedFields(current, *next);
  if (changed.empty()) return std::nullopt;  // nothing changed: no version, no event
  if (std::find(changed.begin(), changed.end(), "participants") != changed.end() &&
      call.principal.organization != current.lead_organization()) {
    return absl::PermissionDeniedError(
        "only the lead organization can change which organizations take part");
  }
  PlanWrite write =
      WriteOf(*next, std::move(changed), "caseplan.plan.updated", current.version() + 1, call);
  write.fingerprint = RequestFingerprint(request);
  return write;
}

grpc::Status CasePlanService::UpdatePlan(grpc::ServerContext* context,
                                         const v1::UpdatePlanRequest* request,
                                         v1::Plan* response) {
  return calls_.Handle(context, "UpdatePlan", *request, [&](const CallContext& call) -> absl::Status {
    absl::StatusOr<std::string> id = PlanIdFromName(request->plan().name(), "plan.name");
    if (!id.ok()) return id.status();
    // The plan is locked while the change is decided and stored: concurrent
    // updates take turns, and an etag is compared with the version being replaced.
    // A retry of a call that took effect (its answer was lost on the way) gets the
    // plan as that call left it, instead of applying the change twice; the lookup
    // runs under the lock and after the access decision, which leaves this call's
    // one audit record.
    absl::StatusOr<UpdateResult> updated = repository_.UpdatePlan(
        CallerOf(call, "UpdatePlan"), *id, call.request_id_from_caller ? call.request_id : "",
        [&](const Plan& current, const FactsFor&) { return ChangeFor(call, *request, current); });
    if (!updated.ok()) return updated.status();
    if (const std::optional<EarlierUpdate>& earlier = updated->earlier; earlier.has_value()) {
      // A gateway that passes one correlation id to many calls must not have a
      // second, different change swallowed as a "retry".
      if (earlier->fingerprint != RequestFingerprint(*request) ||
          earlier->revision.actor_organization() != call.principal.organization) {
        return InvalidField("x-request-id",
                            "was already used for a different change of this plan; send a "
                            "new request id for a new change");
      }
      *response = earlier->revision.plan();
      return absl::OkStatus();
    }
    *response = std::move(updated->plan);
    return absl::OkStatus();
  });
}

grpc::Status CasePlanService::ListPlanRevisions(grpc::ServerContext* context,
                                                const v1::ListPlanRevisionsRequest* request,
                                                v1::ListPlanRevisionsResponse* response) {
  return calls_.Handle(context, "ListPlanRevisions", *request, [&](const CallContext& call) -> absl::Status {
    absl::StatusOr<std::string> id = PlanIdFromName(request->name(), "name");
    if (!id.ok()) return id.status();
    absl::StatusOr<int> page_size = PageSizeOf(request->page_size());
    if (!page_size.ok()) return page_size.status();
    std::optional<int64_t> before;
    if (!request->page_token().empty()) {
      absl::StatusOr<std::vector<std::string>> after =
          DecodePageToken(request->page_token(), *id, 1);
      if (!after.ok()) return after.status();
      int64_t version = 0;
      if (!absl::SimpleAtoi((*after)[0], &version) || version < 2) {
        return InvalidField("page_token", "is not a token this call returned");
      }
      before = version;
    }
    absl::StatusOr<std::vector<v1::PlanRevision>> revisions =
        repository_.ListRevisions(CallerOf(call, "ListPlanRevisions"), *id, before, *page_size);
    if (!revisions.ok()) return revisions.status();
    // A page ends early rather than pass kMaxPageBytes: each revision holds a
    // whole plan.
    std::vector<size_t> sizes;
    for (const v1::PlanRevision& revision : *revisions) sizes.push_back(revision.ByteSizeLong());
    const int fit = ItemsThatFitAPage(sizes, *page_size);
    for (int i = 0; i < fit; ++i) *response->add_revisions() = std::move((*revisions)[i]);
    if ((fit < static_cast<int>(revisions->size()) || fit == *page_size) && fit > 0 &&
        response->revisions(fit - 1).version() > 1) {
      response->set_next_page_token(
          EncodePageToken(*id, {absl::StrCat(response->revisions(fit - 1).version())}));
    }
    return absl::OkStatus();
  });
}

grpc::Status CasePlanService::HandOverPlan(grpc::ServerContext* context,
                                           const v1::HandOverPlanRequest* request,
                                           v1::Plan* response) {
  return calls_.Handle(context, "HandOverPlan", *request, [&](const CallContext& call) -> absl::Status {
    absl::StatusOr<std::string> id = PlanIdFromName(request->name(), "name");
    if (!id.ok()) return id.status();
    auto change = [&](const Plan& current,
                      const FactsFor& facts_for) -> absl::StatusOr<std::optional<PlanWrite>> {
      if (call.principal.organization != current.lead_organization()) {
        return absl::PermissionDeniedError("only the lead organization can hand the plan over");
      }
      if (!request->etag().empty() && request->etag() != current.etag()) {
        return EtagMismatch(current.name(),
                            "the plan has changed since this etag was read; get it again");
      }
      absl::StatusOr<Plan> next = HandOver(current, request->to_organization(), request->reason(),
                                           call.principal, call.now, new_id_);
      if (!next.ok()) return next.status();
      // The new lead will own the person's plan: it must already hold the person's
      // consent for it, or the handover would be a way around consent.
      if (facts_for(request->to_organization()).consent.empty()) {
        return InvalidField("to_organization",
                            "holds no active consent of the person for the plan; record the "
                            "consent first");
      }
      std::vector<std::string> changed = {"lead_organization", "participants", "notes"};
      PlanWrite write = WriteOf(*next, std::move(changed), "caseplan.plan.handed_over",
                                current.version() + 1, call);
      write.fingerprint = RequestFingerprint(*request);
      return write;
    };
    absl::StatusOr<UpdateResult> updated =
        repository_.UpdatePlan(CallerOf(call, "HandOverPlan"), *id, "", change);
    if (!updated.ok()) return updated.status();
    *response = std::move(updated->plan);
    return absl::OkStatus();
  });
}

}  // namespace samplan::caseplan
