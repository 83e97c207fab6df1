#ifndef SAMPLAN_COMMON_STREAM_MAC_H_
#define SAMPLAN_COMMON_STREAM_MAC_H_

// The authenticity of the event streams. Whoever can write to Redis could append
// an entry naming any owner, person and participants; so every entry the relay
// appends carries a MAC (HMAC-SHA256, OpenSSL) under a key only the services hold,
// and every reader — the event service, the internal consumers — refuses an entry
// whose MAC does not verify.
//
// The MAC covers, each length-prefixed, the stream's key (so an entry copied into
// another municipality's stream does not verify there), the event id, the type,
// the envelope and the access version: every field a reader acts on. It does not
// cover the entry id, so it proves where an event came from, not that it is new:
// an entry copied again into its own stream is a duplicate of its event id, which
// every reader already drops or tolerates (relay retries make duplicates too).
//
// Keys rotate: an entry names its key by id ("mac" field: "<key id>:<hex MAC>"),
// the first key of the ring signs and every key of it verifies. To rotate, add the
// new key after the old one everywhere, then put it first, then (once the stream
// retention has passed) drop the old one.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/config.h"
#include "common/redis.h"

namespace samplan {

// The field of a stream entry that carries its MAC.
inline constexpr char kStreamMacField[] = "mac";

class StreamKeys {
 public:
  struct Key {
    std::string id;      // a short name: letters, digits, '-', '_' or '.'
    std::string secret;  // at least 32 bytes
  };

  // Returns the ring of `keys`, the first of which signs; INVALID_ARGUMENT when
  // there are none, an id is malformed or repeated, or a secret is shorter than
  // 32 bytes.
  static absl::StatusOr<StreamKeys> Create(std::vector<Key> keys);

  // Returns a ring of one random key made once per process: a relay and its readers
  // in one process (the tests) agree on it without configuration, and nothing
  // outside the process can sign with it. The binaries never use it: they require
  // SAMPLAN_STREAM_KEYS (ReadStreamKeys).
  static const StreamKeys& ProcessLocal();

  // Returns the value of the `mac` field of an entry of `stream` with these fields.
  std::string Sign(absl::string_view stream, absl::string_view event_id, absl::string_view type,
                   absl::string_view envelope, absl::string_view access_version) const;

  // Returns whether `entry`, read from `stream`, carries a MAC by a key of this ring
  // over its fields `event_id`, `type`, `event` and `access_version`.
  bool Verify(absl::string_view stream, const StreamEntry& entry) const;

  const std::string& signing_key_id() const { return keys_.front().id; }

  // Returns the ring as a SAMPLAN_STREAM_KEYS value, secrets included: for a
  // process to hand its ring to a child it starts (the tests start the binaries
  // with ProcessLocal()'s). Never log it.
  std::string Setting() const;

 private:
  explicit StreamKeys(std::vector<Key> keys) : keys_(std::move(keys)) {}
  std::vector<Key> keys_;
};

// Reads SAMPLAN_STREAM_KEYS ("id=<base64 secret>,id2=<base64 secret>", the first
// signs); a problem names the variable and the entry's id, never a secret. Returns
// the process-local ring when the variable is missing or wrong (with the problem
// recorded, so the process does not start).
StreamKeys ReadStreamKeys(EnvReader& env);

}  // namespace samplan

#endif  // SAMPLAN_COMMON_STREAM_MAC_H_
