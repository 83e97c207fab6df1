#ifndef SAMPLAN_SERVICES_SURVEYS_INVITATION_DISPATCHER_H_
#define SAMPLAN_SERVICES_SURVEYS_INVITATION_DISPATCHER_H_

// The loop in the surveys process that sends invitations when they fall due
// and delivers their notifications: every `interval`, ScheduleDue then
// DeliverNext until nothing is due. Safe with any number of replicas: both
// lock their rows with FOR UPDATE SKIP LOCKED.

#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "services/surveys/mailer.h"
#include "services/surveys/pg_invitation_repository.h"

namespace samplan::surveys {

class InvitationDispatcher {
 public:
  // Everything passed in must outlive this.
  InvitationDispatcher(PgInvitationRepository& repository, Mailer& mailer,
                       absl::Duration interval, const Clock& clock = RealClock())
      : repository_(repository), mailer_(mailer), interval_(interval), clock_(clock) {}
  ~InvitationDispatcher() { Stop(); }
  InvitationDispatcher(const InvitationDispatcher&) = delete;
  InvitationDispatcher& operator=(const InvitationDispatcher&) = delete;

  // Runs one round at the clock's now: sends what is due and delivers every
  // notification due (at most `max_deliveries`). Returns how many
  // notifications were delivered or given up on.
  absl::StatusOr<int> RunOnce(int max_deliveries = 10000);

  void Start();
  // Stops after the current round.
  void Stop();

 private:
  PgInvitationRepository& repository_;
  Mailer& mailer_;
  const absl::Duration interval_;
  const Clock& clock_;
  absl::Notification stopped_;
  std::thread thread_;
};

}  // namespace samplan::surveys

#endif  // SAMPLAN_SERVICES_SURVEYS_INVITATION_DISPATCHER_H_
