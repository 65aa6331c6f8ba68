#include "libs/auth/auth.h"

#include <arpa/inet.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <initializer_list>
#include <sstream>
#include <utility>

#include <grpcpp/security/auth_context.h>
#include <prometheus/counter.h>
#include <prometheus/registry.h>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "libs/auth/certificates.h"
#include "libs/catalog/slug.h"

namespace meldpunt::auth {
namespace {

constexpr unsigned Bit(Role role) { return 1u << static_cast<unsigned>(role); }
constexpr unsigned kSubmitter = Bit(Role::kSubmitter);
constexpr unsigned kDepartment = Bit(Role::kDepartment);
constexpr unsigned kTeam = Bit(Role::kTeam);
constexpr unsigned kOps = Bit(Role::kOps);
constexpr unsigned kAdmin = Bit(Role::kAdmin);
constexpr unsigned kGateway = Bit(Role::kGateway);

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
      {methods::kListCases, kSubmitter | kDepartment | kTeam | kAdmin},
      {methods::kGetCaseHistory, kSubmitter | kDepartment | kTeam | kAdmin},
      {methods::kGetCategories, kSubmitter | kDepartment | kTeam | kOps | kAdmin | kGateway},
      {methods::kAcceptCase, kDepartment | kTeam | kAdmin},
      {methods::kBounceCase, kDepartment | kTeam | kAdmin},
      {methods::kRequestInformation, kDepartment | kTeam | kAdmin},
      {methods::kAnswerCase, kDepartment | kTeam | kAdmin},
      {methods::kCloseCase, kDepartment | kTeam | kAdmin},
      {methods::kReassignCase, kTeam | kAdmin},
      {methods::kChangePriority, kTeam | kAdmin},
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
      {methods::kGetWorkload, kDepartment | kTeam | kOps | kAdmin},
      {methods::kGetCaseClocks, kTeam | kOps | kAdmin},
      {methods::kListDeadlines, kTeam | kOps | kAdmin},
      {methods::kWatchDeadlines, kTeam | kOps | kAdmin},
      {methods::kRebuildTimers, kAdmin},
      {methods::kExtendClock, kTeam | kAdmin},
      {methods::kSuspendClock, kTeam | kAdmin},
      {methods::kResumeClock, kTeam | kAdmin},
      {methods::kListDeliveries, kTeam | kOps | kAdmin},
      {methods::kRetryDelivery, kTeam | kOps | kAdmin},
      {methods::kPreviewTemplate, kTeam | kAdmin},
      {methods::kRebuildDeliveries, kAdmin},
      {methods::kListDeadLetters, kOps | kAdmin},
      {methods::kReplayDeadLetter, kOps | kAdmin},
      {methods::kDropDeadLetter, kOps | kAdmin},
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

absl::Status Unauthenticated(absl::string_view why) { return absl::UnauthenticatedError(why); }

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
    case Role::kGateway:
      return "gateway";
  }
  return "unknown";
}

bool ParseRole(absl::string_view name, Role* role) {
  for (Role r : {Role::kSubmitter, Role::kDepartment, Role::kTeam, Role::kOps, Role::kAdmin,
                 Role::kGateway}) {
    if (name == RoleName(r)) {
      *role = r;
      return true;
    }
  }
  return false;
}

std::string ActorId(const Principal& who) {
  if (who.role == Role::kDepartment && who.subject != who.department) {
    return absl::StrCat("department:", who.department, "/", who.subject);
  }
  return absl::StrCat(RoleName(who.role), ":", who.subject);
}

std::string CallerKey(const Principal& who) {
  return absl::StrCat(RoleName(who.role), "|", who.department, "|", who.subject);
}

bool IsLoopbackListen(absl::string_view listen) {
  // host:port or [v6]:port; the host must be an IP literal.
  const size_t colon = listen.rfind(':');
  std::string host(listen.substr(0, colon == absl::string_view::npos ? listen.size() : colon));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
    in6_addr v6{};
    return inet_pton(AF_INET6, host.c_str(), &v6) == 1 && IN6_IS_ADDR_LOOPBACK(&v6);
  }
  in_addr v4{};
  if (inet_pton(AF_INET, host.c_str(), &v4) != 1) return false;
  return (ntohl(v4.s_addr) >> 24) == 127;  // 127.0.0.0/8
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
  if (options.plaintext_loopback && !IsLoopbackListen(listen)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "grpc.plaintext_loopback: plaintext is allowed on a loopback IP address only (127.0.0.1, "
        "[::1]), not on '",
        listen, "'; configure grpc.tls.cert_file and grpc.tls.key_file"));
  }
  if (tls && options.tls_client_ca_file.empty() && options.jwt_key_set_file.empty()) {
    return absl::InvalidArgumentError(
        "auth.jwt.key_set_file: a TLS port must authenticate its callers: set "
        "auth.jwt.key_set_file (bearer tokens) or grpc.tls.client_ca_file (client certificates), "
        "or both");
  }
  if (!options.jwt_key_set_file.empty()) {
    // A token made for another service or another identity provider must not pass.
    if (options.jwt_issuer.empty()) {
      return absl::InvalidArgumentError(
          "auth.jwt.issuer: required with auth.jwt.key_set_file (the iss every token must carry)");
    }
    if (options.jwt_audience.empty()) {
      return absl::InvalidArgumentError(
          "auth.jwt.audience: required with auth.jwt.key_set_file (the aud every token must "
          "carry)");
    }
  }
  if (options.jwt_max_lifetime < absl::Minutes(1) ||
      options.jwt_max_lifetime > absl::Hours(24 * 7)) {
    return absl::InvalidArgumentError("auth.jwt.max_lifetime: must be between 1m and 168h");
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

absl::StatusOr<std::unique_ptr<Guard>> Guard::Create(const SecurityOptions& options,
                                                     prometheus::Registry* registry) {
  auto guard = std::unique_ptr<Guard>(new Guard());
  guard->certificates_ = !options.tls_client_ca_file.empty();
  if (!options.jwt_key_set_file.empty()) {
    auto verifier =
        TokenVerifier::FromFile(options.jwt_key_set_file, {.issuer = options.jwt_issuer,
                                                           .audience = options.jwt_audience,
                                                           .max_lifetime = options.jwt_max_lifetime,
                                                           .clock_skew = options.clock_skew});
    if (!verifier.ok()) return verifier.status();
    guard->tokens_ = *std::move(verifier);
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

absl::Status Guard::RefuseCase(absl::string_view case_ref) const {
  return Deny(absl::PermissionDeniedError(
      absl::StrCat("case ", case_ref, ": not open to this caller (no such case, or not yours)")));
}

absl::StatusOr<Principal> Guard::Admit(const grpc::ServerContextBase& context,
                                       absl::string_view method) const {
  const auto& metadata = context.client_metadata();
  std::string on_behalf_of;
  if (auto it = metadata.find(std::string(kOnBehalfOfHeader)); it != metadata.end()) {
    on_behalf_of.assign(it->second.data(), it->second.size());
  }
  if (open_) return Admit("", "", method, absl::Now(), on_behalf_of);
  std::string authorization;
  if (auto it = metadata.find("authorization"); it != metadata.end()) {
    authorization.assign(it->second.data(), it->second.size());
  }
  std::string pem;
  if (certificates_) {
    const std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
    if (auth != nullptr && auth->IsPeerAuthenticated()) {
      // The leaf certificate itself (GRPC_X509_PEM_CERT_PROPERTY_NAME), parsed below: never the
      // printed subject, whose escapes a split on ',' would ignore.
      for (const grpc::string_ref& value : auth->FindPropertyValues("x509_pem_cert")) {
        pem.assign(value.data(), value.size());
      }
    }
  }
  return Admit(authorization, pem, method, absl::Now(), on_behalf_of);
}

absl::StatusOr<Principal> Guard::Admit(absl::string_view authorization,
                                       absl::string_view certificate_pem, absl::string_view method,
                                       absl::Time now, absl::string_view on_behalf_of) const {
  Principal who;
  if (open_) {
    who.subject = "dev";
    who.role = Role::kAdmin;
    who.authenticated = false;
    // The development stack's gateway speaks for its systems too: their calls are scoped as in
    // production.
    if (!on_behalf_of.empty()) return SpeakFor(who, on_behalf_of, method);
    return who;
  }
  if (!authorization.empty()) {
    if (tokens_ == nullptr) {
      return Deny(Unauthenticated(
          "bearer tokens are not accepted on this port (no auth.jwt.key_set_file)"));
    }
    if (!absl::StartsWithIgnoreCase(authorization, "bearer ")) {
      return Deny(Unauthenticated("authorization: must be 'Bearer <token>'"));
    }
    absl::StatusOr<Principal> verified =
        tokens_->Verify(absl::StripAsciiWhitespace(authorization.substr(7)), now);
    if (!verified.ok()) return Deny(verified.status());
    who = *std::move(verified);
  } else if (!certificate_pem.empty()) {
    absl::StatusOr<Principal> certified = CertificatePrincipal(certificate_pem);
    if (!certified.ok()) return Deny(certified.status());
    who = *std::move(certified);
  } else {
    return Deny(Unauthenticated(tokens_ != nullptr
                                    ? "missing credentials: send 'authorization: Bearer <token>'"
                                    : "missing credentials: present a client certificate"));
  }
  if (!on_behalf_of.empty()) {
    if (who.role != Role::kGateway) {
      return Deny(absl::PermissionDeniedError(
          absl::StrCat(kOnBehalfOfHeader,
                       ": only the gateway role speaks for a submitting system, "
                       "not role ",
                       RoleName(who.role))));
    }
    return SpeakFor(who, on_behalf_of, method);
  }
  if (!RoleMayCall(who.role, method)) {
    return Deny(absl::PermissionDeniedError(
        absl::StrCat("role ", RoleName(who.role), " may not call ", method)));
  }
  return who;
}

absl::StatusOr<Principal> Guard::SpeakFor(const Principal& gateway, absl::string_view system,
                                          absl::string_view method) const {
  if (!catalog::IsSlug(std::string_view(system.data(), system.size()))) {
    return Deny(Unauthenticated(
        absl::StrCat(kOnBehalfOfHeader, ": a submitting system's id ", catalog::kSlugRule)));
  }
  Principal who;
  who.subject = std::string(system);
  who.role = Role::kSubmitter;
  who.authenticated = gateway.authenticated;
  who.via = gateway.subject;
  if (!RoleMayCall(who.role, method)) {
    return Deny(absl::PermissionDeniedError(
        absl::StrCat("role submitter (through the gateway) may not call ", method)));
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
      break;
    case Role::kDepartment:
      // Not with the department, or confidential: the same refusal, so that another department
      // does not learn that a case is confidential.
      if (who.department == department && !confidential) return absl::OkStatus();
      break;
    case Role::kOps:
    case Role::kGateway:  // only ever on behalf of a system, as that submitter
      break;
  }
  return RefuseCase(case_id);
}

}  // namespace meldpunt::auth
