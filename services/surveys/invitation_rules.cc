#include "services/surveys/invitation_rules.h"

#include <openssl/rand.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cstdlib>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"

namespace samplan::surveys {
namespace {

const absl::TimeZone& Stockholm() {
  static const absl::TimeZone* zone = [] {
    auto* z = new absl::TimeZone;
    // Without tzdata the service would send at the wrong hour half the year:
    // refuse to run instead.
    if (!absl::LoadTimeZone("Europe/Stockholm", z)) std::abort();
    return z;
  }();
  return *zone;
}

std::string Localized(const v1::LocalizedText& t) { return t.sv(); }

}  // namespace

std::optional<InvitationRule::Unit> ParseUnit(absl::string_view unit) {
  if (unit == "days") return InvitationRule::Unit::kDays;
  if (unit == "months") return InvitationRule::Unit::kMonths;
  return std::nullopt;
}

absl::CivilDay DueDay(absl::CivilDay base, const InvitationRule& rule) {
  if (rule.unit == InvitationRule::Unit::kDays) return base + rule.amount;
  const absl::CivilMonth month = absl::CivilMonth(base) + rule.amount;
  // The last day of that month: the first of the next, less one.
  const absl::CivilDay last = absl::CivilDay(month + 1) - 1;
  const absl::CivilDay wanted(month.year(), month.month(), 1);
  return std::min(wanted + (base.day() - 1), last);
}

absl::Time DueTime(absl::CivilDay day) {
  return Stockholm().At(absl::CivilSecond(day) + 9 * 3600).pre;
}

absl::CivilDay StockholmDay(absl::Time time) {
  return absl::ToCivilDay(time, Stockholm());
}

std::optional<absl::Time> NextReminderTime(absl::Time sent, int reminders_sent) {
  if (reminders_sent < 0 || reminders_sent >= kMaxReminders) return std::nullopt;
  return sent + absl::Hours(24 * 7 * (reminders_sent + 1));
}

v1::Stage StageOfWave(absl::string_view wave) {
  if (wave == "three_months") return v1::STAGE_THREE_MONTHS;
  if (wave == "six_months") return v1::STAGE_SIX_MONTHS;
  return v1::STAGE_UNSPECIFIED;
}

std::optional<v1::OutcomeStatus> StatusFromAnswers(
    const v1::Questionnaire& questionnaire,
    const google::protobuf::RepeatedPtrField<v1::Answer>& answers, absl::CivilDay day) {
  v1::OutcomeStatus status;
  for (const v1::Answer& answer : answers) {
    const v1::Item* item = nullptr;
    for (const v1::Item& i : questionnaire.items()) {
      if (i.id() == answer.item_id()) item = &i;
    }
    if (item == nullptr) continue;
    switch (item->outcome_code()) {
      case v1::OUTCOME_CODE_OCCUPATION: {
        v1::Occupation o;
        if (answer.has_choice() && v1::Occupation_Parse(answer.choice(), &o)) {
          status.set_occupation(o);
        }
        break;
      }
      case v1::OUTCOME_CODE_MAIN_INCOME: {
        v1::MainIncome m;
        if (answer.has_choice() && v1::MainIncome_Parse(answer.choice(), &m)) {
          status.set_main_income(m);
        }
        break;
      }
      case v1::OUTCOME_CODE_EXTENT_PERCENT:
        if (answer.has_number() && answer.number() >= 0 && answer.number() <= 100) {
          status.set_extent_percent(static_cast<int>(answer.number() + 0.5));
        }
        break;
      default:
        break;
    }
  }
  if (status.occupation() == v1::OCCUPATION_UNSPECIFIED) return std::nullopt;
  status.mutable_date()->set_year(static_cast<int>(day.year()));
  status.mutable_date()->set_month(day.month());
  status.mutable_date()->set_day(day.day());
  return status;
}

std::string NewInvitationToken() {
  unsigned char bytes[32];
  // RAND_bytes draws from OpenSSL's CSPRNG; it fails only when that cannot be
  // seeded, and then no token may be made at all.
  if (RAND_bytes(bytes, sizeof bytes) != 1) std::abort();
  return absl::WebSafeBase64Escape(
      absl::string_view(reinterpret_cast<const char*>(bytes), sizeof bytes));
}

bool IsInvitationTokenFormat(absl::string_view token) {
  if (token.size() != kTokenLength) return false;
  for (char c : token) {
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
          c == '-' || c == '_')) {
      return false;
    }
  }
  // 43 characters carry 258 bits: the last one's two low bits are zero in a
  // token made by NewInvitationToken.
  std::string bytes;
  return absl::WebSafeBase64Unescape(token, &bytes) && bytes.size() == 32 &&
         absl::WebSafeBase64Escape(bytes) == token;
}

std::string TokenHash(absl::string_view token) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), digest);
  return std::string(reinterpret_cast<const char*>(digest), sizeof digest);
}

absl::Duration RetryDelay(int attempts) {
  if (attempts < 1) attempts = 1;
  const absl::Duration cap = absl::Hours(6);
  if (attempts > 20) return cap;
  return std::min(absl::Minutes(1) * (int64_t{1} << (attempts - 1)), cap);
}

InvitationMail ComposeInvitationMail(const v1::Questionnaire& questionnaire, int reminder,
                                     absl::string_view public_url, absl::string_view token,
                                     absl::Time expire_time) {
  const std::string link = absl::StrCat(public_url, "/svar/", token);
  const std::string until = absl::FormatTime("%Y-%m-%d", expire_time, Stockholm());
  InvitationMail mail;
  mail.subject = reminder == 0 ? absl::StrCat(Localized(questionnaire.title()))
                               : absl::StrCat("Påminnelse: ", Localized(questionnaire.title()));
  const v1::LocalizedText& title = questionnaire.title();
  mail.body = absl::StrCat(
      "Hej!\n\n", "Vi vill veta hur det har gått för dig. Svara på frågorna här:\n", link,
      "\n\nLänken gäller till och med ", until, ". Den är bara till dig: dela den inte.\n\n",
      "--\n", title.sv_easy().empty() ? title.sv() : title.sv_easy(),
      ": Hur går det för dig nu? Klicka på länken och svara.\n\n", "--\n",
      title.en().empty() ? title.sv() : title.en(),
      ": we would like to know how things have gone for you. The link above is yours "
      "until ",
      until, ".\n");
  return mail;
}

std::string MessageIdOf(absl::string_view notification_id, absl::string_view from) {
  const size_t at = from.rfind('@');
  absl::string_view domain = at == absl::string_view::npos ? "samplan.invalid" : from.substr(at + 1);
  while (!domain.empty() && domain.back() == '>') domain.remove_suffix(1);
  return absl::StrCat(notification_id, "@", domain);
}

std::string RenderMailMessage(absl::string_view from, absl::string_view to,
                              absl::string_view subject, absl::string_view body,
                              absl::string_view notification_id, absl::Time date) {
  std::string encoded = absl::Base64Escape(body);
  std::string wrapped;
  for (size_t i = 0; i < encoded.size(); i += 76) {
    absl::StrAppend(&wrapped, absl::string_view(encoded).substr(i, 76), "\r\n");
  }
  return absl::StrCat(
      "From: ", from, "\r\n", "To: ", to, "\r\n", "Subject: =?UTF-8?B?",
      absl::Base64Escape(subject), "?=\r\n", "Date: ",
      absl::FormatTime("%a, %d %b %Y %H:%M:%S +0000", date, absl::UTCTimeZone()), "\r\n",
      "Message-ID: <", MessageIdOf(notification_id, from), ">\r\n", "MIME-Version: 1.0\r\n",
      "Content-Type: text/plain; charset=utf-8\r\n", "Content-Transfer-Encoding: base64\r\n",
      "\r\n", wrapped);
}

}  // namespace samplan::surveys
