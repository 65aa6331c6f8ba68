#include "services/deadline_watch/deadline_handler.h"

#include "libs/status/retry.h"
#include "libs/status/status_macros.h"
#include "services/deadline_watch/firer.h"

namespace meldpunt::deadline {

void DeadlineHandler::Handle(events::Batch& batch) {
  for (size_t i = 0; i < batch.size(); ++i) {
    if (absl::Status handled = Handle(batch.envelope(i), batch.record(i), &batch, i);
        !handled.ok()) {
      return batch.Fail(i, handled);
    }
  }
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
