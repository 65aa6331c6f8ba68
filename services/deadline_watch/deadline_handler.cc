#include "services/deadline_watch/deadline_handler.h"

#include "libs/status/retry.h"
#include "libs/status/status_macros.h"
#include "services/deadline_watch/buffered_timer_store.h"
#include "services/deadline_watch/firer.h"

namespace meldpunt::deadline {

void DeadlineHandler::Handle(events::Batch& batch) {
  if (batch.size() == 0) return;
  if (rebuild_.remote()) {
    // Held in place until the other replica's replay is done: handled now, an event could reach
    // a case the replay has not rebuilt yet.
    return batch.Fail(
        0, status::InPlace(absl::UnavailableError("another replica is rebuilding the timers")));
  }
  // One round trip for the records of the run's cases, one for what the run writes; then the
  // clock events of every record in flight at once (written before they are appended, as one
  // record at a time did: a crash in between handles the run again, which gives the same clock
  // events, with the same ids, again).
  BufferedTimerStore buffered(logic_.store());
  if (absl::Status read = buffered.Prefetch(DeadlineLogic::CasesToRead(batch)); !read.ok())
    return batch.Fail(0, read);
  std::vector<std::vector<events::Envelope>> out(batch.size());
  size_t done = 0;
  absl::Status failed;
  for (; done < batch.size(); ++done) {
    absl::StatusOr<std::vector<events::Envelope>> events =
        logic_.OnEvent(batch.envelope(done), batch.record(done).partition, buffered);
    if (!events.ok()) {
      failed = events.status();
      break;
    }
    out[done] = *std::move(events);
  }
  // What the records before the failed one wrote (and what it wrote itself before failing, as a
  // crash would leave it) goes out; the failed one is handled again with the ones after it.
  if (absl::Status written = buffered.Flush(); !written.ok()) return batch.Fail(0, written);
  for (size_t i = 0; i < done; ++i) {
    if (out[i].empty()) continue;
    for (const events::Envelope& clock_event : out[i]) metrics_.ClockEvent(clock_event.type());
    batch.Await(i, Send(sink_, out[i]));
  }
  if (done < batch.size()) batch.Fail(done, failed);
}

absl::Status DeadlineHandler::Handle(const events::Envelope& e, const kafka::Record& r,
                                     events::Batch* batch, size_t index) {
  if (rebuild_.remote()) {
    // Held in place until the other replica's replay is done: handled now, the event could reach
    // a case the replay has not rebuilt yet.
    return status::InPlace(absl::UnavailableError("another replica is rebuilding the timers"));
  }
  ASSIGN_OR_RETURN(std::vector<events::Envelope> out, logic_.OnEvent(e, r.partition));
  // Appended before the offset is committed: a crash in between handles the event again, which
  // gives the same clock events (same ids) again.
  if (batch == nullptr) return Append(out);
  if (out.empty()) return absl::OkStatus();
  for (const events::Envelope& clock_event : out) metrics_.ClockEvent(clock_event.type());
  batch->Await(index, Send(sink_, out));
  return absl::OkStatus();
}

absl::Status DeadlineHandler::Append(const std::vector<events::Envelope>& envelopes) {
  for (const events::Envelope& e : envelopes) metrics_.ClockEvent(e.type());
  return AppendAll(sink_, envelopes, produce_timeout_);
}

}  // namespace meldpunt::deadline
