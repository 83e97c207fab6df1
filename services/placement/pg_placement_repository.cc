#include "services/placement/pg_placement_repository.h"

#include <google/protobuf/util/time_util.h>

#include "absl/strings/str_cat.h"
#include "common/ids.h"
#include "common/status.h"
#include "samplan/placement/v1/events.pb.h"
#include "services/placement/sql.h"

namespace samplan {
const std::vector<Migration>& placement_migrations();
}  // namespace samplan

namespace samplan::placement {
namespace {

using ::google::protobuf::util::TimeUtil;

template <typename Message>
absl::StatusOr<Message> Parse(const pqxx::field& field) {
  Message message;
  const pqxx::binarystring bytes(field);
  if (!message.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::DataLossError("a stored record could not be read");
  }
  return message;
}

google::protobuf::Timestamp Micros(const pqxx::field& field) {
  return TimeUtil::MicrosecondsToTimestamp(field.as<int64_t>());
}

google::protobuf::Timestamp TimestampOf(absl::Time time) {
  return TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(time));
}

absl::CivilDay ParseDay(const pqxx::field& field) {
  absl::CivilDay day;
  absl::ParseCivilTime(field.as<std::string>(), &day);
  return day;
}

std::string DayText(const google::type::Date& date) { return absl::FormatCivilTime(DayOf(date)); }

// What is stored in `content`: the record without what lives in columns.
template <typename Message>
std::string Content(Message message) {
  message.clear_name();
  message.clear_etag();
  message.clear_create_time();
  message.clear_update_time();
  return message.SerializeAsString();
}
std::string Content(v1::PlacementNeed need) {
  need.clear_name();
  need.clear_create_time();
  need.clear_status();
  return need.SerializeAsString();
}

// (id, version, content, create_micros, update_micros, last_contact_micros).
absl::StatusOr<v1::Employer> EmployerFromRow(const pqxx::row& row) {
  absl::StatusOr<v1::Employer> employer = Parse<v1::Employer>(row[2]);
  if (!employer.ok()) return employer;
  employer->set_name(absl::StrCat("employers/", row[0].as<std::string>()));
  employer->set_etag(row[1].as<std::string>());
  *employer->mutable_create_time() = Micros(row[3]);
  *employer->mutable_update_time() = Micros(row[4]);
  if (!row[5].is_null()) *employer->mutable_last_contact_time() = Micros(row[5]);
  return employer;
}

// The parameters a list statement takes for where the previous page ended:
// ('', '') on the first page.
std::pair<std::string, std::string> KeyParameters(const std::optional<TimeKey>& key) {
  if (!key.has_value()) return {"", ""};
  return {PgTimestamp(key->time), key->id};
}

absl::Status NoEmployer(absl::string_view id) {
  return absl::NotFoundError(absl::StrCat("employers/", id, " is not in this municipality's bank"));
}

absl::Status NoPlacement(absl::string_view id) {
  return absl::NotFoundError(
      absl::StrCat("placements/", id, " is not in this municipality's bank"));
}

// The periods of the agreements that hold seats, by placement name, from rows
// of (placement_id, start, end, agreement_id); `except` (an agreement id) left
// out.
std::map<std::string, std::vector<DayRange>, std::less<>> TakenFromRows(
    const pqxx::result& rows, absl::string_view except = "") {
  std::map<std::string, std::vector<DayRange>, std::less<>> taken;
  for (const pqxx::row& row : rows) {
    if (row[3].as<std::string>() == except) continue;
    taken[absl::StrCat("placements/", row[0].as<std::string>())].push_back(
        {ParseDay(row[1]), ParseDay(row[2])});
  }
  return taken;
}

std::vector<DayRange> TakenOf(pqxx::transaction_base& tx, const std::string& placement_id,
                              absl::string_view except = "") {
  auto taken =
      TakenFromRows(tx.exec_prepared(sql::kSeatsTaken.name, PgTextArray({placement_id})), except);
  auto it = taken.find(absl::StrCat("placements/", placement_id));
  return it == taken.end() ? std::vector<DayRange>{} : it->second;
}

// Fills the output-only fields a placement gets from its employer and
// agreements.
void Complete(v1::Placement& placement, const v1::Employer& employer,
              const std::vector<DayRange>& taken) {
  placement.set_industry(employer.industry());
  for (const v1::Workplace& w : employer.workplaces()) {
    if (w.id() == placement.workplace()) *placement.mutable_location() = w.location();
  }
  int most = 0;
  for (const v1::DateRange& range : placement.availability()) {
    most = std::max(most, placement.seats() - FreeSeats(placement.seats(), taken, RangeOf(range)));
  }
  placement.set_seats_taken(most);
}

// (id, version, content, create_micros, update_micros, employer_id,
// municipality).
absl::StatusOr<v1::Placement> PlacementFromRow(const pqxx::row& row) {
  absl::StatusOr<v1::Placement> placement = Parse<v1::Placement>(row[2]);
  if (!placement.ok()) return placement;
  placement->set_name(absl::StrCat("placements/", row[0].as<std::string>()));
  placement->set_etag(row[1].as<std::string>());
  *placement->mutable_create_time() = Micros(row[3]);
  *placement->mutable_update_time() = Micros(row[4]);
  return placement;
}

// Reads placement rows and completes them with their employers and seats taken.
absl::StatusOr<std::vector<v1::Placement>> CompletePlacements(pqxx::transaction_base& tx,
                                                              const pqxx::result& rows,
                                                              const std::string& municipality) {
  std::vector<v1::Placement> placements;
  std::vector<std::string> ids;
  for (const pqxx::row& row : rows) {
    absl::StatusOr<v1::Placement> placement = PlacementFromRow(row);
    if (!placement.ok()) return placement.status();
    placements.push_back(*std::move(placement));
    ids.push_back(row[0].as<std::string>());
  }
  if (placements.empty()) return placements;
  std::map<std::string, v1::Employer, std::less<>> employers;
  for (const pqxx::row& row : tx.exec_prepared(sql::kListAllEmployers.name, municipality)) {
    absl::StatusOr<v1::Employer> employer = EmployerFromRow(row);
    if (!employer.ok()) return employer.status();
    employers[employer->name()] = *std::move(employer);
  }
  auto taken = TakenFromRows(tx.exec_prepared(sql::kSeatsTaken.name, PgTextArray(ids)));
  static const std::vector<DayRange> kNone;
  for (v1::Placement& placement : placements) {
    auto employer = employers.find(placement.employer());
    auto held = taken.find(placement.name());
    if (employer != employers.end()) {
      Complete(placement, employer->second, held == taken.end() ? kNone : held->second);
    }
  }
  return placements;
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

absl::Status RequestIdReused(absl::string_view what) {
  return InvalidField("request_id", absl::StrCat("was already used by this organization for a "
                                                 "different ",
                                                 what, "; send a new request id"));
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

std::vector<MigrationSet> PlacementMigrationSets() {
  return PublishingServiceMigrationSets("placement", placement_migrations());
}

std::vector<PreparedStatement> PlacementRepositoryStatements(const Outbox& outbox) {
  return RepositoryStatements(sql::kAll, outbox);
}

// ---- Employers

absl::StatusOr<v1::Employer> PgPlacementRepository::CreateEmployer(const CreateMeta& meta,
                                                                   const v1::Employer& employer) {
  v1::Employer result;
  absl::Status status = pool_.Transaction(meta.deadline, [&](pqxx::transaction_base& tx) {
    const std::string id = NewUuid();
    pqxx::result inserted;
    try {
      inserted = tx.exec_prepared(
          sql::kInsertEmployer.name, id, meta.municipality, employer.organization_number(),
          employer.display_name(), employer.industry(), PgBytes(Content(employer)),
          PgTimestamp(meta.time), meta.organization, meta.request_id, meta.fingerprint);
    } catch (const pqxx::unique_violation&) {
      return absl::AlreadyExistsError(
          "employer.organization_number: an employer with this "
          "organisationsnummer is already "
          "in the municipality's bank");
    }
    if (inserted.empty()) {
      pqxx::result existing =
          tx.exec_prepared(sql::kSelectEmployerByRequest.name, meta.organization, meta.request_id);
      if (existing.empty()) return absl::AbortedError("concurrent create; retry");
      if (existing[0][6].as<std::string>() != meta.fingerprint ||
          existing[0][7].as<std::string>() != meta.municipality) {
        return RequestIdReused("employer");
      }
      absl::StatusOr<v1::Employer> stored = EmployerFromRow(existing[0]);
      if (!stored.ok()) return stored.status();
      result = *std::move(stored);
      return absl::OkStatus();
    }
    result = employer;
    result.set_name(absl::StrCat("employers/", id));
    result.set_etag("1");
    *result.mutable_create_time() = TimestampOf(meta.time);
    *result.mutable_update_time() = result.create_time();
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return result;
}

absl::StatusOr<v1::Employer> PgPlacementRepository::GetEmployer(const std::string& municipality,
                                                                const std::string& id,
                                                                absl::Time deadline) {
  absl::StatusOr<v1::Employer> employer = NoEmployer(id);
  absl::Status status = pool_.Read(deadline, [&](pqxx::transaction_base& tx) {
    pqxx::result rows = tx.exec_prepared(sql::kSelectEmployer.name, id, municipality);
    if (!rows.empty()) employer = EmployerFromRow(rows[0]);
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return employer;
}

absl::StatusOr<std::vector<v1::Employer>> PgPlacementRepository::ListEmployers(
    const std::string& municipality, const std::string& industry,
    const std::optional<NameKey>& after, int limit, absl::Time deadline) {
  std::vector<v1::Employer> employers;
  const NameKey from = after.value_or(NameKey{});
  absl::Status status = pool_.Read(deadline, [&](pqxx::transaction_base& tx) {
    for (const pqxx::row& row : tx.exec_prepared(sql::kListEmployers.name, municipality, industry,
                                                 from.display_name, from.id, limit)) {
      absl::StatusOr<v1::Employer> employer = EmployerFromRow(row);
      if (!employer.ok()) return employer.status();
      employers.push_back(*std::move(employer));
    }
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return employers;
}

absl::StatusOr<v1::Employer> PgPlacementRepository::UpdateEmployer(const std::string& municipality,
                                                                   const std::string& id,
                                                                   absl::Time time,
                                                                   absl::Time deadline,
                                                                   const EmployerChange& change) {
  v1::Employer result;
  absl::Status status = pool_.Transaction(deadline, [&](pqxx::transaction_base& tx) {
    pqxx::result rows = tx.exec_prepared(sql::kSelectEmployerForUpdate.name, id, municipality);
    if (rows.empty()) return NoEmployer(id);
    absl::StatusOr<v1::Employer> current = EmployerFromRow(rows[0]);
    if (!current.ok()) return current.status();
    std::vector<std::string> in_use;
    for (const pqxx::row& row : tx.exec_prepared(sql::kListPlacementsOfEmployer.name, id)) {
      absl::StatusOr<v1::Placement> placement = PlacementFromRow(row);
      if (!placement.ok()) return placement.status();
      in_use.push_back(placement->workplace());
    }
    absl::StatusOr<std::optional<v1::Employer>> next = change(*current, in_use);
    if (!next.ok()) return next.status();
    if (!next->has_value()) {
      result = *std::move(current);
      return absl::OkStatus();
    }
    v1::Employer& e = **next;
    pqxx::result updated;
    try {
      updated =
          tx.exec_prepared(sql::kUpdateEmployer.name, id, e.organization_number(), e.display_name(),
                           e.industry(), PgBytes(Content(e)), PgTimestamp(time));
    } catch (const pqxx::unique_violation&) {
      return absl::AlreadyExistsError(
          "employer.organization_number: another employer in the bank has "
          "this number");
    }
    result = e;
    result.set_etag(updated[0][0].as<std::string>());
    *result.mutable_update_time() = TimestampOf(time);
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return result;
}

absl::StatusOr<v1::Contact> PgPlacementRepository::LogContact(const std::string& municipality,
                                                              const std::string& employer_id,
                                                              const v1::Contact& contact,
                                                              absl::Time deadline) {
  v1::Contact result = contact;
  absl::Status status = pool_.Transaction(deadline, [&](pqxx::transaction_base& tx) {
    if (tx.exec_prepared(sql::kSelectEmployerForUpdate.name, employer_id, municipality).empty()) {
      return NoEmployer(employer_id);
    }
    const std::string id = NewUuid();
    result.set_name(absl::StrCat("employers/", employer_id, "/contacts/", id));
    tx.exec_prepared(sql::kInsertContact.name, id, employer_id,
                     PgTimestamp(absl::FromUnixMicros(
                         TimeUtil::TimestampToMicroseconds(contact.contact_time()))),
                     PgBytes(result.SerializeAsString()));
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return result;
}

absl::StatusOr<std::vector<v1::Contact>> PgPlacementRepository::ListContacts(
    const std::string& municipality, const std::string& employer_id,
    const std::optional<TimeKey>& before, int limit, absl::Time deadline) {
  std::vector<v1::Contact> contacts;
  const auto [time, id] = KeyParameters(before);
  absl::Status status = pool_.Transaction(deadline, [&](pqxx::transaction_base& tx) {
    if (tx.exec_prepared(sql::kSelectEmployer.name, employer_id, municipality).empty()) {
      return NoEmployer(employer_id);
    }
    for (const pqxx::row& row :
         tx.exec_prepared(sql::kListContacts.name, employer_id, time, id, limit)) {
      absl::StatusOr<v1::Contact> contact = Parse<v1::Contact>(row[1]);
      if (!contact.ok()) return contact.status();
      contacts.push_back(*std::move(contact));
    }
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return contacts;
}

absl::StatusOr<std::vector<v1::Employer>> PgPlacementRepository::ListColdEmployers(
    const std::string& municipality, absl::Time cutoff, int limit, absl::Time deadline) {
  std::vector<v1::Employer> employers;
  absl::Status status = pool_.Read(deadline, [&](pqxx::transaction_base& tx) {
    for (const pqxx::row& row :
         tx.exec_prepared(sql::kListColdEmployers.name, municipality, PgTimestamp(cutoff), limit)) {
      absl::StatusOr<v1::Employer> employer = EmployerFromRow(row);
      if (!employer.ok()) return employer.status();
      employers.push_back(*std::move(employer));
    }
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return employers;
}

// ---- Placements

absl::StatusOr<v1::Placement> PgPlacementRepository::CreatePlacement(const CreateMeta& meta,
                                                                     const std::string& employer_id,
                                                                     const PlacementBuild& build) {
  v1::Placement result;
  absl::Status status = pool_.Transaction(meta.deadline, [&](pqxx::transaction_base& tx) {
    pqxx::result existing =
        tx.exec_prepared(sql::kSelectPlacementByRequest.name, meta.organization, meta.request_id);
    if (!existing.empty()) {
      if (existing[0][7].as<std::string>() != meta.fingerprint ||
          existing[0][6].as<std::string>() != meta.municipality) {
        return RequestIdReused("placement");
      }
      absl::StatusOr<std::vector<v1::Placement>> stored =
          CompletePlacements(tx, existing, meta.municipality);
      if (!stored.ok()) return stored.status();
      result = (*stored)[0];
      return absl::OkStatus();
    }
    pqxx::result rows =
        tx.exec_prepared(sql::kSelectEmployerForUpdate.name, employer_id, meta.municipality);
    if (rows.empty()) {
      return InvalidField("placement.employer", "is not an employer in this municipality's bank");
    }
    absl::StatusOr<v1::Employer> employer = EmployerFromRow(rows[0]);
    if (!employer.ok()) return employer.status();
    absl::StatusOr<v1::Placement> placement = build(*employer);
    if (!placement.ok()) return placement.status();
    const std::string id = NewUuid();
    pqxx::result inserted = tx.exec_prepared(sql::kInsertPlacement.name, id, meta.municipality,
                                             employer_id, v1::PlacementKind_Name(placement->kind()),
                                             v1::PlacementStatus_Name(placement->status()),
                                             PgBytes(Content(*placement)), PgTimestamp(meta.time),
                                             meta.organization, meta.request_id, meta.fingerprint);
    if (inserted.empty()) return absl::AbortedError("concurrent create; retry");
    result = *std::move(placement);
    result.set_name(absl::StrCat("placements/", id));
    result.set_etag("1");
    *result.mutable_create_time() = TimestampOf(meta.time);
    *result.mutable_update_time() = result.create_time();
    Complete(result, *employer, {});
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return result;
}

absl::StatusOr<v1::Placement> PgPlacementRepository::GetPlacement(const std::string& municipality,
                                                                  const std::string& id,
                                                                  absl::Time deadline) {
  v1::Placement result;
  absl::Status status = pool_.Transaction(deadline, [&](pqxx::transaction_base& tx) {
    pqxx::result rows = tx.exec_prepared(sql::kSelectPlacement.name, id, municipality);
    if (rows.empty()) return NoPlacement(id);
    absl::StatusOr<std::vector<v1::Placement>> placements =
        CompletePlacements(tx, rows, municipality);
    if (!placements.ok()) return placements.status();
    result = (*placements)[0];
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return result;
}

absl::StatusOr<std::vector<v1::Placement>> PgPlacementRepository::ListPlacements(
    const PlacementQuery& query, absl::Time deadline) {
  std::vector<v1::Placement> result;
  const auto [time, id] = KeyParameters(query.after);
  absl::Status status = pool_.Transaction(deadline, [&](pqxx::transaction_base& tx) {
    pqxx::result rows =
        tx.exec_prepared(sql::kListPlacements.name, query.municipality, query.employer_id,
                         query.kind, query.status, time, id, query.limit);
    absl::StatusOr<std::vector<v1::Placement>> placements =
        CompletePlacements(tx, rows, query.municipality);
    if (!placements.ok()) return placements.status();
    result = *std::move(placements);
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return result;
}

absl::StatusOr<v1::Placement> PgPlacementRepository::UpdatePlacement(
    const std::string& municipality, const std::string& id, absl::Time time, absl::Time deadline,
    const PlacementChange& change) {
  v1::Placement result;
  absl::Status status = pool_.Transaction(deadline, [&](pqxx::transaction_base& tx) {
    pqxx::result rows = tx.exec_prepared(sql::kSelectPlacementForUpdate.name, id, municipality);
    if (rows.empty()) return NoPlacement(id);
    absl::StatusOr<v1::Placement> current = PlacementFromRow(rows[0]);
    if (!current.ok()) return current.status();
    pqxx::result employer_rows =
        tx.exec_prepared(sql::kSelectEmployer.name, rows[0][5].as<std::string>(), municipality);
    if (employer_rows.empty()) return absl::InternalError("a placement's employer is missing");
    absl::StatusOr<v1::Employer> employer = EmployerFromRow(employer_rows[0]);
    if (!employer.ok()) return employer.status();
    const std::vector<DayRange> taken = TakenOf(tx, id);
    Complete(*current, *employer, taken);
    absl::StatusOr<std::optional<v1::Placement>> next = change(*current, *employer, taken);
    if (!next.ok()) return next.status();
    if (!next->has_value()) {
      result = *std::move(current);
      return absl::OkStatus();
    }
    v1::Placement& p = **next;
    v1::Placement stored = p;
    stored.clear_seats_taken();
    stored.clear_location();
    stored.clear_industry();
    pqxx::result updated = tx.exec_prepared(
        sql::kUpdatePlacement.name, id, v1::PlacementKind_Name(p.kind()),
        v1::PlacementStatus_Name(p.status()), PgBytes(Content(stored)), PgTimestamp(time));
    result = p;
    result.set_etag(updated[0][0].as<std::string>());
    *result.mutable_update_time() = TimestampOf(time);
    Complete(result, *employer, taken);
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return result;
}

absl::StatusOr<Bank> PgPlacementRepository::LoadOpenPlacements(const std::string& municipality,
                                                               absl::Time deadline) {
  Bank bank;
  absl::Status status = pool_.Transaction(deadline, [&](pqxx::transaction_base& tx) {
    pqxx::result rows = tx.exec_prepared(sql::kListOpenPlacements.name, municipality);
    absl::StatusOr<std::vector<v1::Placement>> placements =
        CompletePlacements(tx, rows, municipality);
    if (!placements.ok()) return placements.status();
    bank.placements = *std::move(placements);
    bank.taken = TakenFromRows(tx.exec_prepared(sql::kSeatsTakenInMunicipality.name, municipality));
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return bank;
}

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
