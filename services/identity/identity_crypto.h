#ifndef SAMPLAN_SERVICES_IDENTITY_IDENTITY_CRYPTO_H_
#define SAMPLAN_SERVICES_IDENTITY_IDENTITY_CRYPTO_H_

// Personal identity numbers at rest: stored encrypted (AES-256-GCM), and found by a
// keyed hash (HMAC-SHA256) rather than by the number, so a copy of the database
// alone reveals no numbers — not even by hashing every possible one, which a plain
// hash would allow: there are only some tens of millions of valid numbers. Two
// separate keys, so what can search need not be able to decrypt.

#include <array>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace samplan::identity {

class IdentityNumberProtector;

// Returns a protector for two 32-byte keys given in standard base64 (as in
// configuration). A key that is not base64, or not 32 bytes, is INVALID_ARGUMENT
// naming it ("encryption key" or "lookup key") but never showing it; so are two
// equal keys.
absl::StatusOr<IdentityNumberProtector> MakeIdentityNumberProtector(
    absl::string_view encryption_key_base64, absl::string_view lookup_key_base64);

// Encrypts, decrypts and makes lookup hashes of personal identity numbers (or any
// short text) with the keys it holds. Thread-safe: all methods are const and keep
// no state between calls.
class IdentityNumberProtector {
 public:
  static constexpr size_t kKeySize = 32;

  // Copies are cheap; the keys are wiped from memory when a copy goes away.
  IdentityNumberProtector(const IdentityNumberProtector&) = default;
  IdentityNumberProtector& operator=(const IdentityNumberProtector&) = default;
  ~IdentityNumberProtector();

  // Returns `plaintext` sealed with AES-256-GCM under a fresh random 12-byte
  // nonce: version byte 1, nonce, ciphertext, 16-byte tag — binary, 29 bytes
  // longer than `plaintext`. `associated_data` (e.g. the id of the person the
  // ciphertext belongs to) is authenticated but not stored: Decrypt must be given
  // the same, so a ciphertext copied to another row does not decrypt there.
  // Aborts the process if OpenSSL fails, rather than risk a repeated nonce.
  std::string Encrypt(absl::string_view plaintext) const;
  std::string Encrypt(absl::string_view plaintext, absl::string_view associated_data) const;

  // Returns the plaintext of what Encrypt sealed with the same key and associated
  // data; DATA_LOSS if `sealed` is malformed, altered, sealed with another key or
  // bound to other associated data. The message says which of malformed or failed
  // authentication, never any of the content.
  absl::StatusOr<std::string> Decrypt(absl::string_view sealed) const;
  absl::StatusOr<std::string> Decrypt(absl::string_view sealed,
                                      absl::string_view associated_data) const;

  // Returns HMAC-SHA256 of `canonical_number` under the lookup key, as 64 lowercase
  // hex digits. Deterministic, so a unique index on it keeps one person per number;
  // give it the canonical form (ParsePersonalIdentityNumber), or the same number
  // written two ways gets two hashes.
  std::string LookupHash(absl::string_view canonical_number) const;

  // Returns a new random 32-byte key in standard base64, for the local start
  // script and tests.
  static std::string GenerateKeyBase64();

 private:
  using Key = std::array<uint8_t, kKeySize>;

  IdentityNumberProtector(const Key& encryption_key, const Key& lookup_key)
      : encryption_key_(encryption_key), lookup_key_(lookup_key) {}

  friend absl::StatusOr<IdentityNumberProtector> MakeIdentityNumberProtector(
      absl::string_view encryption_key_base64, absl::string_view lookup_key_base64);

  Key encryption_key_;
  Key lookup_key_;
};

}  // namespace samplan::identity

#endif  // SAMPLAN_SERVICES_IDENTITY_IDENTITY_CRYPTO_H_
