#ifndef SAMPLAN_FUZZ_FUZZ_SUPPORT_H_
#define SAMPLAN_FUZZ_FUZZ_SUPPORT_H_

// What the fuzz targets share: a check that stops the run (a libFuzzer crash, with
// the input kept) when a property of the code under test does not hold, and the
// properties every validator keeps.

#include <cstdio>
#include <cstdlib>

#include <google/protobuf/stubs/logging.h>

#include "absl/status/status.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "common/status.h"

// Aborts, naming the property, when `condition` is false: libFuzzer reports it as
// a crash and writes the input that broke it.
#define FUZZ_CHECK(condition)                                                       \
  do {                                                                              \
    if (!(condition)) {                                                             \
      std::fprintf(stderr, "%s:%d: property does not hold: %s\n", __FILE__, __LINE__, \
                   #condition);                                                     \
      std::abort();                                                                 \
    }                                                                               \
  } while (0)

namespace samplan::fuzz {

// Protobuf's parser logs every string field that is not UTF-8; fuzzed inputs
// are full of them, and the writing would take most of the run.
inline const bool kProtobufQuiet = (google::protobuf::SetLogHandler(nullptr), true);

// A fixed "now" (2026-06-15 10:00 UTC), so an input means the same on every run.
inline absl::Time FixedNow() {
  return absl::FromCivil(absl::CivilSecond(2026, 6, 15, 10, 0, 0), absl::UTCTimeZone());
}

// The rule every validator keeps: a refused request is INVALID_ARGUMENT naming
// at least one field (or another specific code), never a crash, and the answer
// converts to what goes on the wire.
inline void CheckRefusal(const absl::Status& status) {
  if (status.code() == absl::StatusCode::kInvalidArgument) {
    FUZZ_CHECK(!samplan::FieldViolationsOf(status).empty());
  }
  (void)samplan::ToGrpcStatus(status, "fuzz");
}

}  // namespace samplan::fuzz

#endif  // SAMPLAN_FUZZ_FUZZ_SUPPORT_H_
