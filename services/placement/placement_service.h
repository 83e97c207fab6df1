#ifndef SAMPLAN_SERVICES_PLACEMENT_PLACEMENT_SERVICE_H_
#define SAMPLAN_SERVICES_PLACEMENT_PLACEMENT_SERVICE_H_

#include <functional>
#include <string>

#include "common/call.h"
#include "samplan/placement/v1/placement.grpc.pb.h"
#include "services/placement/placement_repository.h"

namespace samplan::placement {

// The gRPC handlers of samplan.placement.v1.PlacementService. Each one
// validates, calls the repository and maps the result; the decisions are pure
// functions (placement_rules.h, matching.h, prao_allocation.h), the storage and
// the access decisions on personal data are behind PlacementRepository.
class PlacementService final : public v1::PlacementService::Service {
 public:
  // Everything passed in must outlive the service. `new_id` makes workplace
  // ids. `cold_after_days` is ListColdEmployers' default threshold.
  PlacementService(PlacementRepository& repository, const CallHandler& calls,
                   std::function<std::string()> new_id, int cold_after_days);

  using Context = grpc::ServerContext;
  grpc::Status CreateEmployer(Context*, const v1::CreateEmployerRequest*, v1::Employer*) override;
  grpc::Status GetEmployer(Context*, const v1::GetEmployerRequest*, v1::Employer*) override;
  grpc::Status ListEmployers(Context*, const v1::ListEmployersRequest*,
                             v1::ListEmployersResponse*) override;
  grpc::Status UpdateEmployer(Context*, const v1::UpdateEmployerRequest*, v1::Employer*) override;
  grpc::Status LogContact(Context*, const v1::LogContactRequest*, v1::Contact*) override;
  grpc::Status ListContacts(Context*, const v1::ListContactsRequest*,
                            v1::ListContactsResponse*) override;
  grpc::Status ListColdEmployers(Context*, const v1::ListColdEmployersRequest*,
                                 v1::ListColdEmployersResponse*) override;
  grpc::Status CreatePlacement(Context*, const v1::CreatePlacementRequest*,
                               v1::Placement*) override;
  grpc::Status GetPlacement(Context*, const v1::GetPlacementRequest*, v1::Placement*) override;
  grpc::Status ListPlacements(Context*, const v1::ListPlacementsRequest*,
                              v1::ListPlacementsResponse*) override;
  grpc::Status UpdatePlacement(Context*, const v1::UpdatePlacementRequest*,
                               v1::Placement*) override;
  grpc::Status CreatePlacementNeed(Context*, const v1::CreatePlacementNeedRequest*,
                                   v1::PlacementNeed*) override;
  grpc::Status GetPlacementNeed(Context*, const v1::GetPlacementNeedRequest*,
                                v1::PlacementNeed*) override;
  grpc::Status MatchPlacements(Context*, const v1::MatchPlacementsRequest*,
                               v1::MatchPlacementsResponse*) override;
  grpc::Status AllocatePrao(Context*, const v1::AllocatePraoRequest*,
                            v1::AllocatePraoResponse*) override;
  grpc::Status CreateAgreement(Context*, const v1::CreateAgreementRequest*,
                               v1::Agreement*) override;
  grpc::Status GetAgreement(Context*, const v1::GetAgreementRequest*, v1::Agreement*) override;
  grpc::Status ListAgreements(Context*, const v1::ListAgreementsRequest*,
                              v1::ListAgreementsResponse*) override;
  grpc::Status RecordWorkplaceVisit(Context*, const v1::RecordWorkplaceVisitRequest*,
                                    v1::Agreement*) override;
  grpc::Status SignAgreement(Context*, const v1::SignAgreementRequest*, v1::Agreement*) override;
  grpc::Status StartAgreement(Context*, const v1::StartAgreementRequest*, v1::Agreement*) override;
  grpc::Status CompleteAgreement(Context*, const v1::CompleteAgreementRequest*,
                                 v1::Agreement*) override;
  grpc::Status EndAgreement(Context*, const v1::EndAgreementRequest*, v1::Agreement*) override;
  grpc::Status GetSupplyAndDemand(Context*, const v1::GetSupplyAndDemandRequest*,
                                  v1::SupplyAndDemand*) override;

 private:
  // Runs one lifecycle step of agreement `name` (field "name").
  grpc::Status Step(
      Context* context, absl::string_view method, const google::protobuf::Message& request,
      const std::string& name, const std::string& etag,
      v1::Agreement* response,
      const std::function<absl::StatusOr<AgreementStep>(const v1::Agreement&, const Principal&,
                                                        absl::Time)>& step);

  PlacementRepository& repository_;
  const CallHandler& calls_;
  const std::function<std::string()> new_id_;
  const int cold_after_days_;
};

// Returns a short random id for workplaces.
std::string NewWorkplaceId();

}  // namespace samplan::placement

#endif  // SAMPLAN_SERVICES_PLACEMENT_PLACEMENT_SERVICE_H_
