// What routing does with a case event read from the log (and with a dead letter's replay): the
// case's RouteState from the store, RoutingLogic's decision under the rules in force, every
// record out in flight at once (CaseRouted, CaseTriaged, CaseReferred, CaseLinked or CaseMerged
// on the case log; the dispatch message on the department's feed), and, once all are
// acknowledged, the metrics, the log lines and the new state saved. A crash before the save
// routes the case again with the same event ids; consumers drop the repeat.
//
//   RoutingHandler handler(store, logic, rules, sink, metrics, config.produce_timeout);
//   EventConsumer loop(..., events::BatchHandler([&](events::Batch& b) { handler.Handle(b); }),
//                      ...);
//
// Safe to call from several consumer lanes at once. A submission with coordinates holds its
// category's stripe from the duplicate search until it is in flight (InFlightSubmissions): the
// next submission of the category, on any lane or later in the same batch, searches the
// duplicate index and the submissions in flight, so two nearby cases cannot miss each other,
// and none waits for its own acknowledgement. Every record of a batch leaves its wait and its
// save to the batch (events::Batch): one wait for the lane's run. A case may have several records
// in a run (its submission, its clocks, ...): each starts from the state the one before left, and
// the states are saved in their order after the run's wait.
#pragma once

#include <array>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "libs/events/batch.h"
#include "libs/events/codec.h"
#include "libs/service/record_sink.h"
#include "services/routing/in_flight.h"
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

  // What the records of one batch share: the states to save once their records are
  // acknowledged, by item, and the workload counts read for the batch's decisions.
  struct BatchWork {
    std::vector<std::pair<size_t, RouteStore::Change>> changes;
    // Department -> member -> open cases: read once per department and batch, and counted up
    // for every case the batch assigns (so that two cases of one batch see each other).
    std::map<std::string, std::map<std::string, int64_t>> open;
    // The batch's submissions in flight (InFlightSubmissions tickets), taken out after its save.
    std::vector<uint64_t> in_flight;
  };

  // OK once the event is handled for good (or, given `batch` and `work`, once its records are in
  // flight: the batch waits for them, and the state to save goes into `work` as item `index`).
  // UNAVAILABLE (in place) while Redis or Kafka does not answer. `loaded` (the case's state, when
  // the caller has read it) is copied before anything is added to `work`: it may point into it.
  absl::Status Handle(const events::Envelope& envelope, events::Batch* batch = nullptr,
                      size_t index = 0, const v1::RouteState* loaded = nullptr,
                      BatchWork* work = nullptr);
  // The consumer's batch handler: the states of every case of the batch in one round trip
  // (RouteStore::LoadAll), the workload counts once per department, then each record in order,
  // a case's later records from the state its earlier ones left; the first that fails ends the
  // batch. Once the batch's records are
  // acknowledged, every state that changed is saved in one more round trip (Batch::AfterAll;
  // RouteStore::SaveAll), the records that route a case and those with nothing to send alike,
  // submissions with coordinates included (in flight for the duplicate search until then).
  void Handle(events::Batch& batch);
  // The longest chain of links a case keeps (RouteState.duplicate_chain): its master and the
  // master's own chain, cut here. A cycle through more links than this is not seen; the cases
  // linked to one while it was in flight are the ones it can meet again, a handful at most.
  static constexpr size_t kMaxDuplicateChain = 16;
  // The submissions decided and not yet saved (for tests).
  size_t InFlight() const { return in_flight_.size(); }

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
  // Held by category from the duplicate search until the case is in the duplicate index (a
  // single event) or in flight (a batch's).
  std::array<absl::Mutex, 16> duplicate_stripes_;
  InFlightSubmissions in_flight_;
};

}  // namespace meldpunt::routing
