// Notification's metrics, in one place; the app and the senders only call these methods.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "services/notification/notification_logic.h"

namespace meldpunt::notification {

class NotificationMetrics {
 public:
  explicit NotificationMetrics(prometheus::Registry& registry);

  // One attempt by `channel`: its outcome, or the error that kept it from being recorded.
  void Attempt(const std::string& channel, const absl::StatusOr<AttemptOutcome>& outcome);
  // This replica's queues: messages waiting, and how long the oldest has waited since it was
  // queued (or retried by hand); nullopt when none waits.
  void Queue(int64_t waiting, std::optional<absl::Duration> oldest);

 private:
  prometheus::Family<prometheus::Counter>& attempts_;
  prometheus::Histogram& latency_;
  prometheus::Gauge& waiting_;
  prometheus::Gauge& oldest_queued_;
};

}  // namespace meldpunt::notification
