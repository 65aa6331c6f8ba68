#include "libs/auth/auth.h"

#include <jwt.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <initializer_list>
#include <sstream>
#include <utility>

#include <grpcpp/security/auth_context.h>
#include <prometheus/counter.h>
#include <prometheus/registry.h>
#include <nlohmann/json.hpp>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"

namespace meldpunt::auth {
namespace {

constexpr unsigned Bit(Role role) { return 1u << static_cast<unsigned>(role); }
constexpr unsigned kSubmitter = Bit(Role::kSubmitter);
constexpr unsigned kDepartment = Bit(Role::kDepartment);
constexpr unsigned kTeam = Bit(Role::kTeam);
constexpr unsigned kOps = Bit(Role::kOps);
constexpr unsigned kAdmin = Bit(Role::kAdmin);

// Who may call what. Personal data (cases, their history) is never open to ops; casework is for
// the department holding the case and the Meldpunt team; triage decisions for the team; rebuilds
// and rule reloads for admins.
const absl::flat_hash_map<absl::string_view, unsigned>& Policy() {
  static const auto* policy = new absl::flat_hash_map<absl::string_view, unsigned>{
      {methods::kSubmitCase, kSubmitter | kTeam | kAdmin},
      {methods::kGetCase, kSubmitter | kDepartment | kTeam | kAdmin},
      {methods::kProvideInformation, kSubmitter | kTeam | kAdmin},
      {methods::kWithdrawCase, kSubmitter | kTeam | kAdmin},
      {methods::kReopenCase, kSubmitter | kTeam | kAdmin},
      {methods::kListCases, kDepartment | kTeam | kAdmin},
      {methods::kGetCaseHistory, kSubmitter | kDepartment | kTeam | kAdmin},
      {methods::kAcceptCase, kDepartment | kTeam | kAdmin},
      {methods::kBounceCase, kDepartment | kTeam | kAdmin},
      {methods::kRequestInformation, kDepartment | kTeam | kAdmin},
      {methods::kAnswerCase, kDepartment | kTeam | kAdmin},
      {methods::kCloseCase, kDepartment | kTeam | kAdmin},
      {methods::kReassignCase, kTeam | kAdmin},
      {methods::kDecideAdmissibility, kTeam | kAdmin},
      {methods::kMergeCase, kTeam | kAdmin},
      {methods::kReferExternally, kTeam | kAdmin},
      {methods::kRebuildProjection, kAdmin},
      {methods::kEraseReporterData, kAdmin},
      {methods::kGetIndicators, kTeam | kOps | kAdmin},
      {methods::kGetComplaintsReport, kTeam | kOps | kAdmin},
      {methods::kExportReport, kTeam | kOps | kAdmin},
      {methods::kExplainRoute, kTeam | kOps | kAdmin},
      {methods::kGetRules, kTeam | kOps | kAdmin},
      {methods::kReloadRules, kAdmin},
      {methods::kGetCaseClocks, kTeam | kOps | kAdmin},
      {methods::kListDeadlines, kTeam | kOps | kAdmin},
      {methods::kWatchDeadlines, kTeam | kOps | kAdmin},
      {methods::kRebuildTimers, kAdmin},
      {methods::kListDeliveries, kTeam | kOps | kAdmin},
      {methods::kRetryDelivery, kTeam | kOps | kAdmin},
      {methods::kPreviewTemplate, kTeam | kAdmin},
      {methods::kRebuildDeliveries, kAdmin},
  };
  return *policy;
}

absl::StatusOr<std::string> ReadFile(const std::string& key, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(absl::StrCat(key, ": cannot read '", path, "'"));
  std::ostringstream text;
  text << in.rdbuf();
  if (text.str().empty()) {
    return absl::InvalidArgumentError(absl::StrCat(key, ": '", path, "' is empty"));
  }
  return text.str();
}

bool IsLoopback(const std::string& listen) {
  // host:port, [v6]:port
  const size_t colon = listen.rfind(':');
  std::string host = listen.substr(0, colon == std::string::npos ? listen.size() : colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return host == "localhost" || host == "::1" || absl::StartsWith(host, "127.");
}

absl::Status Unauthenticated(absl::string_view why) { return absl::UnauthenticatedError(why); }

// The value of `name=` in an RFC 2253 subject ("CN=roads,OU=department,O=City"); "" if absent.
std::string SubjectPart(absl::string_view subject, absl::string_view name) {
  for (absl::string_view part : absl::StrSplit(subject, ',')) {
    part = absl::StripAsciiWhitespace(part);
    if (part.size() > name.size() && absl::StartsWithIgnoreCase(part, name) &&
        part[name.size()] == '=') {
      return std::string(part.substr(name.size() + 1));
    }
  }
  return "";
}

struct JwtDeleter {
  void operator()(jwt_t* jwt) const { jwt_free(jwt); }
};

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

}  // namespace

absl::string_view RoleName(Role role) {
  switch (role) {
    case Role::kSubmitter:
      return "submitter";
    case Role::kDepartment:
      return "department";
    case Role::kTeam:
      return "team";
    case Role::kOps:
      return "ops";
    case Role::kAdmin:
      return "admin";
  }
  return "unknown";
}

bool ParseRole(absl::string_view name, Role* role) {
  for (Role r : {Role::kSubmitter, Role::kDepartment, Role::kTeam, Role::kOps, Role::kAdmin}) {
    if (name == RoleName(r)) {
      *role = r;
      return true;
    }
  }
  return false;
}

bool RoleMayCall(Role role, absl::string_view method) {
  const auto it = Policy().find(method);
  return it != Policy().end() && (it->second & Bit(role)) != 0;
}

absl::Status CheckOptions(const SecurityOptions& options, const std::string& listen) {
  const bool tls = !options.tls_cert_file.empty() || !options.tls_key_file.empty();
  if (tls && (options.tls_cert_file.empty() || options.tls_key_file.empty())) {
    return absl::InvalidArgumentError(
        options.tls_cert_file.empty()
            ? "grpc.tls.cert_file: must be set together with grpc.tls.key_file"
            : "grpc.tls.key_file: must be set together with grpc.tls.cert_file");
  }
  if (!options.tls_client_ca_file.empty() && !tls) {
    return absl::InvalidArgumentError(
        "grpc.tls.client_ca_file: client certificates need TLS: set grpc.tls.cert_file and "
        "grpc.tls.key_file");
  }
  if (tls && options.plaintext_loopback) {
    return absl::InvalidArgumentError(
        "grpc.plaintext_loopback: cannot be true together with grpc.tls.cert_file");
  }
  if (!tls && !options.plaintext_loopback) {
    return absl::InvalidArgumentError(
        "grpc.tls.cert_file: required (TLS on every gRPC port); for development on loopback "
        "only, set grpc.plaintext_loopback: true instead");
  }
  if (options.plaintext_loopback && !IsLoopback(listen)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "grpc.plaintext_loopback: plaintext is allowed on a loopback address only, not on '",
        listen, "'; configure grpc.tls.cert_file and grpc.tls.key_file"));
  }
  if (tls && options.tls_client_ca_file.empty() && options.jwt_key_file.empty()) {
    return absl::InvalidArgumentError(
        "auth.jwt.key_file: a TLS port must authenticate its callers: set auth.jwt.key_file "
        "(bearer tokens) or grpc.tls.client_ca_file (client certificates), or both");
  }
  if (jwt_str_alg(options.jwt_algorithm.c_str()) == JWT_ALG_INVAL ||
      jwt_str_alg(options.jwt_algorithm.c_str()) == JWT_ALG_NONE) {
    return absl::InvalidArgumentError(absl::StrCat("auth.jwt.algorithm: '", options.jwt_algorithm,
                                                   "' is not one of HS256, HS384, HS512, RS256, "
                                                   "RS384, RS512, ES256, ES384, ES512"));
  }
  if (options.clock_skew < absl::ZeroDuration() || options.clock_skew > absl::Minutes(10)) {
    return absl::InvalidArgumentError("auth.clock_skew: must be between 0s and 10m");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentials(
    const SecurityOptions& options) {
  if (options.plaintext_loopback) return grpc::InsecureServerCredentials();
  grpc::SslServerCredentialsOptions ssl;
  grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
  auto cert = ReadFile("grpc.tls.cert_file", options.tls_cert_file);
  if (!cert.ok()) return cert.status();
  auto key = ReadFile("grpc.tls.key_file", options.tls_key_file);
  if (!key.ok()) return key.status();
  pair.cert_chain = *std::move(cert);
  pair.private_key = *std::move(key);
  ssl.pem_key_cert_pairs.push_back(std::move(pair));
  if (!options.tls_client_ca_file.empty()) {
    auto ca = ReadFile("grpc.tls.client_ca_file", options.tls_client_ca_file);
    if (!ca.ok()) return ca.status();
    ssl.pem_root_certs = *std::move(ca);
    ssl.client_certificate_request = GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  } else {
    ssl.client_certificate_request = GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE;
  }
  return grpc::SslServerCredentials(ssl);
}

absl::StatusOr<TokenVerifier> TokenVerifier::Create(std::string algorithm, std::string key,
                                                    std::string issuer, std::string audience,
                                                    absl::Duration clock_skew) {
  TokenVerifier verifier;
  const jwt_alg_t alg = jwt_str_alg(algorithm.c_str());
  if (alg == JWT_ALG_INVAL || alg == JWT_ALG_NONE) {
    return absl::InvalidArgumentError(
        absl::StrCat("auth.jwt.algorithm: '", algorithm, "' is not a signing algorithm"));
  }
  if ((alg >= JWT_ALG_RS256) && !absl::StrContains(key, "-----BEGIN PUBLIC KEY-----")) {
    return absl::InvalidArgumentError(absl::StrCat(
        "auth.jwt.key_file: ", algorithm, " needs a PEM public key (-----BEGIN PUBLIC KEY-----)"));
  }
  if (alg < JWT_ALG_RS256 && key.size() < 32) {
    return absl::InvalidArgumentError(
        absl::StrCat("auth.jwt.key_file: an ", algorithm, " secret must be at least 32 bytes"));
  }
  verifier.algorithm_ = alg;
  verifier.algorithm_name_ = std::move(algorithm);
  verifier.key_ = std::move(key);
  verifier.issuer_ = std::move(issuer);
  verifier.audience_ = std::move(audience);
  verifier.clock_skew_ = clock_skew;
  return verifier;
}

absl::StatusOr<Principal> TokenVerifier::Verify(absl::string_view token, absl::Time now) const {
  if (token.empty() || token.size() > 8192) {
    return Unauthenticated("bearer token: empty or longer than 8192 characters");
  }
  jwt_t* raw = nullptr;
  const std::string text(token);
  const int error =
      jwt_decode(&raw, text.c_str(), reinterpret_cast<const unsigned char*>(key_.data()),
                 static_cast<int>(key_.size()));
  std::unique_ptr<jwt_t, JwtDeleter> jwt(raw);
  if (error != 0 || jwt == nullptr) {
    return Unauthenticated("bearer token: malformed or its signature does not verify");
  }
  // Checked after the signature, against the configured algorithm only: a token that names
  // another algorithm (none, or HS256 signed with the public key as secret) is refused.
  if (jwt_get_alg(jwt.get()) != algorithm_) {
    return Unauthenticated(absl::StrCat("bearer token: signed with ",
                                        jwt_alg_str(jwt_get_alg(jwt.get())), ", expected ",
                                        algorithm_name_));
  }
  errno = 0;
  const long exp = jwt_get_grant_int(jwt.get(), "exp");
  if (errno != 0) return Unauthenticated("bearer token: no numeric 'exp' claim");
  if (absl::FromUnixSeconds(exp) + clock_skew_ <= now) {
    return Unauthenticated(
        absl::StrCat("bearer token: expired at ", absl::FormatTime(absl::FromUnixSeconds(exp))));
  }
  errno = 0;
  const long nbf = jwt_get_grant_int(jwt.get(), "nbf");
  if (errno == 0 && absl::FromUnixSeconds(nbf) - clock_skew_ > now) {
    return Unauthenticated("bearer token: not valid yet (nbf)");
  }
  if (!issuer_.empty()) {
    const char* iss = jwt_get_grant(jwt.get(), "iss");
    if (iss == nullptr || issuer_ != iss) {
      return Unauthenticated(absl::StrCat("bearer token: issuer must be '", issuer_, "'"));
    }
  }
  if (!audience_.empty()) {
    bool found = false;
    if (char* json = jwt_get_grants_json(jwt.get(), "aud")) {
      const nlohmann::json aud = nlohmann::json::parse(json, nullptr, false);
      std::free(json);
      if (aud.is_string()) found = aud.get<std::string>() == audience_;
      if (aud.is_array()) {
        for (const auto& a : aud)
          found = found || (a.is_string() && a.get<std::string>() == audience_);
      }
    }
    if (!found) {
      return Unauthenticated(absl::StrCat("bearer token: audience must include '", audience_, "'"));
    }
  }
  Principal who;
  const char* sub = jwt_get_grant(jwt.get(), "sub");
  if (!IsName(sub))
    return Unauthenticated("bearer token: 'sub' must be 1-128 printable characters");
  who.subject = sub;
  const char* role = jwt_get_grant(jwt.get(), "role");
  if (role == nullptr || !ParseRole(role, &who.role)) {
    return Unauthenticated(
        "bearer token: 'role' must be one of submitter, department, team, ops, admin");
  }
  if (who.role == Role::kDepartment) {
    const char* department = jwt_get_grant(jwt.get(), "department");
    if (!IsName(department)) {
      return Unauthenticated("bearer token: the department role needs a 'department' claim");
    }
    who.department = department;
  }
  return who;
}

absl::StatusOr<std::unique_ptr<Guard>> Guard::Create(const SecurityOptions& options,
                                                     prometheus::Registry* registry) {
  auto guard = std::unique_ptr<Guard>(new Guard());
  guard->certificates_ = !options.tls_client_ca_file.empty();
  if (!options.jwt_key_file.empty()) {
    auto key = ReadFile("auth.jwt.key_file", options.jwt_key_file);
    if (!key.ok()) return key.status();
    auto verifier =
        TokenVerifier::Create(options.jwt_algorithm, *std::move(key), options.jwt_issuer,
                              options.jwt_audience, options.clock_skew);
    if (!verifier.ok()) return verifier.status();
    guard->tokens_ = std::make_unique<TokenVerifier>(*std::move(verifier));
  }
  guard->open_ = options.plaintext_loopback && !guard->tokens_ && !guard->certificates_;
  if (registry != nullptr) {
    auto& family = prometheus::BuildCounter()
                       .Name("meldpunt_auth_denied_total")
                       .Help(
                           "gRPC calls refused by authentication (unauthenticated) or by the "
                           "role and case checks (permission_denied)")
                       .Register(*registry);
    guard->unauthenticated_ = &family.Add({{"reason", "unauthenticated"}});
    guard->permission_denied_ = &family.Add({{"reason", "permission_denied"}});
  }
  return guard;
}

std::unique_ptr<Guard> Guard::Open() {
  auto guard = std::unique_ptr<Guard>(new Guard());
  guard->open_ = true;
  return guard;
}

absl::Status Guard::Deny(absl::Status status) const {
  prometheus::Counter* counter =
      status.code() == absl::StatusCode::kUnauthenticated ? unauthenticated_ : permission_denied_;
  if (counter != nullptr) counter->Increment();
  return status;
}

absl::Status Guard::Refuse(absl::string_view message) const {
  return Deny(absl::PermissionDeniedError(message));
}

absl::StatusOr<Principal> Guard::Admit(const grpc::ServerContext& context,
                                       absl::string_view method) const {
  if (open_) return Admit("", "", method, absl::Now());
  std::string authorization;
  const auto& metadata = context.client_metadata();
  if (auto it = metadata.find("authorization"); it != metadata.end()) {
    authorization.assign(it->second.data(), it->second.size());
  }
  std::string subject;
  if (certificates_) {
    const std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
    if (auth != nullptr && auth->IsPeerAuthenticated()) {
      for (const grpc::string_ref& value : auth->FindPropertyValues("x509_subject")) {
        subject.assign(value.data(), value.size());
      }
    }
  }
  return Admit(authorization, subject, method, absl::Now());
}

absl::StatusOr<Principal> Guard::Admit(absl::string_view authorization,
                                       absl::string_view certificate_subject,
                                       absl::string_view method, absl::Time now) const {
  Principal who;
  if (open_) {
    who.subject = "dev";
    who.role = Role::kAdmin;
    who.authenticated = false;
    return who;
  }
  if (!authorization.empty()) {
    if (tokens_ == nullptr) {
      return Deny(
          Unauthenticated("bearer tokens are not accepted on this port (no auth.jwt.key_file)"));
    }
    if (!absl::StartsWithIgnoreCase(authorization, "bearer ")) {
      return Deny(Unauthenticated("authorization: must be 'Bearer <token>'"));
    }
    absl::StatusOr<Principal> verified =
        tokens_->Verify(absl::StripAsciiWhitespace(authorization.substr(7)), now);
    if (!verified.ok()) return Deny(verified.status());
    who = *std::move(verified);
  } else if (!certificate_subject.empty()) {
    who.subject = SubjectPart(certificate_subject, "CN");
    const std::string role = SubjectPart(certificate_subject, "OU");
    if (!IsName(who.subject.c_str()) || !ParseRole(role, &who.role)) {
      return Deny(Unauthenticated(absl::StrCat(
          "client certificate: needs CN (who) and OU (one of submitter, department, team, ops, "
          "admin); got '",
          certificate_subject, "'")));
    }
    if (who.role == Role::kDepartment) who.department = who.subject;
  } else {
    return Deny(Unauthenticated(tokens_ != nullptr
                                    ? "missing credentials: send 'authorization: Bearer <token>'"
                                    : "missing credentials: present a client certificate"));
  }
  if (!RoleMayCall(who.role, method)) {
    return Deny(absl::PermissionDeniedError(
        absl::StrCat("role ", RoleName(who.role), " may not call ", method)));
  }
  return who;
}

absl::Status Guard::MayUseCase(const Principal& who, absl::string_view case_id,
                               absl::string_view submitting_system, absl::string_view department,
                               bool confidential) const {
  switch (who.role) {
    case Role::kTeam:
    case Role::kAdmin:
      return absl::OkStatus();
    case Role::kSubmitter:
      if (who.subject == submitting_system) return absl::OkStatus();
      return Deny(absl::PermissionDeniedError(
          absl::StrCat("case ", case_id, " was submitted by another system than ", who.subject)));
    case Role::kDepartment:
      if (confidential) {
        return Deny(absl::PermissionDeniedError(
            absl::StrCat("case ", case_id, " is confidential: only the Meldpunt team may see it")));
      }
      if (who.department == department) return absl::OkStatus();
      return Deny(absl::PermissionDeniedError(
          absl::StrCat("case ", case_id, " is not with department ", who.department)));
    case Role::kOps:
      break;
  }
  return Deny(absl::PermissionDeniedError(
      absl::StrCat("role ", RoleName(who.role), " may not see case ", case_id)));
}

}  // namespace meldpunt::auth
