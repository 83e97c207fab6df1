#ifndef SAMPLAN_SERVICES_IDENTITY_PERSONNUMMER_H_
#define SAMPLAN_SERVICES_IDENTITY_PERSONNUMMER_H_

// Swedish personal identity numbers (personnummer) and coordination numbers
// (samordningsnummer): parsing the forms people write them in, checking them, and
// the one canonical form everything else stores and compares.
//
// A personal identity number is personal data: no error message here contains
// the number or any part of it, so that a rejected number does not end up in a
// log line or an answer to another system.

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"

namespace samplan::identity {

// A checked personal identity number or coordination number.
struct PersonalIdentityNumber {
  // YYYYMMDDNNNC, twelve digits without separator. For a coordination number the
  // day is the written one (real day + 60): that is the number, not the date.
  std::string canonical;
  // The date of birth; for a coordination number the real day (written day − 60).
  absl::CivilDay birth_date;
  bool coordination_number = false;
};

// Parses `text` written as YYYYMMDDNNNC, YYYYMMDD-NNNC, YYMMDDNNNC, YYMMDD-NNNC or
// YYMMDD+NNNC (surrounding whitespace is ignored), and checks it:
//   - the date is a real calendar date; a day of 61 to 91 marks a coordination
//     number, whose real day is the written day − 60;
//   - the date of birth is not after `today` and not before 1800;
//   - the last digit is the Luhn check digit of the ten digits YYMMDDNNN.
// The ten-digit forms leave the century out. Without a separator or with '-', the
// century is the one that puts the date of birth on or before `today`, at most
// 100 years back. With '+' (which Skatteverket writes from the year a person turns
// 100) it is the latest century whose year is at least 100 years before
// `today`'s year.
// Returns INVALID_ARGUMENT with a short reason ("not 10 or 12 digits ...", "no
// such date", "date in the future", "wrong check digit", ...) that never contains
// the number.
absl::StatusOr<PersonalIdentityNumber> ParsePersonalIdentityNumber(absl::string_view text,
                                                                   absl::CivilDay today);

// Returns the Luhn check digit ('0' to '9') of `digits`, which must be all
// decimal digits: the digit that makes the weighted sum, with weights 2, 1, 2, ...
// from the left, a multiple of ten. Exposed for tests that make valid numbers.
char LuhnCheckDigit(absl::string_view digits);

}  // namespace samplan::identity

#endif  // SAMPLAN_SERVICES_IDENTITY_PERSONNUMMER_H_
