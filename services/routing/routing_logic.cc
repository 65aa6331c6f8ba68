#include "services/routing/routing_logic.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "libs/domain/case_state.h"
#include "libs/domain/disclosure.h"
#include "libs/events/ids.h"
#include "libs/events/topics.h"

namespace meldpunt::routing {
namespace {
namespace t = ::meldpunt::types::v1;

// Routing has folded its own answer (CaseRouted or CaseTriaged) to `cause`: a repeat of the cause
// must produce nothing (deciding again on the later state could give another answer).
bool Answered(const v1::RouteState& state, const events::Envelope& cause) {
  const std::string& last = state.last_routed_event_id();
  return !last.empty() && (last == events::DeterministicId("routed", {cause.event_id()}) ||
                           last == events::DeterministicId("triaged", {cause.event_id()}));
}
void SetDue(v1::RouteState& state, const std::string& clock, int32_t generation,
            const google::protobuf::Timestamp& due_at) {
  auto& running = *state.mutable_running();
  auto it = running.find(clock);
  if (it != running.end() && it->second.generation() > generation) return;
  v1::RunningDue& due = running[clock];
  due.set_generation(generation);
  *due.mutable_due_at() = due_at;
}

// A pause or a stop of that generation (or a later one) takes the clock out.
void Unset(v1::RouteState& state, const std::string& clock, int32_t generation) {
  auto& running = *state.mutable_running();
  auto it = running.find(clock);
  if (it != running.end() && it->second.generation() <= generation) running.erase(it);
}
}  // namespace

std::optional<absl::Time> EarliestDue(const v1::RouteState& state) {
  std::optional<absl::Time> earliest;
  for (const auto& [clock, due] : state.running()) {
    const absl::Time at = events::GetTime(due.due_at());
    if (!earliest || at < *earliest) earliest = at;
  }
  return earliest;
}

bool RoutingLogic::InTriage(const v1::RouteState& state) {
  return !state.closed() && state.department().empty() && !state.last_routed_event_id().empty();
}

void RoutingLogic::Fold(v1::RouteState& state, const events::Envelope& e) {
  switch (e.payload_case()) {
    case events::Envelope::kCaseSubmitted:
      if (state.draft().kind() == t::CASE_KIND_UNSPECIFIED) {
        *state.mutable_draft() = e.case_submitted().draft();
        state.set_submitting_system(e.case_submitted().submitting_system());
        state.set_reference(e.case_submitted().reference());
        *state.mutable_submitted_at() = e.occurred_at();
      }
      break;
    case events::Envelope::kCaseRouted:
      if (state.last_routed_event_id() == e.event_id()) break;
      state.set_last_routed_event_id(e.event_id());
      state.set_hops(state.hops() + 1);
      state.set_department(e.case_routed().department());
      state.set_assignee(e.case_routed().assignee());
      // A CaseRouted decided before the team's change was read keeps the team's priority.
      if (state.team_priority() == t::PRIORITY_UNSPECIFIED)
        state.set_priority(e.case_routed().priority());
      break;
    case events::Envelope::kCaseTriaged:
      if (state.last_routed_event_id() == e.event_id()) break;
      state.set_last_routed_event_id(e.event_id());
      // With nobody: the workload set of the last assignee lets go of it (RouteStore::Save).
      state.clear_department();
      state.clear_assignee();
      break;
    case events::Envelope::kCaseBounced: {
      const std::string& from = e.case_bounced().department().empty()
                                    ? state.department()
                                    : e.case_bounced().department();
      bool known = false;
      for (const auto& b : state.bounced()) known |= b == from;
      if (!known && !from.empty()) state.add_bounced(from);
      state.clear_department();
      state.clear_assignee();
      break;
    }
    case events::Envelope::kCaseReassigned:
      // Out of triage, routing's own CaseRouted (or CaseTriaged) answering the reassignment sets
      // them; until it is folded the case stays in triage, so a repeat answers the same.
      if (InTriage(state)) break;
      state.set_department(e.case_reassigned().department());
      state.set_assignee(e.case_reassigned().assignee());
      break;
    case events::Envelope::kCaseAnswered:
    case events::Envelope::kCaseClosed:
    case events::Envelope::kCaseWithdrawn:
    case events::Envelope::kCaseMerged:
    case events::Envelope::kCaseReferred:
      state.set_closed(true);
      break;
    case events::Envelope::kCaseReopened:
      state.set_closed(false);
      break;
    case events::Envelope::kReporterDataErased:
      // The sealed copy cannot be opened any more (the key is gone); it is not kept either.
      domain::MarkReporterErased(state.mutable_draft()->mutable_reporter());
      break;
    case events::Envelope::kPriorityChanged:
      state.set_team_priority(e.priority_changed().priority());
      state.set_priority(e.priority_changed().priority());
      break;
    // The running clocks, for the workload view. A record of an older generation than the one
    // held (a repeat read again after a newer one) changes nothing.
    case events::Envelope::kClockStarted:
      SetDue(state, e.clock_started().clock(), e.clock_started().generation(),
             e.clock_started().due_at());
      break;
    case events::Envelope::kClocksStarted:
      for (const auto& started : e.clocks_started().clocks())
        SetDue(state, started.clock(), started.generation(), started.due_at());
      break;
    case events::Envelope::kClockResumed:
      SetDue(state, e.clock_resumed().clock(), e.clock_resumed().generation(),
             e.clock_resumed().due_at());
      break;
    case events::Envelope::kClockExtended: {
      // Appended by the team's call before deadline-watch applies it, planned on the generation
      // before it: applied only to a clock that still runs at that generation. Deadline-watch
      // refuses the others too (stopped, or changed meanwhile); a paused clock counts again when
      // it resumes, with the due time its ClockResumed carries.
      const auto& x = e.clock_extended();
      auto it = state.mutable_running()->find(x.clock());
      if (it != state.mutable_running()->end() && it->second.generation() == x.generation() - 1)
        SetDue(state, x.clock(), x.generation(), x.due_at());
      break;
    }
    case events::Envelope::kClockPaused:
      Unset(state, e.clock_paused().clock(), e.clock_paused().generation());
      break;
    case events::Envelope::kClockStopped:
      Unset(state, e.clock_stopped().clock(), e.clock_stopped().generation());
      break;
    default:
      break;
  }
}

bool RoutingLogic::Relevant(const events::Envelope& e) {
  switch (e.payload_case()) {
    case events::Envelope::kCaseSubmitted:
    case events::Envelope::kCaseRouted:
    case events::Envelope::kCaseTriaged:
    case events::Envelope::kCaseBounced:
    case events::Envelope::kCaseReassigned:
    case events::Envelope::kCaseAnswered:
    case events::Envelope::kCaseClosed:
    case events::Envelope::kCaseWithdrawn:
    case events::Envelope::kCaseMerged:
    case events::Envelope::kCaseReferred:
    case events::Envelope::kCaseReopened:
    case events::Envelope::kReporterDataErased:
    case events::Envelope::kPriorityChanged:
    case events::Envelope::kClockStarted:
    case events::Envelope::kClocksStarted:
    case events::Envelope::kClockResumed:
    case events::Envelope::kClockExtended:
    case events::Envelope::kClockPaused:
    case events::Envelope::kClockStopped:
      return true;
    default:
      return false;
  }
}

std::optional<RoutingOutput> RoutingLogic::Handle(const RuleSet& rules, const events::Envelope& e,
                                                  const v1::RouteState& before,
                                                  const OpenCases& open_cases,
                                                  const FindNearby& nearby) const {
  v1::RouteState state = before;
  switch (e.payload_case()) {
    case events::Envelope::kCaseSubmitted: {
      // Handled already (a repeat): routed, triaged or closed.
      if (before.hops() > 0 || !before.last_routed_event_id().empty() || before.closed())
        return std::nullopt;
      Fold(state, e);
      const DuplicatePolicy& policy = rules.duplicates();
      const t::Location& where = state.draft().location();
      // A confidential case is neither linked to another nor a master others are linked to (its
      // id would reach another department's feed): see RouteStore::Save.
      if (policy.enabled && nearby && policy.kinds.count(state.draft().kind()) &&
          where.has_coordinates() && !domain::IsConfidential(state.draft())) {
        std::optional<Nearby> master =
            nearby(state.draft().category(), where.latitude(), where.longitude(), policy.radius_m,
                   events::GetTime(e.occurred_at()) - policy.window);
        if (master && master->case_id != e.case_id()) {
          events::Envelope dup = events::NewEnvelope(e.case_id(), "routing", clock_.Now());
          dup.set_causation_id(e.event_id());
          dup.set_correlation_id(e.correlation_id());
          dup.mutable_actor()->set_id("service:routing");
          // To the decimetre, as Redis measures it (a cut to whole metres read 49.9 as 49).
          const std::string reason = absl::StrCat("same category ", state.draft().category(), ", ",
                                                  absl::StrFormat("%.1f", master->distance_m),
                                                  " m from open case ", master->case_id);
          if (policy.merge) {
            dup.mutable_case_merged()->set_master_case_id(master->case_id);
            dup.mutable_case_merged()->set_master_reference(master->reference);
            events::Finish(dup, events::DeterministicId("duplicate", {e.event_id()}));
            RoutingOutput out;
            out.events.push_back(std::move(dup));
            return out;
          }
          dup.mutable_case_linked()->set_master_case_id(master->case_id);
          dup.mutable_case_linked()->set_master_reference(master->reference);
          dup.mutable_case_linked()->set_distance_m(master->distance_m);
          dup.mutable_case_linked()->set_reason(reason);
          events::Finish(dup, events::DeterministicId("duplicate", {e.event_id()}));
          RoutingOutput out = Route(rules, e, state, open_cases, master->case_id);
          out.events.insert(out.events.begin(), std::move(dup));
          return out;
        }
      }
      return Route(rules, e, state, open_cases);
    }
    case events::Envelope::kCaseBounced:
      if (Answered(before, e)) return std::nullopt;
      Fold(state, e);
      return Route(rules, e, state, open_cases);
    case events::Envelope::kCaseReassigned: {
      if (Answered(before, e)) return std::nullopt;
      if (InTriage(before)) return RouteReassigned(rules, e, before, open_cases);
      const auto& r = e.case_reassigned();
      RoutingOutput out;
      out.dispatch_topic = events::DispatchTopic(r.department());
      out.dispatch = Dispatch(
          rules, e, state, events::DeterministicId("dispatch", {e.event_id()}), r.department(),
          r.team(), r.assignee(),
          state.priority() != t::PRIORITY_UNSPECIFIED ? state.priority() : state.draft().priority(),
          r.reason().empty() ? "reassigned by the Meldpunt" : "reassigned: " + r.reason(), "");
      return out;
    }
    default:
      return std::nullopt;
  }
}

events::Envelope RoutingLogic::Output(const events::Envelope& cause) const {
  events::Envelope event = events::NewEnvelope(cause.case_id(), "routing", clock_.Now());
  event.set_causation_id(cause.event_id());
  event.set_correlation_id(cause.correlation_id());
  event.mutable_actor()->set_id("service:routing");
  return event;
}

RoutingOutput RoutingLogic::Route(const RuleSet& rules, const events::Envelope& cause,
                                  const v1::RouteState& state, const OpenCases& open_cases,
                                  const std::string& duplicate_of) const {
  RouteInput input;
  input.draft = state.draft();
  input.submitting_system = state.submitting_system();
  input.bounced = {state.bounced().begin(), state.bounced().end()};
  input.hops = state.hops();
  input.team_priority = state.team_priority();
  v1::RouteDecision decision = rules.Decide(input);
  if (!decision.refer_to().empty()) {
    RoutingOutput out;
    events::Envelope event = Output(cause);
    event.mutable_case_referred()->set_body(decision.refer_to());
    event.mutable_case_referred()->set_reason(decision.explanation());
    events::Finish(event, events::DeterministicId("referred", {cause.event_id()}));
    out.events.push_back(std::move(event));
    return out;
  }
  if (IsTriage(decision)) {
    return Triaged(rules, cause, state, decision.rule_id(), decision.explanation(),
                   decision.priority(), duplicate_of);
  }
  std::set<std::string> skills(decision.required_skills().begin(),
                               decision.required_skills().end());
  const std::string assignee = rules.PickAssignee(decision.department(), decision.team(), skills,
                                                  open_cases(decision.department()));
  return Routed(rules, cause, state, decision, assignee, duplicate_of);
}

RoutingOutput RoutingLogic::RouteReassigned(const RuleSet& rules, const events::Envelope& cause,
                                            const v1::RouteState& state,
                                            const OpenCases& open_cases) const {
  const auto& r = cause.case_reassigned();
  RouteInput input;
  input.draft = state.draft();
  input.submitting_system = state.submitting_system();
  input.bounced = {state.bounced().begin(), state.bounced().end()};
  input.hops = state.hops();
  input.team_priority = state.team_priority();
  v1::RouteDecision decision = rules.DecideReassigned(input, r.department(), r.team(), r.reason());
  if (rules.FindDepartment(r.department()) == nullptr) {
    // No feed to put it on and no policy to follow: the team has to decide again.
    return Triaged(rules, cause, state, kRuleReassigned,
                   absl::StrCat("the Meldpunt team sent the case to ", r.department(),
                                ", which is not a department of the routing rules"),
                   decision.priority(), "");
  }
  std::string assignee = r.assignee();
  if (assignee.empty()) {
    std::set<std::string> skills(decision.required_skills().begin(),
                                 decision.required_skills().end());
    assignee = rules.PickAssignee(decision.department(), decision.team(), skills,
                                  open_cases(decision.department()));
  }
  return Routed(rules, cause, state, decision, assignee, "");
}

RoutingOutput RoutingLogic::Routed(const RuleSet& rules, const events::Envelope& cause,
                                   const v1::RouteState& state, const v1::RouteDecision& decision,
                                   const std::string& assignee,
                                   const std::string& duplicate_of) const {
  RoutingOutput out;
  events::Envelope event = Output(cause);
  std::string explanation = decision.explanation();
  if (!assignee.empty()) {
    explanation += "; assigned to " + assignee + " (fewest open cases with capacity and skills)";
  }
  auto* routed = event.mutable_case_routed();
  routed->set_department(decision.department());
  routed->set_team(decision.team());
  routed->set_assignee(assignee);
  routed->set_priority(decision.priority());
  routed->set_deadline_policy(decision.deadline_policy());
  routed->set_rule_id(decision.rule_id());
  routed->set_explanation(explanation);
  routed->set_dispatch_topic(decision.dispatch_topic());
  routed->set_hop(state.hops() + 1);
  routed->set_reporter_visible(ReporterVisible(rules, state.draft(), decision.department()));
  events::Finish(event, events::DeterministicId("routed", {cause.event_id()}));
  out.dispatch =
      Dispatch(rules, cause, state, event.event_id(), decision.department(), decision.team(),
               assignee, decision.priority(), explanation, duplicate_of);
  out.dispatch_topic = decision.dispatch_topic();
  out.events.push_back(std::move(event));
  return out;
}

RoutingOutput RoutingLogic::Triaged(const RuleSet& rules, const events::Envelope& cause,
                                    const v1::RouteState& state, const std::string& rule,
                                    const std::string& reason, t::Priority priority,
                                    const std::string& duplicate_of) const {
  RoutingOutput out;
  events::Envelope event = Output(cause);
  event.mutable_case_triaged()->set_reason(reason);
  events::Finish(event, events::DeterministicId("triaged", {cause.event_id()}));
  // The team's queue hears of it on its feed as of every other case it must act on; no team, no
  // assignee: the team decides (ReassignCase).
  const std::string& queue = rules.default_department();
  out.dispatch = Dispatch(rules, cause, state, event.event_id(), queue, "", "", priority,
                          kTriageExplanation + reason, duplicate_of);
  out.dispatch_topic = events::DispatchTopic(queue);
  out.triage_rule = rule;
  out.events.push_back(std::move(event));
  return out;
}

events::v1::DispatchMessage RoutingLogic::Dispatch(
    const RuleSet& rules, const events::Envelope& cause, const v1::RouteState& state,
    const std::string& dispatch_id, const std::string& department, const std::string& team,
    const std::string& assignee, t::Priority priority, const std::string& explanation,
    const std::string& duplicate_of) const {
  const t::CaseDraft& draft = state.draft();
  events::v1::DispatchMessage d;
  d.set_dispatch_id(dispatch_id);
  d.set_case_id(cause.case_id());
  d.set_reference(state.reference().empty() ? cause.case_id() : state.reference());
  d.set_department(department);
  d.set_team(team);
  d.set_assignee(assignee);
  d.set_kind(draft.kind());
  d.set_priority(priority == t::PRIORITY_UNSPECIFIED ? t::NORMAL : priority);
  *d.mutable_submitted_at() = state.submitted_at();
  events::SetTime(d.mutable_routed_at(), clock_.Now());
  d.set_duplicate_of(duplicate_of);
  // The reporter's identity never travels on a feed: a department whose policy allows it reads
  // it through GetCase (audited, gone once erased).
  d.set_reporter_available(ReporterVisible(rules, draft, department));
  if (domain::ForDepartment(draft) == domain::Disclosure::kNothing) {
    // For the Meldpunt team only: ids, kind, priority and dates; the case itself through GetCase.
    d.set_confidential(true);
    d.set_explanation(kConfidentialExplanation);
    return d;
  }
  d.set_category(draft.category());
  *d.mutable_location() = draft.location();
  d.set_description(draft.description());
  *d.mutable_attachments() = draft.attachments();
  d.set_explanation(explanation);
  return d;
}

bool ReporterVisible(const RuleSet& rules, const t::CaseDraft& draft,
                     const std::string& department) {
  const Department* dept = rules.FindDepartment(department);
  return domain::ReporterVisible(draft, dept != nullptr && dept->may_see_reporter);
}

kafka::Message DispatchRecord(const std::string& topic,
                              const events::v1::DispatchMessage& dispatch) {
  return kafka::Message{
      topic,
      dispatch.case_id(),
      dispatch.SerializeAsString(),
      {{"event-id", dispatch.dispatch_id()},
       {"event-type", "DispatchMessage"},
       {"content-type", "application/x-protobuf; messageType=meldpunt.events.v1.DispatchMessage"},
       {"json", events::ToJson(dispatch)}}};
}

}  // namespace meldpunt::routing
