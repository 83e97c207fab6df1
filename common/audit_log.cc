#include "common/audit_log.h"

#include <algorithm>
#include <vector>

namespace samplan {

AuditLog::AuditLog(PgPool& pool, int max_batch)
    : pool_(pool), max_batch_(static_cast<size_t>(std::max(1, max_batch))) {}

absl::Status AuditLog::Append(const AuditEntry& entry, absl::Time deadline) {
  Waiter self;
  self.entry = &entry;
  self.deadline = deadline;
  absl::MutexLock lock(&mu_);
  waiting_.push_back(&self);
  while (!self.done) {
    if (!writing_) {
      // Nobody is writing: this caller writes what is waiting, its own record
      // among it (or, past max_batch, a batch ahead of it, then its own).
      writing_ = true;
      std::vector<Waiter*> batch;
      while (!waiting_.empty() && batch.size() < max_batch_) {
        batch.push_back(waiting_.front());
        batch.back()->taken = true;
        waiting_.pop_front();
      }
      mu_.Unlock();
      const absl::Status status = Write(batch);
      mu_.Lock();
      for (Waiter* waiter : batch) {
        waiter->status = status;
        waiter->done = true;
      }
      writing_ = false;
      finished_.SignalAll();
      continue;
    }
    if (self.taken) {
      // In the batch in flight: its outcome is this record's.
      finished_.Wait(&mu_);
    } else if (finished_.WaitWithDeadline(&mu_, self.deadline) && !self.taken && !self.done) {
      // Still waiting for a batch to start: give up without a record, so
      // without an answer either.
      waiting_.erase(std::find(waiting_.begin(), waiting_.end(), &self));
      return absl::DeadlineExceededError("the audit log did not take the record in time");
    }
  }
  return self.status;
}

absl::Status AuditLog::Write(const std::vector<Waiter*>& batch) {
  std::vector<std::string> time, municipality, actor_user, actor_organization, action, resource,
      subject_person, data_category, purpose, consent, decision, reason, request_id;
  absl::Time deadline = absl::InfinitePast();
  for (const Waiter* waiter : batch) {
    const AuditEntry& e = *waiter->entry;
    time.push_back(PgTimestamp(e.time));
    municipality.push_back(e.municipality);
    actor_user.push_back(e.actor_user);
    actor_organization.push_back(e.actor_organization);
    action.push_back(e.action);
    resource.push_back(e.resource);
    subject_person.push_back(e.subject_person);
    data_category.push_back(e.data_category);
    purpose.push_back(e.purpose);
    consent.push_back(e.consent);
    decision.push_back(e.decision);
    reason.push_back(e.reason);
    request_id.push_back(e.request_id);
    // The batch may take as long as the most patient of its callers allows.
    deadline = std::max(deadline, waiter->deadline);
  }
  // One statement outside a transaction block commits on its own: all the
  // records, or none.
  return pool_.Read(deadline, [&](pqxx::transaction_base& tx) {
    tx.exec_prepared(kAppendAuditBatch, PgTextArray(time), PgTextArray(municipality),
                     PgTextArray(actor_user), PgTextArray(actor_organization),
                     PgTextArray(action), PgTextArray(resource), PgTextArray(subject_person),
                     PgTextArray(data_category), PgTextArray(purpose), PgTextArray(consent),
                     PgTextArray(decision), PgTextArray(reason), PgTextArray(request_id));
    return absl::OkStatus();
  });
}

}  // namespace samplan
