#include "services/identity/audit_sealing.h"

#include <algorithm>

#include "common/log.h"

namespace samplan::identity {

absl::StatusOr<int> SealAuditChains(IdentityRepository& repository, const AuditSealer& sealer,
                                    absl::Time now, absl::Time deadline, int batch) {
  int sealed = 0;
  while (absl::Now() < deadline) {
    int round = 0;
    absl::Status status = repository.Transaction(deadline, [&](IdentityStore& store) {
      std::vector<AuditSeal> seals = store.UnsealedAuditHeads(batch);
      for (AuditSeal& seal : seals) seal.mac = sealer.Mac(seal);
      if (!seals.empty()) store.PutAuditSeals(seals, now);
      round = static_cast<int>(seals.size());
      return absl::OkStatus();
    });
    if (!status.ok()) return status;
    sealed += round;
    if (round < batch) break;
  }
  return sealed;
}

AuditSealLoop::AuditSealLoop(IdentityRepository& repository, const AuditSealer& sealer,
                             absl::Duration interval)
    : repository_(repository), sealer_(sealer), interval_(interval), thread_([this] { Run(); }) {}

AuditSealLoop::~AuditSealLoop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
}

void AuditSealLoop::Run() {
  absl::MutexLock lock(&mu_);
  while (!mu_.AwaitWithTimeout(absl::Condition(&stopping_), interval_)) {
    mu_.Unlock();
    const absl::Time now = absl::Now();
    absl::StatusOr<int> sealed =
        SealAuditChains(repository_, sealer_, now, now + std::max(interval_, absl::Seconds(10)));
    if (!sealed.ok()) {
      Log(LogLevel::kWarning, "sealing the audit chains failed; trying again",
          {{"error", sealed.status().ToString()}});
    }
    mu_.Lock();
  }
}

}  // namespace samplan::identity
