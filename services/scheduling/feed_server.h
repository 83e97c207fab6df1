#ifndef SAMPLAN_SERVICES_SCHEDULING_FEED_SERVER_H_
#define SAMPLAN_SERVICES_SCHEDULING_FEED_SERVER_H_

// The HTTP side of calendar feeds: GET /feeds/{secret}.ics answers the feed's
// calendar (text/calendar) with an ETag, 304 Not Modified to a matching
// If-None-Match, and 404 to a secret no feed has — never saying whether it
// was wrong, rotated or revoked. Served by the scheduling process on a port of
// its own (SAMPLAN_SCHEDULING_FEED_PORT) with cpp-httplib, the HTTP server the
// gateway uses.

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/clock.h"
#include "services/scheduling/calendar_feed_repository.h"

namespace samplan::scheduling {

class CalendarFeedServer {
 public:
  // Listens on `host`:`port` (0: a free port) and serves until destroyed.
  // `feeds` and `clock` must outlive the server.
  static absl::StatusOr<std::unique_ptr<CalendarFeedServer>> Start(
      CalendarFeedRepository& feeds, const Clock& clock, const std::string& host, int port);
  ~CalendarFeedServer();

  int port() const;
  // Stops answering; open requests finish first.
  void Stop();

 private:
  class Impl;
  explicit CalendarFeedServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace samplan::scheduling

#endif  // SAMPLAN_SERVICES_SCHEDULING_FEED_SERVER_H_
