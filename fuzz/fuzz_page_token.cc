// Page tokens (common/paging.h): whatever a caller sends as page_token is refused
// naming page_token or decoded to the number of key columns asked for, and a
// token this API made decodes to the position it holds, for any characters in
// the keys and the filters.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <fuzzer/FuzzedDataProvider.h>

#include "common/paging.h"
#include "fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider input(data, size);
  const size_t count = input.ConsumeIntegralInRange<size_t>(0, 4);
  const std::string filters = input.ConsumeRandomLengthString(64);
  std::vector<std::string> position;
  for (size_t i = 0; i < count; ++i) position.push_back(input.ConsumeRandomLengthString(64));
  const int32_t page_size = input.ConsumeIntegral<int32_t>();
  const std::string sent = input.ConsumeRemainingBytesAsString();

  // A token from elsewhere.
  absl::StatusOr<std::vector<std::string>> decoded =
      samplan::DecodePageToken(sent, filters, count);
  if (decoded.ok()) {
    FUZZ_CHECK(decoded->size() == count);
  } else {
    FUZZ_CHECK(decoded.status().code() == absl::StatusCode::kInvalidArgument);
    const auto violations = samplan::FieldViolationsOf(decoded.status());
    FUZZ_CHECK(violations.size() == 1 && violations[0].first == "page_token");
  }

  // A token of ours, sent back with the same filters, then with others.
  const std::string token = samplan::EncodePageToken(filters, position);
  absl::StatusOr<std::vector<std::string>> back = samplan::DecodePageToken(token, filters, count);
  FUZZ_CHECK(back.ok());
  FUZZ_CHECK(*back == position);
  FUZZ_CHECK(!samplan::DecodePageToken(token, filters, count + 1).ok());

  absl::StatusOr<int> size_used = samplan::PageSizeOf(page_size);
  FUZZ_CHECK(size_used.ok() == (page_size >= 0));
  if (size_used.ok()) FUZZ_CHECK(*size_used > 0 && *size_used <= 100);
  return 0;
}
