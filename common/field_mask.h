#ifndef SAMPLAN_COMMON_FIELD_MASK_H_
#define SAMPLAN_COMMON_FIELD_MASK_H_

// Update masks, the same in every service (AIP-134, AIP-203):
//
// - The mask is required: an update names what it changes. "*" alone means every
//   field the caller may change.
// - A path of an output-only field (name, version, etag, times, ...) is ignored:
//   tools that build a mask from a diff of the whole resource include them. A
//   mask of nothing else changes nothing.
// - A path of a field that exists but cannot be changed, or of no field at all,
//   is refused, each as a violation of `update_mask` that says which.
// - A field in the mask is replaced whole by the request's value: a message or
//   list the request leaves empty becomes empty, a scalar becomes the request's.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/field_mask.pb.h"
#include "google/protobuf/message.h"

namespace samplan {

struct UpdatableFields {
  // Top-level fields a caller may change, in the order they are named to callers.
  std::vector<std::string> updatable;
  // Top-level fields the server sets, ignored in a mask.
  std::vector<std::string> output_only;
};

// Returns the fields to change (in the order of `fields.updatable`, without
// duplicates; none when the mask names only output-only fields), or
// INVALID_ARGUMENT naming update_mask.
absl::StatusOr<std::vector<std::string>> ResolveUpdateMask(
    const google::protobuf::FieldMask& mask, const google::protobuf::Descriptor& type,
    const UpdatableFields& fields);

// Replaces each of `paths` (top-level fields, as ResolveUpdateMask returns them)
// in `target` with its value in `patch`; both are of one type.
void ApplyUpdateMask(const google::protobuf::Message& patch, const std::vector<std::string>& paths,
                     google::protobuf::Message& target);

// Returns `current` with the fields `mask` names taken whole from `patch`, by the
// rule above; INVALID_ARGUMENT naming update_mask for a mask it refuses.
template <typename Message>
absl::StatusOr<Message> ApplyMaskedUpdate(const Message& current, const Message& patch,
                                          const google::protobuf::FieldMask& mask,
                                          const UpdatableFields& fields) {
  absl::StatusOr<std::vector<std::string>> paths =
      ResolveUpdateMask(mask, *Message::descriptor(), fields);
  if (!paths.ok()) return paths.status();
  Message next = current;
  ApplyUpdateMask(patch, *paths, next);
  return next;
}

// Returns those of `paths` (top-level fields) whose value differs between
// `before` and `after`, both of one type, in the order of `paths`: what an
// update changed, for its revision and its event.
std::vector<std::string> ChangedFields(const google::protobuf::Message& before,
                                       const google::protobuf::Message& after,
                                       const std::vector<std::string>& paths);

}  // namespace samplan

#endif  // SAMPLAN_COMMON_FIELD_MASK_H_
