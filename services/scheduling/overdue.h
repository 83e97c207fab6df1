#ifndef SAMPLAN_SERVICES_SCHEDULING_OVERDUE_H_
#define SAMPLAN_SERVICES_SCHEDULING_OVERDUE_H_

// Follow-ups not held by their time: a follow-up (MEETING_KIND_FOLLOW_UP)
// still PROPOSED or BOOKED whose end has passed is overdue. Listed per
// coordinator, and announced once each with the event
// scheduling.followup.overdue.

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "common/access.h"
#include "common/clock.h"
#include "common/outbox.h"
#include "common/pg.h"
#include "services/scheduling/meeting_repository.h"

namespace samplan::scheduling {

// Which overdue follow-ups a list reads: those `coordinator` takes part in,
// overdue at `now`, by start time then id, after `after`.
struct OverdueQuery {
  std::string coordinator;
  absl::Time now;
  std::optional<MeetingKey> after;
  int limit = 50;
};

class OverdueRepository {
 public:
  virtual ~OverdueRepository() = default;
  // A page of `query`; each meeting read is decided and audited (rows the
  // caller may not see are left out but move the position on).
  virtual absl::StatusOr<MeetingPage> ListOverdue(const Caller& caller,
                                                  const OverdueQuery& query) = 0;
};

// OverdueRepository over PostgreSQL; the pool must have been created with
// SchedulingRepositoryStatements.
class PgOverdueRepository final : public OverdueRepository {
 public:
  explicit PgOverdueRepository(PgPool& pool) : pool_(pool) {}
  absl::StatusOr<MeetingPage> ListOverdue(const Caller& caller,
                                          const OverdueQuery& query) override;

 private:
  PgPool& pool_;
};

// Announces up to `limit` follow-ups overdue at `now` that were not announced
// before: for each, the event scheduling.followup.overdue goes into the outbox
// and the follow-up is marked announced in the same transaction, so each is
// announced once, across restarts and replicas. Returns how many.
absl::StatusOr<int> AnnounceOverdueFollowUps(PgPool& pool, const Outbox& outbox, absl::Time now,
                                             int limit);

// Runs AnnounceOverdueFollowUps every `interval` on a thread of its own, with
// the time from `clock`, until stopped. A failed sweep is logged and tried
// again at the next.
class OverdueSweeper {
 public:
  OverdueSweeper(PgPool& pool, const Outbox& outbox, const Clock& clock, absl::Duration interval);
  ~OverdueSweeper();
  void Start();
  void Stop();

 private:
  void Run();

  PgPool& pool_;
  const Outbox& outbox_;
  const Clock& clock_;
  const absl::Duration interval_;
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace samplan::scheduling

#endif  // SAMPLAN_SERVICES_SCHEDULING_OVERDUE_H_
