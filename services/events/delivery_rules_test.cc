// Tier 1: the event service's decisions as pure functions.

#include "services/events/delivery_rules.h"

#include <gtest/gtest.h>

#include "common/status.h"
#include "samplan/caseplan/v1/events.pb.h"

namespace samplan::events {
namespace {

Principal Caller(const std::string& org, const std::string& role = "partner_system",
                 const std::string& municipality = "1885") {
  Principal principal;
  principal.organization = "organizations/" + org;
  principal.municipality = municipality;
  principal.user = "users/u-" + org;
  principal.roles = {role};
  return principal;
}

v1::Event PlanEvent(const std::string& lead, std::vector<std::string> participants) {
  v1::Event event;
  event.set_type("caseplan.plan.updated");
  event.set_municipality("1885");
  event.set_aggregate("plans/p1");
  event.set_person("persons/anna");
  event.set_data_category("plan");
  event.set_owner_organization("organizations/" + lead);
  for (const std::string& p : participants) event.add_participant_organizations("organizations/" + p);
  return event;
}

v1::Event ConsentEvent(const std::string& type) {
  v1::Event event;
  event.set_type(type);
  event.set_municipality("1885");
  event.set_aggregate("consents/c1");
  event.set_person("persons/anna");
  event.set_data_category("consent");
  event.set_owner_organization("organizations/soc");
  event.add_participant_organizations("organizations/af");
  return event;
}

TEST(StreamPositionTest, ParsesAndOrders) {
  EXPECT_EQ(StreamPosition::Parse("1700000000000-3")->ToString(), "1700000000000-3");
  EXPECT_EQ(StreamPosition::Parse("17")->ToString(), "17-0");
  EXPECT_FALSE(StreamPosition::Parse("").has_value());
  EXPECT_FALSE(StreamPosition::Parse("a-1").has_value());
  EXPECT_FALSE(StreamPosition::Parse("1-").has_value());
  EXPECT_FALSE(StreamPosition::Parse("-1").has_value());
  EXPECT_LT(*StreamPosition::Parse("5-9"), *StreamPosition::Parse("6-0"));
  EXPECT_LT(*StreamPosition::Parse("6-1"), *StreamPosition::Parse("6-2"));
}

TEST(CursorTest, RoundTripsPerMunicipality) {
  absl::StatusOr<Cursor> cursor = Cursor::Parse("0580:5-1;1885:10-0", "cursor");
  ASSERT_TRUE(cursor.ok()) << cursor.status();
  EXPECT_EQ(cursor->Get("1885")->ToString(), "10-0");
  EXPECT_FALSE(cursor->Get("1980").has_value());
  cursor->Set("1885", {11, 2});
  EXPECT_EQ(cursor->ToString(), "0580:5-1;1885:11-2");
  EXPECT_TRUE(Cursor::Parse("", "cursor")->empty());
}

TEST(CursorTest, MalformedCursorNamesTheField) {
  for (const char* text : {"1885", "1885:", "18a5:1-0", "1885:1-0;", "x"}) {
    absl::StatusOr<Cursor> cursor = Cursor::Parse(text, "page_token");
    ASSERT_EQ(cursor.status().code(), absl::StatusCode::kInvalidArgument) << text;
    EXPECT_EQ(FieldViolationsOf(cursor.status()).at(0).first, "page_token") << text;
  }
}

TEST(EventTypesTest, ExactAndPrefixPatterns) {
  EXPECT_TRUE(MatchesEventTypes({}, "caseplan.plan.updated"));
  EXPECT_TRUE(MatchesEventTypes({"caseplan.plan.updated"}, "caseplan.plan.updated"));
  EXPECT_FALSE(MatchesEventTypes({"caseplan.plan.updated"}, "caseplan.plan.created"));
  EXPECT_TRUE(MatchesEventTypes({"caseplan."}, "caseplan.plan.created"));
  EXPECT_TRUE(MatchesEventTypes({"caseplan.plan.*"}, "caseplan.plan.handed_over"));
  EXPECT_FALSE(MatchesEventTypes({"caseplan.plan.*"}, "caseplanx.plan.created"));
  EXPECT_FALSE(MatchesEventTypes({"identity."}, "caseplan.plan.created"));
}

TEST(ValidateSubscriptionTest, DefaultsToTheTokensMunicipalityAndCoordination) {
  absl::StatusOr<Subscription> s = ValidateSubscription(Caller("af"), {}, {}, "", "cursor", "");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->municipalities, std::vector<std::string>{"1885"});
  EXPECT_EQ(s->purpose, "coordination");
}

TEST(ValidateSubscriptionTest, NamesEveryBadField) {
  absl::StatusOr<Subscription> s = ValidateSubscription(
      Caller("af"), {"18851"}, {"Caseplan.Plan", "caseplan..x"}, "nonsense", "cursor", "fun");
  ASSERT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  std::vector<std::string> fields;
  for (const auto& [field, description] : FieldViolationsOf(s.status())) fields.push_back(field);
  EXPECT_EQ(fields, (std::vector<std::string>{"municipalities[0]", "event_types[0]",
                                              "event_types[1]", "purpose", "cursor"}));
}

TEST(ValidateSubscriptionTest, AnotherMunicipalityIsRefused) {
  absl::StatusOr<Subscription> s =
      ValidateSubscription(Caller("af"), {"0580"}, {}, "", "cursor", "");
  EXPECT_EQ(s.status().code(), absl::StatusCode::kPermissionDenied);
}

TEST(ValidateSubscriptionTest, ACursorForAnUnnamedMunicipalityIsRefused) {
  absl::StatusOr<Subscription> s =
      ValidateSubscription(Caller("af"), {"1885"}, {}, "0580:1-0", "cursor", "");
  ASSERT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FieldViolationsOf(s.status()).at(0).first, "cursor");
}

TEST(AskDeliveryTest, TheLeadSeesItsPlanWithoutConsentFacts) {
  DeliveryQuestion q = AskDelivery(Caller("soc", "caseworker"), PlanEvent("soc", {"af"}),
                                   "coordination");
  ASSERT_TRUE(q.settled.has_value());
  EXPECT_EQ(*q.settled, DeliveryForm::kEvent);
  // A read of the person's plan data: audited when delivered.
  EXPECT_TRUE(IsPersonalDataRead(q));
}

TEST(AskDeliveryTest, AParticipantNeedsTheConsentFacts) {
  DeliveryQuestion q = AskDelivery(Caller("af"), PlanEvent("soc", {"af"}), "placement");
  EXPECT_FALSE(q.settled.has_value());
  EXPECT_EQ(q.request.person, "persons/anna");
  EXPECT_EQ(q.request.data_category, "plan");
  EXPECT_EQ(q.request.purpose, "placement");
  EXPECT_TRUE(q.request.requires_participation);
}

TEST(AskDeliveryTest, APlanWithNoParticipantsIsTheLeadsAloneAsWithGetPlan) {
  // GetPlan requires taking part; a consent for plans alone does not show a plan
  // in which the organization takes no part. The stream decides the same way.
  DeliveryQuestion q = AskDelivery(Caller("af"), PlanEvent("soc", {}), "coordination");
  ASSERT_FALSE(q.settled.has_value());
  EXPECT_TRUE(q.request.requires_participation);
  AccessFacts facts;
  facts.consent = "consents/c1";
  const AccessDecision decision = DecideAccess(Caller("af"), q.request, facts);
  EXPECT_FALSE(decision.permitted);
  EXPECT_EQ(decision.reason, "not_participant");
}

TEST(AskDeliveryTest, RolesWithoutPersonalDataAndOtherMunicipalitiesSeeNothingPersonal) {
  EXPECT_EQ(*AskDelivery(Caller("soc", "manager"), PlanEvent("soc", {}), "coordination").settled,
            DeliveryForm::kSkip);
  EXPECT_EQ(*AskDelivery(Caller("soc", "caseworker", "0580"), PlanEvent("soc", {}),
                         "coordination")
                 .settled,
            DeliveryForm::kSkip);
}

TEST(AskDeliveryTest, EventsAboutNoPersonGoToTheMunicipality) {
  v1::Event event;
  event.set_type("identity.organization.created");
  event.set_municipality("1885");
  DeliveryQuestion q = AskDelivery(Caller("af", "manager"), event, "coordination");
  EXPECT_EQ(*q.settled, DeliveryForm::kEvent);
  EXPECT_FALSE(IsPersonalDataRead(q));
}

TEST(AskDeliveryTest, AConsentIsToldToItsPartiesOnly) {
  EXPECT_EQ(*AskDelivery(Caller("af"), ConsentEvent("identity.consent.granted"), "coordination")
                 .settled,
            DeliveryForm::kEvent);
  EXPECT_EQ(*AskDelivery(Caller("af"), ConsentEvent("identity.consent.withdrawn"),
                         "coordination")
                 .settled,
            DeliveryForm::kConsentWithdrawn);
  // The owner gets the event itself; a stranger nothing.
  EXPECT_EQ(*AskDelivery(Caller("soc", "caseworker"), ConsentEvent("identity.consent.withdrawn"),
                         "coordination")
                 .settled,
            DeliveryForm::kEvent);
  EXPECT_EQ(*AskDelivery(Caller("fk"), ConsentEvent("identity.consent.granted"), "coordination")
                 .settled,
            DeliveryForm::kSkip);
  EXPECT_TRUE(ChangesAccess(ConsentEvent("identity.consent.withdrawn")));
  EXPECT_FALSE(ChangesAccess(PlanEvent("soc", {})));
}

constexpr int64_t kNowMs = 10'000'000'000;

TEST(CheckCursorInRangeTest, KeptEventsAreServed) {
  StreamExtent extent{{kNowMs - 1000, 0}, {0, 0}, false, std::nullopt,
                      StreamPosition{kNowMs - 5000, 0}};
  EXPECT_TRUE(CheckCursorInRange("1885", {kNowMs - 6000, 0}, extent,
                                 absl::FromUnixMillis(kNowMs), absl::Hours(1))
                  .ok());
}

TEST(CheckCursorInRangeTest, TrimmedPastTheCursorIsOutOfRange) {
  // Entries up to kNowMs - 5000 were trimmed; the cursor is before the oldest kept.
  StreamExtent extent{{kNowMs - 1000, 0}, {0, 0}, true, StreamPosition{kNowMs - 4000, 0},
                      StreamPosition{kNowMs - 4000, 0}};
  absl::Status status = CheckCursorInRange("1885", {kNowMs - 6000, 0}, extent,
                                           absl::FromUnixMillis(kNowMs), absl::Hours(1));
  EXPECT_EQ(status.code(), absl::StatusCode::kOutOfRange);
  EXPECT_NE(status.message().find("resynchronise"), std::string::npos);
  // At the oldest kept entry: nothing after it is gone.
  EXPECT_TRUE(CheckCursorInRange("1885", {kNowMs - 4000, 0}, extent,
                                 absl::FromUnixMillis(kNowMs), absl::Hours(1))
                  .ok());
  // Deleted one by one past the cursor.
  StreamExtent deleted{{kNowMs - 1000, 0}, {kNowMs - 5000, 0}, true,
                       StreamPosition{kNowMs - 7000, 0}, StreamPosition{kNowMs - 4000, 0}};
  EXPECT_EQ(CheckCursorInRange("1885", {kNowMs - 6000, 0}, deleted,
                               absl::FromUnixMillis(kNowMs), absl::Hours(1))
                .code(),
            absl::StatusCode::kOutOfRange);
  // Everything trimmed: only a cursor at the newest misses nothing.
  StreamExtent empty{{kNowMs - 1000, 0}, {0, 0}, true, std::nullopt, std::nullopt};
  EXPECT_EQ(CheckCursorInRange("1885", {kNowMs - 2000, 0}, empty, absl::FromUnixMillis(kNowMs),
                               absl::Hours(1))
                .code(),
            absl::StatusCode::kOutOfRange);
  EXPECT_TRUE(CheckCursorInRange("1885", {kNowMs - 1000, 0}, empty,
                                 absl::FromUnixMillis(kNowMs), absl::Hours(1))
                  .ok());
}

TEST(CheckCursorInRangeTest, EventsPastRetentionAfterTheCursorAreOutOfRange) {
  // Not trimmed yet (trimming is approximate), but older than the promise.
  StreamExtent extent{{kNowMs - 1000, 0}, {0, 0}, false, std::nullopt,
                      StreamPosition{kNowMs - 7'200'000, 0}};
  EXPECT_EQ(CheckCursorInRange("1885", {kNowMs - 7'300'000, 0}, extent,
                               absl::FromUnixMillis(kNowMs), absl::Hours(1))
                .code(),
            absl::StatusCode::kOutOfRange);
}

TEST(CheckCursorInRangeTest, AnOldCursorOnAQuietStreamIsFine) {
  // A client away for a month from a municipality where nothing happened until a
  // minute ago misses nothing: the next event is recent and kept.
  StreamExtent extent{{kNowMs - 60'000, 0}, {0, 0}, false, StreamPosition{kNowMs - 60'000, 0},
                      StreamPosition{kNowMs - 60'000, 0}};
  EXPECT_TRUE(CheckCursorInRange("1885", {1'000, 0}, extent, absl::FromUnixMillis(kNowMs),
                                 absl::Hours(1))
                  .ok());
  extent.next.reset();
  EXPECT_TRUE(CheckCursorInRange("1885", {kNowMs - 60'000, 0}, extent,
                                 absl::FromUnixMillis(kNowMs), absl::Hours(1))
                  .ok());
}

TEST(CheckCursorInRangeTest, ACursorBeyondTheStreamMeansItWasReset) {
  StreamExtent extent{{5, 0}, {0, 0}, false, std::nullopt, std::nullopt};
  EXPECT_EQ(CheckCursorInRange("1885", {6, 0}, extent, absl::FromUnixMillis(10), absl::Hours(1))
                .code(),
            absl::StatusCode::kOutOfRange);
}

}  // namespace
}  // namespace samplan::events
