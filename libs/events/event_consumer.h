// The consume-handle-commit loop every service runs over the case event log.
//
//   EventConsumer loop(std::move(consumer), [&](const Envelope& e, const kafka::Record& r) {
//     return logic.Handle(e);  // OK: commit; UNAVAILABLE/ABORTED/INTERNAL: retry in place
//   });
//   loop.Start();
//   ...
//   loop.Stop();  // finishes the record in hand, commits, leaves the group
//
// A record is committed only after its handler returned OK or a permanent error (bad bytes,
// INVALID_ARGUMENT, FAILED_PRECONDITION: handling it again would fail the same way; it is logged
// and counted). Retriable errors are retried with backoff on the same record, so nothing is
// skipped. Owns one thread.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "libs/events/codec.h"
#include "libs/kafka/consumer.h"
#include "prometheus/counter.h"
#include "prometheus/registry.h"

namespace meldpunt::events {

using EventHandler = std::function<absl::Status(const Envelope&, const kafka::Record&)>;

struct EventConsumerStats {
  std::atomic<int64_t> handled{0};
  std::atomic<int64_t> skipped{0};  // permanent errors
  std::atomic<int64_t> retries{0};
};

class EventConsumer {
 public:
  // `registry` (optional) gets meldpunt_events_consumed_total{group, outcome}.
  EventConsumer(std::unique_ptr<kafka::Consumer> consumer, EventHandler handler,
                prometheus::Registry* registry = nullptr, const std::string& group = "");
  ~EventConsumer();

  void Start();
  void Stop();
  const EventConsumerStats& stats() const { return stats_; }
  // True once the consumer has joined its group and holds partitions (or polled without error).
  bool running() const { return running_.load(); }

  // Whether a handler error means "try the same record again".
  static bool IsRetriable(const absl::Status& status);

 private:
  void Run();

  std::unique_ptr<kafka::Consumer> consumer_;
  EventHandler handler_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> running_{false};
  EventConsumerStats stats_;
  prometheus::Counter* handled_metric_ = nullptr;
  prometheus::Counter* skipped_metric_ = nullptr;
  prometheus::Counter* retried_metric_ = nullptr;
  std::thread thread_;
};

}  // namespace meldpunt::events
