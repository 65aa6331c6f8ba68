// The intake's composition root: it builds the real Kafka, Redis and gRPC objects and wires them
// to the behaviour beside it, on the shared application base (libs/service/application.h: start
// steps that register their stops, readiness, the rebuild guard):
// - IntakeLogic: submissions and commands (with Completions, SubmitCase's last step);
// - ProjectionFold: the projection consumer's handler (and the dead-letter replay's);
// - ProjectionRebuild: the projection rebuilt from the log (on request, or by its watcher when the
//   marker is gone);
// - RetentionJob: personal data erased past its term;
// - IntakeService, CaseWorkService, AdminService, ReportingService (gRPC), IntakeMetrics.
//
//   IntakeApp app(config);
//   RETURN_IF_ERROR(app.Start());   // topics, Redis, projection consumer, gRPC, admin HTTP
//   WaitForShutdownSignal();
//   app.Stop();                     // drains gRPC calls, stops the consumer, flushes Kafka
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "libs/audit/audit.h"
#include "libs/clock/clock.h"
#include "libs/events/event_log.h"
#include "libs/grpc/server.h"
#include "libs/kafka/producer.h"
#include "libs/observability/admin_server.h"
#include "libs/redis/redis.h"
#include "libs/service/application.h"
#include "libs/service/consumer_slot.h"
#include "libs/service/dead_letters.h"
#include "libs/service/readiness.h"
#include "libs/service/wiring.h"
#include "services/intake/completions.h"
#include "services/intake/config.h"
#include "services/intake/fold_watch.h"
#include "services/intake/intake_logic.h"
#include "services/intake/intake_service.h"
#include "services/intake/metrics.h"
#include "services/intake/projection.h"
#include "services/intake/reporting_service.h"
#include "services/intake/retention.h"

namespace meldpunt::intake {

class IntakeApp {
 public:
  explicit IntakeApp(IntakeConfig config);
  ~IntakeApp();

  absl::Status Start();
  void Stop();
  bool Ready() const;
  int grpc_port() const { return grpc_.port(); }
  int admin_port() const { return admin_ ? admin_->port() : 0; }

  // Clears the projection and folds the whole log again (the Admin RPC calls this).
  absl::StatusOr<v1::RebuildProjectionResponse> RebuildProjection() { return rebuild_->Rebuild(); }
  // Tests: called on the rebuild's thread at its steps: "replayed" (the log folded up to the end
  // positions read after the clear, the live projection consumer not back yet). Before Start.
  void SetRebuildHookForTest(std::function<void(const std::string& step)> hook) {
    rebuild_hook_ = std::move(hook);
  }

  // One pass of the retention job now (tests and meldctl use the scheduled one otherwise).
  absl::StatusOr<int64_t> RunRetentionOnce() { return retention_->RunOnce(); }

 private:
  absl::Status StartSteps();

  IntakeConfig config_;
  clock::SystemClock clock_;
  std::shared_ptr<prometheus::Registry> registry_;
  service::GrpcSecurity security_;  // before the services that hold its guard
  std::unique_ptr<IntakeMetrics> metrics_;
  std::unique_ptr<kafka::Producer> producer_;
  std::unique_ptr<events::KafkaEventLog> event_log_;
  std::unique_ptr<redis::Client> redis_;
  std::unique_ptr<service::RedisDurability> durability_;
  service::Privacy privacy_;
  std::unique_ptr<audit::KafkaAuditTrail> audit_;
  std::unique_ptr<RedisCaseStore> store_;
  std::unique_ptr<catalog::CatalogFile> catalog_;
  FoldWatch fold_watch_;  // the projection consumer tells waiting calls what it folded
  std::unique_ptr<IntakeLogic> logic_;
  // SubmitCase's last step after Kafka's acknowledgement (before logic_ goes, which it calls;
  // stopped once the gRPC server has shut down).
  std::unique_ptr<Completions> completions_;
  std::unique_ptr<RedisRetentionIndex> retention_index_;
  std::unique_ptr<RetentionJob> retention_;
  std::unique_ptr<ProjectionFold> fold_;
  service::DeadLetters dead_letters_;  // outlives the projection's consumer
  std::unique_ptr<service::ConsumerSlot> projection_;
  std::unique_ptr<ProjectionRebuild> rebuild_;
  std::function<void(const std::string& step)> rebuild_hook_;
  std::unique_ptr<IntakeService> service_;
  std::unique_ptr<CaseWorkService> casework_;
  std::unique_ptr<AdminService> admin_service_;
  std::unique_ptr<ReportingService> reporting_;
  std::unique_ptr<observability::AdminServer> admin_;
  grpc_util::ServerRunner grpc_;
  // Kafka and Redis answering, for /readyz; made last in Start, gone first.
  std::unique_ptr<service::DependencyCheck> dependencies_;
  // Last: destroyed first, so its stops run while everything they stop still exists.
  service::Application app_;
};

}  // namespace meldpunt::intake
