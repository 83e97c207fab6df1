#ifndef SAMPLAN_SERVICES_IDENTITY_IDENTITY_SERVICE_H_
#define SAMPLAN_SERVICES_IDENTITY_IDENTITY_SERVICE_H_

#include <optional>
#include <string>

#include "common/access.h"
#include "common/call.h"
#include "samplan/identity/v1/identity.grpc.pb.h"
#include "services/identity/identity_crypto.h"
#include "services/identity/identity_repository.h"

namespace samplan::identity {

// The gRPC handlers of samplan.identity.v1.IdentityService. Each one validates,
// then runs one unit of work that reads, decides by common/access.h's rule,
// appends the audit record and writes (with its event), and maps the result. A
// refusal is returned after the unit of work committed, so that its audit record
// stays; a failure to append the audit record fails the call. For personal data
// — persons, consents, access decisions, break-glass, the access log — the unit
// of work and its decision are the repository's guarded calls; the directory
// and the supervisor's audit calls run theirs through
// IdentityRepository::Transaction.
//
// One class, its handlers in one file per resource: directory_handlers.cc
// (municipalities, organizations, users), person_handlers.cc,
// consent_handlers.cc, access_handlers.cc (CheckAccess, BreakGlass) and
// audit_handlers.cc; identity_service.cc builds it and holds what they share
// (handler_support.h).
class IdentityService final : public v1::IdentityService::Service {
 public:
  // Everything passed in must outlive the service. The time of a change is the
  // call's (CallHandler's clock). With `sealer` (the audit key), VerifyAuditLog
  // checks each chain against its keyed seal too; without, by its hashes alone.
  IdentityService(IdentityRepository& repository, const IdentityNumberProtector& protector,
                  const CallHandler& calls, const AuditSealer* sealer = nullptr);

  grpc::Status CreateMunicipality(grpc::ServerContext* context,
                                  const v1::CreateMunicipalityRequest* request,
                                  v1::Municipality* response) override;
  grpc::Status GetMunicipality(grpc::ServerContext* context,
                               const v1::GetMunicipalityRequest* request,
                               v1::Municipality* response) override;
  grpc::Status ListMunicipalities(grpc::ServerContext* context,
                                  const v1::ListMunicipalitiesRequest* request,
                                  v1::ListMunicipalitiesResponse* response) override;
  grpc::Status CreateOrganization(grpc::ServerContext* context,
                                  const v1::CreateOrganizationRequest* request,
                                  v1::Organization* response) override;
  grpc::Status GetOrganization(grpc::ServerContext* context,
                               const v1::GetOrganizationRequest* request,
                               v1::Organization* response) override;
  grpc::Status ListOrganizations(grpc::ServerContext* context,
                                 const v1::ListOrganizationsRequest* request,
                                 v1::ListOrganizationsResponse* response) override;
  grpc::Status UpdateOrganization(grpc::ServerContext* context,
                                  const v1::UpdateOrganizationRequest* request,
                                  v1::Organization* response) override;
  grpc::Status CreateUser(grpc::ServerContext* context, const v1::CreateUserRequest* request,
                          v1::User* response) override;
  grpc::Status GetUser(grpc::ServerContext* context, const v1::GetUserRequest* request,
                       v1::User* response) override;
  grpc::Status CreatePerson(grpc::ServerContext* context, const v1::CreatePersonRequest* request,
                            v1::Person* response) override;
  grpc::Status GetPerson(grpc::ServerContext* context, const v1::GetPersonRequest* request,
                         v1::Person* response) override;
  grpc::Status LookupPerson(grpc::ServerContext* context, const v1::LookupPersonRequest* request,
                            v1::Person* response) override;
  grpc::Status CreateConsent(grpc::ServerContext* context,
                             const v1::CreateConsentRequest* request,
                             v1::Consent* response) override;
  grpc::Status GetConsent(grpc::ServerContext* context, const v1::GetConsentRequest* request,
                          v1::Consent* response) override;
  grpc::Status ListConsents(grpc::ServerContext* context, const v1::ListConsentsRequest* request,
                            v1::ListConsentsResponse* response) override;
  grpc::Status WithdrawConsent(grpc::ServerContext* context,
                               const v1::WithdrawConsentRequest* request,
                               v1::Consent* response) override;
  grpc::Status CheckAccess(grpc::ServerContext* context, const v1::CheckAccessRequest* request,
                           v1::CheckAccessResponse* response) override;
  grpc::Status BreakGlass(grpc::ServerContext* context, const v1::BreakGlassRequest* request,
                          v1::BreakGlassAccess* response) override;
  grpc::Status ListAccessLog(grpc::ServerContext* context,
                             const v1::ListAccessLogRequest* request,
                             v1::ListAccessLogResponse* response) override;
  grpc::Status VerifyAuditLog(grpc::ServerContext* context,
                              const v1::VerifyAuditLogRequest* request,
                              v1::VerifyAuditLogResponse* response) override;
  grpc::Status ReviewAccess(grpc::ServerContext* context, const v1::ReviewAccessRequest* request,
                            v1::ReviewAccessResponse* response) override;

 private:
  // Returns the person as the API shows it; the identity number only when
  // `with_identity_number`, contact details only when `with_contact`.
  absl::StatusOr<v1::Person> ViewOf(const StoredPerson& person, bool with_identity_number,
                                    bool with_contact) const;

  IdentityRepository& repository_;
  const IdentityNumberProtector& protector_;
  const CallHandler& calls_;
  const AuditSealer* const sealer_;
};

}  // namespace samplan::identity

#endif  // SAMPLAN_SERVICES_IDENTITY_IDENTITY_SERVICE_H_
