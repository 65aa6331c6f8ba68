// gRPC adapter of meldpunt.routing.v1.Routing.
#pragma once

#include "meldpunt/routing/v1/routing.grpc.pb.h"
#include "services/routing/rules.h"

namespace meldpunt::routing {

class RoutingService final : public v1::Routing::Service {
 public:
  explicit RoutingService(const Rules& rules) : rules_(rules) {}
  grpc::Status ExplainRoute(grpc::ServerContext*, const v1::ExplainRouteRequest* request,
                            v1::RouteDecision* response) override;
  grpc::Status GetRules(grpc::ServerContext*, const v1::GetRulesRequest*,
                        v1::GetRulesResponse* response) override;

 private:
  const Rules& rules_;
};

}  // namespace meldpunt::routing
