// PgPlacementRepository, the bank: employers, their contact log and
// placements, within the caller's municipality. Not personal data; placement
// needs and agreements are in pg_needs_and_agreements.cc.

#include "services/placement/pg_placement_repository.h"

#include <google/protobuf/util/time_util.h>

#include "absl/strings/str_cat.h"
#include "common/ids.h"
#include "common/status.h"
#include "services/placement/pg_placement_rows.h"
#include "services/placement/sql.h"

namespace samplan {
const std::vector<Migration>& placement_migrations();
}  // namespace samplan

namespace samplan::placement {
namespace {

using ::google::protobuf::util::TimeUtil;

absl::Status NoEmployer(absl::string_view id) {
  return absl::NotFoundError(absl::StrCat("employers/", id, " is not in this municipality's bank"));
}

absl::Status NoPlacement(absl::string_view id) {
  return absl::NotFoundError(
      absl::StrCat("placements/", id, " is not in this municipality's bank"));
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

}  // namespace samplan::placement
