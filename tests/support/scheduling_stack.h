#ifndef SAMPLAN_TESTS_SUPPORT_SCHEDULING_STACK_H_
#define SAMPLAN_TESTS_SUPPORT_SCHEDULING_STACK_H_

// The scheduling service wired as its main.cc wires it, in-process on a free
// loopback port, over a database with the identity and scheduling schemas
// migrated, with a clock the test may move.

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/auth.h"
#include "common/call.h"
#include "common/clock.h"
#include "common/outbox.h"
#include "common/pg.h"
#include "common/server.h"
#include "samplan/scheduling/v1/scheduling.grpc.pb.h"
#include "services/scheduling/pg_availability_repository.h"
#include "services/scheduling/pg_intake_repository.h"
#include "services/scheduling/pg_meeting_repository.h"
#include "services/scheduling/scheduling_service.h"
#include "services/scheduling/feed_server.h"
#include "services/scheduling/overdue.h"
#include "services/scheduling/pg_calendar_feed_repository.h"

namespace samplan::testing {

class InProcessScheduling {
 public:
  // Applies the identity schema's and the scheduling schema's migrations to
  // `dsn`.
  static absl::Status ApplyMigrations(const std::string& dsn);

  // Serves scheduling over `dsn` (migrated), trusting `tokens`.
  static absl::StatusOr<std::unique_ptr<InProcessScheduling>> Start(
      const std::string& dsn, const TokenVerifierOptions& tokens,
      const Clock& clock = RealClock());

  std::unique_ptr<scheduling::v1::SchedulingService::Stub> NewStub() const;
  int port() const { return server_->port(); }
  // Where the calendar feeds are served over HTTP (127.0.0.1).
  int feed_port() const { return feed_server_->port(); }
  // The pool and outbox, for tests that run the service's background work
  // (the overdue sweep) by hand.
  PgPool& pool() { return *pool_; }
  const Outbox& outbox() const { return outbox_; }

 private:
  InProcessScheduling() = default;

  Outbox outbox_{scheduling::kSchema};
  std::unique_ptr<PgPool> pool_;
  std::unique_ptr<scheduling::PgMeetingRepository> meetings_;
  std::unique_ptr<scheduling::PgAvailabilityRepository> availability_;
  std::unique_ptr<scheduling::PgIntakeRepository> intakes_;
  scheduling::GreatCircleDistances distances_;
  std::unique_ptr<TokenVerifier> verifier_;
  std::unique_ptr<CallHandler> calls_;
  std::unique_ptr<scheduling::PgCalendarFeedRepository> feeds_;
  std::unique_ptr<scheduling::PgOverdueRepository> overdue_;
  std::unique_ptr<scheduling::SchedulingService> service_;
  std::unique_ptr<GrpcServer> server_;
  std::unique_ptr<scheduling::CalendarFeedServer> feed_server_;
};

}  // namespace samplan::testing

#endif  // SAMPLAN_TESTS_SUPPORT_SCHEDULING_STACK_H_
