#include "common/access.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace samplan {
namespace {

template <size_t N>
bool OneOf(const absl::string_view (&values)[N], absl::string_view value) {
  return std::find(std::begin(values), std::end(values), value) != std::end(values);
}

AccessDecision Permit(std::string reason, std::string consent = "") {
  return {true, std::move(reason), std::move(consent)};
}

AccessDecision Deny(std::string reason) { return {false, std::move(reason), ""}; }

constexpr char kAccessFacts[] = "samplan_access_facts";
constexpr char kAppendAudit[] = "samplan_append_audit";

}  // namespace

bool IsDataCategory(absl::string_view category) { return OneOf(kDataCategories, category); }

bool IsPurpose(absl::string_view purpose) { return OneOf(kPurposes, purpose); }

bool MayHandlePersonalData(const Principal& principal) {
  static constexpr std::string_view kRoles[] = {"caseworker", "placement_coordinator",
                                                "teacher", "partner_system"};
  return std::any_of(std::begin(kRoles), std::end(kRoles),
                     [&](std::string_view role) { return principal.HasRole(role); });
}

bool NeedsAccessFacts(const Principal& principal, const AccessRequest& request) {
  return MayHandlePersonalData(principal) && principal.municipality == request.municipality &&
         principal.organization != request.owner_organization;
}

bool RecordsHaveParticipants(absl::string_view data_category) {
  return data_category == "plan";
}

AccessDecision DecideAccess(const Principal& principal, const AccessRequest& request,
                            const AccessFacts& facts) {
  if (!MayHandlePersonalData(principal)) return Deny("role");
  if (principal.municipality != request.municipality) return Deny("other_municipality");
  if (principal.organization == request.owner_organization) return Permit("owner");
  if (!facts.break_glass.empty()) return Permit("break_glass", facts.break_glass);
  if (request.requires_participation &&
      std::find(request.participant_organizations.begin(),
                request.participant_organizations.end(),
                principal.organization) == request.participant_organizations.end()) {
    return Deny("not_participant");
  }
  if (!facts.consent.empty()) return Permit("consent", facts.consent);
  return Deny(facts.consent_gap.empty() ? "no_consent" : facts.consent_gap);
}

absl::Status DeniedStatus(absl::string_view resource) {
  return absl::PermissionDeniedError(
      absl::StrCat("permission denied on ", resource, " (or it does not exist)"));
}

absl::Status RoleDeniedStatus() {
  return absl::PermissionDeniedError(
      "the caller's roles do not include one that handles personal data (caseworker, "
      "placement_coordinator, teacher, partner_system); managers, supervisors and "
      "administrators see statistics only");
}

absl::Status StatusOf(const AccessDecision& decision, absl::string_view resource) {
  if (decision.permitted) return absl::OkStatus();
  if (decision.reason == "role") return RoleDeniedStatus();
  return DeniedStatus(resource);
}

AuditEntry AuditOf(const Principal& principal, absl::string_view action,
                   const AccessRequest& request, const AccessDecision& decision,
                   absl::Time time, absl::string_view request_id) {
  AuditEntry entry;
  entry.time = time;
  entry.municipality =
      request.municipality.empty() ? principal.municipality : request.municipality;
  entry.actor_user = principal.user;
  entry.actor_organization = principal.organization;
  entry.action = std::string(action);
  entry.resource = request.resource;
  entry.subject_person = request.person;
  entry.data_category = request.data_category;
  entry.purpose = request.purpose;
  entry.consent = decision.consent;
  entry.decision = decision.permitted ? "permit" : "deny";
  entry.reason = decision.reason;
  entry.request_id = std::string(request_id);
  return entry;
}

GuardedAccess DecideAndAudit(const Caller& caller, const AccessRequest& request,
                             const AccessFacts& facts) {
  GuardedAccess access;
  access.decision = DecideAccess(caller.principal, request, facts);
  access.audit = AuditOf(caller.principal, caller.method, request, access.decision, caller.now,
                         caller.request_id);
  return access;
}

GuardedAccess MissingRecordAccess(const Caller& caller, AccessRequest request) {
  request.municipality = caller.principal.municipality;
  request.person.clear();
  GuardedAccess access;
  access.decision = Deny(MayHandlePersonalData(caller.principal) ? "not_found" : "role");
  access.audit = AuditOf(caller.principal, caller.method, request, access.decision, caller.now,
                         caller.request_id);
  return access;
}

absl::Status CheckPersonRegistered(const AccessFacts& facts, absl::string_view municipality,
                                   absl::string_view field) {
  if (facts.person_municipality != municipality) {
    return InvalidField(std::string(field),
                        absl::StrCat("is not a person registered in municipality ", municipality,
                                     "; register the person with the identity service first"));
  }
  return absl::OkStatus();
}

std::vector<PreparedStatement> RepositoryStatements(absl::Span<const PreparedStatement> own,
                                                    const Outbox& outbox) {
  std::vector<PreparedStatement> statements(own.begin(), own.end());
  for (const PreparedStatement& statement : outbox.statements()) statements.push_back(statement);
  for (const PreparedStatement& statement : AccessStatements()) statements.push_back(statement);
  return statements;
}

std::vector<PreparedStatement> AccessStatements() {
  return {
      {kAccessFacts,
       "SELECT " SAMPLAN_ACCESS_FACTS_COLUMNS " FROM identity.access_facts($1, $2, $3, $4, $5)"},
      {kAppendAudit,
       "SELECT identity.append_audit($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"},
      {kAppendAuditBatch,
       "SELECT identity.append_audit_batch($1::timestamptz[], $2::text[], $3::text[], "
       "$4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], "
       "$11::text[], $12::text[], $13::text[])"},
  };
}

AccessFacts ReadAccessFacts(pqxx::transaction_base& tx, absl::string_view organization,
                            absl::string_view person, absl::string_view data_category,
                            absl::string_view purpose, absl::Time at) {
  return AccessFactsFromRow(
      tx.exec_prepared1(kAccessFacts, std::string(organization), std::string(person),
                        std::string(data_category), std::string(purpose), PgTimestamp(at)),
      0);
}

AccessFacts AccessFactsFromRow(const pqxx::row& row, int first) {
  const auto text = [&](int column) {
    const pqxx::field field = row[first + column];
    return field.is_null() ? std::string() : field.as<std::string>();
  };
  AccessFacts facts;
  facts.consent = text(0);
  facts.break_glass = text(1);
  facts.consent_gap = text(2);
  facts.person_municipality = text(3);
  facts.person_owner = text(4);
  facts.access_version = row[first + 5].is_null() ? 0 : row[first + 5].as<int64_t>();
  return facts;
}

void AppendAudit(pqxx::transaction_base& tx, const AuditEntry& entry) {
  tx.exec_prepared1(kAppendAudit, PgTimestamp(entry.time), entry.municipality, entry.actor_user,
                    entry.actor_organization, entry.action, entry.resource, entry.subject_person,
                    entry.data_category, entry.purpose, entry.consent, entry.decision,
                    entry.reason, entry.request_id);
}

}  // namespace samplan
