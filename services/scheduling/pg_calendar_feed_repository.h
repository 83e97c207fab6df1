#ifndef SAMPLAN_SERVICES_SCHEDULING_PG_CALENDAR_FEED_REPOSITORY_H_
#define SAMPLAN_SERVICES_SCHEDULING_PG_CALENDAR_FEED_REPOSITORY_H_

#include "common/outbox.h"
#include "common/pg.h"
#include "services/scheduling/calendar_feed_repository.h"

namespace samplan::scheduling {

// CalendarFeedRepository over PostgreSQL; the pool must have been created with
// SchedulingRepositoryStatements.
class PgCalendarFeedRepository final : public CalendarFeedRepository {
 public:
  PgCalendarFeedRepository(PgPool& pool, const Outbox& outbox) : pool_(pool), outbox_(outbox) {}

  absl::StatusOr<v1::CalendarFeed> SetFeedSecret(const Caller& caller,
                                                 const std::string& secret_hash,
                                                 const std::string& etag) override;
  absl::StatusOr<std::vector<FeedEntry>> ReadFeed(const std::string& secret_hash,
                                                  absl::Time now, absl::Time deadline) override;

 private:
  PgPool& pool_;
  const Outbox& outbox_;
};

}  // namespace samplan::scheduling

#endif  // SAMPLAN_SERVICES_SCHEDULING_PG_CALENDAR_FEED_REPOSITORY_H_
