// The rules in force, with the category catalogue they were checked against, and their reload
// (Routing/ReloadRules, SIGHUP). A reload reads both files again; when either has an error both
// in force stay. New departments get their dispatch topics before the new rules take over.
//
//   RuleBook rules({.rules_file = ..., .catalog_file = ..., .dispatch_partitions = 3,
//                   .replication_factor = 1}, ensure_topics, metrics);
//   RETURN_IF_ERROR(rules.Load());                          // at start: an error is the start's
//   std::shared_ptr<const RuleSet> now = rules.Current();   // a reader keeps the set it got
//   (void)rules.Reload();                                    // logged and counted either way
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "libs/kafka/admin.h"
#include "services/routing/metrics.h"
#include "services/routing/rules.h"

namespace meldpunt::routing {

struct RuleBookOptions {
  std::string rules_file;
  std::string catalog_file;
  // Of the meldpunt.dispatch.<department>.v1 topics made for a rule set's departments.
  int dispatch_partitions = 3;
  int replication_factor = 1;
};

// A mutex guards the pointer to the rules in force; a RuleSet never changes once loaded.
class RuleBook {
 public:
  // Makes the dispatch topics of a rule set about to take over (service::EnsureTopics in the
  // service; a fake in tests).
  using EnsureTopics = std::function<absl::Status(const std::vector<kafka::TopicSpec>&)>;

  RuleBook(RuleBookOptions options, EnsureTopics ensure_topics, RoutingMetrics& metrics)
      : options_(std::move(options)), ensure_topics_(std::move(ensure_topics)), metrics_(metrics) {}

  // Reads the files for the first time (at start; the start makes the topics itself, waiting for
  // Kafka). Not counted as a reload.
  absl::Status Load();
  // Reads both files again and, once the new departments' topics exist, puts them in force.
  // INVALID_ARGUMENT with the file and line when either file has an error; the topics' error
  // when they cannot be made. On any error the rules and the catalogue in force stay.
  absl::Status Reload();
  // The rules in force (null before Load).
  std::shared_ptr<const RuleSet> Current() const;
  // The dispatch topics of `rules`' departments.
  std::vector<kafka::TopicSpec> DispatchTopics(const RuleSet& rules) const;

 private:
  const RuleBookOptions options_;
  const EnsureTopics ensure_topics_;
  RoutingMetrics& metrics_;
  mutable absl::Mutex mu_;
  std::shared_ptr<const RuleSet> rules_ ABSL_GUARDED_BY(mu_);
};

// Calls `reload` on every SIGHUP (service::WaitForReloadSignal) until stopped. Owns one thread.
class ReloadOnSignal {
 public:
  explicit ReloadOnSignal(std::function<void()> reload) : reload_(std::move(reload)) {}
  ~ReloadOnSignal() { Stop(); }
  void Start();
  // Within half a second.
  void Stop();

 private:
  std::function<void()> reload_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace meldpunt::routing
