// A public-key infrastructure of a test's own, made fresh per run with the openssl command: a CA,
// the server's certificate for 127.0.0.1, client certificates with any subject (crafted ones
// included), a rogue CA, and ES256 token keys published in a JSON Web Key Set file that a test
// can rotate while the services run.
//
//   testing::Pki pki = testing::MakePki();
//   pki.Client("roads", "/CN=roads/OU=department");
//   std::string token = testing::Token(pki, {.sub = "web-form", .role = "submitter"});
#pragma once

#include <jwt.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "libs/auth/tokens.h"
#include "tests/testing/stack.h"

namespace meldpunt::testing {

inline std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

inline void MustRun(const std::string& command) {
  ASSERT_EQ(std::system((command + " >/dev/null 2>&1").c_str()), 0) << command;
}

struct Pki {
  std::string dir;
  std::string ca, server_cert, server_key;
  std::string jwks;  // the key set file the services read (auth.jwt.key_set_file)
  std::map<std::string, std::string> token_keys;   // kid -> PEM private key
  std::map<std::string, std::string> public_jwks;  // kid -> JWK

  // A client certificate with `subject` in openssl's -subj form ("/CN=roads/OU=department"),
  // signed by the CA (or the rogue CA). Returns `name`; the files are <dir>/<name>.pem and .key.
  std::string Client(const std::string& name, const std::string& subject, bool rogue = false) {
    const std::string key = dir + "/" + name + ".key";
    const std::string cert = dir + "/" + name + ".pem";
    const std::string ca_name = rogue ? "rogue" : "ca";
    MustRun(absl::StrCat(
        "openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ", key,
        " -subj '", subject, "' -out ", dir, "/", name, ".csr"));
    MustRun(absl::StrCat("openssl x509 -req -in ", dir, "/", name, ".csr -CA ", dir, "/", ca_name,
                         ".pem -CAkey ", dir, "/", ca_name, ".key -CAcreateserial -days 2 -out ",
                         cert));
    return name;
  }

  // A new ES256 token key under `kid`; with `publish`, the key set file holds it from now on.
  void AddTokenKey(const std::string& kid, bool publish = true) {
    const std::string base = dir + "/jwt-" + kid;
    MustRun(absl::StrCat("openssl ecparam -name prime256v1 -genkey -noout -out ", base, ".ec"));
    MustRun(absl::StrCat("openssl pkcs8 -topk8 -nocrypt -in ", base, ".ec -out ", base, ".key"));
    MustRun(absl::StrCat("openssl ec -in ", base, ".ec -pubout -out ", base, ".pub"));
    token_keys[kid] = ReadText(base + ".key");
    if (publish) Publish(kid);
  }
  // The key set file holds `kid`'s public key from now on.
  void Publish(const std::string& kid) {
    absl::StatusOr<std::string> jwk =
        auth::PublicKeyJwk(ReadText(dir + "/jwt-" + kid + ".pub"), kid, "ES256");
    ASSERT_TRUE(jwk.ok()) << jwk.status();
    public_jwks[kid] = *jwk;
    WriteKeySet();
  }
  void Retire(const std::string& kid) {
    public_jwks.erase(kid);
    WriteKeySet();
  }
  void WriteKeySet() {
    std::vector<std::string> keys;
    for (const auto& [kid, jwk] : public_jwks) keys.push_back(jwk);
    // Written aside and renamed: a service never reads half a file.
    std::ofstream(jwks + ".new") << "{\"keys\": [" << absl::StrJoin(keys, ",") << "]}\n";
    std::rename((jwks + ".new").c_str(), jwks.c_str());
  }
};

inline Pki MakePki() {
  Pki pki;
  pki.dir = UniqueName(::testing::TempDir() + "/meldpunt-pki");
  MustRun("mkdir -p " + pki.dir);
  const std::string d = pki.dir;
  for (const char* ca : {"ca", "rogue"}) {
    MustRun(absl::StrCat(
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ", d,
        "/", ca, ".key -out ", d, "/", ca, ".pem -days 2 -subj '/CN=", ca, " test CA'"));
  }
  MustRun(absl::StrCat(
      "openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ", d,
      "/server.key -subj '/CN=localhost' -out ", d, "/server.csr"));
  std::ofstream(d + "/server.ext") << "subjectAltName=IP:127.0.0.1,DNS:localhost\n";
  MustRun(absl::StrCat("openssl x509 -req -in ", d, "/server.csr -CA ", d, "/ca.pem -CAkey ", d,
                       "/ca.key -CAcreateserial -days 2 -extfile ", d, "/server.ext -out ", d,
                       "/server.pem"));
  pki.ca = d + "/ca.pem";
  pki.server_cert = d + "/server.pem";
  pki.server_key = d + "/server.key";
  pki.jwks = d + "/jwks.json";
  pki.AddTokenKey("k1");
  return pki;
}

inline constexpr char kTestIssuer[] = "meldpunt-test-idp";
inline constexpr char kTestAudience[] = "meldpunt";

struct TokenClaims {
  std::string sub;
  std::string role;
  std::string department;
  absl::Duration valid = absl::Minutes(10);  // from now
  absl::Duration issued = absl::Minutes(1);  // ago
  std::string issuer = kTestIssuer;
  std::string audience = kTestAudience;
  std::string kid = "k1";  // "" for none
};

// An ES256 token signed with the key of `c.kid` (or of "k1" when the kid is left out).
inline std::string Token(const Pki& pki, const TokenClaims& c) {
  const std::string& key = pki.token_keys.at(c.kid.empty() ? "k1" : c.kid);
  jwt_t* jwt = nullptr;
  jwt_new(&jwt);
  if (!c.kid.empty()) jwt_add_header(jwt, "kid", c.kid.c_str());
  jwt_add_grant(jwt, "sub", c.sub.c_str());
  jwt_add_grant(jwt, "role", c.role.c_str());
  if (!c.department.empty()) jwt_add_grant(jwt, "department", c.department.c_str());
  jwt_add_grant(jwt, "iss", c.issuer.c_str());
  jwt_add_grant(jwt, "aud", c.audience.c_str());
  jwt_add_grant_int(jwt, "iat", absl::ToUnixSeconds(absl::Now() - c.issued));
  jwt_add_grant_int(jwt, "exp", absl::ToUnixSeconds(absl::Now() + c.valid));
  jwt_set_alg(jwt, JWT_ALG_ES256, reinterpret_cast<const unsigned char*>(key.data()),
              static_cast<int>(key.size()));
  char* text = jwt_encode_str(jwt);
  EXPECT_NE(text, nullptr);
  std::string token = text == nullptr ? "" : text;
  std::free(text);
  jwt_free(jwt);
  return token;
}

}  // namespace meldpunt::testing
