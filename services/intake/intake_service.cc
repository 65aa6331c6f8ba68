#include "services/intake/intake_service.h"

#include "absl/time/clock.h"
#include "libs/grpc/status.h"

namespace meldpunt::intake {

grpc::Status IntakeService::SubmitCase(grpc::ServerContext* context,
                                       const v1::SubmitCaseRequest* request,
                                       v1::SubmitCaseResponse* response) {
  const absl::Time started = absl::Now();
  // Answer a little before the caller gives up, so it gets our UNAVAILABLE, not its own timeout.
  const absl::Time deadline = absl::FromChrono(context->deadline()) - absl::Milliseconds(150);
  absl::StatusOr<SubmitResult> result = logic_.Submit(*request, deadline);
  metrics_.ObserveSubmit(result.status(), result.ok() && result->created, absl::Now() - started);
  if (!result.ok()) return grpc_util::ToGrpcStatus(result.status());
  response->set_case_id(result->c.case_id());
  response->set_reference(result->c.case_id());
  response->set_created(result->created);
  *response->mutable_case_() = std::move(result->c);
  return grpc::Status::OK;
}

grpc::Status IntakeService::GetCase(grpc::ServerContext* context, const v1::GetCaseRequest* request,
                                    v1::GetCaseResponse* response) {
  absl::StatusOr<Case> c = logic_.Get(request->case_id());
  if (!c.ok()) return grpc_util::ToGrpcStatus(c.status());
  response->set_reference(c->case_id());
  *response->mutable_case_() = *std::move(c);
  return grpc::Status::OK;
}

}  // namespace meldpunt::intake
