#include "services/identity/pg_identity_repository.h"

#include <google/protobuf/util/time_util.h>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "services/identity/identity_rules.h"
#include "services/identity/sql.h"

namespace samplan {
const std::vector<Migration>& identity_migrations();
}  // namespace samplan

namespace samplan::identity {
namespace {

using ::google::protobuf::util::TimeUtil;

google::protobuf::Timestamp Timestamp(int64_t micros) {
  return TimeUtil::MicrosecondsToTimestamp(micros);
}

absl::Time TimeOf(const google::protobuf::Timestamp& timestamp) {
  return absl::FromUnixMicros(TimeUtil::TimestampToMicroseconds(timestamp));
}

std::string IdOf(absl::string_view name) {
  return std::string(name.substr(name.find('/') + 1));
}

// (code, display_name, create_micros)
v1::Municipality MunicipalityFromRow(const pqxx::row& row) {
  v1::Municipality municipality;
  municipality.set_code(row[0].as<std::string>());
  municipality.set_name(absl::StrCat("municipalities/", municipality.code()));
  municipality.set_display_name(row[1].as<std::string>());
  *municipality.mutable_create_time() = Timestamp(row[2].as<int64_t>());
  return municipality;
}

// SAMPLAN_ORGANIZATION_COLUMNS
v1::Organization OrganizationFromRow(const pqxx::row& row) {
  v1::Organization organization;
  organization.set_name(absl::StrCat("organizations/", row[0].as<std::string>()));
  organization.set_display_name(row[1].as<std::string>());
  organization.set_kind(OrganizationKindFromText(row[2].as<std::string>()));
  organization.set_description(row[3].as<std::string>());
  for (std::string& code : ParsePgTextArray(row[4])) organization.add_municipalities(code);
  organization.set_version(row[5].as<int64_t>());
  organization.set_etag(absl::StrCat(organization.version()));
  *organization.mutable_create_time() = Timestamp(row[6].as<int64_t>());
  *organization.mutable_update_time() = Timestamp(row[7].as<int64_t>());
  return organization;
}

// SAMPLAN_PERSON_COLUMNS
StoredPerson PersonFromRow(const pqxx::row& row) {
  StoredPerson person;
  person.id = row[0].as<std::string>();
  person.municipality = row[1].as<std::string>();
  person.owner_organization = row[2].as<std::string>();
  person.identity_number_kind = row[3].as<std::string>();
  const pqxx::binarystring sealed(row[4]);
  person.identity_number_sealed = sealed.str();
  person.identity_number_hash = row[5].as<std::string>();
  person.given_name = row[6].as<std::string>();
  person.family_name = row[7].as<std::string>();
  absl::CivilDay birth_date;
  if (absl::ParseCivilTime(row[8].as<std::string>(), &birth_date)) person.birth_date = birth_date;
  person.address = row[9].as<std::string>();
  person.phone = row[10].as<std::string>();
  person.email = row[11].as<std::string>();
  person.protected_identity = row[12].as<bool>();
  person.version = row[13].as<int64_t>();
  person.create_time = absl::FromUnixMicros(row[14].as<int64_t>());
  person.update_time = absl::FromUnixMicros(row[15].as<int64_t>());
  person.create_request_id = row[16].as<std::string>();
  return person;
}

// SAMPLAN_CONSENT_COLUMNS
StoredConsent ConsentFromRow(const pqxx::row& row) {
  StoredConsent stored;
  v1::Consent& consent = stored.consent;
  consent.set_name(absl::StrCat("consents/", row[0].as<std::string>()));
  stored.person_id = row[1].as<std::string>();
  consent.set_person(absl::StrCat("persons/", stored.person_id));
  stored.municipality = row[2].as<std::string>();
  for (std::string& grantee : ParsePgTextArray(row[3])) consent.add_grantee_organizations(grantee);
  consent.set_purpose(row[4].as<std::string>());
  for (std::string& category : ParsePgTextArray(row[5])) consent.add_data_categories(category);
  *consent.mutable_valid_from() = Timestamp(row[6].as<int64_t>());
  *consent.mutable_valid_until() = Timestamp(row[7].as<int64_t>());
  consent.set_given_by(ConsentGiverFromText(row[8].as<std::string>()));
  consent.set_guardian_name(row[9].as<std::string>());
  consent.set_method(ConsentMethodFromText(row[10].as<std::string>()));
  consent.set_recorded_by_user(row[11].as<std::string>());
  consent.set_recorded_by_organization(row[12].as<std::string>());
  *consent.mutable_create_time() = Timestamp(row[13].as<int64_t>());
  if (!row[14].is_null()) *consent.mutable_withdraw_time() = Timestamp(row[14].as<int64_t>());
  consent.set_withdrawn_by_user(row[15].as<std::string>());
  consent.set_withdrawn_by_organization(row[16].as<std::string>());
  consent.set_withdraw_reason(row[17].as<std::string>());
  consent.set_version(row[18].as<int64_t>());
  consent.set_etag(absl::StrCat(consent.version()));
  stored.create_request_id = row[19].as<std::string>();
  return stored;
}

// SAMPLAN_AUDIT_COLUMNS
AuditRecord AuditFromRow(const pqxx::row& row) {
  AuditRecord record;
  record.subject_person = row[0].as<std::string>();
  record.sequence = row[1].as<int64_t>();
  record.time = absl::FromUnixMicros(row[2].as<int64_t>());
  record.municipality = row[3].as<std::string>();
  record.actor_user = row[4].as<std::string>();
  record.actor_organization = row[5].as<std::string>();
  record.action = row[6].as<std::string>();
  record.resource = row[7].as<std::string>();
  record.data_category = row[8].as<std::string>();
  record.purpose = row[9].as<std::string>();
  record.consent = row[10].as<std::string>();
  record.decision = row[11].as<std::string>();
  record.reason = row[12].as<std::string>();
  record.request_id = row[13].as<std::string>();
  record.previous_hash = row[14].as<std::string>();
  record.hash = row[15].as<std::string>();
  return record;
}

template <typename T, typename F>
std::optional<T> First(const pqxx::result& rows, F from_row) {
  if (rows.empty()) return std::nullopt;
  return from_row(rows[0]);
}

std::vector<std::string> Column(const pqxx::result& rows) {
  std::vector<std::string> out;
  for (const pqxx::row& row : rows) out.push_back(row[0].as<std::string>());
  return out;
}

class PgIdentityStore final : public IdentityStore {
 public:
  PgIdentityStore(pqxx::transaction_base& tx, const Outbox& outbox) : tx_(tx), outbox_(outbox) {}

  bool InsertMunicipality(const v1::Municipality& municipality, absl::Time now) override {
    return !tx_.exec_prepared(sql::kInsertMunicipality.name, municipality.code(),
                              municipality.display_name(), PgTimestamp(now))
                .empty();
  }

  std::optional<v1::Municipality> FindMunicipality(const std::string& code) override {
    return First<v1::Municipality>(tx_.exec_prepared(sql::kSelectMunicipality.name, code),
                                   MunicipalityFromRow);
  }

  std::vector<v1::Municipality> ListMunicipalities(const std::string& after_code,
                                                   int limit) override {
    std::vector<v1::Municipality> out;
    for (const pqxx::row& row :
         tx_.exec_prepared(sql::kListMunicipalities.name, after_code, limit)) {
      out.push_back(MunicipalityFromRow(row));
    }
    return out;
  }

  std::vector<std::string> UnknownMunicipalities(const std::vector<std::string>& codes) override {
    return Column(tx_.exec_prepared(sql::kUnknownMunicipalities.name, PgTextArray(codes)));
  }

  bool InsertOrganization(const std::string& id, const v1::Organization& organization,
                          absl::Time now) override {
    return !tx_.exec_prepared(sql::kInsertOrganization.name, id, organization.display_name(),
                              OrganizationKindText(organization.kind()),
                              organization.description(),
                              PgTextArray({organization.municipalities().begin(),
                                           organization.municipalities().end()}),
                              PgTimestamp(now))
                .empty();
  }

  std::optional<v1::Organization> FindOrganization(const std::string& id, bool lock) override {
    return First<v1::Organization>(
        tx_.exec_prepared(lock ? sql::kSelectOrganizationForUpdate.name
                               : sql::kSelectOrganization.name,
                          id),
        OrganizationFromRow);
  }

  int64_t UpdateOrganization(const std::string& id, const v1::Organization& organization,
                             absl::Time now) override {
    return tx_
        .exec_prepared1(sql::kUpdateOrganization.name, id, organization.display_name(),
                        OrganizationKindText(organization.kind()), organization.description(),
                        PgTextArray({organization.municipalities().begin(),
                                     organization.municipalities().end()}),
                        PgTimestamp(now))[0]
        .as<int64_t>();
  }

  std::vector<v1::Organization> ListOrganizations(const std::string& municipality,
                                                  const std::string& after_id,
                                                  int limit) override {
    std::vector<v1::Organization> out;
    for (const pqxx::row& row :
         tx_.exec_prepared(sql::kListOrganizations.name, municipality, after_id, limit)) {
      out.push_back(OrganizationFromRow(row));
    }
    return out;
  }

  std::vector<std::string> UnknownOrganizations(const std::vector<std::string>& ids) override {
    return Column(tx_.exec_prepared(sql::kUnknownOrganizations.name, PgTextArray(ids)));
  }

  bool InsertUser(const std::string& id, const v1::User& user, absl::Time now) override {
    if (tx_.exec_prepared(sql::kInsertUser.name, id, user.display_name(), user.email(),
                          PgTimestamp(now))
            .empty()) {
      return false;
    }
    for (const v1::Membership& membership : user.memberships()) {
      tx_.exec_prepared(sql::kInsertMembership.name, id, IdOf(membership.organization()),
                        PgTextArray({membership.roles().begin(), membership.roles().end()}));
    }
    return true;
  }

  std::optional<v1::User> FindUser(const std::string& id) override {
    pqxx::result rows = tx_.exec_prepared(sql::kSelectUser.name, id);
    if (rows.empty()) return std::nullopt;
    v1::User user;
    user.set_name(absl::StrCat("users/", rows[0][0].as<std::string>()));
    user.set_display_name(rows[0][1].as<std::string>());
    user.set_email(rows[0][2].as<std::string>());
    user.set_version(rows[0][3].as<int64_t>());
    user.set_etag(absl::StrCat(user.version()));
    *user.mutable_create_time() = Timestamp(rows[0][4].as<int64_t>());
    *user.mutable_update_time() = Timestamp(rows[0][5].as<int64_t>());
    for (const pqxx::row& row : tx_.exec_prepared(sql::kSelectMemberships.name, id)) {
      v1::Membership* membership = user.add_memberships();
      membership->set_organization(absl::StrCat("organizations/", row[0].as<std::string>()));
      for (std::string& role : ParsePgTextArray(row[1])) membership->add_roles(role);
    }
    return user;
  }

  void InsertPerson(const StoredPerson& p) override {
    tx_.exec_prepared(sql::kInsertPerson.name, p.id, p.municipality, p.owner_organization,
                      p.identity_number_kind, PgBytes(p.identity_number_sealed),
                      p.identity_number_hash, p.given_name, p.family_name,
                      absl::FormatCivilTime(p.birth_date), p.address, p.phone, p.email,
                      p.protected_identity, PgTimestamp(p.create_time), p.create_request_id);
  }

  std::optional<StoredPerson> FindPerson(const std::string& id) override {
    return First<StoredPerson>(tx_.exec_prepared(sql::kSelectPerson.name, id), PersonFromRow);
  }

  std::optional<StoredPerson> FindPersonByHash(const std::string& municipality,
                                               const std::string& hash) override {
    return First<StoredPerson>(
        tx_.exec_prepared(sql::kSelectPersonByHash.name, municipality, hash), PersonFromRow);
  }

  std::optional<StoredPerson> FindPersonByRequest(const std::string& owner,
                                                  const std::string& request_id) override {
    return First<StoredPerson>(
        tx_.exec_prepared(sql::kSelectPersonByRequest.name, owner, request_id), PersonFromRow);
  }

  void InsertConsent(const StoredConsent& stored) override {
    const v1::Consent& c = stored.consent;
    tx_.exec_prepared(
        sql::kInsertConsent.name, IdOf(c.name()), stored.person_id, stored.municipality,
        PgTextArray({c.grantee_organizations().begin(), c.grantee_organizations().end()}),
        c.purpose(), PgTextArray({c.data_categories().begin(), c.data_categories().end()}),
        PgTimestamp(TimeOf(c.valid_from())), PgTimestamp(TimeOf(c.valid_until())),
        ConsentGiverText(c.given_by()), c.guardian_name(), ConsentMethodText(c.method()),
        c.recorded_by_user(), c.recorded_by_organization(), PgTimestamp(TimeOf(c.create_time())),
        stored.create_request_id);
  }

  std::optional<StoredConsent> FindConsent(const std::string& id, bool lock) override {
    return First<StoredConsent>(
        tx_.exec_prepared(lock ? sql::kSelectConsentForUpdate.name : sql::kSelectConsent.name, id),
        ConsentFromRow);
  }

  std::optional<StoredConsent> FindConsentByRequest(const std::string& organization,
                                                    const std::string& request_id) override {
    return First<StoredConsent>(
        tx_.exec_prepared(sql::kSelectConsentByRequest.name, organization, request_id),
        ConsentFromRow);
  }

  std::vector<StoredConsent> ListConsents(const std::string& person_id, const std::string& grantee,
                                          std::optional<absl::Time> before_time,
                                          const std::string& before_id, int limit) override {
    std::vector<StoredConsent> out;
    const std::string cursor_time = before_time ? PgTimestamp(*before_time) : "";
    for (const pqxx::row& row :
         tx_.exec_prepared(sql::kListConsents.name, person_id, grantee, cursor_time,
                           before_time ? before_id : "", limit)) {
      out.push_back(ConsentFromRow(row));
    }
    return out;
  }

  std::optional<int64_t> WithdrawConsent(const std::string& id, absl::Time time,
                                         const std::string& user, const std::string& organization,
                                         const std::string& reason) override {
    pqxx::result rows = tx_.exec_prepared(sql::kWithdrawConsent.name, id, PgTimestamp(time), user,
                                          organization, reason);
    if (rows.empty()) return std::nullopt;
    return rows[0][0].as<int64_t>();
  }

  void InsertBreakGlass(const v1::BreakGlassAccess& access, const std::string& person_id,
                        const std::string& municipality) override {
    tx_.exec_prepared(sql::kInsertBreakGlass.name, IdOf(access.name()), person_id, municipality,
                      access.organization(), access.user(), access.data_category(),
                      access.reason(), PgTimestamp(TimeOf(access.create_time())),
                      PgTimestamp(TimeOf(access.expire_time())));
  }

  AccessFacts ReadFacts(const std::string& organization, const std::string& person,
                        const std::string& data_category, const std::string& purpose,
                        absl::Time at) override {
    return ReadAccessFacts(tx_, organization, person, data_category, purpose, at);
  }

  void Audit(const AuditEntry& entry) override { AppendAudit(tx_, entry); }

  void Publish(const events::v1::Event& event) override { outbox_.Append(tx_, event); }

  std::vector<AuditRecord> AuditChainPage(const std::string& subject_person,
                                          const std::string& shard, int64_t after,
                                          int64_t up_to, int limit) override {
    std::vector<AuditRecord> out;
    for (const pqxx::row& row : tx_.exec_prepared(sql::kAuditChainPage.name, subject_person,
                                                  shard, after, up_to, limit)) {
      out.push_back(AuditFromRow(row));
    }
    return out;
  }

  std::vector<AuditRecord> AuditNewestFirst(const std::string& subject_person, int64_t before,
                                            int limit) override {
    std::vector<AuditRecord> out;
    for (const pqxx::row& row :
         tx_.exec_prepared(sql::kAuditNewestFirst.name, subject_person, before, limit)) {
      out.push_back(AuditFromRow(row));
    }
    return out;
  }

  std::vector<AuditChainHead> AuditHeads(const std::string& municipality,
                                         const std::string& subject_person) override {
    std::vector<AuditChainHead> out;
    for (const pqxx::row& row :
         tx_.exec_prepared(sql::kAuditHeads.name, municipality, subject_person)) {
      AuditChainHead head{row[0].as<std::string>(), row[1].as<std::string>(),
                          row[2].as<int64_t>(), row[3].as<std::string>(), std::nullopt};
      if (!row[4].is_null()) {
        head.seal = AuditSeal{head.subject_person, head.shard, row[4].as<int64_t>(),
                              row[5].as<std::string>(), row[6].as<std::string>()};
      }
      out.push_back(std::move(head));
    }
    return out;
  }

  std::vector<AuditSeal> UnsealedAuditHeads(int limit) override {
    std::vector<AuditSeal> out;
    for (const pqxx::row& row : tx_.exec_prepared(sql::kUnsealedAuditHeads.name, limit)) {
      out.push_back({row[0].as<std::string>(), row[1].as<std::string>(), row[2].as<int64_t>(),
                     row[3].as<std::string>(), ""});
    }
    return out;
  }

  void PutAuditSeals(const std::vector<AuditSeal>& seals, absl::Time now) override {
    std::vector<std::string> persons, shards, sequences, hashes, macs;
    for (const AuditSeal& seal : seals) {
      persons.push_back(seal.subject_person);
      shards.push_back(seal.shard);
      sequences.push_back(absl::StrCat(seal.sequence));
      hashes.push_back(seal.hash);
      macs.push_back(seal.mac);
    }
    tx_.exec_prepared(sql::kPutAuditSeals.name, PgTextArray(persons), PgTextArray(shards),
                      PgTextArray(sequences), PgTextArray(hashes), PgTextArray(macs),
                      PgTimestamp(now));
  }

  std::vector<v1::AccessFinding> ReviewFindings(const std::string& municipality, absl::Time start,
                                                absl::Time end, int volume_threshold,
                                                int limit) override {
    std::vector<v1::AccessFinding> out;
    for (const pqxx::row& row :
         tx_.exec_prepared(sql::kReviewFindings.name, municipality, PgTimestamp(start),
                           PgTimestamp(end), volume_threshold, limit)) {
      v1::AccessFinding finding;
      finding.set_kind(static_cast<v1::FindingKind>(row[0].as<int>()));
      finding.set_actor_organization(row[1].as<std::string>());
      finding.set_actor_user(row[2].as<std::string>());
      finding.set_subject_person(row[3].as<std::string>());
      *finding.mutable_time() = Timestamp(row[4].as<int64_t>());
      finding.set_count(row[5].as<int64_t>());
      finding.set_request_id(row[6].as<std::string>());
      finding.set_action(row[7].as<std::string>());
      finding.set_reason(row[8].as<std::string>());
      out.push_back(std::move(finding));
    }
    return out;
  }

 private:
  pqxx::transaction_base& tx_;
  const Outbox& outbox_;
};

// The audit record of `decision` on `request` by `caller`, for decisions that
// are not DecideAccess's alone (a grantee, a guardian's consent missing).
AuditEntry RecordOf(const Caller& caller, const AccessRequest& request,
                    const AccessDecision& decision) {
  return AuditOf(caller.principal, caller.method, request, decision, caller.now,
                 caller.request_id);
}

// Decides `caller`'s access to the consents of `person` (nullopt: there is no
// such person or consent) by DecideConsentAccess, with the consent's grantees.
GuardedAccess GuardConsentAccess(const Caller& caller, const AccessRequest& request,
                                 const std::optional<StoredPerson>& person,
                                 const std::optional<StoredConsent>& consent) {
  if (!person || !consent) return MissingRecordAccess(caller, request);
  const v1::Consent& c = consent->consent;
  GuardedAccess access;
  access.decision =
      DecideConsentAccess(caller.principal, request,
                          {c.grantee_organizations().begin(), c.grantee_organizations().end()});
  access.audit = RecordOf(caller, request, access.decision);
  return access;
}

// Reads consent `id` (locked for the change when `action` is kUpdate) and its
// person, decides `caller`'s `action` on it and appends the audit record, within
// `store`. Returns the denial to answer with once the record has committed.
absl::Status GuardConsent(IdentityStore& store, const Caller& caller, const std::string& id,
                          AccessAction action, std::optional<StoredConsent>& consent,
                          std::optional<StoredPerson>& person) {
  const std::string name = absl::StrCat("consents/", id);
  consent = store.FindConsent(id, action == AccessAction::kUpdate);
  if (consent) person = store.FindPerson(consent->person_id);
  const AccessRequest access =
      AccessTo(person, action, name, "consent", consent ? consent->consent.purpose() : "");
  const GuardedAccess guarded = GuardConsentAccess(caller, access, person, consent);
  store.Audit(guarded.audit);
  return StatusOf(guarded.decision, name);
}

// Decides and audits, within `store`, `caller`'s read of `person` (nullopt: no
// person registered under what the caller gave, `asked_for`) for `purpose`; on
// permit sets `answer` to `view` of what the caller may see. Returns the denial
// to answer with once the unit of work has committed its audit record, or OK, or
// the failure to show the person (which must roll back).
absl::Status ReadPersonGuarded(IdentityStore& store, const Caller& caller,
                               const std::optional<StoredPerson>& person,
                               absl::string_view asked_for, const std::string& purpose,
                               PersonView view, v1::Person& answer) {
  const Principal& principal = caller.principal;
  const AccessRequest request =
      AccessTo(person, AccessAction::kRead, person ? person->name() : std::string(asked_for),
               "person", purpose);
  if (!person) {
    const GuardedAccess missing = MissingRecordAccess(caller, request);
    store.Audit(missing.audit);
    return StatusOf(missing.decision, asked_for);
  }
  const GuardedAccess read = DecideAndAudit(
      caller, request,
      NeedsAccessFacts(principal, request)
          ? store.ReadFacts(principal.organization, person->name(), "person", purpose, caller.now)
          : AccessFacts{});
  if (!read.decision.permitted) {
    store.Audit(read.audit);
    return StatusOf(read.decision, asked_for);
  }
  // Contact details: the owner always; others by a consent for "contact", never
  // for a person with protected identity.
  bool with_contact = read.decision.reason == "owner";
  AuditEntry audited = read.audit;
  if (!with_contact && !person->protected_identity) {
    AccessRequest contact = request;
    contact.data_category = "contact";
    const GuardedAccess contact_read = DecideAndAudit(
        caller, contact,
        store.ReadFacts(principal.organization, person->name(), "contact", purpose, caller.now));
    if (contact_read.decision.permitted) {
      with_contact = true;
      // The record names the widest category shown: contact includes person.
      audited = contact_read.audit;
    }
  }
  absl::StatusOr<v1::Person> shown = view(*person, with_contact);
  if (!shown.ok()) return shown.status();
  store.Audit(audited);
  answer = *std::move(shown);
  return absl::OkStatus();
}

}  // namespace

std::vector<MigrationSet> IdentityMigrationSets() {
  return PublishingServiceMigrationSets("identity", identity_migrations());
}

std::vector<PreparedStatement> IdentityRepositoryStatements(const Outbox& outbox) {
  return RepositoryStatements(sql::kAll, outbox);
}

absl::StatusOr<StoredPerson> PgIdentityRepository::CreatePerson(
    const Caller& caller, const StoredPerson& person, const events::v1::Event& event) {
  absl::Status denied;
  StoredPerson answer;
  absl::Status status = Transaction(caller.deadline, [&](IdentityStore& store) {
    const AccessRequest access =
        AccessTo(person, AccessAction::kCreate, person.name(), "person", "coordination");
    // The person will be in the caller's municipality, owned by its organization:
    // only the caller's role can refuse it, and no facts are needed.
    GuardedAccess create = DecideAndAudit(caller, access, AccessFacts{});
    if (!create.decision.permitted) {
      // Nobody's data was touched: the refusal goes to the chain of no person.
      create.audit.subject_person.clear();
      create.audit.resource = "persons";
      store.Audit(create.audit);
      denied = StatusOf(create.decision, "persons");
      return absl::OkStatus();
    }
    if (std::optional<StoredPerson> earlier =
            store.FindPersonByRequest(person.owner_organization, person.create_request_id)) {
      if (earlier->identity_number_hash != person.identity_number_hash) {
        return InvalidField("request_id",
                            "was already used by this organization for another person; send "
                            "a new request id for a new person");
      }
      // A retry: the answer of the first call, read again on the permit above.
      store.Audit(AuditOf(caller.principal, caller.method,
                          AccessTo(earlier, AccessAction::kRead, earlier->name(), "person",
                                   "coordination"),
                          create.decision, caller.now, caller.request_id));
      answer = *std::move(earlier);
      return absl::OkStatus();
    }
    if (std::optional<StoredPerson> existing =
            store.FindPersonByHash(person.municipality, person.identity_number_hash)) {
      // Recorded on the existing person's chain; the caller learns only that the
      // number is taken.
      store.Audit(AuditOf(caller.principal, caller.method,
                          AccessTo(existing, AccessAction::kCreate, existing->name(), "person",
                                   "coordination"),
                          {false, "already_exists", ""}, caller.now, caller.request_id));
      denied = absl::AlreadyExistsError(
          "a person with this identity number is already registered; ask the owner "
          "organization for a consent, or use LookupPerson");
      return absl::OkStatus();
    }
    if (!store.FindMunicipality(person.municipality)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "municipality ", person.municipality, " is not registered; register it first"));
    }
    store.InsertPerson(person);
    store.Audit(create.audit);
    store.Publish(event);
    answer = person;
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  if (!denied.ok()) return denied;
  return answer;
}

absl::StatusOr<v1::Person> PgIdentityRepository::ReadPerson(const Caller& caller,
                                                            const PersonKey& key,
                                                            const std::string& purpose,
                                                            PersonView view) {
  absl::Status outcome;
  v1::Person answer;
  absl::Status status = Transaction(caller.deadline, [&](IdentityStore& store) {
    // By number, only the caller's municipality is searched: whether the number
    // is registered elsewhere is not the caller's to learn.
    const std::optional<StoredPerson> person =
        key.id.empty()
            ? store.FindPersonByHash(caller.principal.municipality, key.identity_number_hash)
            : store.FindPerson(key.id);
    const std::string asked_for = key.id.empty() ? "persons" : absl::StrCat("persons/", key.id);
    outcome = ReadPersonGuarded(store, caller, person, asked_for, purpose, view, answer);
    // A refusal commits its audit record; a failure to show the person rolls
    // everything back.
    return outcome.ok() || absl::IsPermissionDenied(outcome) ? absl::OkStatus() : outcome;
  });
  if (!status.ok()) return status;
  if (!outcome.ok()) return outcome;
  return answer;
}

absl::StatusOr<StoredConsent> PgIdentityRepository::CreateConsent(const Caller& caller,
                                                                  const StoredConsent& consent,
                                                                  ConsentEventOf event_of) {
  absl::Status outcome;
  StoredConsent answer;
  absl::Status status = Transaction(caller.deadline, [&](IdentityStore& store) {
    const v1::Consent& given = consent.consent;
    const std::optional<StoredPerson> person = store.FindPerson(consent.person_id);
    AccessRequest access =
        AccessTo(person, AccessAction::kCreate, given.name(), "consent", given.purpose());
    // Only the owner records a person's consents.
    GuardedAccess create = person ? DecideAndAudit(caller, access, AccessFacts{})
                                  : MissingRecordAccess(caller, access);
    if (create.decision.permitted) {
      if (std::optional<StoredConsent> earlier = store.FindConsentByRequest(
              caller.principal.organization, consent.create_request_id)) {
        if (earlier->person_id != consent.person_id ||
            earlier->consent.purpose() != given.purpose()) {
          return InvalidField("request_id",
                              "was already used by this organization for another consent");
        }
        // A retry: the consent the first call recorded, read again.
        access.resource = earlier->consent.name();
        access.action = AccessAction::kRead;
        store.Audit(RecordOf(caller, access, create.decision));
        answer = *std::move(earlier);
        return absl::OkStatus();
      }
      outcome = CheckGuardianRule(given, person->birth_date, TimeOf(given.valid_from()));
      if (!outcome.ok()) {
        create.decision = {false, "guardian_required", ""};
        create.audit = RecordOf(caller, access, create.decision);
      }
    } else {
      outcome = StatusOf(create.decision, given.person());
    }
    if (!create.decision.permitted) {
      store.Audit(create.audit);
      return absl::OkStatus();
    }
    answer = consent;
    answer.municipality = person->municipality;
    store.InsertConsent(answer);
    store.Audit(create.audit);
    store.Publish(event_of(given, *person));
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  if (!outcome.ok()) return outcome;
  return answer;
}

absl::StatusOr<StoredConsent> PgIdentityRepository::GetConsent(const Caller& caller,
                                                               const std::string& id) {
  absl::Status denied;
  std::optional<StoredConsent> consent;
  absl::Status status = Transaction(caller.deadline, [&](IdentityStore& store) {
    std::optional<StoredPerson> person;
    denied = GuardConsent(store, caller, id, AccessAction::kRead, consent, person);
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  if (!denied.ok()) return denied;
  return *std::move(consent);
}

absl::StatusOr<std::vector<StoredConsent>> PgIdentityRepository::ListConsents(
    const Caller& caller, const std::string& person_id, std::optional<absl::Time> before_time,
    const std::string& before_id, int limit) {
  absl::Status denied;
  std::vector<StoredConsent> page;
  const std::string name = absl::StrCat("persons/", person_id);
  absl::Status status = Transaction(caller.deadline, [&](IdentityStore& store) {
    const std::optional<StoredPerson> person = store.FindPerson(person_id);
    const AccessRequest access = AccessTo(person, AccessAction::kRead, name, "consent", "");
    GuardedAccess list = person ? DecideAndAudit(caller, access, AccessFacts{})
                                : MissingRecordAccess(caller, access);
    const bool may_be_grantee = !list.decision.permitted && person &&
                                list.decision.reason != "role" &&
                                list.decision.reason != "other_municipality";
    if (list.decision.permitted || may_be_grantee) {
      // A grantee sees the consents that name it, and nothing else.
      page = store.ListConsents(person_id,
                                list.decision.permitted ? "" : caller.principal.organization,
                                before_time, before_id, limit);
      if (may_be_grantee && (!page.empty() || before_time)) {
        list.decision = {true, "grantee", ""};
        list.audit = RecordOf(caller, access, list.decision);
      }
    }
    store.Audit(list.audit);
    denied = StatusOf(list.decision, name);
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  if (!denied.ok()) return denied;
  return page;
}

absl::StatusOr<StoredConsent> PgIdentityRepository::WithdrawConsent(const Caller& caller,
                                                                    const std::string& id,
                                                                    const std::string& reason,
                                                                    ConsentEventOf event_of) {
  absl::Status denied;
  std::optional<StoredConsent> consent;
  absl::Status status = Transaction(caller.deadline, [&](IdentityStore& store) {
    std::optional<StoredPerson> person;
    denied = GuardConsent(store, caller, id, AccessAction::kUpdate, consent, person);
    if (!denied.ok()) return absl::OkStatus();
    if (std::optional<int64_t> version =
            store.WithdrawConsent(id, caller.now, caller.principal.user,
                                  caller.principal.organization, reason)) {
      v1::Consent& changed = consent->consent;
      changed.set_version(*version);
      changed.set_etag(absl::StrCat(*version));
      *changed.mutable_withdraw_time() = Timestamp(absl::ToUnixMicros(caller.now));
      changed.set_withdrawn_by_user(caller.principal.user);
      changed.set_withdrawn_by_organization(caller.principal.organization);
      changed.set_withdraw_reason(reason);
      store.Publish(event_of(changed, *person));
    }
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  if (!denied.ok()) return denied;
  return *std::move(consent);
}

absl::StatusOr<AccessDecision> PgIdentityRepository::CheckAccess(
    const Caller& caller, const std::string& person, const std::string& data_category,
    const std::string& purpose) {
  AccessDecision decision;
  absl::Status status = Transaction(caller.deadline, [&](IdentityStore& store) {
    const AccessFacts facts = store.ReadFacts(caller.principal.organization, person,
                                              data_category, purpose, caller.now);
    AccessRequest access;
    access.action = AccessAction::kRead;
    access.resource = person;
    const bool registered = !facts.person_municipality.empty();
    if (registered) access.person = person;
    access.municipality = facts.person_municipality;
    access.owner_organization = facts.person_owner;
    access.data_category = data_category;
    access.purpose = purpose;
    const GuardedAccess check = registered ? DecideAndAudit(caller, access, facts)
                                           : MissingRecordAccess(caller, access);
    store.Audit(check.audit);
    decision = check.decision;
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return decision;
}

absl::Status PgIdentityRepository::BreakGlass(const Caller& caller,
                                              const v1::BreakGlassAccess& access,
                                              BreakGlassEventOf event_of) {
  absl::Status denied;
  absl::Status status = Transaction(caller.deadline, [&](IdentityStore& store) {
    const std::optional<StoredPerson> person = store.FindPerson(PersonIdOf(access.person()));
    const std::optional<v1::Organization> organization =
        store.FindOrganization(IdOf(caller.principal.organization), false);
    const std::string refusal =
        person ? BreakGlassRefusal(caller.principal, organization ? &*organization : nullptr,
                                   person->municipality)
               : (caller.principal.HasRole("caseworker") ? "not_found" : "break_glass_role");
    AccessRequest audited =
        AccessTo(person, AccessAction::kRead, access.name(), access.data_category(), "");
    if (!person) audited.resource = access.person();
    const AccessDecision decision{refusal.empty(),
                                  refusal.empty() ? "break_glass_granted" : refusal,
                                  refusal.empty() ? access.name() : ""};
    store.Audit(RecordOf(caller, audited, decision));
    if (!decision.permitted) {
      denied = absl::PermissionDeniedError(absl::StrCat(
          "break-glass access to ", access.person(),
          " refused: only a caseworker of a social services or health care organization "
          "serving the person's municipality may break the glass (or there is no such "
          "person)"));
      return absl::OkStatus();
    }
    store.InsertBreakGlass(access, person->id, person->municipality);
    store.Publish(event_of(*person));
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return denied;
}

absl::StatusOr<std::vector<AuditRecord>> PgIdentityRepository::ListAccessLog(
    const Caller& caller, const std::string& person_id, int64_t before, int limit) {
  absl::Status denied;
  std::vector<AuditRecord> records;
  const std::string name = absl::StrCat("persons/", person_id);
  absl::Status status = Transaction(caller.deadline, [&](IdentityStore& store) {
    const std::optional<StoredPerson> person = store.FindPerson(person_id);
    const AccessRequest access = AccessTo(person, AccessAction::kRead, name, "access_log", "");
    // The log is the owner's to show the person: no consent reaches it.
    const GuardedAccess read = person ? DecideAndAudit(caller, access, AccessFacts{})
                                      : MissingRecordAccess(caller, access);
    // Appended first: the log shows this very read.
    store.Audit(read.audit);
    denied = StatusOf(read.decision, name);
    if (!denied.ok()) return absl::OkStatus();
    records = store.AuditNewestFirst(person->name(), before, limit);
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  if (!denied.ok()) return denied;
  return records;
}

absl::Status PgIdentityRepository::Transaction(
    absl::Time deadline, absl::FunctionRef<absl::Status(IdentityStore&)> work) {
  return pool_.Transaction(deadline, [&](pqxx::transaction_base& tx) {
    PgIdentityStore store(tx, outbox_);
    return work(store);
  });
}

absl::Status PgIdentityRepository::Read(absl::Time deadline,
                                        absl::FunctionRef<absl::Status(IdentityStore&)> work) {
  return pool_.Read(deadline, [&](pqxx::transaction_base& tx) {
    PgIdentityStore store(tx, outbox_);
    return work(store);
  });
}

}  // namespace samplan::identity
