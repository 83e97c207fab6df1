#ifndef SAMPLAN_SERVICES_EVENTS_STREAM_READER_H_
#define SAMPLAN_SERVICES_EVENTS_STREAM_READER_H_

// What the event service reads of a municipality's stream, and nothing more: the
// entries after a position, what the stream keeps, and a blocking wait for new
// entries. Redis is behind one implementation (redis_stream_reader.h); the hubs,
// the subscribers' catch-up and ListEvents read only through this, so the middle
// test tier serves them from memory.

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/redis.h"
#include "services/events/delivery_rules.h"

namespace samplan::events {

// One reader of the municipalities' streams. Not thread-safe, like the connection
// it stands for: each thread that reads opens its own (StreamReaderFactory).
class StreamReader {
 public:
  virtual ~StreamReader() = default;

  // Returns up to `count` entries of `municipality`'s stream after `after` (from the
  // oldest kept when nullopt), oldest first; none when nothing follows it.
  // UNAVAILABLE when the stream cannot be read.
  virtual absl::StatusOr<std::vector<StreamEntry>> ReadAfter(
      const std::string& municipality, std::optional<StreamPosition> after, int count) = 0;

  // Returns what `municipality`'s stream keeps and, given `after`, which entry comes
  // next after it; a stream that does not exist yet keeps nothing and has generated
  // nothing. UNAVAILABLE when the stream cannot be read.
  virtual absl::StatusOr<StreamExtent> ReadExtent(const std::string& municipality,
                                                  std::optional<StreamPosition> after) = 0;

  // Returns up to `count` entries after `after`, waiting up to `timeout` for the
  // first to come; none when none came in that time. UNAVAILABLE when the stream
  // cannot be read (the caller keeps its position and reads on from it).
  virtual absl::StatusOr<std::vector<StreamEntry>> WaitAfter(const std::string& municipality,
                                                             StreamPosition after, int count,
                                                             absl::Duration timeout) = 0;
};

// Opens a reader for one thread's use.
using StreamReaderFactory = std::function<std::unique_ptr<StreamReader>()>;

}  // namespace samplan::events

#endif  // SAMPLAN_SERVICES_EVENTS_STREAM_READER_H_
