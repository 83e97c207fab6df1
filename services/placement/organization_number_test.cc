#include "services/placement/organization_number.h"

#include <gtest/gtest.h>

namespace samplan::placement {
namespace {

const absl::CivilDay kToday(2026, 12, 2);

TEST(OrganizationNumberTest, AcceptsALegalEntityWithOrWithoutHyphenAndWith16) {
  for (const char* text :
       {"556036-0793", "5560360793", "165560360793", "16556036-0793", " 556036-0793 "}) {
    absl::StatusOr<OrganizationNumber> number = ParseOrganizationNumber(text, kToday);
    ASSERT_TRUE(number.ok()) << text << ": " << number.status();
    EXPECT_EQ(number->canonical, "556036-0793");
    EXPECT_FALSE(number->sole_trader);
  }
  // A municipality (2…) and a non-profit association (8…).
  EXPECT_TRUE(ParseOrganizationNumber("212000-1884", kToday).ok());
  EXPECT_TRUE(ParseOrganizationNumber("802480-5676", kToday).ok());
}

TEST(OrganizationNumberTest, RefusesAWrongCheckDigit) {
  absl::StatusOr<OrganizationNumber> number = ParseOrganizationNumber("556036-0794", kToday);
  ASSERT_EQ(number.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(number.status().message().find("check digit"), absl::string_view::npos);
}

TEST(OrganizationNumberTest, RefusesWrongShapes) {
  for (const char* text : {"", "55603-60793", "556036-07930", "55603607", "5560360793x",
                           "176556036079", "556036--0793", "1655603607931"}) {
    EXPECT_EQ(ParseOrganizationNumber(text, kToday).status().code(),
              absl::StatusCode::kInvalidArgument)
        << text;
  }
}

TEST(OrganizationNumberTest, TakesAPersonnummerAsASoleTrader) {
  for (const char* text : {"850312-2387", "198503122387", "19850312-2387"}) {
    absl::StatusOr<OrganizationNumber> number = ParseOrganizationNumber(text, kToday);
    ASSERT_TRUE(number.ok()) << text << ": " << number.status();
    EXPECT_TRUE(number->sole_trader);
    EXPECT_EQ(number->canonical, "850312-2387");
  }
}

TEST(OrganizationNumberTest, ThirdDigitBelowTwoMustBeARealPersonnummer) {
  // Luhn-valid, but month 13 is no date: neither a legal entity nor a person.
  absl::StatusOr<OrganizationNumber> number = ParseOrganizationNumber("851312-2385", kToday);
  EXPECT_EQ(number.status().code(), absl::StatusCode::kInvalidArgument);
  // A legal entity's number cannot be written with 16 when it looks like a
  // person's.
  EXPECT_EQ(ParseOrganizationNumber("168503122387", kToday).status().code(),
            absl::StatusCode::kInvalidArgument);
  // …and a legal entity's 12-digit form is 16, not a century.
  EXPECT_EQ(ParseOrganizationNumber("195560360793", kToday).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(OrganizationNumberTest, NeverRepeatsTheNumberInTheError) {
  absl::StatusOr<OrganizationNumber> number = ParseOrganizationNumber("850312-2388", kToday);
  ASSERT_FALSE(number.ok());
  EXPECT_EQ(number.status().message().find("850312"), absl::string_view::npos);
}

}  // namespace
}  // namespace samplan::placement
