#include "libs/domain/case_state.h"

#include <initializer_list>

#include "absl/strings/str_cat.h"

namespace meldpunt::domain {
namespace {

using types::v1::CaseState;
using Envelope = events::Envelope;
namespace t = ::meldpunt::types::v1;

bool In(CaseState state, std::initializer_list<CaseState> states) {
  for (CaseState s : states)
    if (s == state) return true;
  return false;
}

// Open states in which a department works on the case.
constexpr std::initializer_list<CaseState> kWorking = {t::ROUTED, t::ACCEPTED, t::IN_PROGRESS};

bool IsOpen(CaseState state) {
  return state != t::CASE_STATE_UNSPECIFIED && !IsTerminal(state) && state != t::CLOSED &&
         state != t::ANSWERED && state != t::INADMISSIBLE && state != t::REFERRED;
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
      return In(s, {t::RECEIVED, t::ADMISSIBILITY_PENDING, t::REOPENED});
    case Envelope::kCaseAccepted:
      return s == t::ROUTED;
    case Envelope::kCaseBounced:
      return In(s, {t::ROUTED, t::ACCEPTED});
    case Envelope::kInformationRequested:
      return In(s,
                {t::ROUTED, t::ACCEPTED, t::IN_PROGRESS, t::ADMISSIBILITY_PENDING, t::IN_TRIAGE});
    case Envelope::kInformationProvided:
      return IsOpen(s);
    case Envelope::kCaseAnswered:
      return In(s, kWorking) || s == t::REOPENED;
    case Envelope::kCaseClosed:
      return In(s, {t::ANSWERED, t::INADMISSIBLE, t::REFERRED, t::REOPENED});
    case Envelope::kCaseReopened:
      return In(s, {t::ANSWERED, t::CLOSED});
    case Envelope::kCaseWithdrawn:
      return IsOpen(s);
    case Envelope::kCaseReassigned:
      return In(s, kWorking) || s == t::IN_TRIAGE;
    case Envelope::kAdmissibilityDecided:
      return In(s, {t::RECEIVED, t::ADMISSIBILITY_PENDING, t::ROUTED, t::ACCEPTED, t::IN_TRIAGE});
    case Envelope::kCaseReferred:
      return In(s, {t::RECEIVED, t::ADMISSIBILITY_PENDING, t::IN_TRIAGE, t::ROUTED});
    case Envelope::kCaseMerged:
      return IsOpen(s);
    case Envelope::kDeadlineStarted:
    case Envelope::kDeadlineWarning:
    case Envelope::kDeadlineBreached:
    case Envelope::kDeadlineEscalated:
    case Envelope::kNotificationDelivered:
    case Envelope::kNotificationFailed:
    case Envelope::kEventRejected:
      return s != t::CASE_STATE_UNSPECIFIED;
    case Envelope::PAYLOAD_NOT_SET:
      return false;
  }
  return false;
}

}  // namespace

bool IsTerminal(CaseState state) { return In(state, {t::WITHDRAWN, t::MERGED}); }

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
      *c.mutable_draft() = p.draft();
      c.set_submitting_system(p.submitting_system());
      *c.mutable_submitted_at() = e.occurred_at();
      c.set_priority(p.draft().priority() == t::PRIORITY_UNSPECIFIED ? t::NORMAL
                                                                     : p.draft().priority());
      c.set_state(t::RECEIVED);
      break;
    }
    case Envelope::kCaseRouted: {
      const auto& p = e.case_routed();
      c.set_department(p.department());
      c.set_team(p.team());
      c.set_assignee(p.assignee());
      if (p.priority() != t::PRIORITY_UNSPECIFIED) c.set_priority(p.priority());
      c.set_route_hops(c.route_hops() + 1);
      c.set_state(t::ROUTED);
      break;
    }
    case Envelope::kCaseTriaged:
      c.clear_department();
      c.set_state(t::IN_TRIAGE);
      break;
    case Envelope::kCaseAccepted:
      if (!e.case_accepted().assignee().empty()) c.set_assignee(e.case_accepted().assignee());
      c.set_state(t::ACCEPTED);
      break;
    case Envelope::kCaseBounced:
      c.clear_department();
      c.clear_team();
      c.clear_assignee();
      c.set_state(t::RECEIVED);  // waiting to be routed again
      break;
    case Envelope::kInformationRequested:
      c.set_state(t::WAITING_FOR_REPORTER);
      break;
    case Envelope::kInformationProvided:
      if (c.state() == t::WAITING_FOR_REPORTER) c.set_state(t::IN_PROGRESS);
      break;
    case Envelope::kCaseAnswered:
      c.set_state(t::ANSWERED);
      break;
    case Envelope::kCaseClosed:
      c.set_state(t::CLOSED);
      break;
    case Envelope::kCaseReopened:
      c.set_state(t::REOPENED);
      break;
    case Envelope::kCaseWithdrawn:
      c.set_state(t::WITHDRAWN);
      break;
    case Envelope::kCaseReassigned: {
      const auto& p = e.case_reassigned();
      c.set_department(p.department());
      c.set_team(p.team());
      c.set_assignee(p.assignee());
      c.set_state(t::ROUTED);
      break;
    }
    case Envelope::kAdmissibilityDecided:
      if (!e.admissibility_decided().admissible()) c.set_state(t::INADMISSIBLE);
      break;
    case Envelope::kCaseReferred:
      c.set_state(t::REFERRED);
      break;
    case Envelope::kCaseMerged:
      c.set_state(t::MERGED);
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
