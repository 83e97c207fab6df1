#ifndef SAMPLAN_SERVICES_IDENTITY_AUDIT_CHAIN_H_
#define SAMPLAN_SERVICES_IDENTITY_AUDIT_CHAIN_H_

// The audit log's hash chain. Each record carries the hash of the one before it and
// a hash over its own content including that link, so changing, removing or
// reordering any record — even by someone with write access to the table — breaks
// the chain at that record, unless every later hash is recomputed too; publishing
// or anchoring the latest hash elsewhere makes that detectable as well.

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace samplan::identity {

// One read or write of personal data, or one refused attempt.
struct AuditRecord {
  int64_t sequence = 0;  // position in the chain: 1, 2, 3, ... without gaps
  absl::Time time;       // hashed at microsecond precision, as PostgreSQL keeps it
  std::string municipality;
  std::string actor_user;
  std::string actor_organization;
  std::string action;
  std::string resource;
  std::string subject_person;
  std::string data_category;
  std::string purpose;
  std::string consent;   // the consent the access relied on; empty if none
  std::string decision;  // "permit" or "deny"
  std::string reason;
  std::string request_id;
  std::string previous_hash;  // `hash` of the record before, 64 hex digits
  std::string hash;           // ChainHash of this record, 64 hex digits
};

// The sequence number of the first record of the chain.
inline constexpr int64_t kFirstAuditSequence = 1;
// The previous_hash of the first record, which has no record before it.
inline constexpr absl::string_view kGenesisAuditHash =
    "0000000000000000000000000000000000000000000000000000000000000000";

// Returns the bytes ChainHash hashes: every field of `record` except `hash`, so
// that no two different records share them. Each value is written as an 8-byte
// big-endian number, strings as their 8-byte big-endian length then their bytes:
//   the string "samplan.audit.v1", sequence, time as Unix microseconds (rounded
//   down), municipality, actor_user, actor_organization, action, resource,
//   subject_person, data_category, purpose, consent, decision, reason, request_id,
//   previous_hash.
// Described here in full so the chain can be checked by other tools than this;
// identity.append_audit (services/identity/migrations) computes the same in SQL.
std::string CanonicalAuditBytes(const AuditRecord& record);

// Returns SHA-256 of CanonicalAuditBytes(record) as 64 lowercase hex digits.
std::string ChainHash(const AuditRecord& record);

// Sets `record`'s sequence, previous_hash and hash so that it follows `previous`,
// or starts the chain when `previous` is null. The other fields must be final.
void ChainAuditRecord(const AuditRecord* previous, AuditRecord& record);

// Checks a whole chain, given in sequence order from its first record: sequences
// are kFirstAuditSequence, +1, +2, ...; the first previous_hash is
// kGenesisAuditHash and every other one the hash of the record before; every hash
// is the ChainHash of its record. Returns OK, or DATA_LOSS naming the first
// sequence at which the chain breaks and how ("gap in sequence", "broken link",
// "altered record"); never any of the records' content. An empty chain is OK.
absl::Status VerifyChain(const std::vector<AuditRecord>& records);

// Like VerifyChain, for a part of a chain that continues after records already
// checked: the first of `records` must have sequence `first_sequence` and
// previous_hash `previous_hash` (the hash of the last record checked). So a long
// chain can be checked a page at a time.
absl::Status VerifyChainSegment(const std::vector<AuditRecord>& records, int64_t first_sequence,
                                absl::string_view previous_hash);

// The keyed seal of a chain's end (identity.audit_seals). The hash chain alone
// stops whoever may only append; the owner of the tables could rewrite a record
// and recompute every hash after it. A seal names a chain's record and its hash
// under an HMAC whose key only the identity service holds, so a rewrite of any
// record up to a sealed one shows at the seal, and no new seal can be made.
struct AuditSeal {
  std::string subject_person;  // the chain: persons/{id}, or '' with a shard
  std::string shard;           // '' for a person's chain
  int64_t sequence = 0;        // the sealed record
  std::string hash;            // its hash
  std::string mac;             // AuditSealer::Mac of the four above, 64 hex digits
};

// Returns the bytes a seal's MAC covers, written as CanonicalAuditBytes writes
// values: the string "samplan.audit.seal.v1", subject_person, shard, sequence,
// hash.
std::string CanonicalSealBytes(const AuditSeal& seal);

// Makes and checks seals under one 32-byte key. Thread-safe; copies are cheap and
// wipe their key when they go away.
class AuditSealer {
 public:
  static constexpr size_t kKeySize = 32;

  // Returns a sealer for a key given in standard base64 (as in configuration); a
  // key that is not base64 or not 32 bytes is INVALID_ARGUMENT that never shows it.
  static absl::StatusOr<AuditSealer> Make(absl::string_view key_base64);

  AuditSealer(const AuditSealer&) = default;
  AuditSealer& operator=(const AuditSealer&) = default;
  ~AuditSealer();

  // Returns HMAC-SHA256 of CanonicalSealBytes(seal) as 64 lowercase hex digits.
  std::string Mac(const AuditSeal& seal) const;
  // Returns whether `seal.mac` is Mac(seal), comparing in constant time.
  bool Verify(const AuditSeal& seal) const;

 private:
  using Key = std::array<uint8_t, kKeySize>;
  explicit AuditSealer(const Key& key) : key_(key) {}
  Key key_;
};

}  // namespace samplan::identity

#endif  // SAMPLAN_SERVICES_IDENTITY_AUDIT_CHAIN_H_
