#include "services/notification/outbox_rebuild.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "libs/observability/log.h"
#include "libs/observability/thread_name.h"
#include "libs/privacy/privacy.h"
#include "libs/status/retry.h"
#include "libs/status/status_macros.h"
#include "services/notification/buffered_delivery_store.h"

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
  OutcomesAhead ahead;
  std::atomic<bool> replayed = false;
  std::thread scan;
  if (scan_) {
    scan = std::thread([this, &ahead, &replayed] {
      observability::NameThread("mp-outbox-scan");
      absl::StatusOr<int64_t> read = scan_(
          [&ahead, &replayed](const kafka::Record& record) {
            if (replayed.load(std::memory_order_relaxed)) return false;
            if (!MayBeOutcomeOrErasure(record.value)) return true;
            absl::StatusOr<events::Envelope> e = events::Decode(record.value);
            return !e.ok() || ahead.Note(*e, record.partition, record.offset);
          },
          [&replayed] { return replayed.load(std::memory_order_relaxed); });
      if (!read.ok()) {
        log::Warning("the outbox rebuild's look-ahead stopped; the replay goes on without it",
                     {{"error", read.status().ToString()}});
      }
    });
  }
  absl::StatusOr<int64_t> events = replay_(
      [this, &ahead](events::Batch& run) { FoldRun(run, scan_ ? &ahead : nullptr); }, nullptr);
  replayed = true;
  ahead.Close();
  if (scan.joinable()) scan.join();
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

namespace {

// The outcomes (`outcomes`: indexes into `run`, in log order) applied to their messages: one read,
// one write. Several outcomes of one message apply in order, the later on what the earlier made.
// A message the read left out (its record unreadable) is read alone, which fails the outcome that
// needs it and no other: the error and the index of the first outcome that failed.
std::optional<std::pair<size_t, absl::Status>> ApplyOutcomes(DeliveryStore& store,
                                                             const events::Batch& run,
                                                             const std::vector<size_t>& outcomes) {
  if (outcomes.empty()) return std::nullopt;
  std::vector<DeliveryStore::JobKey> keys;  // each outcome's message
  for (size_t i : outcomes) {
    keys.push_back({run.envelope(i).case_id(), *NotificationLogic::OutcomeKey(run.envelope(i))});
  }
  absl::StatusOr<std::map<DeliveryStore::JobKey, std::optional<v1::Job>>> jobs = store.JobsOf(keys);
  if (!jobs.ok()) return std::make_pair(outcomes.front(), jobs.status());
  std::optional<std::pair<size_t, absl::Status>> failed;
  std::vector<DeliveryStore::JobKey> touched;  // in the order first finished
  std::set<DeliveryStore::JobKey> seen;        // the same, to look up (a run has thousands)
  for (size_t k = 0; k < outcomes.size(); ++k) {
    auto it = jobs->find(keys[k]);
    if (it == jobs->end()) {
      absl::StatusOr<std::optional<v1::Job>> alone = store.Job(keys[k].first, keys[k].second);
      if (!alone.ok()) {
        failed = std::make_pair(outcomes[k], alone.status());
        break;
      }
      it = jobs->emplace(keys[k], *std::move(alone)).first;
    }
    if (!it->second) continue;  // a message today's rules no longer call for
    NotificationLogic::ApplyOutcome(run.envelope(outcomes[k]), *it->second);
    if (seen.insert(keys[k]).second) touched.push_back(keys[k]);
  }
  std::vector<v1::Job> finished;
  for (const DeliveryStore::JobKey& key : touched) finished.push_back(*jobs->at(key));
  if (absl::Status written = store.FinishAll(finished); !written.ok()) {
    return std::make_pair(outcomes.front(), written);
  }
  return failed;
}

}  // namespace

void OutboxRebuild::FoldRun(events::Batch& batch, OutcomesAhead* ahead) {
  BufferedDeliveryStore buffered(logic_.store());
  std::vector<std::string> case_ids;
  case_ids.reserve(batch.size());
  for (size_t i = 0; i < batch.size(); ++i) case_ids.push_back(batch.envelope(i).case_id());
  if (absl::Status read = buffered.Prefetch(case_ids); !read.ok()) return batch.Fail(0, read);
  std::optional<privacy::BatchKeys> keys;  // the letters' data keys, read at once
  if (logic_.keys() != nullptr) {
    keys.emplace(*logic_.keys());
    if (absl::Status read = keys->Prefetch(case_ids); !read.ok()) return batch.Fail(0, read);
  }
  std::vector<size_t> outcomes;  // not applied yet
  // The run's messages so far into the store, then the outcomes met so far applied to them. The
  // index to fail at, when it failed.
  auto settle = [&]() -> std::optional<std::pair<size_t, absl::Status>> {
    // No "message queued" line for each message made again: the rebuild makes the records of
    // every message the log ever called for, most of them delivered long ago. What it sends
    // again is counted in its last line (sent_again), and each of those is logged when it goes.
    absl::StatusOr<std::vector<v1::Job>> queued = buffered.Flush();
    if (!queued.ok()) return std::make_pair(size_t{0}, queued.status());
    if (ahead != nullptr) {
      // Final records written anew: their outcomes are in them already.
      for (const v1::Job& job : *queued) {
        if (job.delivery().status() != "pending") ahead->Made(job.delivery().idempotency_key());
      }
      outcomes.erase(std::remove_if(outcomes.begin(), outcomes.end(),
                                    [&](size_t i) {
                                      return ahead->Covered(
                                          *NotificationLogic::OutcomeKey(batch.envelope(i)),
                                          batch.record(i).offset);
                                    }),
                     outcomes.end());
    }
    auto failed = ApplyOutcomes(logic_.store(), batch, outcomes);
    outcomes.clear();
    return failed;
  };
  for (size_t i = 0; i < batch.size(); ++i) {
    const events::Envelope& e = batch.envelope(i);
    if (NotificationLogic::OutcomeKey(e)) {
      outcomes.push_back(i);
      continue;
    }
    absl::Status handled;
    if (e.has_reporter_data_erased()) {
      // The erasure rewrites the case's messages in the store itself: what comes before it first.
      if (auto failed = settle()) return batch.Fail(failed->first, failed->second);
      handled = logic_.Handle(e, batch.record(i).partition);
      buffered.Forget();
      if (keys) keys->Forget(e.case_id());
    } else {
      const NotificationLogic::Ahead at{.outcomes = ahead, .offset = batch.record(i).offset};
      handled = logic_.Handle(e, batch.record(i).partition, buffered, keys ? &*keys : nullptr,
                              ahead != nullptr ? &at : nullptr);
    }
    if (!handled.ok()) {
      // What the records before it wrote is kept; it comes again with the ones after it.
      if (auto failed = settle()) return batch.Fail(failed->first, failed->second);
      return batch.Fail(i, handled);
    }
  }
  if (auto failed = settle()) return batch.Fail(failed->first, failed->second);
  if (ahead != nullptr) {
    // The whole run is done: outcomes the scan meets in it from now on are of no use.
    std::map<int32_t, int64_t> last;
    for (size_t i = 0; i < batch.size(); ++i) {
      int64_t& at = last.try_emplace(batch.record(i).partition, -1).first->second;
      at = std::max(at, batch.record(i).offset);
    }
    for (const auto& [partition, offset] : last) ahead->Passed(partition, offset);
  }
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
    observability::NameThread("mp-outbox-watch");
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
