#include "services/gateway/openapi.h"

#include <map>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "services/gateway/routes.h"
#include "services/gateway/transcode.h"

namespace samplan::gateway {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::EnumDescriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::ListValue;
using google::protobuf::Struct;
using google::protobuf::Value;

Value Str(absl::string_view s) {
  Value v;
  v.set_string_value(std::string(s));
  return v;
}
Value Obj(Struct s) {
  Value v;
  *v.mutable_struct_value() = std::move(s);
  return v;
}
Value Bool(bool b) {
  Value v;
  v.set_bool_value(b);
  return v;
}

template <typename D>
std::string Comment(const D& d) {
  google::protobuf::SourceLocation location;
  if (!d.GetSourceLocation(&location)) return "";
  std::string text = location.leading_comments;
  std::vector<std::string> lines;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (!line.empty() && line[0] == ' ') line.remove_prefix(1);
    lines.emplace_back(line);
  }
  return std::string(absl::StripAsciiWhitespace(absl::StrJoin(lines, "\n")));
}

std::string SchemaName(absl::string_view full_name) { return std::string(full_name); }

Value Ref(absl::string_view full_name) {
  Struct s;
  (*s.mutable_fields())["$ref"] = Str(absl::StrCat("#/components/schemas/", SchemaName(full_name)));
  return Obj(std::move(s));
}

class Writer {
 public:
  Value FieldSchema(const FieldDescriptor& field, bool ignore_repeated = false);
  Value MessageRef(const Descriptor& type) {
    Want(type);
    return Ref(type.full_name());
  }
  void Want(const Descriptor& type) {
    if (done_.count(type.full_name())) return;
    done_.insert(type.full_name());
    pending_.push_back(&type);
  }
  Struct Schemas();

 private:
  Value ScalarSchema(const FieldDescriptor& field);
  std::set<std::string> done_;
  std::vector<const Descriptor*> pending_;
};

Value TypeOnly(absl::string_view type, absl::string_view format = "") {
  Struct s;
  (*s.mutable_fields())["type"] = Str(type);
  if (!format.empty()) (*s.mutable_fields())["format"] = Str(format);
  return Obj(std::move(s));
}

Value EnumSchema(const EnumDescriptor& e) {
  Struct s;
  (*s.mutable_fields())["type"] = Str("string");
  ListValue values;
  for (int i = 0; i < e.value_count(); ++i) *values.add_values() = Str(e.value(i)->name());
  *(*s.mutable_fields())["enum"].mutable_list_value() = std::move(values);
  return Obj(std::move(s));
}

Value Writer::ScalarSchema(const FieldDescriptor& field) {
  switch (field.type()) {
    case FieldDescriptor::TYPE_DOUBLE: return TypeOnly("number", "double");
    case FieldDescriptor::TYPE_FLOAT: return TypeOnly("number", "float");
    case FieldDescriptor::TYPE_INT64:
    case FieldDescriptor::TYPE_SINT64:
    case FieldDescriptor::TYPE_SFIXED64: return TypeOnly("string", "int64");
    case FieldDescriptor::TYPE_UINT64:
    case FieldDescriptor::TYPE_FIXED64: return TypeOnly("string", "uint64");
    case FieldDescriptor::TYPE_INT32:
    case FieldDescriptor::TYPE_SINT32:
    case FieldDescriptor::TYPE_SFIXED32: return TypeOnly("integer", "int32");
    case FieldDescriptor::TYPE_UINT32:
    case FieldDescriptor::TYPE_FIXED32: return TypeOnly("integer", "int64");
    case FieldDescriptor::TYPE_BOOL: return TypeOnly("boolean");
    case FieldDescriptor::TYPE_STRING: return TypeOnly("string");
    case FieldDescriptor::TYPE_BYTES: return TypeOnly("string", "byte");
    case FieldDescriptor::TYPE_ENUM: return EnumSchema(*field.enum_type());
    default: break;
  }
  const Descriptor& type = *field.message_type();
  const std::string& name = type.full_name();
  if (name == "google.protobuf.Timestamp") return TypeOnly("string", "date-time");
  if (name == "google.protobuf.Duration") return TypeOnly("string");
  if (name == "google.protobuf.FieldMask") return TypeOnly("string");
  if (name == "google.protobuf.Struct") return TypeOnly("object");
  if (name == "google.protobuf.Value") return Obj(Struct());
  if (name == "google.protobuf.Any") {
    Struct s;
    (*s.mutable_fields())["type"] = Str("object");
    Struct props;
    (*props.mutable_fields())["@type"] = TypeOnly("string");
    (*s.mutable_fields())["properties"] = Obj(std::move(props));
    (*s.mutable_fields())["additionalProperties"] = Bool(true);
    return Obj(std::move(s));
  }
  return MessageRef(type);
}

Value Writer::FieldSchema(const FieldDescriptor& field, bool ignore_repeated) {
  Value schema;
  if (field.is_map()) {
    Struct s;
    (*s.mutable_fields())["type"] = Str("object");
    (*s.mutable_fields())["additionalProperties"] =
        FieldSchema(*field.message_type()->map_value());
    schema = Obj(std::move(s));
  } else if (field.is_repeated() && !ignore_repeated) {
    Struct s;
    (*s.mutable_fields())["type"] = Str("array");
    (*s.mutable_fields())["items"] = ScalarSchema(field);
    schema = Obj(std::move(s));
  } else {
    schema = ScalarSchema(field);
  }
  const std::string description = Comment(field);
  if (!description.empty()) {
    if (schema.struct_value().fields().count("$ref")) {
      // A $ref takes no siblings in OpenAPI 3.0: wrap it.
      Struct s;
      ListValue all;
      *all.add_values() = schema;
      *(*s.mutable_fields())["allOf"].mutable_list_value() = std::move(all);
      schema = Obj(std::move(s));
    }
    (*schema.mutable_struct_value()->mutable_fields())["description"] = Str(description);
  }
  return schema;
}

Struct Writer::Schemas() {
  Struct schemas;
  for (size_t i = 0; i < pending_.size(); ++i) {
    const Descriptor& type = *pending_[i];
    Struct s;
    (*s.mutable_fields())["type"] = Str("object");
    const std::string description = Comment(type);
    if (!description.empty()) (*s.mutable_fields())["description"] = Str(description);
    Struct props;
    for (int f = 0; f < type.field_count(); ++f) {
      (*props.mutable_fields())[type.field(f)->json_name()] = FieldSchema(*type.field(f));
    }
    (*s.mutable_fields())["properties"] = Obj(std::move(props));
    (*s.mutable_fields())["additionalProperties"] = Bool(false);
    (*schemas.mutable_fields())[SchemaName(type.full_name())] = Obj(std::move(s));
  }
  return schemas;
}

// The path of `route` in OpenAPI's terms: each wildcard of a variable becomes a
// parameter named after the collection before it ("/v1/{name=plans/*}" →
// "/v1/plans/{plans_id}"), so that the routes of one resource share one path.
std::string OpenApiPathOf(const Route& route,
                          std::vector<std::pair<std::string, std::string>>* params) {
  const std::string& text = route.path.text();
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    if (text[i] != '{') {
      out.push_back(text[i++]);
      continue;
    }
    size_t close = text.find('}', i);
    std::string inner = text.substr(i + 1, close - i - 1);
    std::pair<std::string, std::string> kv = absl::StrSplit(inner, absl::MaxSplits('=', 1));
    std::string pattern = kv.second.empty() ? "*" : kv.second;
    std::vector<std::string> segments = absl::StrSplit(pattern, '/');
    std::vector<std::string> rendered;
    std::string previous = kv.first;
    for (const std::string& s : segments) {
      if (s == "*" || s == "**") {
        std::string name = absl::StrCat(absl::StrReplaceAll(previous, {{".", "_"}}), "_id");
        params->emplace_back(name, absl::StrCat("The id in `", kv.first, "` = `", pattern, "`."));
        rendered.push_back(absl::StrCat("{", name, "}"));
      } else {
        rendered.push_back(s);
        previous = s;
      }
    }
    out += absl::StrJoin(rendered, "/");
    i = close + 1;
  }
  return out;
}

Value Parameter(absl::string_view name, absl::string_view in, bool required, Value schema,
                absl::string_view description) {
  Struct p;
  (*p.mutable_fields())["name"] = Str(name);
  (*p.mutable_fields())["in"] = Str(in);
  (*p.mutable_fields())["required"] = Bool(required);
  (*p.mutable_fields())["schema"] = std::move(schema);
  if (!description.empty()) (*p.mutable_fields())["description"] = Str(description);
  return Obj(std::move(p));
}

bool IsWellKnown(const Descriptor& type) { return type.file()->package() == "google.protobuf"; }

// Adds the query parameters of the request fields the path and body leave.
void QueryParameters(const Route& route, Writer& writer, ListValue& params) {
  if (route.body == "*") return;
  std::set<std::string> bound;
  for (const std::string& p : route.path.FieldPaths()) {
    absl::StatusOr<std::vector<const FieldDescriptor*>> path =
        FindFieldPath(*route.method->input_type(), p);
    if (path.ok()) bound.insert(path->front()->name());
  }
  const Descriptor& type = *route.method->input_type();
  for (int i = 0; i < type.field_count(); ++i) {
    const FieldDescriptor& field = *type.field(i);
    if (bound.count(field.name()) || field.name() == route.body) continue;
    if (field.message_type() != nullptr && !IsWellKnown(*field.message_type())) {
      if (field.is_repeated()) continue;
      const Descriptor& nested = *field.message_type();
      for (int j = 0; j < nested.field_count(); ++j) {
        const FieldDescriptor& inner = *nested.field(j);
        if (inner.message_type() != nullptr && !IsWellKnown(*inner.message_type())) continue;
        *params.add_values() =
            Parameter(absl::StrCat(field.json_name(), ".", inner.json_name()), "query", false,
                      writer.FieldSchema(inner), Comment(inner));
      }
      continue;
    }
    Value schema = writer.FieldSchema(field);
    schema.mutable_struct_value()->mutable_fields()->erase("description");
    *params.add_values() = Parameter(field.json_name(), "query", false, schema, Comment(field));
  }
}

Value JsonContent(Value schema) {
  Struct media;
  (*media.mutable_fields())["schema"] = std::move(schema);
  Struct content;
  (*content.mutable_fields())["application/json"] = Obj(std::move(media));
  return Obj(std::move(content));
}

Value Operation(const Route& route, Writer& writer) {
  const google::protobuf::MethodDescriptor& method = *route.method;
  Struct op;
  (*op.mutable_fields())["operationId"] =
      Str(absl::StrCat(method.service()->name(), "_", method.name(),
                       route.http_method == "GET" ? "" : ""));
  ListValue tags;
  *tags.add_values() = Str(method.service()->full_name());
  *(*op.mutable_fields())["tags"].mutable_list_value() = std::move(tags);
  const std::string comment = Comment(method);
  std::string summary(comment.substr(0, comment.find('\n')));
  (*op.mutable_fields())["summary"] = Str(summary.empty() ? method.name() : summary);
  if (!comment.empty()) (*op.mutable_fields())["description"] = Str(comment);

  std::vector<std::pair<std::string, std::string>> path_params;
  OpenApiPathOf(route, &path_params);
  ListValue params;
  for (const auto& [name, description] : path_params) {
    *params.add_values() = Parameter(name, "path", true, TypeOnly("string"), description);
  }
  QueryParameters(route, writer, params);
  if (method.server_streaming()) {
    *params.add_values() = Parameter(
        "Last-Event-ID", "header", false, TypeOnly("string"),
        "Where to resume: the id of the last event received (the browser's EventSource sends "
        "it by itself when it reconnects).");
  }
  if (method.input_type()->FindFieldByName("etag") != nullptr ||
      (!route.body.empty() && route.body != "*" &&
       method.input_type()->FindFieldByName(route.body)->message_type() != nullptr &&
       method.input_type()->FindFieldByName(route.body)->message_type()->FindFieldByName("etag"))) {
    *params.add_values() =
        Parameter("If-Match", "header", false, TypeOnly("string"),
                  "The etag the change is conditional on (as the ETag header gave it); a stale "
                  "one gets 409.");
  }
  if (params.values_size() > 0) *(*op.mutable_fields())["parameters"].mutable_list_value() = params;

  if (!route.body.empty()) {
    Value schema;
    if (route.body == "*") {
      schema = writer.MessageRef(*method.input_type());
    } else {
      schema = writer.FieldSchema(*method.input_type()->FindFieldByName(route.body), false);
      schema.mutable_struct_value()->mutable_fields()->erase("description");
    }
    Struct body;
    (*body.mutable_fields())["required"] = Bool(true);
    (*body.mutable_fields())["content"] = JsonContent(std::move(schema));
    (*op.mutable_fields())["requestBody"] = Obj(std::move(body));
  }

  Struct responses;
  Struct ok;
  if (method.server_streaming()) {
    (*ok.mutable_fields())["description"] = Str(
        "Server-Sent Events: each event's data is one response message as JSON, its id the "
        "message's cursor; heartbeats are comments.");
    Struct media;
    (*media.mutable_fields())["schema"] = TypeOnly("string");
    Struct content;
    (*content.mutable_fields())["text/event-stream"] = Obj(std::move(media));
    (*ok.mutable_fields())["content"] = Obj(std::move(content));
    writer.Want(*method.output_type());
  } else {
    (*ok.mutable_fields())["description"] = Str("OK");
    Value schema = writer.MessageRef(*method.output_type());
    if (!route.response_body.empty()) {
      schema = writer.FieldSchema(*method.output_type()->FindFieldByName(route.response_body));
    }
    (*ok.mutable_fields())["content"] = JsonContent(std::move(schema));
  }
  (*responses.mutable_fields())["200"] = Obj(std::move(ok));
  Struct error;
  (*error.mutable_fields())["description"] =
      Str("An error: google.rpc.Status with its details; the HTTP status follows the gRPC code "
          "(400 invalid argument, 401 unauthenticated, 403 permission denied, 404 not found, "
          "409 aborted or already exists, 429 resource exhausted, 503 unavailable, 504 deadline "
          "exceeded).");
  (*error.mutable_fields())["content"] = JsonContent(Ref("google.rpc.Status"));
  (*responses.mutable_fields())["default"] = Obj(std::move(error));
  (*op.mutable_fields())["responses"] = Obj(std::move(responses));
  return Obj(std::move(op));
}

std::string Lower(absl::string_view s) { return absl::AsciiStrToLower(s); }

}  // namespace

absl::StatusOr<std::string> WriteOpenApi(
    const std::vector<const google::protobuf::ServiceDescriptor*>& services) {
  RouteTable routes;
  Struct tags_doc;
  ListValue tags;
  for (const google::protobuf::ServiceDescriptor* service : services) {
    absl::Status added = routes.AddService(*service);
    if (!added.ok()) return added;
    Struct tag;
    (*tag.mutable_fields())["name"] = Str(service->full_name());
    const std::string description = Comment(*service);
    if (!description.empty()) (*tag.mutable_fields())["description"] = Str(description);
    *tags.add_values() = Obj(std::move(tag));
  }
  Writer writer;
  Struct paths;
  for (const Route& route : routes.routes()) {
    std::vector<std::pair<std::string, std::string>> ignored;
    const std::string path = OpenApiPathOf(route, &ignored);
    Value& item = (*paths.mutable_fields())[path];
    if (!item.has_struct_value()) *item.mutable_struct_value() = Struct();
    const std::string verb = Lower(route.http_method);
    if (item.struct_value().fields().count(verb)) {
      return absl::InvalidArgumentError(
          absl::StrCat("two routes of ", route.http_method, " ", path));
    }
    (*item.mutable_struct_value()->mutable_fields())[verb] = Operation(route, writer);
  }

  // google.rpc.Status, the error body, written out by hand as its details are Any.
  Struct status;
  (*status.mutable_fields())["type"] = Str("object");
  (*status.mutable_fields())["description"] =
      Str("An error: the gRPC status code, a message in English, and typed details "
          "(google.rpc.BadRequest naming each invalid field, PreconditionFailure for a stale "
          "etag, RequestInfo with the request id).");
  Struct status_props;
  (*status_props.mutable_fields())["code"] = TypeOnly("integer", "int32");
  (*status_props.mutable_fields())["message"] = TypeOnly("string");
  Struct details;
  (*details.mutable_fields())["type"] = Str("array");
  Struct any;
  (*any.mutable_fields())["type"] = Str("object");
  Struct any_props;
  (*any_props.mutable_fields())["@type"] = TypeOnly("string");
  (*any.mutable_fields())["properties"] = Obj(std::move(any_props));
  (*any.mutable_fields())["additionalProperties"] = Bool(true);
  (*details.mutable_fields())["items"] = Obj(std::move(any));
  (*status_props.mutable_fields())["details"] = Obj(std::move(details));
  (*status.mutable_fields())["properties"] = Obj(std::move(status_props));

  Struct schemas = writer.Schemas();
  (*schemas.mutable_fields())["google.rpc.Status"] = Obj(std::move(status));

  Struct bearer;
  (*bearer.mutable_fields())["type"] = Str("http");
  (*bearer.mutable_fields())["scheme"] = Str("bearer");
  (*bearer.mutable_fields())["bearerFormat"] = Str("JWT");
  Struct security_schemes;
  (*security_schemes.mutable_fields())["bearer"] = Obj(std::move(bearer));
  Struct components;
  (*components.mutable_fields())["schemas"] = Obj(std::move(schemas));
  (*components.mutable_fields())["securitySchemes"] = Obj(std::move(security_schemes));

  Struct requirement;
  *(*requirement.mutable_fields())["bearer"].mutable_list_value() = ListValue();
  ListValue security;
  *security.add_values() = Obj(std::move(requirement));

  Struct info;
  (*info.mutable_fields())["title"] = Str("Samplan HTTP/JSON API");
  (*info.mutable_fields())["version"] = Str("v1");
  (*info.mutable_fields())["description"] = Str(
      "Every gRPC call of Samplan over HTTP/JSON (proto3 JSON names), as the google.api.http "
      "annotations of the protos map it. Send `Authorization: Bearer <token>`; `x-request-id` "
      "and `grpc-timeout` (\"10S\", \"500m\") pass through to the services.");

  Struct doc;
  (*doc.mutable_fields())["openapi"] = Str("3.0.3");
  (*doc.mutable_fields())["info"] = Obj(std::move(info));
  *(*doc.mutable_fields())["tags"].mutable_list_value() = std::move(tags);
  *(*doc.mutable_fields())["security"].mutable_list_value() = std::move(security);
  (*doc.mutable_fields())["paths"] = Obj(std::move(paths));
  (*doc.mutable_fields())["components"] = Obj(std::move(components));
  std::string out;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  auto printed = google::protobuf::util::MessageToJsonString(doc, &out, options);
  if (!printed.ok()) return absl::InternalError(std::string(printed.message()));
  return out;
}

}  // namespace samplan::gateway
