#ifndef SAMPLAN_SERVICES_SURVEYS_INVITATION_RULES_H_
#define SAMPLAN_SERVICES_SURVEYS_INVITATION_RULES_H_

// "Vad hände sen?" invitations as pure rules: when an invitation falls due
// ("N days or months after <event>"), when its reminders fall and when it
// expires, the tokens of its links, how a failed delivery is retried, and the
// mail itself. No I/O here (the token's randomness comes from OpenSSL's CSPRNG).

#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "samplan/surveys/v1/surveys.pb.h"

namespace samplan::surveys {

// An invitation rule as stored in surveys.invitation_rules: `amount` `unit`
// after an event of `event_type` (a plan event only when the plan's status
// became `plan_status`), inviting to `questionnaire` for `wave`.
struct InvitationRule {
  enum class Unit { kDays, kMonths };
  std::string id;
  std::string event_type;
  std::string plan_status;
  int amount = 0;
  Unit unit = Unit::kMonths;
  std::string questionnaire;
  std::string wave;  // "three_months" or "six_months"
};

// Parses "days" or "months".
std::optional<InvitationRule::Unit> ParseUnit(absl::string_view unit);

// Returns the day `rule` falls on after `base`. Months are calendar months; a
// day that the month lacks becomes its last day (31 January + 1 month is 28 or
// 29 February).
absl::CivilDay DueDay(absl::CivilDay base, const InvitationRule& rule);

// Returns when an invitation falling on `day` is sent: 09:00 in Stockholm.
absl::Time DueTime(absl::CivilDay day);

// The day of `time` in Stockholm.
absl::CivilDay StockholmDay(absl::Time time);

// How long an invitation can be answered after it is sent, and when its
// reminders go: 7 and 14 days after it was sent, at most two.
inline constexpr absl::Duration kAnswerPeriod = absl::Hours(24 * 30);
inline constexpr int kMaxReminders = 2;

// Returns when reminder number `reminders_sent + 1` is due for an invitation
// sent at `sent`, or nothing when both have gone.
std::optional<absl::Time> NextReminderTime(absl::Time sent, int reminders_sent);

// The stage whose status the answers of `wave` record (STAGE_UNSPECIFIED when
// the wave is not known).
v1::Stage StageOfWave(absl::string_view wave);

// The status a follow-up's answers give, by the outcome codes of the items:
// the occupation (required for a status), its extent and the main income;
// dated `day`. Nothing when the occupation was not answered.
std::optional<v1::OutcomeStatus> StatusFromAnswers(
    const v1::Questionnaire& questionnaire,
    const google::protobuf::RepeatedPtrField<v1::Answer>& answers, absl::CivilDay day);

// Tokens: 32 bytes from OpenSSL's CSPRNG (256 bits), as 43 characters of
// unpadded base64url. Only their SHA-256 is stored.
inline constexpr int kTokenLength = 43;
std::string NewInvitationToken();
// Whether `token` has the form NewInvitationToken gives (not whether it exists).
bool IsInvitationTokenFormat(absl::string_view token);
// The 32-byte SHA-256 of `token`, the key it is stored under.
std::string TokenHash(absl::string_view token);

// Deliveries: the wait before attempt `attempts + 1` after `attempts` failed
// (1 minute, doubling, at most 6 hours), and how many attempts there are.
absl::Duration RetryDelay(int attempts);
inline constexpr int kMaxDeliveryAttempts = 10;

// The mail of an invitation (reminder 0) or a reminder (1, 2), in Swedish with
// easy Swedish and English below, carrying the link `<public_url>/svar/<token>`.
struct InvitationMail {
  std::string subject;
  std::string body;  // UTF-8 text
};
InvitationMail ComposeInvitationMail(const v1::Questionnaire& questionnaire, int reminder,
                                     absl::string_view public_url, absl::string_view token,
                                     absl::Time expire_time);

// One message as handed to SMTP (RFC 5322): From, To, Subject (RFC 2047 UTF-8),
// Date, a Message-ID that is the notification's own (`<notification-id@domain>`
// — the same on every attempt, so a copy sent twice after a crash is
// recognisable), and the body as UTF-8 text in base64.
std::string RenderMailMessage(absl::string_view from, absl::string_view to,
                              absl::string_view subject, absl::string_view body,
                              absl::string_view notification_id, absl::Time date);

// The Message-ID of a notification, "<id@samplan.invalid>" style without brackets.
std::string MessageIdOf(absl::string_view notification_id, absl::string_view from);

}  // namespace samplan::surveys

#endif  // SAMPLAN_SERVICES_SURVEYS_INVITATION_RULES_H_
