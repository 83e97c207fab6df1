// Tier 1: the identity service's request rules as pure functions.

#include "services/identity/identity_rules.h"

#include <google/protobuf/util/time_util.h>
#include <gtest/gtest.h>

#include "common/status.h"

namespace samplan::identity {
namespace {

using ::google::protobuf::util::TimeUtil;

const absl::Time kNow = absl::FromCivil(absl::CivilSecond(2024, 5, 10, 12, 0, 0),
                                        absl::UTCTimeZone());

google::protobuf::Timestamp At(absl::Time time) {
  return TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(time));
}

Principal Caller(const std::string& org, const std::string& role,
                 const std::string& municipality = "1885") {
  return {"organizations/" + org, municipality, "users/u-" + org, {role}};
}

v1::Consent ValidConsent() {
  v1::Consent consent;
  consent.set_person("persons/0b6f1f39-5a4c-4f6e-9d0c-2f6c3c1d9a10");
  consent.add_grantee_organizations("organizations/af");
  consent.set_purpose("coordination");
  consent.add_data_categories("plan");
  consent.add_data_categories("contact");
  *consent.mutable_valid_until() = At(kNow + absl::Hours(24 * 180));
  consent.set_given_by(v1::CONSENT_GIVER_PERSON);
  consent.set_method(v1::CONSENT_METHOD_WRITTEN);
  return consent;
}

std::vector<std::string> FieldsOf(const absl::Status& status) {
  std::vector<std::string> fields;
  for (const auto& [field, description] : FieldViolationsOf(status)) fields.push_back(field);
  return fields;
}

TEST(ConsentRulesTest, AValidConsentPasses) {
  EXPECT_TRUE(ValidateNewConsent(ValidConsent(), kNow).ok());
}

TEST(ConsentRulesTest, NamesEachBadFieldByItsPath) {
  v1::Consent consent = ValidConsent();
  consent.add_data_categories("shoe_size");
  consent.set_purpose("marketing");
  consent.add_grantee_organizations("af");
  consent.clear_method();
  const absl::Status status = ValidateNewConsent(consent, kNow);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FieldsOf(status),
            (std::vector<std::string>{"consent.grantee_organizations[1]", "consent.purpose",
                                      "consent.data_categories[2]", "consent.method"}));
}

TEST(ConsentRulesTest, PeriodMustEndAfterItBeginsAndInTheFuture) {
  v1::Consent consent = ValidConsent();
  *consent.mutable_valid_from() = At(kNow + absl::Hours(2));
  *consent.mutable_valid_until() = At(kNow + absl::Hours(1));
  EXPECT_EQ(FieldsOf(ValidateNewConsent(consent, kNow)),
            std::vector<std::string>{"consent.valid_until"});
  consent.set_allocated_valid_from(nullptr);
  *consent.mutable_valid_until() = At(kNow - absl::Hours(1));
  EXPECT_EQ(FieldsOf(ValidateNewConsent(consent, kNow)),
            std::vector<std::string>{"consent.valid_until"});
}

TEST(ConsentRulesTest, GuardianNeedsAName) {
  v1::Consent consent = ValidConsent();
  consent.set_given_by(v1::CONSENT_GIVER_GUARDIAN);
  EXPECT_EQ(FieldsOf(ValidateNewConsent(consent, kNow)),
            std::vector<std::string>{"consent.guardian_name"});
  consent.set_guardian_name("Karin Andersson");
  EXPECT_TRUE(ValidateNewConsent(consent, kNow).ok());
}

TEST(ConsentRulesTest, UnderEighteenOnTheFirstDayNeedsAGuardian) {
  v1::Consent consent = ValidConsent();
  // Turns 18 on 2024-05-11: the day after the consent begins.
  const absl::CivilDay birth(2006, 5, 11);
  EXPECT_EQ(FieldsOf(CheckGuardianRule(consent, birth, kNow)),
            std::vector<std::string>{"consent.given_by"});
  EXPECT_TRUE(CheckGuardianRule(consent, birth, kNow + absl::Hours(24)).ok());
  consent.set_given_by(v1::CONSENT_GIVER_GUARDIAN);
  EXPECT_TRUE(CheckGuardianRule(consent, birth, kNow).ok());
}

TEST(ConsentRulesTest, AgeCountsWholeYears) {
  EXPECT_EQ(AgeOn(absl::CivilDay(2000, 2, 29), absl::CivilDay(2018, 2, 28)), 17);
  EXPECT_EQ(AgeOn(absl::CivilDay(2000, 2, 29), absl::CivilDay(2018, 3, 1)), 18);
  EXPECT_EQ(AgeOn(absl::CivilDay(1990, 1, 1), absl::CivilDay(2024, 1, 1)), 34);
}

TEST(ConsentRulesTest, StateFollowsTheClock) {
  v1::Consent consent = ValidConsent();
  *consent.mutable_valid_from() = At(kNow);
  EXPECT_EQ(ConsentStateAt(consent, kNow - absl::Seconds(1)), v1::CONSENT_STATE_NOT_YET_VALID);
  EXPECT_EQ(ConsentStateAt(consent, kNow), v1::CONSENT_STATE_ACTIVE);
  EXPECT_EQ(ConsentStateAt(consent, kNow + absl::Hours(24 * 180)), v1::CONSENT_STATE_EXPIRED);
  *consent.mutable_withdraw_time() = At(kNow + absl::Hours(1));
  EXPECT_EQ(ConsentStateAt(consent, kNow + absl::Minutes(30)), v1::CONSENT_STATE_ACTIVE);
  EXPECT_EQ(ConsentStateAt(consent, kNow + absl::Hours(1)), v1::CONSENT_STATE_WITHDRAWN);
}

TEST(ConsentRulesTest, OwnerAndGranteesSeeTheConsentOthersDoNot) {
  AccessRequest request;
  request.municipality = "1885";
  request.owner_organization = "organizations/soc";
  const std::vector<std::string> grantees = {"organizations/af"};
  EXPECT_EQ(DecideConsentAccess(Caller("soc", "caseworker"), request, grantees).reason, "owner");
  EXPECT_EQ(DecideConsentAccess(Caller("af", "caseworker"), request, grantees).reason, "grantee");
  EXPECT_FALSE(DecideConsentAccess(Caller("fk", "caseworker"), request, grantees).permitted);
  // A grantee's manager sees no personal data, and no other municipality does.
  EXPECT_EQ(DecideConsentAccess(Caller("af", "manager"), request, grantees).reason, "role");
  EXPECT_FALSE(
      DecideConsentAccess(Caller("af", "caseworker", "0180"), request, grantees).permitted);
}

v1::Organization OrganizationOf(v1::OrganizationKind kind) {
  v1::Organization organization;
  organization.set_kind(kind);
  organization.add_municipalities("1885");
  return organization;
}

TEST(BreakGlassRulesTest, OnlyCaseworkersOfSocialServicesOrHealthCareInTheMunicipality) {
  const v1::Organization social = OrganizationOf(v1::ORGANIZATION_KIND_SOCIAL_SERVICES);
  const v1::Organization health = OrganizationOf(v1::ORGANIZATION_KIND_HEALTH_CARE);
  const v1::Organization employer = OrganizationOf(v1::ORGANIZATION_KIND_EMPLOYER);
  EXPECT_EQ(BreakGlassRefusal(Caller("soc", "caseworker"), &social, "1885"), "");
  EXPECT_EQ(BreakGlassRefusal(Caller("vc", "caseworker"), &health, "1885"), "");
  EXPECT_EQ(BreakGlassRefusal(Caller("ica", "caseworker"), &employer, "1885"),
            "break_glass_organization_kind");
  EXPECT_EQ(BreakGlassRefusal(Caller("soc", "manager"), &social, "1885"), "break_glass_role");
  EXPECT_EQ(BreakGlassRefusal(Caller("soc", "caseworker"), nullptr, "1885"),
            "break_glass_unknown_organization");
  EXPECT_EQ(BreakGlassRefusal(Caller("soc", "caseworker"), &social, "0180"),
            "other_municipality");
}

TEST(DirectoryRulesTest, AnUpdateNeverWidensBreakGlassNorTouchesOtherMunicipalities) {
  const v1::Organization vux = OrganizationOf(v1::ORGANIZATION_KIND_ADULT_EDUCATION);
  v1::Organization next = vux;
  next.set_kind(v1::ORGANIZATION_KIND_SOCIAL_SERVICES);
  EXPECT_EQ(OrganizationChangeRefusal(vux, next, "1885"), "kind_widens_break_glass");
  next.set_kind(v1::ORGANIZATION_KIND_HEALTH_CARE);
  EXPECT_EQ(OrganizationChangeRefusal(vux, next, "1885"), "kind_widens_break_glass");
  // Between kinds that may not break the glass, or away from one that may.
  next.set_kind(v1::ORGANIZATION_KIND_SCHOOL);
  EXPECT_EQ(OrganizationChangeRefusal(vux, next, "1885"), "");
  const v1::Organization social = OrganizationOf(v1::ORGANIZATION_KIND_SOCIAL_SERVICES);
  next = social;
  next.set_kind(v1::ORGANIZATION_KIND_HEALTH_CARE);  // both may: nothing gained
  EXPECT_EQ(OrganizationChangeRefusal(social, next, "1885"), "");
  next.set_kind(v1::ORGANIZATION_KIND_OTHER);
  EXPECT_EQ(OrganizationChangeRefusal(social, next, "1885"), "");

  // An organization that serves 1880 too: its kind is not 1885's to change,
  // and 1885 adds or removes only itself.
  v1::Organization shared = OrganizationOf(v1::ORGANIZATION_KIND_EMPLOYMENT_SERVICE);
  shared.add_municipalities("1880");
  next = shared;
  next.set_kind(v1::ORGANIZATION_KIND_OTHER);
  EXPECT_EQ(OrganizationChangeRefusal(shared, next, "1885"), "shared_organization_kind");
  next = shared;
  next.mutable_municipalities()->RemoveLast();
  EXPECT_EQ(OrganizationChangeRefusal(shared, next, "1885"), "other_municipality");
  next = vux;
  next.add_municipalities("0180");
  EXPECT_EQ(OrganizationChangeRefusal(vux, next, "1885"), "other_municipality");
  next = shared;
  next.set_display_name("Arbetsförmedlingen Bergslagen");
  EXPECT_EQ(OrganizationChangeRefusal(shared, next, "1885"), "");
}

TEST(BreakGlassRulesTest, ReasonIsMandatoryAndDurationBounded) {
  v1::BreakGlassRequest request;
  request.set_person("persons/0b6f1f39-5a4c-4f6e-9d0c-2f6c3c1d9a10");
  request.set_data_category("health");
  request.set_reason("   too short        ");
  EXPECT_EQ(FieldsOf(ValidateBreakGlass(request).status()), std::vector<std::string>{"reason"});
  request.set_reason("Person found unconscious at the workplace");
  ASSERT_TRUE(ValidateBreakGlass(request).ok());
  EXPECT_EQ(*ValidateBreakGlass(request), absl::Hours(1));
  request.mutable_duration()->set_seconds(5 * 3600);
  EXPECT_EQ(FieldsOf(ValidateBreakGlass(request).status()),
            std::vector<std::string>{"duration"});
  request.mutable_duration()->set_seconds(4 * 3600);
  EXPECT_EQ(*ValidateBreakGlass(request), absl::Hours(4));
}

TEST(CheckAccessRulesTest, TheCallerNeverLearnsWhetherAnUnreachablePersonExists) {
  EXPECT_EQ(CallerVisibleReason({false, "not_found", ""}), "no_consent");
  EXPECT_EQ(CallerVisibleReason({false, "other_municipality", ""}), "no_consent");
  EXPECT_EQ(CallerVisibleReason({false, "consent_withdrawn", ""}), "consent_withdrawn");
  EXPECT_EQ(CallerVisibleReason({true, "consent", "consents/x"}), "consent");
}

TEST(DirectoryRulesTest, EnumsRoundTripThroughTheirStoredText) {
  EXPECT_EQ(OrganizationKindText(v1::ORGANIZATION_KIND_HEALTH_CARE), "health_care");
  EXPECT_EQ(OrganizationKindFromText("social_services"), v1::ORGANIZATION_KIND_SOCIAL_SERVICES);
  EXPECT_EQ(OrganizationKindFromText("castle"), v1::ORGANIZATION_KIND_UNSPECIFIED);
  EXPECT_EQ(ConsentGiverFromText(ConsentGiverText(v1::CONSENT_GIVER_GUARDIAN)),
            v1::CONSENT_GIVER_GUARDIAN);
  EXPECT_EQ(ConsentMethodFromText(ConsentMethodText(v1::CONSENT_METHOD_ORAL)),
            v1::CONSENT_METHOD_ORAL);
}

TEST(DirectoryRulesTest, ValidatesOrganizationsAndUsers) {
  v1::Organization organization = OrganizationOf(v1::ORGANIZATION_KIND_SCHOOL);
  organization.set_display_name("Lidingö gymnasium");
  EXPECT_TRUE(ValidateOrganization(organization, "organization").ok());
  organization.add_municipalities("1885");
  organization.add_municipalities("18");
  EXPECT_EQ(FieldsOf(ValidateOrganization(organization, "organization")),
            (std::vector<std::string>{"organization.municipalities[1]",
                                      "organization.municipalities[2]"}));
  EXPECT_TRUE(IsCallerChosenId("soc-lidingo"));
  EXPECT_FALSE(IsCallerChosenId("Soc"));
  EXPECT_FALSE(IsCallerChosenId("s"));

  v1::User user;
  user.set_display_name("Anna");
  auto* membership = user.add_memberships();
  membership->set_organization("organizations/soc");
  membership->add_roles("caseworker");
  membership->add_roles("wizard");
  EXPECT_EQ(FieldsOf(ValidateUser(user)), std::vector<std::string>{"user.memberships[0].roles[1]"});
}

TEST(DirectoryRulesTest, AnOrganizationUpdateFollowsTheCommonMaskRule) {
  v1::Organization current = OrganizationOf(v1::ORGANIZATION_KIND_SCHOOL);
  current.set_name("organizations/gy");
  current.set_display_name("Lidingö gymnasium");
  current.set_description("Upper secondary school");
  current.set_version(3);
  v1::Organization patch;
  patch.set_name("organizations/other");
  patch.set_display_name("Lidingö gymnasium och vuxenutbildning");
  patch.set_version(9);
  google::protobuf::FieldMask mask;

  // A mask is required.
  EXPECT_EQ(FieldsOf(ApplyOrganizationUpdate(current, patch, mask).status()),
            std::vector<std::string>{"update_mask"});

  // Output-only paths are ignored; the named field is replaced.
  mask.add_paths("display_name");
  mask.add_paths("name");
  mask.add_paths("version");
  absl::StatusOr<v1::Organization> next = ApplyOrganizationUpdate(current, patch, mask);
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(next->name(), "organizations/gy");
  EXPECT_EQ(next->version(), 3);
  EXPECT_EQ(next->display_name(), "Lidingö gymnasium och vuxenutbildning");
  EXPECT_EQ(ChangedFields(current, *next, UpdatableOrganizationFields()),
            std::vector<std::string>{"display_name"});

  // "*" replaces every field a caller may change: what the patch leaves empty
  // becomes empty.
  mask.Clear();
  mask.add_paths("*");
  next = ApplyOrganizationUpdate(current, patch, mask);
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_TRUE(next->municipalities().empty());
  EXPECT_EQ(ChangedFields(current, *next, UpdatableOrganizationFields()),
            (std::vector<std::string>{"display_name", "kind", "description", "municipalities"}));

  // A field that is not one, or "*" beside others, is refused naming update_mask.
  mask.Clear();
  mask.add_paths("colour");
  EXPECT_EQ(FieldsOf(ApplyOrganizationUpdate(current, patch, mask).status()),
            std::vector<std::string>{"update_mask"});
  mask.add_paths("*");
  EXPECT_EQ(ApplyOrganizationUpdate(current, patch, mask).status().code(),
            absl::StatusCode::kInvalidArgument);

  // Nothing differs: nothing changed.
  mask.Clear();
  mask.add_paths("kind");
  next = ApplyOrganizationUpdate(current, current, mask);
  ASSERT_TRUE(next.ok());
  EXPECT_TRUE(ChangedFields(current, *next, UpdatableOrganizationFields()).empty());
}

}  // namespace
}  // namespace samplan::identity
