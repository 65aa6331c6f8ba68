#include "services/routing/metrics.h"

namespace meldpunt::routing {

RoutingMetrics::RoutingMetrics(prometheus::Registry& registry)
    : decisions_(
          prometheus::BuildCounter()
              .Name("meldpunt_routing_decisions_total")
              .Help(
                  "Routing decisions, by department (or referred, triage, linked, merged) and rule")
              .Register(registry)),
      reloads_(prometheus::BuildCounter()
                   .Name("meldpunt_routing_rule_reloads_total")
                   .Help("Rules reloads by outcome (applied, refused)")
                   .Register(registry)) {}

void RoutingMetrics::Decision(const std::string& department, const std::string& rule) {
  decisions_.Add({{"department", department}, {"rule", rule}}).Increment();
}

void RoutingMetrics::Reload(bool applied) {
  reloads_.Add({{"outcome", applied ? "applied" : "refused"}}).Increment();
}

}  // namespace meldpunt::routing
