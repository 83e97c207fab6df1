// Tier 1: encrypting identity numbers and their lookup hashes.

#include "services/identity/identity_crypto.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"

namespace samplan::identity {
namespace {

// Fixed keys for known answers: bytes 0..31 and 32..63.
constexpr absl::string_view kEncryptionKey = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
constexpr absl::string_view kLookupKey = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";
constexpr absl::string_view kNumber = "198112189876";

IdentityNumberProtector Make(absl::string_view encryption_key, absl::string_view lookup_key) {
  auto protector = MakeIdentityNumberProtector(encryption_key, lookup_key);
  EXPECT_TRUE(protector.ok()) << protector.status();
  return *std::move(protector);
}

IdentityNumberProtector Fixed() { return Make(kEncryptionKey, kLookupKey); }

IdentityNumberProtector Fresh() {
  return Make(IdentityNumberProtector::GenerateKeyBase64(),
              IdentityNumberProtector::GenerateKeyBase64());
}

void ExpectDataLoss(const absl::StatusOr<std::string>& result, absl::string_view context) {
  ASSERT_FALSE(result.ok()) << context;
  EXPECT_EQ(result.status().code(), absl::StatusCode::kDataLoss) << context;
  EXPECT_FALSE(absl::StrContains(result.status().message(), kNumber)) << context;
}

TEST(IdentityNumberProtectorTest, RoundTrips) {
  const IdentityNumberProtector protector = Fresh();
  const std::string sealed = protector.Encrypt(kNumber);
  EXPECT_EQ(sealed.size(), kNumber.size() + 29);
  EXPECT_EQ(sealed[0], '\x01');
  EXPECT_FALSE(absl::StrContains(sealed, kNumber));
  auto opened = protector.Decrypt(sealed);
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(*opened, kNumber);

  auto bound = protector.Decrypt(protector.Encrypt(kNumber, "persons/p1"), "persons/p1");
  ASSERT_TRUE(bound.ok()) << bound.status();
  EXPECT_EQ(*bound, kNumber);

  auto empty = protector.Decrypt(protector.Encrypt(""));
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_EQ(*empty, "");

  const std::string binary("\0\xff\x01 text", 8);
  EXPECT_EQ(*protector.Decrypt(protector.Encrypt(binary, "a"), "a"), binary);
}

// Pins the stored format: version 1, nonce, ciphertext, tag, with the version byte
// and the associated data authenticated. Made with Python's `cryptography`:
// AESGCM(key).encrypt(nonce, b"198112189876", b"\x01" + b"persons/p1").
TEST(IdentityNumberProtectorTest, DecryptsAKnownCiphertext) {
  const std::string sealed = absl::HexStringToBytes(
      "016465666768696a6b6c6d6e6f7922e65748db67a6075a68dec830244eb9e0f326aa8fcbba5bf2674e");
  auto opened = Fixed().Decrypt(sealed, "persons/p1");
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(*opened, kNumber);
}

TEST(IdentityNumberProtectorTest, EncryptsTheSameTextDifferentlyEachTime) {
  const IdentityNumberProtector protector = Fresh();
  std::set<std::string> sealed;
  std::set<std::string> nonces;
  for (int i = 0; i < 100; ++i) {
    const std::string s = protector.Encrypt(kNumber, "persons/p1");
    sealed.insert(s);
    nonces.insert(s.substr(1, 12));
  }
  EXPECT_EQ(sealed.size(), 100u);
  EXPECT_EQ(nonces.size(), 100u);
}

TEST(IdentityNumberProtectorTest, DetectsAnyAlteredByte) {
  const IdentityNumberProtector protector = Fresh();
  const std::string sealed = protector.Encrypt(kNumber, "persons/p1");
  for (size_t i = 0; i < sealed.size(); ++i) {
    for (unsigned char flip : {0x01, 0x80, 0xff}) {
      std::string altered = sealed;
      altered[i] = static_cast<char>(altered[i] ^ flip);
      ExpectDataLoss(protector.Decrypt(altered, "persons/p1"),
                     "byte " + std::to_string(i) + " flipped by " + std::to_string(flip));
    }
  }
}

TEST(IdentityNumberProtectorTest, RejectsMalformedInput) {
  const IdentityNumberProtector protector = Fresh();
  const std::string sealed = protector.Encrypt(kNumber);
  ExpectDataLoss(protector.Decrypt(""), "empty");
  ExpectDataLoss(protector.Decrypt(kNumber), "plaintext");
  ExpectDataLoss(protector.Decrypt(sealed.substr(0, 28)), "shorter than the overhead");
  ExpectDataLoss(protector.Decrypt(sealed.substr(0, sealed.size() - 1)), "truncated");
  ExpectDataLoss(protector.Decrypt(sealed + "x"), "extended");
  std::string version_two = sealed;
  version_two[0] = '\x02';
  ExpectDataLoss(protector.Decrypt(version_two), "unknown version");
}

TEST(IdentityNumberProtectorTest, BindsTheCiphertextToItsAssociatedData) {
  const IdentityNumberProtector protector = Fresh();
  const std::string sealed = protector.Encrypt(kNumber, "persons/p1");
  ExpectDataLoss(protector.Decrypt(sealed, "persons/p2"), "another row");
  ExpectDataLoss(protector.Decrypt(sealed), "no associated data");
  ExpectDataLoss(protector.Decrypt(sealed, "persons/p1 "), "longer associated data");
  ExpectDataLoss(protector.Decrypt(protector.Encrypt(kNumber), "persons/p1"),
                 "associated data where there was none");
}

TEST(IdentityNumberProtectorTest, RejectsAnotherKey) {
  const std::string sealed = Fresh().Encrypt(kNumber, "persons/p1");
  ExpectDataLoss(Fresh().Decrypt(sealed, "persons/p1"), "another key");
  // A protector with only the lookup key in common cannot decrypt either.
  const std::string fixed_sealed = Fixed().Encrypt(kNumber);
  ExpectDataLoss(
      Make(IdentityNumberProtector::GenerateKeyBase64(), kLookupKey).Decrypt(fixed_sealed),
      "another encryption key, same lookup key");
}

TEST(IdentityNumberProtectorTest, LookupHashIsHmacSha256OfTheNumber) {
  // Python: hmac.new(bytes(range(32, 64)), b"198112189876", hashlib.sha256).hexdigest()
  EXPECT_EQ(Fixed().LookupHash(kNumber),
            "b12cd96789c6f0ef1492db6a866396178498b8999e4837bea527ed266bc737f7");
}

TEST(IdentityNumberProtectorTest, LookupHashIsDeterministicAndKeyDependent) {
  const IdentityNumberProtector protector = Fixed();
  const std::string hash = protector.LookupHash(kNumber);
  EXPECT_EQ(hash.size(), 64u);
  for (char c : hash) EXPECT_TRUE(absl::ascii_isxdigit(c) && !absl::ascii_isupper(c)) << hash;
  EXPECT_EQ(protector.LookupHash(kNumber), hash);
  EXPECT_EQ(Fixed().LookupHash(kNumber), hash);  // another instance, same keys
  EXPECT_NE(protector.LookupHash("198112189877"), hash);
  // Only the lookup key counts: rotating the encryption key keeps the index valid.
  EXPECT_EQ(Make(IdentityNumberProtector::GenerateKeyBase64(), kLookupKey).LookupHash(kNumber),
            hash);
  EXPECT_NE(Make(kEncryptionKey, IdentityNumberProtector::GenerateKeyBase64()).LookupHash(kNumber),
            hash);
}

TEST(IdentityNumberProtectorTest, CopiesWork) {
  const IdentityNumberProtector original = Fixed();
  IdentityNumberProtector copy = original;
  EXPECT_EQ(*copy.Decrypt(original.Encrypt(kNumber)), kNumber);
  copy = Fresh();
  EXPECT_NE(copy.LookupHash(kNumber), original.LookupHash(kNumber));
}

TEST(GenerateKeyBase64Test, MakesRandom32ByteKeys) {
  const std::string a = IdentityNumberProtector::GenerateKeyBase64();
  const std::string b = IdentityNumberProtector::GenerateKeyBase64();
  EXPECT_NE(a, b);
  std::string decoded;
  ASSERT_TRUE(absl::Base64Unescape(a, &decoded));
  EXPECT_EQ(decoded.size(), 32u);
}

TEST(MakeIdentityNumberProtectorTest, RejectsBadKeysByNameWithoutShowingThem) {
  struct Case {
    std::string encryption_key;
    std::string lookup_key;
    std::string named;
    std::string shown_never;
  };
  const std::string good = IdentityNumberProtector::GenerateKeyBase64();
  const std::string short_key = absl::Base64Escape("sixteen byte key");
  const std::string long_key = absl::Base64Escape(std::string(33, 'k'));
  const std::string not_base64 = "this is not*base64!";
  for (const Case& c : {Case{not_base64, good, "encryption key", not_base64},
                        Case{good, not_base64, "lookup key", not_base64},
                        Case{short_key, good, "encryption key", short_key},
                        Case{good, short_key, "lookup key", short_key},
                        Case{long_key, good, "encryption key", long_key},
                        Case{good, long_key, "lookup key", long_key},
                        Case{"", good, "encryption key", good},
                        Case{good, "", "lookup key", good},
                        Case{good, good, "lookup key", good}}) {
    auto protector = MakeIdentityNumberProtector(c.encryption_key, c.lookup_key);
    ASSERT_FALSE(protector.ok()) << c.named;
    EXPECT_EQ(protector.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(absl::StrContains(protector.status().message(), c.named))
        << protector.status();
    EXPECT_FALSE(absl::StrContains(protector.status().message(), c.shown_never))
        << protector.status();
  }
  EXPECT_TRUE(absl::StrContains(
      MakeIdentityNumberProtector(short_key, good).status().message(), "32 bytes"));
}

}  // namespace
}  // namespace samplan::identity
