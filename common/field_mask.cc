#include "common/field_mask.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status.h"
#include "google/protobuf/util/field_mask_util.h"
#include "google/protobuf/util/message_differencer.h"

namespace samplan {
namespace {

bool Contains(const std::vector<std::string>& list, const std::string& value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

std::string Named(const std::vector<std::string>& names) {
  if (names.size() <= 1) return absl::StrJoin(names, "");
  return absl::StrCat(absl::StrJoin(names.begin(), names.end() - 1, ", "), " and ", names.back());
}

}  // namespace

absl::StatusOr<std::vector<std::string>> ResolveUpdateMask(
    const google::protobuf::FieldMask& mask, const google::protobuf::Descriptor& type,
    const UpdatableFields& fields) {
  if (mask.paths().empty()) {
    return InvalidField("update_mask", "is required: name the fields to change, or \"*\" for all");
  }
  FieldViolations v;
  std::vector<std::string> wanted;
  for (const std::string& path : mask.paths()) {
    if (path == "*") {
      if (mask.paths_size() != 1) {
        v.Add("update_mask", "\"*\" stands alone: it already names every field");
      }
      wanted = fields.updatable;
    } else if (Contains(fields.updatable, path)) {
      wanted.push_back(path);
    } else if (Contains(fields.output_only, path)) {
      continue;  // set by the server; ignored (AIP-203)
    } else if (type.FindFieldByName(path) != nullptr) {
      v.Add("update_mask", absl::StrCat("\"", path, "\" cannot be changed; the fields that can are ",
                                        Named(fields.updatable)));
    } else {
      v.Add("update_mask", absl::StrCat("\"", path, "\" is not a field of ", type.name()));
    }
  }
  if (!v.empty()) return v.ToStatus();
  std::vector<std::string> paths;
  for (const std::string& field : fields.updatable) {
    if (Contains(wanted, field)) paths.push_back(field);
  }
  return paths;  // empty when the mask named only output-only fields: no change
}

void ApplyUpdateMask(const google::protobuf::Message& patch, const std::vector<std::string>& paths,
                     google::protobuf::Message& target) {
  google::protobuf::FieldMask mask;
  for (const std::string& path : paths) mask.add_paths(path);
  google::protobuf::util::FieldMaskUtil::MergeOptions options;
  options.set_replace_message_fields(true);
  options.set_replace_repeated_fields(true);
  google::protobuf::util::FieldMaskUtil::MergeMessageTo(patch, mask, options, &target);
}

std::vector<std::string> ChangedFields(const google::protobuf::Message& before,
                                       const google::protobuf::Message& after,
                                       const std::vector<std::string>& paths) {
  std::vector<std::string> changed;
  google::protobuf::util::MessageDifferencer differencer;
  for (const std::string& path : paths) {
    const google::protobuf::FieldDescriptor* field = before.GetDescriptor()->FindFieldByName(path);
    if (field == nullptr || !differencer.CompareWithFields(before, after, {field}, {field})) {
      changed.push_back(path);
    }
  }
  return changed;
}

}  // namespace samplan
