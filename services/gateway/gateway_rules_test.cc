// Tier 1: the gateway's decisions as pure functions, over the descriptors of the
// real protos: path templates, routes, building requests, the error mapping, the
// OpenAPI writer.

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "common/status.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "google/rpc/error_details.pb.h"
#include "samplan/caseplan/v1/caseplan.pb.h"
#include "samplan/events/v1/event_service.pb.h"
#include "samplan/identity/v1/identity.pb.h"
#include "samplan/placement/v1/placement.pb.h"
#include "services/gateway/gateway.h"
#include "services/gateway/openapi.h"
#include "services/gateway/path_template.h"
#include "services/gateway/routes.h"
#include "services/gateway/transcode.h"

namespace samplan::gateway {
namespace {

// The services as the gateway finds them: by name, in the linked descriptors.
std::vector<const google::protobuf::ServiceDescriptor*> Services() {
  std::vector<const google::protobuf::ServiceDescriptor*> out;
  for (const char* name : {"samplan.caseplan.v1.CasePlanService", "samplan.identity.v1.IdentityService",
                           "samplan.placement.v1.PlacementService", "samplan.events.v1.EventService"}) {
    out.push_back(google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(name));
    EXPECT_NE(out.back(), nullptr) << name;
  }
  return out;
}

TEST(PathTemplateTest, BindsVariablesWithTheirPatterns) {
  absl::StatusOr<PathTemplate> t = PathTemplate::Parse("/v1/{name=plans/*}/revisions");
  ASSERT_TRUE(t.ok()) << t.status();
  auto bound = t->Match("/v1/plans/abc/revisions");
  ASSERT_TRUE(bound.has_value());
  ASSERT_EQ(bound->size(), 1u);
  EXPECT_EQ((*bound)[0].field_path, "name");
  EXPECT_EQ((*bound)[0].value, "plans/abc");
  EXPECT_FALSE(t->Match("/v1/plans/abc").has_value());
  EXPECT_FALSE(t->Match("/v1/employers/abc/revisions").has_value());
  EXPECT_FALSE(t->Match("/v1/plans//revisions").has_value());
}

TEST(PathTemplateTest, CustomVerbsAndDoubleWildcards) {
  absl::StatusOr<PathTemplate> verb = PathTemplate::Parse("/v1/{name=agreements/*}:sign");
  ASSERT_TRUE(verb.ok());
  EXPECT_EQ(verb->verb(), "sign");
  auto bound = verb->Match("/v1/agreements/a%2Db:sign");
  ASSERT_TRUE(bound.has_value());
  EXPECT_EQ((*bound)[0].value, "agreements/a-b");
  EXPECT_FALSE(verb->Match("/v1/agreements/ab:start").has_value());
  EXPECT_FALSE(verb->Match("/v1/agreements/ab").has_value());

  absl::StatusOr<PathTemplate> rest = PathTemplate::Parse("/files/{path=**}");
  ASSERT_TRUE(rest.ok());
  auto deep = rest->Match("/files/a/b/c");
  ASSERT_TRUE(deep.has_value());
  EXPECT_EQ((*deep)[0].value, "a/b/c");
}

TEST(PathTemplateTest, RefusesMalformedTemplates) {
  EXPECT_FALSE(PathTemplate::Parse("v1/plans").ok());
  EXPECT_FALSE(PathTemplate::Parse("/v1/{name=plans/*").ok());
  EXPECT_FALSE(PathTemplate::Parse("/v1/**/x").ok());
  EXPECT_FALSE(PathTemplate::Parse("/v1/plans/").ok());
}

RouteTable AllRoutes() {
  RouteTable table;
  for (const auto* service : Services()) {
    absl::Status added = table.AddService(*service);
    EXPECT_TRUE(added.ok()) << added;
  }
  return table;
}

TEST(RouteTableTest, EveryRpcOfEveryServiceHasARoute) {
  RouteTable table = AllRoutes();
  int methods = 0;
  for (const auto* service : Services()) {
    methods += service->method_count();
  }
  EXPECT_EQ(static_cast<int>(table.routes().size()), methods);
}

TEST(RouteTableTest, MatchesByMethodAndPathAnd405sOtherMethods) {
  RouteTable table = AllRoutes();
  RouteMatch get = table.Match("GET", "/v1/plans/p1");
  ASSERT_NE(get.route, nullptr);
  EXPECT_EQ(get.route->method->name(), "GetPlan");
  RouteMatch list = table.Match("GET", "/v1/plans");
  ASSERT_NE(list.route, nullptr);
  EXPECT_EQ(list.route->method->name(), "ListPlans");
  RouteMatch cold = table.Match("GET", "/v1/employers:cold");
  ASSERT_NE(cold.route, nullptr);
  EXPECT_EQ(cold.route->method->name(), "ListColdEmployers");
  RouteMatch put = table.Match("PUT", "/v1/plans/p1");
  EXPECT_EQ(put.route, nullptr);
  EXPECT_EQ(put.allowed_methods, (std::vector<std::string>{"GET", "PATCH"}));
  RouteMatch none = table.Match("GET", "/v1/nothing");
  EXPECT_EQ(none.route, nullptr);
  EXPECT_TRUE(none.allowed_methods.empty());
}

TEST(BuildRequestTest, PatchFillsTheMaskFromTheBodyAndTakesTheNameFromThePath) {
  RouteTable table = AllRoutes();
  RouteMatch m = table.Match("PATCH", "/v1/plans/p1");
  ASSERT_NE(m.route, nullptr);
  HttpCall call{"PATCH", m.bindings, {}, R"({"status": "PLAN_STATUS_ACTIVE", "nextReviewDate": {"year": 2027, "month": 1, "day": 2}})", ""};
  caseplan::v1::UpdatePlanRequest request;
  ASSERT_TRUE(BuildRequest(*m.route, call, request).ok());
  EXPECT_EQ(request.plan().name(), "plans/p1");
  EXPECT_EQ(request.plan().status(), caseplan::v1::PLAN_STATUS_ACTIVE);
  EXPECT_EQ(request.update_mask().paths_size(), 2);
  EXPECT_EQ(request.update_mask().paths(0), "next_review_date");
  EXPECT_EQ(request.update_mask().paths(1), "status");
}

TEST(BuildRequestTest, AMaskInTheQueryWins) {
  RouteTable table = AllRoutes();
  RouteMatch m = table.Match("PATCH", "/v1/plans/p1");
  HttpCall call{"PATCH", m.bindings, {{"updateMask", "status"}},
                R"({"status": "PLAN_STATUS_ACTIVE", "overallGoalDescription": "x"})", ""};
  caseplan::v1::UpdatePlanRequest request;
  ASSERT_TRUE(BuildRequest(*m.route, call, request).ok());
  ASSERT_EQ(request.update_mask().paths_size(), 1);
  EXPECT_EQ(request.update_mask().paths(0), "status");
}

TEST(BuildRequestTest, IfMatchBecomesTheEtag) {
  RouteTable table = AllRoutes();
  RouteMatch m = table.Match("PATCH", "/v1/plans/p1");
  HttpCall call{"PATCH", m.bindings, {}, R"({"status": "PLAN_STATUS_ACTIVE"})", "\"v7\""};
  caseplan::v1::UpdatePlanRequest request;
  ASSERT_TRUE(BuildRequest(*m.route, call, request).ok());
  EXPECT_EQ(request.plan().etag(), "v7");

  RouteMatch hand = table.Match("POST", "/v1/plans/p1:handOver");
  HttpCall hand_call{"POST", hand.bindings, {}, R"({"toOrganization": "organizations/x", "etag": "a"})", "\"b\""};
  caseplan::v1::HandOverPlanRequest hand_request;
  absl::Status differs = BuildRequest(*hand.route, hand_call, hand_request);
  EXPECT_EQ(differs.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FieldViolationsOf(differs).at(0).first, "If-Match");
}

TEST(BuildRequestTest, QueryParametersFillScalarsRepeatedAndNestedFields) {
  RouteTable table = AllRoutes();
  RouteMatch list = table.Match("GET", "/v1/plans");
  HttpCall call{"GET", {}, {{"pageSize", "5"}, {"status", "PLAN_STATUS_DRAFT"}, {"person", "persons/x"}}, "", ""};
  caseplan::v1::ListPlansRequest request;
  ASSERT_TRUE(BuildRequest(*list.route, call, request).ok());
  EXPECT_EQ(request.page_size(), 5);
  EXPECT_EQ(request.status(), caseplan::v1::PLAN_STATUS_DRAFT);
  EXPECT_EQ(request.person(), "persons/x");

  RouteMatch events = table.Match("GET", "/v1/events");
  HttpCall ev{"GET", {}, {{"municipalities", "1885"}, {"municipalities", "1880"}, {"event_types", "caseplan.plan.updated"}}, "", ""};
  events::v1::ListEventsRequest ev_request;
  ASSERT_TRUE(BuildRequest(*events.route, ev, ev_request).ok());
  EXPECT_EQ(ev_request.municipalities_size(), 2);
  EXPECT_EQ(ev_request.event_types(0), "caseplan.plan.updated");

  RouteMatch supply = table.Match("GET", "/v1/supplyAndDemand");
  HttpCall sd{"GET", {}, {{"fromDate.year", "2026"}, {"fromDate.month", "3"}}, "", ""};
  placement::v1::GetSupplyAndDemandRequest sd_request;
  ASSERT_TRUE(BuildRequest(*supply.route, sd, sd_request).ok());
  EXPECT_EQ(sd_request.from_date().year(), 2026);
  EXPECT_EQ(sd_request.from_date().month(), 3);
}

void ExpectRefused(const Route& route, HttpCall call, const std::string& field,
                   const std::string& words) {
  caseplan::v1::UpdatePlanRequest scratch;
  std::unique_ptr<google::protobuf::Message> request(
      google::protobuf::MessageFactory::generated_factory()
          ->GetPrototype(route.method->input_type())
          ->New());
  absl::Status status = BuildRequest(route, call, *request);
  ASSERT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << call.body;
  auto violations = FieldViolationsOf(status);
  ASSERT_EQ(violations.size(), 1u);
  EXPECT_EQ(violations[0].first, field);
  EXPECT_TRUE(absl::StrContains(violations[0].second, words)) << violations[0].second;
}

TEST(BuildRequestTest, BadInputIsRefusedNamingTheField) {
  RouteTable table = AllRoutes();
  RouteMatch patch = table.Match("PATCH", "/v1/plans/p1");
  ExpectRefused(*patch.route, {"PATCH", patch.bindings, {}, R"({"status": "PLAN_STATUS_NOPE"})", ""},
                "plan", "PLAN_STATUS_NOPE");
  ExpectRefused(*patch.route, {"PATCH", patch.bindings, {}, R"({"colour": "red"})", ""}, "plan",
                "colour");
  ExpectRefused(*patch.route, {"PATCH", patch.bindings, {}, R"({"status": )", ""}, "plan", "");
  ExpectRefused(*patch.route, {"PATCH", patch.bindings, {}, R"({"version": "many"})", ""}, "plan",
                "");
  RouteMatch list = table.Match("GET", "/v1/plans");
  ExpectRefused(*list.route, {"GET", {}, {{"colour", "red"}}, "", ""}, "colour",
                "unknown query parameter");
  ExpectRefused(*list.route, {"GET", {}, {{"pageSize", "lots"}}, "", ""}, "pageSize", "invalid");
  ExpectRefused(*list.route, {"GET", {}, {}, R"({"pageSize": 1})", ""}, "body", "takes no body");
  RouteMatch get = table.Match("GET", "/v1/plans/p1");
  ExpectRefused(*get.route, {"GET", get.bindings, {{"name", "plans/other"}}, "", ""}, "name",
                "given by the path");
}

TEST(ErrorMappingTest, FollowsGrpcGatewayV2) {
  const std::vector<std::pair<grpc::StatusCode, int>> table = {
      {grpc::StatusCode::INVALID_ARGUMENT, 400}, {grpc::StatusCode::UNAUTHENTICATED, 401},
      {grpc::StatusCode::PERMISSION_DENIED, 403}, {grpc::StatusCode::NOT_FOUND, 404},
      {grpc::StatusCode::ABORTED, 409},          {grpc::StatusCode::ALREADY_EXISTS, 409},
      {grpc::StatusCode::FAILED_PRECONDITION, 400}, {grpc::StatusCode::RESOURCE_EXHAUSTED, 429},
      {grpc::StatusCode::UNAVAILABLE, 503},      {grpc::StatusCode::DEADLINE_EXCEEDED, 504},
      {grpc::StatusCode::OUT_OF_RANGE, 400},     {grpc::StatusCode::UNIMPLEMENTED, 501},
      {grpc::StatusCode::INTERNAL, 500},         {grpc::StatusCode::CANCELLED, 499},
  };
  for (const auto& [code, http] : table) EXPECT_EQ(HttpStatusFromCode(code), http) << code;
}

TEST(ErrorMappingTest, TheJsonCarriesTheDetails) {
  grpc::Status status = ToGrpcStatus(InvalidField("plan.status", "is required"), "req-1");
  google::protobuf::Struct json;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(ErrorJson(status), &json).ok());
  EXPECT_EQ(json.fields().at("code").number_value(), 3);
  const auto& details = json.fields().at("details").list_value();
  ASSERT_GE(details.values_size(), 2);
  const auto& bad = details.values(0).struct_value();
  EXPECT_EQ(bad.fields().at("@type").string_value(), "type.googleapis.com/google.rpc.BadRequest");
  EXPECT_EQ(bad.fields()
                .at("fieldViolations")
                .list_value()
                .values(0)
                .struct_value()
                .fields()
                .at("field")
                .string_value(),
            "plan.status");
}

TEST(ErrorMappingTest, ParsesGrpcTimeouts) {
  EXPECT_EQ(ParseTimeout("10S"), absl::Seconds(10));
  EXPECT_EQ(ParseTimeout("250m"), absl::Milliseconds(250));
  EXPECT_FALSE(ParseTimeout("10").has_value());
  EXPECT_FALSE(ParseTimeout("-1S").has_value());
  EXPECT_FALSE(ParseTimeout("soonS").has_value());
}

TEST(BackendsTest, ParsesOneAddressPerService) {
  auto parsed = ParseBackends("a.B=127.0.0.1:1, c.D=host:2");
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->at("c.D"), "host:2");
  EXPECT_FALSE(ParseBackends("a.B=127.0.0.1").ok());
  EXPECT_FALSE(ParseBackends("a.B=h:1,a.B=h:2").ok());
  EXPECT_FALSE(ParseBackends("").ok());
}

TEST(OpenApiTest, WritesEveryRouteWithItsParametersAndSchemas) {
  absl::StatusOr<std::string> doc = WriteOpenApi(Services());
  ASSERT_TRUE(doc.ok()) << doc.status();
  google::protobuf::Struct json;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(*doc, &json).ok());
  EXPECT_EQ(json.fields().at("openapi").string_value(), "3.0.3");
  const auto& paths = json.fields().at("paths").struct_value().fields();
  ASSERT_TRUE(paths.count("/v1/plans/{plans_id}"));
  EXPECT_TRUE(paths.at("/v1/plans/{plans_id}").struct_value().fields().count("get"));
  EXPECT_TRUE(paths.at("/v1/plans/{plans_id}").struct_value().fields().count("patch"));
  EXPECT_TRUE(paths.count("/v1/events:stream"));
  EXPECT_TRUE(paths.count("/v1/employers:cold"));
  const auto& schemas =
      json.fields().at("components").struct_value().fields().at("schemas").struct_value().fields();
  EXPECT_TRUE(schemas.count("samplan.caseplan.v1.Plan"));
  EXPECT_TRUE(schemas.count("google.rpc.Status"));
}

}  // namespace
}  // namespace samplan::gateway
