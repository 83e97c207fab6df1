#ifndef SAMPLAN_SERVICES_GATEWAY_ROUTES_H_
#define SAMPLAN_SERVICES_GATEWAY_ROUTES_H_

// The HTTP routes of gRPC methods, read from their google.api.http options in the
// compiled descriptors: a method with an annotation is served, with no code of
// its own. No I/O here.

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "google/protobuf/descriptor.h"
#include "services/gateway/path_template.h"

namespace samplan::gateway {

// One HTTP binding of one method.
struct Route {
  std::string http_method;  // GET, POST, PUT, PATCH, DELETE or a custom kind
  PathTemplate path;
  // "" (no body), "*" (the whole request) or a top-level field of the request.
  std::string body;
  // "" (the whole response) or a top-level field of the response.
  std::string response_body;
  const google::protobuf::MethodDescriptor* method = nullptr;
};

// What a request's method and path found.
struct RouteMatch {
  const Route* route = nullptr;  // null: nothing for this method and path
  std::vector<PathBinding> bindings;
  // When `route` is null: the methods that the path has (empty: 404, else 405).
  std::vector<std::string> allowed_methods;
};

class RouteTable {
 public:
  // Adds every annotated method of `service` (with its additional bindings);
  // INVALID_ARGUMENT naming the method when a template, body field or path
  // variable does not fit its request.
  absl::Status AddService(const google::protobuf::ServiceDescriptor& service);

  // Returns the route of `http_method` and `path` (the path without the query),
  // preferring the template with more literal segments.
  RouteMatch Match(absl::string_view http_method, absl::string_view path) const;

  const std::vector<Route>& routes() const { return routes_; }

 private:
  std::vector<Route> routes_;
};

}  // namespace samplan::gateway

#endif  // SAMPLAN_SERVICES_GATEWAY_ROUTES_H_
