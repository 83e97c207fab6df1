// Personnummer, samordningsnummer and organisationsnummer as callers write them:
// any text is refused with INVALID_ARGUMENT or accepted, and an accepted number's
// canonical form is accepted again as the same number.

#include <cstddef>
#include <cstdint>
#include <string>

#include <fuzzer/FuzzedDataProvider.h>

#include "absl/strings/ascii.h"
#include "fuzz/fuzz_support.h"
#include "services/identity/personnummer.h"
#include "services/placement/organization_number.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider input(data, size);
  // "Today" anywhere from 1900 to about 2173: the century rules depend on it.
  const absl::CivilDay today =
      absl::CivilDay(1900, 1, 1) + input.ConsumeIntegralInRange<int>(0, 100000);
  const std::string text = input.ConsumeRemainingBytesAsString();

  absl::StatusOr<samplan::identity::PersonalIdentityNumber> person =
      samplan::identity::ParsePersonalIdentityNumber(text, today);
  if (person.ok()) {
    FUZZ_CHECK(person->canonical.size() == 12);
    for (char c : person->canonical) FUZZ_CHECK(absl::ascii_isdigit(static_cast<unsigned char>(c)));
    FUZZ_CHECK(person->birth_date <= today);
    auto again = samplan::identity::ParsePersonalIdentityNumber(person->canonical, today);
    FUZZ_CHECK(again.ok());
    FUZZ_CHECK(again->canonical == person->canonical);
    FUZZ_CHECK(again->birth_date == person->birth_date);
    FUZZ_CHECK(again->coordination_number == person->coordination_number);
  } else {
    FUZZ_CHECK(person.status().code() == absl::StatusCode::kInvalidArgument);
  }

  absl::StatusOr<samplan::placement::OrganizationNumber> organization =
      samplan::placement::ParseOrganizationNumber(text, today);
  if (organization.ok()) {
    FUZZ_CHECK(organization->canonical.size() == 11);
    FUZZ_CHECK(organization->canonical[6] == '-');
    auto again = samplan::placement::ParseOrganizationNumber(organization->canonical, today);
    FUZZ_CHECK(again.ok());
    FUZZ_CHECK(again->canonical == organization->canonical);
  } else {
    FUZZ_CHECK(organization.status().code() == absl::StatusCode::kInvalidArgument);
  }

  const std::string digits = text.substr(0, 32);
  bool all_digits = !digits.empty();
  for (char c : digits) all_digits &= absl::ascii_isdigit(static_cast<unsigned char>(c));
  if (all_digits) {
    const char check = samplan::identity::LuhnCheckDigit(digits);
    FUZZ_CHECK(check >= '0' && check <= '9');
  }
  return 0;
}
