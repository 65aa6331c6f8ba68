// Deadline-watch's composition root: it builds the real Kafka, Redis and gRPC objects and wires
// them to the behaviour beside it, on the shared application base (libs/service/application.h:
// start steps that register their stops, readiness, the rebuild guard):
// - DeadlineHandler: a case event in, its clock events appended (the consumer's handler);
// - TimerLoop: fires the due timers of this replica's partitions (the consumer's rebalance
//   listener), checks that Redis still holds them;
// - TimerRebuild: the timers rebuilt from the log (at start, by the timer loop, on request);
// - AlertTail: the alert stream's reader of the whole log;
// - DeadlineMetrics, and DeadlineService (gRPC).
//
//   DeadlineApp app(config);
//   RETURN_IF_ERROR(app.Start());
//   WaitForShutdownSignal();
//   app.Stop();
#pragma once

#include <memory>

#include "absl/status/status.h"
#include "libs/calendar/calendar.h"
#include "libs/catalog/catalog_file.h"
#include "libs/clock/clock.h"
#include "libs/grpc/server.h"
#include "libs/kafka/producer.h"
#include "libs/observability/admin_server.h"
#include "libs/redis/redis.h"
#include "libs/service/application.h"
#include "libs/service/consumer_slot.h"
#include "libs/service/dead_letters.h"
#include "libs/service/readiness.h"
#include "libs/service/record_sink.h"
#include "libs/service/wiring.h"
#include "services/deadline_watch/alert_hub.h"
#include "services/deadline_watch/alert_tail.h"
#include "services/deadline_watch/config.h"
#include "services/deadline_watch/deadline_handler.h"
#include "services/deadline_watch/deadline_logic.h"
#include "services/deadline_watch/deadline_service.h"
#include "services/deadline_watch/metrics.h"
#include "services/deadline_watch/timer_loop.h"
#include "services/deadline_watch/timer_rebuild.h"
#include "services/deadline_watch/timer_store.h"

namespace meldpunt::deadline {

class DeadlineApp {
 public:
  explicit DeadlineApp(DeadlineConfig config);
  ~DeadlineApp();
  absl::Status Start();
  void Stop();
  bool Ready() const;

  // Clears timers and clocks and folds the whole case log again; returns the records read.
  absl::StatusOr<int64_t> RebuildTimers() { return rebuild_->Rebuild(); }

 private:
  absl::Status StartSteps();

  DeadlineConfig config_;
  clock::SystemClock clock_;
  std::shared_ptr<prometheus::Registry> registry_;
  service::GrpcSecurity security_;  // before the service that holds its guard
  std::unique_ptr<DeadlineMetrics> metrics_;
  AlertHub alerts_;
  std::unique_ptr<kafka::Producer> producer_;
  std::unique_ptr<service::ProducerSink> sink_;
  std::unique_ptr<redis::Client> redis_;
  std::unique_ptr<service::RedisDurability> durability_;
  std::unique_ptr<RedisTimerStore> store_;
  std::unique_ptr<calendar::BusinessCalendar> calendar_;
  std::unique_ptr<catalog::CatalogFile> catalog_;
  std::unique_ptr<DeadlineLogic> logic_;
  std::unique_ptr<TimerRebuild> rebuild_;
  std::unique_ptr<DeadlineHandler> handler_;
  std::unique_ptr<TimerLoop> timer_loop_;  // the consumer's rebalance listener: outlives it
  service::DeadLetters dead_letters_;      // outlives the consumer
  std::unique_ptr<service::ConsumerSlot> consumer_;
  std::unique_ptr<AlertTail> alert_tail_;
  std::unique_ptr<DeadlineService> service_;
  std::unique_ptr<observability::AdminServer> admin_;
  grpc_util::ServerRunner grpc_;
  // Kafka and Redis answering, for /readyz; made last in Start, gone first.
  std::unique_ptr<service::DependencyCheck> dependencies_;
  // Last: destroyed first, so its stops run while everything they stop still exists.
  service::Application app_;
};

}  // namespace meldpunt::deadline
