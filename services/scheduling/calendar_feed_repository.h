#ifndef SAMPLAN_SERVICES_SCHEDULING_CALENDAR_FEED_REPOSITORY_H_
#define SAMPLAN_SERVICES_SCHEDULING_CALENDAR_FEED_REPOSITORY_H_

// Storage of calendar feeds: the hash of each user's secret and who reads the
// feed, and the read of a feed's meetings, each decided and audited as the
// feed's owner reading it.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/access.h"
#include "samplan/scheduling/v1/scheduling.pb.h"
#include "services/scheduling/calendar_feed.h"

namespace samplan::scheduling {

// How far a feed reaches: meetings that end after now - kFeedPast and start
// before now + kFeedAhead, at most kFeedMeetings of them.
inline constexpr absl::Duration kFeedPast = absl::Hours(24 * 90);
inline constexpr absl::Duration kFeedAhead = absl::Hours(24 * 400);
inline constexpr int kFeedMeetings = 2000;

class CalendarFeedRepository {
 public:
  virtual ~CalendarFeedRepository() = default;

  // Sets the secret of the caller's feed to the one whose hash is
  // `secret_hash` (rotate), or to none (revoke, `secret_hash` empty), with its
  // new version, audit record and event (scheduling.calendar_feed.rotated or
  // .revoked), in one transaction. The feed will be read as the caller's
  // principal. ABORTED when `etag` is given and stale; NOT_FOUND when revoking
  // a feed never made. The feed's `url` is left empty.
  virtual absl::StatusOr<v1::CalendarFeed> SetFeedSecret(const Caller& caller,
                                                         const std::string& secret_hash,
                                                         const std::string& etag) = 0;

  // Returns the meetings of the feed whose secret hashes to `secret_hash`, by
  // start time, each decided (read) and audited as its owner's read;
  // NOT_FOUND when no feed has that secret (never made, rotated or revoked).
  virtual absl::StatusOr<std::vector<FeedEntry>> ReadFeed(const std::string& secret_hash,
                                                          absl::Time now,
                                                          absl::Time deadline) = 0;
};

}  // namespace samplan::scheduling

#endif  // SAMPLAN_SERVICES_SCHEDULING_CALENDAR_FEED_REPOSITORY_H_
