#include "services/identity/identity_crypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <memory>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace samplan::identity {
namespace {

constexpr uint8_t kVersion = 1;
constexpr size_t kNonceSize = 12;
constexpr size_t kTagSize = 16;
constexpr size_t kOverhead = 1 + kNonceSize + kTagSize;

struct CipherCtxDeleter {
  void operator()(EVP_CIPHER_CTX* p) const { EVP_CIPHER_CTX_free(p); }
};
using CipherCtxPtr = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxDeleter>;

// OpenSSL does not fail at these steps with valid arguments once initialized. If it
// does anyway, stop: an encryption that half-happened, or one under a nonce that
// may not be random, must not be stored.
void CheckOpenSsl(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "identity_crypto: OpenSSL failed in %s\n", what);
    std::abort();
  }
}

const unsigned char* Bytes(absl::string_view text) {
  return reinterpret_cast<const unsigned char*>(text.data());
}

absl::Status DecodeKey(absl::string_view base64, absl::string_view name,
                       std::array<uint8_t, IdentityNumberProtector::kKeySize>& key) {
  std::string decoded;
  const bool ok = absl::Base64Unescape(base64, &decoded);
  const bool right_size = ok && decoded.size() == key.size();
  if (right_size) std::copy(decoded.begin(), decoded.end(), key.begin());
  OPENSSL_cleanse(decoded.data(), decoded.size());
  if (!ok) return absl::InvalidArgumentError(absl::StrCat(name, " is not valid base64"));
  if (!right_size) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, " must be ", key.size(), " bytes, encoded in base64"));
  }
  return absl::OkStatus();
}

// The additional authenticated data: the version byte, so that a later format
// cannot be passed off as this one, then the caller's associated data. The
// version has a fixed length, so the two cannot run into each other.
void AddAuthenticatedData(EVP_CIPHER_CTX* ctx, bool encrypt, absl::string_view associated_data,
                          int& len) {
  const unsigned char version = kVersion;
  auto update = encrypt ? EVP_EncryptUpdate : EVP_DecryptUpdate;
  CheckOpenSsl(update(ctx, nullptr, &len, &version, 1) == 1, "AAD");
  if (!associated_data.empty()) {
    CheckOpenSsl(associated_data.size() <= INT_MAX, "AAD size");
    CheckOpenSsl(update(ctx, nullptr, &len, Bytes(associated_data),
                        static_cast<int>(associated_data.size())) == 1,
                 "AAD");
  }
}

}  // namespace

absl::StatusOr<IdentityNumberProtector> MakeIdentityNumberProtector(
    absl::string_view encryption_key_base64, absl::string_view lookup_key_base64) {
  IdentityNumberProtector::Key encryption_key{};
  IdentityNumberProtector::Key lookup_key{};
  absl::Status status = DecodeKey(encryption_key_base64, "encryption key", encryption_key);
  if (status.ok()) status = DecodeKey(lookup_key_base64, "lookup key", lookup_key);
  // A protector made from what was already read wipes both keys when it goes out
  // of scope, also on the error paths.
  IdentityNumberProtector protector(encryption_key, lookup_key);
  OPENSSL_cleanse(encryption_key.data(), encryption_key.size());
  OPENSSL_cleanse(lookup_key.data(), lookup_key.size());
  if (!status.ok()) return status;
  if (CRYPTO_memcmp(protector.encryption_key_.data(), protector.lookup_key_.data(),
                    IdentityNumberProtector::kKeySize) == 0) {
    // One key for both would let whoever may search also decrypt.
    return absl::InvalidArgumentError("lookup key must differ from the encryption key");
  }
  return protector;
}

IdentityNumberProtector::~IdentityNumberProtector() {
  OPENSSL_cleanse(encryption_key_.data(), encryption_key_.size());
  OPENSSL_cleanse(lookup_key_.data(), lookup_key_.size());
}

std::string IdentityNumberProtector::Encrypt(absl::string_view plaintext) const {
  return Encrypt(plaintext, absl::string_view());
}

std::string IdentityNumberProtector::Encrypt(absl::string_view plaintext,
                                             absl::string_view associated_data) const {
  CheckOpenSsl(plaintext.size() <= INT_MAX - kOverhead, "plaintext size");
  std::string sealed(kOverhead + plaintext.size(), '\0');
  unsigned char* out = reinterpret_cast<unsigned char*>(sealed.data());
  out[0] = kVersion;
  unsigned char* nonce = out + 1;
  unsigned char* ciphertext = nonce + kNonceSize;
  unsigned char* tag = ciphertext + plaintext.size();
  CheckOpenSsl(RAND_bytes(nonce, kNonceSize) == 1, "RAND_bytes");

  CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  CheckOpenSsl(ctx != nullptr, "EVP_CIPHER_CTX_new");
  // The default GCM nonce length is 12 bytes, which is kNonceSize.
  CheckOpenSsl(
      EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, encryption_key_.data(), nonce) == 1,
      "EVP_EncryptInit_ex");
  int len = 0;
  AddAuthenticatedData(ctx.get(), /*encrypt=*/true, associated_data, len);
  CheckOpenSsl(EVP_EncryptUpdate(ctx.get(), ciphertext, &len, Bytes(plaintext),
                                 static_cast<int>(plaintext.size())) == 1 &&
                   static_cast<size_t>(len) == plaintext.size(),
               "EVP_EncryptUpdate");
  int final_len = 0;
  CheckOpenSsl(EVP_EncryptFinal_ex(ctx.get(), ciphertext + len, &final_len) == 1 && final_len == 0,
               "EVP_EncryptFinal_ex");
  CheckOpenSsl(EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagSize, tag) == 1,
               "EVP_CTRL_GCM_GET_TAG");
  return sealed;
}

absl::StatusOr<std::string> IdentityNumberProtector::Decrypt(absl::string_view sealed) const {
  return Decrypt(sealed, absl::string_view());
}

absl::StatusOr<std::string> IdentityNumberProtector::Decrypt(
    absl::string_view sealed, absl::string_view associated_data) const {
  if (sealed.size() < kOverhead || sealed.size() > INT_MAX) {
    return absl::DataLossError("encrypted identity number is malformed: wrong length");
  }
  if (static_cast<uint8_t>(sealed[0]) != kVersion) {
    return absl::DataLossError("encrypted identity number is malformed: unknown version");
  }
  const unsigned char* nonce = Bytes(sealed) + 1;
  const unsigned char* ciphertext = nonce + kNonceSize;
  const size_t ciphertext_size = sealed.size() - kOverhead;
  const unsigned char* tag = ciphertext + ciphertext_size;

  CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  CheckOpenSsl(ctx != nullptr, "EVP_CIPHER_CTX_new");
  CheckOpenSsl(
      EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, encryption_key_.data(), nonce) == 1,
      "EVP_DecryptInit_ex");
  int len = 0;
  AddAuthenticatedData(ctx.get(), /*encrypt=*/false, associated_data, len);
  std::string plaintext(ciphertext_size, '\0');
  unsigned char* out = reinterpret_cast<unsigned char*>(plaintext.data());
  CheckOpenSsl(
      EVP_DecryptUpdate(ctx.get(), out, &len, ciphertext, static_cast<int>(ciphertext_size)) == 1 &&
          static_cast<size_t>(len) == ciphertext_size,
      "EVP_DecryptUpdate");
  // OpenSSL only reads the tag, but its prototype takes a non-const pointer.
  CheckOpenSsl(EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagSize,
                                   const_cast<unsigned char*>(tag)) == 1,
               "EVP_CTRL_GCM_SET_TAG");
  int final_len = 0;
  if (EVP_DecryptFinal_ex(ctx.get(), out + len, &final_len) != 1) {
    // The plaintext is unauthenticated: it must not leave here.
    OPENSSL_cleanse(plaintext.data(), plaintext.size());
    return absl::DataLossError(
        "encrypted identity number failed authentication: altered, another key, or "
        "bound to another record");
  }
  return plaintext;
}

std::string IdentityNumberProtector::LookupHash(absl::string_view canonical_number) const {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  CheckOpenSsl(HMAC(EVP_sha256(), lookup_key_.data(), static_cast<int>(lookup_key_.size()),
                    Bytes(canonical_number), canonical_number.size(), mac, &mac_len) != nullptr,
               "HMAC");
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(mac), mac_len));
}

std::string IdentityNumberProtector::GenerateKeyBase64() {
  Key key;
  CheckOpenSsl(RAND_bytes(key.data(), key.size()) == 1, "RAND_bytes");
  std::string encoded =
      absl::Base64Escape(absl::string_view(reinterpret_cast<const char*>(key.data()), key.size()));
  OPENSSL_cleanse(key.data(), key.size());
  return encoded;
}

}  // namespace samplan::identity
