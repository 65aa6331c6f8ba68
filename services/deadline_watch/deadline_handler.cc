#include "services/deadline_watch/deadline_handler.h"

#include "libs/status/retry.h"
#include "libs/status/status_macros.h"
#include "services/deadline_watch/firer.h"

namespace meldpunt::deadline {

absl::Status DeadlineHandler::Handle(const events::Envelope& e, const kafka::Record& r) {
  if (rebuild_.remote()) {
    // Held in place until the other replica's replay is done: handled now, the event could reach
    // a case the replay has not rebuilt yet.
    return status::InPlace(absl::UnavailableError("another replica is rebuilding the timers"));
  }
  ASSIGN_OR_RETURN(std::vector<events::Envelope> out, logic_.OnEvent(e, r.partition));
  // Appended before the offset is committed: a crash in between handles the event again, which
  // gives the same clock events (same ids) again.
  return Append(out);
}

absl::Status DeadlineHandler::Append(const std::vector<events::Envelope>& envelopes) {
  for (const events::Envelope& e : envelopes) metrics_.ClockEvent(e.type());
  return AppendAll(sink_, envelopes, produce_timeout_);
}

}  // namespace meldpunt::deadline
