// Every authentication outcome of a bearer token and a client certificate, and the role table
// against every method the protos declare. Keys are made fresh per run with OpenSSL.
#include "libs/auth/auth.h"

#include <jwt.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include <google/protobuf/descriptor.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
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
  long exp = absl::ToUnixSeconds(kNow) + 600;
  long nbf = 0;
  std::string iss = "meldpunt-idp";
  std::string aud_json = "\"meldpunt\"";
};

std::string Sign(const Claims& c, jwt_alg_t alg, const std::string& key) {
  jwt_t* jwt = nullptr;
  jwt_new(&jwt);
  if (!c.sub.empty()) jwt_add_grant(jwt, "sub", c.sub.c_str());
  if (!c.role.empty()) jwt_add_grant(jwt, "role", c.role.c_str());
  if (!c.department.empty()) jwt_add_grant(jwt, "department", c.department.c_str());
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

TokenVerifier RsVerifier() {
  auto v = TokenVerifier::Create("RS256", Keys().public_pem, "meldpunt-idp", "meldpunt",
                                 absl::Seconds(30));
  EXPECT_TRUE(v.ok()) << v.status();
  return *v;
}

std::string Why(const absl::StatusOr<Principal>& result) {
  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnauthenticated) << result.status();
  return std::string(result.status().message());
}

TEST(Tokens, AValidTokenGivesItsPrincipal) {
  Claims department;
  department.sub = "j.peeters";
  department.role = "department";
  department.department = "roads";
  department.aud_json = "[\"other\", \"meldpunt\"]";
  absl::StatusOr<Principal> who = RsVerifier().Verify(Rs(department), kNow);
  ASSERT_TRUE(who.ok()) << who.status();
  EXPECT_EQ(who->subject, "j.peeters");
  EXPECT_EQ(who->role, Role::kDepartment);
  EXPECT_EQ(who->department, "roads");
  EXPECT_TRUE(who->authenticated);

  auto hs = TokenVerifier::Create("HS256", kSecret, "", "", absl::ZeroDuration());
  ASSERT_TRUE(hs.ok());
  Claims team;
  team.role = "team";
  who = hs->Verify(Sign(team, JWT_ALG_HS256, kSecret), kNow);
  ASSERT_TRUE(who.ok()) << who.status();
  EXPECT_EQ(who->role, Role::kTeam);
}

TEST(Tokens, ExpiredOrNotYetValidTokensAreUnauthenticated) {
  Claims c;
  c.exp = absl::ToUnixSeconds(kNow) - 31;  // beyond the 30 s of clock skew
  EXPECT_NE(Why(RsVerifier().Verify(Rs(c), kNow)).find("expired"), std::string::npos);
  c.exp = absl::ToUnixSeconds(kNow) - 10;  // within the skew: still accepted
  EXPECT_TRUE(RsVerifier().Verify(Rs(c), kNow).ok());
  c.exp = 0;
  EXPECT_NE(Why(RsVerifier().Verify(Rs(c), kNow)).find("'exp'"), std::string::npos);
  c.exp = absl::ToUnixSeconds(kNow) + 600;
  c.nbf = absl::ToUnixSeconds(kNow) + 120;
  EXPECT_NE(Why(RsVerifier().Verify(Rs(c), kNow)).find("nbf"), std::string::npos);
}

TEST(Tokens, ForgedTamperedOrWronglySignedTokensAreUnauthenticated) {
  const TokenVerifier v = RsVerifier();
  // Signed by another key.
  const RsaKeys other = MakeRsaKeys();
  EXPECT_NE(Why(v.Verify(Sign({}, JWT_ALG_RS256, other.private_pem), kNow)).find("signature"),
            std::string::npos);
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
  EXPECT_FALSE(v.Verify(token, kNow).ok());
  // alg "none", and HS256 with the public key as the HMAC secret (algorithm confusion).
  EXPECT_FALSE(v.Verify(Sign({}, JWT_ALG_NONE, ""), kNow).ok());
  EXPECT_FALSE(v.Verify(Sign({}, JWT_ALG_HS256, Keys().public_pem), kNow).ok());
  // Not a token at all.
  EXPECT_FALSE(v.Verify("not.a.token", kNow).ok());
  EXPECT_FALSE(v.Verify("", kNow).ok());
  EXPECT_FALSE(v.Verify(std::string(9000, 'a'), kNow).ok());
}

TEST(Tokens, IssuerAudienceAndClaimsAreChecked) {
  const TokenVerifier v = RsVerifier();
  Claims c;
  c.iss = "someone-else";
  EXPECT_NE(Why(v.Verify(Rs(c), kNow)).find("issuer"), std::string::npos);
  c = {};
  c.aud_json = "\"another-app\"";
  EXPECT_NE(Why(v.Verify(Rs(c), kNow)).find("audience"), std::string::npos);
  c = {};
  c.role = "superuser";
  EXPECT_NE(Why(v.Verify(Rs(c), kNow)).find("'role'"), std::string::npos);
  c = {};
  c.sub = "";
  EXPECT_NE(Why(v.Verify(Rs(c), kNow)).find("'sub'"), std::string::npos);
  c = {};
  c.role = "department";  // without a department claim
  EXPECT_NE(Why(v.Verify(Rs(c), kNow)).find("'department'"), std::string::npos);
}

TEST(Tokens, BadKeysAndAlgorithmsAreRefusedByName) {
  EXPECT_EQ(TokenVerifier::Create("none", kSecret, "", "", absl::ZeroDuration()).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_NE(TokenVerifier::Create("RS256", kSecret, "", "", absl::ZeroDuration())
                .status()
                .message()
                .find("auth.jwt.key_file"),
            std::string::npos);
  EXPECT_NE(TokenVerifier::Create("HS256", "short", "", "", absl::ZeroDuration())
                .status()
                .message()
                .find("32 bytes"),
            std::string::npos);
}

TEST(Options, PlaintextOnlyOnLoopbackAndTlsMustAuthenticate) {
  SecurityOptions dev;
  dev.plaintext_loopback = true;
  EXPECT_TRUE(CheckOptions(dev, "127.0.0.1:50051").ok());
  EXPECT_TRUE(CheckOptions(dev, "[::1]:50051").ok());
  EXPECT_TRUE(CheckOptions(dev, "localhost:0").ok());
  const absl::Status open = CheckOptions(dev, "0.0.0.0:50051");
  EXPECT_EQ(open.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(open.message().find("grpc.plaintext_loopback"), std::string::npos);
  EXPECT_NE(CheckOptions({}, "0.0.0.0:50051").message().find("grpc.tls.cert_file"),
            std::string::npos);
  SecurityOptions tls;
  tls.tls_cert_file = "server.pem";
  EXPECT_NE(CheckOptions(tls, "0.0.0.0:1").message().find("grpc.tls.key_file"), std::string::npos);
  tls.tls_key_file = "server.key";
  EXPECT_NE(CheckOptions(tls, "0.0.0.0:1").message().find("auth.jwt.key_file"), std::string::npos);
  tls.tls_client_ca_file = "clients.pem";
  EXPECT_TRUE(CheckOptions(tls, "0.0.0.0:1").ok());
  tls.jwt_algorithm = "XX999";
  EXPECT_NE(CheckOptions(tls, "0.0.0.0:1").message().find("auth.jwt.algorithm"), std::string::npos);
}

// A guard accepting RS256 tokens and client certificates, without reading files.
std::unique_ptr<Guard> TokenGuard() {
  const std::string dir = ::testing::TempDir();
  const std::string key_file = dir + "/jwt-public.pem";
  FILE* f = std::fopen(key_file.c_str(), "w");
  std::fputs(Keys().public_pem.c_str(), f);
  std::fclose(f);
  SecurityOptions options;
  options.tls_cert_file = "unused";
  options.tls_key_file = "unused";
  options.tls_client_ca_file = "unused";
  options.jwt_key_file = key_file;
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
  EXPECT_NE(Why(guard->Admit("", "CN=roads,O=City", methods::kGetCase, kNow)).find("OU"),
            std::string::npos);
  EXPECT_NE(Why(guard->Admit("", "CN=roads,OU=king", methods::kGetCase, kNow)).find("OU"),
            std::string::npos);
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
  absl::StatusOr<Principal> cert =
      guard->Admit("", "CN=parks,OU=department,O=City of Gent", methods::kAcceptCase, kNow);
  ASSERT_TRUE(cert.ok()) << cert.status();
  EXPECT_EQ(cert->department, "parks");
  // A token wins over the certificate.
  cert = guard->Admit(bearer("team"), "CN=parks,OU=department", methods::kMergeCase, kNow);
  ASSERT_TRUE(cert.ok()) << cert.status();
  EXPECT_EQ(cert->role, Role::kTeam);
}

TEST(Guard, CasesAreOpenOnlyToTheirSystemTheirDepartmentAndTheTeam) {
  auto guard = TokenGuard();
  Principal web{.subject = "web-form", .role = Role::kSubmitter};
  EXPECT_TRUE(guard->MayUseCase(web, "MP-1", "web-form", "roads", false).ok());
  EXPECT_EQ(guard->MayUseCase(web, "MP-1", "crm", "roads", false).code(),
            absl::StatusCode::kPermissionDenied);
  Principal roads{.subject = "j", .role = Role::kDepartment, .department = "roads"};
  EXPECT_TRUE(guard->MayUseCase(roads, "MP-1", "crm", "roads", false).ok());
  EXPECT_EQ(guard->MayUseCase(roads, "MP-1", "crm", "parks", false).code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(guard->MayUseCase(roads, "MP-1", "crm", "roads", true).code(),
            absl::StatusCode::kPermissionDenied);
  Principal ops{.subject = "o", .role = Role::kOps};
  EXPECT_EQ(guard->MayUseCase(ops, "MP-1", "crm", "roads", false).code(),
            absl::StatusCode::kPermissionDenied);
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
  // With a token key configured, plaintext on loopback still asks for tokens.
  dev.jwt_key_file = ::testing::TempDir() + "/jwt-public.pem";
  TokenGuard();  // writes the key file
  guard = Guard::Create(dev, nullptr);
  ASSERT_TRUE(guard.ok()) << guard.status();
  EXPECT_FALSE((*guard)->open());
  EXPECT_EQ((*guard)->Admit("", "", methods::kGetCase, kNow).status().code(),
            absl::StatusCode::kUnauthenticated);
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

}  // namespace
}  // namespace meldpunt::auth
