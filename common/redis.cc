#include "common/redis.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <tuple>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace samplan {
namespace {


RedisReply Convert(const redisReply* reply) {
  RedisReply out;
  switch (reply->type) {
    case REDIS_REPLY_STRING:
      out.type = RedisReply::Type::kString;
      out.text.assign(reply->str, reply->len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = RedisReply::Type::kStatus;
      out.text.assign(reply->str, reply->len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = RedisReply::Type::kError;
      out.text.assign(reply->str, reply->len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = RedisReply::Type::kInteger;
      out.integer = reply->integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = RedisReply::Type::kArray;
      for (size_t i = 0; i < reply->elements; ++i) {
        out.elements.push_back(Convert(reply->element[i]));
      }
      break;
    default:
      out.type = RedisReply::Type::kNil;
  }
  return out;
}

}  // namespace

std::string StreamEntry::Field(absl::string_view field) const {
  for (const auto& [name, value] : fields) {
    if (name == field) return value;
  }
  return "";
}

RedisClient::RedisClient(RedisOptions options) : options_(std::move(options)) {}

RedisClient::~RedisClient() { Disconnect(); }

void RedisClient::Disconnect() {
  if (context_ != nullptr) redisFree(context_);
  context_ = nullptr;
}

namespace {

// Returns whether the server has closed `context`'s connection (or it failed) while
// it sat idle: a restarted Redis leaves every client holding a socket that only
// answers end-of-file. Reading it costs nothing when the connection is fine: the
// peek returns at once with EAGAIN.
bool ClosedByPeer(const redisContext* context) {
  char byte;
  const ssize_t n = recv(context->fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n == 0) return true;  // end of file: the server closed it
  if (n > 0) return false;  // unread data: not ours to judge (the next read will)
  return errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
}

}  // namespace

namespace {

// Sends one command on `context` and returns its reply; UNAVAILABLE when the
// connection fails.
absl::StatusOr<RedisReply> SendOn(redisContext* context, const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<size_t> lengths;
  for (const std::string& arg : args) {
    argv.push_back(arg.data());
    lengths.push_back(arg.size());
  }
  void* raw = redisCommandArgv(context, static_cast<int>(argv.size()), argv.data(),
                               lengths.data());
  if (raw == nullptr) {
    return absl::UnavailableError(absl::StrCat("Redis connection failed: ", context->errstr));
  }
  redisReply* reply = static_cast<redisReply*>(raw);
  RedisReply out = Convert(reply);
  freeReplyObject(reply);
  return out;
}

// Returns whether `reply` says that this server is not (or no longer) the primary:
// a write refused by a replica, or a blocked read ended because the server was
// made a replica. The connection is then replaced, asking the Sentinels again.
bool SaysNotPrimary(const RedisReply& reply) {
  return reply.is_error() &&
         (absl::StartsWith(reply.text, "READONLY") || absl::StartsWith(reply.text, "UNBLOCKED"));
}

}  // namespace

absl::StatusOr<std::pair<std::string, int>> RedisClient::AskSentinelsForPrimary() {
  std::string reasons;
  for (size_t i = 0; i < options_.sentinels.size(); ++i) {
    const auto& [host, port] = options_.sentinels[i];
    timeval timeout = absl::ToTimeval(options_.connect_timeout);
    redisContext* sentinel = redisConnectWithTimeout(host.c_str(), port, timeout);
    if (sentinel == nullptr || sentinel->err != 0) {
      absl::StrAppend(&reasons, " ", host, ":", port, " unreachable;");
      if (sentinel != nullptr) redisFree(sentinel);
      continue;
    }
    redisSetTimeout(sentinel, timeout);
    absl::StatusOr<RedisReply> reply = SendOn(
        sentinel, {"SENTINEL", "GET-MASTER-ADDR-BY-NAME", options_.sentinel_master});
    redisFree(sentinel);
    int primary_port = 0;
    if (reply.ok() && reply->type == RedisReply::Type::kArray &&
        reply->elements.size() == 2 &&
        absl::SimpleAtoi(reply->elements[1].text, &primary_port)) {
      // The Sentinel that answered is asked first next time (as Sentinel's client
      // guidelines advise).
      if (i != 0) std::swap(options_.sentinels[0], options_.sentinels[i]);
      return std::make_pair(reply->elements[0].text, primary_port);
    }
    absl::StrAppend(&reasons, " ", host, ":", port, " does not know \"",
                    options_.sentinel_master, "\";");
  }
  return absl::UnavailableError(absl::StrCat("no Sentinel names a Redis primary:", reasons));
}

absl::Status RedisClient::Authenticate() {
  if (options_.password.empty()) return absl::OkStatus();
  std::vector<std::string> auth = {"AUTH"};
  if (!options_.username.empty()) auth.push_back(options_.username);
  auth.push_back(options_.password);
  absl::StatusOr<RedisReply> reply = SendOn(context_, auth);
  if (!reply.ok()) return reply.status();
  if (reply->is_error()) {
    // The reply names no secret; the user name is not personal data.
    return absl::UnavailableError(absl::StrCat("Redis refused the login of user \"",
                                               options_.username, "\": ", reply->text));
  }
  return absl::OkStatus();
}

absl::Status RedisClient::CheckIsPrimary() {
  // A Sentinel's answer can be a moment old: the server itself must agree.
  absl::StatusOr<RedisReply> role = SendOn(context_, {"ROLE"});
  if (!role.ok()) return role.status();
  if (role->type != RedisReply::Type::kArray || role->elements.empty() ||
      role->elements[0].text != "master") {
    return absl::UnavailableError("the Redis server the Sentinels named is not a primary (yet)");
  }
  return absl::OkStatus();
}

absl::Status RedisClient::EnsureConnected() {
  // A connection the server has closed is replaced before a command is sent on
  // it, so that no caller sees a restart of Redis that is already over. Nothing
  // is retried: a command that fails on the way may have been applied.
  if (context_ != nullptr && ClosedByPeer(context_)) Disconnect();
  if (context_ != nullptr) return absl::OkStatus();
  std::string host = options_.host;
  int port = options_.port;
  if (!options_.sentinels.empty()) {
    absl::StatusOr<std::pair<std::string, int>> primary = AskSentinelsForPrimary();
    if (!primary.ok()) return primary.status();
    std::tie(host, port) = *primary;
  }
  timeval timeout = absl::ToTimeval(options_.connect_timeout);
  context_ = redisConnectWithTimeout(host.c_str(), port, timeout);
  if (context_ == nullptr || context_->err != 0) {
    std::string reason = context_ != nullptr ? context_->errstr : "out of memory";
    Disconnect();
    return absl::UnavailableError(
        absl::StrCat("Redis at ", host, ":", port, " is unreachable: ", reason));
  }
  timeval command_timeout = absl::ToTimeval(options_.command_timeout);
  redisSetTimeout(context_, command_timeout);
  absl::Status ready = Authenticate();
  if (ready.ok() && !options_.sentinels.empty()) ready = CheckIsPrimary();
  if (!ready.ok()) {
    Disconnect();
    return ready;
  }
  return absl::OkStatus();
}

absl::StatusOr<RedisReply> RedisClient::Command(const std::vector<std::string>& args) {
  absl::StatusOr<std::vector<RedisReply>> replies = Pipeline({args});
  if (!replies.ok()) return replies.status();
  return std::move((*replies)[0]);
}

absl::StatusOr<std::vector<RedisReply>> RedisClient::Pipeline(
    const std::vector<std::vector<std::string>>& commands) {
  if (absl::Status connected = EnsureConnected(); !connected.ok()) return connected;
  for (const std::vector<std::string>& args : commands) {
    std::vector<const char*> argv;
    std::vector<size_t> lengths;
    argv.reserve(args.size());
    lengths.reserve(args.size());
    for (const std::string& arg : args) {
      argv.push_back(arg.data());
      lengths.push_back(arg.size());
    }
    if (redisAppendCommandArgv(context_, static_cast<int>(argv.size()), argv.data(),
                               lengths.data()) != REDIS_OK) {
      std::string reason = context_->errstr;
      Disconnect();
      return absl::UnavailableError(absl::StrCat("Redis command failed: ", reason));
    }
  }
  std::vector<RedisReply> replies;
  replies.reserve(commands.size());
  for (size_t i = 0; i < commands.size(); ++i) {
    void* raw = nullptr;
    if (redisGetReply(context_, &raw) != REDIS_OK || raw == nullptr) {
      std::string reason = context_->errstr;
      Disconnect();
      return absl::UnavailableError(absl::StrCat("Redis connection failed: ", reason));
    }
    redisReply* reply = static_cast<redisReply*>(raw);
    replies.push_back(Convert(reply));
    freeReplyObject(reply);
  }
  for (const RedisReply& reply : replies) {
    if (SaysNotPrimary(reply)) {
      Disconnect();
      break;
    }
  }
  return replies;
}

std::vector<StreamEntry> ParseStreamEntries(const RedisReply& reply) {
  std::vector<StreamEntry> entries;
  if (reply.type != RedisReply::Type::kArray) return entries;
  for (const RedisReply& item : reply.elements) {
    if (item.type != RedisReply::Type::kArray || item.elements.size() != 2) continue;
    StreamEntry entry;
    entry.id = item.elements[0].text;
    const std::vector<RedisReply>& kv = item.elements[1].elements;
    for (size_t i = 0; i + 1 < kv.size(); i += 2) {
      entry.fields.emplace_back(kv[i].text, kv[i + 1].text);
    }
    entries.push_back(std::move(entry));
  }
  return entries;
}


}  // namespace samplan
