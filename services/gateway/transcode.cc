#include "services/gateway/transcode.h"

#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/log.h"
#include "common/status.h"
#include "google/protobuf/field_mask.pb.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"

namespace samplan::gateway {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

const FieldDescriptor* FieldByName(const Descriptor& type, absl::string_view name) {
  const FieldDescriptor* field = type.FindFieldByName(std::string(name));
  for (int i = 0; field == nullptr && i < type.field_count(); ++i) {
    if (type.field(i)->json_name() == name) field = type.field(i);
  }
  return field;
}

// The parser's message starts with "INVALID_ARGUMENT:"; the rest says which field
// and why.
template <typename Status>
std::string ParserMessage(const Status& status) {
  return std::string(status.message());
}

google::protobuf::util::JsonParseOptions StrictParsing() {
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  options.case_insensitive_enum_parsing = false;
  return options;
}

// Returns the JSON value of one query or path value for `field`: numbers and
// booleans as they are, everything else as a JSON string (proto3 JSON also
// accepts integers, enums by name, timestamps, durations and masks as strings).
std::string JsonValue(const FieldDescriptor& field, absl::string_view value) {
  if (field.cpp_type() == FieldDescriptor::CPPTYPE_BOOL && (value == "true" || value == "false")) {
    return std::string(value);
  }
  return absl::StrCat("\"", JsonEscape(value), "\"");
}

// Parses `{"a": {"b": <value>}}` for the fields along `path` into a fresh message
// of `request`'s type and merges it in: the JSON parser does the conversions and
// names the field when a value does not fit.
absl::Status SetByPath(Message& request,
                       const std::vector<const FieldDescriptor*>& path,
                       const std::vector<std::string>& values, absl::string_view name) {
  const FieldDescriptor& leaf = *path.back();
  std::string json;
  if (leaf.is_repeated()) {
    std::vector<std::string> items;
    for (const std::string& v : values) items.push_back(JsonValue(leaf, v));
    json = absl::StrCat("[", absl::StrJoin(items, ","), "]");
  } else {
    if (values.size() != 1) {
      return InvalidField(std::string(name), "given more than once, but takes one value");
    }
    json = JsonValue(leaf, values.front());
  }
  for (auto it = path.rbegin(); it != path.rend(); ++it) {
    json = absl::StrCat("{\"", (*it)->json_name(), "\":", json, "}");
  }
  std::unique_ptr<Message> part(request.New());
  auto parsed = google::protobuf::util::JsonStringToMessage(json, part.get(),
                                                                   StrictParsing());
  if (!parsed.ok()) {
    return InvalidField(std::string(name),
                        absl::StrCat("invalid value \"", absl::StrJoin(values, ","), "\" for ",
                                     leaf.full_name()));
  }
  // A value from the path replaces what the body said.
  Message* target = &request;
  for (size_t i = 0; i + 1 < path.size(); ++i) {
    target = target->GetReflection()->MutableMessage(target, path[i]);
  }
  target->GetReflection()->ClearField(target, &leaf);
  request.MergeFrom(*part);
  return absl::OkStatus();
}

// Whether `prefix` is `path` or a parent of it ("plan" of "plan.name").
bool Covers(absl::string_view prefix, absl::string_view path) {
  return path == prefix || absl::StartsWith(path, absl::StrCat(prefix, "."));
}

std::string ProtoPath(const std::vector<const FieldDescriptor*>& path) {
  std::vector<std::string> names;
  for (const FieldDescriptor* f : path) names.push_back(f->name());
  return absl::StrJoin(names, ".");
}

// Sets `update_mask` from the top-level keys of the body object.
absl::Status FillUpdateMask(const Route& route, const std::string& body, Message& request) {
  const Descriptor& type = *request.GetDescriptor();
  const FieldDescriptor* mask_field = type.FindFieldByName("update_mask");
  if (mask_field == nullptr ||
      mask_field->message_type() != google::protobuf::FieldMask::descriptor()) {
    return absl::OkStatus();
  }
  const Reflection& reflection = *request.GetReflection();
  if (reflection.HasField(request, mask_field)) return absl::OkStatus();
  google::protobuf::Struct object;
  if (!google::protobuf::util::JsonStringToMessage(body, &object).ok()) {
    return InvalidField(route.body, "the body must be a JSON object");
  }
  const Descriptor& body_type = route.body == "*"
                                    ? type
                                    : *type.FindFieldByName(route.body)->message_type();
  auto* mask = static_cast<google::protobuf::FieldMask*>(
      reflection.MutableMessage(&request, mask_field));
  for (const auto& [key, value] : object.fields()) {
    const FieldDescriptor* field = FieldByName(body_type, key);
    if (field == nullptr || field == mask_field) continue;
    mask->add_paths(field->name());
  }
  std::sort(mask->mutable_paths()->begin(), mask->mutable_paths()->end());
  return absl::OkStatus();
}

// Puts the If-Match etag into the request's `etag`, or the body message's.
absl::Status ApplyIfMatch(const Route& route, absl::string_view if_match, Message& request) {
  std::string etag(absl::StripAsciiWhitespace(if_match));
  if (absl::StartsWith(etag, "W/")) etag = etag.substr(2);
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') {
    etag = etag.substr(1, etag.size() - 2);
  }
  Message* target = &request;
  const FieldDescriptor* field = request.GetDescriptor()->FindFieldByName("etag");
  if (field == nullptr && !route.body.empty() && route.body != "*") {
    const FieldDescriptor* body = request.GetDescriptor()->FindFieldByName(route.body);
    if (body->message_type() != nullptr && body->message_type()->FindFieldByName("etag")) {
      target = request.GetReflection()->MutableMessage(&request, body);
      field = body->message_type()->FindFieldByName("etag");
    }
  }
  if (field == nullptr || field->type() != FieldDescriptor::TYPE_STRING) {
    return InvalidField("If-Match", "this call takes no etag");
  }
  const std::string present = target->GetReflection()->GetString(*target, field);
  if (!present.empty() && present != etag) {
    return InvalidField("If-Match", "differs from the etag in the body");
  }
  target->GetReflection()->SetString(target, field, etag);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<const FieldDescriptor*>> FindFieldPath(const Descriptor& type,
                                                                   absl::string_view field_path) {
  std::vector<const FieldDescriptor*> path;
  const Descriptor* at = &type;
  for (absl::string_view part : absl::StrSplit(field_path, '.')) {
    if (at == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(field_path, ": passes through a scalar"));
    }
    const FieldDescriptor* field = FieldByName(*at, part);
    if (field == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(field_path, ": no such field"));
    }
    if (!path.empty() && path.back()->is_repeated()) {
      return absl::InvalidArgumentError(absl::StrCat(field_path, ": passes through a list"));
    }
    path.push_back(field);
    at = field->message_type();
  }
  return path;
}

absl::Status BuildRequest(const Route& route, const HttpCall& call, Message& request) {
  const Descriptor& type = *request.GetDescriptor();
  const bool has_body = !absl::StripAsciiWhitespace(call.body).empty();
  if (route.body.empty()) {
    if (has_body) return InvalidField("body", "this call takes no body; send its fields as query parameters");
  } else if (has_body) {
    std::string json = call.body;
    if (route.body != "*") {
      json = absl::StrCat("{\"", type.FindFieldByName(route.body)->json_name(), "\":", call.body,
                          "\n}");
    }
    auto parsed =
        google::protobuf::util::JsonStringToMessage(json, &request, StrictParsing());
    if (!parsed.ok()) {
      return InvalidField(route.body == "*" ? "body" : route.body,
                          absl::StrCat("not a valid ", route.body == "*" ? type.full_name()
                                       : type.FindFieldByName(route.body)->message_type()
                                           ? type.FindFieldByName(route.body)->message_type()->full_name()
                                           : route.body,
                                       ": ", ParserMessage(parsed)));
    }
  }
  for (const PathBinding& binding : call.bindings) {
    absl::StatusOr<std::vector<const FieldDescriptor*>> path =
        FindFieldPath(type, binding.field_path);
    if (!path.ok()) return InvalidField(binding.field_path, std::string(path.status().message()));
    absl::Status set = SetByPath(request, *path, {binding.value}, binding.field_path);
    if (!set.ok()) return set;
  }
  // Query parameters, grouped by field, in the order first given.
  std::vector<std::string> order;
  std::map<std::string, std::vector<std::string>> values;
  bool mask_in_query = false;
  for (const auto& [key, value] : call.query) {
    if (!values.count(key)) order.push_back(key);
    values[key].push_back(value);
  }
  for (const std::string& key : order) {
    absl::StatusOr<std::vector<const FieldDescriptor*>> path = FindFieldPath(type, key);
    if (!path.ok()) {
      return InvalidField(key, absl::StrCat("unknown query parameter: ", path.status().message()));
    }
    const std::string proto_path = ProtoPath(*path);
    if (route.body == "*" || (!route.body.empty() && Covers(route.body, proto_path))) {
      return InvalidField(key, "belongs in the body, not the query");
    }
    for (const PathBinding& binding : call.bindings) {
      absl::StatusOr<std::vector<const FieldDescriptor*>> bound =
          FindFieldPath(type, binding.field_path);
      if (bound.ok() && Covers(ProtoPath(*bound), proto_path)) {
        return InvalidField(key, "is given by the path");
      }
    }
    if (proto_path == "update_mask") mask_in_query = true;
    if (path->back()->message_type() != nullptr &&
        path->back()->message_type()->file()->package() != "google.protobuf") {
      return InvalidField(key, "is a message; set its fields, as in key.field=value");
    }
    absl::Status set = SetByPath(request, *path, values[key], key);
    if (!set.ok()) return set;
  }
  if (call.http_method == "PATCH" && has_body && !mask_in_query) {
    absl::Status filled = FillUpdateMask(route, call.body, request);
    if (!filled.ok()) return filled;
  }
  if (!call.if_match.empty()) {
    absl::Status applied = ApplyIfMatch(route, call.if_match, request);
    if (!applied.ok()) return applied;
  }
  return absl::OkStatus();
}

std::string ResponseJson(const Route& route, const Message& response) {
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  std::string out;
  if (!route.response_body.empty()) {
    const FieldDescriptor* field = response.GetDescriptor()->FindFieldByName(route.response_body);
    if (field != nullptr && field->message_type() != nullptr && !field->is_repeated()) {
      (void)google::protobuf::util::MessageToJsonString(
          response.GetReflection()->GetMessage(response, field), &out, options);
      return out;
    }
  }
  (void)google::protobuf::util::MessageToJsonString(response, &out, options);
  return out;
}

std::string EtagOf(const Message& message) {
  const FieldDescriptor* field = message.GetDescriptor()->FindFieldByName("etag");
  if (field == nullptr || field->type() != FieldDescriptor::TYPE_STRING || field->is_repeated()) {
    return "";
  }
  return message.GetReflection()->GetString(message, field);
}

int HttpStatusFromCode(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK: return 200;
    case grpc::StatusCode::CANCELLED: return 499;
    case grpc::StatusCode::UNKNOWN: return 500;
    case grpc::StatusCode::INVALID_ARGUMENT: return 400;
    case grpc::StatusCode::DEADLINE_EXCEEDED: return 504;
    case grpc::StatusCode::NOT_FOUND: return 404;
    case grpc::StatusCode::ALREADY_EXISTS: return 409;
    case grpc::StatusCode::PERMISSION_DENIED: return 403;
    case grpc::StatusCode::UNAUTHENTICATED: return 401;
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return 429;
    case grpc::StatusCode::FAILED_PRECONDITION: return 400;
    case grpc::StatusCode::ABORTED: return 409;
    case grpc::StatusCode::OUT_OF_RANGE: return 400;
    case grpc::StatusCode::UNIMPLEMENTED: return 501;
    case grpc::StatusCode::INTERNAL: return 500;
    case grpc::StatusCode::UNAVAILABLE: return 503;
    case grpc::StatusCode::DATA_LOSS: return 500;
    default: return 500;
  }
}

std::string ErrorJson(const grpc::Status& status) {
  google::rpc::Status rpc;
  if (status.error_details().empty() || !rpc.ParseFromString(status.error_details())) {
    rpc.Clear();
  }
  rpc.set_code(static_cast<int>(status.error_code()));
  rpc.set_message(status.error_message());
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  std::string out;
  if (!google::protobuf::util::MessageToJsonString(rpc, &out, options).ok()) {
    // A detail of a type this gateway does not know: the code and message still go.
    rpc.clear_details();
    out.clear();
    (void)google::protobuf::util::MessageToJsonString(rpc, &out, options);
  }
  return out;
}

std::optional<absl::Duration> ParseTimeout(absl::string_view text) {
  if (text.size() < 2 || text.size() > 9) return std::nullopt;
  int64_t amount = 0;
  if (!absl::SimpleAtoi(text.substr(0, text.size() - 1), &amount) || amount < 0) {
    return std::nullopt;
  }
  switch (text.back()) {
    case 'H': return absl::Hours(amount);
    case 'M': return absl::Minutes(amount);
    case 'S': return absl::Seconds(amount);
    case 'm': return absl::Milliseconds(amount);
    case 'u': return absl::Microseconds(amount);
    case 'n': return absl::Nanoseconds(amount);
    default: return std::nullopt;
  }
}

}  // namespace samplan::gateway
