// gRPC adapter of meldpunt.routing.v1.Routing.
#pragma once

#include <functional>
#include <memory>

#include "libs/auth/auth.h"
#include "libs/clock/clock.h"
#include "meldpunt/routing/v1/routing.grpc.pb.h"
#include "services/routing/route_store.h"
#include "services/routing/rules.h"

namespace meldpunt::routing {

class RoutingService final : public v1::Routing::Service {
 public:
  using CurrentRules = std::function<std::shared_ptr<const RuleSet>()>;
  using Reload = std::function<absl::Status()>;
  using OpenCasesOf =
      std::function<std::map<std::string, int64_t>(const RuleSet&, const std::string&)>;
  // RouteStore::Workload of a department and its members.
  using WorkloadOf = std::function<absl::StatusOr<DepartmentCases>(
      const std::string&, const std::vector<std::string>&)>;
  // RouteStore::Triage.
  using TriageOf =
      std::function<absl::StatusOr<std::map<std::string, std::optional<absl::Time>>>()>;

  RoutingService(const auth::Guard& guard, CurrentRules rules, Reload reload,
                 OpenCasesOf open_cases, WorkloadOf workload, TriageOf triage,
                 const clock::Clock& clock, std::string source)
      : guard_(guard),
        rules_(std::move(rules)),
        reload_(std::move(reload)),
        open_cases_(std::move(open_cases)),
        workload_(std::move(workload)),
        triage_(std::move(triage)),
        clock_(clock),
        source_(std::move(source)) {}

  grpc::Status ExplainRoute(grpc::ServerContext*, const v1::ExplainRouteRequest* request,
                            v1::RouteDecision* response) override;
  grpc::Status GetRules(grpc::ServerContext*, const v1::GetRulesRequest*,
                        v1::GetRulesResponse* response) override;
  grpc::Status ReloadRules(grpc::ServerContext*, const v1::ReloadRulesRequest*,
                           v1::GetRulesResponse* response) override;
  grpc::Status GetWorkload(grpc::ServerContext*, const v1::GetWorkloadRequest* request,
                           v1::GetWorkloadResponse* response) override;

 private:
  const auth::Guard& guard_;
  CurrentRules rules_;
  Reload reload_;
  OpenCasesOf open_cases_;
  WorkloadOf workload_;
  TriageOf triage_;
  const clock::Clock& clock_;
  std::string source_;
};

}  // namespace meldpunt::routing
