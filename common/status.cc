#include "common/status.h"

#include <pqxx/except>
#include <string_view>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/log.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"

namespace samplan {
namespace {

constexpr absl::string_view kTypeUrlPrefix = "type.googleapis.com/";
constexpr absl::string_view kErrorDomain = "samplan.se";

template <typename Message>
std::string TypeUrl() {
  return absl::StrCat(kTypeUrlPrefix, Message::descriptor()->full_name());
}

template <typename Message>
void AttachDetail(absl::Status& status, const Message& detail) {
  status.SetPayload(TypeUrl<Message>(), absl::Cord(detail.SerializeAsString()));
}

}  // namespace

void FieldViolations::Add(std::string field, std::string description) {
  violations_.emplace_back(std::move(field), std::move(description));
}

absl::Status FieldViolations::ToStatus() const {
  if (violations_.empty()) return absl::OkStatus();
  google::rpc::BadRequest detail;
  std::vector<std::string> parts;
  for (const auto& [field, description] : violations_) {
    auto* violation = detail.add_field_violations();
    violation->set_field(field);
    violation->set_description(description);
    parts.push_back(absl::StrCat(field, ": ", description));
  }
  absl::Status status =
      absl::InvalidArgumentError(absl::StrCat("invalid request: ", absl::StrJoin(parts, "; ")));
  AttachDetail(status, detail);
  return status;
}

absl::Status InvalidField(std::string field, std::string description) {
  FieldViolations violations;
  violations.Add(std::move(field), std::move(description));
  return violations.ToStatus();
}

absl::Status EtagMismatch(std::string subject, std::string description) {
  absl::Status status = absl::AbortedError(absl::StrCat(subject, ": ", description));
  google::rpc::PreconditionFailure failure;
  auto* violation = failure.add_violations();
  violation->set_type("ETAG");
  violation->set_subject(std::move(subject));
  violation->set_description(std::move(description));
  AttachDetail(status, failure);
  google::rpc::ErrorInfo info;
  info.set_reason("ETAG_MISMATCH");
  info.set_domain(std::string(kErrorDomain));
  AttachDetail(status, info);
  return status;
}

absl::Status PreconditionFailed(std::string type, std::string subject, std::string description) {
  absl::Status status =
      absl::FailedPreconditionError(absl::StrCat(subject, ": ", description));
  google::rpc::PreconditionFailure failure;
  auto* violation = failure.add_violations();
  violation->set_type(type);
  violation->set_subject(std::move(subject));
  violation->set_description(std::move(description));
  AttachDetail(status, failure);
  google::rpc::ErrorInfo info;
  info.set_reason(std::move(type));
  info.set_domain(std::string(kErrorDomain));
  AttachDetail(status, info);
  return status;
}

std::vector<std::pair<std::string, std::string>> FieldViolationsOf(
    const absl::Status& status) {
  std::vector<std::pair<std::string, std::string>> out;
  auto payload = status.GetPayload(TypeUrl<google::rpc::BadRequest>());
  google::rpc::BadRequest detail;
  if (payload.has_value() && detail.ParseFromString(std::string(*payload))) {
    for (const auto& violation : detail.field_violations()) {
      out.emplace_back(violation.field(), violation.description());
    }
  }
  return out;
}

grpc::Status ToGrpcStatus(const absl::Status& status, absl::string_view request_id) {
  if (status.ok()) return grpc::Status::OK;
  std::string message(status.message());
  const bool hide = status.code() == absl::StatusCode::kInternal ||
                    status.code() == absl::StatusCode::kUnknown ||
                    status.code() == absl::StatusCode::kDataLoss;
  if (hide) {
    // The detail can hold SQL or library text; it belongs in the log, where the
    // request id lets an operator find it.
    Log(LogLevel::kError, "internal error", {{"detail", message}});
    message = absl::StrCat("internal error; quote request id ", request_id,
                           " when reporting it");
  }
  google::rpc::Status rpc_status;
  rpc_status.set_code(static_cast<int>(status.code()));
  rpc_status.set_message(message);
  if (!hide) {
    status.ForEachPayload([&](absl::string_view type_url, const absl::Cord& value) {
      auto* any = rpc_status.add_details();
      any->set_type_url(std::string(type_url));
      any->set_value(std::string(value));
    });
  }
  google::rpc::RequestInfo info;
  info.set_request_id(std::string(request_id));
  auto* any = rpc_status.add_details();
  any->set_type_url(TypeUrl<google::rpc::RequestInfo>());
  any->set_value(info.SerializeAsString());
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), message,
                      rpc_status.SerializeAsString());
}

std::string ErrorSummary(const std::exception& error) {
  // libpq's message continues with DETAIL, CONTEXT and HINT lines, and DETAIL can
  // quote the row ("Failing row contains (…)"): personal data. Only the first line
  // says what went wrong.
  std::string_view text = error.what();
  return std::string(text.substr(0, text.find('\n')));
}

absl::Status StatusFromException(const std::exception& error) {
  // Order matters: the most specific libpqxx classes first.
  if (dynamic_cast<const pqxx::unique_violation*>(&error) != nullptr) {
    return absl::AlreadyExistsError("the record already exists");
  }
  if (dynamic_cast<const pqxx::serialization_failure*>(&error) != nullptr ||
      dynamic_cast<const pqxx::deadlock_detected*>(&error) != nullptr) {
    return absl::AbortedError("the change conflicted with a concurrent one; retry it");
  }
  if (dynamic_cast<const pqxx::in_doubt_error*>(&error) != nullptr ||
      dynamic_cast<const pqxx::statement_completion_unknown*>(&error) != nullptr) {
    return absl::UnavailableError(
        "the database connection was lost while committing; the change may or may "
        "not have been stored: read it back before retrying");
  }
  if (dynamic_cast<const pqxx::broken_connection*>(&error) != nullptr) {
    return absl::UnavailableError("the database is unavailable; retry later");
  }
  if (const auto* sql = dynamic_cast<const pqxx::sql_error*>(&error); sql != nullptr) {
    const std::string& state = sql->sqlstate();
    if (state == "57014") {
      return absl::DeadlineExceededError("the database did not answer in time");
    }
    if (state == "40001" || state == "40P01") {
      return absl::AbortedError("the change conflicted with a concurrent one; retry it");
    }
    // Class 08 (connection exception) and 57P0x (admin shutdown, crash shutdown,
    // cannot connect now) all mean "the database is not there right now".
    if (state.rfind("08", 0) == 0 || state.rfind("57P", 0) == 0) {
      return absl::UnavailableError("the database is unavailable; retry later");
    }
    if (state.rfind("22", 0) == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("the database did not accept a value (", state, ")"));
    }
    return absl::InternalError(absl::StrCat("database error ", state, ": ",
                                            ErrorSummary(error)));
  }
  return absl::InternalError(absl::StrCat("unexpected error: ", ErrorSummary(error)));
}

}  // namespace samplan
