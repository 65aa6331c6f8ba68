// Routing's metrics, in one place: the handler and the rule book only call these methods.
//   meldpunt_routing_decisions_total{department,rule}   (referred, linked, merged, triage too)
//   meldpunt_routing_rule_reloads_total{outcome}        (applied, refused)
#pragma once

#include <string>

#include "prometheus/counter.h"
#include "prometheus/registry.h"

namespace meldpunt::routing {

class RoutingMetrics {
 public:
  explicit RoutingMetrics(prometheus::Registry& registry);

  // One decision made durable: the department (or referred, triage, linked, merged) and the rule.
  void Decision(const std::string& department, const std::string& rule);
  // One rules reload: applied or refused.
  void Reload(bool applied);

 private:
  prometheus::Family<prometheus::Counter>& decisions_;
  prometheus::Family<prometheus::Counter>& reloads_;
};

}  // namespace meldpunt::routing
