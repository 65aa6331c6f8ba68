// Who calls, and what they may do: the authentication and the role check of every Meldpunt gRPC
// call.
//
//   ASSIGN_OR_RETURN(auto guard, auth::Guard::Create(config.security, registry.get()));
//   ASSIGN_OR_RETURN(auto credentials, auth::ServerCredentials(config.security));
//   ...
//   grpc::Status Service::GetCase(grpc::ServerContext* context, ...) {
//     absl::StatusOr<auth::Principal> who = guard.Admit(*context, auth::methods::kGetCase);
//     if (!who.ok()) return grpc_util::ToGrpcStatus(who.status());
//     ... guard.MayReadCase(*who, c) ...
//
// A caller proves who it is with a bearer token (`authorization: Bearer <JWT>`, verified against
// the configured key and algorithm; claims `sub`, `role`, `exp`, and `department` for the
// department role) or, when the port asks for client certificates (mTLS), with its certificate:
// CN is the subject, OU the role, and for the department role the CN is the department. A token
// wins over the certificate. Missing, malformed, unverifiable or expired credentials give
// UNAUTHENTICATED; a role the method does not allow, or another department's or system's case,
// PERMISSION_DENIED.
//
// Development only: with `grpc.plaintext_loopback` and neither a token key nor a client CA
// configured, calls are not authenticated at all and act as `dev` with every role; the service
// says so loudly at start (Guard::open()).
#pragma once

#include <memory>
#include <string>

#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_context.h>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace prometheus {
class Registry;
template <typename T>
class Family;
class Counter;
}  // namespace prometheus

namespace meldpunt::auth {

enum class Role {
  kSubmitter,   // a municipal system that submits cases and follows its own
  kDepartment,  // a department: the cases routed to it
  kTeam,        // the Meldpunt team: every case, triage included
  kOps,         // operations: deadlines, deliveries and figures; no personal data
  kAdmin,       // rules, rebuilds, erasure
};

// "submitter", "department", "team", "ops", "admin".
absl::string_view RoleName(Role role);
// The role of a name above; false for anything else.
bool ParseRole(absl::string_view name, Role* role);

struct Principal {
  std::string subject;  // the token's `sub` or the certificate's CN
  Role role = Role::kOps;
  std::string department;  // the department role's department
  // False only for the open development mode (no credentials asked).
  bool authenticated = true;
};

struct SecurityOptions {
  // Server certificate chain and private key (PEM files). Without them the port is plaintext,
  // which is allowed only with plaintext_loopback on a loopback address.
  std::string tls_cert_file;
  std::string tls_key_file;
  // CA bundle (PEM) for client certificates: when set, every client must present a certificate
  // it signed (mTLS).
  std::string tls_client_ca_file;
  bool plaintext_loopback = false;
  // Verification key of bearer tokens: the shared secret for HS256, the PEM public key for RS256
  // and ES256. Empty: no tokens accepted.
  std::string jwt_key_file;
  std::string jwt_algorithm = "RS256";
  std::string jwt_issuer;    // when set, the `iss` claim must equal it
  std::string jwt_audience;  // when set, the `aud` claim must hold it
  absl::Duration clock_skew = absl::Seconds(30);
};

// The error of the options, naming the key ("grpc.tls.key_file: ..."), or OK. `listen` is the
// gRPC listen address (plaintext is refused unless it is a loopback address).
absl::Status CheckOptions(const SecurityOptions& options, const std::string& listen);

// TLS (with client certificates when a client CA is set) or, for plaintext_loopback, insecure
// server credentials. Reads the PEM files.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentials(
    const SecurityOptions& options);

// The method names Guard::Admit checks, as gRPC spells them ("/package.Service/Method").
namespace methods {
inline constexpr absl::string_view kSubmitCase = "/meldpunt.intake.v1.Intake/SubmitCase";
inline constexpr absl::string_view kGetCase = "/meldpunt.intake.v1.Intake/GetCase";
inline constexpr absl::string_view kProvideInformation =
    "/meldpunt.intake.v1.Intake/ProvideInformation";
inline constexpr absl::string_view kWithdrawCase = "/meldpunt.intake.v1.Intake/WithdrawCase";
inline constexpr absl::string_view kReopenCase = "/meldpunt.intake.v1.Intake/ReopenCase";
inline constexpr absl::string_view kListCases = "/meldpunt.intake.v1.Intake/ListCases";
inline constexpr absl::string_view kGetCaseHistory = "/meldpunt.intake.v1.Intake/GetCaseHistory";
inline constexpr absl::string_view kAcceptCase = "/meldpunt.intake.v1.CaseWork/AcceptCase";
inline constexpr absl::string_view kBounceCase = "/meldpunt.intake.v1.CaseWork/BounceCase";
inline constexpr absl::string_view kRequestInformation =
    "/meldpunt.intake.v1.CaseWork/RequestInformation";
inline constexpr absl::string_view kAnswerCase = "/meldpunt.intake.v1.CaseWork/AnswerCase";
inline constexpr absl::string_view kCloseCase = "/meldpunt.intake.v1.CaseWork/CloseCase";
inline constexpr absl::string_view kReassignCase = "/meldpunt.intake.v1.CaseWork/ReassignCase";
inline constexpr absl::string_view kDecideAdmissibility =
    "/meldpunt.intake.v1.CaseWork/DecideAdmissibility";
inline constexpr absl::string_view kMergeCase = "/meldpunt.intake.v1.CaseWork/MergeCase";
inline constexpr absl::string_view kReferExternally =
    "/meldpunt.intake.v1.CaseWork/ReferExternally";
inline constexpr absl::string_view kRebuildProjection =
    "/meldpunt.intake.v1.Admin/RebuildProjection";
inline constexpr absl::string_view kEraseReporterData =
    "/meldpunt.intake.v1.Admin/EraseReporterData";
inline constexpr absl::string_view kGetIndicators = "/meldpunt.intake.v1.Reporting/GetIndicators";
inline constexpr absl::string_view kGetComplaintsReport =
    "/meldpunt.intake.v1.Reporting/GetComplaintsReport";
inline constexpr absl::string_view kExportReport = "/meldpunt.intake.v1.Reporting/ExportReport";
inline constexpr absl::string_view kExplainRoute = "/meldpunt.routing.v1.Routing/ExplainRoute";
inline constexpr absl::string_view kGetRules = "/meldpunt.routing.v1.Routing/GetRules";
inline constexpr absl::string_view kReloadRules = "/meldpunt.routing.v1.Routing/ReloadRules";
inline constexpr absl::string_view kGetCaseClocks =
    "/meldpunt.deadline.v1.DeadlineWatch/GetCaseClocks";
inline constexpr absl::string_view kListDeadlines =
    "/meldpunt.deadline.v1.DeadlineWatch/ListDeadlines";
inline constexpr absl::string_view kRebuildTimers =
    "/meldpunt.deadline.v1.DeadlineWatch/RebuildTimers";
inline constexpr absl::string_view kWatchDeadlines =
    "/meldpunt.deadline.v1.DeadlineWatch/WatchDeadlines";
inline constexpr absl::string_view kListDeliveries =
    "/meldpunt.notification.v1.Notifications/ListDeliveries";
inline constexpr absl::string_view kRetryDelivery =
    "/meldpunt.notification.v1.Notifications/RetryDelivery";
inline constexpr absl::string_view kPreviewTemplate =
    "/meldpunt.notification.v1.Notifications/PreviewTemplate";
inline constexpr absl::string_view kRebuildDeliveries =
    "/meldpunt.notification.v1.Notifications/RebuildDeliveries";
}  // namespace methods

// Whether `role` may call `method` at all (the table in auth.cc; an unknown method: no one).
bool RoleMayCall(Role role, absl::string_view method);

// Verifies bearer tokens. Thread-safe.
class TokenVerifier {
 public:
  // `key` is the secret (HS256) or the PEM public key (RS256, ES256).
  static absl::StatusOr<TokenVerifier> Create(std::string algorithm, std::string key,
                                              std::string issuer, std::string audience,
                                              absl::Duration clock_skew);
  // The principal of a valid token; UNAUTHENTICATED saying what is wrong otherwise.
  absl::StatusOr<Principal> Verify(absl::string_view token, absl::Time now) const;

 private:
  TokenVerifier() = default;
  int algorithm_ = 0;  // jwt_alg_t
  std::string algorithm_name_;
  std::string key_;
  std::string issuer_;
  std::string audience_;
  absl::Duration clock_skew_;
};

class Guard {
 public:
  // Reads the token key. `registry` may be null (no meldpunt_auth_denied_total then).
  static absl::StatusOr<std::unique_ptr<Guard>> Create(const SecurityOptions& options,
                                                       prometheus::Registry* registry);
  // A guard that admits every call as `dev` (tests of code behind the guard).
  static std::unique_ptr<Guard> Open();

  // Authenticates the call and checks that its role may call `method`.
  absl::StatusOr<Principal> Admit(const grpc::ServerContext& context,
                                  absl::string_view method) const;
  // Same, from the parts of a call (the `authorization` header, the verified client certificate's
  // subject, e.g. "CN=roads,OU=department"); for tests and for Admit.
  absl::StatusOr<Principal> Admit(absl::string_view authorization,
                                  absl::string_view certificate_subject, absl::string_view method,
                                  absl::Time now) const;

  // PERMISSION_DENIED unless the principal may see and act on a case submitted by
  // `submitting_system` and now with `department`: a submitter only its own cases, a department
  // only its own and never a confidential one, ops none; team and admin all.
  absl::Status MayUseCase(const Principal& who, absl::string_view case_id,
                          absl::string_view submitting_system, absl::string_view department,
                          bool confidential) const;

  // PERMISSION_DENIED with `message`, counted like every refusal (for checks of a request's own
  // fields, e.g. a submitter naming another system).
  absl::Status Refuse(absl::string_view message) const;

  bool open() const { return open_; }

 private:
  Guard() = default;
  absl::Status Deny(absl::Status status) const;
  bool open_ = false;
  bool certificates_ = false;
  std::unique_ptr<TokenVerifier> tokens_;
  prometheus::Counter* unauthenticated_ = nullptr;
  prometheus::Counter* permission_denied_ = nullptr;
};

}  // namespace meldpunt::auth
