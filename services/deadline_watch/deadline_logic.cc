#include "services/deadline_watch/deadline_logic.h"

#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "libs/events/ids.h"
#include "libs/grpc/status.h"
#include "libs/status/status_macros.h"

namespace meldpunt::deadline {
namespace {

bool Running(const v1::Clock& clock) {
  return clock.status() == v1::RUNNING || clock.status() == v1::WARNED ||
         clock.status() == v1::BREACHED;
}

// Whether the clock's record holds `t` as fired in its generation.
bool Fired(const v1::Clock& clock, const Timer& t) {
  if (t.kind == "warning") return clock.warned_permille() >= t.permille;
  if (t.kind == "breach") return clock.breached();
  return clock.escalation_level() >= t.permille;
}

// What a clock schedules of a timeline: its first timer (the others follow one by one).
std::vector<Timer> First(std::vector<Timer> timers) {
  if (timers.size() > 1) timers.resize(1);
  return timers;
}

// The highest warning of a new term's `timeline` that lies before `at` (0: none): not fired,
// and held as fired (Clock.warned_permille), with the clock WARNED.
int32_t WarningsBehind(const std::vector<Timer>& timeline, absl::Time at) {
  int32_t passed = 0;
  for (const Timer& t : timeline) {
    if (t.kind == "warning" && t.fire_ms < absl::ToUnixMillis(at))
      passed = std::max(passed, t.permille);
  }
  return passed;
}

v1::Clock* Named(std::vector<v1::Clock>& clocks, const std::string& name) {
  for (v1::Clock& c : clocks)
    if (c.name() == name) return &c;
  return nullptr;
}

// The team's changes travel as ClockExtended, and as ClockPaused/ClockResumed marked suspended.
bool IsTeamChange(const events::Envelope& e) {
  return e.has_clock_extended() || (e.has_clock_paused() && e.clock_paused().suspended()) ||
         (e.has_clock_resumed() && e.clock_resumed().suspended());
}

const v1::ClockChange* ChangeOf(const v1::Clock& clock, const std::string& event_id) {
  for (const v1::ClockChange& c : clock.changes())
    if (c.event_id() == event_id) return &c;
  return nullptr;
}

absl::Status CheckReason(const std::string& reason) {
  int chars = 0;
  for (unsigned char c : reason) {
    if ((c & 0xC0) != 0x80) ++chars;  // not a UTF-8 continuation byte
    if (c < 0x20 && c != '\n' && c != '\t')
      return grpc_util::FieldError("reason", "must not hold control characters");
  }
  if (absl::StripAsciiWhitespace(reason).empty())
    return grpc_util::FieldError("reason", "is required (why the clock changes)");
  if (chars > 1000) return grpc_util::FieldError("reason", "must be at most 1000 characters");
  return absl::OkStatus();
}

absl::Status CheckCommandId(const std::string& id) {
  if (id.size() > 128) return grpc_util::FieldError("command_id", "must be at most 128 characters");
  for (char c : id) {
    if (c < 0x21 || c > 0x7e)
      return grpc_util::FieldError("command_id", "must be printable ASCII without spaces");
  }
  return absl::OkStatus();
}

std::string Stamp(const google::protobuf::Timestamp& t) {
  return absl::FormatTime(absl::RFC3339_sec, events::GetTime(t), absl::UTCTimeZone());
}

}  // namespace

const ClockPolicy* DeadlineLogic::Find(const v1::Clock& clock) const {
  const std::string& id = clock.policy().empty() ? clock.name() : clock.policy();
  for (const ClockPolicy& p : policies_)
    if (p.id == id) return &p;
  return nullptr;
}

const ClockPolicy* DeadlineLogic::Select(const std::string& name, const CaseFacts& facts) const {
  const std::shared_ptr<const catalog::Catalog> catalog =
      options_.catalog == nullptr ? nullptr : options_.catalog->Current();
  for (const ClockPolicy& p : policies_)
    if (p.name == name && p.Matches(facts, catalog.get())) return &p;
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

std::vector<Timer> DeadlineLogic::PendingTimer(const v1::Clock& clock,
                                               const ClockPolicy& policy) const {
  for (Timer& t : TimersFor(clock, policy))
    if (!Fired(clock, t)) return {std::move(t)};
  return {};
}

namespace {

// A clock event of deadline-watch about `case_id`, caused by `cause`.
events::Envelope ClockEnvelope(const std::string& case_id, const events::Envelope& cause) {
  events::Envelope e =
      events::NewEnvelope(case_id, "deadline-watch", events::GetTime(cause.occurred_at()));
  e.mutable_actor()->set_id("service:deadline-watch");
  e.set_causation_id(cause.event_id());
  e.set_correlation_id(cause.correlation_id());
  return e;
}

void FillStarted(const v1::Clock& clock, const std::string& reason, events::v1::ClockStarted* s) {
  s->set_clock(clock.name());
  s->set_generation(clock.generation());
  *s->mutable_started_at() = clock.started_at();
  *s->mutable_due_at() = clock.due_at();
  s->set_policy(clock.policy());
  s->set_term(clock.term());
  s->set_reason(reason);
}

}  // namespace

events::Envelope DeadlineLogic::ClockEvent(const events::Envelope& cause, const v1::Clock& clock,
                                           const std::string& what,
                                           const std::string& reason) const {
  events::Envelope e = ClockEnvelope(clock.case_id(), cause);
  if (what == "started") {
    FillStarted(clock, reason, e.mutable_clock_started());
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

events::Envelope DeadlineLogic::ClocksStartedEvent(const events::Envelope& cause,
                                                   const std::vector<v1::Clock>& clocks,
                                                   const std::string& reason) const {
  events::Envelope e = ClockEnvelope(cause.case_id(), cause);
  for (const v1::Clock& clock : clocks)
    FillStarted(clock, reason, e.mutable_clocks_started()->add_clocks());
  // From the cause, not from the clocks: an event handled again (after a crash, or by the live
  // consumer after a rebuild) gives the same id even when fewer of its clocks are announced again
  // (a restarted generation stopped since), and a clock generation is started by one event only.
  events::Finish(e, events::DeterministicId("clocks-started", {cause.case_id(), cause.event_id()}));
  return e;
}

absl::Status DeadlineLogic::UpdateFacts(TimerStore& store, const events::Envelope& e,
                                        std::optional<CaseFacts> stored, CaseFacts& facts,
                                        bool& known) {
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
    // Decided before routing read the team's change, a CaseRouted must not undo it.
    if (e.case_routed().priority() != types::v1::PRIORITY_UNSPECIFIED && !next.priority_by_team)
      next.priority = e.case_routed().priority();
  } else if (e.has_case_reassigned()) {
    next.department = e.case_reassigned().department();
  } else if (e.has_priority_changed()) {
    next.priority = e.priority_changed().priority();
    next.priority_by_team = true;
  } else {
    return absl::OkStatus();
  }
  if (known && next.kind == facts.kind && next.priority == facts.priority &&
      next.priority_by_team == facts.priority_by_team && next.category == facts.category &&
      next.department == facts.department) {
    return absl::OkStatus();
  }
  RETURN_IF_ERROR(store.PutFacts(e.case_id(), next));
  facts = next;
  known = true;
  return absl::OkStatus();
}

bool DeadlineLogic::Inert(const events::Envelope& e) {
  if (IsTeamChange(e)) return false;
  // What OnEvent reads a case's record for, each branch of it: the facts (a submission, its
  // department, its priority), the fired timers, a restart, a pause, and any start or stop of a
  // clock. Everything else (its own clock records, a dispatch mail delivered, a link between
  // cases) it would read the record for and leave as it is.
  switch (e.payload_case()) {
    case events::Envelope::kCaseSubmitted:
    case events::Envelope::kCaseRouted:
    case events::Envelope::kCaseReassigned:
    case events::Envelope::kCaseBounced:
    case events::Envelope::kPriorityChanged:
    case events::Envelope::kInformationRequested:
    case events::Envelope::kInformationProvided:
    case events::Envelope::kDeadlineWarning:
    case events::Envelope::kDeadlineBreached:
    case events::Envelope::kCaseEscalated:
      return false;
    default:
      return StartToken(e).empty() && StopToken(e).empty();
  }
}

const std::vector<int>& DeadlineLogic::InertPayloads() {
  static const auto* inert = new std::vector<int>{events::Envelope::kClockStartedFieldNumber,
                                                  events::Envelope::kClocksStartedFieldNumber,
                                                  events::Envelope::kClockStoppedFieldNumber};
  return *inert;
}

std::vector<std::string> DeadlineLogic::CasesToRead(const events::Batch& batch) {
  std::vector<std::string> case_ids;
  case_ids.reserve(batch.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    if (!Inert(batch.envelope(i))) case_ids.push_back(batch.envelope(i).case_id());
  }
  return case_ids;
}

absl::StatusOr<std::vector<events::Envelope>> DeadlineLogic::OnEvent(const events::Envelope& e,
                                                                     int32_t partition) {
  return OnEvent(e, partition, store_);
}

absl::StatusOr<std::vector<events::Envelope>> DeadlineLogic::OnEvent(const events::Envelope& e,
                                                                     int32_t partition,
                                                                     TimerStore& store) {
  std::vector<events::Envelope> out;
  RETURN_IF_ERROR(Apply(store, e, partition, &out));
  return out;
}

absl::Status DeadlineLogic::Fold(const events::Envelope& e, int32_t partition, TimerStore& store) {
  return Apply(store, e, partition, nullptr);
}

absl::Status DeadlineLogic::Apply(TimerStore& store, const events::Envelope& e, int32_t partition,
                                  std::vector<events::Envelope>* out) {
  if (IsTeamChange(e)) {
    // The event is the record of the change (appended by the gRPC adapter): nothing to append.
    return ApplyChange(store, e, partition);
  }
  if (Inert(e)) return absl::OkStatus();  // our own record of what happened, or a projection's
  CaseFacts facts;
  bool known = false;
  // One read of the case's record: its facts and its clocks.
  ASSIGN_OR_RETURN(TimerStore::CaseRecord record, store.Load(e.case_id()));
  RETURN_IF_ERROR(UpdateFacts(store, e, record.facts, facts, known));
  if (!known) return absl::OkStatus();
  std::vector<v1::Clock>& clocks = record.clocks;

  if (e.has_deadline_warning() || e.has_deadline_breached() || e.has_case_escalated()) {
    return MarkFired(store, e, clocks, partition);
  }
  if (e.has_case_routed() || e.has_case_reassigned()) {
    // The ops view lists clocks by the department the case is with.
    for (v1::Clock& clock : clocks) {
      if (clock.department() == facts.department) continue;
      clock.set_department(facts.department);
      RETURN_IF_ERROR(store.PutClock(clock));
    }
  }
  if (e.has_case_reassigned() || e.has_case_bounced()) {
    const bool reassigned = e.has_case_reassigned();
    for (v1::Clock& clock : clocks) {
      const ClockPolicy* policy = Find(clock);
      if (policy == nullptr) continue;
      if (reassigned ? policy->restart_on_reassign : policy->restart_on_bounce) {
        RETURN_IF_ERROR(
            Restart(store, e, facts, clock, reassigned ? "reassigned" : "bounced", partition, out));
      }
    }
  }
  if (e.has_information_requested() || e.has_information_provided()) {
    for (v1::Clock& clock : clocks) RETURN_IF_ERROR(PauseOrResume(store, e, clock, partition, out));
  }
  if (e.has_priority_changed()) {
    for (v1::Clock& clock : clocks)
      RETURN_IF_ERROR(Reprioritize(store, e, facts, clock, partition, out));
  }
  if (const std::string token = StopToken(e); !token.empty()) {
    for (v1::Clock& clock : clocks) {
      const ClockPolicy* policy = Find(clock);
      if (policy != nullptr && policy->stop_on.count(token))
        RETURN_IF_ERROR(Stop(store, e, clock, token, partition, out));
    }
  }
  return Start(store, e, facts, clocks, partition, out);
}

absl::Status DeadlineLogic::Start(TimerStore& store, const events::Envelope& e,
                                  const CaseFacts& facts, std::vector<v1::Clock>& clocks,
                                  int32_t partition, std::vector<events::Envelope>* out) {
  const std::string token = StartToken(e);
  if (token.empty()) return absl::OkStatus();
  std::set<std::string> seen;
  std::vector<Timer> new_timers;
  std::vector<v1::Clock> new_clocks;
  std::vector<v1::Clock> announced;  // what the event's ClocksStarted carries
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
      if (started_here) {
        if (out != nullptr && (existing->generation() == 1 || existing->status() != v1::STOPPED)) {
          announced.push_back(*existing);
        }
        continue;
      }
      // Stopped because routing sent the case to the triage queue: the next routing (the team's
      // reassignment) gives the new department a full term of its own, as a new generation.
      if (existing->status() == v1::STOPPED && existing->stop_reason() == "triaged") {
        existing->set_generation(existing->generation() + 1);
        existing->set_status(v1::RUNNING);
        existing->set_stop_reason("");
        existing->clear_stopped_at();
        existing->set_policy(policy->id);
        existing->set_term(policy->duration.text);
        existing->set_department(facts.department);
        existing->set_escalation_level(0);
        existing->set_breached(false);
        existing->set_warned_permille(0);
        existing->set_changed_by(e.event_id());
        existing->set_started_by(e.event_id());
        *existing->mutable_started_at() = e.occurred_at();
        existing->set_registered_letter(false);
        events::SetTime(existing->mutable_due_at(),
                        policy->DueFrom(events::GetTime(e.occurred_at()), calendar_, false));
        std::vector<Timer> timers = First(TimersFor(*existing, *policy));
        new_timers.insert(new_timers.end(), timers.begin(), timers.end());
        if (out != nullptr) announced.push_back(*existing);
        new_clocks.push_back(*existing);
      }
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
    clock.set_registered_letter(submitted && draft.registered_letter());
    events::SetTime(clock.mutable_due_at(),
                    policy->DueFrom(started, calendar_, clock.registered_letter()));
    std::vector<Timer> timers = First(TimersFor(clock, *policy));
    new_timers.insert(new_timers.end(), timers.begin(), timers.end());
    if (out != nullptr) announced.push_back(clock);
    new_clocks.push_back(clock);
    clocks.push_back(std::move(clock));
  }
  if (out != nullptr && !announced.empty()) out->push_back(ClocksStartedEvent(e, announced, token));
  if (new_clocks.empty()) return absl::OkStatus();
  // Timers first: a crash in between leaves timers without a record, which wait for it (the
  // event is handled again and writes it), rather than a record without timers, which would
  // never fire.
  RETURN_IF_ERROR(store.Schedule(partition, new_timers));
  return store.PutClocks(new_clocks);
}

absl::Status DeadlineLogic::Restart(TimerStore& store, const events::Envelope& e,
                                    const CaseFacts& facts, v1::Clock& clock,
                                    const std::string& reason, int32_t partition,
                                    std::vector<events::Envelope>* out) {
  if (clock.changed_by() == e.event_id()) {  // restarted by this very event: a repeat
    if (clock.generation() > 1 && Running(clock))
      if (out != nullptr) out->push_back(ClockEvent(e, clock, "started", reason));
    return absl::OkStatus();
  }
  if (!Running(clock)) return absl::OkStatus();  // stopped, or paused: left as it is
  const ClockPolicy* old_policy = Find(clock);
  if (old_policy == nullptr) return absl::OkStatus();
  RETURN_IF_ERROR(store.Cancel(partition, PendingTimer(clock, *old_policy)));
  // The new department may have a policy of its own for this clock.
  const ClockPolicy* policy = Select(clock.name(), facts);
  if (policy == nullptr) policy = old_policy;
  const absl::Time at = events::GetTime(e.occurred_at());
  clock.set_generation(clock.generation() + 1);
  clock.set_status(v1::RUNNING);
  clock.set_policy(policy->id);
  clock.set_term(policy->duration.text);
  *clock.mutable_started_at() = e.occurred_at();
  clock.set_registered_letter(false);
  events::SetTime(clock.mutable_due_at(), policy->DueFrom(at, calendar_, /*by_letter=*/false));
  clock.set_escalation_level(0);
  clock.set_breached(false);
  clock.set_warned_permille(0);
  clock.set_changed_by(e.event_id());
  clock.set_started_by(e.event_id());
  RETURN_IF_ERROR(store.Schedule(partition, First(TimersFor(clock, *policy))));
  RETURN_IF_ERROR(store.PutClock(clock));
  if (out != nullptr) out->push_back(ClockEvent(e, clock, "started", reason));
  return absl::OkStatus();
}

absl::Status DeadlineLogic::Reprioritize(TimerStore& store, const events::Envelope& e,
                                         const CaseFacts& facts, v1::Clock& clock,
                                         int32_t partition, std::vector<events::Envelope>* out) {
  if (clock.changed_by() == e.event_id()) {  // moved by this very event: a repeat
    if (out != nullptr && Running(clock))
      out->push_back(ClockEvent(e, clock, "started", "priority"));
    return absl::OkStatus();
  }
  if (clock.status() == v1::STOPPED) return absl::OkStatus();
  const ClockPolicy* old_policy = Find(clock);
  const ClockPolicy* policy = Select(clock.name(), facts);
  if (old_policy == nullptr || policy == nullptr || policy->id == old_policy->id)
    return absl::OkStatus();
  const absl::Time at = events::GetTime(e.occurred_at());
  const absl::Time start = events::GetTime(clock.started_at());
  const bool by_letter = clock.registered_letter();
  // What the due time holds beyond the old term (extensions; the pauses moved the start).
  const absl::Duration kept =
      events::GetTime(clock.due_at()) - old_policy->DueFrom(start, calendar_, by_letter);
  const absl::Time due = policy->DueFrom(start, calendar_, by_letter) + kept;

  v1::ClockChange change;
  change.set_kind(v1::ClockChange::PRIORITY);
  change.set_event_id(e.event_id());
  *change.mutable_at() = e.occurred_at();
  change.set_actor(e.actor().id());
  change.set_reason(absl::StrCat(types::v1::Priority_Name(e.priority_changed().previous()), " -> ",
                                 types::v1::Priority_Name(e.priority_changed().priority()), ": ",
                                 e.priority_changed().reason()));
  *change.mutable_previous_due_at() = clock.due_at();
  events::SetTime(change.mutable_due_at(), due);
  change.set_term(policy->duration.text);
  change.set_was_breached(clock.breached() || clock.status() == v1::BREACHED);

  const bool paused = clock.status() == v1::PAUSED;
  if (!paused) RETURN_IF_ERROR(store.Cancel(partition, PendingTimer(clock, *old_policy)));
  clock.set_policy(policy->id);
  clock.set_term(policy->duration.text);
  events::SetTime(clock.mutable_due_at(), due);
  clock.set_escalation_level(0);
  clock.set_breached(false);
  clock.set_changed_by(e.event_id());
  // Beyond the most a clock keeps, the event on the log is the only record of it.
  if (clock.changes_size() < kMaxClockChanges) *clock.add_changes() = std::move(change);
  if (paused) return store.PutClock(clock);  // resumed later with its timers

  clock.set_generation(clock.generation() + 1);  // new timers, new event ids
  clock.set_started_by(e.event_id());
  // A warning point of the new term that lies behind is not fired; the breach (and what follows
  // it) fires at once when the new due time has passed already.
  const int32_t passed = WarningsBehind(TimersFor(clock, *policy), at);
  clock.set_status(passed > 0 ? v1::WARNED : v1::RUNNING);
  clock.set_warned_permille(passed);
  RETURN_IF_ERROR(store.Schedule(partition, PendingTimer(clock, *policy)));
  RETURN_IF_ERROR(store.PutClock(clock));
  if (out != nullptr) out->push_back(ClockEvent(e, clock, "started", "priority"));
  return absl::OkStatus();
}

absl::Status DeadlineLogic::Stop(TimerStore& store, const events::Envelope& e, v1::Clock& clock,
                                 const std::string& token, int32_t partition,
                                 std::vector<events::Envelope>* out) {
  if (clock.status() == v1::STOPPED) {
    if (out != nullptr && clock.changed_by() == e.event_id())
      out->push_back(ClockEvent(e, clock, "stopped", token));
    return absl::OkStatus();
  }
  const ClockPolicy* policy = Find(clock);
  if (policy != nullptr) RETURN_IF_ERROR(store.Cancel(partition, PendingTimer(clock, *policy)));
  clock.set_status(v1::STOPPED);
  clock.set_stop_reason(token);
  *clock.mutable_stopped_at() = e.occurred_at();
  // A stopped clock is neither suspended nor waiting (the reason and `changes` say it was).
  clock.set_suspended(false);
  clock.set_waiting_for_reporter(false);
  clock.set_changed_by(e.event_id());
  RETURN_IF_ERROR(store.PutClock(clock));
  if (out != nullptr) out->push_back(ClockEvent(e, clock, "stopped", token));
  return absl::OkStatus();
}

absl::Status DeadlineLogic::PauseOrResume(TimerStore& store, const events::Envelope& e,
                                          v1::Clock& clock, int32_t partition,
                                          std::vector<events::Envelope>* out) {
  const ClockPolicy* policy = Find(clock);
  if (policy == nullptr || !policy->pauses) return absl::OkStatus();
  const bool pause = e.has_information_requested();
  const absl::Time at = events::GetTime(e.occurred_at());
  const bool repeat = clock.changed_by() == e.event_id();
  if (clock.suspended() && clock.status() == v1::PAUSED) {
    // Suspended by the team: the reporter's answer does not resume it, and ResumeClock waits for
    // that answer when the case asked the reporter meanwhile. No event: the clock stands still.
    if (clock.waiting_for_reporter() == pause) return absl::OkStatus();
    clock.set_waiting_for_reporter(pause);
    return store.PutClock(clock);
  }
  if (pause) {
    if (clock.status() == v1::PAUSED) {
      if (out != nullptr && repeat) out->push_back(ClockEvent(e, clock, "paused", ""));
      return absl::OkStatus();
    }
    if (clock.status() != v1::RUNNING && clock.status() != v1::WARNED) return absl::OkStatus();
    RETURN_IF_ERROR(store.Cancel(partition, PendingTimer(clock, *policy)));
    clock.set_status_before_pause(clock.status());
    clock.set_status(v1::PAUSED);
    *clock.mutable_paused_at() = e.occurred_at();
    clock.set_changed_by(e.event_id());
    RETURN_IF_ERROR(store.PutClock(clock));
    if (out != nullptr) out->push_back(ClockEvent(e, clock, "paused", ""));
    return absl::OkStatus();
  }
  if (clock.status() != v1::PAUSED) {  // a repeat, or information nobody asked for
    if (out != nullptr && repeat && Running(clock))
      out->push_back(ClockEvent(e, clock, "resumed", ""));
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
  // Only what had not fired before the pause: the first shifted timer still ahead of `at`.
  std::vector<Timer> ahead;
  for (const Timer& t : TimersFor(clock, *policy)) {
    if (t.fire_ms >= absl::ToUnixMillis(at) && !Fired(clock, t)) ahead.push_back(t);
  }
  RETURN_IF_ERROR(store.Schedule(partition, First(std::move(ahead))));
  RETURN_IF_ERROR(store.PutClock(clock));
  if (out != nullptr) out->push_back(ClockEvent(e, clock, "resumed", ""));
  return absl::OkStatus();
}

absl::StatusOr<PlannedChange> DeadlineLogic::Plan(const ClockCommand& command) {
  using Kind = ClockCommand::Kind;
  if (command.case_id.empty()) return grpc_util::FieldError("case_id", "is required");
  if (!events::IsCaseId(command.case_id))
    return grpc_util::FieldError("case_id", "is not a case id (MP-XXXXXXXXXXXXX)");
  if (command.clock.empty()) return grpc_util::FieldError("clock", "is required (e.g. answer)");
  if (command.clock.size() > 64) return grpc_util::FieldError("clock", "is not a clock name");
  RETURN_IF_ERROR(CheckReason(command.reason));
  RETURN_IF_ERROR(CheckCommandId(command.command_id));
  std::optional<Term> term;
  if (command.kind == Kind::kExtend) {
    if (command.due_at.has_value() == !command.term.empty()) {
      return grpc_util::FieldError(
          command.due_at ? "term" : "due_at",
          "give exactly one of due_at (the new due time) and term (an extra term such as 10d)");
    }
    if (!command.term.empty()) {
      absl::StatusOr<Term> parsed = Term::Parse(command.term);
      if (!parsed.ok())
        return grpc_util::FieldError("term", std::string(parsed.status().message()));
      term = *parsed;
    }
  }

  ASSIGN_OR_RETURN(TimerStore::CaseRecord record, store_.Load(command.case_id));
  if (!record.facts.has_value() && record.clocks.empty()) {
    return absl::NotFoundError(absl::StrCat("case ", command.case_id, " not found"));
  }
  v1::Clock* found = Named(record.clocks, command.clock);
  if (found == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("case ", command.case_id, " has no clock '", command.clock, "'"));
  }
  const v1::Clock& clock = *found;
  const char* kind_name = command.kind == Kind::kExtend    ? "extend"
                          : command.kind == Kind::kSuspend ? "suspend"
                                                           : "resume";
  PlannedChange plan;
  plan.event_id = command.command_id.empty()
                      ? events::RandomId("clock-change")
                      : events::DeterministicId("clock-change", {command.case_id, command.clock,
                                                                 kind_name, command.command_id});
  if (const v1::ClockChange* done = ChangeOf(clock, plan.event_id)) {
    plan.done = true;
    plan.clock = clock;
    plan.refused = done->refused();
    return plan;
  }
  if (clock.changes_size() >= kMaxClockChanges) {
    return absl::FailedPreconditionError(absl::StrCat("clock '", clock.name(), "' has had ",
                                                      kMaxClockChanges,
                                                      " changes by the team, the most it keeps"));
  }
  const std::string what = absl::StrCat("clock '", clock.name(), "' of case ", clock.case_id());
  if (clock.status() == v1::STOPPED) {
    return absl::FailedPreconditionError(absl::StrCat(what, " is stopped"));
  }
  const absl::Time now = clock_.Now();
  events::Envelope e = events::NewEnvelope(command.case_id, "deadline-watch", now);
  *e.mutable_actor() = command.actor;
  e.set_correlation_id(command.correlation_id);
  switch (command.kind) {
    case Kind::kExtend: {
      const absl::Time due = events::GetTime(clock.due_at());
      const absl::Time next = term ? term->DueFrom(due, calendar_) : *command.due_at;
      const char* field = term ? "term" : "due_at";
      if (next <= due) {
        return grpc_util::FieldError(
            field, absl::StrCat("must be later than the current due time ", Stamp(clock.due_at())));
      }
      if (next <= now) {
        return grpc_util::FieldError(
            field, absl::StrCat("the new due time ",
                                absl::FormatTime(absl::RFC3339_sec, next, absl::UTCTimeZone()),
                                " has passed already; an extension must end after now"));
      }
      auto* x = e.mutable_clock_extended();
      x->set_clock(clock.name());
      x->set_generation(clock.generation() + 1);
      *x->mutable_previous_due_at() = clock.due_at();
      events::SetTime(x->mutable_due_at(), next);
      x->set_term(term ? term->text : "");
      x->set_reason(command.reason);
      x->set_notify_reporter(command.notify_reporter);
      break;
    }
    case Kind::kSuspend:
      if (clock.status() == v1::PAUSED) {
        return absl::FailedPreconditionError(absl::StrCat(
            what, clock.suspended() ? " is suspended already"
                                    : " stands still already: the case waits for the reporter"));
      }
      if (clock.status() == v1::BREACHED) {
        return absl::FailedPreconditionError(absl::StrCat(
            what, " has breached its term; extend it (ExtendClock) instead of suspending it"));
      }
      e.mutable_clock_paused()->set_clock(clock.name());
      e.mutable_clock_paused()->set_generation(clock.generation());
      e.mutable_clock_paused()->set_suspended(true);
      e.mutable_clock_paused()->set_reason(command.reason);
      break;
    case Kind::kResume: {
      if (clock.status() != v1::PAUSED || !clock.suspended()) {
        return absl::FailedPreconditionError(absl::StrCat(
            what,
            clock.status() == v1::PAUSED
                ? " waits for the reporter, not suspended: it runs again when the information "
                  "arrives"
                : " is not suspended"));
      }
      if (clock.waiting_for_reporter()) {
        return absl::FailedPreconditionError(absl::StrCat(
            what,
            " is suspended and the case waits for the reporter as well; resume it once the "
            "reporter answered"));
      }
      const absl::Duration span =
          std::max(absl::ZeroDuration(), now - events::GetTime(clock.paused_at()));
      auto* r = e.mutable_clock_resumed();
      r->set_clock(clock.name());
      r->set_generation(clock.generation() + 1);
      events::SetTime(r->mutable_due_at(), events::GetTime(clock.due_at()) + span);
      r->set_paused_seconds(clock.paused_seconds() + absl::ToInt64Seconds(span));
      r->set_suspended(true);
      r->set_reason(command.reason);
      break;
    }
  }
  events::Finish(e, plan.event_id);
  plan.event = std::move(e);
  plan.clock = clock;
  return plan;
}

absl::Status DeadlineLogic::ApplyChange(TimerStore& store, const events::Envelope& e,
                                        int32_t partition) {
  const std::string& name = e.has_clock_extended() ? e.clock_extended().clock()
                            : e.has_clock_paused() ? e.clock_paused().clock()
                                                   : e.clock_resumed().clock();
  ASSIGN_OR_RETURN(TimerStore::CaseRecord record, store.Load(e.case_id()));
  v1::Clock* found = Named(record.clocks, name);
  if (found == nullptr) return absl::OkStatus();  // a case or clock this service never had
  v1::Clock& clock = *found;
  if (ChangeOf(clock, e.event_id()) != nullptr) return absl::OkStatus();  // a repeat
  const absl::Time at = events::GetTime(e.occurred_at());
  v1::ClockChange change;
  change.set_event_id(e.event_id());
  *change.mutable_at() = e.occurred_at();
  change.set_actor(e.actor().id());
  *change.mutable_previous_due_at() = clock.due_at();

  // Planned on the record as it was: refused when the clock has moved on since (a stop, a
  // restart, a resume or another extension came first on the log).
  std::string refused;
  if (clock.status() == v1::STOPPED) refused = "the clock was stopped meanwhile";
  if (e.has_clock_extended()) {
    const auto& x = e.clock_extended();
    change.set_kind(v1::ClockChange::EXTENDED);
    change.set_reason(x.reason());
    change.set_term(x.term());
    change.set_notify_reporter(x.notify_reporter());
    *change.mutable_due_at() = x.due_at();
    if (refused.empty() &&
        (clock.generation() != x.generation() - 1 ||
         events::GetTime(clock.due_at()) != events::GetTime(x.previous_due_at()))) {
      refused = "the clock's due time changed meanwhile";
    }
  } else if (e.has_clock_paused()) {
    change.set_kind(v1::ClockChange::SUSPENDED);
    change.set_reason(e.clock_paused().reason());
    if (refused.empty() && (clock.generation() != e.clock_paused().generation() ||
                            (clock.status() != v1::RUNNING && clock.status() != v1::WARNED))) {
      refused = "the clock was paused, breached or restarted meanwhile";
    }
  } else {
    change.set_kind(v1::ClockChange::RESUMED);
    change.set_reason(e.clock_resumed().reason());
    *change.mutable_due_at() = e.clock_resumed().due_at();
    if (refused.empty() && (clock.generation() != e.clock_resumed().generation() - 1 ||
                            clock.status() != v1::PAUSED || !clock.suspended())) {
      refused = "the clock was not suspended any more";
    } else if (refused.empty() && clock.waiting_for_reporter()) {
      refused = "the case came to wait for the reporter meanwhile";
    }
  }
  if (!refused.empty()) {
    change.set_refused(refused);
    *clock.add_changes() = std::move(change);
    return store.PutClock(clock);
  }

  const ClockPolicy* policy = Find(clock);
  const bool paused = clock.status() == v1::PAUSED;
  // Timers first, then the record (as everywhere here): a crash in between leaves timers that
  // wait for their record, and the event, not yet committed, is applied again.
  if (policy != nullptr && !paused)
    RETURN_IF_ERROR(store.Cancel(partition, PendingTimer(clock, *policy)));
  std::vector<Timer> ahead;
  auto schedule_ahead = [&] {
    if (policy == nullptr) return;
    for (const Timer& t : TimersFor(clock, *policy))
      if (t.fire_ms >= absl::ToUnixMillis(at) && !Fired(clock, t)) ahead.push_back(t);
    ahead = First(std::move(ahead));
  };
  if (e.has_clock_extended()) {
    const auto& x = e.clock_extended();
    change.set_was_breached(clock.breached() || clock.status() == v1::BREACHED);
    clock.set_generation(x.generation());  // new timers, new event ids
    *clock.mutable_due_at() = x.due_at();
    clock.set_breached(false);  // due after the change: no longer overdue
    clock.set_escalation_level(0);
    clock.set_extensions(clock.extensions() + 1);
    // WARNED when a warning point of the new term lies behind; its timers are not fired again.
    const int32_t passed = policy != nullptr ? WarningsBehind(TimersFor(clock, *policy), at) : 0;
    const v1::ClockStatus next = passed > 0 ? v1::WARNED : v1::RUNNING;
    clock.set_warned_permille(passed);
    if (paused) {
      clock.set_status_before_pause(next);
    } else {
      clock.set_status(next);
      schedule_ahead();
    }
  } else if (e.has_clock_paused()) {
    clock.set_status_before_pause(clock.status());
    clock.set_status(v1::PAUSED);
    *clock.mutable_paused_at() = e.occurred_at();
    clock.set_suspended(true);
    clock.set_suspend_reason(e.clock_paused().reason());
  } else {
    const auto& r = e.clock_resumed();
    const absl::Duration span =
        std::max(absl::ZeroDuration(), at - events::GetTime(clock.paused_at()));
    events::SetTime(clock.mutable_started_at(), events::GetTime(clock.started_at()) + span);
    *clock.mutable_due_at() = r.due_at();
    clock.set_paused_seconds(r.paused_seconds());
    clock.set_generation(r.generation());
    clock.set_status(clock.status_before_pause() == v1::WARNED ? v1::WARNED : v1::RUNNING);
    clock.clear_paused_at();
    clock.set_suspended(false);
    clock.clear_suspend_reason();
    schedule_ahead();
  }
  clock.set_changed_by(e.event_id());
  *clock.add_changes() = std::move(change);
  if (!ahead.empty()) RETURN_IF_ERROR(store.Schedule(partition, ahead));
  return store.PutClock(clock);
}

absl::Status DeadlineLogic::MarkFired(TimerStore& store, const events::Envelope& e,
                                      std::vector<v1::Clock>& clocks, int32_t partition) {
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
  const ClockPolicy* policy = Find(*clock);
  std::vector<Timer> timeline;
  if (policy != nullptr) timeline = TimersFor(*clock, *policy);
  // Replayed from the log (a rebuild) or our own firing coming back: that timer is done.
  size_t fired = timeline.size();
  for (size_t i = 0; i < timeline.size(); ++i) {
    if (timeline[i].kind == kind && timeline[i].permille == permille) fired = i;
  }
  if (fired < timeline.size()) RETURN_IF_ERROR(store.Cancel(partition, {timeline[fired]}));
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
  if (kind == "warning") clock->set_warned_permille(std::max(clock->warned_permille(), permille));
  if (paused) {
    clock->set_status_before_pause(next);
  } else {
    clock->set_status(next);
  }
  // Recorded before (a repeat): its next timer was scheduled then, before the record.
  if (clock->SerializeAsString() == before.SerializeAsString()) return absl::OkStatus();
  // The clock's next timer; a paused clock gets it when it resumes. A firing its policy no longer
  // names (the policy changed meanwhile) goes on with the first the record has not fired.
  if (!paused && policy != nullptr) {
    std::vector<Timer> next_timer;
    if (fired >= timeline.size()) {
      next_timer = PendingTimer(*clock, *policy);
    } else if (fired + 1 < timeline.size() && !Fired(*clock, timeline[fired + 1])) {
      next_timer = {timeline[fired + 1]};
    }
    // Timers first, then the record (a crash in between: the event is handled again).
    RETURN_IF_ERROR(store.Schedule(partition, next_timer));
  }
  return store.PutClock(*clock);
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
    // Stale: the clock stopped, paused, restarted, or its due time moved since it was scheduled;
    // or its record holds this firing already (its event came back; the claim before it did not
    // complete).
    const bool live =
        policy != nullptr && clock->status() != v1::STOPPED && clock->status() != v1::PAUSED &&
        absl::ToUnixMillis(events::GetTime(clock->due_at())) == timer.due_ms &&
        !Fired(*clock, timer) &&
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
