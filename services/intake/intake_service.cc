#include "services/intake/intake_service.h"

#include "absl/time/clock.h"
#include "libs/grpc/status.h"

namespace meldpunt::intake {
namespace {

// Answer a little before the caller gives up, so it gets our UNAVAILABLE, not its own timeout.
absl::Time Deadline(grpc::ServerContext* context) {
  return absl::FromChrono(context->deadline()) - absl::Milliseconds(150);
}

grpc::Status Finish(const absl::StatusOr<CommandResult>& result, v1::CaseResponse* response) {
  if (!result.ok()) return grpc_util::ToGrpcStatus(result.status());
  *response->mutable_case_() = result->c;
  response->set_event_id(result->event_id);
  return grpc::Status::OK;
}

template <typename Request>
grpc::Status Run(IntakeLogic& logic, IntakeMetrics& metrics, grpc::ServerContext* context,
                 const absl::StatusOr<Command>& command, v1::CaseResponse* response) {
  const absl::Time started = absl::Now();
  absl::StatusOr<CommandResult> result = command.ok()
                                             ? logic.Execute(*command, Deadline(context))
                                             : absl::StatusOr<CommandResult>(command.status());
  metrics.ObserveCommand(command.ok() ? command->name : "invalid", result.status(),
                         absl::Now() - started);
  return Finish(result, response);
}

}  // namespace

grpc::Status IntakeService::SubmitCase(grpc::ServerContext* context,
                                       const v1::SubmitCaseRequest* request,
                                       v1::SubmitCaseResponse* response) {
  const absl::Time started = absl::Now();
  absl::StatusOr<SubmitResult> result = logic_.Submit(*request, Deadline(context));
  metrics_.ObserveSubmit(result.status(), result.ok() && result->created, absl::Now() - started);
  if (!result.ok()) return grpc_util::ToGrpcStatus(result.status());
  response->set_case_id(result->c.case_id());
  response->set_reference(result->c.reference());
  response->set_created(result->created);
  *response->mutable_case_() = std::move(result->c);
  return grpc::Status::OK;
}

grpc::Status IntakeService::GetCase(grpc::ServerContext*, const v1::GetCaseRequest* request,
                                    v1::GetCaseResponse* response) {
  absl::StatusOr<Case> c = logic_.Get(request->case_id());
  if (!c.ok()) return grpc_util::ToGrpcStatus(c.status());
  response->set_reference(c->reference());
  *response->mutable_case_() = *std::move(c);
  return grpc::Status::OK;
}

grpc::Status IntakeService::ProvideInformation(grpc::ServerContext* context,
                                               const v1::ProvideInformationRequest* request,
                                               v1::CaseResponse* response) {
  return Run<v1::ProvideInformationRequest>(logic_, metrics_, context,
                                            ProvideInformationCommand(*request), response);
}

grpc::Status IntakeService::WithdrawCase(grpc::ServerContext* context,
                                         const v1::WithdrawCaseRequest* request,
                                         v1::CaseResponse* response) {
  return Run<v1::WithdrawCaseRequest>(logic_, metrics_, context, WithdrawCommand(*request),
                                      response);
}

grpc::Status IntakeService::ReopenCase(grpc::ServerContext* context,
                                       const v1::ReopenCaseRequest* request,
                                       v1::CaseResponse* response) {
  return Run<v1::ReopenCaseRequest>(logic_, metrics_, context, ReopenCommand(*request, rules_),
                                    response);
}

grpc::Status IntakeService::ListCases(grpc::ServerContext*, const v1::ListCasesRequest* request,
                                      v1::ListCasesResponse* response) {
  absl::StatusOr<ListPage> page = logic_.List(*request);
  if (!page.ok()) return grpc_util::ToGrpcStatus(page.status());
  for (auto& c : page->cases) *response->add_cases() = std::move(c);
  response->set_next_page_token(page->next_page_token);
  return grpc::Status::OK;
}

grpc::Status IntakeService::GetCaseHistory(grpc::ServerContext*,
                                           const v1::GetCaseHistoryRequest* request,
                                           v1::GetCaseHistoryResponse* response) {
  std::string case_id;
  absl::StatusOr<std::vector<v1::HistoryEntry>> entries =
      logic_.History(request->case_id(), &case_id);
  if (!entries.ok()) return grpc_util::ToGrpcStatus(entries.status());
  response->set_case_id(case_id);
  for (auto& entry : *entries) *response->add_entries() = std::move(entry);
  return grpc::Status::OK;
}

grpc::Status CaseWorkService::AcceptCase(grpc::ServerContext* c, const v1::AcceptCaseRequest* r,
                                         v1::CaseResponse* out) {
  return Run<v1::AcceptCaseRequest>(logic_, metrics_, c, AcceptCommand(*r), out);
}

grpc::Status CaseWorkService::BounceCase(grpc::ServerContext* c, const v1::BounceCaseRequest* r,
                                         v1::CaseResponse* out) {
  return Run<v1::BounceCaseRequest>(logic_, metrics_, c, BounceCommand(*r), out);
}

grpc::Status CaseWorkService::RequestInformation(grpc::ServerContext* c,
                                                 const v1::RequestInformationRequest* r,
                                                 v1::CaseResponse* out) {
  return Run<v1::RequestInformationRequest>(logic_, metrics_, c, RequestInformationCommand(*r),
                                            out);
}

grpc::Status CaseWorkService::AnswerCase(grpc::ServerContext* c, const v1::AnswerCaseRequest* r,
                                         v1::CaseResponse* out) {
  return Run<v1::AnswerCaseRequest>(logic_, metrics_, c, AnswerCommand(*r), out);
}

grpc::Status CaseWorkService::CloseCase(grpc::ServerContext* c, const v1::CloseCaseRequest* r,
                                        v1::CaseResponse* out) {
  return Run<v1::CloseCaseRequest>(logic_, metrics_, c, CloseCommand(*r), out);
}

grpc::Status CaseWorkService::ReassignCase(grpc::ServerContext* c, const v1::ReassignCaseRequest* r,
                                           v1::CaseResponse* out) {
  return Run<v1::ReassignCaseRequest>(logic_, metrics_, c, ReassignCommand(*r), out);
}

grpc::Status CaseWorkService::DecideAdmissibility(grpc::ServerContext* c,
                                                  const v1::DecideAdmissibilityRequest* r,
                                                  v1::CaseResponse* out) {
  return Run<v1::DecideAdmissibilityRequest>(logic_, metrics_, c, DecideAdmissibilityCommand(*r),
                                             out);
}

grpc::Status CaseWorkService::MergeCase(grpc::ServerContext* c, const v1::MergeCaseRequest* r,
                                        v1::CaseResponse* out) {
  const absl::Time started = absl::Now();
  absl::StatusOr<Command> command = MergeCommand(*r);
  absl::StatusOr<CommandResult> result =
      command.ok() ? logic_.Merge(*command, r->master_case_id(), Deadline(c))
                   : absl::StatusOr<CommandResult>(command.status());
  metrics_.ObserveCommand("MergeCase", result.status(), absl::Now() - started);
  return Finish(result, out);
}

grpc::Status CaseWorkService::ReferExternally(grpc::ServerContext* c,
                                              const v1::ReferExternallyRequest* r,
                                              v1::CaseResponse* out) {
  return Run<v1::ReferExternallyRequest>(logic_, metrics_, c, ReferCommand(*r), out);
}

grpc::Status AdminService::RebuildProjection(grpc::ServerContext*,
                                             const v1::RebuildProjectionRequest*,
                                             v1::RebuildProjectionResponse* response) {
  absl::StatusOr<v1::RebuildProjectionResponse> result = rebuild_();
  if (!result.ok()) return grpc_util::ToGrpcStatus(result.status());
  *response = *result;
  return grpc::Status::OK;
}

}  // namespace meldpunt::intake
