#include "common/auth.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace samplan {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

const absl::Time kNow = absl::FromUnixSeconds(1'700'000'000);
constexpr char kIssuer[] = "samplan-test";
constexpr char kAudience[] = "samplan";

std::string B64(absl::string_view data) { return absl::WebSafeBase64Escape(data); }

std::string Unb64(absl::string_view data) {
  std::string out;
  EXPECT_TRUE(absl::WebSafeBase64Unescape(data, &out));
  return out;
}

// P-256's order n, big-endian.
constexpr unsigned char kOrder[32] = {
    0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0xBC, 0xE6, 0xFA, 0xAD, 0xA7, 0x17, 0x9E, 0x84, 0xF3, 0xB9, 0xCA, 0xC2, 0xFC, 0x63, 0x25, 0x51};

// Returns the raw r||s signature with S replaced by n - S when that makes it
// low (`low` true) or high (`low` false): the other valid signature of the same input.
std::string WithLowS(const std::string& raw, bool low) {
  BIGNUM* s = BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()) + 32, 32, nullptr);
  BIGNUM* n = BN_bin2bn(kOrder, 32, nullptr);
  BIGNUM* twin = BN_new();
  BN_sub(twin, n, s);
  const bool is_low = BN_cmp(s, twin) <= 0;
  std::string out = raw;
  if (is_low != low) {
    BN_bn2binpad(twin, reinterpret_cast<unsigned char*>(out.data()) + 32, 32);
  }
  BN_free(s);
  BN_free(n);
  BN_free(twin);
  return out;
}

// Signs `header_json`.`payload_json` as ES256 independently of auth.cc, so tests can
// craft any payload and so the verifier's r||s handling is checked against a second
// implementation.
std::string SignCompact(const std::string& private_pem, const std::string& header_json,
                        const std::string& payload_json) {
  std::string input = absl::StrCat(B64(header_json), ".", B64(payload_json));
  BIO* bio = BIO_new_mem_buf(private_pem.data(), static_cast<int>(private_pem.size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  EXPECT_NE(key, nullptr);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  size_t len = 0;
  EXPECT_EQ(EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key), 1);
  const auto* data = reinterpret_cast<const unsigned char*>(input.data());
  EXPECT_EQ(EVP_DigestSign(ctx, nullptr, &len, data, input.size()), 1);
  std::string der(len, '\0');
  EXPECT_EQ(EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(der.data()), &len, data,
                           input.size()),
            1);
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(key);
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(len));
  EXPECT_NE(sig, nullptr);
  std::string raw(64, '\0');
  auto* out = reinterpret_cast<unsigned char*>(raw.data());
  BN_bn2binpad(ECDSA_SIG_get0_r(sig), out, 32);
  BN_bn2binpad(ECDSA_SIG_get0_s(sig), out + 32, 32);
  ECDSA_SIG_free(sig);
  raw = WithLowS(raw, true);
  return absl::StrCat(input, ".", B64(raw));
}

std::string HeaderJson(absl::string_view alg = "ES256", absl::string_view kid = "k1",
                       absl::string_view typ = R"("JWT")") {
  if (typ.empty()) return absl::StrCat(R"({"alg":")", alg, R"(","kid":")", kid, R"("})");
  return absl::StrCat(R"({"alg":")", alg, R"(","typ":)", typ, R"(,"kid":")", kid, R"("})");
}

// A valid payload with `extra` (JSON members, each with a leading comma) appended.
std::string PayloadJson(absl::string_view extra = "",
                        absl::string_view aud = R"("samplan")") {
  return absl::StrCat(R"({"iss":"samplan-test","aud":)", aud,
                      R"(,"sub":"users/alice","org":"organizations/org-1",)",
                      R"("municipality":"0180","iat":)", absl::ToUnixSeconds(kNow),
                      R"(,"exp":)", absl::ToUnixSeconds(kNow + absl::Hours(1)), extra, "}");
}

std::string GenerateP384PublicPem() {
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384");
  EXPECT_NE(key, nullptr);
  BIO* bio = BIO_new(BIO_s_mem());
  EXPECT_EQ(PEM_write_bio_PUBKEY(bio, key), 1);
  char* data = nullptr;
  long size = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(size));
  BIO_free(bio);
  EVP_PKEY_free(key);
  return pem;
}

std::string ToSec1Pem(const std::string& pkcs8_pem) {
  BIO* in = BIO_new_mem_buf(pkcs8_pem.data(), static_cast<int>(pkcs8_pem.size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(in, nullptr, nullptr, nullptr);
  BIO_free(in);
  EXPECT_NE(key, nullptr);
  BIO* out = BIO_new(BIO_s_mem());
  EXPECT_EQ(PEM_write_bio_PrivateKey_traditional(out, key, nullptr, nullptr, 0, nullptr,
                                                 nullptr),
            1);
  char* data = nullptr;
  long size = BIO_get_mem_data(out, &data);
  std::string pem(data, static_cast<size_t>(size));
  BIO_free(out);
  EVP_PKEY_free(key);
  return pem;
}

class AuthTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    key1_ = new KeyPairPem(*GenerateEs256KeyPair());
    key2_ = new KeyPairPem(*GenerateEs256KeyPair());
  }
  static void TearDownTestSuite() {
    delete key1_;
    delete key2_;
  }

  TokenVerifierOptions Options() const {
    TokenVerifierOptions options;
    options.issuer = kIssuer;
    options.audience = kAudience;
    options.public_keys_pem = {{"k1", key1_->public_key_pem}};
    return options;
  }

  std::unique_ptr<TokenVerifier> Verifier(TokenVerifierOptions options) {
    absl::StatusOr<std::unique_ptr<TokenVerifier>> verifier =
        MakeTokenVerifier(std::move(options), clock_);
    EXPECT_TRUE(verifier.ok()) << verifier.status();
    return verifier.ok() ? *std::move(verifier) : nullptr;
  }
  std::unique_ptr<TokenVerifier> Verifier() { return Verifier(Options()); }

  static TokenClaims Claims() {
    TokenClaims claims;
    claims.issuer = kIssuer;
    claims.audience = kAudience;
    claims.subject = "users/alice";
    claims.organization = "organizations/org-1";
    claims.municipality = "0180";
    claims.roles = {"caseworker", "planner"};
    claims.issued_at = kNow;
    claims.expires_at = kNow + absl::Hours(1);
    return claims;
  }

  static std::string Mint(const TokenClaims& claims, std::string_view kid = "k1",
                          const KeyPairPem* key = nullptr) {
    absl::StatusOr<std::string> token =
        MintToken((key ? key : key1_)->private_key_pem, kid, claims);
    EXPECT_TRUE(token.ok()) << token.status();
    return token.value_or("");
  }

  static void ExpectRejected(const absl::StatusOr<Principal>& result,
                             std::string_view reason) {
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.status().code(), absl::StatusCode::kUnauthenticated);
    EXPECT_THAT(result.status().message(), HasSubstr(reason));
    // Personal data in the claims must never reach a log through the message.
    EXPECT_THAT(result.status().message(), Not(HasSubstr("alice")));
  }

  static KeyPairPem* key1_;
  static KeyPairPem* key2_;
  FakeClock clock_{kNow};
};

KeyPairPem* AuthTest::key1_ = nullptr;
KeyPairPem* AuthTest::key2_ = nullptr;

TEST_F(AuthTest, RoundTripGivesPrincipal) {
  auto verifier = Verifier();
  absl::StatusOr<Principal> principal = verifier->Verify(Mint(Claims()));
  ASSERT_TRUE(principal.ok()) << principal.status();
  EXPECT_EQ(principal->user, "users/alice");
  EXPECT_EQ(principal->organization, "organizations/org-1");
  EXPECT_EQ(principal->municipality, "0180");
  EXPECT_THAT(principal->roles, ElementsAre("caseworker", "planner"));
  EXPECT_EQ(principal->expires_at, kNow + absl::Hours(1));
  EXPECT_TRUE(principal->HasRole("planner"));
  EXPECT_FALSE(principal->HasRole("admin"));
  EXPECT_FALSE(principal->HasRole("plan"));
}

TEST_F(AuthTest, MintedTokenHasIntegerTimesAndExpectedHeader) {
  std::vector<std::string> parts = absl::StrSplit(Mint(Claims()), '.');
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(Unb64(parts[0]), R"({"alg":"ES256","typ":"JWT","kid":"k1"})");
  std::string payload = Unb64(parts[1]);
  EXPECT_THAT(payload, HasSubstr(R"("iat":1700000000,)"));
  EXPECT_THAT(payload, HasSubstr(R"("exp":1700003600})"));
  EXPECT_THAT(payload, HasSubstr(R"("roles":["caseworker","planner"])"));
  EXPECT_EQ(Unb64(parts[2]).size(), 64u);
}

TEST_F(AuthTest, MintEscapesStrings) {
  TokenClaims claims = Claims();
  claims.roles = {"a\"b\\c\n\x01\x1f"};
  absl::StatusOr<Principal> principal = Verifier()->Verify(Mint(claims));
  ASSERT_TRUE(principal.ok()) << principal.status();
  EXPECT_THAT(principal->roles, ElementsAre("a\"b\\c\n\x01\x1f"));
}

TEST_F(AuthTest, IndependentlySignedTokenVerifies) {
  absl::StatusOr<Principal> principal = Verifier()->Verify(
      SignCompact(key1_->private_key_pem, HeaderJson(), PayloadJson()));
  ASSERT_TRUE(principal.ok()) << principal.status();
  EXPECT_EQ(principal->user, "users/alice");
  EXPECT_THAT(principal->roles, IsEmpty());
}

TEST_F(AuthTest, Sec1PrivateKeyMints) {
  KeyPairPem sec1 = {ToSec1Pem(key1_->private_key_pem), key1_->public_key_pem};
  ASSERT_THAT(sec1.private_key_pem, HasSubstr("BEGIN EC PRIVATE KEY"));
  absl::StatusOr<Principal> principal = Verifier()->Verify(Mint(Claims(), "k1", &sec1));
  ASSERT_TRUE(principal.ok()) << principal.status();
  EXPECT_EQ(principal->organization, "organizations/org-1");
}

TEST_F(AuthTest, GeneratedKeysArePkcs8AndSpki) {
  EXPECT_THAT(key1_->private_key_pem, HasSubstr("-----BEGIN PRIVATE KEY-----"));
  EXPECT_THAT(key1_->public_key_pem, HasSubstr("-----BEGIN PUBLIC KEY-----"));
  EXPECT_NE(key1_->public_key_pem, key2_->public_key_pem);
}

TEST_F(AuthTest, SecondKeyForRotationVerifies) {
  TokenVerifierOptions options = Options();
  options.public_keys_pem["k2"] = key2_->public_key_pem;
  absl::StatusOr<Principal> principal =
      Verifier(std::move(options))->Verify(Mint(Claims(), "k2", key2_));
  ASSERT_TRUE(principal.ok()) << principal.status();
  EXPECT_EQ(principal->user, "users/alice");
}

TEST_F(AuthTest, TokenSignedByOtherKeyIsRejected) {
  ExpectRejected(Verifier()->Verify(Mint(Claims(), "k1", key2_)),
                 "signature does not verify");
}

TEST_F(AuthTest, UnknownKeyIdIsRejected) {
  ExpectRejected(Verifier()->Verify(Mint(Claims(), "k9")), "unknown key id");
  ExpectRejected(Verifier()->Verify(SignCompact(key1_->private_key_pem,
                                                R"({"alg":"ES256"})", PayloadJson())),
                 "key id");
}

TEST_F(AuthTest, ExpiredTokenIsRejected) {
  TokenClaims claims = Claims();
  claims.issued_at = kNow - absl::Hours(2);
  claims.expires_at = kNow - absl::Seconds(61);  // just beyond the 60 s skew
  ExpectRejected(Verifier()->Verify(Mint(claims)), "token expired");
}

TEST_F(AuthTest, ExpiryWithinClockSkewIsAccepted) {
  TokenClaims claims = Claims();
  claims.issued_at = kNow - absl::Hours(1);
  claims.expires_at = kNow - absl::Seconds(30);
  absl::StatusOr<Principal> principal = Verifier()->Verify(Mint(claims));
  ASSERT_TRUE(principal.ok()) << principal.status();
  EXPECT_EQ(principal->expires_at, kNow - absl::Seconds(30));
}

TEST_F(AuthTest, NotBeforeInTheFutureIsRejected) {
  std::string future =
      absl::StrCat(R"(,"nbf":)", absl::ToUnixSeconds(kNow + absl::Minutes(5)));
  ExpectRejected(Verifier()->Verify(SignCompact(key1_->private_key_pem, HeaderJson(),
                                                PayloadJson(future))),
                 "not yet valid");

  std::string within_skew =
      absl::StrCat(R"(,"nbf":)", absl::ToUnixSeconds(kNow + absl::Seconds(30)));
  absl::StatusOr<Principal> principal = Verifier()->Verify(
      SignCompact(key1_->private_key_pem, HeaderJson(), PayloadJson(within_skew)));
  ASSERT_TRUE(principal.ok()) << principal.status();
  EXPECT_EQ(principal->user, "users/alice");
}

TEST_F(AuthTest, WrongIssuerIsRejected) {
  TokenClaims claims = Claims();
  claims.issuer = "someone-else";
  ExpectRejected(Verifier()->Verify(Mint(claims)), "wrong issuer");
}

TEST_F(AuthTest, WrongAudienceIsRejected) {
  TokenClaims claims = Claims();
  claims.audience = "other-service";
  ExpectRejected(Verifier()->Verify(Mint(claims)), "wrong audience");
}

TEST_F(AuthTest, AudienceArrayIsAccepted) {
  auto verifier = Verifier();
  absl::StatusOr<Principal> principal = verifier->Verify(SignCompact(
      key1_->private_key_pem, HeaderJson(), PayloadJson("", R"(["other","samplan"])")));
  ASSERT_TRUE(principal.ok()) << principal.status();
  EXPECT_EQ(principal->organization, "organizations/org-1");

  ExpectRejected(verifier->Verify(SignCompact(key1_->private_key_pem, HeaderJson(),
                                              PayloadJson("", R"(["other",7])"))),
                 "wrong audience");
}

TEST_F(AuthTest, AlgorithmsOtherThanEs256AreRejected) {
  auto verifier = Verifier();
  // alg "none" with the empty signature of an unsecured JWS.
  std::string none = absl::StrCat(B64(HeaderJson("none")), ".", B64(PayloadJson()), ".");
  ExpectRejected(verifier->Verify(none), "unsupported algorithm");

  // HS256 keyed with the public key: the classic algorithm-confusion attack.
  std::string input = absl::StrCat(B64(HeaderJson("HS256")), ".", B64(PayloadJson()));
  unsigned char mac[32];
  unsigned int mac_len = 0;
  const std::string& secret = key1_->public_key_pem;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &mac_len);
  std::string hs256 = absl::StrCat(
      input, ".", B64(absl::string_view(reinterpret_cast<char*>(mac), mac_len)));
  ExpectRejected(verifier->Verify(hs256), "unsupported algorithm");

  // Even a valid ES256 signature does not make another alg acceptable.
  for (const char* alg : {"none", "NONE", "HS256", "RS256", "ES384", "es256", ""}) {
    ExpectRejected(verifier->Verify(SignCompact(key1_->private_key_pem, HeaderJson(alg),
                                                PayloadJson())),
                   "unsupported algorithm");
  }
}

// A stolen token is of use for at most the maximum lifetime, whatever its exp.
TEST_F(AuthTest, IssuedAtIsRequiredAndBoundsTheLifetime) {
  auto verifier = Verifier();
  TokenClaims claims = Claims();
  claims.expires_at = claims.issued_at + absl::Hours(12);
  EXPECT_TRUE(verifier->Verify(Mint(claims)).ok());
  claims.expires_at = claims.issued_at + absl::Hours(12) + absl::Seconds(1);
  ExpectRejected(verifier->Verify(Mint(claims)), "lifetime exceeds the maximum");
  claims.expires_at = absl::FromCivil(absl::CivilSecond(2500, 1, 1, 0, 0, 0), absl::UTCTimeZone());
  ExpectRejected(verifier->Verify(Mint(claims)), "lifetime exceeds the maximum");

  // Issued in the future beyond the skew.
  claims = Claims();
  claims.issued_at = kNow + absl::Minutes(5);
  claims.expires_at = kNow + absl::Hours(1);
  ExpectRejected(verifier->Verify(Mint(claims)), "issued in the future");
  claims.issued_at = kNow + absl::Seconds(30);  // within the skew
  EXPECT_TRUE(verifier->Verify(Mint(claims)).ok());

  // No iat, or iat that is no number, or after exp.
  std::string no_iat = absl::StrCat(R"({"iss":"samplan-test","aud":"samplan",)",
                                    R"("sub":"users/alice","org":"organizations/org-1",)",
                                    R"("municipality":"0180","exp":)",
                                    absl::ToUnixSeconds(kNow + absl::Hours(1)), "}");
  ExpectRejected(verifier->Verify(SignCompact(key1_->private_key_pem, HeaderJson(), no_iat)),
                 "missing claim: iat");
  std::string text_iat = absl::StrReplaceAll(
      PayloadJson(), {{absl::StrCat(R"("iat":)", absl::ToUnixSeconds(kNow)), R"("iat":"now")"}});
  ExpectRejected(verifier->Verify(SignCompact(key1_->private_key_pem, HeaderJson(), text_iat)),
                 "malformed claim: iat");

  // The lifetime is a setting.
  TokenVerifierOptions options = Options();
  options.max_lifetime = absl::Minutes(30);
  ExpectRejected(Verifier(options)->Verify(Mint(Claims())), "lifetime exceeds the maximum");
  options.max_lifetime = absl::ZeroDuration();
  EXPECT_FALSE(MakeTokenVerifier(options, clock_).ok());
}

TEST_F(AuthTest, OnlyBearerTokenTypesAreAccepted) {
  auto verifier = Verifier();
  for (const char* typ : {R"("JWT")", R"("jwt")", R"("at+jwt")", R"("AT+JWT")", ""}) {
    EXPECT_TRUE(verifier
                    ->Verify(SignCompact(key1_->private_key_pem, HeaderJson("ES256", "k1", typ),
                                         PayloadJson()))
                    .ok())
        << typ;
  }
  for (const char* typ : {R"("logout+jwt")", R"("dpop+jwt")", R"("secevent+jwt")", R"("")",
                          "1", "null", R"(["JWT"])"}) {
    ExpectRejected(verifier->Verify(SignCompact(key1_->private_key_pem,
                                                HeaderJson("ES256", "k1", typ), PayloadJson())),
                   "unsupported token type");
  }
}

// (r, n - s) is as valid a signature as (r, s): only the low-S one is accepted,
// so a token has one text, and tokens minted here are low-S.
TEST_F(AuthTest, OnlyLowSSignaturesAreAccepted) {
  auto verifier = Verifier();
  TokenVerifierOptions lenient_options = Options();
  lenient_options.accept_high_s = true;
  auto lenient = Verifier(lenient_options);
  for (int i = 0; i < 16; ++i) {
    TokenClaims claims = Claims();
    claims.roles = {absl::StrCat("role-", i)};  // another signature each time
    const std::string token = Mint(claims);
    std::vector<std::string> parts = absl::StrSplit(token, '.');
    ASSERT_EQ(parts.size(), 3u);
    const std::string raw = Unb64(parts[2]);
    EXPECT_EQ(WithLowS(raw, true), raw) << "minted tokens are low-S";
    EXPECT_TRUE(verifier->Verify(token).ok());
    const std::string twin =
        absl::StrCat(parts[0], ".", parts[1], ".", B64(WithLowS(raw, false)));
    ExpectRejected(verifier->Verify(twin), "low-S");
    EXPECT_TRUE(lenient->Verify(twin).ok()) << "the twin is a valid signature";
  }
}

TEST_F(AuthTest, TamperedPayloadIsRejected) {
  std::vector<std::string> parts = absl::StrSplit(Mint(Claims()), '.');
  ASSERT_EQ(parts.size(), 3u);
  std::string payload = absl::StrReplaceAll(
      Unb64(parts[1]), {{"organizations/org-1", "organizations/org-2"}});
  std::string tampered = absl::StrCat(parts[0], ".", B64(payload), ".", parts[2]);
  ExpectRejected(Verifier()->Verify(tampered), "signature does not verify");

  // A flipped signature bit fails the same way.
  std::string sig = Unb64(parts[2]);
  sig[10] ^= 1;
  ExpectRejected(Verifier()->Verify(absl::StrCat(parts[0], ".", parts[1], ".", B64(sig))),
                 "signature does not verify");
}

TEST_F(AuthTest, MalformedTokensAreRejected) {
  auto verifier = Verifier();
  std::string token = Mint(Claims());
  std::vector<std::string> parts = absl::StrSplit(token, '.');
  ASSERT_EQ(parts.size(), 3u);
  for (const std::string& bad : {
           std::string(),
           std::string("not-a-token"),
           absl::StrCat(parts[0], ".", parts[1]),
           absl::StrCat(token, ".", parts[2]),
           absl::StrCat("!!!.", parts[1], ".", parts[2]),
           absl::StrCat(parts[0], ".", parts[1], ".", parts[2], "="),
           absl::StrCat(parts[0], ".", parts[1], ".", parts[2].substr(4)),
           absl::StrCat(parts[0], ".", parts[1], ".", "a+b/"),
           absl::StrCat(B64("not json"), ".", parts[1], ".", parts[2]),
           absl::StrCat(parts[0], ".", parts[1], "."),
       }) {
    absl::StatusOr<Principal> result = verifier->Verify(bad);
    ASSERT_FALSE(result.ok()) << bad;
    EXPECT_EQ(result.status().code(), absl::StatusCode::kUnauthenticated) << bad;
  }
  ExpectRejected(verifier->Verify(""), "empty token");
  ExpectRejected(verifier->Verify(absl::StrCat(parts[0], ".", parts[1])),
                 "malformed token");
}

TEST_F(AuthTest, MissingOrganizationIsRejected) {
  TokenClaims claims = Claims();
  claims.organization.clear();
  ExpectRejected(Verifier()->Verify(Mint(claims)), "claim: org");
}

TEST_F(AuthTest, MalformedSubjectOrOrganizationIsRejected) {
  auto verifier = Verifier();
  for (const char* subject :
       {"alice", "users/", "users/al ice", "organizations/x", "users/a/b"}) {
    TokenClaims claims = Claims();
    claims.subject = subject;
    ExpectRejected(verifier->Verify(Mint(claims)), "claim: sub");
  }
  TokenClaims claims = Claims();
  claims.organization = absl::StrCat("organizations/", std::string(64, 'x'));
  ExpectRejected(verifier->Verify(Mint(claims)), "claim: org");
  claims.organization = absl::StrCat("organizations/", std::string(63, 'x'));
  EXPECT_TRUE(verifier->Verify(Mint(claims)).ok());
}

TEST_F(AuthTest, BadMunicipalityIsRejected) {
  auto verifier = Verifier();
  for (const char* code : {"180", "01800", "01a0", "", " 180"}) {
    TokenClaims claims = Claims();
    claims.municipality = code;
    ExpectRejected(verifier->Verify(Mint(claims)), "claim: municipality");
  }
}

TEST_F(AuthTest, MissingExpOrMalformedRolesIsRejected) {
  auto verifier = Verifier();
  std::string no_exp = R"({"iss":"samplan-test","aud":"samplan","sub":"users/alice",)"
                       R"("org":"organizations/org-1","municipality":"0180"})";
  ExpectRejected(
      verifier->Verify(SignCompact(key1_->private_key_pem, HeaderJson(), no_exp)),
      "missing claim: exp");
  ExpectRejected(verifier->Verify(SignCompact(key1_->private_key_pem, HeaderJson(),
                                              PayloadJson(R"(,"roles":"admin")"))),
                 "claim: roles");
  ExpectRejected(verifier->Verify(SignCompact(key1_->private_key_pem, HeaderJson(),
                                              PayloadJson(R"(,"roles":["a",1])"))),
                 "claim: roles");
}

TEST_F(AuthTest, CachedTokenStillExpires) {
  TokenClaims claims = Claims();
  claims.expires_at = kNow + absl::Minutes(10);
  std::string token = Mint(claims);
  auto verifier = Verifier();

  ASSERT_TRUE(verifier->Verify(token).ok());
  clock_.Advance(absl::Minutes(5));
  absl::StatusOr<Principal> cached = verifier->Verify(token);
  ASSERT_TRUE(cached.ok()) << cached.status();
  EXPECT_EQ(cached->user, "users/alice");
  EXPECT_EQ(cached->expires_at, kNow + absl::Minutes(10));

  clock_.Advance(absl::Minutes(6) + absl::Seconds(1));  // past exp + skew
  ExpectRejected(verifier->Verify(token), "token expired");
}

TEST_F(AuthTest, SmallCacheStaysCorrect) {
  TokenVerifierOptions options = Options();
  options.cache_capacity = 1;
  auto verifier = Verifier(std::move(options));
  TokenClaims bob = Claims();
  bob.subject = "users/bob";
  std::string alice_token = Mint(Claims());
  std::string bob_token = Mint(bob);
  for (int round = 0; round < 2; ++round) {
    absl::StatusOr<Principal> a = verifier->Verify(alice_token);
    absl::StatusOr<Principal> b = verifier->Verify(bob_token);
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(a->user, "users/alice");
    EXPECT_EQ(b->user, "users/bob");
  }
}

TEST_F(AuthTest, ConcurrentVerificationsAgree) {
  TokenVerifierOptions options = Options();
  options.cache_capacity = 3;  // small, so threads also race on evictions
  auto verifier = Verifier(std::move(options));
  std::vector<std::string> tokens;
  for (int i = 0; i < 6; ++i) {
    TokenClaims claims = Claims();
    claims.subject = absl::StrCat("users/u", i);
    tokens.push_back(Mint(claims));
  }
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int n = 0; n < 60; ++n) {
        int i = (n + t) % 6;
        absl::StatusOr<Principal> p = verifier->Verify(tokens[i]);
        if (!p.ok() || p->user != absl::StrCat("users/u", i)) ++failures;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
}

TEST_F(AuthTest, FailedVerificationIsNotCached) {
  auto verifier = Verifier();
  std::string token = Mint(Claims(), "k1", key2_);
  ExpectRejected(verifier->Verify(token), "signature does not verify");
  ExpectRejected(verifier->Verify(token), "signature does not verify");
}

TEST_F(AuthTest, P384KeyIsRefused) {
  TokenVerifierOptions options = Options();
  options.public_keys_pem["old-p384"] = GenerateP384PublicPem();
  absl::StatusOr<std::unique_ptr<TokenVerifier>> verifier =
      MakeTokenVerifier(std::move(options), clock_);
  ASSERT_FALSE(verifier.ok());
  EXPECT_EQ(verifier.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(verifier.status().message(), HasSubstr("old-p384"));
  EXPECT_THAT(verifier.status().message(), HasSubstr("P-256"));
}

TEST_F(AuthTest, IncompleteOptionsAreRefused) {
  auto expect_invalid = [this](TokenVerifierOptions options, std::string_view what) {
    absl::StatusOr<std::unique_ptr<TokenVerifier>> verifier =
        MakeTokenVerifier(std::move(options), clock_);
    ASSERT_FALSE(verifier.ok()) << what;
    EXPECT_EQ(verifier.status().code(), absl::StatusCode::kInvalidArgument) << what;
    EXPECT_THAT(verifier.status().message(), HasSubstr(what));
  };
  TokenVerifierOptions options = Options();
  options.issuer.clear();
  expect_invalid(options, "issuer");
  options = Options();
  options.audience.clear();
  expect_invalid(options, "audience");
  options = Options();
  options.public_keys_pem.clear();
  expect_invalid(options, "key");
  options = Options();
  options.public_keys_pem["broken"] = "-----BEGIN PUBLIC KEY-----\nAAAA\n";
  expect_invalid(options, "broken");
  options = Options();
  options.public_keys_pem["private"] = key2_->private_key_pem;
  expect_invalid(options, "private");
}

TEST_F(AuthTest, MintRefusesBadKey) {
  absl::StatusOr<std::string> token = MintToken("not a key", "k1", Claims());
  EXPECT_EQ(token.status().code(), absl::StatusCode::kInvalidArgument);
  token = MintToken(key1_->public_key_pem, "k1", Claims());
  EXPECT_EQ(token.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace samplan
