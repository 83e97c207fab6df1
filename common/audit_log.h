#ifndef SAMPLAN_COMMON_AUDIT_LOG_H_
#define SAMPLAN_COMMON_AUDIT_LOG_H_

// The audit records of reads, committed in groups.
//
// A read changes nothing but its audit record, and must not answer before that
// record is durable. Written in the read's own transaction, every read pays a
// transaction of its own and a commit that waits for the disk. Here the records
// of concurrent reads are written together: the first caller to find no batch in
// flight writes every record waiting (one statement, identity.append_audit_batch,
// committed on its own), and the callers that arrive meanwhile wait for that
// batch and then write theirs the same way. Nobody waits for a timer: alone, a
// call writes its record at once, as before.
//
// Each caller's Append returns only when its record is committed; on any failure
// it returns the error and the caller answers with it, so no read is answered
// without its record. A batch that failed may still have committed (the
// connection broke after the commit): a record without an answer, never the
// reverse. Writes keep appending in their own transaction (AppendAudit in
// common/access.h): their record must commit with their change.

#include <deque>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/access.h"
#include "common/pg.h"

namespace samplan {

class AuditLog {
 public:
  // `pool` must have AccessStatements() prepared. At most `max_batch` records go
  // in one statement.
  explicit AuditLog(PgPool& pool, int max_batch = 512);

  // Appends `entry`; returns OK once it is durable. A caller still waiting for a
  // batch to start when `deadline` passes gets DEADLINE_EXCEEDED and its record
  // is not written; one whose batch is in flight waits for that batch.
  absl::Status Append(const AuditEntry& entry, absl::Time deadline);

 private:
  struct Waiter {
    const AuditEntry* entry = nullptr;
    absl::Time deadline;
    bool taken = false;
    bool done = false;
    absl::Status status;
  };
  absl::Status Write(const std::vector<Waiter*>& batch);

  PgPool& pool_;
  const size_t max_batch_;
  absl::Mutex mu_;
  absl::CondVar finished_;
  std::deque<Waiter*> waiting_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace samplan

#endif  // SAMPLAN_COMMON_AUDIT_LOG_H_
