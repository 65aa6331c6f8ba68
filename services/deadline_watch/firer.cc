#include "services/deadline_watch/firer.h"

#include <memory>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "libs/events/event_log.h"
#include "libs/events/topics.h"
#include "libs/status/status_macros.h"

namespace meldpunt::deadline {

absl::Status AppendAll(kafka::Producer& producer, const std::vector<events::Envelope>& envelopes,
                       absl::Duration timeout) {
  if (envelopes.empty()) return absl::OkStatus();
  struct Pending {
    absl::Mutex mu;
    size_t left ABSL_GUARDED_BY(mu) = 0;
    absl::Status error ABSL_GUARDED_BY(mu);
  };
  // Shared with the delivery callbacks, which may run after a timeout returned.
  auto pending = std::make_shared<Pending>();
  {
    absl::MutexLock lock(&pending->mu);
    pending->left = envelopes.size();
  }
  for (const events::Envelope& e : envelopes) {
    absl::Status queued = producer.SendAsync(events::ToRecord(events::kCaseEventsTopic, e),
                                             [pending](absl::StatusOr<kafka::Delivered> delivered) {
                                               absl::MutexLock lock(&pending->mu);
                                               if (!delivered.ok() && pending->error.ok())
                                                 pending->error = delivered.status();
                                               --pending->left;
                                             });
    if (!queued.ok()) {
      absl::MutexLock lock(&pending->mu);
      if (pending->error.ok()) pending->error = queued;
      --pending->left;
    }
  }
  absl::MutexLock lock(&pending->mu);
  auto done = [&pending]() ABSL_SHARED_LOCKS_REQUIRED(pending->mu) { return pending->left == 0; };
  if (!pending->mu.AwaitWithTimeout(absl::Condition(&done), timeout)) {
    return absl::UnavailableError("kafka did not acknowledge the events in time");
  }
  return pending->error;
}

absl::StatusOr<int> FireDue(DeadlineLogic& logic, kafka::Producer& producer, int32_t partition,
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
    RETURN_IF_ERROR(AppendAll(producer, out, options.produce_timeout));
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
