#include "services/routing/rule_book.h"

#include "libs/events/topics.h"
#include "libs/observability/log.h"
#include "libs/observability/thread_name.h"
#include "libs/service/runtime.h"
#include "libs/status/status_macros.h"

namespace meldpunt::routing {

absl::Status RuleBook::Load() {
  ASSIGN_OR_RETURN(std::shared_ptr<const RuleSet> rules,
                   LoadRules(options_.rules_file, options_.catalog_file));
  absl::MutexLock lock(&mu_);
  rules_ = std::move(rules);
  return absl::OkStatus();
}

absl::Status RuleBook::Reload() {
  // The catalogue and the rules together: either error keeps both in force (the RuleSet holds the
  // catalogue it was checked against).
  absl::StatusOr<std::shared_ptr<const RuleSet>> loaded =
      LoadRules(options_.rules_file, options_.catalog_file);
  if (!loaded.ok()) {
    metrics_.Reload(false);
    log::Error("rules reload refused; the rules and the category catalogue in force stay",
               {{"error", loaded.status().ToString()}});
    return loaded.status();
  }
  RETURN_IF_ERROR(ensure_topics_(DispatchTopics(**loaded)));
  {
    absl::MutexLock lock(&mu_);
    rules_ = *loaded;
  }
  metrics_.Reload(true);
  log::Info("rules reloaded", {{"file", options_.rules_file},
                               {"catalog", options_.catalog_file},
                               {"rules", (*loaded)->rule_count()},
                               {"categories", (*loaded)->catalog()->categories().size()}});
  return absl::OkStatus();
}

std::shared_ptr<const RuleSet> RuleBook::Current() const {
  absl::MutexLock lock(&mu_);
  return rules_;
}

std::vector<kafka::TopicSpec> RuleBook::DispatchTopics(const RuleSet& rules) const {
  std::vector<kafka::TopicSpec> topics;
  for (const std::string& topic : rules.DispatchTopics()) {
    topics.push_back(
        events::TopicSpecFor(topic, options_.dispatch_partitions, options_.replication_factor));
  }
  return topics;
}

void ReloadOnSignal::Start() {
  thread_ = std::thread([this] {
    observability::NameThread("mp-rule-reload");
    while (!stop_.load()) {
      if (service::WaitForReloadSignal(absl::Milliseconds(500))) reload_();
    }
  });
}

void ReloadOnSignal::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

}  // namespace meldpunt::routing
