#include "tests/support/scheduling_stack.h"

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "common/migrations.h"
#include "tests/support/identity_stack.h"
#include "tests/support/service_roles.h"

namespace samplan::testing {

absl::Status InProcessScheduling::ApplyMigrations(const std::string& dsn) {
  if (absl::Status s = InProcessIdentity::ApplyIdentityMigrations(dsn); !s.ok()) return s;
  return samplan::ApplyMigrations(dsn, scheduling::kSchema, scheduling::SchedulingMigrationSets());
}

absl::StatusOr<std::unique_ptr<InProcessScheduling>> InProcessScheduling::Start(
    const std::string& dsn, const TokenVerifierOptions& tokens, const Clock& clock) {
  std::unique_ptr<InProcessScheduling> s(new InProcessScheduling());
  // The service runs as its database role, as in production: what it may not do
  // fails here as it would there.
  absl::StatusOr<std::string> service_dsn = ServiceRoleDsn(dsn, "scheduling");
  if (!service_dsn.ok()) return service_dsn.status();
  absl::StatusOr<std::unique_ptr<PgPool>> pool = PgPool::Create(
      {*service_dsn, 8, absl::Seconds(10), "test", scheduling::SchedulingRepositoryStatements(s->outbox_)});
  if (!pool.ok()) return pool.status();
  s->pool_ = *std::move(pool);
  s->meetings_ = std::make_unique<scheduling::PgMeetingRepository>(*s->pool_, s->outbox_);
  s->availability_ = std::make_unique<scheduling::PgAvailabilityRepository>(*s->pool_);
  absl::StatusOr<std::unique_ptr<TokenVerifier>> verifier = MakeTokenVerifier(tokens);
  if (!verifier.ok()) return verifier.status();
  s->verifier_ = *std::move(verifier);
  s->calls_ = std::make_unique<CallHandler>(*s->verifier_, absl::Seconds(10), clock);
  s->feeds_ = std::make_unique<scheduling::PgCalendarFeedRepository>(*s->pool_, s->outbox_);
  s->overdue_ = std::make_unique<scheduling::PgOverdueRepository>(*s->pool_);
  s->intakes_ = std::make_unique<scheduling::PgIntakeRepository>(*s->pool_, s->outbox_);
  s->service_ = std::make_unique<scheduling::SchedulingService>(
      *s->meetings_, *s->availability_, *s->calls_,
      scheduling::SchedulingService::FollowUpParts{*s->feeds_, *s->overdue_,
                                                   "http://127.0.0.1"},
      s->distances_, *s->intakes_);
  absl::StatusOr<std::unique_ptr<GrpcServer>> server = GrpcServer::Start(
      {"127.0.0.1:0", absl::Seconds(10), absl::ZeroDuration(), absl::Seconds(2), ""},
      {s->service_.get()});
  if (!server.ok()) return server.status();
  s->server_ = *std::move(server);
  absl::StatusOr<std::unique_ptr<scheduling::CalendarFeedServer>> feeds =
      scheduling::CalendarFeedServer::Start(*s->feeds_, clock, "127.0.0.1", 0);
  if (!feeds.ok()) return feeds.status();
  s->feed_server_ = *std::move(feeds);
  return s;
}

std::unique_ptr<scheduling::v1::SchedulingService::Stub> InProcessScheduling::NewStub() const {
  return scheduling::v1::SchedulingService::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", server_->port()), grpc::InsecureChannelCredentials()));
}

}  // namespace samplan::testing
