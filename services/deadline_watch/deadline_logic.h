// The clocks of every case: started, paused, resumed, restarted and stopped by case events, fired
// when due, escalated after a breach. Free of Kafka and Redis: it works through a TimerStore and a
// Clock, so tests move a fake clock.
//
//   DeadlineLogic logic(store, clock, calendar, policies);
//   ASSIGN_OR_RETURN(std::vector<events::Envelope> out, logic.OnEvent(envelope, partition));
//   append `out` (ClocksStarted, ClockStarted, ClockPaused, ClockResumed, ClockStopped) before
//   committing; ASSIGN_OR_RETURN(std::vector<Firing> due, logic.ClaimDue(partition)); append each
//   firing's event (DeadlineWarning, DeadlineBreached, CaseEscalated), then
//   logic.Complete(partition, due);
//
// The team's changes of a clock (ExtendClock, SuspendClock, ResumeClock) are planned here, from the
// clock's record, as one event (ClockExtended, ClockPaused or ClockResumed with `suspended`); the
// gRPC adapter appends it and the consumer applies it through OnEvent like any case event:
//   ASSIGN_OR_RETURN(PlannedChange plan, logic.Plan(command));
//   if (!plan.done) append plan.event; then wait until the clock's `changes` hold plan.event_id.
//
// Only the event consumer writes clock records: a firing's status change (WARNED, BREACHED,
// escalation level) is recorded when its event comes back from the log, so the timer loop never
// races the consumer on a record.
//
// A clock keeps one timer at a time: the first of its timeline (warnings, breach, escalation
// steps) that has not fired. The firing's event coming back from the log records it and schedules
// the next (MarkFired), so a rebuild that replays the log leaves the same one timer. Every other
// timer of the clock is stale by then, and a stale timer that fires is dropped: the firing checks
// the clock's generation, status and due time.
#pragma once

#include <set>
#include <vector>

#include "absl/status/statusor.h"
#include "libs/catalog/catalog_file.h"
#include "libs/clock/clock.h"
#include "libs/events/batch.h"
#include "libs/events/codec.h"
#include "services/deadline_watch/policy.h"
#include "services/deadline_watch/timer_store.h"

namespace meldpunt::deadline {

struct Firing {
  Timer timer;
  // Empty when the timer is stale (its clock stopped or moved on meanwhile): completed silently.
  std::optional<events::Envelope> event;
  std::string department;  // of the case when it fired
  // Its clock record is not there (yet): the consumer writes it right after the timers, so the
  // timer is left claimed and comes back after its lease rather than being dropped.
  bool deferred = false;
};

struct DeadlineOptions {
  absl::Duration lease = absl::Seconds(30);
  int claim_limit = 500;
  // The category catalogue: a policy for a category applies to the categories under it. Null: to
  // that category only.
  catalog::CatalogFile* catalog = nullptr;
};

// A change of a clock by the team, as the gRPC adapter read it. The actor is the authenticated
// caller, never what the request says of itself.
struct ClockCommand {
  enum class Kind { kExtend, kSuspend, kResume };
  Kind kind = Kind::kExtend;
  std::string case_id;
  std::string clock;
  std::string command_id;  // may be empty: then no idempotency
  std::string reason;
  std::optional<absl::Time> due_at;  // kExtend: one of due_at and term
  std::string term;
  bool notify_reporter = false;
  events::v1::Actor actor;
  std::string correlation_id;
};

struct PlannedChange {
  std::string event_id;
  // The event to append (when not `done`).
  events::Envelope event;
  // The command_id was handled before: nothing to append; `clock` is the clock now, and `refused`
  // says why that change was not applied (empty: it was).
  bool done = false;
  v1::Clock clock;
  std::string refused;
};

// At most this many changes by the team per clock (the record keeps them all, for the repeats).
inline constexpr int kMaxClockChanges = 100;

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

  // Applies one case event to the case's clocks and returns the clock events to append
  // (deterministic ids; a repeated event returns the same ones again if it was the last to change
  // the clock, so a crash between the change and the append loses nothing).
  absl::StatusOr<std::vector<events::Envelope>> OnEvent(const events::Envelope& envelope,
                                                        int32_t partition);
  // The same, reading and writing through `store` (a batch's BufferedTimerStore over this
  // logic's store) instead of the logic's own.
  absl::StatusOr<std::vector<events::Envelope>> OnEvent(const events::Envelope& envelope,
                                                        int32_t partition, TimerStore& store);
  // What OnEvent(envelope, partition, store) writes, without making the clock events: the rebuild,
  // whose log holds them already.
  absl::Status Fold(const events::Envelope& envelope, int32_t partition, TimerStore& store);
  // Whether OnEvent drops `envelope` without reading or writing anything: an event that can
  // neither start, stop, move or mark a clock nor change the facts a clock is chosen by. Its own
  // record of a clock (ClocksStarted, ClockStopped, ...; not the team's changes, which it
  // applies), a projection's EventRejected, a delivery other than the acknowledgement, a link.
  // The consumer loop lets such a record share a run with its case's other record
  // (events::EventConsumerOptions::inert), and a run reads no record for it.
  static bool Inert(const events::Envelope& envelope);
  // The payloads (envelope field numbers) that are inert whatever they hold: the clocks' own
  // records (ClockStarted, ClocksStarted, ClockStopped). The rebuild's replay reads them without
  // decoding them (service::ReplayCaseLog's pass_over).
  static const std::vector<int>& InertPayloads();
  // The cases whose records a run of `batch` needs read: those of its events that are not inert.
  static std::vector<std::string> CasesToRead(const events::Batch& batch);

  // Claims the due timers of one partition and builds their events (deterministic ids: case,
  // clock, generation, kind and fraction or level).
  absl::StatusOr<std::vector<Firing>> ClaimDue(int32_t partition);

  // Checks a change of a clock against its record and builds its event (deterministic id from
  // the case, clock, kind and command_id). INVALID_ARGUMENT naming the field, NOT_FOUND for an
  // unknown case or clock, FAILED_PRECONDITION for a clock in the wrong state. Changes nothing.
  absl::StatusOr<PlannedChange> Plan(const ClockCommand& command);

  // After the firings' events are durable: drop their timers.
  absl::Status Complete(int32_t partition, const std::vector<Firing>& firings);

  const std::vector<ClockPolicy>& policies() const { return policies_; }
  // The store OnEvent(envelope, partition) reads and writes.
  TimerStore& store() const { return store_; }

 private:
  // OnEvent's work; the clock events go to `out`, or are not made when it is null.
  absl::Status Apply(TimerStore& store, const events::Envelope& envelope, int32_t partition,
                     std::vector<events::Envelope>* out);
  absl::Status UpdateFacts(TimerStore& store, const events::Envelope& envelope,
                           std::optional<CaseFacts> stored, CaseFacts& facts, bool& known);
  absl::Status Start(TimerStore& store, const events::Envelope& e, const CaseFacts& facts,
                     std::vector<v1::Clock>& clocks, int32_t partition,
                     std::vector<events::Envelope>* out);
  absl::Status Restart(TimerStore& store, const events::Envelope& e, const CaseFacts& facts,
                       v1::Clock& clock, const std::string& reason, int32_t partition,
                       std::vector<events::Envelope>* out);
  absl::Status Stop(TimerStore& store, const events::Envelope& e, v1::Clock& clock,
                    const std::string& token, int32_t partition,
                    std::vector<events::Envelope>* out);
  absl::Status PauseOrResume(TimerStore& store, const events::Envelope& e, v1::Clock& clock,
                             int32_t partition, std::vector<events::Envelope>* out);
  // PriorityChanged: a clock that is not stopped moves to the policy the new priority selects,
  // when that is another one. The new term counts from the same start; the time paused and the
  // extensions are kept. A running clock gets a new generation (ClockStarted, reason
  // "priority"); a paused one takes the new due time with it when it resumes.
  absl::Status Reprioritize(TimerStore& store, const events::Envelope& e, const CaseFacts& facts,
                            v1::Clock& clock, int32_t partition,
                            std::vector<events::Envelope>* out);
  // A team's change (ClockExtended, or ClockPaused/ClockResumed with `suspended`) from the log:
  // applied when the clock is still as the change was planned on, else recorded as refused.
  absl::Status ApplyChange(TimerStore& store, const events::Envelope& e, int32_t partition);
  absl::Status MarkFired(TimerStore& store, const events::Envelope& envelope,
                         std::vector<v1::Clock>& clocks, int32_t partition);
  // The clock's timeline: its warnings by fraction, the breach, then its escalation steps.
  std::vector<Timer> TimersFor(const v1::Clock& clock, const ClockPolicy& policy) const;
  // The one timer the clock has in the store: the first of its timeline the record does not hold
  // as fired (none when all have).
  std::vector<Timer> PendingTimer(const v1::Clock& clock, const ClockPolicy& policy) const;
  const ClockPolicy* Find(const v1::Clock& clock) const;
  // The first policy for the clock `name` that applies to the case.
  const ClockPolicy* Select(const std::string& name, const CaseFacts& facts) const;
  events::Envelope ClockEvent(const events::Envelope& cause, const v1::Clock& clock,
                              const std::string& what, const std::string& reason) const;
  // The clocks `cause` started by policy (reason: its start token), as one ClocksStarted.
  events::Envelope ClocksStartedEvent(const events::Envelope& cause,
                                      const std::vector<v1::Clock>& clocks,
                                      const std::string& reason) const;

  TimerStore& store_;
  const clock::Clock& clock_;
  const calendar::BusinessCalendar& calendar_;
  std::vector<ClockPolicy> policies_;
  DeadlineOptions options_;
};

}  // namespace meldpunt::deadline
