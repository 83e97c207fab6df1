#include "common/text.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <google/protobuf/reflection.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace samplan {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

constexpr char kNulMessage[] =
    "must not contain the NUL character (U+0000): it cannot be stored";

void Walk(const Message& message, const std::string& prefix, FieldViolations& violations) {
  const Reflection* reflection = message.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  reflection->ListFields(message, &fields);  // only fields that are set: cheap
  std::string scratch;
  for (const FieldDescriptor* field : fields) {
    const std::string path = prefix.empty() ? field->name() : absl::StrCat(prefix, ".", field->name());
    const bool text = field->type() == FieldDescriptor::TYPE_STRING;
    const bool nested = field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE;
    if (!text && !nested) continue;
    if (field->is_repeated()) {
      const int n = reflection->FieldSize(message, field);
      for (int i = 0; i < n; ++i) {
        const std::string item = absl::StrCat(path, "[", i, "]");
        if (text) {
          const std::string& value =
              reflection->GetRepeatedStringReference(message, field, i, &scratch);
          if (value.find('\0') != std::string::npos) violations.Add(item, kNulMessage);
        } else {
          Walk(reflection->GetRepeatedMessage(message, field, i), item, violations);
        }
      }
    } else if (text) {
      const std::string& value = reflection->GetStringReference(message, field, &scratch);
      if (value.find('\0') != std::string::npos) violations.Add(path, kNulMessage);
    } else {
      Walk(reflection->GetMessage(message, field), path, violations);
    }
  }
}

}  // namespace

absl::Status CheckNoNulCharacters(const Message& message) {
  FieldViolations violations;
  Walk(message, "", violations);
  return violations.ToStatus();
}

}  // namespace samplan
