#include "services/routing/app.h"

#include <functional>
#include <optional>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "libs/events/acks.h"
#include "libs/events/event_log.h"
#include "libs/events/topics.h"
#include "libs/observability/log.h"
#include "libs/service/wiring.h"
#include "libs/status/status_macros.h"

namespace meldpunt::routing {

RoutingApp::RoutingApp(RoutingConfig config)
    : config_(std::move(config)), registry_(std::make_shared<prometheus::Registry>()) {}

RoutingApp::~RoutingApp() { Stop(); }

std::shared_ptr<const RuleSet> RoutingApp::Rules() const {
  absl::MutexLock lock(&rules_mu_);
  return rules_;
}

std::map<std::string, int64_t> RoutingApp::OpenCases(const RuleSet& rules,
                                                     const std::string& department) {
  absl::StatusOr<std::map<std::string, int64_t>> open =
      store_->OpenCases(department, rules.Members(department));
  if (!open.ok()) {
    // Without the counts every member looks free; the capacity check is then best effort.
    log::Warning("workload counts unavailable",
                 {{"department", department}, {"error", open.status().ToString()}});
    return {};
  }
  return *open;
}

absl::Status RoutingApp::ReloadRules() {
  // The catalogue and the rules together: either error keeps both in force (the RuleSet holds the
  // catalogue it was checked against).
  absl::StatusOr<std::shared_ptr<const RuleSet>> loaded =
      LoadRules(config_.rules_file, config_.catalog_file);
  if (!loaded.ok()) {
    reloads_->Add({{"outcome", "refused"}}).Increment();
    log::Error("rules reload refused; the rules and the category catalogue in force stay",
               {{"error", loaded.status().ToString()}});
    return loaded.status();
  }
  std::vector<kafka::TopicSpec> topics;
  for (const std::string& topic : (*loaded)->DispatchTopics()) {
    topics.push_back({topic, static_cast<int>(config_.dispatch_partitions),
                      static_cast<int>(config_.replication_factor)});
  }
  RETURN_IF_ERROR(service::EnsureTopics(config_, topics, absl::Seconds(10)));
  {
    absl::MutexLock lock(&rules_mu_);
    rules_ = *loaded;
  }
  reloads_->Add({{"outcome", "applied"}}).Increment();
  log::Info("rules reloaded", {{"file", config_.rules_file},
                               {"catalog", config_.catalog_file},
                               {"rules", (*loaded)->rule_count()},
                               {"categories", (*loaded)->catalog()->categories().size()}});
  return absl::OkStatus();
}

absl::Status RoutingApp::Start() {
  ASSIGN_OR_RETURN(security_, service::MakeGrpcSecurity(config_, registry_.get()));
  ASSIGN_OR_RETURN(std::shared_ptr<const RuleSet> rules,
                   LoadRules(config_.rules_file, config_.catalog_file));
  {
    absl::MutexLock lock(&rules_mu_);
    rules_ = rules;
  }
  logic_ = std::make_unique<RoutingLogic>(clock_);
  routed_ =
      &prometheus::BuildCounter()
           .Name("meldpunt_routing_decisions_total")
           .Help("Routing decisions, by department (or referred, triage, linked, merged) and rule")
           .Register(*registry_);
  reloads_ = &prometheus::BuildCounter()
                  .Name("meldpunt_routing_rule_reloads_total")
                  .Help("Rules reloads by outcome (applied, refused)")
                  .Register(*registry_);
  admin_ = std::make_unique<observability::AdminServer>(registry_, [this] { return Ready(); });
  RETURN_IF_ERROR(admin_->Start(config_.admin_listen));

  std::vector<kafka::TopicSpec> topics;
  for (const std::string& topic : rules->DispatchTopics()) {
    topics.push_back({topic, static_cast<int>(config_.dispatch_partitions),
                      static_cast<int>(config_.replication_factor)});
  }
  RETURN_IF_ERROR(service::EnsureTopicsAtStart(config_, topics));
  ASSIGN_OR_RETURN(producer_, service::MakeProducer(config_, "meldpunt-routing"));
  producer_->ExportMetrics(*registry_);
  ASSIGN_OR_RETURN(redis_, service::ConnectRedisAtStart(config_));
  store_ = std::make_unique<RedisRouteStore>(*redis_);
  ASSIGN_OR_RETURN(auto consumer, service::MakeCaseEventConsumer(config_, config_.consumer_group,
                                                                 "meldpunt-routing"));
  auto handler = [this](const events::Envelope& e, const kafka::Record&) { return HandleEvent(e); };
  dead_letters_ = service::MakeDeadLetters(config_, *security_.guard, *producer_, "routing",
                                           config_.consumer_group, handler);
  consumer_ = std::make_unique<events::EventConsumer>(
      std::move(consumer), handler, registry_.get(), config_.consumer_group,
      service::LoopOptions(config_, dead_letters_.sink.get()));
  consumer_->Start();
  service_ = std::make_unique<RoutingService>(
      *security_.guard, [this] { return Rules(); }, [this] { return ReloadRules(); },
      [this](const RuleSet& r, const std::string& d) { return OpenCases(r, d); },
      [this](const std::string& d, const std::vector<std::string>& members) {
        return store_->Workload(d, members);
      },
      [this] { return store_->Triage(); }, clock_, config_.rules_file);
  grpc_.SetMetrics(registry_.get());
  RETURN_IF_ERROR(grpc_.Start(config_.grpc_listen, {service_.get(), dead_letters_.service.get()},
                              security_.credentials));
  grpc_.SetServing(true);
  reload_thread_ = std::thread([this] {
    while (!stop_.load()) {
      if (service::WaitForReloadSignal(absl::Milliseconds(500))) (void)ReloadRules();
    }
  });
  // No key store: routing never opens the reporter (nothing personal goes on a dispatch feed).
  dependencies_ = std::make_unique<service::DependencyCheck>(
      producer_.get(), std::vector<redis::Client*>{redis_.get()});
  started_ = true;
  log::Info("routing started", {{"grpc_port", grpc_.port()},
                                {"admin_port", admin_->port()},
                                {"rules", rules->rule_count()}});
  return absl::OkStatus();
}

absl::Status RoutingApp::HandleEvent(const events::Envelope& envelope) {
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
  ASSIGN_OR_RETURN(v1::RouteState before, store_->Load(envelope.case_id()));
  std::shared_ptr<const RuleSet> rules = Rules();
  auto nearby = [&](const std::string& category, double lat, double lon, double radius_m,
                    absl::Time since) -> std::optional<Nearby> {
    absl::StatusOr<std::vector<std::pair<std::string, double>>> near =
        store_->Near(category, lat, lon, radius_m);
    if (!near.ok()) {
      log::Warning("duplicate search unavailable", {{"error", near.status().ToString()}});
      return std::nullopt;
    }
    for (const auto& [case_id, distance] : *near) {
      if (case_id == envelope.case_id()) continue;
      absl::StatusOr<v1::RouteState> other = store_->Load(case_id);
      if (!other.ok() || other->closed()) continue;
      if (events::GetTime(other->submitted_at()) < since) continue;
      return Nearby{case_id, distance};
    }
    return std::nullopt;
  };
  std::optional<RoutingOutput> output = logic_->Handle(
      *rules, envelope, before, [&](const std::string& d) { return OpenCases(*rules, d); }, nearby);
  v1::RouteState after = before;
  RoutingLogic::Fold(after, envelope);
  const bool changed = after.SerializeAsString() != before.SerializeAsString();
  if (!output) return changed ? store_->Save(envelope.case_id(), before, after) : absl::OkStatus();
  // Every record in flight at once; the state is saved and the input committed only when all are
  // acknowledged (a repeat before then routes the case again, with the same event ids).
  events::Acks acks;
  if (output->dispatch)
    RETURN_IF_ERROR(
        acks.Send(*producer_, DispatchRecord(output->dispatch_topic, *output->dispatch)));
  for (const auto& e : output->events)
    RETURN_IF_ERROR(acks.Send(*producer_, events::ToRecord(events::kCaseEventsTopic, e)));
  events::AfterAcks then = [this, case_id = envelope.case_id(), trace = envelope.correlation_id(),
                            out = std::move(output->events), triage = output->triage_rule, before,
                            after, changed] {
    RecordRouted(case_id, trace, out, triage);
    return changed ? store_->Save(case_id, before, after) : absl::OkStatus();
  };
  const absl::Time deadline = absl::Now() + config_.produce_timeout;
  if (duplicate_lock) {
    // Into the duplicate index before the next submission of the category searches it.
    RETURN_IF_ERROR(acks.Wait(deadline));
    return then();
  }
  // In a consumer lane the wait is the lane's, with its other records' (libs/events/acks.h).
  return events::AwaitAcks(std::move(acks), deadline, std::move(then));
}

void RoutingApp::RecordRouted(const std::string& case_id, const std::string& trace_id,
                              const std::vector<events::Envelope>& out,
                              const std::string& triage_rule) {
  for (const auto& e : out) {
    if (e.has_case_triaged()) {
      routed_->Add({{"department", "triage"}, {"rule", triage_rule}}).Increment();
      log::Info("case triaged", {{"case_id", case_id},
                                 {"trace_id", trace_id},
                                 {"rule", triage_rule},
                                 {"why", e.case_triaged().reason()}});
      continue;
    }
    if (e.has_case_linked() || e.has_case_merged()) {
      routed_
          ->Add({{"department", e.has_case_merged() ? "merged" : "linked"}, {"rule", "duplicates"}})
          .Increment();
      log::Info("likely duplicate",
                {{"case_id", case_id},
                 {"master", e.has_case_merged() ? e.case_merged().master_case_id()
                                                : e.case_linked().master_case_id()}});
      continue;
    }
    const bool referred = e.has_case_referred();
    routed_
        ->Add({{"department", referred ? "referred" : e.case_routed().department()},
               {"rule", referred ? "" : e.case_routed().rule_id()}})
        .Increment();
    log::Info(referred ? "case referred" : "case routed",
              {{"case_id", case_id},
               {"trace_id", trace_id},
               {"to", referred ? e.case_referred().body() : e.case_routed().department()},
               {"why", referred ? e.case_referred().reason() : e.case_routed().explanation()}});
  }
}

bool RoutingApp::Ready() const {
  return started_ && consumer_ && consumer_->running() && consumer_->joined() && dependencies_ &&
         dependencies_->up();
}

void RoutingApp::Stop() {
  stop_ = true;
  if (reload_thread_.joinable()) reload_thread_.join();
  if (started_) {
    started_ = false;
    grpc_.Shutdown(config_.shutdown_grace);
    if (consumer_) consumer_->Stop();
    if (producer_) (void)producer_->Flush(absl::Seconds(5));
  }
  if (admin_) admin_->Stop();
}

}  // namespace meldpunt::routing
