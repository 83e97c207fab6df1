#ifndef SAMPLAN_COMMON_IDS_H_
#define SAMPLAN_COMMON_IDS_H_

#include <string>
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

#include <google/protobuf/message.h>

namespace samplan {

// Returns a random (version 4) UUID in its canonical lower-case text form.
std::string NewUuid();

// Returns whether `text` is a canonical lower-case UUID.
bool IsUuid(absl::string_view text);

// Returns whether `id` is a valid id segment of a resource name: 1 to 63
// characters of [A-Za-z0-9_-].
bool IsResourceId(absl::string_view id);

// Returns the id of `name` when it is "<collection>/<id>" with a valid id, or an
// empty string_view otherwise. `collection` is given without the slash.
absl::string_view ResourceId(absl::string_view name, absl::string_view collection);

// Returns whether `name` is "<collection>/<id>" with a valid id.
bool IsResourceName(absl::string_view name, absl::string_view collection);

// Returns the id of `name` "<collection>/{id}" when the id is a UUID (the ids
// the services make up), or INVALID_ARGUMENT naming `field`.
absl::StatusOr<std::string> IdFromName(absl::string_view name, absl::string_view collection,
                                       absl::string_view field);

// Returns whether `code` is a kommunkod: four digits, such as "1885".
bool IsMunicipalityCode(absl::string_view code);

// Returns whether `text` holds anything shaped like a Swedish personal identity
// number or coordination number: ten or twelve digits, or six or eight and four
// with "-" or "+" between, whose date part is a date (day + 60 for a
// coordination number) and whose check digit holds. Text that can carry such a
// number (a request id, which lands in logs and audit records) is refused it.
bool HoldsPersonalIdentityNumber(absl::string_view text);

// Returns the hex SHA-256 of `request`'s deterministic serialization: two calls
// carry the same request exactly when their fingerprints are equal (a retry with a
// reused request id is told from a different request with it).
std::string RequestFingerprint(const google::protobuf::Message& request);

}  // namespace samplan

#endif  // SAMPLAN_COMMON_IDS_H_
