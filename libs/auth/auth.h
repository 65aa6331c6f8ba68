// Who calls, and what they may do: the authentication and the role check of every Meldpunt gRPC
// call.
//
//   ASSIGN_OR_RETURN(auto guard, auth::Guard::Create(config.security, registry.get()));
//   ASSIGN_OR_RETURN(auto credentials, auth::ServerCredentials(config.security));
//   ...
//   grpc::Status Service::GetCase(grpc::ServerContext* context, ...) {
//     absl::StatusOr<auth::Principal> who = guard.Admit(*context, auth::methods::kGetCase);
//     if (!who.ok()) return grpc_util::ToGrpcStatus(who.status());
//     ... guard.MayUseCase(*who, c) ...
//
// A caller proves who it is with a bearer token (`authorization: Bearer <JWT>`, verified against
// the key set, libs/auth/tokens.h) or, when the port asks for client certificates (mTLS), with
// its certificate (libs/auth/certificates.h: one CN, who; one OU, the role; for the department
// role the CN is the department). A token wins over the certificate. Missing, malformed,
// unverifiable or expired credentials give UNAUTHENTICATED; a role the method does not allow, or
// another department's or system's case, PERMISSION_DENIED, and every refusal of a case says the
// same thing, so that it tells nothing of the case.
//
// Development only: with `grpc.plaintext_loopback` and neither a key set nor a client CA
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
#include "libs/auth/principal.h"
#include "libs/auth/tokens.h"

namespace prometheus {
class Registry;
template <typename T>
class Family;
class Counter;
}  // namespace prometheus

namespace meldpunt::auth {

struct SecurityOptions {
  // Server certificate chain and private key (PEM files). Without them the port is plaintext,
  // which is allowed only with plaintext_loopback on a loopback address.
  std::string tls_cert_file;
  std::string tls_key_file;
  // CA bundle (PEM) for client certificates: when set, every client must present a certificate
  // it signed (mTLS).
  std::string tls_client_ca_file;
  bool plaintext_loopback = false;
  // The key set (JWKS) that verifies bearer tokens. Empty: no tokens accepted.
  std::string jwt_key_set_file;
  std::string jwt_issuer;    // required with a key set: the `iss` claim must equal it
  std::string jwt_audience;  // required with a key set: the `aud` claim must hold it
  absl::Duration jwt_max_lifetime = absl::Hours(24);
  absl::Duration clock_skew = absl::Seconds(30);
};

// The error of the options, naming the key ("grpc.tls.key_file: ..."), or OK. `listen` is the
// gRPC listen address (plaintext is refused unless its host is a loopback IP literal).
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
inline constexpr absl::string_view kGetCategories = "/meldpunt.intake.v1.Intake/GetCategories";
inline constexpr absl::string_view kAcceptCase = "/meldpunt.intake.v1.CaseWork/AcceptCase";
inline constexpr absl::string_view kBounceCase = "/meldpunt.intake.v1.CaseWork/BounceCase";
inline constexpr absl::string_view kRequestInformation =
    "/meldpunt.intake.v1.CaseWork/RequestInformation";
inline constexpr absl::string_view kAnswerCase = "/meldpunt.intake.v1.CaseWork/AnswerCase";
inline constexpr absl::string_view kCloseCase = "/meldpunt.intake.v1.CaseWork/CloseCase";
inline constexpr absl::string_view kReassignCase = "/meldpunt.intake.v1.CaseWork/ReassignCase";
inline constexpr absl::string_view kChangePriority = "/meldpunt.intake.v1.CaseWork/ChangePriority";
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
inline constexpr absl::string_view kGetWorkload = "/meldpunt.routing.v1.Routing/GetWorkload";
inline constexpr absl::string_view kGetCaseClocks =
    "/meldpunt.deadline.v1.DeadlineWatch/GetCaseClocks";
inline constexpr absl::string_view kListDeadlines =
    "/meldpunt.deadline.v1.DeadlineWatch/ListDeadlines";
inline constexpr absl::string_view kRebuildTimers =
    "/meldpunt.deadline.v1.DeadlineWatch/RebuildTimers";
inline constexpr absl::string_view kWatchDeadlines =
    "/meldpunt.deadline.v1.DeadlineWatch/WatchDeadlines";
inline constexpr absl::string_view kExtendClock = "/meldpunt.deadline.v1.DeadlineWatch/ExtendClock";
inline constexpr absl::string_view kSuspendClock =
    "/meldpunt.deadline.v1.DeadlineWatch/SuspendClock";
inline constexpr absl::string_view kResumeClock = "/meldpunt.deadline.v1.DeadlineWatch/ResumeClock";
inline constexpr absl::string_view kListDeliveries =
    "/meldpunt.notification.v1.Notifications/ListDeliveries";
inline constexpr absl::string_view kRetryDelivery =
    "/meldpunt.notification.v1.Notifications/RetryDelivery";
inline constexpr absl::string_view kPreviewTemplate =
    "/meldpunt.notification.v1.Notifications/PreviewTemplate";
inline constexpr absl::string_view kRebuildDeliveries =
    "/meldpunt.notification.v1.Notifications/RebuildDeliveries";
// Served by every service for its own entries of meldpunt.case-events.dlq.v1.
inline constexpr absl::string_view kListDeadLetters =
    "/meldpunt.ops.v1.DeadLetters/ListDeadLetters";
inline constexpr absl::string_view kReplayDeadLetter =
    "/meldpunt.ops.v1.DeadLetters/ReplayDeadLetter";
inline constexpr absl::string_view kDropDeadLetter = "/meldpunt.ops.v1.DeadLetters/DropDeadLetter";
}  // namespace methods

// The gRPC metadata with which a gateway (role gateway) names the submitting system it speaks
// for: the call is then that system's, as the submitter role (Principal::via names the gateway).
// Any other caller that sends it is refused.
inline constexpr absl::string_view kOnBehalfOfHeader = "meldpunt-on-behalf-of";

// Whether `role` may call `method` at all (the table in auth.cc; an unknown method: no one).
bool RoleMayCall(Role role, absl::string_view method);

// Whether the host of `listen` ("127.0.0.1:50051", "[::1]:50051") is a loopback IP literal, read
// with inet_pton: names, "localhost" included, are not (they resolve to whatever DNS says).
bool IsLoopbackListen(absl::string_view listen);

class Guard {
 public:
  // Reads the token key. `registry` may be null (no meldpunt_auth_denied_total then).
  static absl::StatusOr<std::unique_ptr<Guard>> Create(const SecurityOptions& options,
                                                       prometheus::Registry* registry);
  // A guard that admits every call as `dev` (tests of code behind the guard).
  static std::unique_ptr<Guard> Open();

  // Authenticates the call and checks that its role may call `method`.
  absl::StatusOr<Principal> Admit(const grpc::ServerContextBase& context,
                                  absl::string_view method) const;
  // Same, from the parts of a call (the `authorization` header, the verified client certificate
  // as PEM, gRPC's x509_pem_cert, the kOnBehalfOfHeader value); for tests and for Admit.
  absl::StatusOr<Principal> Admit(absl::string_view authorization,
                                  absl::string_view certificate_pem, absl::string_view method,
                                  absl::Time now, absl::string_view on_behalf_of = "") const;

  // PERMISSION_DENIED unless the principal may see and act on a case submitted by
  // `submitting_system` and now with `department`: a submitter only its own cases, a department
  // only its own and never a confidential one (domain::ForDepartment), ops none; team and admin
  // all. Every refusal has the same message (CaseRefusal), whatever the reason.
  absl::Status MayUseCase(const Principal& who, absl::string_view case_id,
                          absl::string_view submitting_system, absl::string_view department,
                          bool confidential) const;

  // PERMISSION_DENIED with `message`, counted like every refusal (for checks of a request's own
  // fields, e.g. a submitter naming another system).
  absl::Status Refuse(absl::string_view message) const;
  // The one refusal of a case to a caller who may not use it, or when it does not exist and the
  // caller is not the team's (so that a refusal does not tell whether, or why).
  absl::Status RefuseCase(absl::string_view case_ref) const;

  bool open() const { return open_; }

 private:
  Guard() = default;
  absl::Status Deny(absl::Status status) const;
  // `gateway` speaking for `system`: the submitter `system`, if that role may call `method`.
  absl::StatusOr<Principal> SpeakFor(const Principal& gateway, absl::string_view system,
                                     absl::string_view method) const;
  bool open_ = false;
  bool certificates_ = false;
  std::unique_ptr<TokenVerifier> tokens_;  // null: no tokens accepted
  prometheus::Counter* unauthenticated_ = nullptr;
  prometheus::Counter* permission_denied_ = nullptr;
};

}  // namespace meldpunt::auth
