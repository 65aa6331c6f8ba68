// Deadline-watch's composition root: the case-event consumer (starts and stops clocks), the timer
// loop (fires due timers of the partitions this replica is assigned), gRPC and admin HTTP.
// Owns the timer thread; the consumer thread belongs to EventConsumer.
#pragma once

#include <atomic>
#include <memory>
#include <set>
#include <thread>

#include "absl/base/thread_annotations.h"
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
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "services/deadline_watch/alert_hub.h"
#include "services/deadline_watch/config.h"
#include "services/deadline_watch/deadline_logic.h"
#include "services/deadline_watch/deadline_service.h"

namespace meldpunt::deadline {

class DeadlineApp : public kafka::RebalanceListener {
 public:
  explicit DeadlineApp(DeadlineConfig config);
  ~DeadlineApp() override;
  absl::Status Start();
  void Stop();
  bool Ready() const;

  void OnAssigned(const std::vector<kafka::TopicPartition>& partitions) override;
  void OnRevoked(const std::vector<kafka::TopicPartition>& partitions) override;

  // Clears timers and clocks and folds the whole case log again; returns the records read.
  absl::StatusOr<int64_t> RebuildTimers();

 private:
  void TimerLoop();
  void TailLoop();
  absl::Status StartConsumer();
  // What the consumer does with a case event (also a dead letter's replay).
  absl::Status HandleRecord(const events::Envelope& envelope, const kafka::Record& record);
  absl::Status FirePartition(int32_t partition);
  // Appends events to the case log and waits until every one is acknowledged.
  absl::Status AppendAll(const std::vector<events::Envelope>& envelopes);
  void UpdateGauges();

  DeadlineConfig config_;
  clock::SystemClock clock_;
  std::shared_ptr<prometheus::Registry> registry_;
  service::GrpcSecurity security_;  // before the service that holds its guard
  prometheus::Family<prometheus::Counter>* fired_ = nullptr;
  prometheus::Family<prometheus::Counter>* breaches_ = nullptr;
  prometheus::Family<prometheus::Counter>* clock_events_ = nullptr;
  prometheus::Histogram* lateness_ = nullptr;
  prometheus::Gauge* open_clocks_ = nullptr;
  prometheus::Gauge* due_24h_ = nullptr;
  AlertHub alerts_;
  std::unique_ptr<kafka::Consumer> tail_;  // every partition, from the end: the alert stream
  std::thread tail_thread_;
  std::atomic<bool> tail_assigned_{false};
  std::unique_ptr<kafka::Producer> producer_;
  std::unique_ptr<redis::Client> redis_;
  std::unique_ptr<RedisTimerStore> store_;
  std::unique_ptr<calendar::BusinessCalendar> calendar_;
  std::unique_ptr<catalog::CatalogFile> catalog_;
  std::unique_ptr<DeadlineLogic> logic_;
  absl::Mutex consumer_mu_;            // held while the consumer is replaced (rebuild)
  service::DeadLetters dead_letters_;  // outlives the consumer
  std::unique_ptr<events::EventConsumer> consumer_ ABSL_GUARDED_BY(consumer_mu_);
  std::atomic<bool> rebuilding_{false};
  std::atomic<bool> remote_rebuild_{false};  // another replica holds the rebuild lock
  absl::Mutex fire_mu_;                      // held by the timer thread during a firing pass
  std::unique_ptr<DeadlineService> service_;
  std::unique_ptr<observability::AdminServer> admin_;
  grpc_util::ServerRunner grpc_;
  // Kafka and Redis answering, for /readyz; made last in Start, gone first.
  std::unique_ptr<service::DependencyCheck> dependencies_;
  mutable absl::Mutex mu_;
  std::set<int32_t> partitions_ ABSL_GUARDED_BY(mu_);
  std::atomic<bool> stop_{false};
  std::thread timer_thread_;
  std::atomic<bool> started_{false};
};

}  // namespace meldpunt::deadline
