#include "services/deadline_watch/timer_rebuild.h"

#include "libs/observability/log.h"
#include "libs/status/status_macros.h"
#include "services/deadline_watch/buffered_timer_store.h"

namespace meldpunt::deadline {

absl::StatusOr<int64_t> TimerRebuild::Rebuild() {
  ASSIGN_OR_RETURN(service::RebuildGuard::Held held, guard_.Enter("the timers", &lock_));
  consumer_.Stop();
  if (absl::Status cleared = store_.Clear(); !cleared.ok()) {
    // Redis failed between the stop and the clear: keep following the log; the marker still says
    // what it said, and the caller may try again.
    RETURN_IF_ERROR(consumer_.Start());
    return cleared;
  }
  absl::StatusOr<int64_t> replayed =
      replay_([this](events::Batch& batch) { FoldRun(batch); }, nullptr);
  if (!replayed.ok()) {
    RETURN_IF_ERROR(consumer_.Start());  // keep following the log; the marker stays unset: retried
    return replayed.status();
  }
  RETURN_IF_ERROR(store_.MarkIntact());
  RETURN_IF_ERROR(consumer_.Start());
  log::Warning("timers rebuilt from the log", {{"events", *replayed}});
  return *replayed;
}

absl::Status TimerRebuild::StartFollowing() {
  ASSIGN_OR_RETURN(bool intact, store_.Intact());
  if (intact) return consumer_.Start();
  // A new Redis, or one that lost its data: the timers are rebuilt from the log first (by this
  // replica, or by another one that got there first: then this one waits for it).
  log::Warning("timers not known to be complete; rebuilding them from the log");
  absl::StatusOr<int64_t> replayed = Rebuild();
  if (replayed.status().code() == absl::StatusCode::kAborted) return consumer_.Start();
  return replayed.status();
}

void TimerRebuild::FoldRun(events::Batch& batch) {
  // Only what the run leaves: a rebuild that stops part way is done again from the start.
  BufferedTimerStore buffered(store_, BufferedTimerStore::Writes::kFinalState);
  if (absl::Status read = buffered.Prefetch(DeadlineLogic::CasesToRead(batch)); !read.ok())
    return batch.Fail(0, read);
  for (size_t i = 0; i < batch.size(); ++i) {
    // The clock events of the past are in the log already: none are made.
    absl::Status folded = logic_.Fold(batch.envelope(i), batch.record(i).partition, buffered);
    if (!folded.ok()) {
      // What the records before it wrote is kept; it comes again with the ones after it.
      if (absl::Status written = buffered.Flush(); !written.ok()) return batch.Fail(0, written);
      return batch.Fail(i, folded);
    }
  }
  if (absl::Status written = buffered.Flush(); !written.ok()) batch.Fail(0, written);
}

bool TimerRebuild::CheckRemote() {
  absl::StatusOr<bool> running = lock_.RebuildRunning();
  const bool remote = running.ok() && *running;
  remote_ = remote;
  return remote;
}

}  // namespace meldpunt::deadline
