// What routing does with a case event, as pure functions over the case's RouteState:
// - CaseSubmitted: decide and produce CaseRouted + the dispatch message (or CaseReferred when a
//   rule sends the case to an outside body);
// - CaseBounced: decide again without the departments that bounced it and dispatch again;
// - when nobody can take the case (no rule or category decides, every candidate bounced it, the
//   hop limit): CaseTriaged with the reason, and the message on the triage queue's feed
//   (default_department), which is how the Meldpunt team's tools hear of it;
// - CaseReassigned of a case in triage: the team's decision is routed (CaseRouted, rule
//   `reassigned`, with the department's dispatch, so its clocks start as for any routed case);
//   of a case with a department: dispatch to the new department.
// Output ids derive from the input event's id, so handling an event twice produces the same
// records and consumers drop the repeat; once routing has folded its own answer to an event, a
// repeat of that event produces nothing.
//
// What a dispatch message carries (domain/disclosure.h): never the reporter (reporter_available
// says whether the department may read it through GetCase); for a confidential case (any kind)
// no content either, only ids, kind, priority and dates, and it goes to the team's queue.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <vector>

#include "libs/clock/clock.h"
#include "libs/events/codec.h"
#include "libs/kafka/producer.h"
#include "meldpunt/routing/v1/routing.pb.h"
#include "services/routing/rules.h"

namespace meldpunt::routing {

struct RoutingOutput {
  std::vector<events::Envelope> events;  // for meldpunt.case-events.v1
  std::optional<events::v1::DispatchMessage> dispatch;
  std::string dispatch_topic;
  // For the metrics: the rule of a CaseTriaged (default, all-bounced, hop-limit, reassigned).
  std::string triage_rule;
};

// Open cases per member of a department (for workload-aware assignment).
using OpenCases = std::function<std::map<std::string, int64_t>(const std::string& department)>;

struct Nearby {
  std::string case_id;
  double distance_m = 0;
  std::string reference;  // the case's reference, for the reporter's letter
};
// The nearest open case of the category within the radius, submitted since `since`.
using FindNearby =
    std::function<std::optional<Nearby>(const std::string& category, double latitude,
                                        double longitude, double radius_m, absl::Time since)>;

class RoutingLogic {
 public:
  RoutingLogic(const clock::Clock& clock) : clock_(clock) {}

  // nullopt for events routing does not act on. `state` is the case's state before the event.
  std::optional<RoutingOutput> Handle(const RuleSet& rules, const events::Envelope& envelope,
                                      const v1::RouteState& state, const OpenCases& open_cases,
                                      const FindNearby& nearby = nullptr) const;

  // The case's routing state after the event.
  static void Fold(v1::RouteState& state, const events::Envelope& envelope);

  // Whether Handle or Fold can do anything with the event: the others (clocks, deliveries,
  // casework that does not move the case) are passed by without reading the case's state.
  static bool Relevant(const events::Envelope& envelope);

  // The case is with nobody: routing triaged it (or a bounce awaits routing's answer). A
  // reassignment then is the team's routing decision.
  static bool InTriage(const v1::RouteState& state);

 private:
  RoutingOutput Route(const RuleSet& rules, const events::Envelope& cause,
                      const v1::RouteState& state, const OpenCases& open_cases,
                      const std::string& duplicate_of = "") const;
  // The team's decision for a case in triage: CaseRouted to its department, or back to triage
  // when routing does not know the department.
  RoutingOutput RouteReassigned(const RuleSet& rules, const events::Envelope& cause,
                                const v1::RouteState& state, const OpenCases& open_cases) const;
  // CaseRouted and its dispatch message for a decision with a department.
  RoutingOutput Routed(const RuleSet& rules, const events::Envelope& cause,
                       const v1::RouteState& state, const v1::RouteDecision& decision,
                       const std::string& assignee, const std::string& duplicate_of) const;
  // CaseTriaged with `reason`, and the message on the triage queue's feed.
  RoutingOutput Triaged(const RuleSet& rules, const events::Envelope& cause,
                        const v1::RouteState& state, const std::string& rule,
                        const std::string& reason, types::v1::Priority priority,
                        const std::string& duplicate_of) const;
  events::Envelope Output(const events::Envelope& cause) const;
  events::v1::DispatchMessage Dispatch(const RuleSet& rules, const events::Envelope& cause,
                                       const v1::RouteState& state, const std::string& dispatch_id,
                                       const std::string& department, const std::string& team,
                                       const std::string& assignee, types::v1::Priority priority,
                                       const std::string& explanation,
                                       const std::string& duplicate_of) const;

  const clock::Clock& clock_;
};

// The earliest due time of the case's running clocks (RouteState.running); none when no clock
// runs.
std::optional<absl::Time> EarliestDue(const v1::RouteState& state);

// The explanation of a confidential case's routing (CaseRouted, DispatchMessage): it quotes
// nothing of the case.
inline constexpr char kConfidentialExplanation[] =
    "confidential case: for the Meldpunt team only (confidential_department)";

// The explanation of a dispatch message on the triage queue's feed starts with this; the reason
// follows.
inline constexpr char kTriageExplanation[] = "triage: ";

// Whether `department` may read the reporter of `draft` through GetCase: its policy allows it
// and the case is neither confidential nor anonymous (domain::ReporterVisible).
bool ReporterVisible(const RuleSet& rules, const types::v1::CaseDraft& draft,
                     const std::string& department);

// The dispatch record: key = case id, headers event-id (= dispatch_id), event-type, content-type
// and json (the message as JSON, for kcat users).
kafka::Message DispatchRecord(const std::string& topic,
                              const events::v1::DispatchMessage& dispatch);

}  // namespace meldpunt::routing
