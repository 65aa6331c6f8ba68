#include "services/routing/routing_logic.h"

#include "libs/events/ids.h"
#include "libs/events/topics.h"

namespace meldpunt::routing {

std::optional<RoutingOutput> RoutingLogic::Handle(const events::Envelope& envelope) const {
  if (envelope.payload_case() != events::Envelope::kCaseSubmitted) return std::nullopt;
  const auto& submitted = envelope.case_submitted();
  const types::v1::CaseDraft& draft = submitted.draft();
  v1::RouteDecision decision = rules_.Decide(draft);
  const absl::Time now = clock_.Now();

  RoutingOutput out;
  out.routed = events::NewEnvelope(envelope.case_id(), "routing", now);
  out.routed.set_causation_id(envelope.event_id());
  out.routed.set_correlation_id(envelope.correlation_id());
  out.routed.mutable_actor()->set_id("service:routing");
  auto* routed = out.routed.mutable_case_routed();
  routed->set_department(decision.department());
  routed->set_team(decision.team());
  routed->set_assignee(decision.assignee());
  routed->set_priority(decision.priority());
  routed->set_rule_id(decision.rule_id());
  routed->set_explanation(decision.explanation());
  routed->set_dispatch_topic(decision.dispatch_topic());
  routed->set_hop(1);
  events::Finish(out.routed, events::DeterministicId("routed", {envelope.event_id()}));

  auto& d = out.dispatch;
  d.set_dispatch_id(out.routed.event_id());
  d.set_case_id(envelope.case_id());
  d.set_reference(submitted.reference().empty() ? envelope.case_id() : submitted.reference());
  d.set_department(decision.department());
  d.set_team(decision.team());
  d.set_assignee(decision.assignee());
  d.set_kind(draft.kind());
  d.set_category(draft.category());
  d.set_priority(decision.priority());
  *d.mutable_location() = draft.location();
  d.set_description(draft.description());
  *d.mutable_attachments() = draft.attachments();
  *d.mutable_submitted_at() = envelope.occurred_at();
  events::SetTime(d.mutable_routed_at(), now);
  d.set_explanation(decision.explanation());
  // Data minimisation: identity only where the department's policy needs it, never for
  // confidential complaints.
  const Department* department = rules_.FindDepartment(decision.department());
  const bool confidential = draft.confidential() && draft.kind() == types::v1::COMPLAINT;
  if (department != nullptr && department->may_see_reporter && !confidential &&
      !draft.reporter().anonymous()) {
    *d.mutable_reporter() = draft.reporter();
  }
  out.dispatch_topic = decision.dispatch_topic();
  return out;
}

kafka::Message DispatchRecord(const RoutingOutput& output) {
  return kafka::Message{
      output.dispatch_topic,
      output.dispatch.case_id(),
      output.dispatch.SerializeAsString(),
      {{"event-id", output.dispatch.dispatch_id()},
       {"event-type", "DispatchMessage"},
       {"content-type", "application/x-protobuf; messageType=meldpunt.events.v1.DispatchMessage"},
       {"json", events::ToJson(output.dispatch)}}};
}

}  // namespace meldpunt::routing
