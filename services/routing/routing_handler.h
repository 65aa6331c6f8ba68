// What routing does with a case event read from the log (and with a dead letter's replay): the
// case's RouteState from the store, RoutingLogic's decision under the rules in force, every
// record out in flight at once (CaseRouted, CaseTriaged, CaseReferred, CaseLinked or CaseMerged
// on the case log; the dispatch message on the department's feed), and, once all are
// acknowledged, the metrics, the log lines and the new state saved. A crash before the save
// routes the case again with the same event ids; consumers drop the repeat.
//
//   RoutingHandler handler(store, logic, rules, sink, metrics, config.produce_timeout);
//   EventConsumer loop(..., [&](const Envelope& e, const kafka::Record&) {
//     return handler.Handle(e);
//   }, ...);
//
// Safe to call from several consumer lanes at once: a submission with coordinates holds its
// category's stripe from the duplicate search until it is in the duplicate index (its own
// acknowledgement waited for at once), so two nearby cases on two lanes cannot miss each other.
// Other records leave their wait to the lane (events::AwaitAcks).
#pragma once

#include <array>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "libs/events/codec.h"
#include "libs/service/record_sink.h"
#include "services/routing/metrics.h"
#include "services/routing/route_store.h"
#include "services/routing/routing_logic.h"
#include "services/routing/rule_book.h"

namespace meldpunt::routing {

class RoutingHandler {
 public:
  RoutingHandler(RouteStore& store, const RoutingLogic& logic, const RuleBook& rules,
                 service::RecordSink& sink, RoutingMetrics& metrics, absl::Duration produce_timeout)
      : store_(store),
        logic_(logic),
        rules_(rules),
        sink_(sink),
        metrics_(metrics),
        produce_timeout_(produce_timeout) {}

  // OK once the event is handled for good (or, on a consumer lane, once its records are in
  // flight: the lane waits). UNAVAILABLE (in place) while Redis or Kafka does not answer.
  absl::Status Handle(const events::Envelope& envelope);

  // The open cases of each member of `department` (the capacity check). Empty when the counts
  // cannot be read: every member then looks free, and the check is best effort (logged).
  std::map<std::string, int64_t> OpenCases(const RuleSet& rules, const std::string& department);

 private:
  // The metrics and log lines of a routing decision, once its records are durable.
  void RecordRouted(const std::string& case_id, const std::string& trace_id,
                    const std::vector<events::Envelope>& out, const std::string& triage_rule);

  RouteStore& store_;
  const RoutingLogic& logic_;
  const RuleBook& rules_;
  service::RecordSink& sink_;
  RoutingMetrics& metrics_;
  const absl::Duration produce_timeout_;
  // Held by category from the duplicate search until the case is in the duplicate index.
  std::array<absl::Mutex, 16> duplicate_stripes_;
};

}  // namespace meldpunt::routing
