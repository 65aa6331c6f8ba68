#include "services/deadline_watch/timer_loop.h"

#include "absl/time/clock.h"
#include "libs/observability/log.h"
#include "libs/observability/thread_name.h"
#include "services/deadline_watch/firer.h"

namespace meldpunt::deadline {

void TimerLoop::Start() {
  stop_ = false;
  thread_ = std::thread([this] {
    observability::NameThread("mp-timers");
    Run();
  });
}

void TimerLoop::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void TimerLoop::Run() {
  while (!stop_.load()) {
    if (Pass()) absl::SleepFor(options_.poll_interval);
  }
}

void TimerLoop::OnAssigned(const std::vector<kafka::TopicPartition>& partitions) {
  absl::MutexLock lock(&mu_);
  for (const auto& tp : partitions) partitions_.insert(tp.partition);
}

void TimerLoop::OnRevoked(const std::vector<kafka::TopicPartition>& partitions) {
  {
    absl::MutexLock lock(&mu_);
    for (const auto& tp : partitions) partitions_.erase(tp.partition);
  }
  // Wait for a firing pass under way: once this returns, this replica fires nothing more of the
  // partitions that go, so the next owner does not fire them at the same time.
  absl::MutexLock firing(&fire_mu_);
}

std::set<int32_t> TimerLoop::partitions() const {
  absl::MutexLock lock(&mu_);
  return partitions_;
}

bool TimerLoop::Pass() {
  if (rebuild_.running()) return true;
  // Every `check_every` passes: has Redis lost its data (FLUSHALL, a new instance)? Then rebuild.
  if (++pass_ % options_.check_every == 0) {
    UpdateGauges();
    absl::StatusOr<bool> intact = store_.Intact();
    if (intact.ok() && !*intact) {
      log::Warning("Redis lost the timers; rebuilding them from the log");
      if (absl::StatusOr<int64_t> r = rebuild_.Rebuild(); !r.ok()) {
        log::Error("timer rebuild failed; will try again", {{"error", r.status().ToString()}});
      }
      return false;
    }
  }
  // Another replica rebuilding: its replay and this loop would race (timers without clocks).
  if (rebuild_.CheckRemote()) return true;
  absl::MutexLock firing(&fire_mu_);
  for (int32_t partition : partitions()) {
    {
      absl::MutexLock lock(&mu_);
      if (!partitions_.count(partition)) continue;  // revoked meanwhile
    }
    if (absl::Status status = FirePartition(partition); !status.ok()) {
      log::Warning("firing timers failed; they stay due and fire on a later pass",
                   {{"partition", partition}, {"error", status.ToString()}});
    }
  }
  return true;
}

absl::Status TimerLoop::FirePartition(int32_t partition) {
  FireOptions options{.produce_timeout = options_.produce_timeout,
                      .claim_limit = options_.claim_limit,
                      .stop = &stop_};
  absl::StatusOr<int> fired =
      FireDue(logic_, sink_, partition, options, [this](const Firing& f, absl::Time now) {
        metrics_.Fired(f, now);
        log::Info("deadline fired", {{"case_id", f.timer.case_id},
                                     {"clock", f.timer.clock},
                                     {"kind", f.timer.kind},
                                     {"event_id", f.event->event_id()}});
      });
  return fired.status();
}

void TimerLoop::UpdateGauges() {
  absl::StatusOr<ClockCounts> counts = store_.Counts(clock_.Now(), absl::Hours(24));
  if (!counts.ok()) return;
  metrics_.Clocks(*counts);
}

}  // namespace meldpunt::deadline
