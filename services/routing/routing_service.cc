#include "services/routing/routing_service.h"

#include "libs/domain/validation.h"
#include "libs/grpc/status.h"

namespace meldpunt::routing {

grpc::Status RoutingService::ExplainRoute(grpc::ServerContext*,
                                          const v1::ExplainRouteRequest* request,
                                          v1::RouteDecision* response) {
  if (request->draft().category().empty()) {
    return grpc_util::ToGrpcStatus(grpc_util::FieldError("draft.category", "is required"));
  }
  *response = rules_.Decide(request->draft());
  return grpc::Status::OK;
}

grpc::Status RoutingService::GetRules(grpc::ServerContext*, const v1::GetRulesRequest*,
                                      v1::GetRulesResponse* response) {
  *response = rules_.Describe();
  return grpc::Status::OK;
}

}  // namespace meldpunt::routing
