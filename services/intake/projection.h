// The case projection kept from the log: its fold (ProjectionFold: what the live consumer, the
// dead-letter replay and the rebuild do with events) and its rebuild (ProjectionRebuild: the
// projection cleared and folded again from the whole log, by hand or by its watcher when Redis
// lost it).
//
//   ProjectionFold fold(store, marks, fold_watch, metrics, clock);
//   EventConsumer live(consumer, BatchHandler([&](Batch& b) { fold.FoldLive(b); }), ...);
//   ProjectionRebuild rebuild(guard, marks, store, fold, slot, replay, {...});
//   rebuild.Start();  // the watcher: a rebuild when the marker is gone
//   ASSIGN_OR_RETURN(v1::RebuildProjectionResponse done, rebuild.Rebuild());
//   rebuild.Stop();
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "libs/clock/clock.h"
#include "libs/events/batch.h"
#include "libs/events/codec.h"
#include "libs/service/consumer_slot.h"
#include "libs/service/rebuild_guard.h"
#include "libs/service/replay.h"
#include "meldpunt/intake/v1/intake.pb.h"
#include "services/intake/case_store.h"
#include "services/intake/fold_watch.h"
#include "services/intake/metrics.h"

namespace meldpunt::intake {

// Folds events into the projection and does what follows each fold: the waiting command told
// (FoldWatch), the metrics counted; an event for a case never submitted is counted and skipped.
// The retention index is the store's to keep, in the same step as each case
// (CaseStore::KeepRetention). Thread-safe (the consumer's lanes call it at once for different
// cases).
class ProjectionFold {
 public:
  ProjectionFold(CaseStore& store, ProjectionMarks& marks, FoldWatch& fold_watch,
                 IntakeMetrics& metrics, const clock::Clock& clock)
      : store_(store),
        fold_watch_(fold_watch),
        metrics_(metrics),
        intact_([&marks] { return marks.Intact(); }, clock) {}

  // The live consumer's batch handler: the lane's run folded with two Redis round trips
  // (CaseStore::ApplyAll, FoldFence::kLive), then each event's follow-up. Held in place while
  // the projection is not marked complete: the store refuses a live write then, in the same
  // atomic step, and a cached look at the marker (Redis asked at most every 100 ms) spares the
  // round trips while it is known to be gone.
  void FoldLive(events::Batch& batch);
  // The same for one event (the dead-letter replay; offset -1: no offset check).
  absl::Status FoldLiveOne(const events::Envelope& envelope, int64_t offset);
  // A run folded at once, unfenced (the rebuild's replay). `submitted` (may be null) counts the
  // CaseSubmitted events folded (before the first failure).
  void FoldRun(events::Batch& batch, std::atomic<int64_t>* submitted = nullptr) {
    Fold(batch, FoldFence::kNone, submitted);
  }

 private:
  void Fold(events::Batch& batch, FoldFence fence, std::atomic<int64_t>* submitted);
  // What follows a fold (the waiting command told, the metrics counted).
  absl::Status Folded(const events::Envelope& envelope, const FoldOutcome& fold);

  CaseStore& store_;
  FoldWatch& fold_watch_;
  IntakeMetrics& metrics_;
  service::CachedMarker intact_;
};

struct ProjectionRebuildOptions {
  // The live consumer's wait for its partitions once it is back (startup.timeout).
  absl::Duration join_timeout = absl::Seconds(60);
  // How often the watcher checks the marker.
  absl::Duration check_interval = absl::Seconds(1);
};

// The projection rebuilt from the log: by an operator (Admin/RebuildProjection, meldctl rebuild)
// or by the watcher when the marker mp:intake:intact is gone (Redis lost the projection, or a
// first start). One replica at a time (the RebuildGuard and the replicas' lock). Thread-safe; owns
// one thread, the watcher (Start to Stop).
class ProjectionRebuild {
 public:
  // Waits until a deadline for the live consumer to hold its partitions (ConsumerSlot).
  using AwaitJoined = std::function<bool(absl::Time deadline)>;

  ProjectionRebuild(service::RebuildGuard& guard, ProjectionMarks& marks, CaseStore& store,
                    ProjectionFold& fold, service::LiveConsumer& consumer, AwaitJoined await_joined,
                    service::CaseLogBatchReplay replay, ProjectionRebuildOptions options)
      : guard_(guard),
        marks_(marks),
        store_(store),
        fold_(fold),
        consumer_(consumer),
        await_joined_(std::move(await_joined)),
        replay_(std::move(replay)),
        options_(options) {}
  ~ProjectionRebuild() { Stop(); }

  // Takes the marker away (from then on no live fold of any replica writes: FoldFence::kLive),
  // stops the live consumer, clears the projection, folds the log up to its end positions read
  // after the clear, starts the live consumer again and waits for its partitions, folds on to the
  // end of the log as it is then, and marks the projection complete. ABORTED when a rebuild runs
  // here or on another replica, or when Redis lost the lock before the end (the marker stays
  // unset and the next check rebuilds once more). The live consumer comes back whatever happens.
  absl::StatusOr<v1::RebuildProjectionResponse> Rebuild();
  // One check of the marker (what the watcher does every check_interval): a rebuild when it is
  // gone and none runs here. Errors are logged; the next check tries again.
  void CheckOnce();

  void Start();
  void Stop();

  // Tests: called on the rebuild's thread at its steps: "replayed" (the log folded up to the end
  // positions read after the clear, the live consumer not back yet).
  void SetHookForTest(std::function<void(const std::string& step)> hook) {
    hook_ = std::move(hook);
  }

 private:
  service::RebuildGuard& guard_;
  ProjectionMarks& marks_;
  CaseStore& store_;
  ProjectionFold& fold_;
  service::LiveConsumer& consumer_;
  const AwaitJoined await_joined_;
  const service::CaseLogBatchReplay replay_;
  const ProjectionRebuildOptions options_;
  std::function<void(const std::string& step)> hook_;
  absl::Notification stopping_;
  std::thread watcher_;
};

}  // namespace meldpunt::intake
