#include "libs/domain/case_state.h"

#include <algorithm>

#include <initializer_list>

#include "absl/strings/str_cat.h"

namespace meldpunt::domain {
namespace {

using types::v1::CaseState;
using Envelope = events::Envelope;
namespace t = ::meldpunt::types::v1;

// The running clock of that name, or null.
t::RunningClock* FindRunning(t::Case& c, const std::string& clock) {
  for (t::RunningClock& r : *c.mutable_running_clocks()) {
    if (r.clock() == clock) return &r;
  }
  return nullptr;
}

// A clock started (on its own, or as one of an event's ClocksStarted): it runs until its due time.
void StartClock(t::Case& c, const events::v1::ClockStarted& p) {
  t::RunningClock* r = FindRunning(c, p.clock());
  if (r == nullptr) r = c.add_running_clocks();
  r->set_clock(p.clock());
  r->set_generation(p.generation());
  *r->mutable_due_at() = p.due_at();
  r->set_paused(false);
}

bool In(CaseState state, std::initializer_list<CaseState> states) {
  for (CaseState s : states)
    if (s == state) return true;
  return false;
}

// A complaint whose admissibility is undecided goes back to ADMISSIBILITY_PENDING once it has a
// department (it left that state only for triage), so the decision can still be taken.
bool AwaitsAdmissibility(const t::Case& c) {
  return c.state() == t::ADMISSIBILITY_PENDING || c.admissibility() == t::ADMISSIBILITY_UNDECIDED;
}

// The states each payload may be applied in; bookkeeping events (deadlines, notifications,
// rejections) are allowed in every state of an existing case.
bool Allowed(CaseState s, const Envelope& e) {
  switch (e.payload_case()) {
    case Envelope::kCaseSubmitted:
      return s == t::CASE_STATE_UNSPECIFIED;
    case Envelope::kCaseRouted:
      return In(s, {t::RECEIVED, t::ADMISSIBILITY_PENDING, t::IN_TRIAGE, t::REOPENED});
    case Envelope::kCaseTriaged:
      // Wherever routing may fall back to triage: a submission (a complaint waits for its
      // admissibility decision), a bounce, a reassignment out of triage.
      return In(s, {t::RECEIVED, t::ADMISSIBILITY_PENDING, t::REOPENED});
    case Envelope::kCaseAccepted:
      return s == t::ROUTED;
    case Envelope::kCaseBounced:
      return In(s, {t::ROUTED, t::ACCEPTED});
    case Envelope::kInformationRequested:
      return In(s,
                {t::ADMISSIBILITY_PENDING, t::IN_TRIAGE, t::ROUTED, t::ACCEPTED, t::IN_PROGRESS});
    case Envelope::kInformationProvided:
      return IsOpen(s);
    case Envelope::kCaseAnswered:
      return In(s, {t::ROUTED, t::ACCEPTED, t::IN_PROGRESS, t::REOPENED});
    case Envelope::kCaseClosed:
      return In(s, {t::ANSWERED, t::INADMISSIBLE, t::REFERRED, t::REOPENED});
    case Envelope::kCaseReopened:
      return In(s, {t::ANSWERED, t::CLOSED});
    case Envelope::kCaseWithdrawn:
      return IsOpen(s);
    case Envelope::kCaseReassigned:
      return In(s, {t::IN_TRIAGE, t::ROUTED, t::ACCEPTED, t::IN_PROGRESS});
    case Envelope::kAdmissibilityDecided:
      return s == t::ADMISSIBILITY_PENDING;
    case Envelope::kCaseReferred:
      return In(s, {t::RECEIVED, t::ADMISSIBILITY_PENDING, t::IN_TRIAGE, t::ROUTED, t::ACCEPTED});
    case Envelope::kCaseMerged:
    case Envelope::kPriorityChanged:
      return IsOpen(s);
    case Envelope::kDeadlineStarted:
    case Envelope::kDeadlineWarning:
    case Envelope::kDeadlineBreached:
    case Envelope::kDeadlineEscalated:
    case Envelope::kNotificationDelivered:
    case Envelope::kNotificationFailed:
    case Envelope::kEventRejected:
    case Envelope::kCaseLinked:
    case Envelope::kClockStarted:
    case Envelope::kClocksStarted:
    case Envelope::kClockPaused:
    case Envelope::kClockResumed:
    case Envelope::kClockStopped:
    case Envelope::kClockExtended:
    case Envelope::kCaseEscalated:
    case Envelope::kReporterDataErased:
      return s != t::CASE_STATE_UNSPECIFIED;
    case Envelope::PAYLOAD_NOT_SET:
      return false;
  }
  return false;
}

}  // namespace

void MarkReporterErased(t::Reporter* r) {
  r->clear_name();
  r->clear_email();
  r->clear_phone();
  r->clear_address();
  r->clear_sealed();
  r->set_erased(true);
}

bool IsTerminal(CaseState state) { return In(state, {t::WITHDRAWN, t::MERGED}); }

bool IsOpen(CaseState state) {
  return state != types::v1::CASE_STATE_UNSPECIFIED && !IsTerminal(state) &&
         state != types::v1::CLOSED && state != types::v1::ANSWERED &&
         state != types::v1::INADMISSIBLE && state != types::v1::REFERRED;
}

std::string StateName(CaseState state) { return t::CaseState_Name(state); }

absl::Status Check(const Case& c, const Envelope& e) {
  if (!c.case_id().empty() && c.case_id() != e.case_id()) {
    return absl::InvalidArgumentError(absl::StrCat("event ", e.event_id(), " belongs to case ",
                                                   e.case_id(), ", not ", c.case_id()));
  }
  if (!Allowed(c.state(), e)) {
    if (c.state() == t::CASE_STATE_UNSPECIFIED) {
      return absl::FailedPreconditionError(absl::StrCat(events::PayloadType(e), " for case ",
                                                        e.case_id(), " that was never submitted"));
    }
    return absl::FailedPreconditionError(absl::StrCat(events::PayloadType(e),
                                                      " is not allowed while case ", e.case_id(),
                                                      " is ", StateName(c.state())));
  }
  return absl::OkStatus();
}

absl::Status Apply(Case& c, const Envelope& e) {
  if (absl::Status status = Check(c, e); !status.ok()) return status;
  switch (e.payload_case()) {
    case Envelope::kCaseSubmitted: {
      const auto& p = e.case_submitted();
      c.set_case_id(e.case_id());
      c.set_reference(p.reference());
      *c.mutable_draft() = p.draft();
      c.set_submitting_system(p.submitting_system());
      *c.mutable_submitted_at() = e.occurred_at();
      *c.mutable_received_at() =
          p.draft().has_received_at() ? p.draft().received_at() : e.occurred_at();
      c.set_priority(p.draft().priority() == t::PRIORITY_UNSPECIFIED ? t::NORMAL
                                                                     : p.draft().priority());
      if (p.draft().kind() == t::COMPLAINT) {
        c.set_admissibility(t::ADMISSIBILITY_UNDECIDED);
        c.set_state(t::ADMISSIBILITY_PENDING);
      } else {
        c.set_state(t::RECEIVED);
      }
      break;
    }
    case Envelope::kCaseRouted: {
      const auto& p = e.case_routed();
      c.set_department(p.department());
      c.set_team(p.team());
      c.set_assignee(p.assignee());
      if (p.priority() != t::PRIORITY_UNSPECIFIED && !c.priority_by_team())
        c.set_priority(p.priority());
      c.set_route_hops(c.route_hops() + 1);
      c.clear_triage_reason();
      // Every routing decides anew: a department that may not see the reporter clears it.
      c.set_reporter_visible(p.reporter_visible());
      // A complaint stays with its admissibility decision pending; the department is known now.
      c.set_state(AwaitsAdmissibility(c) ? t::ADMISSIBILITY_PENDING : t::ROUTED);
      break;
    }
    case Envelope::kCaseTriaged:
      // With nobody: the Meldpunt team decides (ReassignCase). A complaint keeps its
      // admissibility undecided (AwaitsAdmissibility).
      c.set_triage_reason(e.case_triaged().reason());
      c.clear_department();
      c.clear_team();
      c.clear_assignee();
      c.clear_reporter_visible();
      c.set_state(t::IN_TRIAGE);
      break;
    case Envelope::kCaseAccepted:
      if (!e.case_accepted().assignee().empty()) c.set_assignee(e.case_accepted().assignee());
      c.set_state(t::ACCEPTED);
      break;
    case Envelope::kCaseBounced:
      c.add_bounced_departments(c.department());
      c.clear_department();
      c.clear_reporter_visible();
      c.clear_team();
      c.clear_assignee();
      c.set_state(t::RECEIVED);  // waiting to be routed again
      break;
    case Envelope::kInformationRequested:
      c.set_state_before_wait(c.state());
      c.set_open_question(e.information_requested().question());
      c.set_state(t::WAITING_FOR_REPORTER);
      break;
    case Envelope::kInformationProvided:
      if (c.state() == t::WAITING_FOR_REPORTER) {
        const CaseState back = c.state_before_wait();
        c.set_state(back == t::ACCEPTED ? t::IN_PROGRESS : back);
        c.clear_state_before_wait();
        c.clear_open_question();
      }
      break;
    case Envelope::kCaseAnswered: {
      const auto& p = e.case_answered();
      c.set_answer(p.answer());
      if (p.outcome() != events::v1::COMPLAINT_OUTCOME_UNSPECIFIED) {
        c.set_outcome(events::v1::ComplaintOutcome_Name(p.outcome()));
      }
      c.set_ombudsnorm(p.ombudsnorm());
      *c.mutable_answered_at() = e.occurred_at();
      c.set_state(t::ANSWERED);
      break;
    }
    case Envelope::kCaseClosed:
      *c.mutable_closed_at() = e.occurred_at();
      c.set_state(t::CLOSED);
      break;
    case Envelope::kCaseReopened:
      c.clear_closed_at();
      c.set_reopen_count(c.reopen_count() + 1);
      c.set_state(t::REOPENED);
      break;
    case Envelope::kClockStopped: {
      // The last stop of a clock decides (a reopened case's clock may run and stop again).
      const std::string& clock = e.clock_stopped().clock();
      for (auto* list : {c.mutable_clocks_within_term(), c.mutable_clocks_late()}) {
        list->erase(std::remove(list->begin(), list->end(), clock), list->end());
      }
      (e.clock_stopped().within_term() ? c.add_clocks_within_term() : c.add_clocks_late())
          ->assign(clock);
      auto* running = c.mutable_running_clocks();
      running->erase(std::remove_if(running->begin(), running->end(),
                                    [&](const t::RunningClock& r) { return r.clock() == clock; }),
                     running->end());
      break;
    }
    case Envelope::kClockStarted:
      StartClock(c, e.clock_started());
      break;
    case Envelope::kClocksStarted:
      for (const auto& started : e.clocks_started().clocks()) StartClock(c, started);
      break;
    case Envelope::kClockPaused:
      if (t::RunningClock* r = FindRunning(c, e.clock_paused().clock())) r->set_paused(true);
      break;
    case Envelope::kClockResumed:
      if (t::RunningClock* r = FindRunning(c, e.clock_resumed().clock())) {
        r->set_generation(e.clock_resumed().generation());
        *r->mutable_due_at() = e.clock_resumed().due_at();
        r->set_paused(false);
      }
      break;
    case Envelope::kClockExtended: {
      const auto& p = e.clock_extended();
      c.add_clocks_extended(p.clock());
      if (t::RunningClock* r = FindRunning(c, p.clock())) {
        *r->mutable_due_at() = p.due_at();
        r->set_generation(p.generation());
      }
      // A clock whose breach the extension lifted is no longer overdue.
      if (events::GetTime(p.due_at()) > events::GetTime(e.occurred_at())) {
        auto* breached = c.mutable_breached_clocks();
        breached->erase(std::remove(breached->begin(), breached->end(), p.clock()),
                        breached->end());
      }
      break;
    }
    case Envelope::kCaseWithdrawn:
      c.set_state(t::WITHDRAWN);
      break;
    case Envelope::kCaseReassigned: {
      const auto& p = e.case_reassigned();
      // The intake does not know the new department's policy (routing's rules do), and a
      // reassignment carries none: the new department does not see the reporter.
      c.clear_reporter_visible();
      c.clear_triage_reason();
      c.set_department(p.department());
      c.set_team(p.team());
      c.set_assignee(p.assignee());
      if (c.state() == t::IN_TRIAGE) {
        // The team's decision goes through routing: it answers with CaseRouted (the department's
        // dispatch and clocks, as for any routed case), or CaseTriaged when it cannot. Until
        // then the case waits for routing, as after a bounce; a department cannot accept it yet.
        c.set_state(AwaitsAdmissibility(c) ? t::ADMISSIBILITY_PENDING : t::RECEIVED);
      } else {
        c.set_state(t::ROUTED);
      }
      break;
    }
    case Envelope::kAdmissibilityDecided: {
      const auto& p = e.admissibility_decided();
      if (p.admissible()) {
        c.set_admissibility(t::ADMISSIBILITY_ADMISSIBLE);
        c.set_state(c.department().empty() ? t::RECEIVED : t::ROUTED);
      } else {
        c.set_admissibility(t::ADMISSIBILITY_INADMISSIBLE);
        c.set_inadmissibility_ground(events::v1::InadmissibilityGround_Name(p.ground()));
        c.set_state(t::INADMISSIBLE);
      }
      break;
    }
    case Envelope::kCaseReferred:
      c.set_referred_to(e.case_referred().body());
      c.set_state(t::REFERRED);
      break;
    case Envelope::kCaseMerged:
      c.set_master_case_id(e.case_merged().master_case_id());
      c.set_state(t::MERGED);
      break;
    case Envelope::kCaseLinked:
      c.set_duplicate_of(e.case_linked().master_case_id());
      break;
    case Envelope::kPriorityChanged:
      c.set_priority(e.priority_changed().priority());
      c.set_priority_by_team(true);
      break;
    case Envelope::kReporterDataErased:
      MarkReporterErased(c.mutable_draft()->mutable_reporter());
      break;
    case Envelope::kDeadlineBreached: {
      const std::string& clock = e.deadline_breached().clock();
      bool known = false;
      for (const std::string& b : c.breached_clocks()) known |= (b == clock);
      if (!known) c.add_breached_clocks(clock);
      break;
    }
    case Envelope::kNotificationDelivered:
      if (e.notification_delivered().template_name() == "acknowledgement" && !c.acknowledged()) {
        c.set_acknowledged(true);
        *c.mutable_acknowledged_at() = e.occurred_at();
      }
      break;
    default:
      break;
  }
  c.set_version(c.version() + 1);
  c.set_last_event_id(e.event_id());
  *c.mutable_updated_at() = e.occurred_at();
  return absl::OkStatus();
}

}  // namespace meldpunt::domain
