#include "services/identity/identity_rules.h"

#include <algorithm>
#include <set>

#include <google/protobuf/util/message_differencer.h>
#include <google/protobuf/util/time_util.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/field_mask.h"
#include "common/ids.h"
#include "common/status.h"
#include "common/text.h"

namespace samplan::identity {
namespace {

using ::google::protobuf::util::TimeUtil;

absl::Time TimeOf(const google::protobuf::Timestamp& timestamp) {
  return absl::FromUnixMicros(TimeUtil::TimestampToMicroseconds(timestamp));
}

// For checks whose message says more than CheckTextLength's; counts characters
// as it does.
bool LengthBetween(absl::string_view text, size_t min, size_t max) {
  const size_t count = CharacterCount(text);
  return count >= min && count <= max;
}

// Names the database stores for enum values: the value name without its prefix,
// in lower case ("ORGANIZATION_KIND_HEALTH_CARE" → "health_care").
std::string TextOf(const std::string& value_name, absl::string_view prefix) {
  if (value_name.size() <= prefix.size()) return "";
  return absl::AsciiStrToLower(value_name.substr(prefix.size()));
}

}  // namespace

bool IsRole(absl::string_view role) {
  return std::find(std::begin(kRoles), std::end(kRoles), role) != std::end(kRoles);
}

bool IsCallerChosenId(absl::string_view id) {
  if (id.size() < 2 || id.size() > 63) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
}

bool IsRequestId(absl::string_view id) {
  if (id.empty() || id.size() > 100) return false;
  return std::all_of(id.begin(), id.end(),
                     [](char c) { return absl::ascii_isalnum(c) || c == '-' || c == '_'; });
}

std::string OrganizationKindText(v1::OrganizationKind kind) {
  if (kind == v1::ORGANIZATION_KIND_UNSPECIFIED) return "";
  return TextOf(v1::OrganizationKind_Name(kind), "ORGANIZATION_KIND_");
}

v1::OrganizationKind OrganizationKindFromText(absl::string_view text) {
  v1::OrganizationKind kind = v1::ORGANIZATION_KIND_UNSPECIFIED;
  if (text.empty() ||
      !v1::OrganizationKind_Parse(absl::StrCat("ORGANIZATION_KIND_", absl::AsciiStrToUpper(text)),
                                  &kind)) {
    return v1::ORGANIZATION_KIND_UNSPECIFIED;
  }
  return kind;
}

std::string ConsentGiverText(v1::ConsentGiver giver) {
  if (giver == v1::CONSENT_GIVER_UNSPECIFIED) return "";
  return TextOf(v1::ConsentGiver_Name(giver), "CONSENT_GIVER_");
}

v1::ConsentGiver ConsentGiverFromText(absl::string_view text) {
  v1::ConsentGiver giver = v1::CONSENT_GIVER_UNSPECIFIED;
  if (text.empty() ||
      !v1::ConsentGiver_Parse(absl::StrCat("CONSENT_GIVER_", absl::AsciiStrToUpper(text)),
                              &giver)) {
    return v1::CONSENT_GIVER_UNSPECIFIED;
  }
  return giver;
}

std::string ConsentMethodText(v1::ConsentMethod method) {
  if (method == v1::CONSENT_METHOD_UNSPECIFIED) return "";
  return TextOf(v1::ConsentMethod_Name(method), "CONSENT_METHOD_");
}

v1::ConsentMethod ConsentMethodFromText(absl::string_view text) {
  v1::ConsentMethod method = v1::CONSENT_METHOD_UNSPECIFIED;
  if (text.empty() ||
      !v1::ConsentMethod_Parse(absl::StrCat("CONSENT_METHOD_", absl::AsciiStrToUpper(text)),
                               &method)) {
    return v1::CONSENT_METHOD_UNSPECIFIED;
  }
  return method;
}

absl::Status ValidateMunicipality(const v1::Municipality& municipality) {
  FieldViolations v;
  if (!IsMunicipalityCode(municipality.code())) {
    v.Add("municipality.code", "must be a kommunkod of four digits");
  }
  CheckTextLength(v, "municipality.display_name", municipality.display_name(), 1, 200);
  return v.ToStatus();
}

absl::Status ValidateOrganization(const v1::Organization& organization,
                                  absl::string_view prefix) {
  FieldViolations v;
  const std::string p(prefix);
  CheckTextLength(v, p + ".display_name", organization.display_name(), 1, 200);
  if (organization.kind() == v1::ORGANIZATION_KIND_UNSPECIFIED ||
      !v1::OrganizationKind_IsValid(organization.kind())) {
    v.Add(p + ".kind", "must be a known kind");
  }
  CheckTextLength(v, p + ".description", organization.description(), 0, 2000);
  if (organization.municipalities().empty() || organization.municipalities_size() > 300) {
    v.Add(p + ".municipalities", "must name 1 to 300 municipalities");
  }
  std::set<std::string> seen;
  for (int i = 0; i < organization.municipalities_size(); ++i) {
    const std::string& code = organization.municipalities(i);
    const std::string field = absl::StrCat(p, ".municipalities[", i, "]");
    if (!IsMunicipalityCode(code)) {
      v.Add(field, "must be a kommunkod of four digits");
    } else if (!seen.insert(code).second) {
      v.Add(field, "is named twice");
    }
  }
  return v.ToStatus();
}

const std::vector<std::string>& UpdatableOrganizationFields() {
  static const std::vector<std::string>* const kFields = new std::vector<std::string>{
      "display_name", "kind", "description", "municipalities"};
  return *kFields;
}

absl::StatusOr<v1::Organization> ApplyOrganizationUpdate(const v1::Organization& current,
                                                         const v1::Organization& patch,
                                                         const google::protobuf::FieldMask& mask) {
  static const UpdatableFields* const kFields = new UpdatableFields{
      UpdatableOrganizationFields(),
      {"name", "version", "etag", "create_time", "update_time"}};
  return ApplyMaskedUpdate(current, patch, mask, *kFields);
}

absl::Status ValidateUser(const v1::User& user) {
  FieldViolations v;
  CheckTextLength(v, "user.display_name", user.display_name(), 1, 200);
  if (CharacterCount(user.email()) > 200 ||
      (!user.email().empty() && user.email().find('@') == std::string::npos)) {
    v.Add("user.email", "must be an e-mail address of at most 200 characters");
  }
  if (user.memberships().empty() || user.memberships_size() > 20) {
    v.Add("user.memberships", "must hold 1 to 20 memberships");
  }
  std::set<std::string> organizations;
  for (int i = 0; i < user.memberships_size(); ++i) {
    const v1::Membership& membership = user.memberships(i);
    const std::string field = absl::StrCat("user.memberships[", i, "]");
    if (ResourceId(membership.organization(), "organizations").empty()) {
      v.Add(field + ".organization", "must be an organization name, organizations/{id}");
    } else if (!organizations.insert(membership.organization()).second) {
      v.Add(field + ".organization", "is named in two memberships");
    }
    if (membership.roles().empty()) v.Add(field + ".roles", "must hold at least one role");
    for (int j = 0; j < membership.roles_size(); ++j) {
      if (!IsRole(membership.roles(j))) {
        v.Add(absl::StrCat(field, ".roles[", j, "]"), "is not a known role");
      }
    }
  }
  return v.ToStatus();
}

absl::Status ValidatePersonFields(const v1::Person& person) {
  FieldViolations v;
  CheckTextLength(v, "person.given_name", person.given_name(), 1, 200);
  CheckTextLength(v, "person.family_name", person.family_name(), 1, 200);
  CheckTextLength(v, "person.address", person.address(), 0, 500);
  CheckTextLength(v, "person.phone", person.phone(), 0, 50);
  CheckTextLength(v, "person.email", person.email(), 0, 200);
  return v.ToStatus();
}

absl::StatusOr<std::string> PurposeOrDefault(absl::string_view purpose,
                                             absl::string_view field) {
  if (purpose.empty()) return std::string("coordination");
  if (!IsPurpose(purpose)) {
    return InvalidField(std::string(field), "must be coordination, placement or follow_up");
  }
  return std::string(purpose);
}

absl::Status ValidateNewConsent(const v1::Consent& consent, absl::Time now) {
  FieldViolations v;
  if (PersonIdOf(consent.person()).empty()) {
    v.Add("consent.person", "must be a person name, persons/{id}");
  }
  if (consent.grantee_organizations().empty() || consent.grantee_organizations_size() > 50) {
    v.Add("consent.grantee_organizations", "must name 1 to 50 organizations");
  }
  std::set<std::string> grantees;
  for (int i = 0; i < consent.grantee_organizations_size(); ++i) {
    const std::string& grantee = consent.grantee_organizations(i);
    const std::string field = absl::StrCat("consent.grantee_organizations[", i, "]");
    if (ResourceId(grantee, "organizations").empty()) {
      v.Add(field, "must be an organization name, organizations/{id}");
    } else if (!grantees.insert(grantee).second) {
      v.Add(field, "is named twice");
    }
  }
  if (!IsPurpose(consent.purpose())) {
    v.Add("consent.purpose", "must be coordination, placement or follow_up");
  }
  if (consent.data_categories().empty()) {
    v.Add("consent.data_categories", "must name at least one data category");
  }
  std::set<std::string> categories;
  for (int i = 0; i < consent.data_categories_size(); ++i) {
    const std::string& category = consent.data_categories(i);
    const std::string field = absl::StrCat("consent.data_categories[", i, "]");
    if (!IsDataCategory(category)) {
      v.Add(field, "must be plan, person, contact, health, attendance, placement or outcome");
    } else if (!categories.insert(category).second) {
      v.Add(field, "is named twice");
    }
  }
  const absl::Time valid_from = consent.has_valid_from() ? TimeOf(consent.valid_from()) : now;
  if (!consent.has_valid_until()) {
    v.Add("consent.valid_until", "is required");
  } else {
    const absl::Time valid_until = TimeOf(consent.valid_until());
    if (valid_until <= valid_from) {
      v.Add("consent.valid_until", "must be after valid_from");
    } else if (valid_until <= now) {
      v.Add("consent.valid_until", "must be in the future");
    }
  }
  switch (consent.given_by()) {
    case v1::CONSENT_GIVER_PERSON:
      if (!consent.guardian_name().empty()) {
        v.Add("consent.guardian_name", "must be empty when the person gave the consent");
      }
      break;
    case v1::CONSENT_GIVER_GUARDIAN:
      if (!LengthBetween(consent.guardian_name(), 1, 200)) {
        v.Add("consent.guardian_name",
              "must be 1 to 200 characters when a guardian gave the consent");
      }
      break;
    default:
      v.Add("consent.given_by", "must be PERSON or GUARDIAN");
  }
  if (consent.method() == v1::CONSENT_METHOD_UNSPECIFIED ||
      !v1::ConsentMethod_IsValid(consent.method())) {
    v.Add("consent.method", "must be WRITTEN, ORAL or DIGITAL");
  }
  return v.ToStatus();
}

int AgeOn(absl::CivilDay birth_date, absl::CivilDay day) {
  int age = static_cast<int>(day.year() - birth_date.year());
  if (day.month() < birth_date.month() ||
      (day.month() == birth_date.month() && day.day() < birth_date.day())) {
    --age;
  }
  return age;
}

absl::Status CheckGuardianRule(const v1::Consent& consent, absl::CivilDay birth_date,
                               absl::Time valid_from) {
  // The consent's first day in Swedish time: a birthday starts at local midnight.
  static const absl::TimeZone* const kSweden = [] {
    auto* zone = new absl::TimeZone;
    if (!absl::LoadTimeZone("Europe/Stockholm", zone)) *zone = absl::UTCTimeZone();
    return zone;
  }();
  const absl::CivilDay first_day = absl::ToCivilDay(valid_from, *kSweden);
  if (AgeOn(birth_date, first_day) < 18 && consent.given_by() != v1::CONSENT_GIVER_GUARDIAN) {
    return InvalidField("consent.given_by",
                        "must be GUARDIAN: the person is under 18 on the consent's first day");
  }
  return absl::OkStatus();
}

v1::ConsentState ConsentStateAt(const v1::Consent& consent, absl::Time now) {
  if (consent.has_withdraw_time() && TimeOf(consent.withdraw_time()) <= now) {
    return v1::CONSENT_STATE_WITHDRAWN;
  }
  if (now < TimeOf(consent.valid_from())) return v1::CONSENT_STATE_NOT_YET_VALID;
  if (now >= TimeOf(consent.valid_until())) return v1::CONSENT_STATE_EXPIRED;
  return v1::CONSENT_STATE_ACTIVE;
}

AccessDecision DecideConsentAccess(const Principal& principal, const AccessRequest& request,
                                   const std::vector<std::string>& grantees) {
  AccessDecision decision = DecideAccess(principal, request, AccessFacts{});
  if (decision.permitted || decision.reason == "role" ||
      decision.reason == "other_municipality") {
    return decision;
  }
  if (std::find(grantees.begin(), grantees.end(), principal.organization) != grantees.end()) {
    // A withdrawal by a grantee ends the consent for every grantee: that is
    // the owner's to do unless the consent names the grantee alone.
    if (request.action == AccessAction::kUpdate && grantees.size() > 1) {
      return {false, "other_grantees", ""};
    }
    return {true, "grantee", ""};
  }
  return decision;
}

absl::StatusOr<absl::Duration> ValidateBreakGlass(const v1::BreakGlassRequest& request) {
  FieldViolations v;
  if (PersonIdOf(request.person()).empty()) {
    v.Add("person", "must be a person name, persons/{id}");
  }
  if (!IsDataCategory(request.data_category())) {
    v.Add("data_category", "must be plan, person, contact, health, attendance, placement or outcome");
  }
  const absl::string_view reason = absl::StripAsciiWhitespace(request.reason());
  if (!LengthBetween(reason, 20, 1000)) {
    v.Add("reason", "is mandatory: say why there is an emergency, 20 to 1000 characters");
  }
  absl::Duration duration = kDefaultBreakGlassDuration;
  if (request.has_duration()) {
    duration = absl::Seconds(request.duration().seconds()) +
               absl::Nanoseconds(request.duration().nanos());
    if (duration <= absl::ZeroDuration() || duration > kMaxBreakGlassDuration) {
      v.Add("duration", "must be more than 0 and at most 4 hours");
    }
  }
  if (!v.empty()) return v.ToStatus();
  return duration;
}

bool KindMayBreakTheGlass(v1::OrganizationKind kind) {
  return kind == v1::ORGANIZATION_KIND_SOCIAL_SERVICES ||
         kind == v1::ORGANIZATION_KIND_HEALTH_CARE;
}

std::string OrganizationChangeRefusal(const v1::Organization& current,
                                      const v1::Organization& next,
                                      absl::string_view municipality) {
  if (next.kind() != current.kind()) {
    if (KindMayBreakTheGlass(next.kind()) && !KindMayBreakTheGlass(current.kind())) {
      return "kind_widens_break_glass";
    }
    for (const std::string& served : current.municipalities()) {
      if (served != municipality) return "shared_organization_kind";
    }
  }
  const auto contains = [](const v1::Organization& organization, absl::string_view code) {
    const auto& served = organization.municipalities();
    return std::find(served.begin(), served.end(), code) != served.end();
  };
  for (const std::string& code : next.municipalities()) {
    if (code != municipality && !contains(current, code)) return "other_municipality";
  }
  for (const std::string& code : current.municipalities()) {
    if (code != municipality && !contains(next, code)) return "other_municipality";
  }
  return "";
}

std::string BreakGlassRefusal(const Principal& principal, const v1::Organization* organization,
                              absl::string_view person_municipality) {
  if (!principal.HasRole("caseworker")) return "break_glass_role";
  if (organization == nullptr) return "break_glass_unknown_organization";
  if (!KindMayBreakTheGlass(organization->kind())) {
    return "break_glass_organization_kind";
  }
  if (principal.municipality != person_municipality) return "other_municipality";
  const auto& served = organization->municipalities();
  if (std::find(served.begin(), served.end(), person_municipality) == served.end()) {
    return "other_municipality";
  }
  return "";
}

std::string CallerVisibleReason(const AccessDecision& decision) {
  if (decision.reason == "not_found" || decision.reason == "other_municipality") {
    return "no_consent";
  }
  return decision.reason;
}

std::string PersonIdOf(absl::string_view name) {
  constexpr absl::string_view kPrefix = "persons/";
  if (name.substr(0, kPrefix.size()) != kPrefix) return "";
  absl::string_view id = name.substr(kPrefix.size());
  return IsUuid(id) ? std::string(id) : "";
}

}  // namespace samplan::identity
