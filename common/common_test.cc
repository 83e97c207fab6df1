// Tier 1 tests of the common parts that need no server: configuration, error
// mapping, ids, authorization rules.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <memory>
#include <thread>

#include <gtest/gtest.h>
#include <pqxx/except>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/access.h"
#include "common/config.h"
#include "common/field_mask.h"
#include "common/ids.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/paging.h"
#include "common/pg.h"
#include "common/redis.h"
#include "common/status.h"
#include "common/text.h"
#include "tests/support/fixtures.h"
#include "google/rpc/error_details.pb.h"
#include "common/rpc_details.h"
#include "google/rpc/status.pb.h"

namespace samplan {
namespace {

EnvReader ReaderOf(std::map<std::string, std::string> values) {
  return EnvReader([values](absl::string_view name) -> std::optional<std::string> {
    auto it = values.find(std::string(name));
    if (it == values.end()) return std::nullopt;
    return it->second;
  });
}

TEST(ConfigTest, DefaultsApplyWhenUnset) {
  EnvReader env = ReaderOf({{"SAMPLAN_PG_DSN", "host=db"}});
  ServerConfig server = ReadServerConfig(env);
  PgConfig pg = ReadPgConfig(env);
  RedisConfig redis = ReadRedisConfig(env);
  ASSERT_TRUE(env.Finish().ok()) << env.Finish();
  EXPECT_EQ(server.listen_address, "0.0.0.0:50051");
  EXPECT_EQ(server.call_timeout, absl::Seconds(10));
  EXPECT_EQ(pg.dsn, "host=db");
  EXPECT_EQ(pg.pool_size, 8);
  EXPECT_EQ(redis.host, "127.0.0.1");
  EXPECT_EQ(redis.port, 6379);
}

TEST(ConfigTest, EveryProblemIsNamedAtOnce) {
  EnvReader env = ReaderOf({{"SAMPLAN_PG_POOL_SIZE", "lots"},
                            {"SAMPLAN_CALL_TIMEOUT", "soon"},
                            {"SAMPLAN_REDIS_ADDRESS", "redis"},
                            {"SAMPLAN_RELAY_ENABLED", "perhaps"}});
  ReadServerConfig(env);
  ReadPgConfig(env);
  ReadRedisConfig(env);
  ReadRelayConfig(env);
  absl::Status status = env.Finish();
  ASSERT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  for (const char* name : {"SAMPLAN_PG_DSN is required", "SAMPLAN_PG_POOL_SIZE",
                           "SAMPLAN_CALL_TIMEOUT", "SAMPLAN_REDIS_ADDRESS",
                           "SAMPLAN_RELAY_ENABLED"}) {
    EXPECT_NE(status.message().find(name), absl::string_view::npos) << name << ": " << status;
  }
}

TEST(ConfigTest, RedisThroughSentinelsAsAUserWithReplicasRequired) {
  EnvReader env = ReaderOf({{"SAMPLAN_REDIS_SENTINELS", "s0:26379, s1:26379,s2:26380"},
                            {"SAMPLAN_REDIS_USERNAME", "caseplan"},
                            {"SAMPLAN_REDIS_PASSWORD", "secret"},
                            {"SAMPLAN_RELAY_MIN_REPLICAS", "1"}});
  RedisOptions redis = ReadRedisConfig(env).Options();
  RelayConfig relay = ReadRelayConfig(env);
  ASSERT_TRUE(env.Finish().ok()) << env.Finish();
  ASSERT_EQ(redis.sentinels.size(), 3u);
  EXPECT_EQ(redis.sentinels[1], std::make_pair(std::string("s1"), 26379));
  EXPECT_EQ(redis.sentinels[2].second, 26380);
  EXPECT_EQ(redis.sentinel_master, "samplan");
  EXPECT_EQ(redis.username, "caseplan");
  EXPECT_EQ(redis.password, "secret");
  EXPECT_EQ(relay.min_replicas, 1);
  EXPECT_EQ(relay.replica_timeout, absl::Seconds(1));
}

TEST(ConfigTest, RedisSettingsProblemsAreNamed) {
  EnvReader env = ReaderOf({{"SAMPLAN_REDIS_SENTINELS", "s0:26379,nowhere"},
                            {"SAMPLAN_REDIS_USERNAME", "caseplan"},
                            {"SAMPLAN_RELAY_MIN_REPLICAS", "-1"}});
  ReadRedisConfig(env);
  ReadRelayConfig(env);
  absl::Status status = env.Finish();
  for (const char* name : {"SAMPLAN_REDIS_SENTINELS", "SAMPLAN_REDIS_PASSWORD is required",
                           "SAMPLAN_RELAY_MIN_REPLICAS"}) {
    EXPECT_NE(status.message().find(name), absl::string_view::npos) << name << ": " << status;
  }
}

TEST(ConfigTest, UnreadableKeyFileIsNamed) {
  EnvReader env = ReaderOf({{"SAMPLAN_JWT_ISSUER", "i"},
                            {"SAMPLAN_JWT_AUDIENCE", "a"},
                            {"SAMPLAN_JWT_PUBLIC_KEYS", "dev=/nonexistent/key.pem"}});
  TokenVerifierOptions options = ReadTokenVerifierOptions(env);
  EXPECT_TRUE(options.public_keys_pem.empty());
  EXPECT_NE(env.Finish().message().find("SAMPLAN_JWT_PUBLIC_KEYS"), absl::string_view::npos);
}

TEST(StatusTest, FieldViolationsReachTheWireAsBadRequest) {
  FieldViolations violations;
  violations.Add("plan.person", "is required");
  violations.Add("plan.goals[1].description", "must not be empty");
  absl::Status status = violations.ToStatus();
  ASSERT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FieldViolationsOf(status).size(), 2u);

  grpc::Status wire = ToGrpcStatus(status, "req-1");
  EXPECT_EQ(wire.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(wire.error_message().find("plan.person"), std::string::npos);
  google::rpc::Status rpc_status;
  ASSERT_TRUE(rpc_status.ParseFromString(wire.error_details()));
  bool saw_bad_request = false, saw_request_info = false;
  for (const auto& any : rpc_status.details()) {
    google::rpc::BadRequest bad_request;
    google::rpc::RequestInfo info;
    if (any.UnpackTo(&bad_request)) {
      saw_bad_request = true;
      ASSERT_EQ(bad_request.field_violations_size(), 2);
      EXPECT_EQ(bad_request.field_violations(1).field(), "plan.goals[1].description");
    } else if (any.UnpackTo(&info)) {
      saw_request_info = true;
      EXPECT_EQ(info.request_id(), "req-1");
    }
  }
  EXPECT_TRUE(saw_bad_request);
  EXPECT_TRUE(saw_request_info);
}

TEST(StatusTest, InternalDetailNeverReachesTheCaller) {
  grpc::Status wire =
      ToGrpcStatus(absl::InternalError("relation caseplan.plans has secret column"), "req-9");
  EXPECT_EQ(wire.error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_EQ(wire.error_message().find("caseplan"), std::string::npos);
  EXPECT_NE(wire.error_message().find("req-9"), std::string::npos);
}

TEST(StatusTest, EtagMismatchIsAbortedWithPreconditionFailure) {
  grpc::Status wire = ToGrpcStatus(EtagMismatch("plans/1", "stale"), "r");
  EXPECT_EQ(wire.error_code(), grpc::StatusCode::ABORTED);
  google::rpc::Status rpc_status;
  ASSERT_TRUE(rpc_status.ParseFromString(wire.error_details()));
  google::rpc::PreconditionFailure failure;
  ASSERT_TRUE(UnpackDetail(rpc_status, &failure));
  EXPECT_EQ(failure.violations(0).type(), "ETAG");
  EXPECT_EQ(failure.violations(0).subject(), "plans/1");
}

TEST(StatusTest, LibpqxxErrorsMapToTheirMeaning) {
  EXPECT_EQ(StatusFromException(pqxx::unique_violation("dup", "", "23505")).code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(StatusFromException(pqxx::serialization_failure("ser")).code(),
            absl::StatusCode::kAborted);
  EXPECT_EQ(StatusFromException(pqxx::broken_connection("gone")).code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(StatusFromException(pqxx::in_doubt_error("commit?")).code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(StatusFromException(pqxx::sql_error("timeout", "SELECT", "57014")).code(),
            absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(StatusFromException(pqxx::sql_error("shutdown", "SELECT", "57P01")).code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(StatusFromException(std::runtime_error("x")).code(), absl::StatusCode::kInternal);
}

TEST(StatusTest, DatabaseDetailWithRowValuesNeverLeavesTheMapping) {
  // libpq appends DETAIL lines that can quote a row's values.
  pqxx::sql_error check(
      "ERROR:  new row violates check constraint \"c\"\nDETAIL:  Failing row contains "
      "(19121212-1212, secret note).\n",
      "INSERT", "23514");
  absl::Status status = StatusFromException(check);
  EXPECT_EQ(status.message().find("19121212"), std::string_view::npos) << status;
  EXPECT_EQ(status.message().find("secret"), std::string_view::npos) << status;
  EXPECT_EQ(ErrorSummary(check), "ERROR:  new row violates check constraint \"c\"");
  EXPECT_EQ(StatusFromException(pqxx::sql_error("invalid input syntax", "SELECT", "22P02")).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ConfigTest, DurationsBelowTheirMinimumAreRefused) {
  EnvReader env = ReaderOf({{"SAMPLAN_PG_DSN", "x"},
                            {"SAMPLAN_CALL_TIMEOUT", "0s"},
                            {"SAMPLAN_RELAY_POLL_INTERVAL", "0s"},
                            {"SAMPLAN_STREAM_RETENTION", "1s"}});
  ReadServerConfig(env);
  ReadRelayConfig(env);
  absl::Status status = env.Finish();
  for (const char* name : {"SAMPLAN_CALL_TIMEOUT", "SAMPLAN_RELAY_POLL_INTERVAL",
                           "SAMPLAN_STREAM_RETENTION"}) {
    EXPECT_NE(status.message().find(name), std::string_view::npos) << name << ": " << status;
  }
}

TEST(TextTest, LengthsCountCharactersNotBytes) {
  EXPECT_EQ(CharacterCount("Åsa"), 3u);
  EXPECT_EQ(CharacterCount("Ärende för Örebro"), 17u);
  FieldViolations v;
  CheckTextLength(v, "a", "Åsa", 1, 3);      // six bytes, three characters
  EXPECT_TRUE(v.empty());
  CheckTextLength(v, "b", "Åsaå", 1, 3);
  CheckTextLength(v, "c", "   ", 1, 10);     // white space only is not a text
  CheckTextLength(v, "d", "", 0, 10);        // optional
  CheckTextLength(v, "e", "kort", 20, 100);
  const auto violations = FieldViolationsOf(v.ToStatus());
  ASSERT_EQ(violations.size(), 3u);
  EXPECT_EQ(violations[0], std::make_pair(std::string("b"),
                                          std::string("must be at most 3 characters")));
  EXPECT_EQ(violations[1], std::make_pair(std::string("c"), std::string("is required")));
  EXPECT_EQ(violations[2].first, "e");
}

TEST(TextTest, ANulAnywhereInARequestIsNamedByItsPath) {
  google::rpc::BadRequest request;  // any message with nested repeated strings
  request.add_field_violations()->set_field("fine");
  request.add_field_violations()->set_description(std::string("cut\0here", 8));
  request.add_field_violations()->set_field(std::string("\0", 1));
  EXPECT_EQ(FieldViolationsOf(CheckNoNulCharacters(request)),
            (std::vector<std::pair<std::string, std::string>>{
                {"field_violations[1].description",
                 "must not contain the NUL character (U+0000): it cannot be stored"},
                {"field_violations[2].field",
                 "must not contain the NUL character (U+0000): it cannot be stored"}}));
  request.mutable_field_violations(1)->set_description("whole");
  request.mutable_field_violations(2)->set_field("whole");
  EXPECT_TRUE(CheckNoNulCharacters(request).ok());
}

TEST(IdsTest, UuidsAreCanonicalAndDistinct) {
  std::string a = NewUuid(), b = NewUuid();
  EXPECT_TRUE(IsUuid(a)) << a;
  EXPECT_NE(a, b);
  EXPECT_EQ(a[14], '4');
  EXPECT_FALSE(IsUuid("not-a-uuid"));
}

TEST(IdsTest, ResourceNamesAreChecked) {
  EXPECT_EQ(ResourceId("persons/p-1", "persons"), "p-1");
  EXPECT_EQ(ResourceId("persons/", "persons"), "");
  EXPECT_EQ(ResourceId("personsx/p", "persons"), "");
  EXPECT_EQ(ResourceId("persons/a/b", "persons"), "");
  EXPECT_EQ(ResourceId("organizations/x", "persons"), "");
}

TEST(LogTest, JsonEscapingKeepsOneLine) {
  EXPECT_EQ(JsonEscape("a\"b\\c\nd\x01"), "a\\\"b\\\\c\\nd\\u0001");
}

TEST(MetricsTest, RendersPrometheusTextFormat) {
  Metrics metrics;
  metrics.Describe("x_calls_total", "counter", "Calls.");
  metrics.Describe("x_seconds", "histogram", "Time.");
  metrics.Describe("x_age_seconds", "gauge", "Age.");
  metrics.Add("x_calls_total", "method=\"GetPlan\",code=\"OK\"");
  metrics.Add("x_calls_total", Metrics::Labels{{"method", "GetPlan"}, {"code", "OK"}}, 2);
  metrics.Observe("x_seconds", "method=\"GetPlan\"", 0.004);
  metrics.Set("x_age_seconds", 1.5);
  const std::string text = metrics.Render();
  EXPECT_NE(text.find("# HELP x_calls_total Calls.\n# TYPE x_calls_total counter\n"),
            std::string::npos)
      << text;
  // One series for the label text and the label map alike; prometheus-cpp writes
  // labels sorted by name.
  EXPECT_NE(text.find("x_calls_total{code=\"OK\",method=\"GetPlan\"} 3\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("# TYPE x_seconds histogram\n"), std::string::npos) << text;
  // 4 ms falls in the 5 ms bucket and every larger one, not in the 2.5 ms one.
  EXPECT_NE(text.find("x_seconds_bucket{method=\"GetPlan\",le=\"0.0025\"} 0\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("x_seconds_bucket{method=\"GetPlan\",le=\"0.005\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("x_seconds_bucket{method=\"GetPlan\",le=\"10\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("x_seconds_bucket{method=\"GetPlan\",le=\"+Inf\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("x_seconds_count{method=\"GetPlan\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("x_seconds_sum{method=\"GetPlan\"} 0.004\n"), std::string::npos);
  EXPECT_NE(text.find("# TYPE x_age_seconds gauge\nx_age_seconds 1.5\n"), std::string::npos)
      << text;
}

TEST(MetricsTest, DescribedMetricsWithoutSeriesAreNotWritten) {
  Metrics metrics;
  metrics.Describe("x_never_total", "counter", "Never counted.");
  metrics.Add("x_undescribed_total", "");
  const std::string text = metrics.Render();
  EXPECT_EQ(text.find("x_never_total"), std::string::npos) << text;
  EXPECT_NE(text.find("# TYPE x_undescribed_total counter\nx_undescribed_total 1\n"),
            std::string::npos)
      << text;
}

TEST(MetricsTest, EscapesLabelValuesBothWays) {
  Metrics metrics;
  metrics.Add("x_total", "schema=\"a\\\"b\\\\c\"");
  metrics.Add("x_total", Metrics::Labels{{"schema", "a\"b\\c"}});
  EXPECT_NE(metrics.Render().find("x_total{schema=\"a\\\"b\\\\c\"} 2\n"), std::string::npos)
      << metrics.Render();
}

TEST(MetricsTest, MisusedNamesAreDroppedNotThrown) {
  Metrics metrics;
  metrics.Describe("x_age_seconds", "gauge", "Age.");
  metrics.Add("x_age_seconds", "");                  // a gauge is no counter
  metrics.Observe("x_age_seconds", "", 1.0);         // nor a histogram
  metrics.Add("x_total", "method=GetPlan");          // labels not in the format
  metrics.Add("x-bad-name", "");                     // not a metric name
  metrics.Add("y_total", "9method=\"GetPlan\"");     // not a label name
  metrics.Describe("z_total", "summary", "Unknown.");  // not a type we have
  EXPECT_EQ(metrics.Render(), "");
}

TEST(MetricsTest, ParsesLabelText) {
  auto labels = ParseMetricLabels("method=\"GetPlan\",code=\"OK\"");
  ASSERT_TRUE(labels.ok()) << labels.status();
  EXPECT_EQ(*labels, (Metrics::Labels{{"method", "GetPlan"}, {"code", "OK"}}));
  EXPECT_TRUE(ParseMetricLabels("")->empty());
  EXPECT_FALSE(ParseMetricLabels("method=\"GetPlan").ok());
  EXPECT_FALSE(ParseMetricLabels("method=\"GetPlan\"code=\"OK\"").ok());
  EXPECT_FALSE(ParseMetricLabels("=\"x\"").ok());
}

// Loopback only, on a port the kernel picks: no server beyond this process.
TEST(MetricsTest, ServesTheGlobalMetricsOverHttp) {
  Metrics::Global().Describe("x_served_total", "counter", "Served.");
  Metrics::Global().Add("x_served_total", "code=\"OK\"");
  auto server = MetricsServer::Start("127.0.0.1:0");
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_GT((*server)->port(), 0);
  const std::string answer = testing::HttpGet((*server)->port(), "/metrics");
  EXPECT_NE(answer.find(" 200 "), std::string::npos) << answer;
  EXPECT_NE(answer.find("Content-Type: text/plain"), std::string::npos) << answer;
  EXPECT_NE(answer.find("x_served_total{code=\"OK\"} 1\n"), std::string::npos) << answer;
  EXPECT_NE(testing::HttpGet((*server)->port(), "/other").find(" 404 "), std::string::npos);

  // The port is taken: the second server says so instead of throwing.
  auto second = MetricsServer::Start(absl::StrCat("127.0.0.1:", (*server)->port()));
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable) << second.status();
  EXPECT_EQ(MetricsServer::Start("localhost:9090").status().code(),
            absl::StatusCode::kInvalidArgument);
}

Principal Caller(std::string org, std::string municipality, std::string role) {
  Principal p;
  p.organization = std::move(org);
  p.municipality = std::move(municipality);
  p.user = "users/u";
  p.roles = {std::move(role)};
  return p;
}

// The access rule over every kind of caller, with the facts identity would give.
TEST(AccessRuleTest, DecidesEveryKindOfCallerAndSaysWhy) {
  AccessRequest plan;
  plan.resource = "plans/1";
  plan.person = "persons/p";
  plan.municipality = "1885";
  plan.owner_organization = "organizations/soc";
  plan.requires_participation = true;
  plan.participant_organizations = {"organizations/af", "organizations/fk"};
  plan.data_category = "plan";
  plan.purpose = "coordination";
  AccessFacts consented;
  consented.consent = "consents/c1";
  AccessFacts withdrawn;
  withdrawn.consent_gap = "consent_withdrawn";
  AccessFacts glass;
  glass.break_glass = "breakGlassAccesses/b1";
  glass.consent_gap = "no_consent";

  struct Case {
    const char* what;
    Principal caller;
    AccessFacts facts;
    bool permitted;
    const char* reason;
    const char* consent;
  };
  const Case cases[] = {
      {"owner", Caller("organizations/soc", "1885", "caseworker"), {}, true, "owner", ""},
      {"participant with consent", Caller("organizations/af", "1885", "partner_system"),
       consented, true, "consent", "consents/c1"},
      {"participant, consent withdrawn", Caller("organizations/fk", "1885", "caseworker"),
       withdrawn, false, "consent_withdrawn", ""},
      {"participant, no facts", Caller("organizations/fk", "1885", "caseworker"), {}, false,
       "no_consent", ""},
      {"consent but not taking part", Caller("organizations/region", "1885", "caseworker"),
       consented, false, "not_participant", ""},
      {"break glass, not taking part", Caller("organizations/region", "1885", "caseworker"),
       glass, true, "break_glass", "breakGlassAccesses/b1"},
      {"owner id in another municipality", Caller("organizations/soc", "0180", "caseworker"),
       consented, false, "other_municipality", ""},
      {"manager of the owner", Caller("organizations/soc", "1885", "manager"), consented, false,
       "role", ""},
      {"administrator of the owner", Caller("organizations/soc", "1885", "administrator"),
       consented, false, "role", ""},
  };
  for (const Case& c : cases) {
    const AccessDecision decision = DecideAccess(c.caller, plan, c.facts);
    EXPECT_EQ(decision.permitted, c.permitted) << c.what;
    EXPECT_EQ(decision.reason, c.reason) << c.what;
    EXPECT_EQ(decision.consent, c.consent) << c.what;
    // Where the facts are not needed, deciding without them changes nothing.
    if (!NeedsAccessFacts(c.caller, plan)) {
      const AccessDecision without = DecideAccess(c.caller, plan, AccessFacts{});
      EXPECT_EQ(without.permitted, decision.permitted) << c.what;
      EXPECT_EQ(without.reason, decision.reason) << c.what;
    }
  }
  EXPECT_FALSE(NeedsAccessFacts(cases[0].caller, plan));  // the owner
  EXPECT_TRUE(NeedsAccessFacts(cases[1].caller, plan));   // a participant
  // A record about a person owned elsewhere is created under the person's consent.
  AccessRequest create = plan;
  create.action = AccessAction::kCreate;
  create.requires_participation = false;
  EXPECT_EQ(DecideAccess(Caller("organizations/af", "1885", "caseworker"), create, consented)
                .reason,
            "consent");
  EXPECT_EQ(DecideAccess(Caller("organizations/af", "1885", "caseworker"), create, withdrawn)
                .reason,
            "consent_withdrawn");
  // A denial tells the caller nothing about the record, except a role it lacks.
  const absl::Status denied = StatusOf({false, "consent_withdrawn", ""}, "plans/1");
  EXPECT_EQ(denied.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(denied.message().find("withdrawn"), std::string::npos);
  EXPECT_NE(StatusOf({false, "role", ""}, "plans/1").message().find("statistics only"),
            std::string::npos);
}

TEST(AccessRuleTest, TheAuditRecordSaysWhoWhatWhoseAndWhy) {
  AccessRequest request;
  request.resource = "plans/1";
  request.person = "persons/p";
  request.municipality = "1885";
  request.data_category = "plan";
  request.purpose = "coordination";
  const AuditEntry entry =
      AuditOf(Caller("organizations/af", "1885", "partner_system"), "caseplan.GetPlan", request,
              {true, "consent", "consents/c1"}, absl::FromUnixSeconds(1000), "req-1");
  EXPECT_EQ(entry.actor_user, "users/u");
  EXPECT_EQ(entry.actor_organization, "organizations/af");
  EXPECT_EQ(entry.action, "caseplan.GetPlan");
  EXPECT_EQ(entry.subject_person, "persons/p");
  EXPECT_EQ(entry.consent, "consents/c1");
  EXPECT_EQ(entry.decision, "permit");
  EXPECT_EQ(entry.reason, "consent");
  EXPECT_EQ(entry.request_id, "req-1");
  EXPECT_TRUE(IsDataCategory("health"));
  EXPECT_FALSE(IsDataCategory("everything"));
  EXPECT_TRUE(IsPurpose("follow_up"));
}


// The fields a status names, in order.
std::vector<std::string> Violated(const absl::Status& status) {
  std::vector<std::string> fields;
  for (auto& [field, description] : FieldViolationsOf(status)) fields.push_back(field);
  return fields;
}

TEST(PagingTest, OneRuleForSizesDefaultsCapsAndRefusals) {
  EXPECT_EQ(*PageSizeOf(0), 25);
  EXPECT_EQ(*PageSizeOf(7), 7);
  EXPECT_EQ(*PageSizeOf(1000), 100);  // lowered to the maximum, not refused
  EXPECT_EQ(*PageSizeOf(0, {100, 1000}), 100);
  EXPECT_EQ(*PageSizeOf(5000, {100, 1000}), 1000);
  EXPECT_EQ(Violated(PageSizeOf(-1).status()),
            std::vector<std::string>{"page_size"});
}

TEST(PagingTest, ATokenHoldsItsPositionAndWorksOnlyWithItsFilters) {
  const std::string token = EncodePageToken("persons/p,,ACTIVE", {"123456", "a|b\x1f\nc"});
  EXPECT_EQ(token.find("persons"), std::string::npos) << "filters are not readable in a token";
  absl::StatusOr<std::vector<std::string>> position =
      DecodePageToken(token, "persons/p,,ACTIVE", 2);
  ASSERT_TRUE(position.ok()) << position.status();
  EXPECT_EQ(*position, (std::vector<std::string>{"123456", "a|b\x1f\nc"}));
  for (const absl::Status& refused :
       {DecodePageToken(token, "persons/q,,ACTIVE", 2).status(),
        DecodePageToken(token, "persons/p,,ACTIVE", 1).status(),
        DecodePageToken("garbage!", "", 2).status(), DecodePageToken("", "", 0).status()}) {
    EXPECT_EQ(Violated(refused), std::vector<std::string>{"page_token"}) << refused;
  }
  std::vector<int> rows = {1, 2, 3, 4};
  EXPECT_TRUE(TrimToPage(rows, 3));
  EXPECT_EQ(rows, (std::vector<int>{1, 2, 3}));
  EXPECT_FALSE(TrimToPage(rows, 3));
}

TEST(FieldMaskTest, OneRuleForStarOutputOnlyImmutableAndUnknownPaths) {
  const UpdatableFields fields{{"message", "details"}, {"code"}};
  const google::protobuf::Descriptor& type = *google::rpc::Status::descriptor();
  auto resolve = [&](std::vector<std::string> paths) {
    google::protobuf::FieldMask mask;
    for (const std::string& path : paths) mask.add_paths(path);
    return ResolveUpdateMask(mask, type, fields);
  };
  EXPECT_EQ(*resolve({"*"}), (std::vector<std::string>{"message", "details"}));
  EXPECT_EQ(*resolve({"details", "code", "details"}), std::vector<std::string>{"details"});
  // Only output-only paths: ignored, so nothing changes (and nothing is refused).
  EXPECT_EQ(*resolve({"code"}), std::vector<std::string>{});
  for (const std::vector<std::string>& refused :
       std::vector<std::vector<std::string>>{{}, {"nope"}, {"*", "message"}}) {
    EXPECT_EQ(Violated(resolve(refused).status()),
              std::vector<std::string>{"update_mask"});
  }
  // An immutable field is named as one, with what can be changed instead.
  const UpdatableFields narrow{{"message"}, {}};
  google::protobuf::FieldMask mask;
  mask.add_paths("details");
  std::vector<std::pair<std::string, std::string>> violations =
      FieldViolationsOf(ResolveUpdateMask(mask, type, narrow).status());
  ASSERT_EQ(violations.size(), 1u);
  EXPECT_EQ(violations[0].second, "\"details\" cannot be changed; the fields that can are message");
}

TEST(FieldMaskTest, MaskedFieldsAreReplacedWhole) {
  google::rpc::Status target;
  target.set_code(5);
  target.set_message("old");
  target.add_details()->set_type_url("a");
  google::rpc::Status patch;
  patch.set_code(9);
  ApplyUpdateMask(patch, {"message", "details"}, target);
  EXPECT_EQ(target.code(), 5);
  EXPECT_EQ(target.message(), "");
  EXPECT_EQ(target.details_size(), 0);
}

TEST(FieldMaskTest, ChangedFieldsNamesWhatDiffersInTheOrderAsked) {
  google::rpc::Status before;
  before.set_code(5);
  before.set_message("same");
  google::rpc::Status after = before;
  after.set_code(6);
  after.add_details()->set_type_url("a");
  EXPECT_EQ(ChangedFields(before, after, {"details", "message", "code"}),
            (std::vector<std::string>{"details", "code"}));
  EXPECT_TRUE(ChangedFields(before, before, {"details", "message", "code"}).empty());
}

// A database that accepts the connection and never answers (a stalled network,
// a hung server) must not hold the pool, or a call, forever: the connect gives up
// within the connect timeout and the pool answers UNAVAILABLE.
TEST(PgPoolTest, ADatabaseThatNeverAnswersIsGivenUpWithinTheConnectTimeout) {
  const int listener = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ASSERT_EQ(listen(listener, 16), 0);  // the kernel accepts; no one ever answers
  socklen_t length = sizeof(address);
  ASSERT_EQ(getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length), 0);
  PgPoolOptions options;
  options.dsn = absl::StrCat("host=127.0.0.1 port=", ntohs(address.sin_port),
                             " user=samplan dbname=samplan");
  options.size = 1;
  options.connect_timeout = absl::Seconds(2);

  struct Outcome {
    absl::Notification done;
    absl::Status status;
  };
  auto outcome = std::make_shared<Outcome>();
  const absl::Time start = absl::Now();
  std::thread([options, outcome] {
    absl::StatusOr<std::unique_ptr<PgPool>> pool = PgPool::Create(options);
    outcome->status = pool.status();
    outcome->done.Notify();
  }).detach();
  const bool returned = outcome->done.WaitForNotificationWithTimeout(absl::Seconds(20));
  ASSERT_TRUE(returned) << "the pool was still connecting after 20 s";
  EXPECT_EQ(outcome->status.code(), absl::StatusCode::kUnavailable) << outcome->status;
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
  close(listener);
}

TEST(IdsTest, PersonalIdentityNumbersAreFoundInAnyText) {
  for (const char* text : {"19850312-2387", "850312-2387", "850312+2387", "198503122387",
                           "8503122387", "trace-19850312-2387-x", "8503722384"}) {
    EXPECT_TRUE(HoldsPersonalIdentityNumber(text)) << text;
  }
  for (const char* text : {"6f1c3a4e-8b7d-4c1a-9e2f-0a1b2c3d4e5f", "trace-123", "bench-1-2",
                           "850312-2388" /* check digit */, "851312-2385" /* month */,
                           "85031223870" /* eleven digits */, "850312-23870", ""}) {
    EXPECT_FALSE(HoldsPersonalIdentityNumber(text)) << text;
  }
}

}  // namespace
}  // namespace samplan
