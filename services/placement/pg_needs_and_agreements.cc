// PgPlacementRepository, its personal data: placement needs and three-party
// agreements. Every read and write is decided by the access rule and audited
// in the transaction that reads the data (the class: pg_placement_repository.h;
// the bank of employers and placements: pg_placement_repository.cc).

#include "absl/strings/str_cat.h"
#include "common/ids.h"
#include "common/status.h"
#include "samplan/placement/v1/events.pb.h"
#include "services/placement/pg_placement_repository.h"
#include "services/placement/pg_placement_rows.h"
#include "services/placement/sql.h"

namespace samplan::placement {
namespace {

std::string DayText(const google::type::Date& date) { return absl::FormatCivilTime(DayOf(date)); }

// What a need stores in `content`: the record without what lives in columns.
std::string Content(v1::PlacementNeed need) {
  need.clear_name();
  need.clear_create_time();
  need.clear_status();
  return need.SerializeAsString();
}

absl::StatusOr<v1::Agreement> AgreementFromRow(const pqxx::row& row) {
  absl::StatusOr<v1::Agreement> agreement = Parse<v1::Agreement>(row[2]);
  if (!agreement.ok()) return agreement;
  agreement->set_name(absl::StrCat("agreements/", row[0].as<std::string>()));
  agreement->set_etag(row[1].as<std::string>());
  *agreement->mutable_create_time() = Micros(row[3]);
  *agreement->mutable_update_time() = Micros(row[4]);
  return agreement;
}

// (id, content, status, create_micros, person, owner, municipality).
absl::StatusOr<v1::PlacementNeed> NeedFromRow(const pqxx::row& row) {
  absl::StatusOr<v1::PlacementNeed> need = Parse<v1::PlacementNeed>(row[1]);
  if (!need.ok()) return need;
  need->set_name(absl::StrCat("placementNeeds/", row[0].as<std::string>()));
  v1::PlacementNeedStatus status;
  if (v1::PlacementNeedStatus_Parse(row[2].as<std::string>(), &status)) need->set_status(status);
  *need->mutable_create_time() = Micros(row[3]);
  return need;
}

PersonalRecord RecordOf(const v1::Agreement& a) {
  return {a.name(), a.person(), a.municipality(), a.coordinator_organization()};
}

PersonalRecord RecordOf(const v1::PlacementNeed& n) {
  return {n.name(), n.person(), n.municipality(), n.owner_organization()};
}

// Decides `caller`'s `action` on `record` (null: there is none named
// `resource`) and appends the audit record within `tx`. Returns OK or the
// denial to answer with once `tx` has committed the record.
absl::Status Guard(pqxx::transaction_base& tx, const Caller& caller,
                   const PersonalRecord* record, absl::string_view resource, AccessAction action) {
  GuardedAccess access;
  if (record == nullptr) {
    access = MissingPlacementRecordAccess(caller, resource, action);
  } else {
    AccessRequest request;
    request.municipality = record->municipality;
    request.owner_organization = record->owner_organization;
    const AccessFacts facts =
        NeedsAccessFacts(caller.principal, request)
            ? ReadAccessFacts(tx, caller.principal.organization, record->person,
                              kPlacementDataCategory, kPlacementPurpose, caller.now)
            : AccessFacts{};
    access = DecideRecordAccess(caller, *record, action, facts);
  }
  AppendAudit(tx, access.audit);
  return StatusOf(access.decision, access.audit.resource);
}

// Decides a create about `person`: registered in the municipality (else
// INVALID_ARGUMENT naming `field`, returned to roll back), then the access
// rule. Returns the transaction's status; `denied` gets the denial to answer
// with.
absl::Status GuardCreate(pqxx::transaction_base& tx, const Caller& caller,
                         const PersonalRecord& record, absl::string_view field,
                         absl::Status& denied) {
  const AccessFacts facts = ReadAccessFacts(tx, caller.principal.organization, record.person,
                                            kPlacementDataCategory, kPlacementPurpose, caller.now);
  if (!MayHandlePersonalData(caller.principal)) {
    denied = RoleDeniedStatus();
  } else if (absl::Status registered = CheckPersonRegistered(facts, record.municipality, field);
             !registered.ok()) {
    return registered;
  }
  const GuardedAccess access = DecideRecordAccess(caller, record, AccessAction::kCreate, facts);
  AppendAudit(tx, access.audit);
  denied = StatusOf(access.decision, record.resource);
  return absl::OkStatus();
}

events::v1::Event AgreementEvent(const v1::Agreement& a, absl::string_view type, int64_t version,
                                 const Caller& caller) {
  v1::AgreementChanged payload;
  payload.set_agreement(a.name());
  payload.set_version(version);
  payload.set_person(a.person());
  payload.set_placement(a.placement());
  payload.set_employer(a.employer());
  payload.set_coordinator_organization(a.coordinator_organization());
  payload.set_status(v1::AgreementStatus_Name(a.status()));
  *payload.mutable_start_date() = a.period().start_date();
  *payload.mutable_end_date() = a.period().end_date();
  payload.set_follow_up_interval_days(a.follow_up_interval_days());
  if (a.end_reason() != v1::END_REASON_UNSPECIFIED) {
    payload.set_end_reason(v1::EndReason_Name(a.end_reason()));
  }
  if (a.outcome() != v1::OUTCOME_UNSPECIFIED) payload.set_outcome(v1::Outcome_Name(a.outcome()));
  if (a.has_ended_date()) *payload.mutable_ended_date() = a.ended_date();
  events::v1::Event event = MakeEvent(
      type, a.municipality(), a.name(), version, a.person(), kPlacementDataCategory, payload,
      {caller.principal.organization, caller.principal.user, caller.request_id, caller.now});
  // Subscribers see it as they would read the agreement: its owner, or with the
  // person's consent for placement.
  event.set_owner_organization(a.coordinator_organization());
  return event;
}

// Reads the personal record `id` with `select` and decides (and audits) the
// caller's read of it in the same transaction; a refusal and a missing record
// answer alike.
template <typename Record>
absl::StatusOr<Record> GuardedRead(PgPool& pool, const Caller& caller,
                                   const char* select, const std::string& id,
                                   absl::string_view collection,
                                   absl::StatusOr<Record> (*from_row)(const pqxx::row&),
                                   absl::Status missing) {
  absl::StatusOr<Record> record = std::move(missing);
  absl::Status status = pool.Transaction(caller.deadline, [&](pqxx::transaction_base& tx) {
    pqxx::result rows = tx.exec_prepared(select, id);
    if (!rows.empty()) {
      record = from_row(rows[0]);
      if (!record.ok()) return record.status();
    }
    const PersonalRecord personal = record.ok() ? RecordOf(*record) : PersonalRecord{};
    absl::Status access = Guard(tx, caller, record.ok() ? &personal : nullptr,
                                absl::StrCat(collection, id), AccessAction::kRead);
    if (!access.ok()) record = access;
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return record;
}

}  // namespace

// ---- Placement needs

absl::StatusOr<v1::PlacementNeed> PgPlacementRepository::CreateNeed(const Caller& caller,
                                                                    const CreateMeta& meta,
                                                                    const v1::PlacementNeed& need) {
  v1::PlacementNeed result;
  absl::Status denied;
  absl::Status status = pool_.Transaction(caller.deadline, [&](pqxx::transaction_base& tx) {
    const std::string id = NewUuid();
    PersonalRecord record{absl::StrCat("placementNeeds/", id), need.person(), meta.municipality,
                          meta.organization};
    if (absl::Status s = GuardCreate(tx, caller, record, "placement_need.person", denied);
        !s.ok()) {
      return s;
    }
    if (!denied.ok()) return absl::OkStatus();
    v1::PlacementNeed stored = need;
    stored.set_owner_organization(meta.organization);
    stored.set_municipality(meta.municipality);
    stored.clear_status();
    pqxx::result inserted = tx.exec_prepared(
        sql::kInsertNeed.name, id, meta.municipality, need.person(), meta.organization,
        PgBytes(Content(stored)), PgTimestamp(meta.time), meta.request_id, meta.fingerprint);
    if (inserted.empty()) {
      pqxx::result existing =
          tx.exec_prepared(sql::kSelectNeedByRequest.name, meta.organization, meta.request_id);
      if (existing.empty()) return absl::AbortedError("concurrent create; retry");
      if (existing[0][7].as<std::string>() != meta.fingerprint) {
        return RequestIdReused("placement need");
      }
      absl::StatusOr<v1::PlacementNeed> earlier = NeedFromRow(existing[0]);
      if (!earlier.ok()) return earlier.status();
      result = *std::move(earlier);
      return absl::OkStatus();
    }
    result = stored;
    result.set_name(record.resource);
    result.set_status(v1::PLACEMENT_NEED_STATUS_WAITING);
    *result.mutable_create_time() = TimestampOf(meta.time);
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  if (!denied.ok()) return denied;
  return result;
}

absl::StatusOr<v1::PlacementNeed> PgPlacementRepository::GetNeed(const Caller& caller,
                                                                 const std::string& id) {
  return GuardedRead(pool_, caller, sql::kSelectNeed.name, id, "placementNeeds/", NeedFromRow,
                     absl::NotFoundError("no such need"));
}

absl::StatusOr<std::vector<v1::MatchProfile>> PgPlacementRepository::ListWaitingProfiles(
    const std::string& municipality, absl::Time deadline) {
  std::vector<v1::MatchProfile> profiles;
  absl::Status status = pool_.Read(deadline, [&](pqxx::transaction_base& tx) {
    for (const pqxx::row& row : tx.exec_prepared(sql::kListWaitingProfiles.name, municipality)) {
      absl::StatusOr<v1::PlacementNeed> need = Parse<v1::PlacementNeed>(row[0]);
      if (!need.ok()) return need.status();
      profiles.push_back(need->profile());
    }
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return profiles;
}

// ---- Agreements

absl::StatusOr<v1::Agreement> PgPlacementRepository::CreateAgreement(
    const Caller& caller, const CreateMeta& meta, const std::string& placement_id,
    const AgreementBuild& build) {
  v1::Agreement result;
  absl::Status denied;
  absl::Status status = pool_.Transaction(caller.deadline, [&](pqxx::transaction_base& tx) {
    pqxx::result rows =
        tx.exec_prepared(sql::kSelectPlacement.name, placement_id, meta.municipality);
    if (rows.empty()) {
      return InvalidField("agreement.placement", "is not a placement in this municipality's bank");
    }
    absl::StatusOr<std::vector<v1::Placement>> placement =
        CompletePlacements(tx, rows, meta.municipality);
    if (!placement.ok()) return placement.status();
    absl::StatusOr<v1::Agreement> agreement = build((*placement)[0]);
    if (!agreement.ok()) return agreement.status();
    const std::string id = NewUuid();
    agreement->set_name(absl::StrCat("agreements/", id));
    if (absl::Status s = GuardCreate(tx, caller, RecordOf(*agreement), "agreement.person", denied);
        !s.ok()) {
      return s;
    }
    if (!denied.ok()) return absl::OkStatus();
    pqxx::result inserted = tx.exec_prepared(
        sql::kInsertAgreement.name, id, meta.municipality, agreement->person(), placement_id,
        meta.organization, v1::AgreementStatus_Name(agreement->status()),
        DayText(agreement->period().start_date()), DayText(agreement->period().end_date()),
        PgBytes(Content(*agreement)), PgTimestamp(meta.time), meta.request_id, meta.fingerprint);
    if (inserted.empty()) {
      pqxx::result existing =
          tx.exec_prepared(sql::kSelectAgreementByRequest.name, meta.organization, meta.request_id);
      if (existing.empty()) return absl::AbortedError("concurrent create; retry");
      if (existing[0][5].as<std::string>() != meta.fingerprint) {
        return RequestIdReused("agreement");
      }
      absl::StatusOr<v1::Agreement> earlier = AgreementFromRow(existing[0]);
      if (!earlier.ok()) return earlier.status();
      result = *std::move(earlier);
      return absl::OkStatus();
    }
    outbox_.Append(tx, AgreementEvent(*agreement, "placement.agreement.proposed", 1, caller));
    result = *std::move(agreement);
    result.set_etag("1");
    *result.mutable_create_time() = TimestampOf(meta.time);
    *result.mutable_update_time() = result.create_time();
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  if (!denied.ok()) return denied;
  return result;
}

absl::StatusOr<v1::Agreement> PgPlacementRepository::GetAgreement(const Caller& caller,
                                                                  const std::string& id) {
  return GuardedRead(pool_, caller, sql::kSelectAgreement.name, id, "agreements/",
                     AgreementFromRow, absl::NotFoundError("no such agreement"));
}

absl::StatusOr<std::vector<v1::Agreement>> PgPlacementRepository::ListAgreements(
    const Caller& caller, const std::string& status_filter, const std::optional<TimeKey>& before,
    int limit) {
  std::vector<v1::Agreement> agreements;
  const auto [time, id] = KeyParameters(before);
  absl::Status status = pool_.Transaction(caller.deadline, [&](pqxx::transaction_base& tx) {
    for (const pqxx::row& row : tx.exec_prepared(
             sql::kListAgreements.name, caller.principal.organization,
             caller.principal.municipality, status_filter, time, id, limit)) {
      absl::StatusOr<v1::Agreement> agreement = AgreementFromRow(row);
      if (!agreement.ok()) return agreement.status();
      const PersonalRecord record = RecordOf(*agreement);
      // The query reads only the caller's own agreements in the caller's
      // municipality, so the rule permits each one; it still decides every
      // read, for its audit record. (A row left out here would also leave the
      // page short, and a short page says that none follows.)
      if (!Guard(tx, caller, &record, record.resource, AccessAction::kRead).ok()) continue;
      agreements.push_back(*std::move(agreement));
    }
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return agreements;
}

absl::StatusOr<v1::Agreement> PgPlacementRepository::StepAgreement(const Caller& caller,
                                                                   const std::string& id,
                                                                   const std::string& etag,
                                                                   const AgreementStepFn& step) {
  v1::Agreement result;
  absl::Status denied;
  absl::Status status = pool_.Transaction(caller.deadline, [&](pqxx::transaction_base& tx) {
    pqxx::result rows = tx.exec_prepared(sql::kSelectAgreementForUpdate.name, id);
    absl::StatusOr<v1::Agreement> current = absl::NotFoundError("no such agreement");
    if (!rows.empty()) {
      current = AgreementFromRow(rows[0]);
      if (!current.ok()) return current.status();
    }
    const PersonalRecord record = current.ok() ? RecordOf(*current) : PersonalRecord{};
    // A denial commits its audit record; a permitted step that then fails
    // rolls back with it, having changed and shown nothing.
    denied = Guard(tx, caller, current.ok() ? &record : nullptr, absl::StrCat("agreements/", id),
                   AccessAction::kUpdate);
    if (!denied.ok()) return absl::OkStatus();
    if (!etag.empty() && etag != current->etag()) {
      return EtagMismatch(current->name(),
                          "the agreement has changed since this etag was "
                          "read; get it again");
    }
    absl::StatusOr<AgreementStep> next = step(*current);
    if (!next.ok()) return next.status();
    v1::Agreement& a = next->agreement;
    if (a.status() == v1::AGREEMENT_STATUS_SIGNED &&
        current->status() != v1::AGREEMENT_STATUS_SIGNED) {
      // Signings for one placement's seats take turns on the placement's
      // row: the second sees the first's committed agreement and counts its
      // seat.
      const std::string placement_id(ResourceId(a.placement(), "placements"));
      pqxx::result placement_rows =
          tx.exec_prepared(sql::kSelectPlacementForUpdate.name, placement_id, a.municipality());
      if (placement_rows.empty()) return absl::InternalError("an agreement's placement is missing");
      absl::StatusOr<v1::Placement> placement = PlacementFromRow(placement_rows[0]);
      if (!placement.ok()) return placement.status();
      if (absl::Status free = CheckSeatFree(*placement, TakenOf(tx, placement_id, id), a);
          !free.ok()) {
        return free;
      }
      tx.exec_prepared(sql::kMarkNeedsPlaced.name, a.person(), a.municipality());
    }
    pqxx::result updated =
        tx.exec_prepared(sql::kUpdateAgreement.name, id, v1::AgreementStatus_Name(a.status()),
                         PgBytes(Content(a)), PgTimestamp(caller.now));
    const int64_t version = updated[0][0].as<int64_t>();
    outbox_.Append(tx, AgreementEvent(a, next->event_type, version, caller));
    result = a;
    result.set_etag(absl::StrCat(version));
    *result.mutable_update_time() = TimestampOf(caller.now);
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  if (!denied.ok()) return denied;
  return result;
}

}  // namespace samplan::placement
