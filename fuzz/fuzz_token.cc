// The bearer-token verifier (common/auth.h) with one fixed trusted key: any text
// sent as a token is refused UNAUTHENTICATED or yields a well-formed principal.
// Since a mutated token never carries a valid signature, the second mode signs
// the fuzzed header and payload with the trusted key first, so the JSON parsing
// and the checks of the claims after the signature are reached too.
//
// Input: a mode byte, then for mode 0 the token; for mode 1 the header's JSON, a
// NUL byte, and the payload's JSON.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "common/auth.h"
#include "common/clock.h"
#include "common/ids.h"
#include "fuzz/fuzz_support.h"

namespace {

// A key pair for fuzzing only: nothing anywhere trusts it.
constexpr char kPrivateKey[] = R"(-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgove/MZwAN+BXQLwl
DVAspCY4Vt/GQEewuXURUZpgi+yhRANCAATZISmB33F53guFYSoGntW2z5r1Srk5
ohEeZtTzuau02h3KHWmcbIRN/B8UMBBAwgtgq7SifVu44hfy2Nypj5vq
-----END PRIVATE KEY-----
)";
constexpr char kPublicKey[] = R"(-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE2SEpgd9xed4LhWEqBp7Vts+a9Uq5
OaIRHmbU87mrtNodyh1pnGyETfwfFDAQQMILYKu0on1buOIX8tjcqY+b6g==
-----END PUBLIC KEY-----
)";

const samplan::TokenVerifier& Verifier() {
  static const samplan::FakeClock* clock = new samplan::FakeClock(samplan::fuzz::FixedNow());
  static const samplan::TokenVerifier* verifier = [] {
    samplan::TokenVerifierOptions options;
    options.issuer = "https://idp.fuzz.example";
    options.audience = "samplan";
    options.public_keys_pem["fuzz"] = kPublicKey;
    // Every input verified in full, not answered from the cache.
    options.cache_capacity = 0;
    auto made = samplan::MakeTokenVerifier(options, *clock);
    FUZZ_CHECK(made.ok());
    return made->release();
  }();
  return *verifier;
}

EVP_PKEY* SigningKey() {
  static EVP_PKEY* key = [] {
    BIO* bio = BIO_new_mem_buf(kPrivateKey, -1);
    EVP_PKEY* parsed = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
    FUZZ_CHECK(parsed != nullptr);
    return parsed;
  }();
  return key;
}

// Returns the JWS ES256 signature (r||s, S in the lower half) of `input`.
std::string Sign(std::string_view input) {
  EVP_MD_CTX* context = EVP_MD_CTX_new();
  size_t length = 0;
  FUZZ_CHECK(EVP_DigestSignInit(context, nullptr, EVP_sha256(), nullptr, SigningKey()) == 1);
  FUZZ_CHECK(EVP_DigestSign(context, nullptr, &length,
                            reinterpret_cast<const unsigned char*>(input.data()),
                            input.size()) == 1);
  std::string der(length, '\0');
  FUZZ_CHECK(EVP_DigestSign(context, reinterpret_cast<unsigned char*>(der.data()), &length,
                            reinterpret_cast<const unsigned char*>(input.data()),
                            input.size()) == 1);
  EVP_MD_CTX_free(context);
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  ECDSA_SIG* signature = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(length));
  FUZZ_CHECK(signature != nullptr);
  BIGNUM* order = nullptr;
  FUZZ_CHECK(BN_hex2bn(&order,
                       "FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551") > 0);
  BIGNUM* half = BN_new();
  FUZZ_CHECK(BN_rshift1(half, order) == 1);
  BIGNUM* s = BN_dup(ECDSA_SIG_get0_s(signature));
  if (BN_cmp(s, half) > 0) FUZZ_CHECK(BN_sub(s, order, s) == 1);
  std::string raw(64, '\0');
  FUZZ_CHECK(BN_bn2binpad(ECDSA_SIG_get0_r(signature),
                          reinterpret_cast<unsigned char*>(raw.data()), 32) == 32);
  FUZZ_CHECK(BN_bn2binpad(s, reinterpret_cast<unsigned char*>(raw.data()) + 32, 32) == 32);
  BN_free(s);
  BN_free(half);
  BN_free(order);
  ECDSA_SIG_free(signature);
  return raw;
}

void CheckVerdict(const absl::StatusOr<samplan::Principal>& principal) {
  if (!principal.ok()) {
    FUZZ_CHECK(principal.status().code() == absl::StatusCode::kUnauthenticated);
    return;
  }
  // What the rest of the code relies on of a verified caller.
  FUZZ_CHECK(samplan::IsResourceName(principal->user, "users"));
  FUZZ_CHECK(samplan::IsResourceName(principal->organization, "organizations"));
  FUZZ_CHECK(samplan::IsMunicipalityCode(principal->municipality));
  FUZZ_CHECK(principal->accepted_until > samplan::fuzz::FixedNow());
  FUZZ_CHECK(principal->expires_at <= principal->accepted_until);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] % 2 == 0) {
    const absl::StatusOr<samplan::Principal> principal = Verifier().Verify(rest);
    CheckVerdict(principal);
    if (principal.ok()) {
      // A token has one spelling: any change to a verified token is refused.
      std::string changed(rest);
      changed.back() = changed.back() == 'A' ? 'B' : 'A';
      FUZZ_CHECK(!Verifier().Verify(changed).ok());
    }
    return 0;
  }
  const size_t nul = rest.find('\0');
  if (nul == std::string_view::npos) return 0;
  const absl::string_view header(rest.data(), nul);
  const absl::string_view payload(rest.data() + nul + 1, rest.size() - nul - 1);
  const std::string signing_input =
      absl::WebSafeBase64Escape(header) + "." + absl::WebSafeBase64Escape(payload);
  const std::string token =
      signing_input + "." + absl::WebSafeBase64Escape(Sign(signing_input));
  CheckVerdict(Verifier().Verify(token));
  return 0;
}
