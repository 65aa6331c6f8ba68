// Every authentication outcome of a bearer token and a client certificate, and the role table
// against every method the protos declare. Keys are made fresh per run with OpenSSL.
#include "libs/auth/auth.h"

#include <jwt.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <google/protobuf/descriptor.h>
#include <gtest/gtest.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "libs/auth/certificates.h"
#include "libs/auth/limits.h"
#include "libs/auth/tokens.h"
#include "meldpunt/deadline/v1/deadline.grpc.pb.h"
#include "meldpunt/intake/v1/intake.grpc.pb.h"
#include "meldpunt/notification/v1/notification.grpc.pb.h"
#include "meldpunt/routing/v1/routing.grpc.pb.h"

namespace meldpunt::auth {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1'796'000'000);  // 2026-11-29
constexpr char kSecret[] = "a-test-secret-of-at-least-32-bytes-long";

struct RsaKeys {
  std::string private_pem;
  std::string public_pem;
};

RsaKeys MakeRsaKeys() {
  EVP_PKEY* key = EVP_RSA_gen(2048);
  EXPECT_NE(key, nullptr);
  RsaKeys keys;
  char* data = nullptr;
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  long size = BIO_get_mem_data(bio, &data);
  keys.private_pem.assign(data, static_cast<size_t>(size));
  BIO_free(bio);
  bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, key);
  size = BIO_get_mem_data(bio, &data);
  keys.public_pem.assign(data, static_cast<size_t>(size));
  BIO_free(bio);
  EVP_PKEY_free(key);
  return keys;
}

const RsaKeys& Keys() {
  static const RsaKeys* keys = new RsaKeys(MakeRsaKeys());
  return *keys;
}

struct Claims {
  std::string sub = "web-form";
  std::string role = "submitter";
  std::string department;
  long iat = absl::ToUnixSeconds(kNow) - 60;
  long exp = absl::ToUnixSeconds(kNow) + 600;
  long nbf = 0;
  std::string iss = "meldpunt-idp";
  std::string aud_json = "\"meldpunt\"";
  std::string kid = "rsa-1";
};

std::string Sign(const Claims& c, jwt_alg_t alg, const std::string& key) {
  jwt_t* jwt = nullptr;
  jwt_new(&jwt);
  if (!c.kid.empty()) jwt_add_header(jwt, "kid", c.kid.c_str());
  if (!c.sub.empty()) jwt_add_grant(jwt, "sub", c.sub.c_str());
  if (!c.role.empty()) jwt_add_grant(jwt, "role", c.role.c_str());
  if (!c.department.empty()) jwt_add_grant(jwt, "department", c.department.c_str());
  if (c.iat != 0) jwt_add_grant_int(jwt, "iat", c.iat);
  if (c.exp != 0) jwt_add_grant_int(jwt, "exp", c.exp);
  if (c.nbf != 0) jwt_add_grant_int(jwt, "nbf", c.nbf);
  if (!c.iss.empty()) jwt_add_grant(jwt, "iss", c.iss.c_str());
  if (!c.aud_json.empty())
    jwt_add_grants_json(jwt, absl::StrCat("{\"aud\":", c.aud_json, "}").c_str());
  jwt_set_alg(jwt, alg,
              alg == JWT_ALG_NONE ? nullptr : reinterpret_cast<const unsigned char*>(key.data()),
              alg == JWT_ALG_NONE ? 0 : static_cast<int>(key.size()));
  char* text = jwt_encode_str(jwt);
  std::string token = text == nullptr ? "" : text;
  std::free(text);
  jwt_free(jwt);
  return token;
}

std::string Rs(const Claims& c) { return Sign(c, JWT_ALG_RS256, Keys().private_pem); }

const TokenRules kRules{.issuer = "meldpunt-idp",
                        .audience = "meldpunt",
                        .max_lifetime = absl::Hours(24),
                        .clock_skew = absl::Seconds(30)};

// A key set of the test RSA key ("rsa-1") and a shared secret ("hs-1").
std::string KeySetJson() {
  absl::StatusOr<std::string> rsa = PublicKeyJwk(Keys().public_pem, "rsa-1", "RS256");
  EXPECT_TRUE(rsa.ok()) << rsa.status();
  std::string secret;
  absl::WebSafeBase64Escape(kSecret, &secret);
  return absl::StrCat("{\"keys\": [", *rsa,
                      R"(, {"kty": "oct", "kid": "hs-1", "alg": "HS256", "k": ")", secret, "\"}]}");
}

std::unique_ptr<TokenVerifier> Verifier() {
  auto keys = ParseKeySet(KeySetJson(), "auth.jwt.key_set_file");
  EXPECT_TRUE(keys.ok()) << keys.status();
  auto v = TokenVerifier::FromKeys(*std::move(keys), kRules);
  EXPECT_TRUE(v.ok()) << v.status();
  return *std::move(v);
}

std::string Why(const absl::StatusOr<Principal>& result) {
  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnauthenticated) << result.status();
  return std::string(result.status().message());
}

void WriteFile(const std::string& path, const std::string& text) {
  FILE* f = std::fopen(path.c_str(), "w");
  ASSERT_NE(f, nullptr) << path;
  std::fputs(text.c_str(), f);
  std::fclose(f);
}

TEST(Tokens, AValidTokenGivesItsPrincipal) {
  Claims department;
  department.sub = "j.peeters";
  department.role = "department";
  department.department = "roads";
  department.aud_json = "[\"other\", \"meldpunt\"]";
  absl::StatusOr<Principal> who = Verifier()->Verify(Rs(department), kNow);
  ASSERT_TRUE(who.ok()) << who.status();
  EXPECT_EQ(who->subject, "j.peeters");
  EXPECT_EQ(who->role, Role::kDepartment);
  EXPECT_EQ(who->department, "roads");
  EXPECT_TRUE(who->authenticated);
  EXPECT_EQ(ActorId(*who), "department:roads/j.peeters");

  Claims team;
  team.role = "team";
  team.kid = "hs-1";
  who = Verifier()->Verify(Sign(team, JWT_ALG_HS256, kSecret), kNow);
  ASSERT_TRUE(who.ok()) << who.status();
  EXPECT_EQ(who->role, Role::kTeam);
  EXPECT_EQ(ActorId(*who), "team:web-form");
}

TEST(Tokens, ExpiredOrNotYetValidTokensAreUnauthenticated) {
  Claims c;
  c.exp = absl::ToUnixSeconds(kNow) - 31;  // beyond the 30 s of clock skew
  EXPECT_NE(Why(Verifier()->Verify(Rs(c), kNow)).find("expired"), std::string::npos);
  c.exp = absl::ToUnixSeconds(kNow) - 10;  // within the skew: still accepted
  EXPECT_TRUE(Verifier()->Verify(Rs(c), kNow).ok());
  c.exp = 0;
  EXPECT_NE(Why(Verifier()->Verify(Rs(c), kNow)).find("'exp'"), std::string::npos);
  c.exp = absl::ToUnixSeconds(kNow) + 600;
  c.nbf = absl::ToUnixSeconds(kNow) + 120;
  EXPECT_NE(Why(Verifier()->Verify(Rs(c), kNow)).find("nbf"), std::string::npos);
}

TEST(Tokens, ALifetimeBeyondTheCapIsRefused) {
  Claims c;
  c.exp = absl::ToUnixSeconds(kNow + absl::Hours(24 * 365 * 3));  // three years
  EXPECT_NE(Why(Verifier()->Verify(Rs(c), kNow)).find("longer than"), std::string::npos);
  c = {};
  c.iat = 0;  // no iat: the lifetime cannot be told
  EXPECT_NE(Why(Verifier()->Verify(Rs(c), kNow)).find("'iat'"), std::string::npos);
  c = {};
  c.iat = absl::ToUnixSeconds(kNow + absl::Hours(1));
  EXPECT_NE(Why(Verifier()->Verify(Rs(c), kNow)).find("future"), std::string::npos);
  c = {};
  c.iat = absl::ToUnixSeconds(kNow - absl::Hours(23));
  c.exp = absl::ToUnixSeconds(kNow + absl::Minutes(59));  // 23h59m in all
  EXPECT_TRUE(Verifier()->Verify(Rs(c), kNow).ok());
}

TEST(Tokens, ForgedTamperedOrWronglySignedTokensAreUnauthenticated) {
  auto v = Verifier();
  // Signed by another key under a kid of the set.
  const RsaKeys other = MakeRsaKeys();
  EXPECT_NE(Why(v->Verify(Sign({}, JWT_ALG_RS256, other.private_pem), kNow)).find("signature"),
            std::string::npos);
  // A kid the set does not hold, and no kid at all.
  Claims unknown;
  unknown.kid = "rsa-9";
  EXPECT_NE(Why(v->Verify(Rs(unknown), kNow)).find("not in the key set"), std::string::npos);
  unknown.kid = "";
  EXPECT_NE(Why(v->Verify(Rs(unknown), kNow)).find("kid"), std::string::npos);
  // A payload changed after signing (the role raised to admin).
  std::string token = Rs({});
  const size_t first = token.find('.');
  const size_t second = token.find('.', first + 1);
  Claims admin;
  admin.role = "admin";
  const std::string forged = Rs(admin);
  const std::string payload = forged.substr(
      forged.find('.') + 1, forged.find('.', forged.find('.') + 1) - forged.find('.') - 1);
  token = token.substr(0, first + 1) + payload + token.substr(second);
  EXPECT_FALSE(v->Verify(token, kNow).ok());
  // alg "none", and HS256 with the public key as the HMAC secret (algorithm confusion), both
  // under the RSA key's kid.
  EXPECT_FALSE(v->Verify(Sign({}, JWT_ALG_NONE, ""), kNow).ok());
  EXPECT_NE(Why(v->Verify(Sign({}, JWT_ALG_HS256, Keys().public_pem), kNow)).find("RS256"),
            std::string::npos);
  // A header whose alg is not a string (a number, an object): refused, not an exception that
  // ends the process.
  for (const char* alg : {"5", "{}", "null", "[\"RS256\"]"}) {
    const std::string header =
        absl::WebSafeBase64Escape(absl::StrCat(R"({"kid": "rsa-1", "alg": )", alg, "}"));
    const std::string rest = Rs({}).substr(Rs({}).find('.'));
    absl::StatusOr<Principal> who = v->Verify(header + rest, kNow);
    EXPECT_EQ(who.status().code(), absl::StatusCode::kUnauthenticated) << alg;
    EXPECT_NE(Why(who).find("alg"), std::string::npos) << alg;
  }
  // Not a token at all.
  EXPECT_FALSE(v->Verify("not.a.token", kNow).ok());
  EXPECT_FALSE(v->Verify("", kNow).ok());
  EXPECT_FALSE(v->Verify(std::string(9000, 'a'), kNow).ok());
}

TEST(Tokens, IssuerAudienceAndClaimsAreChecked) {
  auto v = Verifier();
  Claims c;
  c.iss = "someone-else";
  EXPECT_NE(Why(v->Verify(Rs(c), kNow)).find("issuer"), std::string::npos);
  c = {};
  c.iss = "";
  EXPECT_NE(Why(v->Verify(Rs(c), kNow)).find("issuer"), std::string::npos);
  c = {};
  c.aud_json = "\"another-app\"";
  EXPECT_NE(Why(v->Verify(Rs(c), kNow)).find("audience"), std::string::npos);
  c = {};
  c.aud_json = "";
  EXPECT_NE(Why(v->Verify(Rs(c), kNow)).find("audience"), std::string::npos);
  c = {};
  c.role = "superuser";
  EXPECT_NE(Why(v->Verify(Rs(c), kNow)).find("'role'"), std::string::npos);
  c = {};
  c.sub = "";
  EXPECT_NE(Why(v->Verify(Rs(c), kNow)).find("'sub'"), std::string::npos);
  c = {};
  c.role = "department";  // without a department claim
  EXPECT_NE(Why(v->Verify(Rs(c), kNow)).find("'department'"), std::string::npos);
}

TEST(KeySets, BadKeySetsAreRefusedNamingTheEntry) {
  const auto why = [](const std::string& json) {
    return std::string(ParseKeySet(json, "auth.jwt.key_set_file").status().message());
  };
  EXPECT_NE(why("[]").find("JSON Web Key Set"), std::string::npos);
  EXPECT_NE(why(R"({"keys": []})").find("no keys"), std::string::npos);
  EXPECT_NE(
      why(R"({"keys": [{"kty": "oct", "alg": "HS256", "k": "c2hvcnQ"}]})").find("keys[0].kid"),
      std::string::npos);
  EXPECT_NE(why(R"({"keys": [{"kty": "oct", "kid": "a", "alg": "none", "k": "c2hvcnQ"}]})")
                .find("keys[0].alg"),
            std::string::npos);
  // Members of the wrong type are refused by name, not thrown (the fuzzer's "alg": 5).
  EXPECT_NE(why(R"({"keys": [{"kty": "oct", "kid": "hs", "alg": 5}]})").find("keys[0].alg"),
            std::string::npos);
  EXPECT_NE(why(R"({"keys": [{"kty": 1, "kid": "hs", "alg": "HS256"}]})").find("keys[0].kty"),
            std::string::npos);
  EXPECT_NE(why(R"({"keys": [{"kty": "EC", "kid": "e", "alg": "ES256", "crv": []}]})")
                .find("keys[0].crv"),
            std::string::npos);
  EXPECT_NE(why(R"({"keys": [{"kty": "oct", "kid": "a", "alg": "HS256", "k": "c2hvcnQ"}]})")
                .find("32 bytes"),
            std::string::npos);
  EXPECT_NE(why(R"({"keys": [{"kty": "oct", "kid": "a", "alg": "RS256", "k": "c2hvcnQ"}]})")
                .find("keys[0].kty"),
            std::string::npos);
  EXPECT_NE(why(R"({"keys": [{"kty": "EC", "kid": "a", "alg": "ES256", "crv": "P-256",
                              "x": "AAAA", "y": "AAAA"}]})")
                .find("keys[0].x"),
            std::string::npos);
  // A point that is not on the curve.
  const std::string zeros(43, 'A');
  EXPECT_NE(why(absl::StrCat(
                    R"({"keys": [{"kty": "EC", "kid": "a", "alg": "ES256", "crv": "P-256", "x": ")",
                    zeros, R"(", "y": ")", zeros, "\"}]}"))
                .find("keys[0]"),
            std::string::npos);
  // A private key in the set, and a kid twice.
  std::string rsa = *PublicKeyJwk(Keys().public_pem, "rsa-1", "RS256");
  std::string with_d = rsa;
  with_d.insert(1, "\"d\": \"AQAB\", ");
  EXPECT_NE(why(absl::StrCat("{\"keys\": [", with_d, "]}")).find("private"), std::string::npos);
  EXPECT_NE(why(absl::StrCat("{\"keys\": [", rsa, ",", rsa, "]}")).find("twice"),
            std::string::npos);
}

TEST(KeySets, AnEcKeyRoundTripsThroughItsJwk) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  ASSERT_NE(key, nullptr);
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, key);
  char* data = nullptr;
  std::string public_pem(data, 0);
  long size = BIO_get_mem_data(bio, &data);
  public_pem.assign(data, static_cast<size_t>(size));
  BIO_free(bio);
  bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  size = BIO_get_mem_data(bio, &data);
  const std::string private_pem(data, static_cast<size_t>(size));
  BIO_free(bio);
  EVP_PKEY_free(key);
  absl::StatusOr<std::string> jwk = PublicKeyJwk(public_pem, "ec-1", "ES256");
  ASSERT_TRUE(jwk.ok()) << jwk.status();
  auto keys = ParseKeySet(absl::StrCat("{\"keys\": [", *jwk, "]}"), "k");
  ASSERT_TRUE(keys.ok()) << keys.status();
  auto v = TokenVerifier::FromKeys(*std::move(keys), kRules);
  Claims c;
  c.kid = "ec-1";
  EXPECT_TRUE((*v)->Verify(Sign(c, JWT_ALG_ES256, private_pem), kNow).ok());
}

TEST(KeySets, ARotatedKeySetIsReadWithoutARestart) {
  const std::string path = ::testing::TempDir() + "/rotating-jwks.json";
  const RsaKeys next = MakeRsaKeys();
  WriteFile(path,
            absl::StrCat("{\"keys\": [", *PublicKeyJwk(Keys().public_pem, "rsa-1", "RS256"), "]}"));
  auto v = TokenVerifier::FromFile(path, kRules);
  ASSERT_TRUE(v.ok()) << v.status();
  Claims old_key;
  Claims new_key;
  new_key.kid = "rsa-2";
  EXPECT_TRUE((*v)->Verify(Rs(old_key), kNow).ok());
  const std::string new_token = Sign(new_key, JWT_ALG_RS256, next.private_pem);
  EXPECT_FALSE((*v)->Verify(new_token, kNow).ok());
  // The provider publishes rsa-2 beside rsa-1: both verify once the file is read again.
  WriteFile(path, absl::StrCat("{\"keys\": [", *PublicKeyJwk(Keys().public_pem, "rsa-1", "RS256"),
                               ",", *PublicKeyJwk(next.public_pem, "rsa-2", "RS256"), "]}"));
  const absl::Time later = absl::Now() + absl::Seconds(6);
  Claims old_later = old_key, new_later = new_key;
  old_later.iat = new_later.iat = absl::ToUnixSeconds(later) - 60;
  old_later.exp = new_later.exp = absl::ToUnixSeconds(later) + 600;
  EXPECT_TRUE((*v)->Verify(Sign(new_later, JWT_ALG_RS256, next.private_pem), later).ok());
  EXPECT_TRUE((*v)->Verify(Rs(old_later), later).ok());
  // A broken file leaves the keys in force; then rsa-1 is retired.
  WriteFile(path, "{\"keys\": [");
  const absl::Time later2 = later + absl::Seconds(6);
  EXPECT_TRUE((*v)->Verify(Rs(old_later), later2).ok());
  WriteFile(path,
            absl::StrCat("{\"keys\": [", *PublicKeyJwk(next.public_pem, "rsa-2", "RS256"), "]}"));
  const absl::Time later3 = later2 + absl::Seconds(6);
  EXPECT_NE(Why((*v)->Verify(Rs(old_later), later3)).find("not in the key set"), std::string::npos);
  EXPECT_TRUE((*v)->Verify(Sign(new_later, JWT_ALG_RS256, next.private_pem), later3).ok());
}

TEST(Options, PlaintextOnlyOnALoopbackIpAndTlsMustAuthenticate) {
  SecurityOptions dev;
  dev.plaintext_loopback = true;
  EXPECT_TRUE(CheckOptions(dev, "127.0.0.1:50051").ok());
  EXPECT_TRUE(CheckOptions(dev, "127.0.0.2:50051").ok());
  EXPECT_TRUE(CheckOptions(dev, "[::1]:50051").ok());
  // Names are not loopback, whatever they look like.
  for (const char* listen : {"localhost:0", "127.example.org:50051", "127.0.0.1.nip.io:1",
                             "0.0.0.0:50051", "[::]:1", "128.0.0.1:1", "127.1:1"}) {
    const absl::Status open = CheckOptions(dev, listen);
    EXPECT_EQ(open.code(), absl::StatusCode::kInvalidArgument) << listen;
    EXPECT_NE(open.message().find("grpc.plaintext_loopback"), std::string::npos) << listen;
  }
  EXPECT_NE(CheckOptions({}, "0.0.0.0:50051").message().find("grpc.tls.cert_file"),
            std::string::npos);
  SecurityOptions tls;
  tls.tls_cert_file = "server.pem";
  EXPECT_NE(CheckOptions(tls, "0.0.0.0:1").message().find("grpc.tls.key_file"), std::string::npos);
  tls.tls_key_file = "server.key";
  EXPECT_NE(CheckOptions(tls, "0.0.0.0:1").message().find("auth.jwt.key_set_file"),
            std::string::npos);
  tls.tls_client_ca_file = "clients.pem";
  EXPECT_TRUE(CheckOptions(tls, "0.0.0.0:1").ok());
  // Tokens need an issuer and an audience: a token made for another service must not pass.
  tls.jwt_key_set_file = "jwks.json";
  EXPECT_NE(CheckOptions(tls, "0.0.0.0:1").message().find("auth.jwt.issuer"), std::string::npos);
  tls.jwt_issuer = "idp";
  EXPECT_NE(CheckOptions(tls, "0.0.0.0:1").message().find("auth.jwt.audience"), std::string::npos);
  tls.jwt_audience = "meldpunt";
  EXPECT_TRUE(CheckOptions(tls, "0.0.0.0:1").ok());
  tls.jwt_max_lifetime = absl::Hours(24 * 365);
  EXPECT_NE(CheckOptions(tls, "0.0.0.0:1").message().find("auth.jwt.max_lifetime"),
            std::string::npos);
}

// A certificate with `entries` (NID, value) in its subject, self-signed (Admit parses the
// certificate gRPC verified; the chain is not what is tested here).
std::string Certificate(const std::vector<std::pair<int, std::string>>& entries) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  for (const auto& [nid, value] : entries) {
    X509_NAME_add_entry_by_NID(name, nid, MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>(value.c_str()), -1, -1, 0);
  }
  X509_set_issuer_name(cert, name);
  X509_sign(cert, key, EVP_sha256());
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, cert);
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(size));
  BIO_free(bio);
  X509_free(cert);
  EVP_PKEY_free(key);
  return pem;
}

TEST(Certificates, TheRoleComesFromTheOneOuOfTheParsedSubject) {
  absl::StatusOr<Principal> who =
      CertificatePrincipal(Certificate({{NID_commonName, "parks"},
                                        {NID_organizationalUnitName, "department"},
                                        {NID_organizationName, "City of Gent"}}));
  ASSERT_TRUE(who.ok()) << who.status();
  EXPECT_EQ(who->role, Role::kDepartment);
  EXPECT_EQ(who->department, "parks");
  // A CN that spells a second attribute (printed "CN=evil\,OU=admin,OU=submitter") is a name
  // with a comma: refused, never an admin.
  who = CertificatePrincipal(
      Certificate({{NID_commonName, "evil,OU=admin"}, {NID_organizationalUnitName, "submitter"}}));
  EXPECT_EQ(who.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(who.status().message().find("CN"), std::string::npos);
  // Two OUs: which one is the role is not for us to guess.
  who = CertificatePrincipal(Certificate({{NID_commonName, "crm"},
                                          {NID_organizationalUnitName, "submitter"},
                                          {NID_organizationalUnitName, "admin"}}));
  EXPECT_NE(who.status().message().find("more than one OU"), std::string::npos);
  who = CertificatePrincipal(Certificate({{NID_commonName, "crm"},
                                          {NID_commonName, "admin"},
                                          {NID_organizationalUnitName, "submitter"}}));
  EXPECT_NE(who.status().message().find("more than one CN"), std::string::npos);
  who = CertificatePrincipal(Certificate({{NID_commonName, "roads"}}));
  EXPECT_NE(who.status().message().find("no OU"), std::string::npos);
  who = CertificatePrincipal(
      Certificate({{NID_commonName, "roads"}, {NID_organizationalUnitName, "king"}}));
  EXPECT_NE(who.status().message().find("OU must be"), std::string::npos);
  // An OU that merely contains a role name is not that role.
  who = CertificatePrincipal(
      Certificate({{NID_commonName, "x"}, {NID_organizationalUnitName, "admin,OU=team"}}));
  EXPECT_FALSE(who.ok());
  EXPECT_FALSE(CertificatePrincipal("not a certificate").ok());
}

// A guard accepting tokens of the test key set and client certificates.
std::unique_ptr<Guard> TokenGuard() {
  const std::string key_file = ::testing::TempDir() + "/jwks.json";
  WriteFile(key_file, KeySetJson());
  SecurityOptions options;
  options.tls_cert_file = "unused";
  options.tls_key_file = "unused";
  options.tls_client_ca_file = "unused";
  options.jwt_key_set_file = key_file;
  options.jwt_issuer = "meldpunt-idp";
  options.jwt_audience = "meldpunt";
  auto guard = Guard::Create(options, nullptr);
  EXPECT_TRUE(guard.ok()) << guard.status();
  EXPECT_FALSE((*guard)->open());
  return *std::move(guard);
}

TEST(Guard, MissingOrMalformedCredentialsAreUnauthenticated) {
  auto guard = TokenGuard();
  EXPECT_NE(Why(guard->Admit("", "", methods::kGetCase, kNow)).find("missing credentials"),
            std::string::npos);
  EXPECT_NE(Why(guard->Admit("Basic dXNlcjpwYXNz", "", methods::kGetCase, kNow)).find("Bearer"),
            std::string::npos);
  EXPECT_NE(Why(guard->Admit("", Certificate({{NID_commonName, "roads"}}), methods::kGetCase, kNow))
                .find("OU"),
            std::string::npos);
  // The crafted certificate of the security review: refused, not admin.
  EXPECT_EQ(guard
                ->Admit("",
                        Certificate({{NID_commonName, "evil,OU=admin"},
                                     {NID_organizationalUnitName, "submitter"}}),
                        methods::kEraseReporterData, kNow)
                .status()
                .code(),
            absl::StatusCode::kUnauthenticated);
}

TEST(Guard, TheRoleDecidesWhichMethodsAreOpen) {
  auto guard = TokenGuard();
  const auto bearer = [](const std::string& role, const std::string& department = "") {
    Claims c;
    c.role = role;
    c.department = department;
    return "Bearer " + Rs(c);
  };
  EXPECT_TRUE(guard->Admit(bearer("submitter"), "", methods::kSubmitCase, kNow).ok());
  EXPECT_EQ(guard->Admit(bearer("ops"), "", methods::kGetCase, kNow).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(guard->Admit(bearer("ops"), "", methods::kListDeadlines, kNow).ok());
  // Changing a running clock is for the Meldpunt team (and admin), not ops or departments.
  for (absl::string_view method :
       {methods::kExtendClock, methods::kSuspendClock, methods::kResumeClock}) {
    EXPECT_TRUE(guard->Admit(bearer("team"), "", method, kNow).ok()) << method;
    EXPECT_TRUE(guard->Admit(bearer("admin"), "", method, kNow).ok()) << method;
    EXPECT_EQ(guard->Admit(bearer("ops"), "", method, kNow).status().code(),
              absl::StatusCode::kPermissionDenied)
        << method;
    EXPECT_EQ(guard->Admit(bearer("department", "roads"), "", method, kNow).status().code(),
              absl::StatusCode::kPermissionDenied)
        << method;
  }
  EXPECT_EQ(
      guard->Admit(bearer("department", "roads"), "", methods::kReassignCase, kNow).status().code(),
      absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(guard->Admit(bearer("department", "roads"), "", methods::kAcceptCase, kNow).ok());
  EXPECT_EQ(guard->Admit(bearer("team"), "", methods::kReloadRules, kNow).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(guard->Admit(bearer("admin"), "", methods::kReloadRules, kNow).ok());
  EXPECT_EQ(
      guard->Admit(bearer("admin"), "", "/meldpunt.intake.v1.Intake/Unknown", kNow).status().code(),
      absl::StatusCode::kPermissionDenied);
  // A certificate names its role in OU; the department role's department is its CN.
  const std::string parks = Certificate({{NID_commonName, "parks"},
                                         {NID_organizationalUnitName, "department"},
                                         {NID_organizationName, "City of Gent"}});
  absl::StatusOr<Principal> cert = guard->Admit("", parks, methods::kAcceptCase, kNow);
  ASSERT_TRUE(cert.ok()) << cert.status();
  EXPECT_EQ(cert->department, "parks");
  EXPECT_EQ(ActorId(*cert), "department:parks");
  // A token wins over the certificate.
  cert = guard->Admit(bearer("team"), parks, methods::kMergeCase, kNow);
  ASSERT_TRUE(cert.ok()) << cert.status();
  EXPECT_EQ(cert->role, Role::kTeam);
}

// The Open311 gateway speaks for the submitting system its API key names: with the gateway role
// and meldpunt-on-behalf-of the call is that system's, as a submitter; nobody else may send the
// header, and alone the gateway reads the catalogue only.
TEST(Guard, OnlyTheGatewaySpeaksForASubmittingSystem) {
  auto guard = TokenGuard();
  const auto bearer = [](const std::string& role, const std::string& subject) {
    Claims c;
    c.role = role;
    c.sub = subject;
    return "Bearer " + Rs(c);
  };
  absl::StatusOr<Principal> who =
      guard->Admit(bearer("gateway", "open311"), "", methods::kSubmitCase, kNow, "city-app");
  ASSERT_TRUE(who.ok()) << who.status();
  EXPECT_EQ(who->role, Role::kSubmitter);
  EXPECT_EQ(who->subject, "city-app");
  EXPECT_EQ(who->via, "open311");
  EXPECT_EQ(ActorId(*who), "submitter:city-app");
  EXPECT_TRUE(guard->MayUseCase(*who, "MP-1", "city-app", "roads", false).ok());
  EXPECT_EQ(guard->MayUseCase(*who, "MP-1", "web-form", "roads", false).code(),
            absl::StatusCode::kPermissionDenied);
  // Through the gateway a system has the submitter's methods only.
  EXPECT_EQ(guard->Admit(bearer("gateway", "open311"), "", methods::kAcceptCase, kNow, "city-app")
                .status()
                .code(),
            absl::StatusCode::kPermissionDenied);
  // A submitter (or the team) naming another system is refused, whatever it names.
  for (const char* role : {"submitter", "team", "admin", "ops"}) {
    absl::StatusOr<Principal> other =
        guard->Admit(bearer(role, "web-form"), "", methods::kGetCase, kNow, "city-app");
    EXPECT_EQ(other.status().code(), absl::StatusCode::kPermissionDenied) << role;
    EXPECT_NE(other.status().message().find("meldpunt-on-behalf-of"), absl::string_view::npos);
  }
  // A certificate with OU=gateway speaks the same way.
  const std::string gateway_cert =
      Certificate({{NID_commonName, "open311"}, {NID_organizationalUnitName, "gateway"}});
  who = guard->Admit("", gateway_cert, methods::kListCases, kNow, "city-app");
  ASSERT_TRUE(who.ok()) << who.status();
  EXPECT_EQ(who->subject, "city-app");
  // A name that is not a system's is refused.
  for (const char* bad : {"City-App", "a b", "x/../y", "submitter:admin"}) {
    EXPECT_FALSE(guard->Admit(bearer("gateway", "open311"), "", methods::kGetCase, kNow, bad).ok())
        << bad;
  }
  EXPECT_FALSE(
      guard->Admit(bearer("gateway", "open311"), "", methods::kGetCase, kNow, std::string(65, 'a'))
          .ok());
  // Alone, the gateway reads the catalogue and nothing else.
  EXPECT_TRUE(guard->Admit(bearer("gateway", "open311"), "", methods::kGetCategories, kNow).ok());
  EXPECT_EQ(guard->Admit(bearer("gateway", "open311"), "", methods::kGetCase, kNow).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(guard
                ->MayUseCase(Principal{.subject = "open311", .role = Role::kGateway}, "MP-1",
                             "open311", "", false)
                .code(),
            absl::StatusCode::kPermissionDenied);
}

TEST(Guard, CasesAreOpenOnlyToTheirSystemTheirDepartmentAndTheTeamWithOneRefusal) {
  auto guard = TokenGuard();
  Principal web{.subject = "web-form", .role = Role::kSubmitter};
  EXPECT_TRUE(guard->MayUseCase(web, "MP-1", "web-form", "roads", false).ok());
  const absl::Status other_system = guard->MayUseCase(web, "MP-1", "crm", "roads", false);
  EXPECT_EQ(other_system.code(), absl::StatusCode::kPermissionDenied);
  Principal roads{.subject = "j", .role = Role::kDepartment, .department = "roads"};
  EXPECT_TRUE(guard->MayUseCase(roads, "MP-1", "crm", "roads", false).ok());
  const absl::Status elsewhere = guard->MayUseCase(roads, "MP-1", "crm", "parks", false);
  const absl::Status confidential_elsewhere =
      guard->MayUseCase(roads, "MP-1", "crm", "parks", true);
  const absl::Status confidential_here = guard->MayUseCase(roads, "MP-1", "crm", "roads", true);
  Principal ops{.subject = "o", .role = Role::kOps};
  const absl::Status ops_refused = guard->MayUseCase(ops, "MP-1", "crm", "roads", false);
  // One refusal, whatever the reason: another department does not learn that a case is
  // confidential, nor a system whose case it is.
  for (const absl::Status& refused :
       {other_system, elsewhere, confidential_elsewhere, confidential_here, ops_refused}) {
    EXPECT_EQ(refused, guard->RefuseCase("MP-1"));
  }
  EXPECT_EQ(confidential_elsewhere.message().find("confidential"), std::string::npos);
  Principal team{.subject = "t", .role = Role::kTeam};
  EXPECT_TRUE(guard->MayUseCase(team, "MP-1", "crm", "roads", true).ok());
}

TEST(Guard, TheOpenDevelopmentGuardAdmitsEveryCallAsDev) {
  SecurityOptions dev;
  dev.plaintext_loopback = true;
  auto guard = Guard::Create(dev, nullptr);
  ASSERT_TRUE(guard.ok());
  EXPECT_TRUE((*guard)->open());
  absl::StatusOr<Principal> who = (*guard)->Admit("", "", methods::kRebuildProjection, kNow);
  ASSERT_TRUE(who.ok());
  EXPECT_FALSE(who->authenticated);
  // With a key set configured, plaintext on loopback still asks for tokens.
  dev.jwt_key_set_file = ::testing::TempDir() + "/jwks.json";
  dev.jwt_issuer = "meldpunt-idp";
  dev.jwt_audience = "meldpunt";
  TokenGuard();  // writes the key set
  guard = Guard::Create(dev, nullptr);
  ASSERT_TRUE(guard.ok()) << guard.status();
  EXPECT_FALSE((*guard)->open());
  EXPECT_EQ((*guard)->Admit("", "", methods::kGetCase, kNow).status().code(),
            absl::StatusCode::kUnauthenticated);
}

TEST(CallerLimit, OneCallerCannotTakeEveryPlace) {
  CallerLimit streams("deadline streams", 2, 3);
  Principal ops{.subject = "grafana", .role = Role::kOps};
  Principal other{.subject = "pager", .role = Role::kOps};
  auto a = streams.Acquire(ops);
  auto b = streams.Acquire(ops);
  ASSERT_TRUE(a.ok() && b.ok());
  const absl::Status third = streams.Acquire(ops).status();
  EXPECT_EQ(third.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(third.message().find("per caller"), std::string::npos);
  auto c = streams.Acquire(other);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_NE(streams.Acquire(Principal{.subject = "third", .role = Role::kTeam})
                .status()
                .message()
                .find("this replica"),
            std::string::npos);
  EXPECT_EQ(streams.in_use(), 3);
  { auto released = std::move(*a); }
  EXPECT_EQ(streams.in_use(), 2);
  EXPECT_TRUE(streams.Acquire(ops).ok());  // given back at once when it goes out of scope
  EXPECT_EQ(streams.in_use(), 2);
}

TEST(Policy, EveryMethodOfEveryServiceHasARule) {
  // Referenced so that the linker keeps each proto's descriptors.
  ASSERT_NE(intake::v1::SubmitCaseRequest::descriptor(), nullptr);
  ASSERT_NE(routing::v1::ExplainRouteRequest::descriptor(), nullptr);
  ASSERT_NE(deadline::v1::ListDeadlinesRequest::descriptor(), nullptr);
  ASSERT_NE(notification::v1::ListDeliveriesRequest::descriptor(), nullptr);
  int methods_seen = 0;
  for (const char* name :
       {"meldpunt.intake.v1.Intake", "meldpunt.intake.v1.CaseWork", "meldpunt.intake.v1.Admin",
        "meldpunt.intake.v1.Reporting", "meldpunt.routing.v1.Routing",
        "meldpunt.deadline.v1.DeadlineWatch", "meldpunt.notification.v1.Notifications"}) {
    const google::protobuf::ServiceDescriptor* service =
        google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(name);
    ASSERT_NE(service, nullptr) << name;
    for (int i = 0; i < service->method_count(); ++i) {
      const std::string method = absl::StrCat("/", name, "/", service->method(i)->name());
      bool anyone = false;
      for (Role role : {Role::kSubmitter, Role::kDepartment, Role::kTeam, Role::kOps, Role::kAdmin})
        anyone = anyone || RoleMayCall(role, method);
      EXPECT_TRUE(anyone) << method << " has no rule: no one may call it";
      EXPECT_TRUE(RoleMayCall(Role::kAdmin, method)) << method;
      ++methods_seen;
    }
  }
  EXPECT_GE(methods_seen, 28);
}

// docs/operations.md tells operators who may call what: its table must be this code's table.
TEST(Policy, TheOperationsGuideSaysWhatTheCodeDoes) {
  const char* source = std::getenv("MELDPUNT_SOURCE_DIR");
  ASSERT_NE(source, nullptr);
  std::ifstream in(std::string(source) + "/docs/operations.md");
  ASSERT_TRUE(in) << "docs/operations.md";
  std::string line;
  bool inside = false;
  int rows = 0;
  while (std::getline(in, line)) {
    if (line == "<!-- role-table:begin -->") inside = true;
    if (line == "<!-- role-table:end -->") break;
    if (!inside || line.rfind("| `", 0) != 0) continue;
    // | `intake.v1.Intake/SubmitCase` | yes |  | yes |  | yes |
    // A "yes" may say more after it: "yes (its own)".
    std::vector<std::string> cells;
    size_t at = 1;
    while (at < line.size()) {
      const size_t bar = line.find('|', at);
      if (bar == std::string::npos) break;
      std::string cell = line.substr(at, bar - at);
      cell.erase(0, cell.find_first_not_of(' '));
      cell.erase(cell.find_last_not_of(' ') + 1);
      cells.push_back(cell);
      at = bar + 1;
    }
    ASSERT_EQ(cells.size(), 7u) << line;
    const std::string method = "/" + cells[0].substr(1, cells[0].size() - 2);
    int column = 1;
    for (Role role : {Role::kSubmitter, Role::kDepartment, Role::kTeam, Role::kOps, Role::kAdmin,
                      Role::kGateway}) {
      EXPECT_EQ(cells[column++].rfind("yes", 0) == 0, RoleMayCall(role, method))
          << method << " for " << RoleName(role) << " in docs/operations.md";
    }
    ++rows;
  }
  EXPECT_EQ(rows, 41) << "every method has its row in docs/operations.md";
}

}  // namespace
}  // namespace meldpunt::auth
