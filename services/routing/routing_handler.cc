#include "services/routing/routing_handler.h"

#include <functional>
#include <optional>
#include <utility>

#include "absl/time/clock.h"
#include "libs/events/acks.h"
#include "libs/events/event_log.h"
#include "libs/events/topics.h"
#include "libs/observability/log.h"
#include "libs/status/status_macros.h"

namespace meldpunt::routing {

std::map<std::string, int64_t> RoutingHandler::OpenCases(const RuleSet& rules,
                                                         const std::string& department) {
  absl::StatusOr<std::map<std::string, int64_t>> open =
      store_.OpenCases(department, rules.Members(department));
  if (!open.ok()) {
    // Without the counts every member looks free; the capacity check is then best effort.
    log::Warning("workload counts unavailable",
                 {{"department", department}, {"error", open.status().ToString()}});
    return {};
  }
  return *open;
}

void RoutingHandler::Handle(events::Batch& batch) {
  std::vector<size_t> relevant;
  std::vector<std::string> case_ids;
  for (size_t i = 0; i < batch.size(); ++i) {
    if (!RoutingLogic::Relevant(batch.envelope(i))) continue;
    relevant.push_back(i);
    case_ids.push_back(batch.envelope(i).case_id());
  }
  if (relevant.empty()) return;
  absl::StatusOr<std::vector<v1::RouteState>> loaded = store_.LoadAll(case_ids);
  if (!loaded.ok()) return batch.Fail(relevant[0], loaded.status());
  std::vector<std::pair<size_t, RouteStore::Change>> changes;
  std::optional<size_t> failed;
  absl::Status error;
  for (size_t k = 0; k < relevant.size(); ++k) {
    const size_t i = relevant[k];
    if (absl::Status handled = Handle(batch.envelope(i), &batch, i, &(*loaded)[k], &changes);
        !handled.ok()) {
      failed = i;
      error = handled;
      break;
    }
  }
  // The states of the records before the failed one (each case is in the batch once, so they
  // are independent of each other).
  std::vector<RouteStore::Change> saves;
  for (auto& [i, change] : changes) saves.push_back(std::move(change));
  if (!saves.empty()) {
    if (absl::Status saved = store_.SaveAll(saves); !saved.ok()) {
      return batch.Fail(changes.front().first, saved);
    }
  }
  if (failed) batch.Fail(*failed, error);
}

absl::Status RoutingHandler::Handle(const events::Envelope& envelope, events::Batch* batch,
                                    size_t index, const v1::RouteState* loaded,
                                    std::vector<std::pair<size_t, RouteStore::Change>>* changes) {
  if (!RoutingLogic::Relevant(envelope)) return absl::OkStatus();
  // A submission with coordinates searches the duplicate index and is added to it by the Save
  // below: one at a time per category (lanes handle other partitions at the same moment).
  std::optional<absl::MutexLock> duplicate_lock;
  if (envelope.has_case_submitted() &&
      envelope.case_submitted().draft().location().has_coordinates()) {
    const std::string& category = envelope.case_submitted().draft().category();
    duplicate_lock.emplace(
        &duplicate_stripes_[std::hash<std::string>()(category) % duplicate_stripes_.size()]);
  }
  v1::RouteState before;
  if (loaded != nullptr) {
    before = *loaded;
  } else {
    ASSIGN_OR_RETURN(before, store_.Load(envelope.case_id()));
  }
  std::shared_ptr<const RuleSet> rules = rules_.Current();
  auto nearby = [&](const std::string& category, double lat, double lon, double radius_m,
                    absl::Time since) -> std::optional<Nearby> {
    absl::StatusOr<std::vector<std::pair<std::string, double>>> near =
        store_.Near(category, lat, lon, radius_m);
    if (!near.ok()) {
      log::Warning("duplicate search unavailable", {{"error", near.status().ToString()}});
      return std::nullopt;
    }
    for (const auto& [case_id, distance] : *near) {
      if (case_id == envelope.case_id()) continue;
      absl::StatusOr<v1::RouteState> other = store_.Load(case_id);
      if (!other.ok() || other->closed()) continue;
      if (events::GetTime(other->submitted_at()) < since) continue;
      return Nearby{case_id, distance};
    }
    return std::nullopt;
  };
  std::optional<RoutingOutput> output = logic_.Handle(
      *rules, envelope, before, [&](const std::string& d) { return OpenCases(*rules, d); }, nearby);
  v1::RouteState after = before;
  RoutingLogic::Fold(after, envelope);
  const bool changed = after.SerializeAsString() != before.SerializeAsString();
  if (!output) {
    if (!changed) return absl::OkStatus();
    if (changes == nullptr) return store_.Save(envelope.case_id(), before, after);
    changes->emplace_back(index, RouteStore::Change{envelope.case_id(), before, after});
    return absl::OkStatus();
  }
  // Every record in flight at once; the state is saved and the input committed only when all are
  // acknowledged (a repeat before then routes the case again, with the same event ids).
  events::Acks acks;
  if (output->dispatch) {
    RETURN_IF_ERROR(service::SendTracked(
        acks, sink_, DispatchRecord(output->dispatch_topic, *output->dispatch)));
  }
  for (const auto& e : output->events) {
    RETURN_IF_ERROR(
        service::SendTracked(acks, sink_, events::ToRecord(events::kCaseEventsTopic, e)));
  }
  events::AfterAcks then = [this, case_id = envelope.case_id(), trace = envelope.correlation_id(),
                            out = std::move(output->events), triage = output->triage_rule, before,
                            after, changed] {
    RecordRouted(case_id, trace, out, triage);
    return changed ? store_.Save(case_id, before, after) : absl::OkStatus();
  };
  const absl::Time deadline = absl::Now() + produce_timeout_;
  if (duplicate_lock || batch == nullptr) {
    // Into the duplicate index before the next submission of the category searches it.
    RETURN_IF_ERROR(acks.Wait(deadline));
    return then();
  }
  // In a batch the wait is the batch's, with its other records' (libs/events/batch.h).
  batch->Await(index, std::move(acks), std::move(then));
  return absl::OkStatus();
}

void RoutingHandler::RecordRouted(const std::string& case_id, const std::string& trace_id,
                                  const std::vector<events::Envelope>& out,
                                  const std::string& triage_rule) {
  for (const auto& e : out) {
    if (e.has_case_triaged()) {
      metrics_.Decision("triage", triage_rule);
      log::Info("case triaged", {{"case_id", case_id},
                                 {"trace_id", trace_id},
                                 {"rule", triage_rule},
                                 {"why", e.case_triaged().reason()}});
      continue;
    }
    if (e.has_case_linked() || e.has_case_merged()) {
      metrics_.Decision(e.has_case_merged() ? "merged" : "linked", "duplicates");
      log::Info("likely duplicate",
                {{"case_id", case_id},
                 {"master", e.has_case_merged() ? e.case_merged().master_case_id()
                                                : e.case_linked().master_case_id()}});
      continue;
    }
    const bool referred = e.has_case_referred();
    metrics_.Decision(referred ? "referred" : e.case_routed().department(),
                      referred ? "" : e.case_routed().rule_id());
    log::Info(referred ? "case referred" : "case routed",
              {{"case_id", case_id},
               {"trace_id", trace_id},
               {"to", referred ? e.case_referred().body() : e.case_routed().department()},
               {"why", referred ? e.case_referred().reason() : e.case_routed().explanation()}});
  }
}

}  // namespace meldpunt::routing
