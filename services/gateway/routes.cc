#include "services/gateway/routes.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "google/api/annotations.pb.h"
#include "services/gateway/transcode.h"

namespace samplan::gateway {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::MethodDescriptor;

absl::Status Bad(const MethodDescriptor& method, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(method.full_name(), ": ", why));
}

absl::Status AddRule(const MethodDescriptor& method, const google::api::HttpRule& rule,
                     std::vector<Route>& routes) {
  Route route;
  std::string pattern;
  switch (rule.pattern_case()) {
    case google::api::HttpRule::kGet: route.http_method = "GET"; pattern = rule.get(); break;
    case google::api::HttpRule::kPut: route.http_method = "PUT"; pattern = rule.put(); break;
    case google::api::HttpRule::kPost: route.http_method = "POST"; pattern = rule.post(); break;
    case google::api::HttpRule::kDelete:
      route.http_method = "DELETE";
      pattern = rule.delete_();
      break;
    case google::api::HttpRule::kPatch: route.http_method = "PATCH"; pattern = rule.patch(); break;
    case google::api::HttpRule::kCustom:
      route.http_method = rule.custom().kind();
      pattern = rule.custom().path();
      break;
    default: return Bad(method, "an http rule without a pattern");
  }
  absl::StatusOr<PathTemplate> path = PathTemplate::Parse(pattern);
  if (!path.ok()) return Bad(method, path.status().message());
  route.path = *std::move(path);
  const Descriptor& request = *method.input_type();
  for (const std::string& field_path : route.path.FieldPaths()) {
    if (!FindFieldPath(request, field_path).ok()) {
      return Bad(method, absl::StrCat("path variable ", field_path, " is no field of ",
                                      request.full_name()));
    }
  }
  route.body = rule.body();
  if (!route.body.empty() && route.body != "*" && request.FindFieldByName(route.body) == nullptr) {
    return Bad(method, absl::StrCat("body ", route.body, " is no field of ", request.full_name()));
  }
  route.response_body = rule.response_body();
  if (!route.response_body.empty() &&
      method.output_type()->FindFieldByName(route.response_body) == nullptr) {
    return Bad(method, absl::StrCat("response_body ", route.response_body, " is no field"));
  }
  if (method.client_streaming()) return Bad(method, "client streaming has no HTTP mapping");
  route.method = &method;
  routes.push_back(std::move(route));
  return absl::OkStatus();
}

}  // namespace

absl::Status RouteTable::AddService(const google::protobuf::ServiceDescriptor& service) {
  for (int i = 0; i < service.method_count(); ++i) {
    const MethodDescriptor& method = *service.method(i);
    if (!method.options().HasExtension(google::api::http)) continue;
    const google::api::HttpRule& rule = method.options().GetExtension(google::api::http);
    absl::Status added = AddRule(method, rule, routes_);
    if (!added.ok()) return added;
    for (const google::api::HttpRule& extra : rule.additional_bindings()) {
      added = AddRule(method, extra, routes_);
      if (!added.ok()) return added;
    }
  }
  return absl::OkStatus();
}

RouteMatch RouteTable::Match(absl::string_view http_method, absl::string_view path) const {
  RouteMatch found;
  int best = -1;
  for (const Route& route : routes_) {
    std::optional<std::vector<PathBinding>> bindings = route.path.Match(path);
    if (!bindings) continue;
    if (route.http_method != http_method) {
      if (std::find(found.allowed_methods.begin(), found.allowed_methods.end(),
                    route.http_method) == found.allowed_methods.end()) {
        found.allowed_methods.push_back(route.http_method);
      }
      continue;
    }
    if (route.path.LiteralCount() > best) {
      best = route.path.LiteralCount();
      found.route = &route;
      found.bindings = *std::move(bindings);
    }
  }
  if (found.route != nullptr) found.allowed_methods.clear();
  std::sort(found.allowed_methods.begin(), found.allowed_methods.end());
  return found;
}

}  // namespace samplan::gateway
