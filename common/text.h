#ifndef SAMPLAN_COMMON_TEXT_H_
#define SAMPLAN_COMMON_TEXT_H_

// The rules for text that callers send, the same in every service:
//
// - Lengths count characters (Unicode code points), not bytes: "Åsa" is three.
//   A required text must hold more than white space.
// - PostgreSQL's text cannot hold a NUL character, and libpq would cut a value at
//   one without a word; so a NUL anywhere in a request's strings is refused,
//   naming the field, before anything is stored.
// - Invalid UTF-8 never gets this far: protobuf refuses it while parsing, and the
//   server answers INVALID_ARGUMENT (common/call.h).

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/status.h"

namespace google::protobuf {
class Message;
}  // namespace google::protobuf

namespace samplan {

// Returns the number of characters (code points) of the UTF-8 `text`.
size_t CharacterCount(absl::string_view text);

// Adds a violation of `field` unless `text` holds from `min` to `max` characters;
// with `min` above 0, a text of nothing but white space is "required".
void CheckTextLength(FieldViolations& violations, const std::string& field,
                     absl::string_view text, size_t min, size_t max);

// Returns OK, or INVALID_ARGUMENT with a field violation for every string field of
// `message` (nested messages and repeated fields included, as a path such as
// "plan.notes[2].text") that holds a NUL character.
absl::Status CheckNoNulCharacters(const google::protobuf::Message& message);

}  // namespace samplan

#endif  // SAMPLAN_COMMON_TEXT_H_
