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
  // When not empty, the primary is not `host:port` but whatever these Sentinels
  // name for `sentinel_master`, asked again after every failed connection, so a
  // failover is followed without a restart.
  std::vector<std::pair<std::string, int>> sentinels = {};
  std::string sentinel_master = "";
  // The ACL user to log in as (AUTH) after connecting; no AUTH when `password` is
  // empty, the legacy single password when only `username` is empty.
  std::string username = "";
  std::string password = "";
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

  // Drops the connection, so that the next command connects again (through the
  // Sentinels, when configured). For callers that learn from a reply nested in a
  // script's answer that this server no longer takes writes; a top-level
  // "-READONLY" or "-UNBLOCKED" reply does this by itself.
  void Reconnect() { Disconnect(); }

 private:
  absl::Status EnsureConnected();
  absl::StatusOr<std::pair<std::string, int>> AskSentinelsForPrimary();
  absl::Status Authenticate();
  absl::Status CheckIsPrimary();
  void Disconnect();

  RedisOptions options_;
  redisContext* context_ = nullptr;
};

// Parses the reply of XRANGE / XREVRANGE into entries.
std::vector<StreamEntry> ParseStreamEntries(const RedisReply& reply);


}  // namespace samplan

#endif  // SAMPLAN_COMMON_REDIS_H_
