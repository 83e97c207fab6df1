#ifndef SAMPLAN_SERVICES_EVENTS_REDIS_STREAM_READER_H_
#define SAMPLAN_SERVICES_EVENTS_REDIS_STREAM_READER_H_

// The stream reader over Redis: XRANGE, XINFO STREAM and a blocking XREAD on the
// stream `samplan:events:{<kommunkod>}` (common/outbox.h), on one connection.
//
// Only authentic entries are passed on: an entry whose MAC does not verify under
// the service's keys (common/stream_mac.h) — none, a wrong one, or one made for
// another municipality's stream — is returned at its position with no fields, so
// that readers move past it without anything of it reaching a subscriber or a
// ListEvents page; it is counted in samplan_events_unauthentic_total and logged by
// position.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/redis.h"
#include "common/stream_mac.h"
#include "services/events/stream_reader.h"

namespace samplan::events {

class RedisStreamReader final : public StreamReader {
 public:
  RedisStreamReader(RedisOptions options, StreamKeys keys);

  // Returns a factory whose readers each hold a connection of their own.
  static StreamReaderFactory Factory(RedisOptions options, StreamKeys keys);

  absl::StatusOr<std::vector<StreamEntry>> ReadAfter(const std::string& municipality,
                                                     std::optional<StreamPosition> after,
                                                     int count) override;
  absl::StatusOr<StreamExtent> ReadExtent(const std::string& municipality,
                                          std::optional<StreamPosition> after) override;
  absl::StatusOr<std::vector<StreamEntry>> WaitAfter(const std::string& municipality,
                                                     StreamPosition after, int count,
                                                     absl::Duration timeout) override;

 private:
  // Returns `entries` of `municipality`'s stream with every unauthentic one emptied.
  std::vector<StreamEntry> Authentic(const std::string& municipality,
                                     std::vector<StreamEntry> entries) const;

  RedisClient redis_;
  const StreamKeys keys_;
};

}  // namespace samplan::events

#endif  // SAMPLAN_SERVICES_EVENTS_REDIS_STREAM_READER_H_
