#ifndef SAMPLAN_COMMON_TEXT_H_
#define SAMPLAN_COMMON_TEXT_H_

// The rule for text that callers send, the same in every service. PostgreSQL's
// text cannot hold a NUL character, and libpq would cut a value at one without a
// word; so a NUL anywhere in a request's strings is refused, naming the field,
// before anything is stored. (Invalid UTF-8 never gets this far: protobuf refuses
// it while parsing, see common/server.cc.)

#include "absl/status/status.h"

namespace google::protobuf {
class Message;
}  // namespace google::protobuf

namespace samplan {

// Returns OK, or INVALID_ARGUMENT with a field violation for every string field of
// `message` (nested messages and repeated fields included, as a path such as
// "plan.notes[2].text") that holds a NUL character.
absl::Status CheckNoNulCharacters(const google::protobuf::Message& message);

}  // namespace samplan

#endif  // SAMPLAN_COMMON_TEXT_H_
