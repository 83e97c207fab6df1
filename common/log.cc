#include "common/log.h"

#include <unistd.h>

#include <atomic>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace samplan {
namespace {

std::atomic<int> g_min_level{static_cast<int>(LogLevel::kInfo)};
std::string& ServiceName() {
  static std::string* name = new std::string("samplan");
  return *name;
}
thread_local std::string t_request_id;

absl::string_view LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug: return "debug";
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarning: return "warning";
    case LogLevel::kError: return "error";
  }
  return "info";
}

}  // namespace

LogField::LogField(absl::string_view key, int64_t value)
    : key_(key), text_(absl::StrCat(value)), quoted_(false) {}
LogField::LogField(absl::string_view key, double value)
    : key_(key), text_(absl::StrFormat("%.3f", value)), quoted_(false) {}
LogField::LogField(absl::string_view key, bool value)
    : key_(key), text_(value ? "true" : "false"), quoted_(false) {}

void ConfigureLogging(absl::string_view service, LogLevel min_level) {
  ServiceName() = std::string(service);
  g_min_level.store(static_cast<int>(min_level));
}

bool ParseLogLevel(absl::string_view text, LogLevel* level) {
  for (LogLevel candidate : {LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarning,
                             LogLevel::kError}) {
    if (text == LevelName(candidate)) {
      *level = candidate;
      return true;
    }
  }
  return false;
}

std::string JsonEscape(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          absl::StrAppendFormat(&out, "\\u%04x", c);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  return out;
}

void Log(LogLevel level, absl::string_view message,
         std::initializer_list<LogField> fields) {
  if (static_cast<int>(level) < g_min_level.load(std::memory_order_relaxed)) return;
  std::string line = absl::StrCat(
      "{\"ts\":\"", absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone()),
      "\",\"level\":\"", LevelName(level), "\",\"service\":\"", JsonEscape(ServiceName()),
      "\",\"msg\":\"", JsonEscape(message), "\"");
  if (!t_request_id.empty()) {
    absl::StrAppend(&line, ",\"request_id\":\"", JsonEscape(t_request_id), "\"");
  }
  for (const LogField& field : fields) {
    absl::StrAppend(&line, ",\"", JsonEscape(field.key()), "\":");
    if (field.quoted()) {
      absl::StrAppend(&line, "\"", JsonEscape(field.text()), "\"");
    } else {
      absl::StrAppend(&line, field.text());
    }
  }
  line += "}\n";
  // One write per line, so lines of concurrent threads do not interleave.
  ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
}

ScopedRequestId::ScopedRequestId(absl::string_view request_id)
    : previous_(std::move(t_request_id)) {
  t_request_id = std::string(request_id);
}

ScopedRequestId::~ScopedRequestId() { t_request_id = std::move(previous_); }

}  // namespace samplan
