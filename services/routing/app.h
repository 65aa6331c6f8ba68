// The routing service's composition root: consumer of the case log, producer of CaseRouted and
// dispatch messages, the Routing gRPC service and the admin port.
#pragma once

#include <memory>

#include "absl/status/status.h"
#include "libs/clock/clock.h"
#include "libs/events/event_consumer.h"
#include "libs/grpc/server.h"
#include "libs/kafka/producer.h"
#include "libs/observability/admin_server.h"
#include "prometheus/counter.h"
#include "services/routing/config.h"
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

 private:
  absl::Status HandleEvent(const events::Envelope& envelope);

  RoutingConfig config_;
  clock::SystemClock clock_;
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>* routed_ = nullptr;
  std::unique_ptr<Rules> rules_;
  std::unique_ptr<RoutingLogic> logic_;
  std::unique_ptr<kafka::Producer> producer_;
  std::unique_ptr<events::EventConsumer> consumer_;
  std::unique_ptr<RoutingService> service_;
  std::unique_ptr<observability::AdminServer> admin_;
  grpc_util::ServerRunner grpc_;
  bool started_ = false;
};

}  // namespace meldpunt::routing
