// The outbox and the delivery records rebuilt from the log: after Redis lost them (the marker
// mp:notify:intact is gone: checked at start and every second) or on an operator's request
// (Notifications/RebuildDeliveries, meldctl rebuild-deliveries). One replica at a time (the
// RebuildGuard and the lock mp:notify:rebuilding): the messages it holds during the replay are
// this process's until it releases them.
//
// The replay: NotificationLogic::Hold, then the log in runs of up to kReplayBatch (5,000) records
// (FoldRun: what Restore does for each event, with a run's reads and writes at once: every message
// the rules call for is queued again, not due; a NotificationDelivered or dead-lettered
// NotificationFailed met later marks its message and takes it out of the queue), Release (what has
// no outcome on the log becomes due and is sent, with its idempotency key). The consumer and the
// senders go on meanwhile: live messages queued during the replay wait for the Release too.
//
// Beside the replay a scan reads the log ahead of it (a thread of its own; the records' bytes, of
// which it decodes only the outcomes and erasures) into OutcomesAhead: a message whose delivery
// the scan has met already is made at once as its final record, with nothing rendered, sealed or
// queued, and the replay passes over the outcomes that record holds. The result is the same as
// without the scan (outbox_rebuild_test: the records of both, byte for byte); the scan only saves
// work, and a scan that fails or lags leaves the replay to do it the long way.
//
//   OutboxRebuild rebuild(app.rebuild(), marks, logic, replay);
//   rebuild.Start();   // the watcher: a rebuild when the marker is gone
//   ASSIGN_OR_RETURN(v1::RebuildDeliveriesResponse done, rebuild.Rebuild());
//   rebuild.Stop();
//
// Owns one thread, the watcher.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "libs/clock/clock.h"
#include "libs/redis/redis.h"
#include "libs/service/rebuild_guard.h"
#include "libs/service/replay.h"
#include "meldpunt/notification/v1/notification.pb.h"
#include "services/notification/notification_logic.h"
#include "services/notification/outcomes_ahead.h"

namespace meldpunt::notification {

// Where the outbox says it is complete, and who is rebuilding it.
class OutboxMarks : public service::RebuildLock {
 public:
  // The outbox is known to be complete (the marker a rebuild sets; gone when Redis lost it).
  virtual absl::StatusOr<bool> Intact() = 0;
  // Sets the marker only while `owner` holds the rebuild lock; false when it no longer does (a
  // Redis that lost its data again meanwhile lost the lock too).
  virtual absl::StatusOr<bool> MarkIntactIfLocked(const std::string& owner) = 0;
};

// mp:notify:intact and mp:notify:rebuilding in notification's Redis.
class RedisOutboxMarks final : public OutboxMarks {
 public:
  static constexpr char kIntactKey[] = "mp:notify:intact";
  static constexpr char kRebuildLockKey[] = "mp:notify:rebuilding";

  explicit RedisOutboxMarks(redis::Client& redis) : redis_(redis) {}
  absl::StatusOr<bool> TryLockRebuild(const std::string& owner, absl::Duration ttl) override;
  absl::Status UnlockRebuild(const std::string& owner) override;
  absl::StatusOr<bool> Intact() override;
  absl::StatusOr<bool> MarkIntactIfLocked(const std::string& owner) override;

 private:
  redis::Client& redis_;
};

// The live consumer's gate, on every replica: while the outbox is not known to be complete (the
// marker gone: Redis lost it, and a rebuild on some replica replays the log), live events wait in
// place. An event of a case whose submission the replay has not restored yet would find no one to
// write to and be passed over, and the replay reads only up to the end it saw at its start.
// Redis is asked at most every 100 ms. Thread-safe.
class OutboxGate {
 public:
  static constexpr char kWaitingText[] =
      "the outbox is being rebuilt from the log; live events wait for it";

  OutboxGate(OutboxMarks& marks, const clock::Clock& clock)
      : intact_([&marks] { return marks.Intact(); }, clock) {}
  // OK when the outbox is complete; UNAVAILABLE (retry in place) otherwise, or when Redis cannot
  // say.
  absl::Status Open();

 private:
  service::CachedMarker intact_;
};

class OutboxRebuild {
 public:
  OutboxRebuild(service::RebuildGuard& guard, OutboxMarks& marks, NotificationLogic& logic,
                service::CaseLogBatchReplay replay, service::CaseLogScan scan = nullptr,
                absl::Duration check_interval = absl::Seconds(1))
      : guard_(guard),
        marks_(marks),
        logic_(logic),
        replay_(std::move(replay)),
        scan_(std::move(scan)),
        check_interval_(check_interval) {}
  ~OutboxRebuild() { Stop(); }

  // ABORTED when a rebuild runs here or on another replica, or when Redis lost the lock before
  // the end (then the marker stays unset and the next check rebuilds once more). Held messages
  // are released whatever the replay's outcome: a held message must not wait a year.
  absl::StatusOr<v1::RebuildDeliveriesResponse> Rebuild();
  // One check of the marker (what the watcher does every check_interval): a rebuild when it is
  // gone and none runs here. Errors are logged; the next check tries again.
  void CheckOnce();

  // One run of the replay, at once (the live handler's BufferedDeliveryStore): the submissions,
  // departments and messages of the run in one read and two writes, then the outcomes on the log
  // (delivered, dead-lettered) applied to their messages in one read and one write. An erasure
  // in the run is a barrier: what comes before it is written first. With `ahead`, messages whose
  // delivery it knows are made final at once and their outcomes passed over.
  void FoldRun(events::Batch& batch, OutcomesAhead* ahead = nullptr);

  // The watcher: a check at once, then every check_interval.
  void Start();
  void Stop();

 private:
  service::RebuildGuard& guard_;
  OutboxMarks& marks_;
  NotificationLogic& logic_;
  const service::CaseLogBatchReplay replay_;
  const service::CaseLogScan scan_;  // null: no look-ahead
  const absl::Duration check_interval_;
  absl::Notification stopping_;
  std::thread watcher_;
};

}  // namespace meldpunt::notification
