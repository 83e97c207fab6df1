// Tier 1: the audit log's hash chain.

#include "services/identity/audit_chain.h"

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace samplan::identity {
namespace {

AuditRecord Content(int i) {
  AuditRecord record;
  record.time = absl::FromUnixMicros(1'750'000'000'000'000 + int64_t{i} * 1'234'567);
  record.actor_user = absl::StrCat("users/u", i % 7);
  record.actor_organization = absl::StrCat("organizations/o", i % 3);
  record.action = i % 2 == 0 ? "READ" : "UPDATE";
  record.subject_person = absl::StrCat("persons/p", i);
  record.data_category = "contact";
  record.purpose = "caseplan";
  record.consent = i % 4 == 0 ? absl::StrCat("consents/c", i) : "";
  record.decision = i % 5 == 0 ? "deny" : "permit";
  record.reason = i % 5 == 0 ? "no consent" : "owner";
  record.request_id = absl::StrCat("req-", i);
  return record;
}

std::vector<AuditRecord> Chain(int n) {
  std::vector<AuditRecord> records;
  for (int i = 0; i < n; ++i) {
    AuditRecord record = Content(i);
    ChainAuditRecord(records.empty() ? nullptr : &records.back(), record);
    records.push_back(std::move(record));
  }
  return records;
}

// Expects DATA_LOSS reported at `sequence`, saying `what`.
void ExpectBrokenAt(const absl::Status& status, int64_t sequence, absl::string_view what) {
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss) << status;
  EXPECT_TRUE(absl::StrContains(status.message(), absl::StrCat("at sequence ", sequence, ":")))
      << status;
  EXPECT_TRUE(absl::StrContains(status.message(), what)) << status;
}

TEST(AuditChainTest, AChainOfAHundredVerifies) {
  const std::vector<AuditRecord> records = Chain(100);
  EXPECT_EQ(records.front().sequence, 1);
  EXPECT_EQ(records.front().previous_hash, std::string(64, '0'));
  EXPECT_EQ(records.back().sequence, 100);
  EXPECT_EQ(records[50].previous_hash, records[49].hash);
  EXPECT_TRUE(VerifyChain(records).ok()) << VerifyChain(records);
  EXPECT_TRUE(VerifyChain({}).ok());
}

// Pins the encoding described in audit_chain.h, so other tools can check the chain.
// Computed in Python from that description:
//   s = lambda b: struct.pack(">Q", len(b)) + b;  n = lambda v: struct.pack(">q", v)
//   sha256(s(b"samplan.audit.v1") + n(1) + n(1700000000123456) + s(b"1885") +
//          s(b"users/anna") +
//          ... + s(b"req-1") + s(b"0" * 64))
TEST(AuditChainTest, HashesTheDocumentedEncoding) {
  AuditRecord record;
  record.sequence = 1;
  record.time = absl::FromUnixMicros(1'700'000'000'123'456);
  record.municipality = "1885";
  record.actor_user = "users/anna";
  record.actor_organization = "organizations/soc";
  record.action = "READ";
  record.resource = "plans/x1";
  record.subject_person = "persons/p1";
  record.data_category = "contact";
  record.purpose = "plan";
  record.consent = "";
  record.decision = "permit";
  record.reason = "owner";
  record.request_id = "req-1";
  record.previous_hash = std::string(kGenesisAuditHash);
  EXPECT_EQ(ChainHash(record), "2e1f132a13bd4d547eb67d3b32d42dcf4c3e267a8a2143f8c666bb7b7cb34bf3");
  const std::string bytes = CanonicalAuditBytes(record);
  EXPECT_EQ(bytes.substr(0, 24), absl::StrCat(std::string("\0\0\0\0\0\0\0\x10", 8),
                                              "samplan.audit.v1"));
}

TEST(AuditChainTest, CanonicalBytesKeepFieldBoundaries) {
  AuditRecord a = Content(1);
  AuditRecord b = a;
  a.actor_user = "ab";
  a.actor_organization = "c";
  b.actor_user = "a";
  b.actor_organization = "bc";
  EXPECT_NE(CanonicalAuditBytes(a), CanonicalAuditBytes(b));
  EXPECT_NE(ChainHash(a), ChainHash(b));

  // A value moved to the neighbouring empty field.
  AuditRecord c = Content(1);
  AuditRecord d = c;
  c.purpose = "caseplan";
  c.consent = "";
  d.purpose = "";
  d.consent = "caseplan";
  EXPECT_NE(CanonicalAuditBytes(c), CanonicalAuditBytes(d));
}

TEST(AuditChainTest, CanonicalBytesCoverEverythingButTheHash) {
  const AuditRecord record = Chain(2)[1];
  AuditRecord other = record;
  other.hash = std::string(64, 'f');
  EXPECT_EQ(CanonicalAuditBytes(record), CanonicalAuditBytes(other));
  other = record;
  other.previous_hash[0] = other.previous_hash[0] == 'a' ? 'b' : 'a';
  EXPECT_NE(CanonicalAuditBytes(record), CanonicalAuditBytes(other));
}

TEST(AuditChainTest, HashesTimeToTheMicrosecond) {
  // What PostgreSQL stores; finer parts would make a record read back fail.
  const AuditRecord record = Chain(1)[0];
  AuditRecord other = record;
  other.time += absl::Nanoseconds(999);
  EXPECT_EQ(ChainHash(record), ChainHash(other));
  other.time = record.time + absl::Microseconds(1);
  EXPECT_NE(ChainHash(record), ChainHash(other));
}

using Alteration = std::pair<const char*, std::function<void(AuditRecord&)>>;

std::vector<Alteration> Alterations() {
  return {
      {"sequence", [](AuditRecord& r) { r.sequence += 1000; }},
      {"time", [](AuditRecord& r) { r.time += absl::Microseconds(1); }},
      {"actor_user", [](AuditRecord& r) { r.actor_user = "users/mallory"; }},
      {"actor_organization", [](AuditRecord& r) { r.actor_organization += "x"; }},
      {"municipality", [](AuditRecord& r) { r.municipality = "0180"; }},
      {"action", [](AuditRecord& r) { r.action = "DELETE"; }},
      {"resource", [](AuditRecord& r) { r.resource = "plans/other"; }},
      {"subject_person", [](AuditRecord& r) { r.subject_person = "persons/other"; }},
      {"data_category", [](AuditRecord& r) { r.data_category = "health"; }},
      {"purpose", [](AuditRecord& r) { r.purpose.clear(); }},
      {"consent", [](AuditRecord& r) { r.consent = "consents/forged"; }},
      {"decision", [](AuditRecord& r) { r.decision = r.decision == "permit" ? "deny" : "permit"; }},
      {"reason", [](AuditRecord& r) { r.reason += " "; }},
      {"request_id", [](AuditRecord& r) { r.request_id = "req-x"; }},
      {"previous_hash", [](AuditRecord& r) { r.previous_hash[63] ^= 1; }},
      {"hash", [](AuditRecord& r) { r.hash[0] ^= 1; }},
  };
}

TEST(AuditChainTest, DetectsAnyAlteredFieldAtItsSequence) {
  const std::vector<AuditRecord> original = Chain(100);
  for (const auto& [field, alter] : Alterations()) {
    std::vector<AuditRecord> records = original;
    alter(records[49]);  // sequence 50
    SCOPED_TRACE(field);
    const absl::Status status = VerifyChain(records);
    ExpectBrokenAt(status, 50, "");
    // The answer says where, never what the record holds.
    for (const std::string& content :
         {records[49].actor_user, records[49].subject_person, records[49].request_id}) {
      EXPECT_FALSE(absl::StrContains(status.message(), content)) << status;
    }
  }
  // Each kind is named for what it is.
  std::vector<AuditRecord> records = original;
  records[49].reason = "altered";
  ExpectBrokenAt(VerifyChain(records), 50, "altered record");
  records = original;
  records[49].previous_hash = records[10].hash;
  ExpectBrokenAt(VerifyChain(records), 50, "broken link");
}

TEST(AuditChainTest, DetectsAlterationsOfTheFirstAndLastRecords) {
  for (size_t index : {size_t{0}, size_t{99}}) {
    std::vector<AuditRecord> records = Chain(100);
    records[index].decision = "deny";
    records[index].reason = "changed";
    ExpectBrokenAt(VerifyChain(records), static_cast<int64_t>(index) + 1, "altered record");
  }
}

TEST(AuditChainTest, DetectsADeletedRecord) {
  std::vector<AuditRecord> records = Chain(100);
  records.erase(records.begin() + 49);
  ExpectBrokenAt(VerifyChain(records), 50, "gap in sequence");

  // Renumbering the rest to close the gap breaks the link instead.
  for (size_t i = 49; i < records.size(); ++i) records[i].sequence -= 1;
  ExpectBrokenAt(VerifyChain(records), 50, "broken link");

  records = Chain(100);
  records.erase(records.begin());
  ExpectBrokenAt(VerifyChain(records), 1, "gap in sequence");
}

// A chain alone cannot show that its newest records were cut off: nothing points at
// them. The service has to keep the latest sequence and hash somewhere else too.
TEST(AuditChainTest, CannotSeeTheNewestRecordsRemoved) {
  std::vector<AuditRecord> records = Chain(100);
  records.pop_back();
  EXPECT_TRUE(VerifyChain(records).ok());
}

TEST(AuditChainTest, DetectsReordering) {
  std::vector<AuditRecord> records = Chain(100);
  std::swap(records[49], records[50]);
  ExpectBrokenAt(VerifyChain(records), 50, "gap in sequence");

  // With the sequence numbers swapped back, the links and hashes give it away.
  std::swap(records[49].sequence, records[50].sequence);
  ExpectBrokenAt(VerifyChain(records), 50, "");

  records = Chain(100);
  records.push_back(records[10]);
  ExpectBrokenAt(VerifyChain(records), 101, "sequence repeated or out of order");
}

TEST(AuditChainTest, DetectsARehashedRecordAtTheNextOne) {
  std::vector<AuditRecord> records = Chain(100);
  records[49].subject_person = "persons/someone-else";
  records[49].hash = ChainHash(records[49]);
  ExpectBrokenAt(VerifyChain(records), 51, "broken link");

  // Relinking the next one without rehashing it shows there.
  records[50].previous_hash = records[49].hash;
  ExpectBrokenAt(VerifyChain(records), 51, "altered record");
}

TEST(AuditChainTest, RequiresTheGenesisLinkAndFirstSequence) {
  std::vector<AuditRecord> records = Chain(3);
  records[0].previous_hash = std::string(64, '1');
  records[0].hash = ChainHash(records[0]);
  ExpectBrokenAt(VerifyChain(records), 1, "broken link");

  // A chain starting at sequence 2 is missing its first record.
  std::vector<AuditRecord> shifted;
  AuditRecord first = Content(0);
  first.sequence = 2;
  first.previous_hash = std::string(kGenesisAuditHash);
  first.hash = ChainHash(first);
  shifted.push_back(first);
  ExpectBrokenAt(VerifyChain(shifted), 1, "gap in sequence");
}

TEST(AuditChainTest, VerifiesAChainAPageAtATime) {
  const std::vector<AuditRecord> records = Chain(100);
  const std::vector<AuditRecord> first_page(records.begin(), records.begin() + 50);
  const std::vector<AuditRecord> second_page(records.begin() + 50, records.end());
  EXPECT_TRUE(VerifyChain(first_page).ok());
  EXPECT_TRUE(VerifyChainSegment(second_page, 51, first_page.back().hash).ok());
  ExpectBrokenAt(VerifyChainSegment(second_page, 51, records[10].hash), 51, "broken link");
  ExpectBrokenAt(VerifyChainSegment(second_page, 50, first_page.back().hash), 50,
                 "gap in sequence");
  EXPECT_TRUE(VerifyChainSegment({}, 101, records.back().hash).ok());
}

// A seal is what the tables' owner cannot make: without the key, no MAC matches.
TEST(AuditSealTest, OnlyTheKeyMakesASealThatVerifies) {
  const std::string key(32, 'k');
  const std::string other_key(32, 'o');
  absl::StatusOr<AuditSealer> sealer = AuditSealer::Make(absl::Base64Escape(key));
  absl::StatusOr<AuditSealer> other = AuditSealer::Make(absl::Base64Escape(other_key));
  ASSERT_TRUE(sealer.ok() && other.ok());
  AuditSeal seal{"persons/p", "", 4, std::string(64, 'a'), ""};
  seal.mac = sealer->Mac(seal);
  EXPECT_EQ(seal.mac.size(), 64u);
  EXPECT_TRUE(sealer->Verify(seal));
  EXPECT_FALSE(other->Verify(seal));
  // Each value the seal names is covered.
  for (const std::function<void(AuditSeal&)>& change : std::vector<std::function<void(AuditSeal&)>>{
           [](AuditSeal& s) { s.subject_person = "persons/q"; },
           [](AuditSeal& s) { s.shard = "1885/1"; },
           [](AuditSeal& s) { s.sequence = 5; },
           [](AuditSeal& s) { s.hash = std::string(64, 'b'); },
           [](AuditSeal& s) { s.mac = std::string(64, '0'); }}) {
    AuditSeal changed = seal;
    change(changed);
    EXPECT_FALSE(sealer->Verify(changed));
  }
  // Field boundaries count: "ab" + "" is not "a" + "b".
  EXPECT_NE(CanonicalSealBytes({"ab", "", 1, "h", ""}), CanonicalSealBytes({"a", "b", 1, "h", ""}));
}

TEST(AuditSealTest, AKeyThatIsNot32BytesOfBase64IsRefusedWithoutShowingIt) {
  for (const std::string& bad : {std::string("not base64!"), absl::Base64Escape("short")}) {
    absl::StatusOr<AuditSealer> sealer = AuditSealer::Make(bad);
    EXPECT_EQ(sealer.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_FALSE(absl::StrContains(sealer.status().message(), bad));
  }
}

}  // namespace
}  // namespace samplan::identity
