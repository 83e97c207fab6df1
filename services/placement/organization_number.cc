#include "services/placement/organization_number.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "services/identity/personnummer.h"

namespace samplan::placement {
namespace {

absl::Status Invalid(absl::string_view reason) {
  return absl::InvalidArgumentError(absl::StrCat("organization number: ", reason));
}

bool AllDigits(absl::string_view text) {
  for (char c : text) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<OrganizationNumber> ParseOrganizationNumber(absl::string_view text,
                                                           absl::CivilDay today) {
  text = absl::StripAsciiWhitespace(text);
  std::string digits;
  std::string century;
  const size_t hyphen = text.find('-');
  if (hyphen != absl::string_view::npos) {
    // The hyphen goes after the sixth digit of the ten (after the eighth of
    // twelve).
    if (hyphen != text.size() - 5 || text.find('-', hyphen + 1) != absl::string_view::npos) {
      return Invalid("write it NNNNNN-NNNN, with the hyphen before the last four digits");
    }
    digits = absl::StrCat(text.substr(0, hyphen), text.substr(hyphen + 1));
  } else {
    digits = std::string(text);
  }
  if (!AllDigits(digits) || (digits.size() != 10 && digits.size() != 12)) {
    return Invalid("must be 10 digits (or 12 starting with 16)");
  }
  if (digits.size() == 12) {
    century = digits.substr(0, 2);
    digits = digits.substr(2);
    if (century != "16" && century != "19" && century != "20") {
      return Invalid("a 12-digit number starts with 16 (or 19/20 for a sole trader)");
    }
  }
  if (identity::LuhnCheckDigit(absl::string_view(digits).substr(0, 9)) != digits[9]) {
    return Invalid("wrong check digit");
  }
  OrganizationNumber result;
  result.canonical = absl::StrCat(digits.substr(0, 6), "-", digits.substr(6));
  if (digits[2] >= '2') {
    if (century == "19" || century == "20") {
      return Invalid("a legal entity's 12-digit form starts with 16");
    }
    return result;
  }
  // Third digit 0 or 1: a month, so a personnummer — a sole trader.
  if (century == "16") return Invalid("third digit must be 2 or more for a legal entity");
  absl::StatusOr<identity::PersonalIdentityNumber> person =
      identity::ParsePersonalIdentityNumber(absl::StrCat(century, digits), today);
  if (!person.ok()) {
    return Invalid(
        "third digit below 2 makes it a sole trader's personnummer, "
        "and it is not "
        "a valid one");
  }
  result.sole_trader = true;
  return result;
}

}  // namespace samplan::placement
