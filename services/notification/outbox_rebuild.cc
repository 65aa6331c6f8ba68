#include "services/notification/outbox_rebuild.h"

#include "libs/observability/log.h"
#include "libs/status/retry.h"
#include "libs/status/status_macros.h"

namespace meldpunt::notification {

absl::StatusOr<bool> RedisOutboxMarks::TryLockRebuild(const std::string& owner,
                                                      absl::Duration ttl) {
  return redis::TryLock(redis_, kRebuildLockKey, owner, ttl);
}

absl::Status RedisOutboxMarks::UnlockRebuild(const std::string& owner) {
  return redis::Unlock(redis_, kRebuildLockKey, owner);
}

absl::StatusOr<bool> RedisOutboxMarks::Intact() { return redis::HasMarker(redis_, kIntactKey); }

absl::StatusOr<bool> RedisOutboxMarks::MarkIntactIfLocked(const std::string& owner) {
  return redis::SetMarkerIfLocked(redis_, kIntactKey, kRebuildLockKey, owner);
}

absl::Status OutboxGate::Open() {
  if (intact_.Set()) return absl::OkStatus();
  return status::InPlace(absl::UnavailableError(kWaitingText));
}

absl::StatusOr<v1::RebuildDeliveriesResponse> OutboxRebuild::Rebuild() {
  // One replica at a time: the held messages are this process's until it releases them.
  ASSIGN_OR_RETURN(service::RebuildGuard::Held held, guard_.Enter("the outbox", &marks_));
  log::Warning("rebuilding the outbox and the delivery records from the log");
  logic_.Hold();
  absl::StatusOr<int64_t> events =
      replay_([this](const events::Envelope& e, const kafka::Record& r) {
        return logic_.Restore(e, r.partition);
      });
  // Released whatever the replay's outcome: a held message must not wait a year.
  absl::StatusOr<int64_t> released = logic_.Release();
  RETURN_IF_ERROR(events.status());
  RETURN_IF_ERROR(released.status());
  // Marked only while this rebuild still holds the lock: a Redis that lost its data again
  // meanwhile lost the lock too, and the next check rebuilds once more.
  ASSIGN_OR_RETURN(bool marked, marks_.MarkIntactIfLocked(held.owner()));
  if (!marked) {
    return absl::AbortedError("Redis lost the rebuild's lock before it ended; rebuilding again");
  }
  log::Warning("outbox and delivery records rebuilt from the log",
               {{"events", *events}, {"sent_again", *released}});
  v1::RebuildDeliveriesResponse response;
  response.set_events(*events);
  response.set_sent_again(*released);
  return response;
}

void OutboxRebuild::CheckOnce() {
  // Has Redis lost the outbox (FLUSHALL, a new instance, the first start)? Then it is rebuilt
  // from the log: messages queued before the loss have no outcome on the log and are sent (with
  // their idempotency keys), delivered ones are not.
  if (guard_.running()) return;
  absl::StatusOr<bool> intact = marks_.Intact();
  if (!intact.ok() || *intact) return;
  log::Warning(
      "the outbox is not known to be complete (Redis lost it, or a first start); "
      "rebuilding it from the log");
  absl::StatusOr<v1::RebuildDeliveriesResponse> rebuilt = Rebuild();
  if (!rebuilt.ok() && rebuilt.status().code() != absl::StatusCode::kAborted) {
    log::Error("outbox rebuild failed; the next check tries again",
               {{"error", rebuilt.status().ToString()}});
  }
}

void OutboxRebuild::Start() {
  watcher_ = std::thread([this] {
    absl::Duration wait = absl::ZeroDuration();
    while (!stopping_.WaitForNotificationWithTimeout(wait)) {
      wait = check_interval_;
      CheckOnce();
    }
  });
}

void OutboxRebuild::Stop() {
  if (!stopping_.HasBeenNotified()) stopping_.Notify();
  if (watcher_.joinable()) watcher_.join();
}

}  // namespace meldpunt::notification
