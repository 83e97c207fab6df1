#ifndef SAMPLAN_SERVICES_GATEWAY_PATH_TEMPLATE_H_
#define SAMPLAN_SERVICES_GATEWAY_PATH_TEMPLATE_H_

// The path templates of google.api.http (AIP-127):
//
//   Template = "/" Segments [ ":" Verb ]
//   Segment  = "*" | "**" | LITERAL | "{" FieldPath [ "=" Segments ] "}"
//
// `{name}` is `{name=*}`; "**" matches the rest of the path and may only come
// last. No I/O here.

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace samplan::gateway {

// A request field bound from the path: its dotted field path and the value.
struct PathBinding {
  std::string field_path;
  std::string value;
};

class PathTemplate {
 public:
  // Parses `text`; INVALID_ARGUMENT saying what is wrong with it.
  static absl::StatusOr<PathTemplate> Parse(absl::string_view text);

  // Returns the bindings of the variables when `path` (without the query, still
  // percent-encoded) matches, or nothing.
  std::optional<std::vector<PathBinding>> Match(absl::string_view path) const;

  const std::string& text() const { return text_; }
  const std::string& verb() const { return verb_; }
  // The dotted field paths of the variables, in order.
  std::vector<std::string> FieldPaths() const;
  // The number of literal segments: of two templates that match one path, the
  // one with more literals is the more specific.
  int LiteralCount() const;

 private:
  enum class Kind { kLiteral, kWildcard, kDoubleWildcard };
  struct Segment {
    Kind kind;
    std::string literal;
  };
  struct Variable {
    std::string field_path;
    size_t begin;  // first segment
    size_t end;    // one past the last segment
  };

  std::string text_;
  std::vector<Segment> segments_;
  std::vector<Variable> variables_;
  std::string verb_;
};

// Decodes %XX escapes; nothing when an escape is malformed.
std::optional<std::string> PercentDecode(absl::string_view text);

}  // namespace samplan::gateway

#endif  // SAMPLAN_SERVICES_GATEWAY_PATH_TEMPLATE_H_
