#include "tools/rpc_text.h"

#include <google/protobuf/any.pb.h>
#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <map>
#include <memory>

#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"

namespace samplan::tools {
namespace {

constexpr char kDetailsKey[] = "grpc-status-details-bin";

// The google.rpc.Status the server sent, if any.
bool RpcStatusOf(const grpc::Status& status, const grpc::ClientContext* context,
                 google::rpc::Status* out) {
  if (!status.error_details().empty() && out->ParseFromString(status.error_details())) {
    return true;
  }
  if (context == nullptr) return false;
  const auto& trailers = context->GetServerTrailingMetadata();
  auto it = trailers.find(kDetailsKey);
  if (it == trailers.end()) return false;
  return out->ParseFromString(std::string(it->second.data(), it->second.size()));
}

std::string TypeName(const std::string& type_url) {
  size_t slash = type_url.rfind('/');
  return slash == std::string::npos ? type_url : type_url.substr(slash + 1);
}

void DescribeDetail(const google::protobuf::Any& detail, std::vector<std::string>& lines) {
  if (google::rpc::BadRequest bad; detail.UnpackTo(&bad)) {
    for (const auto& v : bad.field_violations()) {
      lines.push_back("  field " + v.field() + ": " + v.description());
    }
    return;
  }
  if (google::rpc::PreconditionFailure failure; detail.UnpackTo(&failure)) {
    for (const auto& v : failure.violations()) {
      lines.push_back("  precondition " + v.type() + " failed on " + v.subject() + ": " +
                      v.description());
    }
    return;
  }
  if (google::rpc::ErrorInfo info; detail.UnpackTo(&info)) {
    std::string line = "  reason " + info.reason();
    if (!info.domain().empty()) line += " (domain " + info.domain() + ")";
    // Sorted, so that the output does not depend on the map's order.
    std::map<std::string, std::string> metadata(info.metadata().begin(), info.metadata().end());
    for (const auto& [key, value] : metadata) line += ", " + key + "=" + value;
    lines.push_back(line);
    return;
  }
  if (google::rpc::RequestInfo info; detail.UnpackTo(&info)) {
    std::string line = "  request id " + info.request_id();
    if (!info.serving_data().empty()) line += " (" + info.serving_data() + ")";
    lines.push_back(line);
    return;
  }
  // Any other detail the binary knows the type of is shown as one-line JSON.
  const std::string name = TypeName(detail.type_url());
  const google::protobuf::Descriptor* descriptor =
      google::protobuf::DescriptorPool::generated_pool()->FindMessageTypeByName(name);
  if (descriptor != nullptr) {
    const google::protobuf::Message* prototype =
        google::protobuf::MessageFactory::generated_factory()->GetPrototype(descriptor);
    std::unique_ptr<google::protobuf::Message> message(prototype->New());
    std::string json;
    if (message->ParseFromString(detail.value()) &&
        google::protobuf::util::MessageToJsonString(*message, &json).ok()) {
      lines.push_back("  " + name + " " + json);
      return;
    }
  }
  lines.push_back("  detail " + (name.empty() ? std::string("of no type") : name) + " (" +
                  std::to_string(detail.value().size()) + " bytes, not decoded)");
}

}  // namespace

std::string StatusCodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK: return "OK";
    case grpc::StatusCode::CANCELLED: return "CANCELLED";
    case grpc::StatusCode::UNKNOWN: return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND: return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS: return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED: return "PERMISSION_DENIED";
    case grpc::StatusCode::UNAUTHENTICATED: return "UNAUTHENTICATED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION: return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED: return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE: return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED: return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL: return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE: return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS: return "DATA_LOSS";
    default: break;
  }
  return "CODE_" + std::to_string(static_cast<int>(code));
}

std::vector<std::string> StatusDetailLines(const grpc::Status& status,
                                           const grpc::ClientContext* context) {
  std::vector<std::string> lines;
  google::rpc::Status rpc_status;
  if (!RpcStatusOf(status, context, &rpc_status)) return lines;
  for (const google::protobuf::Any& detail : rpc_status.details()) {
    DescribeDetail(detail, lines);
  }
  return lines;
}

std::string DescribeStatus(const grpc::Status& status, const grpc::ClientContext* context) {
  std::string text = StatusCodeName(status.error_code()) + ": " + status.error_message() + "\n";
  for (const std::string& line : StatusDetailLines(status, context)) text += line + "\n";
  return text;
}

}  // namespace samplan::tools
