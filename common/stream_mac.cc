#include "common/stream_mac.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <cstdint>
#include <cstdlib>
#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace samplan {
namespace {

constexpr size_t kMinSecretBytes = 32;
constexpr size_t kMacBytes = 32;
// Names what is authenticated, so that a MAC made for anything else under the same
// key never passes for an entry's.
constexpr absl::string_view kDomain = "samplan.stream-entry.v1";

// The HMAC implementation, fetched once: fetching is the slow part of EVP_MAC.
EVP_MAC* Hmac() {
  static EVP_MAC* const hmac = [] {
    EVP_MAC* fetched = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    if (fetched == nullptr) std::abort();  // OpenSSL without HMAC: nothing can be trusted
    return fetched;
  }();
  return hmac;
}

struct MacCtxDeleter {
  void operator()(EVP_MAC_CTX* ctx) const { EVP_MAC_CTX_free(ctx); }
};

// Adds `part` with its length in front, so that no two different field sets
// feed the same bytes.
void AddPart(EVP_MAC_CTX* ctx, absl::string_view part) {
  unsigned char length[8];
  uint64_t n = part.size();
  for (int i = 7; i >= 0; --i, n >>= 8) length[i] = static_cast<unsigned char>(n & 0xff);
  EVP_MAC_update(ctx, length, sizeof(length));
  EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(part.data()), part.size());
}

// Returns the raw MAC of the fields under `secret`; empty if OpenSSL fails.
std::string Compute(const std::string& secret, absl::string_view stream,
                    absl::string_view event_id, absl::string_view type,
                    absl::string_view envelope, absl::string_view access_version) {
  std::unique_ptr<EVP_MAC_CTX, MacCtxDeleter> ctx(EVP_MAC_CTX_new(Hmac()));
  if (ctx == nullptr) return "";
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                         OSSL_PARAM_construct_end()};
  if (EVP_MAC_init(ctx.get(), reinterpret_cast<const unsigned char*>(secret.data()),
                   secret.size(), params) != 1) {
    return "";
  }
  for (absl::string_view part : {kDomain, stream, event_id, type, envelope, access_version}) {
    AddPart(ctx.get(), part);
  }
  unsigned char out[EVP_MAX_MD_SIZE];
  size_t out_size = 0;
  if (EVP_MAC_final(ctx.get(), out, &out_size, sizeof(out)) != 1 || out_size != kMacBytes) {
    return "";
  }
  return std::string(reinterpret_cast<const char*>(out), out_size);
}

bool IsKeyId(absl::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') {
      return false;
    }
  }
  return true;
}

}  // namespace

absl::StatusOr<StreamKeys> StreamKeys::Create(std::vector<Key> keys) {
  if (keys.empty()) return absl::InvalidArgumentError("at least one key is needed");
  for (size_t i = 0; i < keys.size(); ++i) {
    if (!IsKeyId(keys[i].id)) {
      return absl::InvalidArgumentError(
          "a key id is 1 to 64 letters, digits, '-', '_' or '.'");
    }
    if (keys[i].secret.size() < kMinSecretBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("key \"", keys[i].id, "\" is shorter than ", kMinSecretBytes, " bytes"));
    }
    for (size_t j = 0; j < i; ++j) {
      if (keys[j].id == keys[i].id) {
        return absl::InvalidArgumentError(absl::StrCat("key \"", keys[i].id, "\" is given twice"));
      }
    }
  }
  return StreamKeys(std::move(keys));
}

const StreamKeys& StreamKeys::ProcessLocal() {
  static const StreamKeys* const keys = [] {
    std::string secret(kMinSecretBytes, '\0');
    if (RAND_bytes(reinterpret_cast<unsigned char*>(secret.data()),
                   static_cast<int>(secret.size())) != 1) {
      std::abort();  // no randomness: no key worth the name
    }
    return new StreamKeys({Key{"process-local", std::move(secret)}});
  }();
  return *keys;
}

std::string StreamKeys::Sign(absl::string_view stream, absl::string_view event_id,
                             absl::string_view type, absl::string_view envelope,
                             absl::string_view access_version) const {
  const Key& key = keys_.front();
  return absl::StrCat(
      key.id, ":",
      absl::BytesToHexString(Compute(key.secret, stream, event_id, type, envelope, access_version)));
}

bool StreamKeys::Verify(absl::string_view stream, const StreamEntry& entry) const {
  const std::string mac = entry.Field(kStreamMacField);
  const size_t colon = mac.find(':');
  if (colon == std::string::npos) return false;
  const absl::string_view id = absl::string_view(mac).substr(0, colon);
  const absl::string_view hex = absl::string_view(mac).substr(colon + 1);
  if (hex.size() != 2 * kMacBytes) return false;
  for (char c : hex) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) return false;
  }
  const std::string claimed = absl::HexStringToBytes(hex);
  for (const Key& key : keys_) {
    if (key.id != id) continue;
    const std::string expected =
        Compute(key.secret, stream, entry.Field("event_id"), entry.Field("type"),
                entry.Field("event"), entry.Field("access_version"));
    return expected.size() == kMacBytes &&
           CRYPTO_memcmp(expected.data(), claimed.data(), kMacBytes) == 0;
  }
  return false;  // a key this process does not hold (retired, or never ours)
}

std::string StreamKeys::Setting() const {
  std::string setting;
  for (const Key& key : keys_) {
    absl::StrAppend(&setting, setting.empty() ? "" : ",", key.id, "=",
                    absl::Base64Escape(key.secret));
  }
  return setting;
}

StreamKeys ReadStreamKeys(EnvReader& env) {
  constexpr char kName[] = "SAMPLAN_STREAM_KEYS";
  const std::string text = env.RequiredString(kName);
  if (text.empty()) return StreamKeys::ProcessLocal();
  std::vector<StreamKeys::Key> keys;
  for (absl::string_view entry : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    std::pair<std::string, std::string> id_secret =
        absl::StrSplit(absl::StripAsciiWhitespace(entry), absl::MaxSplits('=', 1));
    StreamKeys::Key key{id_secret.first, ""};
    if (!absl::Base64Unescape(id_secret.second, &key.secret) || key.secret.empty()) {
      // Counted, not quoted: a malformed entry may be a bare secret.
      env.AddProblem(absl::StrCat(kName, ": entry ", keys.size() + 1,
                                  " is not id=<standard base64 of 32 or more random bytes>"));
      return StreamKeys::ProcessLocal();
    }
    keys.push_back(std::move(key));
  }
  absl::StatusOr<StreamKeys> ring = StreamKeys::Create(std::move(keys));
  if (!ring.ok()) {
    env.AddProblem(absl::StrCat(kName, ": ", ring.status().message()));
    return StreamKeys::ProcessLocal();
  }
  return *std::move(ring);
}

}  // namespace samplan
