#ifndef SAMPLAN_SERVICES_EVENTS_REDIS_STREAM_READER_H_
#define SAMPLAN_SERVICES_EVENTS_REDIS_STREAM_READER_H_

// The stream reader over Redis: XRANGE, XINFO STREAM and a blocking XREAD on the
// stream `samplan:events:{<kommunkod>}` (common/outbox.h), on one connection.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/redis.h"
#include "services/events/stream_reader.h"

namespace samplan::events {

class RedisStreamReader final : public StreamReader {
 public:
  explicit RedisStreamReader(RedisOptions options) : redis_(std::move(options)) {}

  // Returns a factory whose readers each hold a connection of their own.
  static StreamReaderFactory Factory(RedisOptions options);

  absl::StatusOr<std::vector<StreamEntry>> ReadAfter(const std::string& municipality,
                                                     std::optional<StreamPosition> after,
                                                     int count) override;
  absl::StatusOr<StreamExtent> ReadExtent(const std::string& municipality,
                                          std::optional<StreamPosition> after) override;
  absl::StatusOr<std::vector<StreamEntry>> WaitAfter(const std::string& municipality,
                                                     StreamPosition after, int count,
                                                     absl::Duration timeout) override;

 private:
  RedisClient redis_;
};

}  // namespace samplan::events

#endif  // SAMPLAN_SERVICES_EVENTS_REDIS_STREAM_READER_H_
