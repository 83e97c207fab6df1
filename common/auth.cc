#include "common/auth.h"

#include "common/ids.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <optional>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"

namespace samplan {
namespace {

using ::google::protobuf::Struct;
using ::google::protobuf::Value;

// Coordinates of a P-256 point (and so r and s of a signature) are 32 bytes.
constexpr size_t kCoordinateSize = 32;
constexpr size_t kSignatureSize = 2 * kCoordinateSize;
// Well above any token we mint; bounds the work an anonymous caller can cause.
// NumericDate values beyond this (about year 33658) are not dates anyone means.
constexpr double kMaxNumericDate = 1e12;

struct BioDeleter {
  void operator()(BIO* p) const { BIO_free(p); }
};
struct PkeyDeleter {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
struct EcdsaSigDeleter {
  void operator()(ECDSA_SIG* p) const { ECDSA_SIG_free(p); }
};
struct BignumDeleter {
  void operator()(BIGNUM* p) const { BN_free(p); }
};
using BioPtr = std::unique_ptr<BIO, BioDeleter>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxDeleter>;
using EcdsaSigPtr = std::unique_ptr<ECDSA_SIG, EcdsaSigDeleter>;
using BignumPtr = std::unique_ptr<BIGNUM, BignumDeleter>;

// Returns the pending OpenSSL error as text and empties the thread's error queue,
// so a failure here does not surface later in unrelated code.
std::string TakeOpenSslError() {
  unsigned long code = ERR_get_error();
  std::string text = "unknown error";
  if (code != 0) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof(buf));
    text = buf;
  }
  ERR_clear_error();
  return text;
}

// Refuses to prompt: an encrypted key must not block a server on a terminal read.
int NoPassword(char* /*buf*/, int /*size*/, int /*rwflag*/, void* /*u*/) { return -1; }

// This Abseil is built with its own string_view, which std::string_view does not
// convert to implicitly.
absl::string_view Absl(std::string_view s) { return {s.data(), s.size()}; }

BioPtr MemBio(std::string_view data) {
  return BioPtr(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
}

std::string BioContents(BIO* bio) {
  char* data = nullptr;
  long size = BIO_get_mem_data(bio, &data);
  return size > 0 ? std::string(data, static_cast<size_t>(size)) : std::string();
}

bool IsP256(const EVP_PKEY* pkey) {
  if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_EC) return false;
  char name[64];
  size_t len = 0;
  if (EVP_PKEY_get_group_name(pkey, name, sizeof(name), &len) != 1) {
    ERR_clear_error();
    return false;
  }
  int nid = OBJ_txt2nid(name);
  if (nid == NID_undef) nid = EC_curve_nist2nid(name);
  return nid == NID_X9_62_prime256v1;
}

absl::StatusOr<PkeyPtr> ParsePublicKey(std::string_view pem) {
  BioPtr bio = MemBio(pem);
  if (bio == nullptr) return absl::InternalError("out of memory");
  PkeyPtr pkey(PEM_read_bio_PUBKEY(bio.get(), nullptr, NoPassword, nullptr));
  if (pkey == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a PEM public key: ", TakeOpenSslError()));
  }
  if (!IsP256(pkey.get())) {
    return absl::InvalidArgumentError("not a P-256 key");
  }
  return pkey;
}

absl::StatusOr<PkeyPtr> ParsePrivateKey(std::string_view pem) {
  BioPtr bio = MemBio(pem);
  if (bio == nullptr) return absl::InternalError("out of memory");
  PkeyPtr pkey(PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassword, nullptr));
  if (pkey == nullptr) {
    // The OpenSSL text is deliberately left out: it may quote parts of the key.
    ERR_clear_error();
    return absl::InvalidArgumentError("private key is not an unencrypted PEM key");
  }
  if (!IsP256(pkey.get())) {
    return absl::InvalidArgumentError("private key is not a P-256 key");
  }
  return pkey;
}

// JWS uses base64url without padding. Anything but the canonical encoding is
// refused, so one token has exactly one spelling.
std::optional<std::string> DecodeSegment(std::string_view segment) {
  if (segment.size() % 4 == 1) return std::nullopt;
  for (char c : segment) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') {
      return std::nullopt;
    }
  }
  std::string decoded;
  if (!absl::WebSafeBase64Unescape(Absl(segment), &decoded)) return std::nullopt;
  if (absl::WebSafeBase64Escape(decoded) != segment) return std::nullopt;
  return decoded;
}

std::optional<Struct> ParseJsonObject(const std::string& json) {
  Struct object;
  if (!google::protobuf::util::JsonStringToMessage(json, &object).ok()) {
    return std::nullopt;
  }
  return object;
}

const Value* FindField(const Struct& object, const std::string& name) {
  auto it = object.fields().find(name);
  return it == object.fields().end() ? nullptr : &it->second;
}

const std::string* FindString(const Struct& object, const std::string& name) {
  const Value* value = FindField(object, name);
  if (value == nullptr || value->kind_case() != Value::kStringValue) {
    return nullptr;
  }
  return &value->string_value();
}

// Returns the NumericDate in `value`, or nullopt when it is not a sane number.
std::optional<absl::Time> ToTime(const Value& value) {
  if (value.kind_case() != Value::kNumberValue) return std::nullopt;
  double seconds = value.number_value();
  if (!std::isfinite(seconds) || std::fabs(seconds) > kMaxNumericDate) {
    return std::nullopt;
  }
  return absl::UnixEpoch() + absl::Seconds(seconds);
}

// Half the order of P-256, big-endian: an S above it has a twin, n - S.
constexpr unsigned char kHalfOrder[kCoordinateSize] = {
    0x7F, 0xFF, 0xFF, 0xFF, 0x80, 0x00, 0x00, 0x00, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0xDE, 0x73, 0x7D, 0x56, 0xD3, 0x8B, 0xCF, 0x42, 0x79, 0xDC, 0xE5, 0x61, 0x7E, 0x31, 0x92, 0xA8};

// Whether the raw r||s signature has S in the upper half of the order.
bool HasHighS(std::string_view raw_signature) {
  return raw_signature.size() == kSignatureSize &&
         std::memcmp(raw_signature.data() + kCoordinateSize, kHalfOrder, kCoordinateSize) > 0;
}

// Converts a JWS ES256 signature (r||s) to the DER form OpenSSL verifies.
std::optional<std::string> RawSignatureToDer(std::string_view raw) {
  if (raw.size() != kSignatureSize) return std::nullopt;
  const auto* bytes = reinterpret_cast<const unsigned char*>(raw.data());
  BignumPtr r(BN_bin2bn(bytes, kCoordinateSize, nullptr));
  BignumPtr s(BN_bin2bn(bytes + kCoordinateSize, kCoordinateSize, nullptr));
  EcdsaSigPtr sig(ECDSA_SIG_new());
  if (r == nullptr || s == nullptr || sig == nullptr ||
      ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) {
    ERR_clear_error();
    return std::nullopt;
  }
  // ECDSA_SIG_set0 took ownership.
  r.release();
  s.release();
  int len = i2d_ECDSA_SIG(sig.get(), nullptr);
  if (len <= 0) {
    ERR_clear_error();
    return std::nullopt;
  }
  std::string der(static_cast<size_t>(len), '\0');
  auto* out = reinterpret_cast<unsigned char*>(der.data());
  if (i2d_ECDSA_SIG(sig.get(), &out) != len) {
    ERR_clear_error();
    return std::nullopt;
  }
  return der;
}

// Converts OpenSSL's DER signature to the JWS form: r and s, 32 bytes each.
absl::StatusOr<std::string> DerSignatureToRaw(std::string_view der) {
  const auto* in = reinterpret_cast<const unsigned char*>(der.data());
  EcdsaSigPtr sig(d2i_ECDSA_SIG(nullptr, &in, static_cast<long>(der.size())));
  if (sig == nullptr) {
    return absl::InternalError(
        absl::StrCat("cannot decode signature: ", TakeOpenSslError()));
  }
  // Low S (n - S when S is above n/2), so that a token minted here has one text.
  const BIGNUM* s = ECDSA_SIG_get0_s(sig.get());
  BignumPtr half(BN_bin2bn(kHalfOrder, kCoordinateSize, nullptr));
  BignumPtr order(BN_new());
  BignumPtr low(BN_new());
  if (half == nullptr || order == nullptr || low == nullptr ||
      BN_lshift1(order.get(), half.get()) != 1 || BN_add_word(order.get(), 1) != 1) {
    return absl::InternalError(absl::StrCat("cannot normalize signature: ", TakeOpenSslError()));
  }
  if (BN_cmp(s, half.get()) > 0) {
    if (BN_sub(low.get(), order.get(), s) != 1) {
      return absl::InternalError(
          absl::StrCat("cannot normalize signature: ", TakeOpenSslError()));
    }
    s = low.get();
  }
  std::string raw(kSignatureSize, '\0');
  auto* out = reinterpret_cast<unsigned char*>(raw.data());
  if (BN_bn2binpad(ECDSA_SIG_get0_r(sig.get()), out, kCoordinateSize) !=
          static_cast<int>(kCoordinateSize) ||
      BN_bn2binpad(s, out + kCoordinateSize, kCoordinateSize) !=
          static_cast<int>(kCoordinateSize)) {
    return absl::InternalError(
        absl::StrCat("cannot encode signature: ", TakeOpenSslError()));
  }
  return raw;
}

bool VerifyEs256(EVP_PKEY* key, std::string_view signing_input,
                 std::string_view raw_signature) {
  std::optional<std::string> der = RawSignatureToDer(raw_signature);
  if (!der.has_value()) return false;
  MdCtxPtr ctx(EVP_MD_CTX_new());
  bool ok = ctx != nullptr &&
            EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) == 1 &&
            EVP_DigestVerify(
                ctx.get(), reinterpret_cast<const unsigned char*>(der->data()),
                der->size(), reinterpret_cast<const unsigned char*>(signing_input.data()),
                signing_input.size()) == 1;
  ERR_clear_error();
  return ok;
}

absl::StatusOr<std::string> SignEs256(EVP_PKEY* key, std::string_view signing_input) {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  const auto* data = reinterpret_cast<const unsigned char*>(signing_input.data());
  size_t len = 0;
  if (ctx == nullptr ||
      EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len, data, signing_input.size()) != 1) {
    return absl::InternalError(absl::StrCat("cannot sign: ", TakeOpenSslError()));
  }
  std::string der(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(der.data()), &len, data,
                     signing_input.size()) != 1) {
    return absl::InternalError(absl::StrCat("cannot sign: ", TakeOpenSslError()));
  }
  der.resize(len);
  return DerSignatureToRaw(der);
}

// A JSON string literal; the payload is written by hand so that iat and exp come
// out as integers, which protobuf's Struct printer does not promise.
std::string JsonString(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          constexpr char kHex[] = "0123456789abcdef";
          out += "\\u00";
          out += kHex[(c >> 4) & 0xf];
          out += kHex[c & 0xf];
        } else {
          out += c;
        }
    }
  }
  out += '"';
  return out;
}

absl::Status Unauthenticated(std::string_view reason) {
  return absl::UnauthenticatedError(Absl(reason));
}

class Es256TokenVerifier final : public TokenVerifier {
 public:
  Es256TokenVerifier(TokenVerifierOptions options,
                     absl::flat_hash_map<std::string, PkeyPtr> keys, const Clock& clock)
      : issuer_(std::move(options.issuer)),
        audience_(std::move(options.audience)),
        clock_skew_(options.clock_skew),
        max_lifetime_(options.max_lifetime),
        accept_high_s_(options.accept_high_s),
        cache_capacity_(options.cache_capacity),
        keys_(std::move(keys)),
        clock_(clock) {}

  absl::StatusOr<Principal> Verify(std::string_view token) const override {
    absl::Time now = clock_.Now();
    if (std::optional<Principal> cached = Lookup(token, now)) return *cached;

    absl::Time valid_from = absl::InfinitePast();
    absl::StatusOr<Principal> principal = VerifyUncached(token, now, valid_from);
    if (principal.ok()) Remember(token, *principal, valid_from, now);
    return principal;
  }

 private:
  struct CacheEntry {
    Principal principal;
    // The window, skew included, in which the token is acceptable.
    absl::Time valid_from;
    absl::Time valid_until;
  };

  std::optional<Principal> Lookup(std::string_view token, absl::Time now) const {
    if (cache_capacity_ == 0) return std::nullopt;
    absl::ReaderMutexLock lock(&mu_);
    auto it = cache_.find(Absl(token));
    // An entry outside its window falls through to a full verification, which
    // produces the precise error; the stale entry is dropped when the cache fills.
    if (it == cache_.end() || now < it->second.valid_from ||
        now >= it->second.valid_until) {
      return std::nullopt;
    }
    return it->second.principal;
  }

  void Remember(std::string_view token, const Principal& principal, absl::Time valid_from,
                absl::Time now) const {
    if (cache_capacity_ == 0) return;
    absl::MutexLock lock(&mu_);
    if (cache_.size() >= cache_capacity_) {
      absl::erase_if(
          cache_, [now](const auto& entry) { return now >= entry.second.valid_until; });
      // Still full of live tokens: start over rather than track recency.
      if (cache_.size() >= cache_capacity_) cache_.clear();
    }
    cache_.insert_or_assign(
        std::string(token),
        CacheEntry{principal, valid_from, principal.accepted_until});
  }

  absl::StatusOr<Principal> VerifyUncached(std::string_view token, absl::Time now,
                                           absl::Time& valid_from) const {
    if (token.empty()) return Unauthenticated("empty token");
    if (token.size() > kMaxTokenBytes) return Unauthenticated("token too long");

    size_t first_dot = token.find('.');
    size_t second_dot = first_dot == std::string_view::npos
                            ? std::string_view::npos
                            : token.find('.', first_dot + 1);
    if (second_dot == std::string_view::npos ||
        token.find('.', second_dot + 1) != std::string_view::npos) {
      return Unauthenticated("malformed token: not three segments");
    }
    std::string_view header_b64 = token.substr(0, first_dot);
    std::string_view payload_b64 =
        token.substr(first_dot + 1, second_dot - first_dot - 1);
    std::string_view signature_b64 = token.substr(second_dot + 1);

    std::optional<std::string> header_json = DecodeSegment(header_b64);
    if (!header_json.has_value()) {
      return Unauthenticated("malformed token: bad header encoding");
    }
    std::optional<Struct> header = ParseJsonObject(*header_json);
    if (!header.has_value()) {
      return Unauthenticated("malformed token: header is not a JSON object");
    }
    const std::string* alg = FindString(*header, "alg");
    if (alg == nullptr || *alg != "ES256") {
      return Unauthenticated("unsupported algorithm");
    }
    // Extensions we do not understand must not be ignored (RFC 7515, 4.1.11).
    if (FindField(*header, "crit") != nullptr) {
      return Unauthenticated("unsupported critical header");
    }
    // Another kind of JWS signed by the same issuer (a logout token, a DPoP
    // proof) is not a bearer token.
    if (const Value* typ = FindField(*header, "typ")) {
      if (typ->kind_case() != Value::kStringValue ||
          (!absl::EqualsIgnoreCase(typ->string_value(), "JWT") &&
           !absl::EqualsIgnoreCase(typ->string_value(), "at+jwt"))) {
        return Unauthenticated("unsupported token type");
      }
    }
    const std::string* kid = FindString(*header, "kid");
    if (kid == nullptr) return Unauthenticated("missing key id");
    auto key = keys_.find(*kid);
    if (key == keys_.end()) return Unauthenticated("unknown key id");

    std::optional<std::string> signature = DecodeSegment(signature_b64);
    if (!signature.has_value()) {
      return Unauthenticated("malformed token: bad signature encoding");
    }
    std::string_view signing_input = token.substr(0, second_dot);
    if (!accept_high_s_ && HasHighS(*signature)) {
      return Unauthenticated("signature is not in low-S form");
    }
    if (!VerifyEs256(key->second.get(), signing_input, *signature)) {
      return Unauthenticated("signature does not verify");
    }

    // The payload is only looked at once its signer is known.
    std::optional<std::string> payload_json = DecodeSegment(payload_b64);
    if (!payload_json.has_value()) {
      return Unauthenticated("malformed token: bad payload encoding");
    }
    std::optional<Struct> claims = ParseJsonObject(*payload_json);
    if (!claims.has_value()) {
      return Unauthenticated("malformed token: payload is not a JSON object");
    }
    return CheckClaims(*claims, now, valid_from);
  }

  absl::StatusOr<Principal> CheckClaims(const Struct& claims, absl::Time now,
                                        absl::Time& valid_from) const {
    const std::string* iss = FindString(claims, "iss");
    if (iss == nullptr || *iss != issuer_) return Unauthenticated("wrong issuer");
    if (!HasAudience(claims)) return Unauthenticated("wrong audience");

    const Value* exp_value = FindField(claims, "exp");
    if (exp_value == nullptr) return Unauthenticated("missing claim: exp");
    std::optional<absl::Time> exp = ToTime(*exp_value);
    if (!exp.has_value()) return Unauthenticated("malformed claim: exp");
    if (*exp + clock_skew_ <= now) return Unauthenticated("token expired");

    const Value* iat_value = FindField(claims, "iat");
    if (iat_value == nullptr) return Unauthenticated("missing claim: iat");
    std::optional<absl::Time> iat = ToTime(*iat_value);
    if (!iat.has_value()) return Unauthenticated("malformed claim: iat");
    if (*iat - clock_skew_ > now) return Unauthenticated("token issued in the future");
    if (*exp <= *iat) return Unauthenticated("token expires before it was issued");
    if (*exp - *iat > max_lifetime_) {
      return Unauthenticated("token lifetime exceeds the maximum");
    }

    if (const Value* nbf_value = FindField(claims, "nbf")) {
      std::optional<absl::Time> nbf = ToTime(*nbf_value);
      if (!nbf.has_value()) return Unauthenticated("malformed claim: nbf");
      if (*nbf - clock_skew_ > now) {
        return Unauthenticated("token not yet valid");
      }
      valid_from = *nbf - clock_skew_;
    }

    Principal principal;
    principal.expires_at = *exp;
    principal.accepted_until = *exp + clock_skew_;
    const std::string* sub = FindString(claims, "sub");
    if (sub == nullptr || !IsResourceName(*sub, "users")) {
      return Unauthenticated("missing or malformed claim: sub");
    }
    principal.user = *sub;
    const std::string* org = FindString(claims, "org");
    if (org == nullptr || !IsResourceName(*org, "organizations")) {
      return Unauthenticated("missing or malformed claim: org");
    }
    principal.organization = *org;
    const std::string* municipality = FindString(claims, "municipality");
    if (municipality == nullptr || !IsMunicipalityCode(*municipality)) {
      return Unauthenticated("missing or malformed claim: municipality");
    }
    principal.municipality = *municipality;

    if (const Value* roles = FindField(claims, "roles")) {
      if (roles->kind_case() != Value::kListValue) {
        return Unauthenticated("malformed claim: roles");
      }
      for (const Value& role : roles->list_value().values()) {
        if (role.kind_case() != Value::kStringValue) {
          return Unauthenticated("malformed claim: roles");
        }
        principal.roles.push_back(role.string_value());
      }
    }
    return principal;
  }

  bool HasAudience(const Struct& claims) const {
    const Value* aud = FindField(claims, "aud");
    if (aud == nullptr) return false;
    if (aud->kind_case() == Value::kStringValue) {
      return aud->string_value() == audience_;
    }
    if (aud->kind_case() != Value::kListValue) return false;
    const auto& values = aud->list_value().values();
    return std::any_of(values.begin(), values.end(), [this](const Value& v) {
      return v.kind_case() == Value::kStringValue && v.string_value() == audience_;
    });
  }

  const std::string issuer_;
  const std::string audience_;
  const absl::Duration clock_skew_;
  const absl::Duration max_lifetime_;
  const bool accept_high_s_;
  const size_t cache_capacity_;
  const absl::flat_hash_map<std::string, PkeyPtr> keys_;
  const Clock& clock_;

  mutable absl::Mutex mu_;
  mutable absl::flat_hash_map<std::string, CacheEntry> cache_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

bool Principal::HasRole(std::string_view role) const {
  return std::find(roles.begin(), roles.end(), role) != roles.end();
}

absl::StatusOr<std::unique_ptr<TokenVerifier>> MakeTokenVerifier(
    TokenVerifierOptions options, const Clock& clock) {
  if (options.issuer.empty()) {
    return absl::InvalidArgumentError("token verifier: issuer is required");
  }
  if (options.audience.empty()) {
    return absl::InvalidArgumentError("token verifier: audience is required");
  }
  if (options.public_keys_pem.empty()) {
    return absl::InvalidArgumentError(
        "token verifier: at least one public key is required");
  }
  if (options.clock_skew < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("token verifier: clock skew must not be negative");
  }
  if (options.max_lifetime <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("token verifier: maximum lifetime must be positive");
  }
  absl::flat_hash_map<std::string, PkeyPtr> keys;
  for (const auto& [kid, pem] : options.public_keys_pem) {
    if (kid.empty()) {
      return absl::InvalidArgumentError("token verifier: empty key id");
    }
    absl::StatusOr<PkeyPtr> key = ParsePublicKey(pem);
    if (!key.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("token verifier: key \"", kid, "\": ", key.status().message()));
    }
    keys.emplace(kid, *std::move(key));
  }
  return std::make_unique<Es256TokenVerifier>(std::move(options), std::move(keys), clock);
}

absl::StatusOr<std::string> MintToken(std::string_view private_key_pem,
                                      std::string_view kid, const TokenClaims& claims) {
  if (kid.empty()) return absl::InvalidArgumentError("key id is required");
  if (claims.issued_at == absl::InfinitePast() ||
      claims.issued_at == absl::InfiniteFuture() ||
      claims.expires_at == absl::InfinitePast() ||
      claims.expires_at == absl::InfiniteFuture()) {
    return absl::InvalidArgumentError("issued_at and expires_at must be finite");
  }
  absl::StatusOr<PkeyPtr> key = ParsePrivateKey(private_key_pem);
  if (!key.ok()) return key.status();

  std::string header =
      absl::StrCat(R"({"alg":"ES256","typ":"JWT","kid":)", JsonString(kid), "}");
  // Empty claims are left out rather than written as "", so tests can mint tokens
  // that lack a claim.
  std::string payload = absl::StrCat("{\"iss\":", JsonString(claims.issuer),
                                     ",\"aud\":", JsonString(claims.audience));
  if (!claims.subject.empty()) {
    absl::StrAppend(&payload, ",\"sub\":", JsonString(claims.subject));
  }
  if (!claims.organization.empty()) {
    absl::StrAppend(&payload, ",\"org\":", JsonString(claims.organization));
  }
  if (!claims.municipality.empty()) {
    absl::StrAppend(&payload, ",\"municipality\":", JsonString(claims.municipality));
  }
  absl::StrAppend(&payload, ",\"roles\":[");
  for (size_t i = 0; i < claims.roles.size(); ++i) {
    absl::StrAppend(&payload, i == 0 ? "" : ",", JsonString(claims.roles[i]));
  }
  absl::StrAppend(&payload, "],\"iat\":", absl::ToUnixSeconds(claims.issued_at),
                  ",\"exp\":", absl::ToUnixSeconds(claims.expires_at), "}");

  std::string signing_input = absl::StrCat(absl::WebSafeBase64Escape(header), ".",
                                           absl::WebSafeBase64Escape(payload));
  absl::StatusOr<std::string> signature = SignEs256(key->get(), signing_input);
  if (!signature.ok()) return signature.status();
  return absl::StrCat(signing_input, ".", absl::WebSafeBase64Escape(*signature));
}

absl::StatusOr<KeyPairPem> GenerateEs256KeyPair() {
  PkeyPtr pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (pkey == nullptr) {
    return absl::InternalError(
        absl::StrCat("cannot generate a P-256 key: ", TakeOpenSslError()));
  }
  BioPtr private_bio(BIO_new(BIO_s_mem()));
  BioPtr public_bio(BIO_new(BIO_s_mem()));
  // PEM_write_bio_PrivateKey writes PKCS#8 ("PRIVATE KEY").
  if (private_bio == nullptr || public_bio == nullptr ||
      PEM_write_bio_PrivateKey(private_bio.get(), pkey.get(), nullptr, nullptr, 0,
                               nullptr, nullptr) != 1 ||
      PEM_write_bio_PUBKEY(public_bio.get(), pkey.get()) != 1) {
    return absl::InternalError(
        absl::StrCat("cannot write the key pair: ", TakeOpenSslError()));
  }
  return KeyPairPem{BioContents(private_bio.get()), BioContents(public_bio.get())};
}

}  // namespace samplan
