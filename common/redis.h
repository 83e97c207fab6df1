#ifndef SAMPLAN_COMMON_REDIS_H_
#define SAMPLAN_COMMON_REDIS_H_

// A small synchronous Redis client over hiredis for the event streams. Commands are
// always sent as separate binary-safe arguments (redisCommandArgv), never formatted
// into a command string.

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

struct redisContext;

namespace samplan {

struct RedisOptions {
  std::string host = "127.0.0.1";
  int port = 6379;
  absl::Duration connect_timeout = absl::Seconds(2);
  absl::Duration command_timeout = absl::Seconds(5);
};

// One reply. A command-level error ("-ERR …") is a reply of type kError, not a
// failed status: the connection is fine and the other replies of a pipeline stand.
struct RedisReply {
  enum class Type { kNil, kString, kStatus, kInteger, kArray, kError };
  Type type = Type::kNil;
  std::string text;  // kString, kStatus, kError
  long long integer = 0;
  std::vector<RedisReply> elements;  // kArray

  bool is_error() const { return type == Type::kError; }
};

// One entry of a stream.
struct StreamEntry {
  std::string id;  // "<ms>-<seq>"
  std::vector<std::pair<std::string, std::string>> fields;

  // Returns the value of `field`, or an empty string.
  std::string Field(absl::string_view field) const;
};

// A connection that reconnects by itself: after an I/O error the next command
// connects again, and a connection the server closed while it was idle (Redis
// restarted) is replaced before the next command is sent, so every user of the
// client heals the same way. Not thread-safe: one client per thread.
class RedisClient {
 public:
  explicit RedisClient(RedisOptions options);
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  // Sends one command; UNAVAILABLE when Redis cannot be reached or the connection
  // fails.
  absl::StatusOr<RedisReply> Command(const std::vector<std::string>& args);

  // Sends the commands in one pipeline and returns their replies in order;
  // UNAVAILABLE if the connection fails on the way (some commands may then have
  // been applied).
  absl::StatusOr<std::vector<RedisReply>> Pipeline(
      const std::vector<std::vector<std::string>>& commands);

 private:
  absl::Status EnsureConnected();
  void Disconnect();

  RedisOptions options_;
  redisContext* context_ = nullptr;
};

// Parses the reply of XRANGE / XREVRANGE into entries.
std::vector<StreamEntry> ParseStreamEntries(const RedisReply& reply);


}  // namespace samplan

#endif  // SAMPLAN_COMMON_REDIS_H_
