#include "services/surveys/invitation_dispatcher.h"

#include "common/log.h"

namespace samplan::surveys {

absl::StatusOr<int> InvitationDispatcher::RunOnce(int max_deliveries) {
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  // Sending may take several transactions when many fall due at once.
  for (;;) {
    absl::StatusOr<int> written = repository_.ScheduleDue(clock_.Now(), deadline);
    if (!written.ok()) return written.status();
    if (*written == 0) break;
  }
  int handled = 0;
  while (handled < max_deliveries) {
    absl::StatusOr<bool> delivered =
        repository_.DeliverNext(mailer_, clock_.Now(), absl::Now() + absl::Seconds(60));
    if (!delivered.ok()) return delivered.status();
    if (!*delivered) break;
    ++handled;
  }
  return handled;
}

void InvitationDispatcher::Start() {
  thread_ = std::thread([this] {
    absl::Duration wait = interval_;
    while (!stopped_.WaitForNotificationWithTimeout(wait)) {
      absl::StatusOr<int> round = RunOnce();
      if (round.ok()) {
        wait = interval_;
        continue;
      }
      // The database is away: try again later, less often while it stays away.
      Log(LogLevel::kWarning, "invitation round failed",
          {{"status", round.status().ToString()}});
      wait = std::min(wait * 2, absl::Minutes(1));
    }
  });
}

void InvitationDispatcher::Stop() {
  if (!stopped_.HasBeenNotified()) stopped_.Notify();
  if (thread_.joinable()) thread_.join();
}

}  // namespace samplan::surveys
