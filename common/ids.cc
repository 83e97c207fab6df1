#include "common/ids.h"

#include <algorithm>

#include <openssl/sha.h>

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/status.h"

#include <openssl/rand.h>

#include <array>
#include <cstdint>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/match.h"
#include "absl/strings/str_format.h"

namespace samplan {

std::string NewUuid() {
  std::array<uint8_t, 16> b;
  if (RAND_bytes(b.data(), b.size()) != 1) {
    // OpenSSL's generator does not fail once seeded; stop rather than hand out a
    // predictable id.
    std::abort();
  }
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  return absl::StrFormat(
      "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
      b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
      b[14], b[15]);
}

bool IsUuid(absl::string_view text) {
  if (text.size() != 36) return false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!absl::ascii_isdigit(c) && !(c >= 'a' && c <= 'f')) {
      return false;
    }
  }
  return true;
}

bool IsResourceId(absl::string_view id) {
  if (id.empty() || id.size() > 63) return false;
  for (char c : id) {
    if (!absl::ascii_isalnum(c) && c != '-' && c != '_') return false;
  }
  return true;
}

absl::string_view ResourceId(absl::string_view name, absl::string_view collection) {
  if (name.size() <= collection.size() + 1 || !absl::StartsWith(name, collection) ||
      name[collection.size()] != '/') {
    return {};
  }
  absl::string_view id = name.substr(collection.size() + 1);
  return IsResourceId(id) ? id : absl::string_view();
}

std::string RequestFingerprint(const google::protobuf::Message& request) {
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream output(&bytes);
    google::protobuf::io::CodedOutputStream coded(&output);
    coded.SetSerializationDeterministic(true);
    request.SerializeToCodedStream(&coded);
  }
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), digest);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), sizeof digest));
}

bool IsResourceName(absl::string_view name, absl::string_view collection) {
  return !ResourceId(name, collection).empty();
}

namespace {

// `ten`: YYMMDDNNNC. A date (day or day + 60) and the Luhn check digit.
bool IsIdentityNumberShape(absl::string_view ten) {
  auto number = [&](size_t at) { return (ten[at] - '0') * 10 + (ten[at + 1] - '0'); };
  const int month = number(2);
  const int day = number(4);
  if (month < 1 || month > 12) return false;
  if (!((day >= 1 && day <= 31) || (day >= 61 && day <= 91))) return false;
  int sum = 0;
  for (size_t i = 0; i < 10; ++i) {
    int digit = (ten[i] - '0') * (i % 2 == 0 ? 2 : 1);
    sum += digit > 9 ? digit - 9 : digit;
  }
  return sum % 10 == 0;
}

}  // namespace

bool HoldsPersonalIdentityNumber(absl::string_view text) {
  // The maximal runs of digits, in order, with where each ends.
  std::vector<std::pair<size_t, size_t>> runs;  // (start, length)
  for (size_t i = 0; i < text.size();) {
    if (!absl::ascii_isdigit(text[i])) {
      ++i;
      continue;
    }
    size_t end = i;
    while (end < text.size() && absl::ascii_isdigit(text[end])) ++end;
    runs.emplace_back(i, end - i);
    i = end;
  }
  for (size_t r = 0; r < runs.size(); ++r) {
    const auto [start, length] = runs[r];
    if (length == 10 || length == 12) {
      if (IsIdentityNumberShape(text.substr(start + length - 10, 10))) return true;
    }
    if ((length == 6 || length == 8) && r + 1 < runs.size()) {
      const auto [next_start, next_length] = runs[r + 1];
      const size_t separator = start + length;
      if (next_start == separator + 1 && next_length == 4 &&
          (text[separator] == '-' || text[separator] == '+')) {
        const std::string ten = absl::StrCat(text.substr(start + length - 6, 6),
                                             text.substr(next_start, 4));
        if (IsIdentityNumberShape(ten)) return true;
      }
    }
  }
  return false;
}

bool IsMunicipalityCode(absl::string_view code) {
  return code.size() == 4 &&
         std::all_of(code.begin(), code.end(), [](char c) { return absl::ascii_isdigit(c); });
}

absl::StatusOr<std::string> IdFromName(absl::string_view name, absl::string_view collection,
                                       absl::string_view field) {
  const absl::string_view id = ResourceId(name, collection);
  if (id.empty() || !IsUuid(id)) {
    return InvalidField(std::string(field),
                        absl::StrCat("must be a name of the form ", collection, "/{id}"));
  }
  return std::string(id);
}

}  // namespace samplan
