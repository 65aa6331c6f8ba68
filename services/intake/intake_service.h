// gRPC adapters of meldpunt.intake.v1 Intake, CaseWork and Admin: admit the caller (auth::Guard:
// its role, and for submitters and departments that the case is theirs), translate protos, call
// IntakeLogic (or the projection rebuild), map errors with ToGrpcStatus.
#pragma once

#include <functional>

#include "libs/audit/audit.h"
#include "libs/auth/auth.h"
#include "libs/privacy/privacy.h"
#include "meldpunt/intake/v1/intake.grpc.pb.h"
#include "services/intake/intake_logic.h"
#include "services/intake/metrics.h"

namespace meldpunt::intake {

// SubmitCase is a raw callback method: it reads the request's bytes itself (a request that does
// not parse is answered naming its field) and no thread waits while Kafka acknowledges the event
// (IntakeLogic::SubmitAsync). The other methods are synchronous.
class IntakeService final
    : public v1::Intake::WithRawCallbackMethod_SubmitCase<v1::Intake::Service> {
 public:
  // `sealer` opens the reporter's personal data for GetCase, and `audit` records each such read
  // first; without them (tests) personal data is answered as stored.
  IntakeService(const auth::Guard& guard, IntakeLogic& logic, IntakeMetrics& metrics,
                CommandRules rules, const privacy::Sealer* sealer = nullptr,
                audit::AuditTrail* audit = nullptr)
      : guard_(guard),
        logic_(logic),
        metrics_(metrics),
        rules_(rules),
        sealer_(sealer),
        audit_(audit) {}

  grpc::ServerUnaryReactor* SubmitCase(grpc::CallbackServerContext* context,
                                       const grpc::ByteBuffer* raw_request,
                                       grpc::ByteBuffer* raw_response) override;
  grpc::Status GetCategories(grpc::ServerContext* context, const v1::GetCategoriesRequest* request,
                             v1::GetCategoriesResponse* response) override;
  grpc::Status GetCase(grpc::ServerContext* context, const v1::GetCaseRequest* request,
                       v1::GetCaseResponse* response) override;
  grpc::Status ProvideInformation(grpc::ServerContext* context,
                                  const v1::ProvideInformationRequest* request,
                                  v1::CaseResponse* response) override;
  grpc::Status WithdrawCase(grpc::ServerContext* context, const v1::WithdrawCaseRequest* request,
                            v1::CaseResponse* response) override;
  grpc::Status ReopenCase(grpc::ServerContext* context, const v1::ReopenCaseRequest* request,
                          v1::CaseResponse* response) override;
  grpc::Status ListCases(grpc::ServerContext* context, const v1::ListCasesRequest* request,
                         v1::ListCasesResponse* response) override;
  grpc::Status GetCaseHistory(grpc::ServerContext* context,
                              const v1::GetCaseHistoryRequest* request,
                              v1::GetCaseHistoryResponse* response) override;

 private:
  const auth::Guard& guard_;
  IntakeLogic& logic_;
  IntakeMetrics& metrics_;
  CommandRules rules_;
  const privacy::Sealer* sealer_;
  audit::AuditTrail* audit_;
};

class CaseWorkService final : public v1::CaseWork::Service {
 public:
  CaseWorkService(const auth::Guard& guard, IntakeLogic& logic, IntakeMetrics& metrics)
      : guard_(guard), logic_(logic), metrics_(metrics) {}

  grpc::Status AcceptCase(grpc::ServerContext*, const v1::AcceptCaseRequest*,
                          v1::CaseResponse*) override;
  grpc::Status BounceCase(grpc::ServerContext*, const v1::BounceCaseRequest*,
                          v1::CaseResponse*) override;
  grpc::Status RequestInformation(grpc::ServerContext*, const v1::RequestInformationRequest*,
                                  v1::CaseResponse*) override;
  grpc::Status AnswerCase(grpc::ServerContext*, const v1::AnswerCaseRequest*,
                          v1::CaseResponse*) override;
  grpc::Status CloseCase(grpc::ServerContext*, const v1::CloseCaseRequest*,
                         v1::CaseResponse*) override;
  grpc::Status ReassignCase(grpc::ServerContext*, const v1::ReassignCaseRequest*,
                            v1::CaseResponse*) override;
  grpc::Status ChangePriority(grpc::ServerContext*, const v1::ChangePriorityRequest*,
                              v1::CaseResponse*) override;
  grpc::Status DecideAdmissibility(grpc::ServerContext*, const v1::DecideAdmissibilityRequest*,
                                   v1::CaseResponse*) override;
  grpc::Status MergeCase(grpc::ServerContext*, const v1::MergeCaseRequest*,
                         v1::CaseResponse*) override;
  grpc::Status ReferExternally(grpc::ServerContext*, const v1::ReferExternallyRequest*,
                               v1::CaseResponse*) override;

 private:
  const auth::Guard& guard_;
  IntakeLogic& logic_;
  IntakeMetrics& metrics_;
};

using RebuildFunction = std::function<absl::StatusOr<v1::RebuildProjectionResponse>()>;

class AdminService final : public v1::Admin::Service {
 public:
  AdminService(const auth::Guard& guard, IntakeLogic& logic, IntakeMetrics& metrics,
               RebuildFunction rebuild)
      : guard_(guard), logic_(logic), metrics_(metrics), rebuild_(std::move(rebuild)) {}
  grpc::Status RebuildProjection(grpc::ServerContext*, const v1::RebuildProjectionRequest*,
                                 v1::RebuildProjectionResponse* response) override;
  grpc::Status EraseReporterData(grpc::ServerContext*, const v1::EraseReporterDataRequest*,
                                 v1::CaseResponse* response) override;

 private:
  const auth::Guard& guard_;
  IntakeLogic& logic_;
  IntakeMetrics& metrics_;
  RebuildFunction rebuild_;
};

}  // namespace meldpunt::intake
