#include "services/routing/routing_service.h"

#include "libs/domain/validation.h"
#include "libs/events/codec.h"
#include "libs/grpc/status.h"
#include "services/routing/workload.h"

namespace meldpunt::routing {

grpc::Status RoutingService::ExplainRoute(grpc::ServerContext* context,
                                          const v1::ExplainRouteRequest* request,
                                          v1::RouteDecision* response) {
  if (absl::StatusOr<auth::Principal> who = guard_.Admit(*context, auth::methods::kExplainRoute);
      !who.ok()) {
    return grpc_util::ToGrpcStatus(who.status());
  }
  if (request->draft().category().empty()) {
    return grpc_util::ToGrpcStatus(grpc_util::FieldError("draft.category", "is required"));
  }
  if (request->hops() < 0 || request->hops() > 100) {
    return grpc_util::ToGrpcStatus(grpc_util::FieldError("hops", "must be between 0 and 100"));
  }
  if (absl::Status s = domain::CheckText("draft.description", request->draft().description(),
                                         domain::kMaxDescriptionChars, true, false);
      !s.ok()) {
    return grpc_util::ToGrpcStatus(s);
  }
  std::shared_ptr<const RuleSet> rules = rules_();
  RouteInput input{request->draft(),
                   request->submitting_system(),
                   {request->bounced_departments().begin(), request->bounced_departments().end()},
                   request->hops()};
  *response = rules->Decide(input);
  // Triage has no assignee: the team decides.
  if (response->refer_to().empty() && !IsTriage(*response)) {
    std::set<std::string> skills(response->required_skills().begin(),
                                 response->required_skills().end());
    response->set_assignee(rules->PickAssignee(response->department(), response->team(), skills,
                                               open_cases_(*rules, response->department())));
  }
  return grpc::Status::OK;
}

grpc::Status RoutingService::GetRules(grpc::ServerContext* context, const v1::GetRulesRequest*,
                                      v1::GetRulesResponse* response) {
  if (absl::StatusOr<auth::Principal> who = guard_.Admit(*context, auth::methods::kGetRules);
      !who.ok()) {
    return grpc_util::ToGrpcStatus(who.status());
  }
  *response = rules_()->Describe();
  response->set_source(source_);
  return grpc::Status::OK;
}

grpc::Status RoutingService::ReloadRules(grpc::ServerContext* context,
                                         const v1::ReloadRulesRequest*,
                                         v1::GetRulesResponse* response) {
  if (absl::StatusOr<auth::Principal> who = guard_.Admit(*context, auth::methods::kReloadRules);
      !who.ok()) {
    return grpc_util::ToGrpcStatus(who.status());
  }
  if (absl::Status status = reload_(); !status.ok()) return grpc_util::ToGrpcStatus(status);
  *response = rules_()->Describe();
  response->set_source(source_);
  return grpc::Status::OK;
}

grpc::Status RoutingService::GetWorkload(grpc::ServerContext* context,
                                         const v1::GetWorkloadRequest* request,
                                         v1::GetWorkloadResponse* response) {
  absl::StatusOr<auth::Principal> who = guard_.Admit(*context, auth::methods::kGetWorkload);
  if (!who.ok()) return grpc_util::ToGrpcStatus(who.status());
  std::shared_ptr<const RuleSet> rules = rules_();
  std::string only = request->department();
  if (who->role == auth::Role::kDepartment) {
    // A department sees its own workload, not another's.
    if (!only.empty() && only != who->department) {
      return grpc_util::ToGrpcStatus(
          absl::PermissionDeniedError("a department sees its own workload only"));
    }
    only = who->department;
  }
  if (!only.empty() && rules->FindDepartment(only) == nullptr) {
    return grpc_util::ToGrpcStatus(
        grpc_util::FieldError("department", "is not a department of the routing rules"));
  }
  const absl::Time now = clock_.Now();
  if (who->role != auth::Role::kDepartment &&
      (only.empty() || only == rules->default_department())) {
    absl::StatusOr<std::map<std::string, std::optional<absl::Time>>> triage = triage_();
    if (!triage.ok()) return grpc_util::ToGrpcStatus(triage.status());
    *response->mutable_triage() = CountCases(*triage, now);
  }
  for (const auto& [id, department] : rules->departments()) {
    if (!only.empty() && id != only) continue;
    absl::StatusOr<DepartmentCases> cases = workload_(id, rules->Members(id));
    if (!cases.ok()) return grpc_util::ToGrpcStatus(cases.status());
    *response->add_departments() = CountWorkload(department, *cases, now);
  }
  events::SetTime(response->mutable_as_of(), now);
  return grpc::Status::OK;
}

}  // namespace meldpunt::routing
