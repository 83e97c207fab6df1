#include "common/redis.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <sys/socket.h>
#include <sys/time.h>

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

absl::Status RedisClient::EnsureConnected() {
  // A connection the server has closed is replaced before a command is sent on
  // it, so that no caller sees a restart of Redis that is already over. Nothing
  // is retried: a command that fails on the way may have been applied.
  if (context_ != nullptr && ClosedByPeer(context_)) Disconnect();
  if (context_ != nullptr) return absl::OkStatus();
  timeval timeout = absl::ToTimeval(options_.connect_timeout);
  context_ = redisConnectWithTimeout(options_.host.c_str(), options_.port, timeout);
  if (context_ == nullptr || context_->err != 0) {
    std::string reason = context_ != nullptr ? context_->errstr : "out of memory";
    Disconnect();
    return absl::UnavailableError(absl::StrCat("Redis at ", options_.host, ":",
                                               options_.port, " is unreachable: ", reason));
  }
  timeval command_timeout = absl::ToTimeval(options_.command_timeout);
  redisSetTimeout(context_, command_timeout);
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
