// Tier 1: the pure rules of invitations — due dates, reminders, tokens,
// retries, the mail.

#include "services/surveys/invitation_rules.h"

#include <gtest/gtest.h>

#include <set>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "services/surveys/questionnaire_rules.h"

namespace samplan::surveys {
namespace {

InvitationRule Months(int n) {
  InvitationRule rule;
  rule.amount = n;
  rule.unit = InvitationRule::Unit::kMonths;
  return rule;
}

TEST(DueDayTest, MonthsAreCalendarMonths) {
  EXPECT_EQ(DueDay(absl::CivilDay(2026, 3, 15), Months(3)), absl::CivilDay(2026, 6, 15));
  EXPECT_EQ(DueDay(absl::CivilDay(2026, 3, 15), Months(6)), absl::CivilDay(2026, 9, 15));
  // Across the year.
  EXPECT_EQ(DueDay(absl::CivilDay(2026, 10, 2), Months(6)), absl::CivilDay(2027, 4, 2));
}

TEST(DueDayTest, ADayTheMonthLacksBecomesItsLastDay) {
  EXPECT_EQ(DueDay(absl::CivilDay(2026, 11, 30), Months(3)), absl::CivilDay(2027, 2, 28));
  EXPECT_EQ(DueDay(absl::CivilDay(2027, 11, 30), Months(3)), absl::CivilDay(2028, 2, 29));
  EXPECT_EQ(DueDay(absl::CivilDay(2026, 8, 31), Months(1)), absl::CivilDay(2026, 9, 30));
}

TEST(DueDayTest, DaysAreDays) {
  InvitationRule rule;
  rule.amount = 90;
  rule.unit = InvitationRule::Unit::kDays;
  EXPECT_EQ(DueDay(absl::CivilDay(2026, 1, 1), rule), absl::CivilDay(2026, 4, 1));
  EXPECT_EQ(ParseUnit("days"), InvitationRule::Unit::kDays);
  EXPECT_EQ(ParseUnit("months"), InvitationRule::Unit::kMonths);
  EXPECT_FALSE(ParseUnit("weeks").has_value());
}

TEST(DueTimeTest, NineInTheMorningInStockholmSummerAndWinter) {
  EXPECT_EQ(DueTime(absl::CivilDay(2026, 6, 15)), absl::FromCivil(absl::CivilSecond(2026, 6, 15, 7, 0, 0), absl::UTCTimeZone()));
  EXPECT_EQ(DueTime(absl::CivilDay(2026, 12, 15)), absl::FromCivil(absl::CivilSecond(2026, 12, 15, 8, 0, 0), absl::UTCTimeZone()));
}

TEST(RemindersTest, SevenAndFourteenDaysAfterSendingThenNone) {
  const absl::Time sent = absl::FromUnixSeconds(1'800'000'000);
  EXPECT_EQ(NextReminderTime(sent, 0), sent + absl::Hours(24 * 7));
  EXPECT_EQ(NextReminderTime(sent, 1), sent + absl::Hours(24 * 14));
  EXPECT_FALSE(NextReminderTime(sent, 2).has_value());
  EXPECT_GT(kAnswerPeriod, absl::Hours(24 * 14));
}

TEST(TokenTest, TokensAre256RandomBitsInBase64Url) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    const std::string token = NewInvitationToken();
    EXPECT_EQ(token.size(), 43u);
    EXPECT_TRUE(IsInvitationTokenFormat(token)) << token;
    std::string bytes;
    ASSERT_TRUE(absl::WebSafeBase64Unescape(token, &bytes));
    EXPECT_EQ(bytes.size(), 32u);
    EXPECT_TRUE(seen.insert(token).second);
  }
}

TEST(TokenTest, MalformedTokensAreRefused) {
  const std::string token = NewInvitationToken();
  EXPECT_FALSE(IsInvitationTokenFormat(""));
  EXPECT_FALSE(IsInvitationTokenFormat(token.substr(1)));
  EXPECT_FALSE(IsInvitationTokenFormat(token + "A"));
  std::string plus = token;
  plus[5] = '+';  // base64, not base64url
  EXPECT_FALSE(IsInvitationTokenFormat(plus));
  std::string padded = token.substr(0, 42) + "=";
  EXPECT_FALSE(IsInvitationTokenFormat(padded));
}

TEST(TokenTest, OnlyTheHashIsKeptAndItIsSha256) {
  const std::string token = NewInvitationToken();
  EXPECT_EQ(TokenHash(token).size(), 32u);
  EXPECT_EQ(TokenHash(token), TokenHash(token));
  EXPECT_NE(TokenHash(token), TokenHash(NewInvitationToken()));
  EXPECT_EQ(absl::BytesToHexString(TokenHash("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(RetryDelayTest, DoublesFromAMinuteUpToSixHours) {
  EXPECT_EQ(RetryDelay(1), absl::Minutes(1));
  EXPECT_EQ(RetryDelay(2), absl::Minutes(2));
  EXPECT_EQ(RetryDelay(5), absl::Minutes(16));
  EXPECT_EQ(RetryDelay(9), absl::Hours(4) + absl::Minutes(16));
  EXPECT_EQ(RetryDelay(10), absl::Hours(6));
  EXPECT_EQ(RetryDelay(100), absl::Hours(6));
}

TEST(MailTest, CarriesTheLinkAndAStableMessageId) {
  const v1::Questionnaire q = ShippedQuestionnaires()[0];
  const std::string token = NewInvitationToken();
  const InvitationMail mail = ComposeInvitationMail(q, 0, "https://samplan.example", token,
                                                    absl::FromUnixSeconds(1'800'000'000));
  EXPECT_TRUE(absl::StrContains(mail.body, "https://samplan.example/svar/" + token));
  const InvitationMail reminder = ComposeInvitationMail(q, 1, "https://x", token, absl::Now());
  EXPECT_TRUE(absl::StartsWith(reminder.subject, "Påminnelse"));
  const std::string message = RenderMailMessage("vhs@kommun.example", "to@example.org",
                                                mail.subject, mail.body, "n-1",
                                                absl::FromUnixSeconds(1'800'000'000));
  EXPECT_TRUE(absl::StrContains(message, "Message-ID: <n-1@kommun.example>\r\n"));
  EXPECT_TRUE(absl::StrContains(message, "To: to@example.org\r\n"));
  // The same notification renders the same Message-ID on a later attempt.
  EXPECT_TRUE(absl::StrContains(
      RenderMailMessage("vhs@kommun.example", "to@example.org", mail.subject, mail.body, "n-1",
                        absl::Now()),
      "Message-ID: <n-1@kommun.example>"));
}

TEST(StatusFromAnswersTest, TheOutcomeCodedItemsGiveTheStatus) {
  const v1::Questionnaire q = ShippedQuestionnaires()[0];
  google::protobuf::RepeatedPtrField<v1::Answer> answers;
  EXPECT_FALSE(StatusFromAnswers(q, answers, absl::CivilDay(2026, 1, 1)).has_value());
  for (const v1::Item& item : q.items()) {
    v1::Answer a;
    a.set_item_id(item.id());
    if (item.outcome_code() == v1::OUTCOME_CODE_OCCUPATION) a.set_choice("OCCUPATION_WORK");
    else if (item.outcome_code() == v1::OUTCOME_CODE_EXTENT_PERCENT) a.set_number(75);
    else continue;
    *answers.Add() = a;
  }
  const auto status = StatusFromAnswers(q, answers, absl::CivilDay(2026, 1, 1));
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->occupation(), v1::OCCUPATION_WORK);
  EXPECT_EQ(status->extent_percent(), 75);
  EXPECT_EQ(status->date().year(), 2026);
}

}  // namespace
}  // namespace samplan::surveys
