#ifndef SAMPLAN_SERVICES_PLACEMENT_ORGANIZATION_NUMBER_H_
#define SAMPLAN_SERVICES_PLACEMENT_ORGANIZATION_NUMBER_H_

// Swedish organisationsnummer: the number every employer in the bank is known
// by.

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"

namespace samplan::placement {

// A checked organisationsnummer.
struct OrganizationNumber {
  // "NNNNNN-NNNN", ten digits with the hyphen after the sixth.
  std::string canonical;
  // Whether it is a sole trader's (enskild firma) personnummer rather than a
  // legal entity's number.
  bool sole_trader = false;
};

// Parses `text` (surrounding whitespace ignored) written as NNNNNNNNNN,
// NNNNNN-NNNN, or with the prefix 16 (16NNNNNNNNNN, 16NNNNNN-NNNN), and checks
// it:
//   - the last digit is the Luhn check digit of the nine before it;
//   - a legal entity's third digit (the "month" position) is 2 or more;
//   - a number whose third digit is 0 or 1 is a personnummer, which is a sole
//     trader's organisationsnummer: it must be one that Skatteverket could have
//     issued by `today` (a real date of birth, not in the future), and it may
//     also be written with the century (19/20) instead of 16.
// Returns INVALID_ARGUMENT with a short reason that never repeats the number,
// which for a sole trader is a personal identity number.
absl::StatusOr<OrganizationNumber> ParseOrganizationNumber(absl::string_view text,
                                                           absl::CivilDay today);

}  // namespace samplan::placement

#endif  // SAMPLAN_SERVICES_PLACEMENT_ORGANIZATION_NUMBER_H_
