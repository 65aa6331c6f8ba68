// The timers and clocks rebuilt from the log: after Redis lost them (the marker
// mp:deadline:intact is gone: at start, or seen by the timer loop) or on an operator's request
// (DeadlineWatch/RebuildTimers). One replica at a time (the RebuildGuard and the replicas'
// lock); while one rebuilds, the others hold their consumers (the handler answers "in place")
// and their timer loops, since their work would race the replay.
//
//   TimerRebuild rebuild(app.rebuild(), store, store, logic, consumer, replay);
//   RETURN_IF_ERROR(rebuild.StartFollowing());          // at start
//   ASSIGN_OR_RETURN(int64_t events, rebuild.Rebuild());  // on request
#pragma once

#include <atomic>
#include <cstdint>

#include "absl/status/statusor.h"
#include "libs/service/consumer_slot.h"
#include "libs/service/rebuild_guard.h"
#include "libs/service/replay.h"
#include "services/deadline_watch/deadline_logic.h"
#include "services/deadline_watch/timer_store.h"

namespace meldpunt::deadline {

// Thread-safe: the timer thread, a gRPC call and the start may each ask for a rebuild; the guard
// lets one through.
class TimerRebuild {
 public:
  TimerRebuild(service::RebuildGuard& guard, TimerRebuildLock& lock, TimerStore& store,
               DeadlineLogic& logic, service::LiveConsumer& consumer,
               service::CaseLogBatchReplay replay)
      : guard_(guard),
        lock_(lock),
        store_(store),
        logic_(logic),
        consumer_(consumer),
        replay_(std::move(replay)) {}

  // Stops the consumer, clears the timers, clocks and deadline index, folds the whole case log
  // again, a run of records at a time (writing no clock events: those of the past are in the
  // log), marks the timers intact
  // and starts the consumer again. Returns the records read. ABORTED when a rebuild runs here or
  // on another replica; on any other error the consumer is started again and the marker stays
  // unset, so the next check tries again.
  absl::StatusOr<int64_t> Rebuild();
  // At start: starts the consumer, after a rebuild when the timers are not known to be complete
  // (a new Redis, or one that lost its data). When another replica is rebuilding, the consumer
  // starts and waits for it (the handler holds its records in place).
  absl::Status StartFollowing();

  // A rebuild runs in this process.
  bool running() const { return guard_.running(); }
  // Another replica held the rebuild lock when last asked (CheckRemote).
  bool remote() const { return remote_.load(); }
  // Asks the lock whether a rebuild runs anywhere (an error counts as no); the answer, which
  // remote() keeps until the next question.
  bool CheckRemote();

 private:
  service::RebuildGuard& guard_;
  TimerRebuildLock& lock_;
  TimerStore& store_;
  DeadlineLogic& logic_;
  service::LiveConsumer& consumer_;
  // Folds a replay lane's run: its cases' records read in one round trip, its writes sent in one
  // more (BufferedTimerStore), no clock events appended.
  void FoldRun(events::Batch& batch);

  const service::CaseLogBatchReplay replay_;
  std::atomic<bool> remote_{false};
};

}  // namespace meldpunt::deadline
