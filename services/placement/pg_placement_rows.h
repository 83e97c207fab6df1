#ifndef SAMPLAN_SERVICES_PLACEMENT_PG_PLACEMENT_ROWS_H_
#define SAMPLAN_SERVICES_PLACEMENT_PG_PLACEMENT_ROWS_H_

// Rows of the placement schema as records and back: what the two halves of
// PgPlacementRepository (pg_placement_repository.cc, the bank;
// pg_needs_and_agreements.cc, the personal data) share. Internal to them.

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <pqxx/pqxx>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/protobuf/timestamp.pb.h"
#include "samplan/placement/v1/placement.pb.h"
#include "services/placement/matching.h"
#include "services/placement/placement_repository.h"

namespace samplan::placement {

template <typename Message>
absl::StatusOr<Message> Parse(const pqxx::field& field) {
  Message message;
  const pqxx::binarystring bytes(field);
  if (!message.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::DataLossError("a stored record could not be read");
  }
  return message;
}

google::protobuf::Timestamp Micros(const pqxx::field& field);
google::protobuf::Timestamp TimestampOf(absl::Time time);

// What is stored in `content`: the record without what lives in columns.
template <typename Message>
std::string Content(Message message) {
  message.clear_name();
  message.clear_etag();
  message.clear_create_time();
  message.clear_update_time();
  return message.SerializeAsString();
}

// (id, version, content, create_micros, update_micros, last_contact_micros).
absl::StatusOr<v1::Employer> EmployerFromRow(const pqxx::row& row);

// (id, version, content, create_micros, update_micros, employer_id,
// municipality).
absl::StatusOr<v1::Placement> PlacementFromRow(const pqxx::row& row);

// The parameters a list statement takes for where the previous page ended:
// ('', '') on the first page.
std::pair<std::string, std::string> KeyParameters(const std::optional<TimeKey>& key);

// The periods of the agreements that hold seats, by placement name, from rows
// of (placement_id, start, end, agreement_id); `except` (an agreement id) left
// out.
std::map<std::string, std::vector<DayRange>, std::less<>> TakenFromRows(
    const pqxx::result& rows, absl::string_view except = "");
// The periods of the agreements that hold seats of `placement_id`, but `except`.
std::vector<DayRange> TakenOf(pqxx::transaction_base& tx, const std::string& placement_id,
                              absl::string_view except = "");

// Fills the output-only fields a placement gets from its employer and
// agreements.
void Complete(v1::Placement& placement, const v1::Employer& employer,
              const std::vector<DayRange>& taken);

// Reads placement rows and completes them with their employers and seats taken.
absl::StatusOr<std::vector<v1::Placement>> CompletePlacements(pqxx::transaction_base& tx,
                                                              const pqxx::result& rows,
                                                              const std::string& municipality);

// INVALID_ARGUMENT naming request_id: the organization used it for another `what`.
absl::Status RequestIdReused(absl::string_view what);

}  // namespace samplan::placement

#endif  // SAMPLAN_SERVICES_PLACEMENT_PG_PLACEMENT_ROWS_H_
