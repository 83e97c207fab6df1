#ifndef SAMPLAN_COMMON_LOG_H_
#define SAMPLAN_COMMON_LOG_H_

// Structured logging: one JSON object a line on stderr, with the service name and
// the request id of the call being served. Never pass personal data (names,
// personal identity numbers, note texts, tokens) as a message or field: log
// resource names and counts instead.

#include <cstdint>
#include <initializer_list>
#include <string>
#include "absl/strings/string_view.h"

namespace samplan {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

// One key/value of a log line; numbers stay numbers in the JSON.
class LogField {
 public:
  LogField(absl::string_view key, absl::string_view value)
      : key_(key), text_(value), quoted_(true) {}
  LogField(absl::string_view key, const char* value) : LogField(key, absl::string_view(value)) {}
  LogField(absl::string_view key, const std::string& value)
      : LogField(key, absl::string_view(value)) {}
  LogField(absl::string_view key, int64_t value);
  LogField(absl::string_view key, int value) : LogField(key, int64_t{value}) {}
  LogField(absl::string_view key, double value);
  LogField(absl::string_view key, bool value);

  absl::string_view key() const { return key_; }
  absl::string_view text() const { return text_; }
  bool quoted() const { return quoted_; }

 private:
  absl::string_view key_;
  std::string text_;
  bool quoted_;
};

// Sets the service name and the lowest level written; call once from main().
void ConfigureLogging(absl::string_view service, LogLevel min_level);
// Parses "debug", "info", "warning" or "error".
bool ParseLogLevel(absl::string_view text, LogLevel* level);

// Writes one line if `level` is at or above the configured level.
void Log(LogLevel level, absl::string_view message,
         std::initializer_list<LogField> fields = {});

// Makes `request_id` part of every line this thread writes until destroyed.
class ScopedRequestId {
 public:
  explicit ScopedRequestId(absl::string_view request_id);
  ~ScopedRequestId();
  ScopedRequestId(const ScopedRequestId&) = delete;
  ScopedRequestId& operator=(const ScopedRequestId&) = delete;

 private:
  std::string previous_;
};

// Returns `text` escaped for the inside of a JSON string.
std::string JsonEscape(absl::string_view text);

}  // namespace samplan

#endif  // SAMPLAN_COMMON_LOG_H_
