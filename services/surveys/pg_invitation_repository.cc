// PgInvitationRepository and the consumer of the events that make invitations.
// Every change of an invitation is versioned (its `version`), audited and
// published (surveys.invitation.*) in the transaction that makes it.

#include "services/surveys/pg_invitation_repository.h"

#include <map>
#include <optional>
#include <tuple>

#include <google/protobuf/util/time_util.h>

#include "absl/strings/str_cat.h"
#include "common/access.h"
#include "common/ids.h"
#include "common/status.h"
#include "samplan/caseplan/v1/events.pb.h"
#include "samplan/identity/v1/events.pb.h"
#include "samplan/placement/v1/events.pb.h"
#include "samplan/surveys/v1/events.pb.h"
#include "services/surveys/invitation_rules.h"
#include "services/surveys/pg_surveys_repository.h"
#include "services/surveys/questionnaire_rules.h"
#include "services/surveys/sql.h"
#include "services/surveys/surveys_rules.h"

namespace samplan::surveys {
namespace {

using ::google::protobuf::util::TimeUtil;

// One row of SAMPLAN_INVITATION_COLUMNS.
struct InvitationRow {
  std::string id;
  std::string municipality;
  std::string person;
  std::string owner;
  std::string activity;
  std::string wave;
  std::string questionnaire;
  int questionnaire_version = 0;
  std::string status;
  int reminders_sent = 0;
  int64_t version = 0;
  absl::Time sent_time;
  absl::Time expire_time;
  std::optional<std::string> answers;

  std::string name() const { return absl::StrCat("invitations/", id); }
};

InvitationRow RowOf(const pqxx::row& r) {
  InvitationRow row;
  row.id = r[0].as<std::string>();
  row.municipality = r[1].as<std::string>();
  row.person = r[2].as<std::string>();
  row.owner = r[3].as<std::string>();
  row.activity = r[4].as<std::string>();
  row.wave = r[5].as<std::string>();
  row.questionnaire = r[6].as<std::string>();
  row.questionnaire_version = r[7].as<int>();
  row.status = r[8].as<std::string>();
  row.reminders_sent = r[9].as<int>();
  row.version = r[10].as<int64_t>();
  row.sent_time = absl::FromUnixMicros(r[11].as<int64_t>());
  row.expire_time = absl::FromUnixMicros(r[12].as<int64_t>());
  if (!r[13].is_null()) {
    const pqxx::binarystring bytes(r[13]);
    row.answers = std::string(bytes.str());
  }
  return row;
}

// Who acts in a change no caller asked for (an event, the scheduler): the
// organization that follows the person up.
EventOrigin OriginOf(const InvitationRow& row, absl::string_view trace, absl::Time now) {
  return {row.owner, "", std::string(trace), now};
}

void PublishInvitation(pqxx::transaction_base& tx, const Outbox& outbox, const InvitationRow& row,
                       absl::string_view type, int64_t version, absl::string_view status,
                       const EventOrigin& origin, int reminder = 0,
                       absl::string_view reason = "") {
  v1::InvitationChanged payload;
  payload.set_invitation(row.name());
  payload.set_version(version);
  payload.set_person(row.person);
  payload.set_questionnaire(absl::StrCat("questionnaires/", row.questionnaire));
  payload.set_wave(row.wave);
  payload.set_activity(row.activity);
  payload.set_owner_organization(row.owner);
  payload.set_status(std::string(status));
  payload.set_reminder(reminder);
  payload.set_reason(std::string(reason));
  events::v1::Event event = MakeEvent(type, row.municipality, row.name(), version, row.person,
                                      kOutcomeDataCategory, payload, origin);
  // Seen as the outcome records are: by the owner, or with the person's consent.
  event.set_owner_organization(row.owner);
  outbox.Append(tx, event);
}

void Audit(pqxx::transaction_base& tx, const InvitationRow& row, absl::string_view actor,
           absl::string_view action, absl::string_view category, absl::string_view consent,
           absl::string_view reason, absl::string_view request_id, absl::Time now) {
  AuditEntry audit;
  audit.time = now;
  audit.municipality = row.municipality;
  audit.actor_organization = std::string(actor);
  audit.action = std::string(action);
  audit.resource = row.name();
  audit.subject_person = row.person;
  audit.data_category = std::string(category);
  audit.purpose = kOutcomePurpose;
  audit.consent = std::string(consent);
  audit.decision = "permit";
  audit.reason = std::string(reason);
  audit.request_id = std::string(request_id);
  AppendAudit(tx, audit);
}

// What identity says about delivering to the person for the organization.
struct Recipient {
  std::string consent;  // empty: no active follow_up consent
  std::string email;    // for sending only: never stored, shown or logged
};

Recipient RecipientOf(pqxx::transaction_base& tx, const InvitationRow& row, absl::Time now) {
  pqxx::result r = tx.exec_prepared(sql::kSurveyRecipient.name, row.person, row.owner,
                                    PgTimestamp(now));
  if (r.empty()) return {};
  return {r[0][0].as<std::string>(), r[0][1].as<std::string>()};
}

// Closes `row` as `status` (cancelled, expired, answered) with its pending
// notifications, published as surveys.invitation.<status>.
void Close(pqxx::transaction_base& tx, const Outbox& outbox, const InvitationRow& row,
           absl::string_view status, absl::string_view reason, const EventOrigin& origin,
           absl::Time now) {
  pqxx::result updated = tx.exec_prepared(sql::kCloseInvitation.name, row.id, std::string(status),
                                          std::string(reason), PgTimestamp(now));
  tx.exec_prepared(sql::kCancelNotifications.name, row.id);
  PublishInvitation(tx, outbox, row, absl::StrCat("surveys.invitation.", status),
                    updated[0][0].as<int64_t>(), status, origin, 0, reason);
}

absl::StatusOr<v1::Questionnaire> LoadQuestionnaire(pqxx::transaction_base& tx,
                                                    const InvitationRow& row, int version) {
  pqxx::result q =
      tx.exec_prepared(sql::kSelectQuestionnaire.name, row.municipality, row.questionnaire, version);
  if (q.empty()) return absl::InternalError("an invitation names a questionnaire that is not there");
  v1::Questionnaire questionnaire;
  const pqxx::binarystring bytes(q[0][3]);
  if (!questionnaire.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::DataLossError("a stored questionnaire could not be read");
  }
  questionnaire.set_name(absl::StrCat("questionnaires/", row.questionnaire));
  questionnaire.set_version(q[0][2].as<int>());
  questionnaire.set_etag(absl::StrCat(questionnaire.version()));
  questionnaire.set_municipality(q[0][0].as<std::string>());
  questionnaire.set_shipped(questionnaire.municipality().empty());
  return questionnaire;
}

// OK when `row` can still be answered at `now`, else FAILED_PRECONDITION
// naming why (or NOT_FOUND for one never sent, which has no token).
absl::Status CheckOpen(const InvitationRow& row, absl::Time now) {
  if (row.status == "answered") {
    return PreconditionFailed("ANSWERED", row.name(), "this invitation has been answered already");
  }
  if (row.status == "cancelled") {
    return PreconditionFailed("CANCELLED", row.name(), "this invitation has been cancelled");
  }
  if (row.status == "expired" || (row.status == "sent" && row.expire_time <= now)) {
    return PreconditionFailed("EXPIRED", row.name(), "the time to answer this invitation is over");
  }
  if (row.status != "sent") return absl::NotFoundError("no invitation has this token");
  return absl::OkStatus();
}

absl::CivilDay DayOf(const google::type::Date& d) { return absl::CivilDay(d.year(), d.month(), d.day()); }

absl::Status Schedule(pqxx::transaction_base& tx, const Outbox& outbox,
                      const events::v1::Event& event, const std::string& person,
                      const std::string& owner, const std::string& activity,
                      const std::string& plan_status, absl::CivilDay base, absl::Time now) {
  for (const pqxx::row& r :
       tx.exec_prepared(sql::kSelectInvitationRules.name, event.type(), event.municipality())) {
    InvitationRule rule;
    rule.id = r[0].as<std::string>();
    rule.plan_status = r[2].as<std::string>();
    rule.amount = r[3].as<int>();
    const std::optional<InvitationRule::Unit> unit = ParseUnit(r[4].as<std::string>());
    if (!unit) return absl::InternalError("an invitation rule has an unknown unit");
    rule.unit = *unit;
    rule.questionnaire = r[5].as<std::string>();
    rule.wave = r[6].as<std::string>();
    if (!rule.plan_status.empty() && rule.plan_status != plan_status) continue;
    InvitationRow row;
    row.id = NewUuid();
    row.municipality = event.municipality();
    row.person = person;
    row.owner = owner;
    row.activity = activity;
    row.wave = rule.wave;
    row.questionnaire = rule.questionnaire;
    pqxx::result inserted = tx.exec_prepared(
        sql::kInsertInvitation.name, row.id, rule.id, row.municipality, person, owner, activity,
        rule.wave, rule.questionnaire, PgTimestamp(DueTime(DueDay(base, rule))), event.event_id(),
        PgTimestamp(now));
    if (inserted.empty()) continue;  // this rule invited them for this activity already
    Audit(tx, row, owner, "surveys.ScheduleInvitation", kOutcomeDataCategory, "",
          "invitation_rule", event.event_id(), now);
    PublishInvitation(tx, outbox, row, "surveys.invitation.scheduled", 1, "scheduled",
                      OriginOf(row, event.trace_id(), now));
  }
  return absl::OkStatus();
}

absl::Status CancelWithoutConsent(pqxx::transaction_base& tx, const Outbox& outbox,
                                  const events::v1::Event& event, absl::Time now) {
  identity::v1::ConsentChanged consent;
  if (!event.payload().UnpackTo(&consent)) {
    return absl::InvalidArgumentError("the event's payload is no ConsentChanged");
  }
  if (consent.purpose() != kOutcomePurpose) return absl::OkStatus();
  for (const pqxx::row& r : tx.exec_prepared(sql::kLockOpenInvitationsOfPerson.name,
                                             consent.person())) {
    const InvitationRow row = RowOf(r);
    // Another consent may still cover it: identity decides, as at sending.
    if (!RecipientOf(tx, row, now).consent.empty()) continue;
    Close(tx, outbox, row, "cancelled", "consent_withdrawn",
          OriginOf(row, event.trace_id(), now), now);
    Audit(tx, row, row.owner, "surveys.CancelInvitation", kOutcomeDataCategory, "",
          "consent_withdrawn", event.event_id(), now);
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ApplyInvitationEvent(pqxx::transaction_base& tx, const Outbox& outbox,
                                  const events::v1::Event& event, absl::Time now) {
  const absl::Time occurred = absl::FromUnixMicros(
      TimeUtil::TimestampToMicroseconds(event.occurred_at()));
  if (event.type() == "placement.agreement.completed" ||
      event.type() == "placement.agreement.ended") {
    placement::v1::AgreementChanged agreement;
    if (!event.payload().UnpackTo(&agreement)) {
      return absl::InvalidArgumentError("the event's payload is no AgreementChanged");
    }
    if (agreement.person().empty()) return absl::OkStatus();
    const absl::CivilDay base = agreement.has_ended_date() ? DayOf(agreement.ended_date())
                                                           : StockholmDay(occurred);
    return Schedule(tx, outbox, event, agreement.person(), agreement.coordinator_organization(),
                    agreement.agreement(), "", base, now);
  }
  if (event.type() == "caseplan.plan.updated") {
    caseplan::v1::PlanChanged plan;
    if (!event.payload().UnpackTo(&plan)) {
      return absl::InvalidArgumentError("the event's payload is no PlanChanged");
    }
    if (plan.status() != "PLAN_STATUS_COMPLETED" || event.person().empty()) {
      return absl::OkStatus();
    }
    return Schedule(tx, outbox, event, event.person(), plan.lead_organization(), plan.plan(),
                    plan.status(), StockholmDay(occurred), now);
  }
  if (event.type() == "identity.consent.withdrawn") {
    return CancelWithoutConsent(tx, outbox, event, now);
  }
  return absl::OkStatus();
}

// ---- Sending

absl::StatusOr<int> PgInvitationRepository::ScheduleDue(absl::Time now, absl::Time deadline) {
  int written = 0;
  absl::Status status = pool_.Transaction(deadline, [&](pqxx::transaction_base& tx) -> absl::Status {
    written = 0;
    // A batch is mostly one questionnaire: read and parse each version once.
    std::map<std::tuple<std::string, std::string, int>, v1::Questionnaire> questionnaires;
    for (const pqxx::row& r :
         tx.exec_prepared(sql::kLockExpiredInvitations.name, PgTimestamp(now), options_.batch)) {
      const InvitationRow row = RowOf(r);
      Close(tx, outbox_, row, "expired", "", OriginOf(row, "", now), now);
      Audit(tx, row, row.owner, "surveys.ExpireInvitation", kOutcomeDataCategory, "", "expired",
            row.id, now);
    }
    for (const pqxx::row& r :
         tx.exec_prepared(sql::kLockDueInvitations.name, PgTimestamp(now), options_.batch)) {
      const InvitationRow row = RowOf(r);
      const bool first = row.status == "scheduled";
      if (!first) {
        // A reminder only when its day has come, whatever the query found.
        const std::optional<absl::Time> due = NextReminderTime(row.sent_time, row.reminders_sent);
        if (!due || *due > now) continue;
      }
      const EventOrigin origin = OriginOf(row, "", now);
      const Recipient recipient = RecipientOf(tx, row, now);
      if (recipient.consent.empty() || recipient.email.empty()) {
        const char* reason = recipient.consent.empty() ? "consent_withdrawn" : "no_contact_channel";
        Close(tx, outbox_, row, "cancelled", reason, origin, now);
        Audit(tx, row, row.owner, "surveys.CancelInvitation", kOutcomeDataCategory,
              recipient.consent, reason, row.id, now);
        continue;
      }
      const auto key = std::make_tuple(row.municipality, row.questionnaire,
                                       first ? 0 : row.questionnaire_version);
      auto cached = questionnaires.find(key);
      if (cached == questionnaires.end()) {
        absl::StatusOr<v1::Questionnaire> loaded = LoadQuestionnaire(tx, row, std::get<2>(key));
        if (!loaded.ok()) return loaded.status();
        cached = questionnaires.emplace(key, *std::move(loaded)).first;
      }
      const v1::Questionnaire* questionnaire = &cached->second;
      const int reminder = first ? 0 : row.reminders_sent + 1;
      const absl::Time sent = first ? now : row.sent_time;
      const absl::Time expire = first ? now + kAnswerPeriod : row.expire_time;
      const std::optional<absl::Time> next = NextReminderTime(sent, reminder);
      pqxx::result updated =
          first ? tx.exec_prepared(sql::kMarkInvitationSent.name, row.id, questionnaire->version(),
                                   PgTimestamp(sent), PgTimestamp(expire),
                                   next ? PgTimestamp(*next) : std::string(),
                                   PgTimestamp(now))
                : tx.exec_prepared(sql::kMarkReminderSent.name, row.id,
                                   next ? PgTimestamp(*next) : std::string(), PgTimestamp(now));
      const std::string token = NewInvitationToken();
      tx.exec_prepared(sql::kInsertInvitationToken.name, PgBytes(TokenHash(token)), row.id);
      const InvitationMail mail =
          ComposeInvitationMail(*questionnaire, reminder, options_.public_url, token, expire);
      tx.exec_prepared(sql::kInsertNotification.name, NewUuid(), row.id, reminder, mail.subject,
                       mail.body, PgTimestamp(now));
      PublishInvitation(tx, outbox_, row, "surveys.invitation.sent", updated[0][0].as<int64_t>(),
                        "sent", origin, reminder);
      Audit(tx, row, row.owner, "surveys.SendInvitation", kOutcomeDataCategory,
            recipient.consent, "consent", row.id, now);
      ++written;
    }
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return written;
}

absl::StatusOr<bool> PgInvitationRepository::DeliverNext(Mailer& mailer, absl::Time now,
                                                         absl::Time deadline) {
  bool found = false;
  absl::Status status = pool_.Transaction(deadline, [&](pqxx::transaction_base& tx) -> absl::Status {
    pqxx::result n = tx.exec_prepared(sql::kLockDueNotification.name, PgTimestamp(now));
    found = !n.empty();
    if (!found) return absl::OkStatus();
    const std::string id = n[0][0].as<std::string>();
    const std::string invitation_id = n[0][1].as<std::string>();
    const std::string subject = n[0][3].as<std::string>();
    const std::string body = n[0][4].is_null() ? std::string() : n[0][4].as<std::string>();
    const int attempts = n[0][5].as<int>();
    pqxx::result locked = tx.exec_prepared(sql::kLockInvitation.name, invitation_id);
    const InvitationRow row = RowOf(locked[0]);
    if (row.status != "sent") {
      // Answered, cancelled or expired since: nothing more to send.
      tx.exec_prepared(sql::kCancelNotifications.name, row.id);
      return absl::OkStatus();
    }
    const Recipient recipient = RecipientOf(tx, row, now);
    if (recipient.consent.empty() || recipient.email.empty()) {
      const char* reason = recipient.consent.empty() ? "consent_withdrawn" : "no_contact_channel";
      Close(tx, outbox_, row, "cancelled", reason, OriginOf(row, "", now), now);
      Audit(tx, row, row.owner, "surveys.CancelInvitation", kOutcomeDataCategory,
            recipient.consent, reason, id, now);
      return absl::OkStatus();
    }
    const absl::Status sent = mailer.Send(
        options_.from, recipient.email,
        RenderMailMessage(options_.from, recipient.email, subject, body, id, now));
    if (sent.ok()) {
      tx.exec_prepared(sql::kMarkNotificationSent.name, id, PgTimestamp(now));
      Audit(tx, row, row.owner, "surveys.DeliverInvitation", "contact", recipient.consent,
            "consent", id, now);
      return absl::OkStatus();
    }
    const bool last = attempts + 1 >= kMaxDeliveryAttempts;
    tx.exec_prepared(sql::kMarkNotificationFailed.name, id,
                     std::string(last ? "failed" : "pending"),
                     PgTimestamp(now + RetryDelay(attempts + 1)), std::string(sent.message()));
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return found;
}

// ---- Answering

absl::StatusOr<OpenInvitation> PgInvitationRepository::Open(const std::string& token_hash,
                                                            const std::string& questionnaire,
                                                            bool audited,
                                                            const std::string& request_id,
                                                            absl::Time now, absl::Time deadline) {
  absl::StatusOr<OpenInvitation> result = absl::NotFoundError("no invitation has this token");
  absl::Status status = pool_.Transaction(deadline, [&](pqxx::transaction_base& tx) -> absl::Status {
    pqxx::result rows = tx.exec_prepared(sql::kSelectInvitationByToken.name, PgBytes(token_hash));
    if (rows.empty()) return absl::OkStatus();
    const InvitationRow row = RowOf(rows[0]);
    if (!questionnaire.empty() && questionnaire != row.questionnaire) return absl::OkStatus();
    if (absl::Status open = CheckOpen(row, now); !open.ok()) {
      result = open;
      return absl::OkStatus();
    }
    absl::StatusOr<v1::Questionnaire> q = LoadQuestionnaire(tx, row, row.questionnaire_version);
    if (!q.ok()) return q.status();
    OpenInvitation invitation;
    invitation.id = row.id;
    if (row.answers) invitation.form.ParseFromString(*row.answers);
    *invitation.form.mutable_questionnaire() = *std::move(q);
    *invitation.form.mutable_expire_time() =
        TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(row.expire_time));
    if (audited) {
      Audit(tx, row, "", "surveys.GetInvitation", kOutcomeDataCategory, "", "invitation_token",
            request_id, now);
    }
    result = std::move(invitation);
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return result;
}

absl::StatusOr<v1::InvitationForm> PgInvitationRepository::SaveAnswers(
    const std::string& id, const google::protobuf::RepeatedPtrField<v1::Answer>& answers,
    const std::string& request_id, absl::Time now, absl::Time deadline) {
  absl::StatusOr<v1::InvitationForm> result = absl::UnknownError("not run");
  absl::Status status = pool_.Transaction(deadline, [&](pqxx::transaction_base& tx) -> absl::Status {
    pqxx::result rows = tx.exec_prepared(sql::kLockInvitation.name, id);
    if (rows.empty()) return absl::NotFoundError("no invitation has this token");
    const InvitationRow row = RowOf(rows[0]);
    if (absl::Status open = CheckOpen(row, now); !open.ok()) return open;
    v1::InvitationForm saved;
    *saved.mutable_answers() = answers;
    pqxx::result updated = tx.exec_prepared(sql::kSaveInvitationAnswers.name, id,
                                            PgBytes(saved.SerializeAsString()), PgTimestamp(now));
    PublishInvitation(tx, outbox_, row, "surveys.invitation.answers_saved",
                      updated[0][0].as<int64_t>(), "sent", {"", "", request_id, now});
    Audit(tx, row, "", "surveys.SaveInvitationAnswers", kOutcomeDataCategory, "",
          "invitation_token", request_id, now);
    absl::StatusOr<v1::Questionnaire> q = LoadQuestionnaire(tx, row, row.questionnaire_version);
    if (!q.ok()) return q.status();
    *saved.mutable_questionnaire() = *std::move(q);
    *saved.mutable_expire_time() =
        TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(row.expire_time));
    result = std::move(saved);
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return result;
}

absl::Status PgInvitationRepository::Submit(
    const std::string& id, const google::protobuf::RepeatedPtrField<v1::Answer>& answers,
    const std::string& request_id, absl::Time now, absl::Time deadline) {
  return pool_.Transaction(deadline, [&](pqxx::transaction_base& tx) -> absl::Status {
    pqxx::result rows = tx.exec_prepared(sql::kLockInvitation.name, id);
    if (rows.empty()) return absl::NotFoundError("no invitation has this token");
    const InvitationRow row = RowOf(rows[0]);
    if (absl::Status open = CheckOpen(row, now); !open.ok()) return open;
    absl::StatusOr<v1::Questionnaire> q = LoadQuestionnaire(tx, row, row.questionnaire_version);
    if (!q.ok()) return q.status();
    const bool anonymous = q->anonymous();
    v1::InvitationForm stored;
    *stored.mutable_answers() = answers;
    const std::string response_id = NewUuid();
    tx.exec_prepared(sql::kInsertResponse.name, response_id, row.municipality, row.questionnaire,
                     row.questionnaire_version, anonymous ? std::string() : row.id,
                     anonymous ? std::string() : row.person, row.wave,
                     PgBytes(stored.SerializeAsString()),
                     absl::FormatCivilTime(StockholmDay(now)));
    const EventOrigin origin{"", "", request_id, now};
    Close(tx, outbox_, row, "answered", "", origin, now);
    Audit(tx, row, "", "surveys.SubmitInvitationAnswers", kOutcomeDataCategory, "",
          "invitation_token", request_id, now);
    v1::ResponseSubmitted payload;
    payload.set_questionnaire(absl::StrCat("questionnaires/", row.questionnaire));
    payload.set_questionnaire_version(row.questionnaire_version);
    payload.set_wave(row.wave);
    if (!anonymous) {
      payload.set_invitation(row.name());
      payload.set_person(row.person);
    }
    events::v1::Event event = MakeEvent(
        "surveys.response.submitted", row.municipality,
        anonymous ? payload.questionnaire() : absl::StrCat("responses/", response_id), 1,
        anonymous ? "" : row.person, kOutcomeDataCategory, payload, origin);
    event.set_owner_organization(row.owner);
    outbox_.Append(tx, event);
    if (!anonymous && row.questionnaire == kVadHandeSen) {
      const std::optional<v1::OutcomeStatus> status =
          StatusFromAnswers(*q, answers, StockholmDay(now));
      if (status) {
        Caller caller;
        caller.method = "surveys.SubmitInvitationAnswers";
        caller.request_id = request_id;
        caller.now = now;
        caller.deadline = deadline;
        absl::StatusOr<bool> recorded = RecordStatusFromAnswers(
            tx, outbox_, caller, row.person, row.activity, StageOfWave(row.wave), *status);
        if (!recorded.ok()) return recorded.status();
      }
    }
    return absl::OkStatus();
  });
}

}  // namespace samplan::surveys
