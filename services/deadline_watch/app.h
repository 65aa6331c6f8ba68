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
#include "prometheus/counter.h"
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
  absl::Status StartConsumer();
  absl::Status FirePartition(int32_t partition);

  DeadlineConfig config_;
  clock::SystemClock clock_;
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>* fired_ = nullptr;
  std::unique_ptr<kafka::Producer> producer_;
  std::unique_ptr<redis::Client> redis_;
  std::unique_ptr<RedisTimerStore> store_;
  std::unique_ptr<calendar::BusinessCalendar> calendar_;
  std::unique_ptr<DeadlineLogic> logic_;
  absl::Mutex consumer_mu_;  // held while the consumer is replaced (rebuild)
  std::unique_ptr<events::EventConsumer> consumer_ ABSL_GUARDED_BY(consumer_mu_);
  std::atomic<bool> rebuilding_{false};
  std::unique_ptr<DeadlineService> service_;
  std::unique_ptr<observability::AdminServer> admin_;
  grpc_util::ServerRunner grpc_;
  mutable absl::Mutex mu_;
  std::set<int32_t> partitions_ ABSL_GUARDED_BY(mu_);
  std::atomic<bool> stop_{false};
  std::thread timer_thread_;
  std::atomic<bool> started_{false};
};

}  // namespace meldpunt::deadline
