// The intake's composition root: real Kafka, Redis and gRPC objects wired into IntakeLogic, the
// projection consumer, and the projection rebuild.
//
//   IntakeApp app(config);
//   RETURN_IF_ERROR(app.Start());   // topics, Redis, projection consumer, gRPC, admin HTTP
//   WaitForShutdownSignal();
//   app.Stop();                     // drains gRPC calls, stops the consumer, flushes Kafka
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "libs/audit/audit.h"
#include "libs/clock/clock.h"
#include "libs/events/event_consumer.h"
#include "libs/events/event_log.h"
#include "libs/grpc/server.h"
#include "libs/kafka/producer.h"
#include "libs/observability/admin_server.h"
#include "libs/redis/redis.h"
#include "libs/service/dead_letters.h"
#include "libs/service/readiness.h"
#include "libs/service/wiring.h"
#include "services/intake/completions.h"
#include "services/intake/config.h"
#include "services/intake/intake_logic.h"
#include "services/intake/intake_service.h"
#include "services/intake/metrics.h"
#include "services/intake/reporting_service.h"

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
  absl::StatusOr<v1::RebuildProjectionResponse> RebuildProjection();
  // Tests: called on the rebuild's thread at its steps: "replayed" (the log folded up to the end
  // positions read after the clear, the live projection consumer not back yet).
  void SetRebuildHookForTest(std::function<void(const std::string& step)> hook) {
    rebuild_hook_ = std::move(hook);
  }

 private:
  absl::Status HandleEvent(const events::Envelope& envelope, int64_t offset);
  // The live projection's batch handler: a lane's run of events folded with two Redis round trips
  // (CaseStore::ApplyAll), then each event's follow-up (Folded).
  void FoldLive(events::Batch& batch);
  // What follows an event's fold: the waiting command told, retention, metrics; an event for a
  // case never submitted is counted and skipped.
  absl::Status Folded(const events::Envelope& envelope, const FoldOutcome& fold);
  // The live consumer's fold: held in place while the projection is incomplete on a replica that
  // is not rebuilding it.
  absl::Status HandleLive(const events::Envelope& envelope, int64_t offset);
  bool ProjectionIntact();
  // Rebuilds the projection by itself when its marker is gone (Redis lost its data).
  void WatchProjection();
  absl::Status StartProjection();
  // Waits (until `deadline`) for the projection consumer to hold its partitions.
  void AwaitProjectionJoined(absl::Time deadline);
  // Keeps mp:retention (case id by the time its personal data falls due for erasure) in step
  // with a folded case: added when it closes, removed when it reopens or is erased.
  absl::Status TrackRetention(const events::Envelope& envelope, const Case& folded);
  // The retention job: erases what fell due, every privacy.retention_interval.
  void RetentionLoop();
  absl::StatusOr<int64_t> EraseDue(absl::Time now);

 public:
  // One pass of the retention job now (tests and meldctl use the scheduled one otherwise).
  absl::StatusOr<int64_t> RunRetentionOnce() { return EraseDue(clock_.Now()); }
  static constexpr char kRetentionKey[] = "mp:retention";

 private:
  IntakeConfig config_;
  clock::SystemClock clock_;
  std::shared_ptr<prometheus::Registry> registry_;
  service::GrpcSecurity security_;  // before the services that hold its guard
  std::unique_ptr<IntakeMetrics> metrics_;
  std::unique_ptr<kafka::Producer> producer_;
  std::unique_ptr<events::KafkaEventLog> event_log_;
  std::unique_ptr<redis::Client> redis_;
  service::Privacy privacy_;
  std::unique_ptr<audit::KafkaAuditTrail> audit_;
  std::unique_ptr<RedisCaseStore> store_;
  std::unique_ptr<catalog::CatalogFile> catalog_;
  FoldWatch fold_watch_;  // the projection consumer tells waiting calls what it folded
  std::unique_ptr<IntakeLogic> logic_;
  // SubmitCase's last step after Kafka's acknowledgement (before logic_ goes, which it calls).
  std::unique_ptr<Completions> completions_;
  std::unique_ptr<IntakeService> service_;
  std::unique_ptr<CaseWorkService> casework_;
  std::unique_ptr<AdminService> admin_service_;
  std::unique_ptr<ReportingService> reporting_;
  absl::Mutex projection_mu_;          // held while the projection consumer is replaced (rebuild)
  service::DeadLetters dead_letters_;  // outlives the projection's consumer
  std::unique_ptr<events::EventConsumer> projection_ ABSL_GUARDED_BY(projection_mu_);
  std::atomic<bool> rebuilding_{false};
  std::function<void(const std::string& step)> rebuild_hook_;
  std::unique_ptr<observability::AdminServer> admin_;
  grpc_util::ServerRunner grpc_;
  // Kafka and Redis answering, for /readyz; made last in Start, gone first.
  std::unique_ptr<service::DependencyCheck> dependencies_;
  std::atomic<bool> started_{false};
  absl::Notification stopping_;
  std::thread retention_thread_;
  std::thread watch_thread_;  // WatchProjection
  std::atomic<int64_t> intact_checked_ms_{0};
  std::atomic<bool> intact_{false};
};

}  // namespace meldpunt::intake
