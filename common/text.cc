#include "common/text.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <google/protobuf/reflection.h>

#include <string>
#include <vector>

#include "absl/strings/ascii.h"
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

size_t CharacterCount(absl::string_view text) {
  size_t count = 0;
  // Every byte but a UTF-8 continuation byte (10xxxxxx) starts a character.
  for (unsigned char c : text) count += (c & 0xC0) != 0x80;
  return count;
}

void CheckTextLength(FieldViolations& violations, const std::string& field,
                     absl::string_view text, size_t min, size_t max) {
  const size_t count = CharacterCount(text);
  if (min > 0 && absl::StripAsciiWhitespace(text).empty()) {
    violations.Add(field, "is required");
  } else if (count < min) {
    violations.Add(field, absl::StrCat("must be at least ", min, " characters"));
  } else if (count > max) {
    violations.Add(field, absl::StrCat("must be at most ", max, " characters"));
  }
}

absl::Status CheckNoNulCharacters(const Message& message) {
  FieldViolations violations;
  Walk(message, "", violations);
  return violations.ToStatus();
}

}  // namespace samplan
