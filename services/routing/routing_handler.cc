#include "services/routing/routing_handler.h"

#include <algorithm>
#include <functional>
#include <optional>
#include <utility>

#include "absl/container/flat_hash_map.h"
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
  auto work = std::make_shared<BatchWork>();
  // A case's later records in the batch start from the state its earlier ones left (saved with
  // them once the batch's records are acknowledged): the case's last change so far, by its place
  // in work->changes.
  absl::flat_hash_map<std::string, size_t> last_change;
  for (size_t k = 0; k < relevant.size(); ++k) {
    const size_t i = relevant[k];
    const std::string& case_id = batch.envelope(i).case_id();
    auto earlier = last_change.find(case_id);
    const v1::RouteState* state =
        earlier != last_change.end() ? &work->changes[earlier->second].second.after : &(*loaded)[k];
    if (absl::Status handled = Handle(batch.envelope(i), &batch, i, state, work.get());
        !handled.ok()) {
      batch.Fail(i, handled);
      break;
    }
    if (!work->changes.empty() && work->changes.back().first == i) {
      last_change[case_id] = work->changes.size() - 1;
    }
  }
  if (!work->changes.empty()) {
    // After the acknowledgements: the states of the records that got that far, in one round trip,
    // one save per case. A case's changes follow one another (each starts from the state the one
    // before left), so its save goes from the state it was loaded in to the last one: the same
    // state and indexes as each change saved in turn, written once. The save stands at the case's
    // first record: if it fails, the case's records are all handled again.
    batch.AfterAll([this, work](size_t done, absl::Status* error) -> std::optional<size_t> {
      std::vector<RouteStore::Change> saves;
      std::vector<size_t> items;  // the first record of each save
      absl::flat_hash_map<std::string, size_t> save_of;
      for (auto& [i, change] : work->changes) {
        if (i >= done) break;
        auto [it, first] = save_of.try_emplace(change.case_id, saves.size());
        if (!first) {
          saves[it->second].after = std::move(change.after);
          continue;
        }
        saves.push_back(std::move(change));
        items.push_back(i);
      }
      if (saves.empty()) return std::nullopt;
      size_t failed = 0;
      absl::Status saved = store_.SaveAll(saves, &failed);
      if (saved.ok()) return std::nullopt;
      *error = std::move(saved);
      return items[std::min(failed, items.size() - 1)];
    });
  }
  if (!work->in_flight.empty()) {
    // After the save (the batch runs its steps in order): a submission saved is in the index
    // now, and one not saved is handled again, and searched for again, with the records after it.
    batch.AfterAll([this, work](size_t, absl::Status*) -> std::optional<size_t> {
      in_flight_.Remove(work->in_flight);
      return std::nullopt;
    });
  }
}

absl::Status RoutingHandler::Handle(const events::Envelope& envelope, events::Batch* batch,
                                    size_t index, const v1::RouteState* loaded, BatchWork* work) {
  if (!RoutingLogic::Relevant(envelope)) return absl::OkStatus();
  if (batch == nullptr) work = nullptr;
  // A submission with coordinates searches for duplicates one at a time per category (lanes
  // handle other partitions at the same moment), from the search until it is in flight (a
  // batch's record) or saved into the index (a single event, below).
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
  // The nearest open case of the category within the radius, submitted since `since`: from the
  // duplicate index, or in flight on a lane (decided, not saved yet), whichever is nearer. A
  // candidate whose chain of links holds this case is passed over: this case is being handled
  // again (its batch failed after the candidate was linked to it, directly or through others), and
  // a link to it would make a cycle. `master_chain` is the chosen one's chain with it in front.
  std::vector<std::string> master_chain;
  auto choose = [&](const std::string& case_id, const auto& chain) {
    if (case_id == envelope.case_id()) return false;
    if (std::find(chain.begin(), chain.end(), envelope.case_id()) != chain.end()) return false;
    master_chain.assign(1, case_id);
    for (const std::string& c : chain) {
      if (master_chain.size() == kMaxDuplicateChain) break;
      master_chain.push_back(c);
    }
    return true;
  };
  auto nearby = [&](const std::string& category, double lat, double lon, double radius_m,
                    absl::Time since) -> std::optional<Nearby> {
    const std::vector<InFlightSubmissions::Found> flying =
        in_flight_.Near(category, lat, lon, radius_m);
    absl::StatusOr<std::vector<std::pair<std::string, double>>> near =
        store_.Near(category, lat, lon, radius_m);
    if (!near.ok()) {
      log::Warning("duplicate search unavailable", {{"error", near.status().ToString()}});
      if (flying.empty()) return std::nullopt;
      near = std::vector<std::pair<std::string, double>>();
    }
    size_t a = 0, b = 0;
    while (a < near->size() || b < flying.size()) {
      if (b < flying.size() && (a == near->size() || flying[b].distance_m < (*near)[a].second)) {
        const InFlightSubmissions::Found& f = flying[b++];
        if (f.submitted_at < since) continue;
        if (choose(f.case_id, f.duplicate_chain))
          return Nearby{f.case_id, f.distance_m, f.reference};
        continue;
      }
      const auto& [case_id, distance] = (*near)[a++];
      if (case_id == envelope.case_id()) continue;
      absl::StatusOr<v1::RouteState> other = store_.Load(case_id);
      if (!other.ok() || other->closed()) continue;
      if (events::GetTime(other->submitted_at()) < since) continue;
      if (choose(case_id, other->duplicate_chain()))
        return Nearby{case_id, distance, other->reference()};
    }
    return std::nullopt;
  };
  auto open_cases = [&](const std::string& department) -> std::map<std::string, int64_t> {
    if (work == nullptr) return OpenCases(*rules, department);
    auto it = work->open.find(department);
    if (it == work->open.end()) {
      it = work->open.emplace(department, OpenCases(*rules, department)).first;
    }
    return it->second;
  };
  std::optional<RoutingOutput> output = logic_.Handle(*rules, envelope, before, open_cases, nearby);
  v1::RouteState after = before;
  RoutingLogic::Fold(after, envelope);
  if (output) {
    for (const events::Envelope& e : output->events) {
      if (e.has_case_linked() || e.has_case_merged()) {
        *after.mutable_duplicate_chain() = {master_chain.begin(), master_chain.end()};
      }
    }
  }
  const bool changed = after.SerializeAsString() != before.SerializeAsString();
  if (work != nullptr && changed && EntersNearbyIndex(before, after)) {
    // Still under the category's stripe: the next submission's search finds it in flight until
    // the batch's save has put it in the index.
    const auto& where = after.draft().location();
    work->in_flight.push_back(
        in_flight_.Add({envelope.case_id(),
                        after.draft().category(),
                        where.latitude(),
                        where.longitude(),
                        events::GetTime(after.submitted_at()),
                        {after.duplicate_chain().begin(), after.duplicate_chain().end()},
                        after.reference()}));
  }
  if (!output) {
    if (!changed) return absl::OkStatus();
    if (work == nullptr) return store_.Save(envelope.case_id(), before, after);
    work->changes.emplace_back(index, RouteStore::Change{envelope.case_id(), before, after});
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
    // The batch's next decisions in the department count this case for its assignee (a count the
    // batch has not read stays unread: the next read finds the case saved, or not yet).
    if (work != nullptr && e.has_case_routed() && !e.case_routed().assignee().empty()) {
      auto it = work->open.find(e.case_routed().department());
      if (it != work->open.end()) ++it->second[e.case_routed().assignee()];
    }
  }
  auto record = [this, case_id = envelope.case_id(), trace = envelope.correlation_id(),
                 out = std::move(output->events),
                 triage = output->triage_rule] { RecordRouted(case_id, trace, out, triage); };
  if (work == nullptr) {
    // Into the duplicate index before the next submission of the category searches it.
    RETURN_IF_ERROR(acks.Wait(absl::Now() + produce_timeout_));
    record();
    return changed ? store_.Save(envelope.case_id(), before, after) : absl::OkStatus();
  }
  // In a batch the wait is the batch's, with its other records' (libs/events/batch.h), and the
  // save is the batch's too (Batch::AfterAll).
  batch->Await(index, std::move(acks), [record] {
    record();
    return absl::OkStatus();
  });
  if (changed) {
    work->changes.emplace_back(index, RouteStore::Change{envelope.case_id(), before, after});
  }
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
