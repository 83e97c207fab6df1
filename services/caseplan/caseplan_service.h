#ifndef SAMPLAN_SERVICES_CASEPLAN_CASEPLAN_SERVICE_H_
#define SAMPLAN_SERVICES_CASEPLAN_CASEPLAN_SERVICE_H_

#include <functional>
#include <string>

#include "common/call.h"
#include "samplan/caseplan/v1/caseplan.grpc.pb.h"
#include "services/caseplan/plan_repository.h"

namespace samplan::caseplan {

// The gRPC handlers of samplan.caseplan.v1.CasePlanService. Each one validates,
// calls the repository and maps the result; the decisions are in plan_rules.h, the
// storage behind PlanRepository, which also decides access and writes the audit
// record in the same transaction as the read or write.
class CasePlanService final : public v1::CasePlanService::Service {
 public:
  // Everything passed in must outlive the service. `new_id` makes the ids of goals,
  // activities and notes. The time of a change is the call's (CallHandler's clock).
  CasePlanService(PlanRepository& repository, const CallHandler& calls,
                  std::function<std::string()> new_id);

  grpc::Status CreatePlan(grpc::ServerContext* context, const v1::CreatePlanRequest* request,
                          v1::Plan* response) override;
  grpc::Status GetPlan(grpc::ServerContext* context, const v1::GetPlanRequest* request,
                       v1::Plan* response) override;
  grpc::Status ListPlans(grpc::ServerContext* context, const v1::ListPlansRequest* request,
                         v1::ListPlansResponse* response) override;
  grpc::Status UpdatePlan(grpc::ServerContext* context, const v1::UpdatePlanRequest* request,
                          v1::Plan* response) override;
  grpc::Status ListPlanRevisions(grpc::ServerContext* context,
                                 const v1::ListPlanRevisionsRequest* request,
                                 v1::ListPlanRevisionsResponse* response) override;
  grpc::Status HandOverPlan(grpc::ServerContext* context, const v1::HandOverPlanRequest* request,
                            v1::Plan* response) override;

 private:
  // Decides what UpdatePlan stores, given the plan as it is now (locked).
  absl::StatusOr<std::optional<PlanWrite>> ChangeFor(const CallContext& call,
                                                     const v1::UpdatePlanRequest& request,
                                                     const Plan& current);

  PlanRepository& repository_;
  const CallHandler& calls_;
  const std::function<std::string()> new_id_;
};

// Returns a short random id for items inside a plan (goals, activities, notes).
std::string NewItemId();

}  // namespace samplan::caseplan

#endif  // SAMPLAN_SERVICES_CASEPLAN_CASEPLAN_SERVICE_H_
