// The timer loop: every deadline.poll_interval a pass fires the due timers of the partitions this
// replica is assigned (FireDue: claim a page, append its events, wait for every acknowledgement,
// complete), and every 50 passes refreshes the clock gauges and checks that Redis still holds the
// timers (the marker; a rebuild when it is gone). While a rebuild runs here or on another replica
// it fires nothing (a timer without its clock would race the replay).
//
// It is also the consumer's rebalance listener: the partitions it fires are those the group gives
// this replica, and a revoke waits for a firing pass under way, so the next owner never fires a
// partition at the same time.
//
//   TimerLoop loop(logic, store, sink, rebuild, metrics, clock, {.poll_interval = ...});
//   MakeCaseEventConsumer(config, group, client, &loop);  // the listener
//   loop.Start();
//   ...
//   loop.Stop();
//
// Owns one thread (the timer thread); the rebalance callbacks come on the consumer's.
#pragma once

#include <atomic>
#include <set>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "libs/clock/clock.h"
#include "libs/kafka/consumer.h"
#include "libs/service/record_sink.h"
#include "services/deadline_watch/deadline_logic.h"
#include "services/deadline_watch/metrics.h"
#include "services/deadline_watch/timer_rebuild.h"
#include "services/deadline_watch/timer_store.h"

namespace meldpunt::deadline {

struct TimerLoopOptions {
  absl::Duration poll_interval = absl::Milliseconds(100);
  absl::Duration produce_timeout = absl::Seconds(10);
  int claim_limit = 500;
  // Every this many passes: the gauges, and whether Redis lost the timers.
  int check_every = 50;
};

class TimerLoop final : public kafka::RebalanceListener {
 public:
  TimerLoop(DeadlineLogic& logic, TimerStore& store, service::RecordSink& sink,
            TimerRebuild& rebuild, DeadlineMetrics& metrics, const clock::Clock& clock,
            TimerLoopOptions options)
      : logic_(logic),
        store_(store),
        sink_(sink),
        rebuild_(rebuild),
        metrics_(metrics),
        clock_(clock),
        options_(options) {}
  ~TimerLoop() override { Stop(); }

  void Start();
  // Within a poll interval, or once a firing pass (or a rebuild the loop started) ends.
  void Stop();

  void OnAssigned(const std::vector<kafka::TopicPartition>& partitions) override;
  void OnRevoked(const std::vector<kafka::TopicPartition>& partitions) override;

  // One pass of the loop (the thread runs them one after another; tests call it directly).
  // Returns whether the loop waits a poll interval before the next pass (not after a rebuild).
  bool Pass();
  // The partitions whose timers this replica fires.
  std::set<int32_t> partitions() const;

 private:
  void Run();
  absl::Status FirePartition(int32_t partition);
  void UpdateGauges();

  DeadlineLogic& logic_;
  TimerStore& store_;
  service::RecordSink& sink_;
  TimerRebuild& rebuild_;
  DeadlineMetrics& metrics_;
  const clock::Clock& clock_;
  const TimerLoopOptions options_;
  int pass_ = 0;  // the timer thread's (or the test's)
  mutable absl::Mutex mu_;
  std::set<int32_t> partitions_ ABSL_GUARDED_BY(mu_);
  absl::Mutex fire_mu_;  // held by the timer thread during a firing pass
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace meldpunt::deadline
