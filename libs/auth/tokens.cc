#include "libs/auth/tokens.h"

#include <jwt.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <utility>

#include <nlohmann/json.hpp>

#include "absl/memory/memory.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "libs/status/status_macros.h"

namespace meldpunt::auth {
namespace {

using Json = nlohmann::json;

absl::Status Unauthenticated(absl::string_view why) {
  return absl::UnauthenticatedError(absl::StrCat("bearer token: ", why));
}

struct JwtDeleter {
  void operator()(jwt_t* jwt) const { jwt_free(jwt); }
};
struct PkeyDeleter {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct BnDeleter {
  void operator()(BIGNUM* bn) const { BN_free(bn); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyDeleter>;
using Bn = std::unique_ptr<BIGNUM, BnDeleter>;

// A claim that names someone or something: 1-128 printable ASCII characters.
bool IsName(const char* value) {
  if (value == nullptr) return false;
  const absl::string_view text(value);
  if (text.empty() || text.size() > 128) return false;
  for (char c : text) {
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

bool IsAlgorithm(absl::string_view name) {
  for (absl::string_view a :
       {"HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256", "ES384", "ES512"}) {
    if (name == a) return true;
  }
  return false;
}

std::string Base64Url(absl::string_view bytes) {
  std::string out;
  absl::WebSafeBase64Escape(bytes, &out);  // without padding
  return out;
}

std::string BnBytes(const BIGNUM* bn, int width = 0) {
  const int size = width > 0 ? width : BN_num_bytes(bn);
  std::string out(static_cast<size_t>(size), '\0');
  BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), size);
  return out;
}

absl::StatusOr<std::string> PemOf(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  if (bio == nullptr || PEM_write_bio_PUBKEY(bio, key) != 1) {
    BIO_free(bio);
    return absl::InternalError("cannot write the public key as PEM");
  }
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(size));
  BIO_free(bio);
  return pem;
}

// The string member `name` of a JSON object from outside: "" when it is absent, nullopt when it
// is there but not a string (nlohmann's value() would throw type_error for that, and an exception
// from a caller's input must not end the process).
std::optional<std::string> StringMember(const Json& object, const char* name) {
  const auto it = object.find(name);
  if (it == object.end()) return std::string();
  if (!it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

// The same in a key set: INVALID_ARGUMENT naming the entry's member when it is not a string.
absl::StatusOr<std::string> KeyMember(const Json& jwk, const std::string& where, const char* name) {
  std::optional<std::string> value = StringMember(jwk, name);
  if (!value) return absl::InvalidArgumentError(absl::StrCat(where, ".", name, ": not a string"));
  return *std::move(value);
}

// The public key of an RSA or EC JWK (`kty` its type, as ParseKey read it), as PEM (what libjwt
// verifies with).
absl::StatusOr<std::string> PublicPem(const Json& jwk, const std::string& where,
                                      const std::string& kty) {
  auto field = [&](const char* name) -> absl::StatusOr<std::string> {
    if (!jwk.contains(name) || !jwk[name].is_string()) {
      return absl::InvalidArgumentError(absl::StrCat(where, ".", name, ": required for kty ", kty));
    }
    std::string bytes;
    if (!absl::WebSafeBase64Unescape(jwk[name].get<std::string>(), &bytes) || bytes.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(where, ".", name, ": not base64url"));
    }
    return bytes;
  };
  OSSL_PARAM_BLD* build = OSSL_PARAM_BLD_new();
  std::unique_ptr<OSSL_PARAM_BLD, decltype(&OSSL_PARAM_BLD_free)> build_owner(build,
                                                                              OSSL_PARAM_BLD_free);
  Bn n, e;
  std::string point, group;
  if (kty == "RSA") {
    absl::StatusOr<std::string> n_bytes = field("n");
    if (!n_bytes.ok()) return n_bytes.status();
    absl::StatusOr<std::string> e_bytes = field("e");
    if (!e_bytes.ok()) return e_bytes.status();
    if (n_bytes->size() < 256) {
      return absl::InvalidArgumentError(absl::StrCat(where, ".n: an RSA key needs 2048 bits"));
    }
    n.reset(BN_bin2bn(reinterpret_cast<const unsigned char*>(n_bytes->data()),
                      static_cast<int>(n_bytes->size()), nullptr));
    e.reset(BN_bin2bn(reinterpret_cast<const unsigned char*>(e_bytes->data()),
                      static_cast<int>(e_bytes->size()), nullptr));
    OSSL_PARAM_BLD_push_BN(build, OSSL_PKEY_PARAM_RSA_N, n.get());
    OSSL_PARAM_BLD_push_BN(build, OSSL_PKEY_PARAM_RSA_E, e.get());
  } else {
    ASSIGN_OR_RETURN(const std::string crv, KeyMember(jwk, where, "crv"));
    size_t width = 0;
    if (crv == "P-256") {
      group = "prime256v1";
      width = 32;
    } else if (crv == "P-384") {
      group = "secp384r1";
      width = 48;
    } else if (crv == "P-521") {
      group = "secp521r1";
      width = 66;
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ".crv: '", crv, "' is not one of P-256, P-384, P-521"));
    }
    absl::StatusOr<std::string> x = field("x");
    if (!x.ok()) return x.status();
    absl::StatusOr<std::string> y = field("y");
    if (!y.ok()) return y.status();
    if (x->size() != width || y->size() != width) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ".x: x and y of ", crv, " are ", width, " bytes each"));
    }
    point = absl::StrCat(std::string(1, '\x04'), *x, *y);  // uncompressed point
    OSSL_PARAM_BLD_push_utf8_string(build, OSSL_PKEY_PARAM_GROUP_NAME, group.c_str(), 0);
    OSSL_PARAM_BLD_push_octet_string(build, OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size());
  }
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(build);
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, kty == "RSA" ? "RSA" : "EC", nullptr);
  EVP_PKEY* raw = nullptr;
  const bool made = params != nullptr && ctx != nullptr && EVP_PKEY_fromdata_init(ctx) == 1 &&
                    EVP_PKEY_fromdata(ctx, &raw, EVP_PKEY_PUBLIC_KEY, params) == 1;
  Pkey key(raw);
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params);
  if (!made || key == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": not a valid ", kty, " public key"));
  }
  if (kty == "EC") {
    EVP_PKEY_CTX* check = EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr);
    const bool on_curve = check != nullptr && EVP_PKEY_public_check(check) == 1;
    EVP_PKEY_CTX_free(check);
    if (!on_curve) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": the point is not on ", group));
    }
  }
  return PemOf(key.get());
}

absl::StatusOr<VerificationKey> ParseKey(const Json& jwk, const std::string& where) {
  if (!jwk.is_object()) return absl::InvalidArgumentError(absl::StrCat(where, ": not an object"));
  VerificationKey key;
  if (!jwk.contains("kid") || !jwk["kid"].is_string() ||
      !IsName(jwk["kid"].get<std::string>().c_str())) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ".kid: required, 1-128 printable characters"));
  }
  key.kid = jwk["kid"].get<std::string>();
  ASSIGN_OR_RETURN(key.algorithm, KeyMember(jwk, where, "alg"));
  if (!IsAlgorithm(key.algorithm)) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ".alg: '", key.algorithm,
                     "' is not one of HS256, HS384, HS512, RS256, RS384, RS512, ES256, ES384, "
                     "ES512"));
  }
  if (jwk.contains("use") && jwk["use"] != "sig") {
    return absl::InvalidArgumentError(absl::StrCat(where, ".use: must be sig"));
  }
  ASSIGN_OR_RETURN(const std::string kty, KeyMember(jwk, where, "kty"));
  const char family = key.algorithm[0];
  if ((family == 'H' && kty != "oct") || (family == 'R' && kty != "RSA") ||
      (family == 'E' && kty != "EC")) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ".kty: '", kty, "' does not fit alg ", key.algorithm));
  }
  if (kty == "oct") {
    std::string secret;
    if (!jwk.contains("k") || !jwk["k"].is_string() ||
        !absl::WebSafeBase64Unescape(jwk["k"].get<std::string>(), &secret) || secret.size() < 32) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ".k: a shared secret of at least 32 bytes, base64url"));
    }
    key.key = std::move(secret);
    return key;
  }
  for (const char* part : {"d", "p", "q", "dp", "dq", "qi"}) {
    if (jwk.contains(part)) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ".", part, ": a private key does not belong in the key set"));
    }
  }
  absl::StatusOr<std::string> pem = PublicPem(jwk, where, kty);
  if (!pem.ok()) return pem.status();
  key.key = *std::move(pem);
  return key;
}

absl::StatusOr<std::string> ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("cannot read '", path, "'"));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

int64_t ModifiedNs(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return -1;
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec +
         static_cast<int64_t>(st.st_size);
}

// The protected header of a compact JWS, parsed (before any key is chosen).
absl::StatusOr<Json> Header(absl::string_view token) {
  const std::vector<absl::string_view> parts = absl::StrSplit(token, '.');
  if (parts.size() != 3) return Unauthenticated("not a signed JWT (header.payload.signature)");
  std::string header;
  if (!absl::WebSafeBase64Unescape(parts[0], &header)) {
    return Unauthenticated("the header is not base64url");
  }
  Json json = Json::parse(header, nullptr, false);
  if (!json.is_object()) return Unauthenticated("the header is not a JSON object");
  return json;
}

bool AudienceHolds(jwt_t* jwt, const std::string& audience) {
  char* json = jwt_get_grants_json(jwt, "aud");
  if (json == nullptr) return false;
  const Json aud = Json::parse(json, nullptr, false);
  std::free(json);
  if (aud.is_string()) return aud.get<std::string>() == audience;
  if (aud.is_array()) {
    for (const auto& a : aud) {
      if (a.is_string() && a.get<std::string>() == audience) return true;
    }
  }
  return false;
}

}  // namespace

absl::StatusOr<std::vector<VerificationKey>> ParseKeySet(absl::string_view json,
                                                         absl::string_view key) {
  const Json doc = Json::parse(json, nullptr, false);
  if (!doc.is_object() || !doc.contains("keys") || !doc["keys"].is_array()) {
    return absl::InvalidArgumentError(
        absl::StrCat(key, ": not a JSON Web Key Set ({\"keys\": [...]})"));
  }
  std::vector<VerificationKey> keys;
  for (size_t i = 0; i < doc["keys"].size(); ++i) {
    absl::StatusOr<VerificationKey> k =
        ParseKey(doc["keys"][i], absl::StrCat(key, ": keys[", i, "]"));
    if (!k.ok()) return k.status();
    for (const VerificationKey& other : keys) {
      if (other.kid == k->kid) {
        return absl::InvalidArgumentError(
            absl::StrCat(key, ": keys[", i, "].kid: '", k->kid, "' appears twice"));
      }
    }
    keys.push_back(*std::move(k));
  }
  if (keys.empty()) return absl::InvalidArgumentError(absl::StrCat(key, ": holds no keys"));
  return keys;
}

absl::StatusOr<std::string> PublicKeyJwk(absl::string_view pem, absl::string_view kid,
                                         absl::string_view algorithm) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  Pkey key(PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr));
  BIO_free(bio);
  if (key == nullptr) return absl::InvalidArgumentError("not a PEM public key");
  Json jwk = {{"kid", std::string(kid)}, {"alg", std::string(algorithm)}, {"use", "sig"}};
  if (EVP_PKEY_is_a(key.get(), "RSA")) {
    BIGNUM* n = nullptr;
    BIGNUM* e = nullptr;
    EVP_PKEY_get_bn_param(key.get(), OSSL_PKEY_PARAM_RSA_N, &n);
    EVP_PKEY_get_bn_param(key.get(), OSSL_PKEY_PARAM_RSA_E, &e);
    Bn n_owner(n), e_owner(e);
    if (n == nullptr || e == nullptr) return absl::InvalidArgumentError("an unreadable RSA key");
    jwk["kty"] = "RSA";
    jwk["n"] = Base64Url(BnBytes(n));
    jwk["e"] = Base64Url(BnBytes(e));
  } else if (EVP_PKEY_is_a(key.get(), "EC")) {
    char group[64] = {0};
    size_t length = 0;
    EVP_PKEY_get_utf8_string_param(key.get(), OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                   &length);
    const absl::string_view name(group, length);
    const char* crv = name == "prime256v1"  ? "P-256"
                      : name == "secp384r1" ? "P-384"
                      : name == "secp521r1" ? "P-521"
                                            : nullptr;
    const int width = name == "prime256v1" ? 32 : name == "secp384r1" ? 48 : 66;
    if (crv == nullptr) return absl::InvalidArgumentError(absl::StrCat("curve ", name));
    BIGNUM* x = nullptr;
    BIGNUM* y = nullptr;
    EVP_PKEY_get_bn_param(key.get(), OSSL_PKEY_PARAM_EC_PUB_X, &x);
    EVP_PKEY_get_bn_param(key.get(), OSSL_PKEY_PARAM_EC_PUB_Y, &y);
    Bn x_owner(x), y_owner(y);
    if (x == nullptr || y == nullptr) return absl::InvalidArgumentError("an unreadable EC key");
    jwk["kty"] = "EC";
    jwk["crv"] = crv;
    jwk["x"] = Base64Url(BnBytes(x, width));
    jwk["y"] = Base64Url(BnBytes(y, width));
  } else {
    return absl::InvalidArgumentError("neither an RSA nor an EC key");
  }
  return jwk.dump();
}

absl::StatusOr<std::unique_ptr<TokenVerifier>> TokenVerifier::FromFile(std::string path,
                                                                       TokenRules rules) {
  absl::StatusOr<std::string> text = ReadText(path);
  if (!text.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("auth.jwt.key_set_file: ", text.status().message()));
  }
  absl::StatusOr<std::vector<VerificationKey>> keys = ParseKeySet(*text, "auth.jwt.key_set_file");
  if (!keys.ok()) return keys.status();
  auto verifier = absl::WrapUnique(new TokenVerifier(path, rules));
  absl::MutexLock lock(&verifier->mu_);
  verifier->keys_ = std::make_shared<const std::vector<VerificationKey>>(*std::move(keys));
  verifier->modified_ns_ = ModifiedNs(path);
  verifier->checked_ = absl::Now();
  return verifier;
}

absl::StatusOr<std::unique_ptr<TokenVerifier>> TokenVerifier::FromKeys(
    std::vector<VerificationKey> keys, TokenRules rules) {
  auto verifier = absl::WrapUnique(new TokenVerifier("", rules));
  absl::MutexLock lock(&verifier->mu_);
  verifier->keys_ = std::make_shared<const std::vector<VerificationKey>>(std::move(keys));
  return verifier;
}

std::shared_ptr<const std::vector<VerificationKey>> TokenVerifier::Keys(absl::Time now) const {
  absl::MutexLock lock(&mu_);
  if (path_.empty() || now - checked_ < absl::Seconds(5)) return keys_;
  checked_ = now;
  const int64_t modified = ModifiedNs(path_);
  if (modified == modified_ns_) return keys_;
  modified_ns_ = modified;
  absl::StatusOr<std::string> text = ReadText(path_);
  if (!text.ok()) return keys_;  // the keys in force stay (a rotation writes the file anew)
  absl::StatusOr<std::vector<VerificationKey>> keys = ParseKeySet(*text, path_);
  if (keys.ok()) keys_ = std::make_shared<const std::vector<VerificationKey>>(*std::move(keys));
  return keys_;
}

absl::StatusOr<Principal> TokenVerifier::Verify(absl::string_view token, absl::Time now) const {
  if (token.empty() || token.size() > 8192) {
    return Unauthenticated("empty or longer than 8192 characters");
  }
  absl::StatusOr<Json> header = Header(token);
  if (!header.ok()) return header.status();
  if (!header->contains("kid") || !(*header)["kid"].is_string()) {
    return Unauthenticated("the header names no key (kid)");
  }
  const std::string kid = (*header)["kid"].get<std::string>();
  const std::optional<std::string> named_alg = StringMember(*header, "alg");
  if (!named_alg) return Unauthenticated("the header's algorithm (alg) is not a string");
  const std::string& alg = *named_alg;
  std::shared_ptr<const std::vector<VerificationKey>> keys = Keys(now);
  const VerificationKey* key = nullptr;
  for (const VerificationKey& k : *keys) {
    if (k.kid == kid) key = &k;
  }
  if (key == nullptr) return Unauthenticated("its key (kid) is not in the key set");
  // The key decides the algorithm: a token naming another (none, or HS256 signed with the public
  // key as secret) is refused before libjwt sees it, and checked again after.
  if (alg != key->algorithm) {
    return Unauthenticated(absl::StrCat("signed with ", alg.empty() ? "no algorithm" : alg,
                                        ", its key is for ", key->algorithm));
  }
  jwt_t* raw = nullptr;
  const std::string text(token);
  const int error =
      jwt_decode(&raw, text.c_str(), reinterpret_cast<const unsigned char*>(key->key.data()),
                 static_cast<int>(key->key.size()));
  std::unique_ptr<jwt_t, JwtDeleter> jwt(raw);
  if (error != 0 || jwt == nullptr) return Unauthenticated("its signature does not verify");
  if (jwt_get_alg(jwt.get()) != jwt_str_alg(key->algorithm.c_str())) {
    return Unauthenticated(absl::StrCat("signed with ", jwt_alg_str(jwt_get_alg(jwt.get())),
                                        ", its key is for ", key->algorithm));
  }
  errno = 0;
  const long exp = jwt_get_grant_int(jwt.get(), "exp");
  if (errno != 0) return Unauthenticated("no numeric 'exp' claim");
  errno = 0;
  const long iat = jwt_get_grant_int(jwt.get(), "iat");
  if (errno != 0) return Unauthenticated("no numeric 'iat' claim");
  if (absl::FromUnixSeconds(exp) + rules_.clock_skew <= now) {
    return Unauthenticated(
        absl::StrCat("expired at ", absl::FormatTime(absl::FromUnixSeconds(exp))));
  }
  if (absl::FromUnixSeconds(iat) - rules_.clock_skew > now) {
    return Unauthenticated("issued in the future (iat)");
  }
  if (absl::Seconds(exp - iat) > rules_.max_lifetime) {
    return Unauthenticated(absl::StrCat("valid for longer than ",
                                        absl::FormatDuration(rules_.max_lifetime),
                                        " (exp - iat); ask for a shorter-lived token"));
  }
  errno = 0;
  const long nbf = jwt_get_grant_int(jwt.get(), "nbf");
  if (errno == 0 && absl::FromUnixSeconds(nbf) - rules_.clock_skew > now) {
    return Unauthenticated("not valid yet (nbf)");
  }
  const char* iss = jwt_get_grant(jwt.get(), "iss");
  if (iss == nullptr || rules_.issuer != iss) {
    return Unauthenticated(absl::StrCat("issuer must be '", rules_.issuer, "'"));
  }
  if (!AudienceHolds(jwt.get(), rules_.audience)) {
    return Unauthenticated(absl::StrCat("audience must include '", rules_.audience, "'"));
  }
  Principal who;
  const char* sub = jwt_get_grant(jwt.get(), "sub");
  if (!IsName(sub)) return Unauthenticated("'sub' must be 1-128 printable characters");
  who.subject = sub;
  const char* role = jwt_get_grant(jwt.get(), "role");
  if (role == nullptr || !ParseRole(role, &who.role)) {
    return Unauthenticated("'role' must be one of submitter, department, team, ops, admin");
  }
  if (who.role == Role::kDepartment) {
    const char* department = jwt_get_grant(jwt.get(), "department");
    if (!IsName(department)) {
      return Unauthenticated("the department role needs a 'department' claim");
    }
    who.department = department;
  }
  return who;
}

}  // namespace meldpunt::auth
