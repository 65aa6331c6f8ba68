// gRPC adapter of meldpunt.intake.v1.Intake: translates protos, calls IntakeLogic, maps errors.
#pragma once

#include "meldpunt/intake/v1/intake.grpc.pb.h"
#include "services/intake/intake_logic.h"
#include "services/intake/metrics.h"

namespace meldpunt::intake {

class IntakeService final : public v1::Intake::Service {
 public:
  IntakeService(IntakeLogic& logic, IntakeMetrics& metrics) : logic_(logic), metrics_(metrics) {}

  grpc::Status SubmitCase(grpc::ServerContext* context, const v1::SubmitCaseRequest* request,
                          v1::SubmitCaseResponse* response) override;
  grpc::Status GetCase(grpc::ServerContext* context, const v1::GetCaseRequest* request,
                       v1::GetCaseResponse* response) override;

 private:
  IntakeLogic& logic_;
  IntakeMetrics& metrics_;
};

}  // namespace meldpunt::intake
