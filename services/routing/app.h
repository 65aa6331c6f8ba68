// The routing service's composition root: consumer of the case log, routing state and workload in
// Redis, producer of CaseRouted / CaseTriaged / CaseReferred and dispatch messages, the Routing
// gRPC service, the rules reload (RPC and SIGHUP) and the admin port. Owns the reload thread.
#pragma once

#include <array>
#include <atomic>
#include <memory>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "libs/clock/clock.h"
#include "libs/events/event_consumer.h"
#include "libs/grpc/server.h"
#include "libs/kafka/producer.h"
#include "libs/observability/admin_server.h"
#include "libs/redis/redis.h"
#include "libs/service/dead_letters.h"
#include "libs/service/readiness.h"
#include "libs/service/wiring.h"
#include "prometheus/counter.h"
#include "services/routing/config.h"
#include "services/routing/route_store.h"
#include "services/routing/routing_logic.h"
#include "services/routing/routing_service.h"

namespace meldpunt::routing {

class RoutingApp {
 public:
  explicit RoutingApp(RoutingConfig config);
  ~RoutingApp();
  absl::Status Start();
  void Stop();
  bool Ready() const;

  // Reads the rules file again; on error the rules in force stay.
  absl::Status ReloadRules();

 private:
  absl::Status HandleEvent(const events::Envelope& envelope);
  // The metrics and log lines of a routing decision, once its records are durable.
  void RecordRouted(const std::string& case_id, const std::string& trace_id,
                    const std::vector<events::Envelope>& out, const std::string& triage_rule);
  std::shared_ptr<const RuleSet> Rules() const;
  std::map<std::string, int64_t> OpenCases(const RuleSet& rules, const std::string& department);

  RoutingConfig config_;
  clock::SystemClock clock_;
  std::shared_ptr<prometheus::Registry> registry_;
  service::GrpcSecurity security_;  // before the service that holds its guard
  prometheus::Family<prometheus::Counter>* routed_ = nullptr;
  prometheus::Family<prometheus::Counter>* reloads_ = nullptr;
  mutable absl::Mutex rules_mu_;
  std::shared_ptr<const RuleSet> rules_ ABSL_GUARDED_BY(rules_mu_);
  // Held by category from the duplicate search until the case is in the duplicate index, so two
  // nearby cases handled on two lanes at once cannot both miss each other.
  std::array<absl::Mutex, 16> duplicate_stripes_;
  std::unique_ptr<RoutingLogic> logic_;
  std::unique_ptr<kafka::Producer> producer_;
  std::unique_ptr<redis::Client> redis_;
  std::unique_ptr<RedisRouteStore> store_;
  service::DeadLetters dead_letters_;  // outlives the consumer
  std::unique_ptr<events::EventConsumer> consumer_;
  std::unique_ptr<RoutingService> service_;
  std::unique_ptr<observability::AdminServer> admin_;
  grpc_util::ServerRunner grpc_;
  // Kafka and Redis answering, for /readyz; made last in Start, gone first.
  std::unique_ptr<service::DependencyCheck> dependencies_;
  std::atomic<bool> stop_{false};
  std::thread reload_thread_;
  bool started_ = false;
};

}  // namespace meldpunt::routing
