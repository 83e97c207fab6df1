// PgSurveysRepository: questionnaires (no one's personal data) and outcome
// records (category "outcome"), whose every read and write the access rule
// decides and audits in the transaction that reads the record, with its event.

#include "services/surveys/pg_surveys_repository.h"

#include <google/protobuf/util/time_util.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/event_consumer.h"
#include "common/ids.h"
#include "common/status.h"
#include "samplan/surveys/v1/events.pb.h"
#include "services/surveys/sql.h"
#include "services/surveys/surveys_rules.h"

namespace samplan {
const std::vector<Migration>& surveys_migrations();
}  // namespace samplan

namespace samplan::surveys {
namespace {

using ::google::protobuf::util::TimeUtil;

google::protobuf::Timestamp Micros(const pqxx::field& field) {
  return TimeUtil::MicrosecondsToTimestamp(field.as<int64_t>());
}

google::protobuf::Timestamp TimestampOf(absl::Time time) {
  return TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(time));
}

template <typename Message>
absl::StatusOr<Message> Parse(const pqxx::field& field) {
  Message message;
  const pqxx::binarystring bytes(field);
  if (!message.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::DataLossError("a stored record could not be read");
  }
  return message;
}

std::string DayText(const google::type::Date& d) {
  return absl::StrFormat("%04d-%02d-%02d", d.year(), d.month(), d.day());
}

// ---- Questionnaires

std::string Content(v1::Questionnaire q) {
  q.clear_name();
  q.clear_version();
  q.clear_municipality();
  q.clear_shipped();
  q.clear_create_time();
  q.clear_etag();
  return q.SerializeAsString();
}

// (municipality, id, version, content, create_micros).
absl::StatusOr<v1::Questionnaire> QuestionnaireFromRow(const pqxx::row& row) {
  absl::StatusOr<v1::Questionnaire> q = Parse<v1::Questionnaire>(row[3]);
  if (!q.ok()) return q;
  const std::string municipality = row[0].as<std::string>();
  q->set_name(absl::StrCat("questionnaires/", row[1].as<std::string>()));
  q->set_version(row[2].as<int>());
  q->set_etag(absl::StrCat(q->version()));
  q->set_municipality(municipality);
  q->set_shipped(municipality.empty());
  *q->mutable_create_time() = Micros(row[4]);
  return q;
}

absl::Status NoQuestionnaire(absl::string_view id) {
  return absl::NotFoundError(absl::StrCat("questionnaires/", id, " is not there"));
}

// ---- Outcomes

std::string Content(v1::Outcome o) {
  o.clear_name();
  o.clear_etag();
  o.clear_create_time();
  o.clear_update_time();
  return o.SerializeAsString();
}

// (id, version, content, create_micros, update_micros, fingerprint, municipality).
absl::StatusOr<v1::Outcome> OutcomeFromRow(const pqxx::row& row) {
  absl::StatusOr<v1::Outcome> o = Parse<v1::Outcome>(row[2]);
  if (!o.ok()) return o;
  o->set_name(absl::StrCat("outcomes/", row[0].as<std::string>()));
  o->set_etag(row[1].as<std::string>());
  *o->mutable_create_time() = Micros(row[3]);
  *o->mutable_update_time() = Micros(row[4]);
  return o;
}

OutcomeRecord RecordOf(const v1::Outcome& o) {
  return {o.name(), o.person(), o.municipality(), o.owner_organization()};
}

AccessFacts FactsFor(pqxx::transaction_base& tx, const Caller& caller, const OutcomeRecord& r,
                     AccessAction action) {
  AccessRequest request;
  request.municipality = r.municipality;
  request.owner_organization = r.owner_organization;
  if (r.person.empty()) return AccessFacts{};
  if (action != AccessAction::kCreate && !NeedsAccessFacts(caller.principal, request)) {
    return AccessFacts{};
  }
  return ReadAccessFacts(tx, caller.principal.organization, r.person, kOutcomeDataCategory,
                         kOutcomePurpose, caller.now);
}

// Decides `caller`'s `action` on `record` (null: none named `resource`) and
// appends the audit record within `tx`. Returns OK or the denial to answer with
// once `tx` has committed the audit record.
absl::Status Guard(pqxx::transaction_base& tx, const Caller& caller, const OutcomeRecord* record,
                   absl::string_view resource, AccessAction action) {
  GuardedAccess access;
  if (record == nullptr) {
    access = MissingOutcomeAccess(caller, resource, action);
  } else {
    access = DecideOutcomeAccess(caller, *record, action, FactsFor(tx, caller, *record, action));
  }
  AppendAudit(tx, access.audit);
  return StatusOf(access.decision, access.audit.resource);
}

events::v1::Event OutcomeEvent(const v1::Outcome& o, int64_t version, v1::Stage stage,
                               const Caller& caller) {
  v1::OutcomeRecorded payload;
  payload.set_outcome(o.name());
  payload.set_version(version);
  payload.set_person(o.person());
  payload.set_activity(o.activity());
  payload.set_owner_organization(o.owner_organization());
  payload.set_stage(StageName(stage));
  events::v1::Event event = MakeEvent(
      "surveys.outcome.recorded", o.municipality(), o.name(), version, o.person(),
      kOutcomeDataCategory, payload,
      {caller.principal.organization, caller.principal.user, caller.request_id, caller.now});
  // Subscribers see it as they would read the record: its owner, or with the
  // person's consent for outcome.
  event.set_owner_organization(o.owner_organization());
  return event;
}

std::string OccupationText(const v1::OutcomeStatus& s) { return v1::Occupation_Name(s.occupation()); }

}  // namespace

std::vector<MigrationSet> SurveysMigrationSets() {
  std::vector<MigrationSet> sets = PublishingServiceMigrationSets("surveys", surveys_migrations());
  // The invitations' consumer records each event it handled.
  sets.push_back({"processed_events", &processed_events_migrations()});
  return sets;
}

std::vector<PreparedStatement> SurveysRepositoryStatements(const Outbox& outbox) {
  return RepositoryStatements(sql::kAll, outbox);
}

// ---- Questionnaires

absl::Status PgSurveysRepository::InstallShipped(const std::vector<v1::Questionnaire>& shipped,
                                                 absl::Time deadline) {
  return pool_.Transaction(deadline, [&](pqxx::transaction_base& tx) {
    for (const v1::Questionnaire& q : shipped) {
      tx.exec_prepared(sql::kInsertQuestionnaire.name, "",
                       std::string(ResourceId(q.name(), "questionnaires")), q.version(),
                       PgBytes(Content(q)), PgTimestamp(absl::UnixEpoch()));
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<v1::Questionnaire> PgSurveysRepository::CreateQuestionnaire(
    const std::string& municipality, const std::string& id, v1::Questionnaire questionnaire,
    absl::Time now, absl::Time deadline) {
  absl::Status status = pool_.Transaction(deadline, [&](pqxx::transaction_base& tx) {
    if (!tx.exec_prepared(sql::kQuestionnaireIdTaken.name, municipality, id).empty()) {
      return absl::AlreadyExistsError(absl::StrCat("questionnaires/", id, " exists already"));
    }
    pqxx::result inserted = tx.exec_prepared(sql::kInsertQuestionnaire.name, municipality, id, 1,
                                             PgBytes(Content(questionnaire)), PgTimestamp(now));
    if (inserted.empty()) {
      return absl::AlreadyExistsError(absl::StrCat("questionnaires/", id, " exists already"));
    }
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  questionnaire.set_name(absl::StrCat("questionnaires/", id));
  questionnaire.set_version(1);
  questionnaire.set_etag("1");
  questionnaire.set_municipality(municipality);
  questionnaire.set_shipped(false);
  *questionnaire.mutable_create_time() = TimestampOf(now);
  return questionnaire;
}

absl::StatusOr<v1::Questionnaire> PgSurveysRepository::PublishVersion(
    const std::string& municipality, const std::string& id, const std::string& etag,
    v1::Questionnaire questionnaire, absl::Time now, absl::Time deadline) {
  int version = 0;
  absl::Status status = pool_.Transaction(deadline, [&](pqxx::transaction_base& tx) {
    pqxx::result latest = tx.exec_prepared(sql::kLockLatestQuestionnaire.name, municipality, id);
    if (latest.empty()) return NoQuestionnaire(id);
    const int current = latest[0][0].as<int>();
    if (!etag.empty() && etag != absl::StrCat(current)) {
      return EtagMismatch(absl::StrCat("questionnaires/", id),
                          "a newer version has been published since this etag was read");
    }
    version = current + 1;
    tx.exec_prepared(sql::kInsertQuestionnaire.name, municipality, id, version,
                     PgBytes(Content(questionnaire)), PgTimestamp(now));
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  questionnaire.set_name(absl::StrCat("questionnaires/", id));
  questionnaire.set_version(version);
  questionnaire.set_etag(absl::StrCat(version));
  questionnaire.set_municipality(municipality);
  questionnaire.set_shipped(false);
  *questionnaire.mutable_create_time() = TimestampOf(now);
  return questionnaire;
}

absl::StatusOr<v1::Questionnaire> PgSurveysRepository::GetQuestionnaire(
    const std::string& municipality, const std::string& id, int version, absl::Time deadline) {
  absl::StatusOr<v1::Questionnaire> result = NoQuestionnaire(id);
  absl::Status status = pool_.Read(deadline, [&](pqxx::transaction_base& tx) {
    pqxx::result rows = tx.exec_prepared(sql::kSelectQuestionnaire.name, municipality, id, version);
    if (!rows.empty()) result = QuestionnaireFromRow(rows[0]);
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return result;
}

absl::StatusOr<std::vector<v1::Questionnaire>> PgSurveysRepository::ListQuestionnaires(
    const std::string& municipality, absl::Time deadline) {
  std::vector<v1::Questionnaire> list;
  absl::Status status = pool_.Read(deadline, [&](pqxx::transaction_base& tx) {
    for (const pqxx::row& row : tx.exec_prepared(sql::kListQuestionnaires.name, municipality)) {
      absl::StatusOr<v1::Questionnaire> q = QuestionnaireFromRow(row);
      if (!q.ok()) return q.status();
      list.push_back(*std::move(q));
    }
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return list;
}

// ---- Outcomes

absl::StatusOr<v1::Outcome> PgSurveysRepository::RecordOutcome(const Caller& caller,
                                                               const std::string& request_id,
                                                               const std::string& fingerprint,
                                                               const v1::Outcome& outcome) {
  v1::Outcome result;
  absl::Status denied;
  absl::Status status = pool_.Transaction(caller.deadline, [&](pqxx::transaction_base& tx) {
    const std::string id = NewUuid();
    v1::Outcome stored = outcome;
    stored.set_owner_organization(caller.principal.organization);
    stored.set_municipality(caller.principal.municipality);
    stored.set_name(absl::StrCat("outcomes/", id));
    const OutcomeRecord record = RecordOf(stored);
    const AccessFacts facts = FactsFor(tx, caller, record, AccessAction::kCreate);
    if (!MayHandlePersonalData(caller.principal)) {
      denied = RoleDeniedStatus();
    } else if (!record.person.empty()) {
      if (absl::Status registered =
              CheckPersonRegistered(facts, record.municipality, "outcome.person");
          !registered.ok()) {
        return registered;
      }
    }
    const GuardedAccess access =
        DecideOutcomeAccess(caller, record, AccessAction::kCreate, facts);
    AppendAudit(tx, access.audit);
    if (denied.ok()) denied = StatusOf(access.decision, record.resource);
    if (!denied.ok()) return absl::OkStatus();
    pqxx::result inserted = tx.exec_prepared(
        sql::kInsertOutcome.name, id, stored.municipality(), stored.person(),
        stored.owner_organization(), stored.activity(),
        v1::ActivityKind_Name(stored.activity_kind()), v1::Gender_Name(stored.gender()),
        stored.age_at_entry(), DayText(stored.entry_date()), OccupationText(stored.entry()),
        stored.entry().extent_percent(), PgBytes(Content(stored)), PgTimestamp(caller.now),
        request_id, fingerprint);
    if (inserted.empty()) {
      pqxx::result existing = tx.exec_prepared(sql::kSelectOutcomeByRequest.name,
                                               caller.principal.organization, request_id);
      if (existing.empty()) return absl::AbortedError("concurrent create; retry");
      if (existing[0][5].as<std::string>() != fingerprint) {
        return InvalidField("request_id",
                            "was already used by this organization for a different outcome "
                            "record; send a new request id");
      }
      absl::StatusOr<v1::Outcome> earlier = OutcomeFromRow(existing[0]);
      if (!earlier.ok()) return earlier.status();
      result = *std::move(earlier);
      return absl::OkStatus();
    }
    outbox_.Append(tx, OutcomeEvent(stored, 1, v1::STAGE_UNSPECIFIED, caller));
    result = stored;
    result.set_etag("1");
    *result.mutable_create_time() = TimestampOf(caller.now);
    *result.mutable_update_time() = result.create_time();
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  if (!denied.ok()) return denied;
  return result;
}

absl::StatusOr<v1::Outcome> PgSurveysRepository::RecordStatus(const Caller& caller,
                                                              const std::string& id,
                                                              const std::string& etag,
                                                              v1::Stage stage,
                                                              const v1::OutcomeStatus& status) {
  absl::StatusOr<v1::Outcome> result = absl::UnknownError("not run");
  absl::Status tx_status = pool_.Transaction(caller.deadline, [&](pqxx::transaction_base& tx) {
    pqxx::result rows = tx.exec_prepared(sql::kSelectOutcomeForUpdate.name, id);
    absl::StatusOr<v1::Outcome> current =
        rows.empty() ? absl::NotFoundError("none") : OutcomeFromRow(rows[0]);
    if (!rows.empty() && !current.ok()) return current.status();
    const OutcomeRecord record = current.ok() ? RecordOf(*current) : OutcomeRecord{};
    absl::Status access = Guard(tx, caller, current.ok() ? &record : nullptr,
                                absl::StrCat("outcomes/", id), AccessAction::kUpdate);
    if (!access.ok()) {
      result = access;
      return absl::OkStatus();  // the audit record commits
    }
    if (!etag.empty() && etag != current->etag()) {
      return EtagMismatch(current->name(),
                          "it has changed since this etag was read; get it again");
    }
    v1::Outcome changed = *current;
    if (absl::Status applied = ApplyStatus(changed, stage, status, v1::STATUS_SOURCE_CASEWORKER);
        !applied.ok()) {
      return applied;
    }
    auto source = [](bool has, const v1::OutcomeStatus& s) {
      return has ? v1::StatusSource_Name(s.source()) : std::string();
    };
    pqxx::result updated = tx.exec_prepared(
        sql::kUpdateOutcome.name, id, PgBytes(Content(changed)), PgTimestamp(caller.now),
        changed.has_exit() ? OccupationText(changed.exit()) : std::string(),
        source(changed.has_three_months(), changed.three_months()),
        source(changed.has_six_months(), changed.six_months()),
        changed.has_six_months() ? OccupationText(changed.six_months()) : std::string(),
        changed.has_six_months() ? changed.six_months().extent_percent() : 0);
    const int64_t version = updated[0][0].as<int64_t>();
    outbox_.Append(tx, OutcomeEvent(changed, version, stage, caller));
    changed.set_etag(absl::StrCat(version));
    *changed.mutable_update_time() = TimestampOf(caller.now);
    result = std::move(changed);
    return absl::OkStatus();
  });
  if (!tx_status.ok()) return tx_status;
  return result;
}

absl::StatusOr<v1::Outcome> PgSurveysRepository::GetOutcome(const Caller& caller,
                                                            const std::string& id) {
  absl::StatusOr<v1::Outcome> result = absl::UnknownError("not run");
  absl::Status status = pool_.Transaction(caller.deadline, [&](pqxx::transaction_base& tx) {
    pqxx::result rows = tx.exec_prepared(sql::kSelectOutcome.name, id);
    if (!rows.empty()) {
      result = OutcomeFromRow(rows[0]);
      if (!result.ok()) return result.status();
    }
    const OutcomeRecord record = !rows.empty() ? RecordOf(*result) : OutcomeRecord{};
    absl::Status access = Guard(tx, caller, !rows.empty() ? &record : nullptr,
                                absl::StrCat("outcomes/", id), AccessAction::kRead);
    if (!access.ok()) result = access;
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return result;
}

absl::StatusOr<bool> RecordStatusFromAnswers(pqxx::transaction_base& tx, const Outbox& outbox,
                                             const Caller& caller, const std::string& person,
                                             const std::string& activity, v1::Stage stage,
                                             const v1::OutcomeStatus& status) {
  pqxx::result rows = tx.exec_prepared(sql::kLockOutcomeOfActivity.name, person, activity);
  if (rows.empty()) return false;
  absl::StatusOr<v1::Outcome> current = OutcomeFromRow(rows[0]);
  if (!current.ok()) return current.status();
  v1::Outcome changed = *current;
  // No exit recorded yet: the answers stay with the response only.
  if (!ApplyStatus(changed, stage, status, v1::STATUS_SOURCE_ANSWERS).ok()) return false;
  const std::string id(ResourceId(changed.name(), "outcomes"));
  auto source = [](bool has, const v1::OutcomeStatus& s) {
    return has ? v1::StatusSource_Name(s.source()) : std::string();
  };
  pqxx::result updated = tx.exec_prepared(
      sql::kUpdateOutcome.name, id, PgBytes(Content(changed)), PgTimestamp(caller.now),
      changed.has_exit() ? OccupationText(changed.exit()) : std::string(),
      source(changed.has_three_months(), changed.three_months()),
      source(changed.has_six_months(), changed.six_months()),
      changed.has_six_months() ? OccupationText(changed.six_months()) : std::string(),
      changed.has_six_months() ? changed.six_months().extent_percent() : 0);
  const int64_t version = updated[0][0].as<int64_t>();
  AuditEntry audit;
  audit.time = caller.now;
  audit.municipality = changed.municipality();
  audit.actor_organization = caller.principal.organization;
  audit.action = caller.method;
  audit.resource = changed.name();
  audit.subject_person = person;
  audit.data_category = kOutcomeDataCategory;
  audit.purpose = kOutcomePurpose;
  audit.decision = "permit";
  audit.reason = "invitation_token";
  audit.request_id = caller.request_id;
  AppendAudit(tx, audit);
  outbox.Append(tx, OutcomeEvent(changed, version, stage, caller));
  return true;
}

absl::StatusOr<std::vector<OutcomeFacts>> PgSurveysRepository::LoadOutcomeFacts(
    const StatisticsQuery& query, absl::Time deadline) {
  std::vector<OutcomeFacts> facts;
  auto day = [](const std::optional<absl::CivilDay>& d) {
    return d ? absl::FormatCivilTime(*d) : std::string();
  };
  absl::Status status = pool_.Read(deadline, [&](pqxx::transaction_base& tx) {
    pqxx::result rows = tx.exec_prepared(
        sql::kOutcomeFacts.name, query.municipality, day(query.from), day(query.to),
        query.organization,
        query.activity_kind == v1::ACTIVITY_KIND_UNSPECIFIED
            ? std::string()
            : v1::ActivityKind_Name(query.activity_kind));
    facts.reserve(rows.size());
    for (const pqxx::row& row : rows) {
      OutcomeFacts f;
      v1::Gender_Parse(row[0].as<std::string>(), &f.gender);
      f.age_at_entry = row[1].as<int>();
      v1::ActivityKind_Parse(row[2].as<std::string>(), &f.activity_kind);
      f.organization = row[3].as<std::string>();
      v1::Occupation_Parse(row[4].as<std::string>(), &f.entry_occupation);
      const std::string exit = row[5].as<std::string>();
      f.has_exit = !exit.empty();
      if (f.has_exit) v1::Occupation_Parse(exit, &f.exit_occupation);
      v1::StatusSource_Parse(row[6].as<std::string>(), &f.three_months);
      v1::StatusSource_Parse(row[7].as<std::string>(), &f.six_months);
      v1::Occupation_Parse(row[8].as<std::string>(), &f.six_months_occupation);
      f.extent_grew = row[9].as<bool>();
      f.count = row[10].as<int64_t>();
      facts.push_back(std::move(f));
    }
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return facts;
}

}  // namespace samplan::surveys
