#include "services/events/delivery_rules.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/ids.h"
#include "common/status.h"

namespace samplan::events {
namespace {

bool Contains(const google::protobuf::RepeatedPtrField<std::string>& values,
              absl::string_view value) {
  return std::find(values.begin(), values.end(), value) != values.end();
}

// An event type or pattern: lower-case words of [a-z0-9_] joined by dots.
bool IsTypePattern(absl::string_view pattern) {
  if (absl::EndsWith(pattern, ".*")) pattern.remove_suffix(1);
  if (pattern.empty() || pattern.size() > 200 || pattern.front() == '.') return false;
  bool previous_dot = false;
  for (char c : pattern) {
    const bool dot = c == '.';
    if (dot && previous_dot) return false;
    if (!dot && !absl::ascii_islower(c) && !absl::ascii_isdigit(c) && c != '_') return false;
    previous_dot = dot;
  }
  return true;
}

}  // namespace

std::string StreamPosition::ToString() const { return absl::StrCat(ms, "-", seq); }

std::optional<StreamPosition> StreamPosition::Parse(absl::string_view text) {
  std::pair<absl::string_view, absl::string_view> parts =
      absl::StrSplit(text, absl::MaxSplits('-', 1));
  StreamPosition position;
  if (parts.first.empty() || !absl::SimpleAtoi(parts.first, &position.ms) || position.ms < 0) {
    return std::nullopt;
  }
  if (text.find('-') != absl::string_view::npos &&
      (!absl::SimpleAtoi(parts.second, &position.seq) || position.seq < 0)) {
    return std::nullopt;
  }
  return position;
}

absl::StatusOr<Cursor> Cursor::Parse(absl::string_view text, absl::string_view field) {
  Cursor cursor;
  if (text.empty()) return cursor;
  for (absl::string_view part : absl::StrSplit(text, ';')) {
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(part, absl::MaxSplits(':', 1));
    std::optional<StreamPosition> position = StreamPosition::Parse(kv.second);
    if (!IsMunicipalityCode(kv.first) || !position.has_value()) {
      return InvalidField(std::string(field),
                          "not a cursor this service gave out: pass back the `cursor` of an "
                          "event or heartbeat (or `next_page_token`) unchanged");
    }
    cursor.positions_[std::string(kv.first)] = *position;
  }
  return cursor;
}

std::string Cursor::ToString() const {
  return absl::StrJoin(positions_, ";", [](std::string* out, const auto& entry) {
    absl::StrAppend(out, entry.first, ":", entry.second.ToString());
  });
}

std::optional<StreamPosition> Cursor::Get(absl::string_view municipality) const {
  auto it = positions_.find(municipality);
  if (it == positions_.end()) return std::nullopt;
  return it->second;
}

void Cursor::Set(const std::string& municipality, StreamPosition position) {
  positions_[municipality] = position;
}

bool MatchesEventTypes(const std::vector<std::string>& patterns, absl::string_view type) {
  if (patterns.empty()) return true;
  return std::any_of(patterns.begin(), patterns.end(), [&](const std::string& pattern) {
    if (absl::EndsWith(pattern, ".*")) {
      return absl::StartsWith(type, absl::string_view(pattern).substr(0, pattern.size() - 1));
    }
    if (absl::EndsWith(pattern, ".")) return absl::StartsWith(type, pattern);
    return type == pattern;
  });
}

absl::StatusOr<Subscription> ValidateSubscription(
    const Principal& principal, const std::vector<std::string>& municipalities,
    const std::vector<std::string>& event_types, absl::string_view cursor,
    absl::string_view cursor_field, absl::string_view purpose) {
  FieldViolations violations;
  Subscription subscription;
  for (size_t i = 0; i < municipalities.size(); ++i) {
    if (!IsMunicipalityCode(municipalities[i])) {
      violations.Add(absl::StrCat("municipalities[", i, "]"),
                     "must be a kommunkod of four digits, e.g. \"1885\"");
    } else if (std::find(subscription.municipalities.begin(),
                         subscription.municipalities.end(),
                         municipalities[i]) == subscription.municipalities.end()) {
      subscription.municipalities.push_back(municipalities[i]);
    }
  }
  if (municipalities.empty()) subscription.municipalities.push_back(principal.municipality);
  if (event_types.size() > 50) violations.Add("event_types", "at most 50 patterns");
  for (size_t i = 0; i < event_types.size(); ++i) {
    if (!IsTypePattern(event_types[i])) {
      violations.Add(absl::StrCat("event_types[", i, "]"),
                     "must be an event type such as \"caseplan.plan.updated\" or a prefix "
                     "such as \"caseplan.\" or \"caseplan.plan.*\"");
    }
  }
  subscription.event_types = event_types;
  subscription.purpose = purpose.empty() ? "coordination" : std::string(purpose);
  if (!IsPurpose(subscription.purpose)) {
    violations.Add("purpose", "must be coordination, placement or follow_up");
  }
  absl::StatusOr<Cursor> parsed = Cursor::Parse(cursor, cursor_field);
  if (!parsed.ok()) {
    violations.Add(std::string(cursor_field),
                   std::string(FieldViolationsOf(parsed.status()).at(0).second));
  } else {
    for (const auto& [municipality, position] : parsed->positions()) {
      if (std::find(subscription.municipalities.begin(), subscription.municipalities.end(),
                    municipality) == subscription.municipalities.end()) {
        violations.Add(std::string(cursor_field),
                       absl::StrCat("is for municipality ", municipality,
                                    ", which this request does not name"));
      }
    }
    subscription.cursor = *std::move(parsed);
  }
  if (!violations.empty()) return violations.ToStatus();
  for (const std::string& municipality : subscription.municipalities) {
    if (municipality != principal.municipality) {
      return absl::PermissionDeniedError(absl::StrCat(
          "the token is for municipality ", principal.municipality, ", not ", municipality,
          "; subscribe to each municipality with a token for it"));
    }
  }
  return subscription;
}

DeliveryQuestion AskDelivery(const Principal& principal, const v1::Event& event,
                             absl::string_view purpose) {
  DeliveryQuestion question;
  if (event.municipality() != principal.municipality) {
    question.settled = DeliveryForm::kSkip;
    return question;
  }
  // Organizations, users and municipalities: no one's personal data.
  if (event.person().empty()) {
    question.settled = DeliveryForm::kEvent;
    return question;
  }
  if (!MayHandlePersonalData(principal)) {
    question.settled = DeliveryForm::kSkip;
    return question;
  }
  // A consent is told to the person's owner and to the organizations it names,
  // whether or not it is (still) in force: that is what it is about.
  if (event.data_category() == "consent") {
    const bool owner = principal.organization == event.owner_organization();
    const bool grantee = Contains(event.participant_organizations(), principal.organization);
    if (!owner && !grantee) {
      question.settled = DeliveryForm::kSkip;
    } else if (!owner && event.type() == "identity.consent.withdrawn") {
      question.settled = DeliveryForm::kConsentWithdrawn;
    } else {
      question.settled = DeliveryForm::kEvent;
    }
    return question;
  }
  AccessRequest& request = question.request;
  request.action = AccessAction::kRead;
  request.resource = event.aggregate();
  request.person = event.person();
  request.municipality = event.municipality();
  request.owner_organization = event.owner_organization();
  request.requires_participation = RecordsHaveParticipants(event.data_category()) ||
                                   event.participant_organizations_size() > 0;
  request.participant_organizations.assign(event.participant_organizations().begin(),
                                           event.participant_organizations().end());
  request.data_category = event.data_category();
  request.purpose = std::string(purpose);
  if (!NeedsAccessFacts(principal, request)) {
    question.settled = DecideAccess(principal, request, AccessFacts{}).permitted
                           ? DeliveryForm::kEvent
                           : DeliveryForm::kSkip;
  }
  return question;
}

bool ChangesAccess(const v1::Event& event) {
  return !event.person().empty() && (absl::StartsWith(event.type(), "identity.consent.") ||
                                      absl::StartsWith(event.type(), "identity.break_glass."));
}

absl::Status CheckCursorInRange(absl::string_view municipality, StreamPosition cursor,
                                const StreamExtent& extent, absl::Time now,
                                absl::Duration retention) {
  const std::string resynchronise = absl::StrCat(
      "; resynchronise through the services' List calls (e.g. CasePlanService.ListPlans), "
      "then subscribe again without a cursor");
  if (extent.last_generated < cursor) {
    return absl::OutOfRangeError(absl::StrCat(
        "the cursor for municipality ", municipality, " (", cursor.ToString(),
        ") is beyond the newest event ever kept (", extent.last_generated.ToString(),
        "): the event log was reset", resynchronise));
  }
  // Trimming removes the oldest entries: a cursor before the oldest kept one, on a
  // stream that has lost entries, may have missed some (it is refused even when
  // trimming stopped exactly at it: resynchronising is safe, a gap is not).
  const bool trimmed_past =
      cursor < extent.max_deleted ||
      (extent.entries_removed &&
       (extent.first_kept.has_value() ? cursor < *extent.first_kept
                                      : cursor < extent.last_generated));
  const bool next_past_retention =
      extent.next.has_value() && absl::FromUnixMillis(extent.next->ms) < now - retention;
  if (trimmed_past || next_past_retention) {
    return absl::OutOfRangeError(absl::StrCat(
        "the events after the cursor for municipality ", municipality, " (",
        cursor.ToString(), ") are no longer kept (events are kept for ",
        absl::FormatDuration(retention), ")", resynchronise));
  }
  return absl::OkStatus();
}

}  // namespace samplan::events
