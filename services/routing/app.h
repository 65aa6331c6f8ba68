// The routing service's composition root: it builds the real Kafka, Redis and gRPC objects and
// wires them to the behaviour beside it (RoutingHandler: a case event in, decisions out;
// RuleBook: the rules in force and their reload; RoutingMetrics), on the shared application
// base (libs/service/application.h: start steps that register their stops, readiness).
//
//   RoutingApp app(config);
//   RETURN_IF_ERROR(app.Start());  // rules, admin port, topics, producer, Redis, consumer, gRPC,
//                                  // the SIGHUP reload
//   WaitForShutdownSignal();
//   app.Stop();                    // the same, last first
#pragma once

#include <memory>

#include "absl/status/status.h"
#include "libs/clock/clock.h"
#include "libs/events/event_consumer.h"
#include "libs/grpc/server.h"
#include "libs/kafka/producer.h"
#include "libs/observability/admin_server.h"
#include "libs/redis/redis.h"
#include "libs/service/application.h"
#include "libs/service/dead_letters.h"
#include "libs/service/readiness.h"
#include "libs/service/record_sink.h"
#include "libs/service/wiring.h"
#include "services/routing/config.h"
#include "services/routing/metrics.h"
#include "services/routing/route_store.h"
#include "services/routing/routing_handler.h"
#include "services/routing/routing_logic.h"
#include "services/routing/routing_service.h"
#include "services/routing/rule_book.h"

namespace meldpunt::routing {

class RoutingApp {
 public:
  explicit RoutingApp(RoutingConfig config);
  ~RoutingApp();
  absl::Status Start();
  void Stop();
  bool Ready() const;

  // Reads the rules file again; on error the rules in force stay (RuleBook::Reload).
  absl::Status ReloadRules();

 private:
  absl::Status StartSteps();

  RoutingConfig config_;
  clock::SystemClock clock_;
  std::shared_ptr<prometheus::Registry> registry_;
  service::GrpcSecurity security_;  // before the service that holds its guard
  std::unique_ptr<RoutingMetrics> metrics_;
  std::unique_ptr<RuleBook> rules_;
  std::unique_ptr<RoutingLogic> logic_;
  std::unique_ptr<kafka::Producer> producer_;
  std::unique_ptr<service::ProducerSink> sink_;
  std::unique_ptr<redis::Client> redis_;
  std::unique_ptr<service::RedisDurability> durability_;
  std::unique_ptr<RedisRouteStore> store_;
  std::unique_ptr<RoutingHandler> handler_;
  service::DeadLetters dead_letters_;  // outlives the consumer
  std::unique_ptr<events::EventConsumer> consumer_;
  std::unique_ptr<RoutingService> service_;
  std::unique_ptr<observability::AdminServer> admin_;
  grpc_util::ServerRunner grpc_;
  std::unique_ptr<ReloadOnSignal> reload_on_signal_;
  // Kafka and Redis answering, for /readyz; made last in Start, gone first.
  std::unique_ptr<service::DependencyCheck> dependencies_;
  // Last: destroyed first, so its stops run while everything they stop still exists.
  service::Application app_;
};

}  // namespace meldpunt::routing
