#include "services/deadline_watch/deadline_logic.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "libs/events/ids.h"
#include "libs/status/status_macros.h"

namespace meldpunt::deadline {
namespace {

bool Running(const v1::Clock& clock) {
  return clock.status() == v1::RUNNING || clock.status() == v1::WARNED ||
         clock.status() == v1::BREACHED;
}

v1::Clock* Named(std::vector<v1::Clock>& clocks, const std::string& name) {
  for (v1::Clock& c : clocks)
    if (c.name() == name) return &c;
  return nullptr;
}

}  // namespace

const ClockPolicy* DeadlineLogic::Find(const v1::Clock& clock) const {
  const std::string& id = clock.policy().empty() ? clock.name() : clock.policy();
  for (const ClockPolicy& p : policies_)
    if (p.id == id) return &p;
  return nullptr;
}

const ClockPolicy* DeadlineLogic::Select(const std::string& name, const CaseFacts& facts) const {
  for (const ClockPolicy& p : policies_)
    if (p.name == name && p.Matches(facts)) return &p;
  return nullptr;
}

std::vector<Timer> DeadlineLogic::TimersFor(const v1::Clock& clock,
                                            const ClockPolicy& policy) const {
  std::vector<Timer> timers;
  const absl::Time started = events::GetTime(clock.started_at());
  const absl::Time due = events::GetTime(clock.due_at());
  auto make = [&](const std::string& kind, int permille, absl::Time fire) {
    Timer t;
    t.case_id = clock.case_id();
    t.clock = clock.name();
    t.generation = clock.generation();
    t.kind = kind;
    t.permille = permille;
    t.due_ms = absl::ToUnixMillis(due);
    t.fire_ms = absl::ToUnixMillis(fire);
    return t;
  };
  for (double fraction : policy.warn_at) {
    const int permille = static_cast<int>(std::lround(fraction * 1000));
    timers.push_back(make("warning", permille, started + (due - started) * (permille / 1000.0)));
  }
  timers.push_back(make("breach", 1000, due));
  for (size_t i = 0; i < policy.escalate.size(); ++i) {
    timers.push_back(make("escalation", static_cast<int>(i + 1),
                          policy.escalate[i].after.DueFrom(due, calendar_)));
  }
  return timers;
}

events::Envelope DeadlineLogic::ClockEvent(const events::Envelope& cause, const v1::Clock& clock,
                                           const std::string& what,
                                           const std::string& reason) const {
  events::Envelope e =
      events::NewEnvelope(clock.case_id(), "deadline-watch", events::GetTime(cause.occurred_at()));
  e.mutable_actor()->set_id("service:deadline-watch");
  e.set_causation_id(cause.event_id());
  e.set_correlation_id(cause.correlation_id());
  if (what == "started") {
    auto* s = e.mutable_clock_started();
    s->set_clock(clock.name());
    s->set_generation(clock.generation());
    *s->mutable_started_at() = clock.started_at();
    *s->mutable_due_at() = clock.due_at();
    s->set_policy(clock.policy());
    s->set_term(clock.term());
    s->set_reason(reason);
  } else if (what == "stopped") {
    auto* s = e.mutable_clock_stopped();
    s->set_clock(clock.name());
    s->set_generation(clock.generation());
    s->set_reason(reason);
    s->set_within_term(events::GetTime(cause.occurred_at()) <= events::GetTime(clock.due_at()));
    *s->mutable_due_at() = clock.due_at();
  } else if (what == "paused") {
    auto* p = e.mutable_clock_paused();
    p->set_clock(clock.name());
    p->set_generation(clock.generation());
  } else if (what == "resumed") {
    auto* r = e.mutable_clock_resumed();
    r->set_clock(clock.name());
    r->set_generation(clock.generation());
    *r->mutable_due_at() = clock.due_at();
    r->set_paused_seconds(clock.paused_seconds());
  }
  events::Finish(e, events::DeterministicId("clock", {clock.case_id(), clock.name(),
                                                      absl::StrCat(clock.generation()), what}));
  return e;
}

absl::Status DeadlineLogic::UpdateFacts(const events::Envelope& e, std::optional<CaseFacts> stored,
                                        CaseFacts& facts, bool& known) {
  known = stored.has_value();
  if (known) facts = *stored;
  CaseFacts next = facts;
  if (e.has_case_submitted()) {
    if (known) return absl::OkStatus();  // a repeat
    const auto& draft = e.case_submitted().draft();
    next.kind = draft.kind();
    next.priority = draft.priority();
    next.category = draft.category();
  } else if (!known) {
    return absl::OkStatus();  // a case this service never saw submitted
  } else if (e.has_case_routed()) {
    next.department = e.case_routed().department();
    if (e.case_routed().priority() != types::v1::PRIORITY_UNSPECIFIED)
      next.priority = e.case_routed().priority();
  } else if (e.has_case_reassigned()) {
    next.department = e.case_reassigned().department();
  } else {
    return absl::OkStatus();
  }
  if (known && next.kind == facts.kind && next.priority == facts.priority &&
      next.category == facts.category && next.department == facts.department) {
    return absl::OkStatus();
  }
  RETURN_IF_ERROR(store_.PutFacts(e.case_id(), next));
  facts = next;
  known = true;
  return absl::OkStatus();
}

absl::StatusOr<std::vector<events::Envelope>> DeadlineLogic::OnEvent(const events::Envelope& e,
                                                                     int32_t partition) {
  std::vector<events::Envelope> out;
  switch (e.payload_case()) {
    case events::Envelope::kClockStarted:
    case events::Envelope::kClockPaused:
    case events::Envelope::kClockResumed:
    case events::Envelope::kClockStopped:
    case events::Envelope::kEventRejected:
      return out;  // our own record of what happened, or a projection's note
    default:
      break;
  }
  CaseFacts facts;
  bool known = false;
  // One read of the case's record: its facts and its clocks.
  ASSIGN_OR_RETURN(TimerStore::CaseRecord record, store_.Load(e.case_id()));
  RETURN_IF_ERROR(UpdateFacts(e, record.facts, facts, known));
  if (!known) return out;
  std::vector<v1::Clock>& clocks = record.clocks;

  if (e.has_deadline_warning() || e.has_deadline_breached() || e.has_case_escalated()) {
    RETURN_IF_ERROR(MarkFired(e, clocks, partition));
    return out;
  }
  if (e.has_case_routed() || e.has_case_reassigned()) {
    // The ops view lists clocks by the department the case is with.
    for (v1::Clock& clock : clocks) {
      if (clock.department() == facts.department) continue;
      clock.set_department(facts.department);
      RETURN_IF_ERROR(store_.PutClock(clock));
    }
  }
  if (e.has_case_reassigned() || e.has_case_bounced()) {
    const bool reassigned = e.has_case_reassigned();
    for (v1::Clock& clock : clocks) {
      const ClockPolicy* policy = Find(clock);
      if (policy == nullptr) continue;
      if (reassigned ? policy->restart_on_reassign : policy->restart_on_bounce) {
        RETURN_IF_ERROR(
            Restart(e, facts, clock, reassigned ? "reassigned" : "bounced", partition, out));
      }
    }
  }
  if (e.has_information_requested() || e.has_information_provided()) {
    for (v1::Clock& clock : clocks) RETURN_IF_ERROR(PauseOrResume(e, clock, partition, out));
  }
  if (const std::string token = StopToken(e); !token.empty()) {
    for (v1::Clock& clock : clocks) {
      const ClockPolicy* policy = Find(clock);
      if (policy != nullptr && policy->stop_on.count(token))
        RETURN_IF_ERROR(Stop(e, clock, token, partition, out));
    }
  }
  RETURN_IF_ERROR(Start(e, facts, clocks, partition, out));
  return out;
}

absl::Status DeadlineLogic::Start(const events::Envelope& e, const CaseFacts& facts,
                                  std::vector<v1::Clock>& clocks, int32_t partition,
                                  std::vector<events::Envelope>& out) {
  const std::string token = StartToken(e);
  if (token.empty()) return absl::OkStatus();
  std::set<std::string> seen;
  std::vector<Timer> new_timers;
  std::vector<v1::Clock> new_clocks;
  for (const ClockPolicy& candidate : policies_) {
    if (!seen.insert(candidate.name).second) continue;
    const ClockPolicy* policy = Select(candidate.name, facts);
    if (policy == nullptr || policy->start_on != token) continue;
    if (v1::Clock* existing = Named(clocks, policy->name)) {
      // Started before: by this very event (a repeat after a crash, or the live consumer
      // catching up with a rebuild that folded the event first) the event goes out again, even
      // when a later event has stopped the clock since.
      const bool started_here = existing->started_by().empty()
                                    ? existing->changed_by() == e.event_id()
                                    : existing->started_by() == e.event_id();
      if (started_here && existing->generation() == 1)
        out.push_back(ClockEvent(e, *existing, "started", token));
      continue;
    }
    v1::Clock clock;
    clock.set_case_id(e.case_id());
    clock.set_name(policy->name);
    clock.set_generation(1);
    clock.set_status(v1::RUNNING);
    clock.set_policy(policy->id);
    clock.set_term(policy->duration.text);
    clock.set_kind(types::v1::CaseKind_Name(facts.kind));
    clock.set_department(facts.department);
    clock.set_changed_by(e.event_id());
    clock.set_started_by(e.event_id());
    // A clock started by the submission runs from the receipt (a letter or a call registered
    // later), which the draft carries; every other start is the event itself.
    const bool submitted = e.has_case_submitted();
    const auto& draft = e.case_submitted().draft();
    const absl::Time started = events::GetTime(
        submitted && draft.has_received_at() ? draft.received_at() : e.occurred_at());
    events::SetTime(clock.mutable_started_at(), started);
    events::SetTime(clock.mutable_due_at(),
                    policy->DueFrom(started, calendar_,
                                    submitted && draft.channel() == types::v1::LETTER));
    std::vector<Timer> timers = TimersFor(clock, *policy);
    new_timers.insert(new_timers.end(), timers.begin(), timers.end());
    out.push_back(ClockEvent(e, clock, "started", token));
    new_clocks.push_back(clock);
    clocks.push_back(std::move(clock));
  }
  if (new_clocks.empty()) return absl::OkStatus();
  // Timers first: a crash in between leaves timers without a record, which wait for it (the
  // event is handled again and writes it), rather than a record without timers, which would
  // never fire.
  RETURN_IF_ERROR(store_.Schedule(partition, new_timers));
  return store_.PutClocks(new_clocks);
}

absl::Status DeadlineLogic::Restart(const events::Envelope& e, const CaseFacts& facts,
                                    v1::Clock& clock, const std::string& reason, int32_t partition,
                                    std::vector<events::Envelope>& out) {
  if (clock.changed_by() == e.event_id()) {  // restarted by this very event: a repeat
    if (clock.generation() > 1 && Running(clock))
      out.push_back(ClockEvent(e, clock, "started", reason));
    return absl::OkStatus();
  }
  if (!Running(clock)) return absl::OkStatus();  // stopped, or paused: left as it is
  const ClockPolicy* old_policy = Find(clock);
  if (old_policy == nullptr) return absl::OkStatus();
  RETURN_IF_ERROR(store_.Cancel(partition, TimersFor(clock, *old_policy)));
  // The new department may have a policy of its own for this clock.
  const ClockPolicy* policy = Select(clock.name(), facts);
  if (policy == nullptr) policy = old_policy;
  const absl::Time at = events::GetTime(e.occurred_at());
  clock.set_generation(clock.generation() + 1);
  clock.set_status(v1::RUNNING);
  clock.set_policy(policy->id);
  clock.set_term(policy->duration.text);
  *clock.mutable_started_at() = e.occurred_at();
  events::SetTime(clock.mutable_due_at(), policy->DueFrom(at, calendar_, /*by_letter=*/false));
  clock.set_escalation_level(0);
  clock.set_breached(false);
  clock.set_changed_by(e.event_id());
  clock.set_started_by(e.event_id());
  RETURN_IF_ERROR(store_.Schedule(partition, TimersFor(clock, *policy)));
  RETURN_IF_ERROR(store_.PutClock(clock));
  out.push_back(ClockEvent(e, clock, "started", reason));
  return absl::OkStatus();
}

absl::Status DeadlineLogic::Stop(const events::Envelope& e, v1::Clock& clock,
                                 const std::string& token, int32_t partition,
                                 std::vector<events::Envelope>& out) {
  if (clock.status() == v1::STOPPED) {
    if (clock.changed_by() == e.event_id()) out.push_back(ClockEvent(e, clock, "stopped", token));
    return absl::OkStatus();
  }
  const ClockPolicy* policy = Find(clock);
  if (policy != nullptr) RETURN_IF_ERROR(store_.Cancel(partition, TimersFor(clock, *policy)));
  clock.set_status(v1::STOPPED);
  *clock.mutable_stopped_at() = e.occurred_at();
  clock.set_changed_by(e.event_id());
  RETURN_IF_ERROR(store_.PutClock(clock));
  out.push_back(ClockEvent(e, clock, "stopped", token));
  return absl::OkStatus();
}

absl::Status DeadlineLogic::PauseOrResume(const events::Envelope& e, v1::Clock& clock,
                                          int32_t partition, std::vector<events::Envelope>& out) {
  const ClockPolicy* policy = Find(clock);
  if (policy == nullptr || !policy->pauses) return absl::OkStatus();
  const bool pause = e.has_information_requested();
  const absl::Time at = events::GetTime(e.occurred_at());
  const bool repeat = clock.changed_by() == e.event_id();
  if (pause) {
    if (clock.status() == v1::PAUSED) {
      if (repeat) out.push_back(ClockEvent(e, clock, "paused", ""));
      return absl::OkStatus();
    }
    if (clock.status() != v1::RUNNING && clock.status() != v1::WARNED) return absl::OkStatus();
    RETURN_IF_ERROR(store_.Cancel(partition, TimersFor(clock, *policy)));
    clock.set_status_before_pause(clock.status());
    clock.set_status(v1::PAUSED);
    *clock.mutable_paused_at() = e.occurred_at();
    clock.set_changed_by(e.event_id());
    RETURN_IF_ERROR(store_.PutClock(clock));
    out.push_back(ClockEvent(e, clock, "paused", ""));
    return absl::OkStatus();
  }
  if (clock.status() != v1::PAUSED) {  // a repeat, or information nobody asked for
    if (repeat && Running(clock)) out.push_back(ClockEvent(e, clock, "resumed", ""));
    return absl::OkStatus();
  }
  const absl::Duration span =
      std::max(absl::ZeroDuration(), at - events::GetTime(clock.paused_at()));
  events::SetTime(clock.mutable_started_at(), events::GetTime(clock.started_at()) + span);
  events::SetTime(clock.mutable_due_at(), events::GetTime(clock.due_at()) + span);
  clock.set_paused_seconds(clock.paused_seconds() + absl::ToInt64Seconds(span));
  clock.set_generation(clock.generation() + 1);  // new timers, new event ids
  clock.set_status(clock.status_before_pause() == v1::WARNED ? v1::WARNED : v1::RUNNING);
  clock.clear_paused_at();
  clock.set_changed_by(e.event_id());
  // Only what had not fired before the pause: the shifted timers still ahead of `at`.
  std::vector<Timer> ahead;
  for (const Timer& t : TimersFor(clock, *policy)) {
    if (t.fire_ms >= absl::ToUnixMillis(at)) ahead.push_back(t);
  }
  RETURN_IF_ERROR(store_.Schedule(partition, ahead));
  RETURN_IF_ERROR(store_.PutClock(clock));
  out.push_back(ClockEvent(e, clock, "resumed", ""));
  return absl::OkStatus();
}

absl::Status DeadlineLogic::MarkFired(const events::Envelope& e, std::vector<v1::Clock>& clocks,
                                      int32_t partition) {
  std::string name, kind;
  int32_t generation = 0;
  int permille = 0;
  if (e.has_deadline_breached()) {
    name = e.deadline_breached().clock();
    generation = e.deadline_breached().generation();
    kind = "breach";
    permille = 1000;
  } else if (e.has_deadline_warning()) {
    name = e.deadline_warning().clock();
    generation = e.deadline_warning().generation();
    kind = "warning";
    permille = static_cast<int>(std::lround(e.deadline_warning().fraction() * 1000));
  } else {
    name = e.case_escalated().clock();
    generation = e.case_escalated().generation();
    kind = "escalation";
    permille = e.case_escalated().level();
  }
  v1::Clock* clock = Named(clocks, name);
  if (clock == nullptr || clock->generation() != generation) return absl::OkStatus();
  if (const ClockPolicy* policy = Find(*clock)) {
    // Replayed from the log (a rebuild) or our own firing coming back: that timer is done.
    for (const Timer& t : TimersFor(*clock, *policy)) {
      if (t.kind == kind && t.permille == permille) RETURN_IF_ERROR(store_.Cancel(partition, {t}));
    }
  }
  if (clock->status() == v1::STOPPED) return absl::OkStatus();
  const v1::Clock before = *clock;
  // A firing claimed just before a pause still counts: it is what the clock returns to.
  const bool paused = clock->status() == v1::PAUSED;
  const v1::ClockStatus current = paused ? clock->status_before_pause() : clock->status();
  v1::ClockStatus next = current;
  if (kind == "breach") {
    next = v1::BREACHED;
    clock->set_breached(true);
  } else if (kind == "warning" && current == v1::RUNNING) {
    next = v1::WARNED;
  } else if (kind == "escalation") {
    clock->set_escalation_level(std::max(clock->escalation_level(), permille));
  }
  if (paused) {
    clock->set_status_before_pause(next);
  } else {
    clock->set_status(next);
  }
  if (clock->SerializeAsString() == before.SerializeAsString()) return absl::OkStatus();
  return store_.PutClock(*clock);
}

absl::StatusOr<std::vector<Firing>> DeadlineLogic::ClaimDue(int32_t partition) {
  const absl::Time now = clock_.Now();
  ASSIGN_OR_RETURN(std::vector<Timer> timers,
                   store_.ClaimDue(partition, now, options_.lease, options_.claim_limit));
  std::vector<Firing> out;
  if (timers.empty()) return out;
  std::vector<std::string> case_ids;
  for (const Timer& t : timers) case_ids.push_back(t.case_id);
  ASSIGN_OR_RETURN(auto clocks_of, store_.ClocksOf(case_ids));
  for (const Timer& timer : timers) {
    Firing firing{timer, std::nullopt, ""};
    const v1::Clock* clock = nullptr;
    for (const v1::Clock& c : clocks_of[timer.case_id])
      if (c.name() == timer.clock && c.generation() == timer.generation) clock = &c;
    if (clock == nullptr) {
      bool named = false;
      for (const v1::Clock& c : clocks_of[timer.case_id]) named |= c.name() == timer.clock;
      // No record of this clock at all: being written now (or orphaned by a crash between the
      // timers and the record; the event is handled again, which writes it). A week on, it is
      // taken for an orphan.
      if (!named && now - absl::FromUnixMillis(timer.fire_ms) < absl::Hours(24 * 7)) {
        firing.deferred = true;
        out.push_back(std::move(firing));
        continue;
      }
    }
    const ClockPolicy* policy = clock != nullptr ? Find(*clock) : nullptr;
    // Stale: the clock stopped, paused, restarted, or its due time moved since it was scheduled.
    const bool live =
        policy != nullptr && clock->status() != v1::STOPPED && clock->status() != v1::PAUSED &&
        absl::ToUnixMillis(events::GetTime(clock->due_at())) == timer.due_ms &&
        (timer.kind != "escalation" ||
         (timer.permille >= 1 && timer.permille <= static_cast<int>(policy->escalate.size())));
    if (live) {
      firing.department = clock->department();
      events::Envelope e = events::NewEnvelope(timer.case_id, "deadline-watch", now);
      e.mutable_actor()->set_id("service:deadline-watch");
      const absl::Time due = absl::FromUnixMillis(timer.due_ms);
      if (timer.kind == "breach") {
        auto* b = e.mutable_deadline_breached();
        b->set_clock(timer.clock);
        b->set_generation(timer.generation);
        events::SetTime(b->mutable_due_at(), due);
        b->set_department(clock->department());
        b->set_kind(clock->kind());
      } else if (timer.kind == "escalation") {
        auto* x = e.mutable_case_escalated();
        x->set_clock(timer.clock);
        x->set_generation(timer.generation);
        x->set_level(timer.permille);
        x->set_target(policy->escalate[timer.permille - 1].target);
        events::SetTime(x->mutable_due_at(), due);
        x->set_department(clock->department());
      } else {
        auto* w = e.mutable_deadline_warning();
        w->set_clock(timer.clock);
        w->set_generation(timer.generation);
        w->set_fraction(timer.permille / 1000.0);
        events::SetTime(w->mutable_due_at(), due);
        w->set_department(clock->department());
        w->set_kind(clock->kind());
      }
      events::Finish(e, events::DeterministicId(
                            "deadline", {timer.case_id, timer.clock, absl::StrCat(timer.generation),
                                         timer.kind, absl::StrCat(timer.permille)}));
      firing.event = std::move(e);
    }
    out.push_back(std::move(firing));
  }
  return out;
}

absl::Status DeadlineLogic::Complete(int32_t partition, const std::vector<Firing>& firings) {
  std::vector<Timer> timers;
  timers.reserve(firings.size());
  for (const Firing& f : firings)
    if (!f.deferred) timers.push_back(f.timer);
  return store_.Complete(partition, timers);
}

}  // namespace meldpunt::deadline
