#include "services/deadline_watch/firer.h"

#include <memory>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "libs/events/event_log.h"
#include "libs/events/topics.h"
#include "libs/status/status_macros.h"

namespace meldpunt::deadline {

absl::Status AppendAll(service::RecordSink& sink, const std::vector<events::Envelope>& envelopes,
                       absl::Duration timeout) {
  if (envelopes.empty()) return absl::OkStatus();
  return Send(sink, envelopes).Wait(absl::Now() + timeout);
}

absl::Status AppendAll(kafka::Producer& producer, const std::vector<events::Envelope>& envelopes,
                       absl::Duration timeout) {
  service::ProducerSink sink(producer);
  return AppendAll(sink, envelopes, timeout);
}

events::Acks Send(service::RecordSink& sink, const std::vector<events::Envelope>& envelopes) {
  events::Acks acks;
  for (const events::Envelope& e : envelopes) {
    // A refused record is in `acks` too: Wait returns its error.
    (void)service::SendTracked(acks, sink, events::ToRecord(events::kCaseEventsTopic, e));
  }
  return acks;
}

absl::StatusOr<int> FireDue(DeadlineLogic& logic, kafka::Producer& producer, int32_t partition,
                            const FireOptions& options, const FiredObserver& observe) {
  service::ProducerSink sink(producer);
  return FireDue(logic, sink, partition, options, observe);
}

absl::StatusOr<int> FireDue(DeadlineLogic& logic, service::RecordSink& sink, int32_t partition,
                            const FireOptions& options, const FiredObserver& observe) {
  int appended = 0;
  for (int page = 0; page < options.max_pages; ++page) {
    if (options.stop != nullptr && options.stop->load()) break;
    ASSIGN_OR_RETURN(std::vector<Firing> firings, logic.ClaimDue(partition));
    if (firings.empty()) break;
    std::vector<events::Envelope> out;
    for (const Firing& f : firings)
      if (f.event.has_value()) out.push_back(*f.event);
    // Nothing is completed unless every event is durable: the rest fire again after the lease,
    // with the same ids.
    // Waited for here, also on a consumer lane: Complete must follow the acknowledgements.
    RETURN_IF_ERROR(Send(sink, out).Wait(absl::Now() + options.produce_timeout));
    const absl::Time now = absl::Now();
    if (observe) {
      for (const Firing& f : firings)
        if (f.event.has_value()) observe(f, now);
    }
    RETURN_IF_ERROR(logic.Complete(partition, firings));
    appended += static_cast<int>(out.size());
    if (static_cast<int>(firings.size()) < options.claim_limit) break;
    bool all_deferred = true;
    for (const Firing& f : firings) all_deferred &= f.deferred;
    if (all_deferred) break;  // a page of timers whose records are not there: a later pass
  }
  return appended;
}

}  // namespace meldpunt::deadline
