#include "services/identity/audit_chain.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace samplan::identity {
namespace {

// Names the format in the hashed bytes, so a later format with other fields can
// never produce the same bytes as this one.
constexpr absl::string_view kFormat = "samplan.audit.v1";

void AppendNumber(std::string& out, uint64_t value) {
  for (int shift = 56; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((value >> shift) & 0xff));
  }
}

// The length in front is what keeps field boundaries: "ab","c" and "a","bc" differ.
void AppendString(std::string& out, absl::string_view value) {
  AppendNumber(out, value.size());
  out.append(value.data(), value.size());
}

absl::Status Broken(int64_t sequence, absl::string_view what) {
  return absl::DataLossError(absl::StrCat("audit chain broken at sequence ", sequence, ": ", what));
}

}  // namespace

std::string CanonicalAuditBytes(const AuditRecord& record) {
  std::string out;
  out.reserve(512);
  AppendString(out, kFormat);
  AppendNumber(out, static_cast<uint64_t>(record.sequence));
  // Microseconds: PostgreSQL's timestamptz keeps no more, so a record read back
  // from the table hashes the same as when it was written with absl::Now().
  AppendNumber(out, static_cast<uint64_t>(absl::ToUnixMicros(record.time)));
  AppendString(out, record.municipality);
  AppendString(out, record.actor_user);
  AppendString(out, record.actor_organization);
  AppendString(out, record.action);
  AppendString(out, record.resource);
  AppendString(out, record.subject_person);
  AppendString(out, record.data_category);
  AppendString(out, record.purpose);
  AppendString(out, record.consent);
  AppendString(out, record.decision);
  AppendString(out, record.reason);
  AppendString(out, record.request_id);
  AppendString(out, record.previous_hash);
  return out;
}

std::string ChainHash(const AuditRecord& record) {
  const std::string bytes = CanonicalAuditBytes(record);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), digest, &digest_len, EVP_sha256(), nullptr) != 1) {
    // SHA-256 does not fail; if OpenSSL is broken, stop rather than write a record
    // whose hash is not a hash.
    std::fprintf(stderr, "audit_chain: SHA-256 failed\n");
    std::abort();
  }
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), digest_len));
}

void ChainAuditRecord(const AuditRecord* previous, AuditRecord& record) {
  if (previous == nullptr) {
    record.sequence = kFirstAuditSequence;
    record.previous_hash = std::string(kGenesisAuditHash);
  } else {
    record.sequence = previous->sequence + 1;
    record.previous_hash = previous->hash;
  }
  record.hash = ChainHash(record);
}

absl::Status VerifyChain(const std::vector<AuditRecord>& records) {
  return VerifyChainSegment(records, kFirstAuditSequence, kGenesisAuditHash);
}

absl::Status VerifyChainSegment(const std::vector<AuditRecord>& records, int64_t first_sequence,
                                absl::string_view previous_hash) {
  int64_t expected = first_sequence;
  for (const AuditRecord& record : records) {
    // Where the chain breaks is the position the record should have had, so an
    // altered sequence number is reported where it was, not where it points.
    if (record.sequence > expected) {
      return Broken(expected, absl::StrCat("gap in sequence (found ", record.sequence, ")"));
    }
    if (record.sequence < expected) {
      return Broken(expected, absl::StrCat("sequence repeated or out of order (found ",
                                           record.sequence, ")"));
    }
    if (record.previous_hash != previous_hash) {
      return Broken(expected, "broken link (previous_hash is not the hash of the record before)");
    }
    if (ChainHash(record) != record.hash) {
      return Broken(expected, "altered record (hash does not match its content)");
    }
    previous_hash = record.hash;
    ++expected;
  }
  return absl::OkStatus();
}

std::string CanonicalSealBytes(const AuditSeal& seal) {
  std::string out;
  AppendString(out, "samplan.audit.seal.v1");
  AppendString(out, seal.subject_person);
  AppendString(out, seal.shard);
  AppendNumber(out, static_cast<uint64_t>(seal.sequence));
  AppendString(out, seal.hash);
  return out;
}

absl::StatusOr<AuditSealer> AuditSealer::Make(absl::string_view key_base64) {
  std::string decoded;
  if (!absl::Base64Unescape(key_base64, &decoded) || decoded.size() != kKeySize) {
    OPENSSL_cleanse(decoded.data(), decoded.size());
    return absl::InvalidArgumentError("the audit key must be 32 bytes in standard base64");
  }
  Key key{};
  std::copy(decoded.begin(), decoded.end(), key.begin());
  OPENSSL_cleanse(decoded.data(), decoded.size());
  AuditSealer sealer(key);
  OPENSSL_cleanse(key.data(), key.size());
  return sealer;
}

AuditSealer::~AuditSealer() { OPENSSL_cleanse(key_.data(), key_.size()); }

std::string AuditSealer::Mac(const AuditSeal& seal) const {
  const std::string bytes = CanonicalSealBytes(seal);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()),
           reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), mac,
           &length) == nullptr) {
    std::fprintf(stderr, "HMAC-SHA256 failed\n");
    std::abort();
  }
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(mac), length));
}

bool AuditSealer::Verify(const AuditSeal& seal) const {
  const std::string expected = Mac(seal);
  return seal.mac.size() == expected.size() &&
         CRYPTO_memcmp(seal.mac.data(), expected.data(), expected.size()) == 0;
}

}  // namespace samplan::identity
