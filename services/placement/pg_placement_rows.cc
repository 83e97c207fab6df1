#include "services/placement/pg_placement_rows.h"

#include <google/protobuf/util/time_util.h>

#include "absl/strings/str_cat.h"
#include "common/pg.h"
#include "common/status.h"
#include "services/placement/sql.h"

namespace samplan::placement {
namespace {

using ::google::protobuf::util::TimeUtil;

absl::CivilDay ParseDay(const pqxx::field& field) {
  absl::CivilDay day;
  absl::ParseCivilTime(field.as<std::string>(), &day);
  return day;
}

}  // namespace

google::protobuf::Timestamp Micros(const pqxx::field& field) {
  return TimeUtil::MicrosecondsToTimestamp(field.as<int64_t>());
}

google::protobuf::Timestamp TimestampOf(absl::Time time) {
  return TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(time));
}

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

std::pair<std::string, std::string> KeyParameters(const std::optional<TimeKey>& key) {
  if (!key.has_value()) return {"", ""};
  return {PgTimestamp(key->time), key->id};
}

std::map<std::string, std::vector<DayRange>, std::less<>> TakenFromRows(
    const pqxx::result& rows, absl::string_view except) {
  std::map<std::string, std::vector<DayRange>, std::less<>> taken;
  for (const pqxx::row& row : rows) {
    if (row[3].as<std::string>() == except) continue;
    taken[absl::StrCat("placements/", row[0].as<std::string>())].push_back(
        {ParseDay(row[1]), ParseDay(row[2])});
  }
  return taken;
}

std::vector<DayRange> TakenOf(pqxx::transaction_base& tx, const std::string& placement_id,
                              absl::string_view except) {
  auto taken =
      TakenFromRows(tx.exec_prepared(sql::kSeatsTaken.name, PgTextArray({placement_id})), except);
  auto it = taken.find(absl::StrCat("placements/", placement_id));
  return it == taken.end() ? std::vector<DayRange>{} : it->second;
}

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

absl::StatusOr<v1::Placement> PlacementFromRow(const pqxx::row& row) {
  absl::StatusOr<v1::Placement> placement = Parse<v1::Placement>(row[2]);
  if (!placement.ok()) return placement;
  placement->set_name(absl::StrCat("placements/", row[0].as<std::string>()));
  placement->set_etag(row[1].as<std::string>());
  *placement->mutable_create_time() = Micros(row[3]);
  *placement->mutable_update_time() = Micros(row[4]);
  return placement;
}

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

absl::Status RequestIdReused(absl::string_view what) {
  return InvalidField("request_id", absl::StrCat("was already used by this organization for a "
                                                 "different ",
                                                 what, "; send a new request id"));
}

}  // namespace samplan::placement
