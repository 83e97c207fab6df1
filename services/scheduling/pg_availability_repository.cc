#include "services/scheduling/pg_availability_repository.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "services/scheduling/sql.h"

namespace samplan::scheduling {
namespace {

absl::StatusOr<v1::WorkingHours> HoursFromRow(const std::string& user, const pqxx::field& version,
                                              const pqxx::field& content) {
  v1::WorkingHours hours;
  const pqxx::binarystring bytes(content);
  if (!hours.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::DataLossError("stored working hours could not be read");
  }
  hours.set_name(absl::StrCat(user, "/workingHours"));
  hours.set_etag(version.as<std::string>());
  hours.set_time_zone("Europe/Stockholm");
  return hours;
}

// A PostgreSQL array literal of timestamps.
std::string TimestampArray(const std::vector<Interval>& intervals, bool starts) {
  std::vector<std::string> values;
  values.reserve(intervals.size());
  for (const Interval& i : intervals) values.push_back(PgTimestamp(starts ? i.start : i.end));
  return PgTextArray(values);
}

}  // namespace

absl::StatusOr<v1::WorkingHours> PgAvailabilityRepository::SetWorkingHours(
    const std::string& user, const std::string& municipality, const v1::WorkingHours& hours,
    const std::string& etag, absl::Time now, absl::Time deadline) {
  int64_t expected = 0;
  if (!etag.empty() && (!absl::SimpleAtoi(etag, &expected) || expected < 1)) {
    return EtagMismatch(absl::StrCat(user, "/workingHours"), "is not an etag this service gave");
  }
  v1::WorkingHours stored = hours;
  stored.clear_name();
  stored.clear_etag();
  stored.clear_is_default();
  stored.clear_time_zone();
  int64_t version = 0;
  absl::Status status = pool_.Transaction(deadline, [&](pqxx::transaction_base& tx) {
    pqxx::result rows = tx.exec_prepared(sql::kUpsertWorkingHours.name, user, municipality,
                                         PgBytes(stored.SerializeAsString()), PgTimestamp(now),
                                         expected);
    if (rows.empty()) {
      return EtagMismatch(absl::StrCat(user, "/workingHours"),
                          "the working hours have changed since this etag was read; get them "
                          "again");
    }
    version = rows[0][0].as<int64_t>();
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  stored.set_name(absl::StrCat(user, "/workingHours"));
  stored.set_etag(absl::StrCat(version));
  stored.set_time_zone("Europe/Stockholm");
  return stored;
}

absl::StatusOr<std::optional<v1::WorkingHours>> PgAvailabilityRepository::GetWorkingHours(
    const std::string& user, const std::string& municipality, absl::Time deadline) {
  std::optional<v1::WorkingHours> hours;
  absl::Status status = pool_.Read(deadline, [&](pqxx::transaction_base& tx) {
    pqxx::result rows = tx.exec_prepared(sql::kSelectWorkingHours.name, user, municipality);
    if (rows.empty()) return absl::OkStatus();
    absl::StatusOr<v1::WorkingHours> read = HoursFromRow(user, rows[0][0], rows[0][1]);
    if (!read.ok()) return read.status();
    hours = *std::move(read);
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return hours;
}

absl::StatusOr<int> PgAvailabilityRepository::ReplaceBusy(const std::string& user,
                                                          const std::string& municipality,
                                                          const std::string& source,
                                                          absl::Time from, absl::Time to,
                                                          const std::vector<Interval>& busy,
                                                          absl::Time deadline) {
  absl::Status status = pool_.Transaction(deadline, [&](pqxx::transaction_base& tx) {
    tx.exec_prepared(sql::kDeleteBusy.name, user, source, PgTimestamp(from), PgTimestamp(to));
    if (!busy.empty()) {
      tx.exec_prepared(sql::kInsertBusy.name, user, source, TimestampArray(busy, true),
                       TimestampArray(busy, false), municipality);
    }
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return static_cast<int>(busy.size());
}

absl::StatusOr<std::map<std::string, StoredAvailability>>
PgAvailabilityRepository::LoadAvailability(const std::vector<std::string>& users,
                                           const std::string& municipality, absl::Time from,
                                           absl::Time to,
                                           absl::Time deadline) {
  std::map<std::string, StoredAvailability> out;
  for (const std::string& user : users) out[user];
  absl::Status status = pool_.Transaction(deadline, [&](pqxx::transaction_base& tx) {
    for (const pqxx::row& row : tx.exec_prepared(sql::kSelectWorkingHoursOf.name,
                                                 PgTextArray(users), municipality)) {
      const std::string user = row[0].as<std::string>();
      absl::StatusOr<v1::WorkingHours> hours = HoursFromRow(user, row[1], row[2]);
      if (!hours.ok()) return hours.status();
      out[user].working_hours = *std::move(hours);
    }
    for (const pqxx::row& row : tx.exec_prepared(sql::kSelectBusyOf.name, PgTextArray(users),
                                                 PgTimestamp(from), PgTimestamp(to),
                                                 municipality)) {
      out[row[0].as<std::string>()].busy.push_back(
          {absl::FromUnixMicros(row[1].as<int64_t>()), absl::FromUnixMicros(row[2].as<int64_t>())});
    }
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return out;
}

}  // namespace samplan::scheduling
