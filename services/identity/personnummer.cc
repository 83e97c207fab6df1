#include "services/identity/personnummer.h"

#include <tuple>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"

namespace samplan::identity {
namespace {

// Personal identity numbers were introduced in 1947 for everyone alive then; an
// earlier date of birth than this is a typo, not a person.
constexpr int kEarliestBirthYear = 1800;
// A coordination number is written with its day plus this.
constexpr int kCoordinationDayOffset = 60;

bool AllDigits(absl::string_view text) {
  for (char c : text) {
    if (!absl::ascii_isdigit(c)) return false;
  }
  return true;
}

int Number(absl::string_view digits) {
  int n = 0;
  for (char c : digits) n = n * 10 + (c - '0');
  return n;
}

absl::Status Invalid(absl::string_view reason) { return absl::InvalidArgumentError(reason); }

// Returns the largest year <= `at_most` whose last two digits are `yy`.
int64_t LatestYearEndingIn(int yy, int64_t at_most) {
  int64_t back = (at_most - yy) % 100;
  if (back < 0) back += 100;
  return at_most - back;
}

}  // namespace

char LuhnCheckDigit(absl::string_view digits) {
  int sum = 0;
  // The digit next to the check digit is doubled, then every second one leftwards.
  bool twice = true;
  for (auto it = digits.rbegin(); it != digits.rend(); ++it) {
    int d = *it - '0';
    if (twice) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    twice = !twice;
  }
  return static_cast<char>('0' + (10 - sum % 10) % 10);
}

absl::StatusOr<PersonalIdentityNumber> ParsePersonalIdentityNumber(absl::string_view text,
                                                                   absl::CivilDay today) {
  text = absl::StripAsciiWhitespace(text);

  // Split into the date part, the separator ('-' when none) and the last four.
  absl::string_view date_part;
  absl::string_view last_four;
  char separator = '-';
  switch (text.size()) {
    case 12:
    case 10:
      date_part = text.substr(0, text.size() - 4);
      last_four = text.substr(text.size() - 4);
      break;
    case 13:
    case 11:
      date_part = text.substr(0, text.size() - 5);
      separator = text[text.size() - 5];
      last_four = text.substr(text.size() - 4);
      break;
    default:
      break;
  }
  if (date_part.empty() || !AllDigits(date_part) || !AllDigits(last_four) ||
      (separator != '-' && separator != '+')) {
    return Invalid("not 10 or 12 digits as YYYYMMDD-NNNC or YYMMDD-NNNC");
  }
  const bool full_year = date_part.size() == 8;
  if (full_year && separator == '+') {
    // The '+' stands in for the century, which the twelve-digit form spells out.
    return Invalid("'+' is written only in the ten-digit form YYMMDD+NNNC");
  }

  absl::string_view yymmdd = date_part.substr(date_part.size() - 6);
  const int yy = Number(yymmdd.substr(0, 2));
  const int month = Number(yymmdd.substr(2, 2));
  const int written_day = Number(yymmdd.substr(4, 2));
  const bool coordination = written_day > kCoordinationDayOffset;
  const int day = coordination ? written_day - kCoordinationDayOffset : written_day;

  int64_t year;
  if (full_year) {
    year = Number(date_part.substr(0, 4));
  } else if (separator == '+') {
    year = LatestYearEndingIn(yy, today.year() - 100);
  } else {
    year = LatestYearEndingIn(yy, today.year());
    // Compare as numbers, before the date is known to exist: whether 29 February
    // exists depends on the century chosen here.
    if (std::make_tuple(year, month, day) >
        std::make_tuple(today.year(), today.month(), today.day())) {
      year -= 100;
    }
  }

  // CivilDay normalizes 30 February to 2 March; a date that changes is no date.
  const absl::CivilDay birth_date(year, month, day);
  if (month < 1 || month > 12 || day < 1 || birth_date.year() != year ||
      birth_date.month() != month || birth_date.day() != day) {
    return Invalid("no such date");
  }
  if (birth_date > today) return Invalid("date in the future");
  if (year < kEarliestBirthYear) return Invalid("date too far in the past");

  const std::string check_input = absl::StrCat(yymmdd, last_four.substr(0, 3));
  if (LuhnCheckDigit(check_input) != last_four[3]) return Invalid("wrong check digit");

  PersonalIdentityNumber result;
  result.canonical = absl::StrFormat("%04d%s%s", year, yymmdd.substr(2), last_four);
  result.birth_date = birth_date;
  result.coordination_number = coordination;
  return result;
}

}  // namespace samplan::identity
