#include "services/intake/projection.h"

#include <thread>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "libs/observability/log.h"
#include "libs/observability/thread_name.h"
#include "libs/status/retry.h"
#include "libs/status/status_macros.h"

namespace meldpunt::intake {
namespace {

absl::Status Held() { return status::InPlace(absl::UnavailableError(kLiveFoldHeldText)); }

}  // namespace

void ProjectionFold::FoldLive(events::Batch& batch) {
  // While the projection is incomplete only the rebuild folds: a live fold of a later event
  // would move the case's offset past events the replay has yet to fold, which it would then drop
  // as repeats. The store's fence makes that so; the cached marker only spares the round trips.
  if (!intact_.Set()) return batch.Fail(0, Held());
  Fold(batch, FoldFence::kLive, nullptr);
}

absl::Status ProjectionFold::FoldLiveOne(const events::Envelope& envelope, int64_t offset) {
  if (!intact_.Set()) return Held();
  ASSIGN_OR_RETURN(std::vector<FoldOutcome> outcomes,
                   store_.ApplyAll({{&envelope, offset}}, FoldFence::kLive));
  return Folded(envelope, outcomes.front());
}

void ProjectionFold::Fold(events::Batch& batch, FoldFence fence, std::atomic<int64_t>* submitted) {
  std::vector<FoldInput> folds;
  folds.reserve(batch.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    // The record's value is the envelope as the log holds it (events::Decode parses it as it
    // is); a record without one (a test's) has the envelope encoded again.
    const std::string& value = batch.record(i).value;
    folds.push_back({&batch.envelope(i), batch.record(i).offset, value.empty() ? nullptr : &value});
  }
  absl::StatusOr<std::vector<FoldOutcome>> outcomes = store_.ApplyAll(folds, fence);
  if (!outcomes.ok()) return batch.Fail(0, outcomes.status());
  for (size_t i = 0; i < batch.size(); ++i) {
    if (absl::Status done = Folded(batch.envelope(i), (*outcomes)[i]); !done.ok()) {
      return batch.Fail(i, done);
    }
    if (submitted != nullptr && batch.envelope(i).has_case_submitted()) ++*submitted;
  }
}

absl::Status ProjectionFold::Folded(const events::Envelope& envelope, const FoldOutcome& fold) {
  const absl::StatusOr<ApplyOutcome>& outcome = fold.outcome;
  if (outcome.ok()) {
    const Case* folded = *outcome == ApplyOutcome::kDuplicate ? nullptr : fold.folded.get();
    fold_watch_.Folded(envelope.case_id(), envelope.event_id(), folded);
    if (*outcome == ApplyOutcome::kRejected) {
      metrics_.ProjectionRejected();
      log::Warning("event refused by the case state machine; kept in the history as refused",
                   {{"case_id", envelope.case_id()},
                    {"event_id", envelope.event_id()},
                    {"type", envelope.type()}});
    } else {
      metrics_.ProjectionApplied(*outcome == ApplyOutcome::kDuplicate);
    }
    return absl::OkStatus();
  }
  if (outcome.status().code() == absl::StatusCode::kFailedPrecondition) {
    // An event for a case that was never submitted: nowhere to keep it; counted and skipped.
    metrics_.ProjectionRejected();
    log::Warning("event for an unknown case", {{"case_id", envelope.case_id()},
                                               {"event_id", envelope.event_id()},
                                               {"error", outcome.status().ToString()}});
    return absl::OkStatus();
  }
  return outcome.status();
}

absl::StatusOr<v1::RebuildProjectionResponse> ProjectionRebuild::Rebuild() {
  // One replica at a time: a second clear in the middle of the first one's replay would wipe
  // what it folded after the first one marked the projection complete.
  ASSIGN_OR_RETURN(service::RebuildGuard::Held held, guard_.Enter("the projection", &marks_));
  // The rebuild is every replica's, not only this one's: the marker goes first (an operator's
  // rebuild finds it set). From then on the store refuses every live write, in the same atomic
  // step as the write (FoldFence::kLive), and each replica's live fold holds its records in
  // place until the marker is back; so the projection is cleared at once. A replica folding on
  // would move a case's offset past events the replay has yet to fold, which the replay would
  // then drop as repeats.
  ASSIGN_OR_RETURN(const bool intact, marks_.Intact());
  if (intact) RETURN_IF_ERROR(marks_.ForgetIntact());
  // Until it is done, a case the projection does not hold is "retry", not NOT_FOUND
  // (IntakeOptions::rebuilding): a submission answered from its event may not be folded yet, and
  // its reference claim (the evidence of it) went with the clear or the loss being repaired.
  log::Warning("projection rebuild started: queries of cases not folded yet answer UNAVAILABLE");
  // The live consumer stops (its lanes drained, what it folded committed) beside the clear and
  // the start of the replay: it writes nothing meanwhile (the fence), and it is started again
  // only once it has stopped.
  std::thread stopping([this] { consumer_.Stop(); });
  auto stopped = [&stopping] {
    if (stopping.joinable()) stopping.join();
  };
  absl::Cleanup join_on_return = stopped;
  absl::StatusOr<int64_t> removed = store_.Clear();
  if (!removed.ok()) {
    // Redis failed: keep following the log; the marker says what it said, and the next check
    // (or the caller) tries again.
    stopped();
    RETURN_IF_ERROR(consumer_.Start());
    return removed.status();
  }
  v1::RebuildProjectionResponse response;
  std::atomic<int64_t> cases{0};
  bool restarted = false;
  // The end positions are read after the clear; once they are folded the live consumer comes
  // back, and the replay goes on to the end of the log as it is then: an event appended while the
  // live consumer was stopped is folded before the rebuild returns, whether or not it was before
  // the first end. Each lane's run is folded at once (CaseStore::ApplyAll).
  absl::StatusOr<int64_t> records =
      replay_([&](events::Batch& batch) { fold_.FoldRun(batch, &cases); },
              [&]() -> absl::Status {
                stopped();
                if (hook_) hook_("replayed");
                RETURN_IF_ERROR(consumer_.Start());
                restarted = true;
                // The replay reads its last end positions once the live consumer holds its
                // partitions: what is appended after them, the live consumer folds in its
                // normal course.
                if (!await_joined_(absl::Now() + options_.join_timeout)) {
                  log::Warning(
                      "the projection consumer did not join its group in time; the rebuild goes "
                      "on");
                }
                return absl::OkStatus();
              });
  response.set_cases(cases.load());
  // The live consumer comes back whatever happened, so the intake keeps serving.
  stopped();
  absl::Status restart = restarted ? absl::OkStatus() : consumer_.Start();
  if (!records.ok()) return records.status();
  RETURN_IF_ERROR(restart);
  // Marked only while this rebuild still holds the lock: a Redis that lost its data again
  // meanwhile lost the lock too, and the next check rebuilds once more.
  ASSIGN_OR_RETURN(bool marked, marks_.MarkIntactIfLocked(held.owner()));
  if (!marked) {
    return absl::AbortedError("Redis lost the rebuild's lock before it ended; rebuilding again");
  }
  response.set_events(*records);
  log::Warning(
      "projection rebuilt",
      {{"keys_removed", *removed}, {"events", response.events()}, {"cases", response.cases()}});
  return response;
}

void ProjectionRebuild::CheckOnce() {
  // Has Redis lost the projection (FLUSHALL, a new instance, the first start)? Then it is rebuilt
  // from the log, by this replica or by the one that takes the lock; meanwhile a case the
  // projection does not hold answers UNAVAILABLE (incomplete), and the live consumer holds.
  if (guard_.running()) return;
  absl::StatusOr<bool> intact = marks_.Intact();
  if (!intact.ok() || *intact) return;
  log::Warning(
      "the projection is not known to be complete (Redis lost it, or a first start); "
      "rebuilding it from the log");
  absl::StatusOr<v1::RebuildProjectionResponse> rebuilt = Rebuild();
  if (!rebuilt.ok() && rebuilt.status().code() != absl::StatusCode::kAborted) {
    log::Error("projection rebuild failed; the next check tries again",
               {{"error", rebuilt.status().ToString()}});
  }
}

void ProjectionRebuild::Start() {
  watcher_ = std::thread([this] {
    observability::NameThread("mp-intact-watch");
    absl::Duration wait = absl::ZeroDuration();
    while (!stopping_.WaitForNotificationWithTimeout(wait)) {
      wait = options_.check_interval;
      CheckOnce();
    }
  });
}

void ProjectionRebuild::Stop() {
  if (!stopping_.HasBeenNotified()) stopping_.Notify();
  if (watcher_.joinable()) watcher_.join();
}

}  // namespace meldpunt::intake
