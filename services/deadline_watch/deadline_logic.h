// The clocks of every case: started and stopped by case events, fired when due. Free of Kafka
// and Redis: it works through a TimerStore and a Clock, so tests move a fake clock.
//
//   DeadlineLogic logic(store, clock, policies);
//   RETURN_IF_ERROR(logic.OnEvent(envelope, record.partition));
//   ASSIGN_OR_RETURN(std::vector<Firing> due, logic.ClaimDue(partition));
//   for (auto& f : due) { append f.event; logic.Complete(partition, f); }
#pragma once

#include <vector>

#include "absl/status/statusor.h"
#include "libs/clock/clock.h"
#include "libs/events/codec.h"
#include "services/deadline_watch/policy.h"
#include "services/deadline_watch/timer_store.h"

namespace meldpunt::deadline {

struct Firing {
  Timer timer;
  // Empty when the timer is stale (its clock stopped meanwhile): complete it without an event.
  std::optional<events::Envelope> event;
};

struct DeadlineOptions {
  absl::Duration lease = absl::Seconds(30);
  int claim_limit = 100;
};

class DeadlineLogic {
 public:
  DeadlineLogic(TimerStore& store, const clock::Clock& clock,
                const calendar::BusinessCalendar& calendar, std::vector<ClockPolicy> policies,
                DeadlineOptions options = {})
      : store_(store),
        clock_(clock),
        calendar_(calendar),
        policies_(std::move(policies)),
        options_(options) {}

  // Starts clocks on CaseSubmitted, stops them on the events their policy names, pauses the ones
  // whose policy says so on InformationRequested and resumes them on InformationProvided (the due
  // time moves by the paused span). Idempotent: a repeated event changes nothing.
  absl::Status OnEvent(const events::Envelope& envelope, int32_t partition);

  // Claims the due timers of one partition and builds their events (deterministic ids: case,
  // clock, generation, kind and fraction).
  absl::StatusOr<std::vector<Firing>> ClaimDue(int32_t partition);

  // After the firing's event is durable: drop the timer and record the clock's new status.
  absl::Status Complete(int32_t partition, const Firing& firing);

  const std::vector<ClockPolicy>& policies() const { return policies_; }

 private:
  absl::Status PauseOrResume(const events::Envelope& envelope, int32_t partition);
  absl::Status MarkFired(const events::Envelope& envelope, int32_t partition);
  std::vector<Timer> TimersFor(const v1::Clock& clock, const ClockPolicy& policy) const;
  const ClockPolicy* Find(const std::string& name) const;

  TimerStore& store_;
  const clock::Clock& clock_;
  const calendar::BusinessCalendar& calendar_;
  std::vector<ClockPolicy> policies_;
  DeadlineOptions options_;
};

}  // namespace meldpunt::deadline
