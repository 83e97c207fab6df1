#ifndef SAMPLAN_COMMON_PAGING_H_
#define SAMPLAN_COMMON_PAGING_H_

// Pagination, the same in every service (AIP-158):
//
// - `page_size` 0 means the call's default; above the call's maximum it is
//   lowered to the maximum (the answer simply holds fewer); negative is refused,
//   naming `page_size`.
// - A page token is opaque: it holds where the page ended (keyset, never an
//   offset: rows added or removed meanwhile neither repeat nor vanish) and a
//   fingerprint of the filters it was made for. Sent with other filters, or not
//   one this API made, it is refused naming `page_token`.
// - A call reads `size + 1` rows; the extra one says whether a next page exists.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace samplan {

struct PageSizeRule {
  int32_t default_size = 25;
  int32_t max_size = 100;
};

// Returns the page size to use, or INVALID_ARGUMENT naming page_size.
absl::StatusOr<int> PageSizeOf(int32_t requested, PageSizeRule rule = {});

// Returns a token holding `position` (the sort key of the page's last row, one
// string per key column, any characters) bound to `filters` (the request's
// filters, in any fixed textual form).
std::string EncodePageToken(absl::string_view filters, const std::vector<std::string>& position);

// Returns the position held by `token`, which must hold `count` strings and have
// been made for `filters`; INVALID_ARGUMENT naming page_token otherwise.
absl::StatusOr<std::vector<std::string>> DecodePageToken(absl::string_view token,
                                                         absl::string_view filters, size_t count);

// Keeps the first `size` of `rows` (read with a limit of size + 1) and returns
// whether more followed.
template <typename Row>
bool TrimToPage(std::vector<Row>& rows, int size) {
  if (static_cast<int>(rows.size()) <= size) return false;
  rows.resize(static_cast<size_t>(size));
  return true;
}

}  // namespace samplan

#endif  // SAMPLAN_COMMON_PAGING_H_
