#include "common/paging.h"

#include <algorithm>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/status.h"

namespace samplan {
namespace {

constexpr char kVersion[] = "p1";
constexpr char kSeparator = '\x1f';  // a control character: never in a key or an id

// A stable fingerprint of the filters (FNV-1a, 64 bits): the same in every
// replica and release, so a token works on whichever replica answers next. It
// guards against a mistake, not an attacker: every page is access-checked anew.
std::string Fingerprint(absl::string_view filters) {
  uint64_t hash = 1469598103934665603ULL;
  for (unsigned char c : filters) {
    hash ^= c;
    hash *= 1099511628211ULL;
  }
  return absl::StrCat(absl::Hex(hash, absl::kZeroPad16));
}

}  // namespace

absl::StatusOr<int> PageSizeOf(int32_t requested, PageSizeRule rule) {
  if (requested < 0) return InvalidField("page_size", "must not be negative (0 means the default)");
  if (requested == 0) return rule.default_size;
  return std::min(requested, rule.max_size);
}

std::string EncodePageToken(absl::string_view filters, const std::vector<std::string>& position) {
  std::string raw = absl::StrCat(kVersion, std::string(1, kSeparator), Fingerprint(filters));
  // Each part escaped: a key column may hold any character, the separator too.
  for (const std::string& part : position) {
    absl::StrAppend(&raw, std::string(1, kSeparator), absl::WebSafeBase64Escape(part));
  }
  return absl::WebSafeBase64Escape(raw);
}

absl::StatusOr<std::vector<std::string>> DecodePageToken(absl::string_view token,
                                                         absl::string_view filters, size_t count) {
  std::string raw;
  if (!absl::WebSafeBase64Unescape(token, &raw)) {
    return InvalidField("page_token", "is not a token this call returned");
  }
  std::vector<std::string> fields = absl::StrSplit(raw, kSeparator);
  if (fields.size() != count + 2 || fields[0] != kVersion) {
    return InvalidField("page_token", "is not a token this call returned");
  }
  if (fields[1] != Fingerprint(filters)) {
    return InvalidField("page_token",
                        "was made for other filters; send the filters of the first page with it");
  }
  std::vector<std::string> position(count);
  for (size_t i = 0; i < count; ++i) {
    if (!absl::WebSafeBase64Unescape(fields[i + 2], &position[i])) {
      return InvalidField("page_token", "is not a token this call returned");
    }
  }
  return position;
}

}  // namespace samplan
