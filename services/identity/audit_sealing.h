#ifndef SAMPLAN_SERVICES_IDENTITY_AUDIT_SEALING_H_
#define SAMPLAN_SERVICES_IDENTITY_AUDIT_SEALING_H_

// Sealing the audit chains (audit_chain.h: AuditSeal) as they grow: every
// identity replica seals, every few seconds, the ends of the chains that grew
// since their seal. Two replicas sealing at once write the same seals; a seal
// only ever replaces an older one.

#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "services/identity/audit_chain.h"
#include "services/identity/identity_repository.h"

namespace samplan::identity {

// Seals every chain end not sealed where it ends, in rounds of at most
// `batch` chains; returns how many seals it wrote. Stops at `deadline` with what
// it wrote so far.
absl::StatusOr<int> SealAuditChains(IdentityRepository& repository, const AuditSealer& sealer,
                                    absl::Time now, absl::Time deadline, int batch = 1000);

// Runs SealAuditChains every `interval` on a thread of its own until destroyed.
// A failed round (the database away) is logged and tried again next time.
class AuditSealLoop {
 public:
  AuditSealLoop(IdentityRepository& repository, const AuditSealer& sealer,
                absl::Duration interval);
  ~AuditSealLoop();

 private:
  void Run();

  IdentityRepository& repository_;
  const AuditSealer& sealer_;
  const absl::Duration interval_;
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace samplan::identity

#endif  // SAMPLAN_SERVICES_IDENTITY_AUDIT_SEALING_H_
