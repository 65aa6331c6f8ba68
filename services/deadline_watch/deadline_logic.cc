#include "services/deadline_watch/deadline_logic.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "libs/events/ids.h"
#include "libs/status/status_macros.h"

namespace meldpunt::deadline {

const ClockPolicy* DeadlineLogic::Find(const std::string& name) const {
  for (const ClockPolicy& p : policies_)
    if (p.name == name) return &p;
  return nullptr;
}

std::vector<Timer> DeadlineLogic::TimersFor(const v1::Clock& clock,
                                            const ClockPolicy& policy) const {
  std::vector<Timer> timers;
  const absl::Time started = events::GetTime(clock.started_at());
  const absl::Time due = events::GetTime(clock.due_at());
  auto make = [&](const std::string& kind, int permille) {
    Timer t;
    t.case_id = clock.case_id();
    t.clock = clock.name();
    t.generation = clock.generation();
    t.kind = kind;
    t.permille = permille;
    t.due_ms = absl::ToUnixMillis(due);
    t.fire_ms = absl::ToUnixMillis(started + (due - started) * (permille / 1000.0));
    return t;
  };
  for (double fraction : policy.warn_at)
    timers.push_back(make("warning", static_cast<int>(std::lround(fraction * 1000))));
  timers.push_back(make("breach", 1000));
  return timers;
}

absl::Status DeadlineLogic::OnEvent(const events::Envelope& envelope, int32_t partition) {
  if (envelope.payload_case() == events::Envelope::kCaseSubmitted) {
    const auto kind = envelope.case_submitted().draft().kind();
    ASSIGN_OR_RETURN(std::vector<v1::Clock> existing, store_.Clocks(envelope.case_id()));
    for (const ClockPolicy& policy : policies_) {
      if (!policy.kinds.count(kind)) continue;
      bool known = false;
      for (const v1::Clock& c : existing) known |= (c.name() == policy.name);
      if (known) continue;  // a repeated CaseSubmitted starts nothing new
      v1::Clock clock;
      clock.set_case_id(envelope.case_id());
      clock.set_name(policy.name);
      clock.set_generation(1);
      clock.set_status(v1::RUNNING);
      clock.set_policy(policy.name);
      clock.set_kind(types::v1::CaseKind_Name(kind));
      const absl::Time started = events::GetTime(envelope.occurred_at());
      *clock.mutable_started_at() = envelope.occurred_at();
      events::SetTime(clock.mutable_due_at(), policy.duration.DueFrom(started, calendar_));
      // Timers first: a crash in between leaves timers without a record, which fire as stale
      // no-ops, rather than a record without timers, which would never fire.
      RETURN_IF_ERROR(store_.Schedule(partition, TimersFor(clock, policy)));
      RETURN_IF_ERROR(store_.PutClock(clock));
    }
    return absl::OkStatus();
  }
  if (envelope.payload_case() == events::Envelope::kCaseRouted ||
      envelope.payload_case() == events::Envelope::kCaseReassigned) {
    // The ops view lists clocks by the department the case is with.
    const std::string department = envelope.has_case_routed()
                                       ? envelope.case_routed().department()
                                       : envelope.case_reassigned().department();
    ASSIGN_OR_RETURN(std::vector<v1::Clock> clocks, store_.Clocks(envelope.case_id()));
    for (v1::Clock& clock : clocks) {
      if (clock.department() == department) continue;
      clock.set_department(department);
      RETURN_IF_ERROR(store_.PutClock(clock));
    }
    if (envelope.has_case_reassigned()) return absl::OkStatus();
  }
  if (envelope.payload_case() == events::Envelope::kInformationRequested ||
      envelope.payload_case() == events::Envelope::kInformationProvided) {
    return PauseOrResume(envelope, partition);
  }
  if (envelope.has_deadline_warning() || envelope.has_deadline_breached()) {
    return MarkFired(envelope, partition);
  }
  const std::string token = StopToken(envelope);
  if (token.empty()) return absl::OkStatus();
  ASSIGN_OR_RETURN(std::vector<v1::Clock> clocks, store_.Clocks(envelope.case_id()));
  for (v1::Clock& clock : clocks) {
    const ClockPolicy* policy = Find(clock.name());
    if (policy == nullptr || !policy->stop_on.count(token)) continue;
    if (clock.status() == v1::STOPPED || clock.status() == v1::BREACHED) continue;
    RETURN_IF_ERROR(store_.Cancel(partition, TimersFor(clock, *policy)));
    clock.set_status(v1::STOPPED);
    *clock.mutable_stopped_at() = envelope.occurred_at();
    RETURN_IF_ERROR(store_.PutClock(clock));
  }
  return absl::OkStatus();
}

absl::Status DeadlineLogic::MarkFired(const events::Envelope& envelope, int32_t partition) {
  const bool breach = envelope.has_deadline_breached();
  const std::string& name =
      breach ? envelope.deadline_breached().clock() : envelope.deadline_warning().clock();
  const int32_t generation =
      breach ? envelope.deadline_breached().generation() : envelope.deadline_warning().generation();
  const int permille =
      breach ? 1000 : static_cast<int>(std::lround(envelope.deadline_warning().fraction() * 1000));
  ASSIGN_OR_RETURN(std::vector<v1::Clock> clocks, store_.Clocks(envelope.case_id()));
  for (v1::Clock& clock : clocks) {
    if (clock.name() != name || clock.generation() != generation) continue;
    const ClockPolicy* policy = Find(clock.name());
    if (policy == nullptr) continue;
    // Replayed from the log (a rebuild) or our own firing coming back: that timer is done.
    for (const Timer& t : TimersFor(clock, *policy)) {
      if (t.kind == (breach ? "breach" : "warning") && t.permille == permille) {
        RETURN_IF_ERROR(store_.Cancel(partition, {t}));
      }
    }
    if (clock.status() == v1::STOPPED || clock.status() == v1::PAUSED ||
        clock.status() == v1::BREACHED)
      continue;
    const v1::ClockStatus next = breach ? v1::BREACHED : v1::WARNED;
    if (clock.status() != next) {
      clock.set_status(next);
      RETURN_IF_ERROR(store_.PutClock(clock));
    }
  }
  return absl::OkStatus();
}

absl::Status DeadlineLogic::PauseOrResume(const events::Envelope& envelope, int32_t partition) {
  const bool pause = envelope.payload_case() == events::Envelope::kInformationRequested;
  const absl::Time at = events::GetTime(envelope.occurred_at());
  ASSIGN_OR_RETURN(std::vector<v1::Clock> clocks, store_.Clocks(envelope.case_id()));
  for (v1::Clock& clock : clocks) {
    const ClockPolicy* policy = Find(clock.name());
    if (policy == nullptr || !policy->pauses) continue;
    if (pause) {
      if (clock.status() != v1::RUNNING && clock.status() != v1::WARNED) continue;
      RETURN_IF_ERROR(store_.Cancel(partition, TimersFor(clock, *policy)));
      clock.set_status_before_pause(clock.status());
      clock.set_status(v1::PAUSED);
      *clock.mutable_paused_at() = envelope.occurred_at();
      RETURN_IF_ERROR(store_.PutClock(clock));
      continue;
    }
    if (clock.status() != v1::PAUSED) continue;  // a repeat, or information nobody asked for
    const absl::Duration span =
        std::max(absl::ZeroDuration(), at - events::GetTime(clock.paused_at()));
    events::SetTime(clock.mutable_started_at(), events::GetTime(clock.started_at()) + span);
    events::SetTime(clock.mutable_due_at(), events::GetTime(clock.due_at()) + span);
    clock.set_paused_seconds(clock.paused_seconds() + absl::ToInt64Seconds(span));
    clock.set_generation(clock.generation() + 1);  // new timers, new event ids
    clock.set_status(clock.status_before_pause() == v1::WARNED ? v1::WARNED : v1::RUNNING);
    clock.clear_paused_at();
    // Only what had not fired before the pause: the shifted timers still ahead of `at`.
    std::vector<Timer> ahead;
    for (const Timer& t : TimersFor(clock, *policy)) {
      if (t.fire_ms >= absl::ToUnixMillis(at)) ahead.push_back(t);
    }
    RETURN_IF_ERROR(store_.Schedule(partition, ahead));
    RETURN_IF_ERROR(store_.PutClock(clock));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Firing>> DeadlineLogic::ClaimDue(int32_t partition) {
  const absl::Time now = clock_.Now();
  ASSIGN_OR_RETURN(std::vector<Timer> timers,
                   store_.ClaimDue(partition, now, options_.lease, options_.claim_limit));
  std::vector<Firing> out;
  for (const Timer& timer : timers) {
    Firing firing{timer, std::nullopt};
    ASSIGN_OR_RETURN(std::vector<v1::Clock> clocks, store_.Clocks(timer.case_id));
    const v1::Clock* clock = nullptr;
    for (const v1::Clock& c : clocks)
      if (c.name() == timer.clock && c.generation() == timer.generation) clock = &c;
    if (clock != nullptr && clock->status() != v1::STOPPED) {
      events::Envelope e = events::NewEnvelope(timer.case_id, "deadline-watch", now);
      e.mutable_actor()->set_id("service:deadline-watch");
      const absl::Time due = absl::FromUnixMillis(timer.due_ms);
      if (timer.kind == "breach") {
        auto* b = e.mutable_deadline_breached();
        b->set_clock(timer.clock);
        b->set_generation(timer.generation);
        events::SetTime(b->mutable_due_at(), due);
      } else {
        auto* w = e.mutable_deadline_warning();
        w->set_clock(timer.clock);
        w->set_generation(timer.generation);
        w->set_fraction(timer.permille / 1000.0);
        events::SetTime(w->mutable_due_at(), due);
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

absl::Status DeadlineLogic::Complete(int32_t partition, const Firing& firing) {
  if (firing.event.has_value()) {
    ASSIGN_OR_RETURN(std::vector<v1::Clock> clocks, store_.Clocks(firing.timer.case_id));
    for (v1::Clock& clock : clocks) {
      if (clock.name() != firing.timer.clock || clock.generation() != firing.timer.generation)
        continue;
      if (clock.status() == v1::STOPPED) break;
      const v1::ClockStatus next = firing.timer.kind == "breach" ? v1::BREACHED : v1::WARNED;
      if (clock.status() != v1::BREACHED && clock.status() != next) {
        clock.set_status(next);
        RETURN_IF_ERROR(store_.PutClock(clock));
      }
    }
  }
  return store_.Complete(partition, firing.timer);
}

}  // namespace meldpunt::deadline
