#include "services/intake/intake_service.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "libs/domain/disclosure.h"
#include "libs/grpc/raw.h"
#include "libs/grpc/status.h"
#include "libs/grpc/trace.h"

namespace meldpunt::intake {
namespace {

namespace t = ::meldpunt::types::v1;

// Answer a little before the caller gives up, so it gets our UNAVAILABLE, not its own timeout.
absl::Time Deadline(const grpc::ServerContextBase* context) {
  return absl::FromChrono(context->deadline()) - absl::Milliseconds(150);
}

grpc::Status Finish(const absl::StatusOr<CommandResult>& result, v1::CaseResponse* response) {
  if (!result.ok()) return grpc_util::ToGrpcStatus(result.status());
  *response->mutable_case_() = result->c;
  // Answers carry no sealed personal data; GetCase shows it to those who may see it.
  privacy::Sealer::Withhold(response->mutable_case_()->mutable_draft()->mutable_reporter());
  response->set_event_id(result->event_id);
  return grpc::Status::OK;
}

bool SeesEveryCase(const auth::Principal& who) {
  return who.role == auth::Role::kTeam || who.role == auth::Role::kAdmin;
}

// The case for a caller who may use it. For callers who do not see every case, a case that does
// not exist is refused like one that is not theirs: the answer tells nothing of other cases.
absl::StatusOr<Case> CaseFor(const auth::Guard& guard, IntakeLogic& logic,
                             const auth::Principal& who, const std::string& case_ref) {
  absl::StatusOr<Case> c = logic.Get(case_ref);
  if (SeesEveryCase(who)) return c;
  if (absl::IsNotFound(c.status())) return guard.RefuseCase(case_ref);
  if (!c.ok()) return c.status();
  if (absl::Status may = guard.MayUseCase(who, case_ref, c->submitting_system(), c->department(),
                                          domain::IsConfidential(c->draft()));
      !may.ok()) {
    return may;
  }
  return c;
}

// PERMISSION_DENIED unless the caller may act on the case (a submitter its own system's cases, a
// department the cases it holds and that are not confidential); the team and admins without
// reading the case.
absl::Status MayUseCase(const auth::Guard& guard, IntakeLogic& logic, const auth::Principal& who,
                        const std::string& case_ref) {
  if (SeesEveryCase(who)) return absl::OkStatus();
  return CaseFor(guard, logic, who, case_ref).status();
}

// The actor recorded for a command: the authenticated caller (auth::ActorId). What the request
// says of its actor stays only as the display name. In the open development mode nobody is
// authenticated, and the request's actor stands.
void SetActor(const auth::Principal& who, Command& command) {
  if (!who.authenticated) {
    if (command.actor.id().empty()) command.actor.set_id(auth::ActorId(who));
    return;
  }
  const events::v1::Actor requested = command.actor;
  command.actor.Clear();
  command.actor.set_id(auth::ActorId(who));
  const std::string& shown =
      !requested.display_name().empty() ? requested.display_name() : requested.id();
  if (!shown.empty() && shown != command.actor.id()) command.actor.set_display_name(shown);
}

// Admits the caller for `method` and the request's case.
absl::StatusOr<auth::Principal> AdmitForCase(const auth::Guard& guard, IntakeLogic& logic,
                                             const grpc::ServerContext& context,
                                             absl::string_view method, const std::string& case_id) {
  absl::StatusOr<auth::Principal> who = guard.Admit(context, method);
  if (!who.ok()) return who.status();
  if (absl::Status may = MayUseCase(guard, logic, *who, case_id); !may.ok()) return may;
  return who;
}

template <typename Request>
grpc::Status Run(const auth::Guard& guard, IntakeLogic& logic, IntakeMetrics& metrics,
                 grpc::ServerContext* context, absl::string_view method, const Request& request,
                 const absl::StatusOr<Command>& command, v1::CaseResponse* response) {
  const absl::Time started = absl::Now();
  absl::StatusOr<auth::Principal> who =
      AdmitForCase(guard, logic, *context, method, request.case_id());
  if (!who.ok()) return grpc_util::ToGrpcStatus(who.status());
  absl::StatusOr<CommandResult> result = absl::UnknownError("not run");
  if (command.ok()) {
    Command acted = *command;
    SetActor(*who, acted);
    result = logic.Execute(acted, Deadline(context));
  } else {
    result = command.status();
  }
  metrics.ObserveCommand(command.ok() ? command->name : "invalid", result.status(),
                         absl::Now() - started);
  return Finish(result, response);
}

}  // namespace

grpc::ServerUnaryReactor* IntakeService::SubmitCase(grpc::CallbackServerContext* context,
                                                    const grpc::ByteBuffer* raw_request,
                                                    grpc::ByteBuffer* raw_response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<auth::Principal> who = guard_.Admit(*context, auth::methods::kSubmitCase);
  if (!who.ok()) {
    reactor->Finish(grpc_util::ToGrpcStatus(who.status()));
    return reactor;
  }
  // Parsed here, not by gRPC, so that a request that does not parse is answered naming its field.
  v1::SubmitCaseRequest request;
  if (absl::Status parsed = grpc_util::ParseRequest(*raw_request, &request); !parsed.ok()) {
    metrics_.ObserveSubmit(parsed, false, absl::ZeroDuration());
    reactor->Finish(grpc_util::ToGrpcStatus(parsed));
    return reactor;
  }
  if (who->role == auth::Role::kSubmitter && request.submitting_system() != who->subject) {
    reactor->Finish(grpc_util::ToGrpcStatus(
        guard_.Refuse(absl::StrCat("submitting_system: must be the caller's own system '",
                                   who->subject, "', not '", request.submitting_system(), "'"))));
    return reactor;
  }
  // The receipt time moves every legal term: only the team, admins and the systems named in
  // cases.received_at_systems may give it.
  if (request.draft().has_received_at() && who->role == auth::Role::kSubmitter &&
      !logic_.MaySetReceivedAt(request.submitting_system())) {
    reactor->Finish(
        grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                     absl::StrCat("draft.received_at: system '", request.submitting_system(),
                                  "' may not set it (intake cases.received_at_systems)")));
    return reactor;
  }
  // A trace id in the call's metadata (x-trace-id, traceparent) carries through the case's events
  // when the request names none.
  if (request.correlation_id().empty()) {
    if (std::string trace = grpc_util::TraceIdFrom(*context); !trace.empty()) {
      request.set_correlation_id(std::move(trace));
    }
  }
  const absl::Time started = absl::Now();
  // A submitter acts as its own system (checked above); a team member or admin who registers a
  // case for a system is recorded as themselves.
  const std::string actor =
      who->authenticated && who->role != auth::Role::kSubmitter ? auth::ActorId(*who) : "";
  // No thread waits for Redis or Kafka: the submission starts with others queued meanwhile, and
  // the answer is sent from the step that follows its acknowledgement.
  logic_.SubmitAsync(
      std::move(request), Deadline(context), actor,
      [this, reactor, raw_response, started](absl::StatusOr<SubmitResult> result) {
        metrics_.ObserveSubmit(result.status(), result.ok() && result->created,
                               absl::Now() - started);
        if (!result.ok()) return reactor->Finish(grpc_util::ToGrpcStatus(result.status()));
        v1::SubmitCaseResponse response;
        response.set_case_id(result->c.case_id());
        response.set_reference(result->c.reference());
        response.set_created(result->created);
        *response.mutable_case_() = std::move(result->c);
        privacy::Sealer::Withhold(response.mutable_case_()->mutable_draft()->mutable_reporter());
        grpc_util::SerializeResponse(response, raw_response);
        reactor->Finish(grpc::Status::OK);
      });
  return reactor;
}

grpc::Status IntakeService::GetCategories(grpc::ServerContext* context,
                                          const v1::GetCategoriesRequest* request,
                                          v1::GetCategoriesResponse* response) {
  absl::StatusOr<auth::Principal> who = guard_.Admit(*context, auth::methods::kGetCategories);
  if (!who.ok()) return grpc_util::ToGrpcStatus(who.status());
  if (!t::Language_IsValid(request->language())) {
    return grpc_util::ToGrpcStatus(grpc_util::FieldError("language", "unknown language"));
  }
  std::shared_ptr<const catalog::Catalog> categories = logic_.Catalog();
  if (categories == nullptr) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        "this intake has no category catalogue (catalog.file)");
  }
  for (const catalog::Category& c : categories->categories()) {
    if (!c.active && !request->include_inactive()) continue;
    v1::CategoryInfo* out = response->add_categories();
    out->set_id(c.id);
    out->set_parent(c.parent);
    out->set_label(c.labels.In(request->language()));
    out->set_description(c.descriptions.In(request->language()));
    for (const std::string& k : c.keywords) out->add_keywords(k);
    out->set_group(c.group);
    out->set_active(c.active);
    out->set_service_code(c.service_code);
  }
  return grpc::Status::OK;
}

grpc::Status IntakeService::GetCase(grpc::ServerContext* context, const v1::GetCaseRequest* request,
                                    v1::GetCaseResponse* response) {
  absl::StatusOr<auth::Principal> who = guard_.Admit(*context, auth::methods::kGetCase);
  if (!who.ok()) return grpc_util::ToGrpcStatus(who.status());
  absl::StatusOr<Case> c = CaseFor(guard_, logic_, *who, request->case_id());
  if (!c.ok()) return grpc_util::ToGrpcStatus(c.status());
  t::Reporter* reporter = c->mutable_draft()->mutable_reporter();
  // The submitting system, the team and admins see who reported; a department only when its
  // policy lets it (Case.reporter_visible, from the last routing): the dispatch feed never
  // carries it. Every such read is audited, and after erasure there is nothing to show.
  const bool shows_reporter =
      who->role != auth::Role::kDepartment ||
      (c->reporter_visible() &&
       domain::ReporterVisible(c->draft(), /*department_may_see_reporter=*/true));
  if (!shows_reporter) {
    privacy::Sealer::Withhold(reporter);
  } else if (sealer_ != nullptr && !reporter->sealed().empty()) {
    if (absl::Status opened = sealer_->OpenReporter(c->case_id(), reporter); !opened.ok()) {
      return grpc_util::ToGrpcStatus(absl::UnavailableError(
          absl::StrCat("the key store did not answer: ", opened.message(), "; retry")));
    }
    std::vector<std::string> fields;
    for (const auto& [name, value] :
         {std::pair<const char*, const std::string*>{"reporter.name", &reporter->name()},
          {"reporter.email", &reporter->email()},
          {"reporter.phone", &reporter->phone()},
          {"reporter.address", &reporter->address()}}) {
      if (!value->empty()) fields.push_back(name);
    }
    if (!fields.empty() && audit_ != nullptr) {
      absl::Status audited = audit_->Record(
          audit::ReadRecord(*who, auth::methods::kGetCase, c->case_id(), std::move(fields),
                            grpc_util::TraceIdFrom(*context), absl::Now(), "intake"),
          Deadline(context));
      if (!audited.ok()) return grpc_util::ToGrpcStatus(audited);
    }
  }
  response->set_reference(c->reference());
  *response->mutable_case_() = *std::move(c);
  return grpc::Status::OK;
}

grpc::Status IntakeService::ProvideInformation(grpc::ServerContext* context,
                                               const v1::ProvideInformationRequest* request,
                                               v1::CaseResponse* response) {
  return Run(guard_, logic_, metrics_, context, auth::methods::kProvideInformation, *request,
             ProvideInformationCommand(*request), response);
}

grpc::Status IntakeService::WithdrawCase(grpc::ServerContext* context,
                                         const v1::WithdrawCaseRequest* request,
                                         v1::CaseResponse* response) {
  return Run(guard_, logic_, metrics_, context, auth::methods::kWithdrawCase, *request,
             WithdrawCommand(*request), response);
}

grpc::Status IntakeService::ReopenCase(grpc::ServerContext* context,
                                       const v1::ReopenCaseRequest* request,
                                       v1::CaseResponse* response) {
  return Run(guard_, logic_, metrics_, context, auth::methods::kReopenCase, *request,
             ReopenCommand(*request, rules_), response);
}

grpc::Status IntakeService::ListCases(grpc::ServerContext* context,
                                      const v1::ListCasesRequest* request,
                                      v1::ListCasesResponse* response) {
  absl::StatusOr<auth::Principal> who = guard_.Admit(*context, auth::methods::kListCases);
  if (!who.ok()) return grpc_util::ToGrpcStatus(who.status());
  v1::ListCasesRequest scoped;
  if (who->role == auth::Role::kDepartment) {
    // A department lists its own cases: the filter is set for it, another one is refused.
    if (!request->department().empty() && request->department() != who->department) {
      return grpc_util::ToGrpcStatus(guard_.Refuse(
          absl::StrCat("department: the caller may list department '", who->department, "' only")));
    }
    scoped = *request;
    scoped.set_department(who->department);
    request = &scoped;
  } else if (who->role == auth::Role::kSubmitter) {
    // A submitting system lists the cases it submitted, and no other system's.
    if (!request->submitting_system().empty() && request->submitting_system() != who->subject) {
      return grpc_util::ToGrpcStatus(guard_.Refuse(
          absl::StrCat("submitting_system: the caller may list system '", who->subject, "' only")));
    }
    scoped = *request;
    scoped.set_submitting_system(who->subject);
    request = &scoped;
  }
  absl::StatusOr<ListPage> page = logic_.List(*request);
  if (!page.ok()) return grpc_util::ToGrpcStatus(page.status());
  for (auto& c : page->cases) {
    // Confidential cases are for the Meldpunt team only (domain::ForDepartment).
    if (who->role == auth::Role::kDepartment &&
        domain::ForDepartment(c.draft()) == domain::Disclosure::kNothing) {
      continue;
    }
    // Lists carry no personal data: GetCase shows it (and records that it did).
    if (sealer_ != nullptr) privacy::Sealer::Withhold(c.mutable_draft()->mutable_reporter());
    *response->add_cases() = std::move(c);
  }
  response->set_next_page_token(page->next_page_token);
  return grpc::Status::OK;
}

grpc::Status IntakeService::GetCaseHistory(grpc::ServerContext* context,
                                           const v1::GetCaseHistoryRequest* request,
                                           v1::GetCaseHistoryResponse* response) {
  absl::StatusOr<auth::Principal> who =
      AdmitForCase(guard_, logic_, *context, auth::methods::kGetCaseHistory, request->case_id());
  if (!who.ok()) return grpc_util::ToGrpcStatus(who.status());
  std::string case_id;
  absl::StatusOr<std::vector<v1::HistoryEntry>> entries =
      logic_.History(request->case_id(), &case_id);
  if (!entries.ok()) return grpc_util::ToGrpcStatus(entries.status());
  response->set_case_id(case_id);
  for (auto& entry : *entries) {
    // The history shows what happened, not who the reporter is: sealed data stays out.
    if (entry.event().has_case_submitted()) {
      privacy::Sealer::Withhold(
          entry.mutable_event()->mutable_case_submitted()->mutable_draft()->mutable_reporter());
    }
    *response->add_entries() = std::move(entry);
  }
  return grpc::Status::OK;
}

grpc::Status CaseWorkService::AcceptCase(grpc::ServerContext* c, const v1::AcceptCaseRequest* r,
                                         v1::CaseResponse* out) {
  return Run(guard_, logic_, metrics_, c, auth::methods::kAcceptCase, *r, AcceptCommand(*r), out);
}

grpc::Status CaseWorkService::BounceCase(grpc::ServerContext* c, const v1::BounceCaseRequest* r,
                                         v1::CaseResponse* out) {
  return Run(guard_, logic_, metrics_, c, auth::methods::kBounceCase, *r, BounceCommand(*r), out);
}

grpc::Status CaseWorkService::RequestInformation(grpc::ServerContext* c,
                                                 const v1::RequestInformationRequest* r,
                                                 v1::CaseResponse* out) {
  return Run(guard_, logic_, metrics_, c, auth::methods::kRequestInformation, *r,
             RequestInformationCommand(*r), out);
}

grpc::Status CaseWorkService::AnswerCase(grpc::ServerContext* c, const v1::AnswerCaseRequest* r,
                                         v1::CaseResponse* out) {
  return Run(guard_, logic_, metrics_, c, auth::methods::kAnswerCase, *r, AnswerCommand(*r), out);
}

grpc::Status CaseWorkService::CloseCase(grpc::ServerContext* c, const v1::CloseCaseRequest* r,
                                        v1::CaseResponse* out) {
  return Run(guard_, logic_, metrics_, c, auth::methods::kCloseCase, *r, CloseCommand(*r), out);
}

grpc::Status CaseWorkService::ReassignCase(grpc::ServerContext* c, const v1::ReassignCaseRequest* r,
                                           v1::CaseResponse* out) {
  return Run(guard_, logic_, metrics_, c, auth::methods::kReassignCase, *r, ReassignCommand(*r),
             out);
}

grpc::Status CaseWorkService::ChangePriority(grpc::ServerContext* c,
                                             const v1::ChangePriorityRequest* r,
                                             v1::CaseResponse* out) {
  return Run(guard_, logic_, metrics_, c, auth::methods::kChangePriority, *r,
             ChangePriorityCommand(*r), out);
}

grpc::Status CaseWorkService::DecideAdmissibility(grpc::ServerContext* c,
                                                  const v1::DecideAdmissibilityRequest* r,
                                                  v1::CaseResponse* out) {
  return Run(guard_, logic_, metrics_, c, auth::methods::kDecideAdmissibility, *r,
             DecideAdmissibilityCommand(*r), out);
}

grpc::Status CaseWorkService::MergeCase(grpc::ServerContext* c, const v1::MergeCaseRequest* r,
                                        v1::CaseResponse* out) {
  absl::StatusOr<auth::Principal> who =
      AdmitForCase(guard_, logic_, *c, auth::methods::kMergeCase, r->case_id());
  if (!who.ok()) return grpc_util::ToGrpcStatus(who.status());
  const absl::Time started = absl::Now();
  absl::StatusOr<Command> command = MergeCommand(*r);
  if (command.ok()) SetActor(*who, *command);
  absl::StatusOr<CommandResult> result =
      command.ok() ? logic_.Merge(*command, r->master_case_id(), Deadline(c))
                   : absl::StatusOr<CommandResult>(command.status());
  metrics_.ObserveCommand("MergeCase", result.status(), absl::Now() - started);
  return Finish(result, out);
}

grpc::Status CaseWorkService::ReferExternally(grpc::ServerContext* c,
                                              const v1::ReferExternallyRequest* r,
                                              v1::CaseResponse* out) {
  return Run(guard_, logic_, metrics_, c, auth::methods::kReferExternally, *r, ReferCommand(*r),
             out);
}

grpc::Status AdminService::RebuildProjection(grpc::ServerContext* context,
                                             const v1::RebuildProjectionRequest*,
                                             v1::RebuildProjectionResponse* response) {
  absl::StatusOr<auth::Principal> who = guard_.Admit(*context, auth::methods::kRebuildProjection);
  if (!who.ok()) return grpc_util::ToGrpcStatus(who.status());
  absl::StatusOr<v1::RebuildProjectionResponse> result = rebuild_();
  if (!result.ok()) return grpc_util::ToGrpcStatus(result.status());
  *response = *result;
  return grpc::Status::OK;
}

grpc::Status AdminService::EraseReporterData(grpc::ServerContext* context,
                                             const v1::EraseReporterDataRequest* request,
                                             v1::CaseResponse* response) {
  absl::StatusOr<auth::Principal> who = guard_.Admit(*context, auth::methods::kEraseReporterData);
  if (!who.ok()) return grpc_util::ToGrpcStatus(who.status());
  const absl::Time started = absl::Now();
  absl::StatusOr<Command> command = EraseCommand(*request);
  if (command.ok()) SetActor(*who, *command);
  absl::StatusOr<CommandResult> result = command.ok()
                                             ? logic_.Erase(*command, Deadline(context))
                                             : absl::StatusOr<CommandResult>(command.status());
  metrics_.ObserveCommand("EraseReporterData", result.status(), absl::Now() - started);
  if (result.ok()) privacy::Sealer::Withhold(result->c.mutable_draft()->mutable_reporter());
  return Finish(result, response);
}

}  // namespace meldpunt::intake
