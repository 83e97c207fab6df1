#ifndef SAMPLAN_SERVICES_IDENTITY_IDENTITY_REPOSITORY_H_
#define SAMPLAN_SERVICES_IDENTITY_IDENTITY_REPOSITORY_H_

// Storage of the identity service. Its reads, its writes, the audit record of the
// access and the outbox event run inside one unit of work, so that they commit
// together or not at all — the rule "no answer without its audit record" is a
// property of that unit.
//
// Personal data — persons, consents, access decisions, break-glass accesses and
// the access log — is read and written through the repository's guarded calls,
// which decide access by common/access.h's rule in the transaction that reads
// the data and append the audit record there, as caseplan's repository does for
// plans. The directory and the supervisor's audit calls, which the access rule
// does not govern, run their own units of work (IdentityRepository::Transaction).

#include <optional>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "common/access.h"
#include "samplan/events/v1/event.pb.h"
#include "samplan/identity/v1/identity.pb.h"
#include "services/identity/audit_chain.h"

namespace samplan::identity {

// A person as stored: the identity number sealed, never in clear.
struct StoredPerson {
  std::string id;  // the UUID of persons/{id}
  std::string municipality;
  std::string owner_organization;
  std::string identity_number_kind;  // "personnummer" or "samordningsnummer"
  std::string identity_number_sealed;
  std::string identity_number_hash;
  std::string given_name;
  std::string family_name;
  absl::CivilDay birth_date;
  std::string address;
  std::string phone;
  std::string email;
  bool protected_identity = false;
  int64_t version = 1;
  absl::Time create_time;
  absl::Time update_time;
  std::string create_request_id;

  std::string name() const { return "persons/" + id; }
};

// Returns the access request about `person` (or, when there is none, about no
// one) for a decision and its audit record.
inline AccessRequest AccessTo(const std::optional<StoredPerson>& person, AccessAction action,
                              std::string resource, std::string data_category,
                              std::string purpose) {
  AccessRequest request;
  request.action = action;
  request.resource = std::move(resource);
  if (person.has_value()) {
    request.person = person->name();
    request.municipality = person->municipality;
    request.owner_organization = person->owner_organization;
  }
  request.data_category = std::move(data_category);
  request.purpose = std::move(purpose);
  return request;
}

// Which person a read is about: by id (the UUID of persons/{id}), or, when the id
// is empty, by the lookup hash of the identity number in the caller's municipality.
struct PersonKey {
  std::string id;
  std::string identity_number_hash;
};

// How the caller is shown a person it may see, with its contact details or
// without. It runs inside the unit of work, before the read's audit record is
// appended: a person that cannot be shown leaves no record of having been seen.
using PersonView =
    absl::FunctionRef<absl::StatusOr<v1::Person>(const StoredPerson& person, bool with_contact)>;

// Makes the event of a granted break-glass access to `person`.
using BreakGlassEventOf = absl::FunctionRef<events::v1::Event(const StoredPerson& person)>;

// Makes the event of a change of `consent`, a consent of `person`.
using ConsentEventOf =
    absl::FunctionRef<events::v1::Event(const v1::Consent& consent, const StoredPerson& person)>;

// A consent as stored: the API message (without `state`, which depends on the
// time of the answer) and what only the store keeps.
struct StoredConsent {
  v1::Consent consent;
  std::string person_id;
  std::string municipality;
  std::string create_request_id;
};

// The end of one audit chain as audit_heads records it, with the chain's seal
// (audit_seals) when it has one. A chain is (subject_person, shard).
struct AuditChainHead {
  std::string subject_person;
  std::string shard;
  int64_t sequence = 0;
  std::string hash;
  std::optional<AuditSeal> seal;
};

// One unit of work: everything runs in the same database transaction. Methods
// throw on database errors; IdentityRepository::Transaction turns them into a
// status and rolls back.
class IdentityStore {
 public:
  virtual ~IdentityStore() = default;

  // Municipalities. InsertMunicipality returns false when the code exists.
  virtual bool InsertMunicipality(const v1::Municipality& municipality, absl::Time now) = 0;
  virtual std::optional<v1::Municipality> FindMunicipality(const std::string& code) = 0;
  virtual std::vector<v1::Municipality> ListMunicipalities(const std::string& after_code,
                                                           int limit) = 0;
  // Returns the codes of `codes` that are not registered.
  virtual std::vector<std::string> UnknownMunicipalities(const std::vector<std::string>& codes) = 0;

  // Organizations, by id (without "organizations/"). InsertOrganization returns
  // false when the id is taken; UpdateOrganization returns the new version.
  virtual bool InsertOrganization(const std::string& id, const v1::Organization& organization,
                                  absl::Time now) = 0;
  virtual std::optional<v1::Organization> FindOrganization(const std::string& id,
                                                           bool lock) = 0;
  virtual int64_t UpdateOrganization(const std::string& id, const v1::Organization& organization,
                                     absl::Time now) = 0;
  virtual std::vector<v1::Organization> ListOrganizations(const std::string& municipality,
                                                          const std::string& after_id,
                                                          int limit) = 0;
  // Returns the ids of `ids` that are not registered.
  virtual std::vector<std::string> UnknownOrganizations(const std::vector<std::string>& ids) = 0;

  // Users with their memberships, by id. InsertUser returns false when the id is
  // taken, and then stores no membership.
  virtual bool InsertUser(const std::string& id, const v1::User& user, absl::Time now) = 0;
  virtual std::optional<v1::User> FindUser(const std::string& id) = 0;

  // Persons. An identity number is registered once per municipality: InsertPerson
  // throws a unique violation when it is registered in the person's municipality,
  // and FindPersonByHash looks only there.
  virtual void InsertPerson(const StoredPerson& person) = 0;
  virtual std::optional<StoredPerson> FindPerson(const std::string& id) = 0;
  virtual std::optional<StoredPerson> FindPersonByHash(const std::string& municipality,
                                                       const std::string& hash) = 0;
  virtual std::optional<StoredPerson> FindPersonByRequest(const std::string& owner,
                                                          const std::string& request_id) = 0;

  // Consents, by id (the UUID).
  virtual void InsertConsent(const StoredConsent& consent) = 0;
  virtual std::optional<StoredConsent> FindConsent(const std::string& id, bool lock) = 0;
  virtual std::optional<StoredConsent> FindConsentByRequest(const std::string& organization,
                                                            const std::string& request_id) = 0;
  // Returns up to `limit` consents of a person, newest recorded first, only those
  // naming `grantee` when it is not empty, recorded before the cursor when given.
  virtual std::vector<StoredConsent> ListConsents(const std::string& person_id,
                                                  const std::string& grantee,
                                                  std::optional<absl::Time> before_time,
                                                  const std::string& before_id, int limit) = 0;
  // Marks the consent withdrawn; returns its new version, or nothing when it was
  // already withdrawn.
  virtual std::optional<int64_t> WithdrawConsent(const std::string& id, absl::Time time,
                                                 const std::string& user,
                                                 const std::string& organization,
                                                 const std::string& reason) = 0;

  // Stores a granted break-glass access (name "breakGlassAccesses/{id}").
  virtual void InsertBreakGlass(const v1::BreakGlassAccess& access,
                                const std::string& person_id,
                                const std::string& municipality) = 0;

  // The access facts (common/access.h) at `at`.
  virtual AccessFacts ReadFacts(const std::string& organization, const std::string& person,
                                const std::string& data_category, const std::string& purpose,
                                absl::Time at) = 0;
  // Appends an audit record; it commits with the unit of work.
  virtual void Audit(const AuditEntry& entry) = 0;
  // Writes an event to the outbox; it is published once the unit of work commits.
  virtual void Publish(const events::v1::Event& event) = 0;

  // The audit log. ChainPage: records of one chain with after < sequence <= up_to,
  // oldest first. NewestFirst: records before `before` (0: from the newest).
  virtual std::vector<AuditRecord> AuditChainPage(const std::string& subject_person,
                                                  const std::string& shard, int64_t after,
                                                  int64_t up_to, int limit) = 0;
  virtual std::vector<AuditRecord> AuditNewestFirst(const std::string& subject_person,
                                                    int64_t before, int limit) = 0;
  // The heads of the chains of the municipality's persons, of the municipality's
  // chains of attempts that named no person, and of the chain such attempts
  // shared before identity migration 0008; only `subject_person`'s when it is not
  // empty. Each with its seal, if any.
  virtual std::vector<AuditChainHead> AuditHeads(const std::string& municipality,
                                                 const std::string& subject_person) = 0;
  // Up to `limit` chain ends that are not sealed where they end (the seal's
  // `mac` left empty), and the seals to write for them.
  virtual std::vector<AuditSeal> UnsealedAuditHeads(int limit) = 0;
  virtual void PutAuditSeals(const std::vector<AuditSeal>& seals, absl::Time now) = 0;
  // What ReviewAccess reports, at most `limit`.
  virtual std::vector<v1::AccessFinding> ReviewFindings(const std::string& municipality,
                                                        absl::Time start, absl::Time end,
                                                        int volume_threshold, int limit) = 0;
};

class IdentityRepository {
 public:
  virtual ~IdentityRepository() = default;

  // --- Persons, guarded by the access rule ---------------------------------------
  // Each call decides `caller`'s access in the transaction that reads the person
  // and appends the audit record of the decision there, denials included; a
  // denied call commits that record and then returns PERMISSION_DENIED, which
  // does not tell whether the person exists.

  // Registers `person` (owned by the caller's organization, in its municipality)
  // and publishes `event` with it, and returns it. When the organization
  // registered a person with `person.create_request_id` before, returns that one
  // instead (a retry) — or INVALID_ARGUMENT naming request_id when its identity
  // number differs. ALREADY_EXISTS when the number is registered (recorded on
  // that person's audit chain); FAILED_PRECONDITION when the municipality is not
  // registered.
  virtual absl::StatusOr<StoredPerson> CreatePerson(const Caller& caller,
                                                    const StoredPerson& person,
                                                    const events::v1::Event& event) = 0;

  // Reads the person `key` names for `purpose` and returns `view` of it: with
  // contact details for the owner, and for an organization whose consent also
  // covers "contact" unless the person has protected identity. The audit record
  // names the widest category shown.
  virtual absl::StatusOr<v1::Person> ReadPerson(const Caller& caller, const PersonKey& key,
                                                const std::string& purpose,
                                                PersonView view) = 0;

  // --- Consents, guarded by the access rule --------------------------------------
  // The owner of the person sees and records the person's consents; an
  // organization a consent names (a grantee) sees that consent, and may withdraw
  // it, also once withdrawn or expired (DecideConsentAccess).

  // Records `consent` (its person_id and create_request_id set) and publishes
  // `event_of` it, and returns it as stored. When the caller's organization
  // recorded a consent with the same request id before, returns that one
  // instead (a retry) — or INVALID_ARGUMENT naming request_id when it is about
  // another person or purpose. INVALID_ARGUMENT naming consent.given_by when the
  // person is under 18 on its first day and a guardian did not give it; that
  // refusal is audited too.
  virtual absl::StatusOr<StoredConsent> CreateConsent(const Caller& caller,
                                                      const StoredConsent& consent,
                                                      ConsentEventOf event_of) = 0;

  // Returns consent `id` (the UUID of consents/{id}).
  virtual absl::StatusOr<StoredConsent> GetConsent(const Caller& caller,
                                                   const std::string& id) = 0;

  // Returns up to `limit` consents of person `person_id`, newest recorded first,
  // recorded before the cursor when `before_time` is given: every one to the
  // owner, those that name the caller's organization to a grantee.
  virtual absl::StatusOr<std::vector<StoredConsent>> ListConsents(
      const Caller& caller, const std::string& person_id, std::optional<absl::Time> before_time,
      const std::string& before_id, int limit) = 0;

  // Withdraws consent `id` at the call's time for `reason` and publishes
  // `event_of` the change, and returns the consent as it is then; a consent
  // already withdrawn is returned as it is, with no new event.
  virtual absl::StatusOr<StoredConsent> WithdrawConsent(const Caller& caller,
                                                        const std::string& id,
                                                        const std::string& reason,
                                                        ConsentEventOf event_of) = 0;

  // --- Access decisions ------------------------------------------------------------

  // Decides whether the caller's organization may see `data_category` of
  // `person` ("persons/{id}") for `purpose` now, and audits the question.
  virtual absl::StatusOr<AccessDecision> CheckAccess(const Caller& caller,
                                                     const std::string& person,
                                                     const std::string& data_category,
                                                     const std::string& purpose) = 0;

  // Grants `access` (its person, data category and times set) unless
  // BreakGlassRefusal refuses the caller, stores it and publishes `event_of` it;
  // PERMISSION_DENIED otherwise, also when there is no such person. Audited
  // either way.
  virtual absl::Status BreakGlass(const Caller& caller, const v1::BreakGlassAccess& access,
                                  BreakGlassEventOf event_of) = 0;

  // --- The access log, guarded by the access rule ----------------------------------

  // Returns up to `limit` audit records of person `person_id`, newest first,
  // before sequence `before` (0: from the newest). The log is the owner's to
  // show the person: no consent reaches it.
  virtual absl::StatusOr<std::vector<AuditRecord>> ListAccessLog(const Caller& caller,
                                                                 const std::string& person_id,
                                                                 int64_t before, int limit) = 0;

  // --- Units of work ----------------------------------------------------------------

  // For the calls the access rule does not govern (the directory, the
  // supervisor's audit calls). Runs `work` in one transaction and commits it
  // when `work` returns OK; any other status, or a database error, rolls
  // everything back.
  virtual absl::Status Transaction(absl::Time deadline,
                                   absl::FunctionRef<absl::Status(IdentityStore&)> work) = 0;

  // Like Transaction for reads that need no atomicity: each statement on its own.
  virtual absl::Status Read(absl::Time deadline,
                            absl::FunctionRef<absl::Status(IdentityStore&)> work) = 0;
};

}  // namespace samplan::identity

#endif  // SAMPLAN_SERVICES_IDENTITY_IDENTITY_REPOSITORY_H_
