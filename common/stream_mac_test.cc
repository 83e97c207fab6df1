// Tier 1: the MAC of stream entries (common/stream_mac.h), without Redis.

#include "common/stream_mac.h"

#include <gtest/gtest.h>

#include <map>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace samplan {
namespace {

constexpr char kStream[] = "samplan:events:{1885}";

StreamKeys Ring(std::vector<std::pair<std::string, char>> keys) {
  std::vector<StreamKeys::Key> made;
  for (const auto& [id, fill] : keys) made.push_back({id, std::string(32, fill)});
  absl::StatusOr<StreamKeys> ring = StreamKeys::Create(std::move(made));
  EXPECT_TRUE(ring.ok()) << ring.status();
  return *ring;
}

// An entry as the relay appends it to `stream`, signed by `keys`.
StreamEntry Entry(const StreamKeys& keys, const std::string& stream = kStream) {
  StreamEntry entry{"1700000000000-0",
                    {{"event_id", "e-1"},
                     {"type", "caseplan.plan.updated"},
                     {"event", std::string("\x0a\x03" "e-1", 5)},
                     {"access_version", "7"}}};
  entry.fields.push_back({"mac", keys.Sign(stream, "e-1", "caseplan.plan.updated",
                                           entry.Field("event"), "7")});
  return entry;
}

void SetField(StreamEntry& entry, const std::string& name, const std::string& value) {
  for (auto& [field, text] : entry.fields) {
    if (field == name) text = value;
  }
}

TEST(StreamMacTest, AnEntryAsTheRelayWroteItVerifies) {
  const StreamKeys keys = Ring({{"k1", 'a'}});
  EXPECT_TRUE(keys.Verify(kStream, Entry(keys)));
  EXPECT_EQ(Entry(keys).Field("mac").rfind("k1:", 0), 0u);
}

TEST(StreamMacTest, EveryFieldAReaderActsOnIsCovered) {
  const StreamKeys keys = Ring({{"k1", 'a'}});
  for (const char* field : {"event_id", "type", "event", "access_version"}) {
    StreamEntry entry = Entry(keys);
    SetField(entry, field, entry.Field(field) + "x");
    EXPECT_FALSE(keys.Verify(kStream, entry)) << field;
  }
}

TEST(StreamMacTest, AnEntryCopiedToAnotherMunicipalitysStreamDoesNotVerify) {
  const StreamKeys keys = Ring({{"k1", 'a'}});
  EXPECT_FALSE(keys.Verify("samplan:events:{0180}", Entry(keys)));
}

TEST(StreamMacTest, NoMacAWrongMacOrAnotherKeysMacDoesNotVerify) {
  const StreamKeys keys = Ring({{"k1", 'a'}});
  StreamEntry none = Entry(keys);
  none.fields.pop_back();
  EXPECT_FALSE(keys.Verify(kStream, none));

  StreamEntry wrong = Entry(keys);
  std::string mac = wrong.Field("mac");
  mac.back() = mac.back() == '0' ? '1' : '0';
  SetField(wrong, "mac", mac);
  EXPECT_FALSE(keys.Verify(kStream, wrong));

  for (const std::string& malformed : std::vector<std::string>{
           "", "k1", "k1:", "k1:zz", ":00", "k1:" + std::string(64, 'g')}) {
    StreamEntry entry = Entry(keys);
    SetField(entry, "mac", malformed);
    EXPECT_FALSE(keys.Verify(kStream, entry)) << malformed;
  }

  // Another key under the same id: an attacker's guess at the id gains nothing.
  EXPECT_FALSE(keys.Verify(kStream, Entry(Ring({{"k1", 'b'}}))));
}

TEST(StreamMacTest, ARotatedRingVerifiesWhatTheOldKeySigned) {
  const StreamKeys old_ring = Ring({{"k1", 'a'}});
  const StreamKeys both = Ring({{"k2", 'b'}, {"k1", 'a'}});
  EXPECT_TRUE(both.Verify(kStream, Entry(old_ring)));
  EXPECT_EQ(both.signing_key_id(), "k2");
  EXPECT_TRUE(both.Verify(kStream, Entry(both)));
  // The old ring does not know k2 until it is added there.
  EXPECT_FALSE(old_ring.Verify(kStream, Entry(both)));
  // Retired: once k1 is dropped, what it signed no longer verifies.
  EXPECT_FALSE(Ring({{"k2", 'b'}}).Verify(kStream, Entry(old_ring)));
}

TEST(StreamMacTest, ShortSecretsAndBadIdsAreRefused) {
  EXPECT_FALSE(StreamKeys::Create({}).ok());
  EXPECT_FALSE(StreamKeys::Create({{"k1", std::string(31, 'a')}}).ok());
  EXPECT_FALSE(StreamKeys::Create({{"k 1", std::string(32, 'a')}}).ok());
  EXPECT_FALSE(StreamKeys::Create({{"k1", std::string(32, 'a')}, {"k1", std::string(32, 'b')}}).ok());
}

EnvReader Env(std::map<std::string, std::string> values) {
  return EnvReader([values](absl::string_view name) -> std::optional<std::string> {
    auto it = values.find(std::string(name));
    if (it == values.end()) return std::nullopt;
    return it->second;
  });
}

TEST(StreamMacTest, TheSettingIsRequiredAndItsSecretsNeverQuoted) {
  const std::string secret = absl::Base64Escape(std::string(32, 'z'));
  {
    EnvReader env = Env({});
    ReadStreamKeys(env);
    EXPECT_NE(env.Finish().message().find("SAMPLAN_STREAM_KEYS"), std::string::npos);
  }
  {
    EnvReader env = Env({{"SAMPLAN_STREAM_KEYS", absl::StrCat("new=", secret, ",old=", secret)}});
    StreamKeys keys = ReadStreamKeys(env);
    EXPECT_TRUE(env.Finish().ok()) << env.Finish();
    EXPECT_EQ(keys.signing_key_id(), "new");
    // Both decode to the same secret: what "new" signs, "old" would verify.
    StreamEntry entry = Entry(keys);
    EXPECT_TRUE(keys.Verify(kStream, entry));
  }
  // A bare secret (no id), a short one, or one that is not base64: refused, and
  // the message does not repeat it.
  for (const std::string& bad : {secret, absl::StrCat("k=", absl::Base64Escape("short")),
                                std::string("k=!!!not-base64!!!")}) {
    EnvReader env = Env({{"SAMPLAN_STREAM_KEYS", bad}});
    ReadStreamKeys(env);
    const absl::Status status = env.Finish();
    EXPECT_FALSE(status.ok()) << bad;
    EXPECT_EQ(status.message().find(secret), std::string::npos) << status;
    EXPECT_EQ(status.message().find("!!!"), std::string::npos) << status;
  }
}

}  // namespace
}  // namespace samplan
