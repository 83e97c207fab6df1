#include "services/gateway/path_template.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace samplan::gateway {
namespace {

absl::Status Malformed(absl::string_view text, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("path template \"", text, "\": ", why));
}

bool IsLiteral(absl::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c == '{' || c == '}' || c == '*' || c == '=' || c == '/' || c == ':') return false;
  }
  return true;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::optional<std::string> PercentDecode(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out.push_back(text[i]);
      continue;
    }
    if (i + 2 >= text.size()) return std::nullopt;
    int hi = HexValue(text[i + 1]);
    int lo = HexValue(text[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

absl::StatusOr<PathTemplate> PathTemplate::Parse(absl::string_view text) {
  PathTemplate t;
  t.text_ = std::string(text);
  if (text.empty() || text[0] != '/') return Malformed(text, "must start with /");
  absl::string_view rest = text.substr(1);
  // The verb follows the last ':' outside a variable.
  size_t depth = 0, verb_at = absl::string_view::npos;
  for (size_t i = 0; i < rest.size(); ++i) {
    if (rest[i] == '{') ++depth;
    if (rest[i] == '}') --depth;
    if (rest[i] == ':' && depth == 0) verb_at = i;
  }
  if (verb_at != absl::string_view::npos) {
    t.verb_ = std::string(rest.substr(verb_at + 1));
    if (!IsLiteral(t.verb_)) return Malformed(text, "the verb must be a literal");
    rest = rest.substr(0, verb_at);
  }
  size_t i = 0;
  auto parse_segment = [&](absl::string_view seg, bool in_variable) -> absl::Status {
    if (seg == "*") {
      t.segments_.push_back({Kind::kWildcard, ""});
    } else if (seg == "**") {
      t.segments_.push_back({Kind::kDoubleWildcard, ""});
    } else if (IsLiteral(seg)) {
      t.segments_.push_back({Kind::kLiteral, std::string(seg)});
    } else {
      return Malformed(text, absl::StrCat("segment \"", seg, "\"",
                                          in_variable ? " inside a variable" : "",
                                          " is not a literal, * or **"));
    }
    return absl::OkStatus();
  };
  while (i < rest.size()) {
    if (rest[i] == '{') {
      size_t close = rest.find('}', i);
      if (close == absl::string_view::npos) return Malformed(text, "unclosed {");
      absl::string_view inner = rest.substr(i + 1, close - i - 1);
      std::pair<absl::string_view, absl::string_view> parts =
          absl::StrSplit(inner, absl::MaxSplits('=', 1));
      if (parts.first.empty()) return Malformed(text, "a variable needs a field path");
      Variable v{std::string(parts.first), t.segments_.size(), 0};
      absl::string_view pattern = parts.second.empty() ? "*" : parts.second;
      for (absl::string_view seg : absl::StrSplit(pattern, '/')) {
        absl::Status s = parse_segment(seg, true);
        if (!s.ok()) return s;
      }
      v.end = t.segments_.size();
      t.variables_.push_back(std::move(v));
      i = close + 1;
    } else {
      size_t slash = rest.find('/', i);
      absl::string_view seg =
          rest.substr(i, slash == absl::string_view::npos ? absl::string_view::npos : slash - i);
      absl::Status s = parse_segment(seg, false);
      if (!s.ok()) return s;
      i += seg.size();
    }
    if (i < rest.size()) {
      if (rest[i] != '/') return Malformed(text, "expected / between segments");
      ++i;
      if (i == rest.size()) return Malformed(text, "ends with /");
    }
  }
  for (size_t s = 0; s + 1 < t.segments_.size(); ++s) {
    if (t.segments_[s].kind == Kind::kDoubleWildcard) return Malformed(text, "** must come last");
  }
  return t;
}

std::optional<std::vector<PathBinding>> PathTemplate::Match(absl::string_view path) const {
  if (path.empty() || path[0] != '/') return std::nullopt;
  path.remove_prefix(1);
  if (!verb_.empty()) {
    std::string suffix = absl::StrCat(":", verb_);
    if (!absl::EndsWith(path, suffix)) return std::nullopt;
    path.remove_suffix(suffix.size());
  }
  std::vector<absl::string_view> parts = absl::StrSplit(path, '/');
  // Where each template segment's match begins in `parts`; "**" takes the rest.
  std::vector<size_t> starts(segments_.size() + 1, 0);
  size_t p = 0;
  for (size_t s = 0; s < segments_.size(); ++s) {
    starts[s] = p;
    const Segment& seg = segments_[s];
    if (seg.kind == Kind::kDoubleWildcard) {
      if (p >= parts.size()) return std::nullopt;
      p = parts.size();
      continue;
    }
    if (p >= parts.size() || parts[p].empty()) return std::nullopt;
    if (seg.kind == Kind::kLiteral && parts[p] != seg.literal) return std::nullopt;
    ++p;
  }
  starts[segments_.size()] = p;
  if (p != parts.size()) return std::nullopt;
  std::vector<PathBinding> bindings;
  for (const Variable& v : variables_) {
    std::vector<std::string> decoded;
    for (size_t k = starts[v.begin]; k < starts[v.end]; ++k) {
      std::optional<std::string> d = PercentDecode(parts[k]);
      if (!d) return std::nullopt;
      decoded.push_back(*std::move(d));
    }
    bindings.push_back({v.field_path, absl::StrJoin(decoded, "/")});
  }
  return bindings;
}

std::vector<std::string> PathTemplate::FieldPaths() const {
  std::vector<std::string> out;
  for (const Variable& v : variables_) out.push_back(v.field_path);
  return out;
}

int PathTemplate::LiteralCount() const {
  int n = verb_.empty() ? 0 : 1;
  for (const Segment& s : segments_) n += s.kind == Kind::kLiteral ? 1 : 0;
  return n;
}

}  // namespace samplan::gateway
