// Tier 1: parsing and checking personal identity numbers.
//
// No real person's number appears here: 19811218-9876 is Skatteverket's
// well-known example, and the others are made up with a computed check digit.

#include "services/identity/personnummer.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace samplan::identity {
namespace {

const absl::CivilDay kToday(2025, 6, 15);

// Returns the ten-digit YYMMDDNNNC for `yymmdd` and `nnn`, with its check digit.
std::string Ten(absl::string_view yymmdd, absl::string_view nnn = "123") {
  const std::string nine = absl::StrCat(yymmdd, nnn);
  return absl::StrCat(nine, std::string(1, LuhnCheckDigit(nine)));
}

// Returns YYMMDD<separator>NNNC.
std::string TenWith(char separator, absl::string_view yymmdd, absl::string_view nnn = "123") {
  const std::string ten = Ten(yymmdd, nnn);
  return absl::StrCat(ten.substr(0, 6), std::string(1, separator), ten.substr(6));
}

// Returns the twelve-digit YYYYMMDDNNNC for `yyyymmdd` and `nnn`.
std::string Twelve(absl::string_view yyyymmdd, absl::string_view nnn = "123") {
  return absl::StrCat(yyyymmdd.substr(0, 2), Ten(yyyymmdd.substr(2), nnn));
}

absl::StatusOr<PersonalIdentityNumber> Parse(absl::string_view text,
                                             absl::CivilDay today = kToday) {
  return ParsePersonalIdentityNumber(text, today);
}

void ExpectInvalid(absl::string_view text, absl::string_view reason,
                   absl::CivilDay today = kToday) {
  auto parsed = Parse(text, today);
  ASSERT_FALSE(parsed.ok()) << "accepted: " << text;
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << text;
  EXPECT_TRUE(absl::StrContains(parsed.status().message(), reason))
      << text << " gave " << parsed.status();
}

TEST(LuhnCheckDigitTest, MatchesKnownExamples) {
  EXPECT_EQ(LuhnCheckDigit("811218987"), '6');  // Skatteverket's 811218-9876
  EXPECT_EQ(LuhnCheckDigit("640823323"), '4');  // the textbook 640823-3234
  EXPECT_EQ(LuhnCheckDigit("000000000"), '0');
}

TEST(ParsePersonalIdentityNumberTest, AcceptsEveryWrittenForm) {
  for (const char* text : {"198112189876", "19811218-9876", "8112189876", "811218-9876",
                           "  19811218-9876\n"}) {
    auto parsed = Parse(text);
    ASSERT_TRUE(parsed.ok()) << text << ": " << parsed.status();
    EXPECT_EQ(parsed->canonical, "198112189876") << text;
    EXPECT_EQ(parsed->birth_date, absl::CivilDay(1981, 12, 18)) << text;
    EXPECT_FALSE(parsed->coordination_number) << text;
  }
}

TEST(ParsePersonalIdentityNumberTest, AcceptsMadeUpValidNumbers) {
  for (const std::string& text :
       {Twelve("20010101", "000"), Twelve("19500630", "999"), Twelve("20250615", "481")}) {
    auto parsed = Parse(text);
    ASSERT_TRUE(parsed.ok()) << text << ": " << parsed.status();
    EXPECT_EQ(parsed->canonical, text);
  }
}

TEST(ParsePersonalIdentityNumberTest, RejectsEveryWrongCheckDigit) {
  for (char digit = '0'; digit <= '9'; ++digit) {
    if (digit == '6') continue;
    ExpectInvalid(absl::StrCat("19811218-987", std::string(1, digit)), "wrong check digit");
    ExpectInvalid(absl::StrCat("811218987", std::string(1, digit)), "wrong check digit");
  }
}

TEST(ParsePersonalIdentityNumberTest, RejectsATypoAnywhere) {
  const std::string valid = Twelve("19811218", "987");
  for (size_t i = 2; i < valid.size() - 1; ++i) {
    std::string typo = valid;
    typo[i] = typo[i] == '9' ? '8' : static_cast<char>(typo[i] + 1);
    EXPECT_FALSE(Parse(typo).ok()) << "position " << i;
  }
}

TEST(ParsePersonalIdentityNumberTest, RejectsDatesThatDoNotExist) {
  for (const char* date : {"20230230", "20230431", "20231301", "20230001", "20230100",
                           "20230132", "20230145", "20230160"}) {
    ExpectInvalid(Twelve(date), "no such date");
  }
  ExpectInvalid(Ten("230230"), "no such date");
}

TEST(ParsePersonalIdentityNumberTest, KnowsLeapYears) {
  auto leap = Parse(Twelve("20240229"));
  ASSERT_TRUE(leap.ok()) << leap.status();
  EXPECT_EQ(leap->birth_date, absl::CivilDay(2024, 2, 29));
  ExpectInvalid(Twelve("20230229"), "no such date");
  ExpectInvalid(Twelve("19000229"), "no such date");  // divisible by 100, not by 400
  EXPECT_TRUE(Parse(Twelve("20000229")).ok());        // divisible by 400
  // Ten digits: the century decides. 2000 had 29 February; 1900 had not.
  auto short_form = Parse(TenWith('-', "000229"));
  ASSERT_TRUE(short_form.ok()) << short_form.status();
  EXPECT_EQ(short_form->birth_date, absl::CivilDay(2000, 2, 29));
  ExpectInvalid(TenWith('+', "000229"), "no such date");
}

TEST(ParsePersonalIdentityNumberTest, AcceptsCoordinationNumbers) {
  // Born 18 December 1981, written with day 18 + 60 = 78.
  for (const std::string& text : {Twelve("19811278"), Ten("811278"), TenWith('-', "811278")}) {
    auto parsed = Parse(text);
    ASSERT_TRUE(parsed.ok()) << text << ": " << parsed.status();
    EXPECT_TRUE(parsed->coordination_number);
    EXPECT_EQ(parsed->birth_date, absl::CivilDay(1981, 12, 18));
    EXPECT_EQ(parsed->canonical, Twelve("19811278"));  // the written day stays
  }
  EXPECT_TRUE(Parse(Twelve("19810161"))->coordination_number);  // day 1
  EXPECT_TRUE(Parse(Twelve("19810191")).ok());                  // day 31
  ExpectInvalid(Twelve("19810231" /*31 February*/), "no such date");
  ExpectInvalid(Twelve("19810291" /*31 February*/), "no such date");
  ExpectInvalid(Twelve("19810192" /*32 January*/), "no such date");
  ExpectInvalid(Twelve("20230289" /*29 February 2023*/), "no such date");
  EXPECT_TRUE(Parse(Twelve("20240289" /*29 February 2024*/)).ok());
}

TEST(ParsePersonalIdentityNumberTest, PlusMeansAHundredOrOlder) {
  auto old = Parse(TenWith('+', "120315"));
  ASSERT_TRUE(old.ok()) << old.status();
  EXPECT_EQ(old->birth_date, absl::CivilDay(1912, 3, 15));
  EXPECT_EQ(old->canonical, Twelve("19120315"));
  // The same digits with '-' are a child.
  EXPECT_EQ(Parse(TenWith('-', "120315"))->birth_date, absl::CivilDay(2012, 3, 15));
  // Skatteverket writes '+' from the start of the year a person turns 100, so in
  // June 2025 "251201+" is someone born in December 1925, not 1825.
  EXPECT_EQ(Parse(TenWith('+', "251201"))->birth_date, absl::CivilDay(1925, 12, 1));
  EXPECT_EQ(Parse(TenWith('+', "250101"))->birth_date, absl::CivilDay(1925, 1, 1));
  EXPECT_EQ(Parse(TenWith('+', "260101"))->birth_date, absl::CivilDay(1826, 1, 1));
}

TEST(ParsePersonalIdentityNumberTest, TenDigitsTakeTheCenturyThatIsNotInTheFuture) {
  struct Case {
    const char* yymmdd;
    absl::CivilDay born;
  };
  for (const Case& c : {Case{"250615", absl::CivilDay(2025, 6, 15)},  // born today
                        Case{"250616", absl::CivilDay(1925, 6, 16)},  // tomorrow: 100 years ago
                        Case{"251231", absl::CivilDay(1925, 12, 31)},
                        Case{"250101", absl::CivilDay(2025, 1, 1)},
                        Case{"000101", absl::CivilDay(2000, 1, 1)},
                        Case{"991231", absl::CivilDay(1999, 12, 31)},
                        Case{"260101", absl::CivilDay(1926, 1, 1)}}) {
    for (const std::string& text : {Ten(c.yymmdd), TenWith('-', c.yymmdd)}) {
      auto parsed = Parse(text);
      ASSERT_TRUE(parsed.ok()) << text << ": " << parsed.status();
      EXPECT_EQ(parsed->birth_date, c.born) << text;
    }
  }
  // The same digits on another day can mean another century.
  EXPECT_EQ(Parse(Ten("250616"), absl::CivilDay(2025, 6, 16))->birth_date,
            absl::CivilDay(2025, 6, 16));
  EXPECT_EQ(Parse(Ten("991231"), absl::CivilDay(2099, 12, 31))->birth_date,
            absl::CivilDay(2099, 12, 31));
}

// Every date of birth from 1900 to today, written the way Skatteverket writes it
// (with '+' from the year the person turns 100), reads back as itself.
TEST(ParsePersonalIdentityNumberTest, ReadsBackEveryDateWrittenAsSkatteverketWritesIt) {
  for (absl::CivilDay day(1900, 1, 1); day <= kToday; ++day) {
    const std::string yyyymmdd = absl::StrFormat("%04d%02d%02d", day.year(), day.month(),
                                                 day.day());
    const char separator = kToday.year() - day.year() >= 100 ? '+' : '-';
    for (const std::string& text :
         {Twelve(yyyymmdd, "234"), TenWith(separator, yyyymmdd.substr(2), "234")}) {
      auto parsed = Parse(text);
      ASSERT_TRUE(parsed.ok()) << text << ": " << parsed.status();
      ASSERT_EQ(parsed->birth_date, day) << text;
      ASSERT_EQ(parsed->canonical, Twelve(yyyymmdd, "234")) << text;
    }
  }
}

TEST(ParsePersonalIdentityNumberTest, RejectsDatesInTheFuture) {
  ExpectInvalid(Twelve("20250616"), "date in the future");
  ExpectInvalid(Twelve("20990101"), "date in the future");
  ExpectInvalid(Twelve("20250676" /*coordination, 16 June*/), "date in the future");
  EXPECT_TRUE(Parse(Twelve("20250615")).ok());
}

TEST(ParsePersonalIdentityNumberTest, RejectsDatesBeforeAnyoneLivingWasBorn) {
  ExpectInvalid(Twelve("17991231"), "date too far in the past");
  ExpectInvalid(Twelve("00010101"), "date too far in the past");
  EXPECT_TRUE(Parse(Twelve("18000101")).ok());
}

std::vector<std::string> Malformed() {
  const std::string ten = Ten("811218", "987");
  return {"",
          "   ",
          "abc",
          "hello world!",
          "8112189",                          // 7 digits
          ten.substr(0, 9),                   // 9 digits
          ten + "1",                          // 11 digits
          "1" + Twelve("19811218"),           // 13 digits
          Twelve("19811218") + "12",          // 14 digits
          "19811218-98765",                   // 5 after the separator
          "1981121-89876",                    // separator in the wrong place
          "811218--9876",
          "811218 9876",
          "811218/9876",
          "19811218_9876",
          "8112189876a",
          "a8112189876",
          "81121B-9876",
          "811218-98 6",
          "\xc3\x85" "11218-9876",            // "Å"
          "+811218-9876",
          "-8112189876",
          std::string("811218\0" "9876", 11)};
}

TEST(ParsePersonalIdentityNumberTest, RejectsWhatIsNotANumber) {
  for (const std::string& text : Malformed()) {
    ExpectInvalid(text, "not 10 or 12 digits");
  }
  // The twelve-digit form spells out the century; a '+' there is a mistake.
  ExpectInvalid("19811218+9876", "'+' is written only in the ten-digit form");
}

// Personal data must not reach logs through error messages: no message may repeat
// the number or any three digits in a row of it.
TEST(ParsePersonalIdentityNumberTest, NoErrorMessageContainsTheNumber) {
  std::vector<std::string> rejected = Malformed();
  for (const std::string& text :
       {std::string("19811218-9875"), std::string("8112189875"), Twelve("20230230"),
        Twelve("20230229"), Twelve("20250616"), Twelve("17991231"), TenWith('+', "000229"),
        Twelve("19810291"), std::string("19811218+9876"), std::string("811218-98765")}) {
    rejected.push_back(text);
  }
  for (const std::string& text : rejected) {
    auto parsed = Parse(text);
    ASSERT_FALSE(parsed.ok()) << text;
    const std::string message(parsed.status().message());
    if (!absl::StripAsciiWhitespace(text).empty()) {
      EXPECT_FALSE(absl::StrContains(message, absl::StripAsciiWhitespace(text))) << message;
    }
    int run = 0;
    for (char c : message) {
      run = absl::ascii_isdigit(c) ? run + 1 : 0;
      EXPECT_LT(run, 3) << "digits in: " << message;
    }
  }
}

}  // namespace
}  // namespace samplan::identity
