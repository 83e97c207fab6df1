#ifndef SAMPLAN_COMMON_AUTH_H_
#define SAMPLAN_COMMON_AUTH_H_

// Caller identity: signed JWT bearer tokens (ES256) verified into a Principal.

#include <memory>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/clock.h"

namespace samplan {

// The longest token the verifier reads; a longer one is UNAUTHENTICATED.
inline constexpr size_t kMaxTokenBytes = 16 * 1024;

// Who is calling: a user acting for one organization in one municipality.
struct Principal {
  std::string organization;  // "organizations/{id}"
  std::string municipality;  // kommunkod, four digits
  std::string user;          // "users/{id}"
  std::vector<std::string> roles;
  // The token's `exp`.
  absl::Time expires_at = absl::InfiniteFuture();
  // When the token stops being accepted: `exp` plus the clock skew the verifier
  // allows. A new call is refused from then on, and an open stream ends then, so
  // the two agree.
  absl::Time accepted_until = absl::InfiniteFuture();

  // Returns whether the principal holds `role`.
  bool HasRole(std::string_view role) const;
};

// What a token verifier trusts.
struct TokenVerifierOptions {
  std::string issuer;    // required `iss`
  std::string audience;  // required in `aud` (a string or an array of strings)
  // Trusted public keys by key id (`kid` of the JWT header), PEM (SubjectPublicKeyInfo,
  // P-256). Several keys allow rotation.
  absl::flat_hash_map<std::string, std::string> public_keys_pem;
  absl::Duration clock_skew = absl::Seconds(60);
  // The longest a token may be valid, `exp` - `iat`: a stolen token is of use for
  // at most this long, whatever its issuer wrote.
  absl::Duration max_lifetime = absl::Hours(12);
  // ES256 signatures with S in the upper half of the curve order are refused
  // unless set: (r, n - s) is a second valid signature of the same token, so a
  // token would otherwise have two texts. Set only for an issuer that does not
  // normalize S.
  bool accept_high_s = false;
  // Verified tokens are remembered (by their full text) until they expire, so a
  // busy caller does not pay for an ECDSA verification on every call.
  size_t cache_capacity = 10000;
};

// Verifies bearer tokens. Thread-safe.
class TokenVerifier {
 public:
  virtual ~TokenVerifier() = default;
  // Returns the principal of a valid token: ES256 signature by a trusted key with
  // S in the lower half of the order (unless accept_high_s), `typ` (if any) JWT
  // or at+jwt, the configured issuer and audience, `iat` not in the future,
  // `exp` in the future and at most max_lifetime after `iat`, `nbf` (if any) in
  // the past, and the claims `org`, `municipality`, `sub` present and well-formed.
  // Anything else is UNAUTHENTICATED with a message that names the reason but never
  // echoes the token.
  virtual absl::StatusOr<Principal> Verify(std::string_view token) const = 0;
};

// Builds a verifier; INVALID_ARGUMENT when a key cannot be parsed or the options are
// incomplete. `clock` must outlive the verifier.
absl::StatusOr<std::unique_ptr<TokenVerifier>> MakeTokenVerifier(
    TokenVerifierOptions options, const Clock& clock = RealClock());

// The claims of a token to mint.
struct TokenClaims {
  std::string issuer;
  std::string audience;
  std::string subject;       // "users/{id}"
  std::string organization;  // "organizations/{id}"
  std::string municipality;  // kommunkod
  std::vector<std::string> roles;
  absl::Time issued_at;
  absl::Time expires_at;
};

// Returns a compact JWS (header.payload.signature) signed with ES256 by the P-256
// private key in `private_key_pem` (PKCS#8 or SEC1 "EC PRIVATE KEY"), with `kid`
// in the header. For local runs and tests.
absl::StatusOr<std::string> MintToken(std::string_view private_key_pem,
                                      std::string_view kid,
                                      const TokenClaims& claims);

// A P-256 key pair as PEM.
struct KeyPairPem {
  std::string private_key_pem;
  std::string public_key_pem;
};

// Returns a fresh P-256 key pair, for tests and the local start command.
absl::StatusOr<KeyPairPem> GenerateEs256KeyPair();

}  // namespace samplan

#endif  // SAMPLAN_COMMON_AUTH_H_
