#include "services/notification/metrics.h"

#include <algorithm>

namespace meldpunt::notification {

NotificationMetrics::NotificationMetrics(prometheus::Registry& registry)
    : attempts_(prometheus::BuildCounter()
                    .Name("meldpunt_notification_attempts_total")
                    .Help("Delivery attempts by channel and outcome (delivered, retrying, "
                          "dead_lettered, deferred, skipped, cancelled, error)")
                    .Register(registry)),
      latency_(prometheus::BuildHistogram()
                   .Name("meldpunt_notification_delivery_latency_seconds")
                   .Help("From the case event to the message's delivery")
                   .Register(registry)
                   .Add({}, prometheus::Histogram::BucketBoundaries{0.01, 0.025, 0.05, 0.1, 0.25,
                                                                    0.5, 1, 2.5, 5, 10, 60, 600,
                                                                    3600, 6 * 3600, 24 * 3600})),
      waiting_(prometheus::BuildGauge()
                   .Name("meldpunt_notification_waiting")
                   .Help("Messages in this replica's queues (due, retrying later, or in flight)")
                   .Register(registry)
                   .Add({})),
      oldest_queued_(
          prometheus::BuildGauge()
              .Name("meldpunt_notification_oldest_queued_seconds")
              .Help("How long the oldest message in this replica's queues (pending or "
                    "retrying) has waited since it was queued or retried by hand; 0 when "
                    "none waits")
              .Register(registry)
              .Add({})) {}

void NotificationMetrics::Attempt(const std::string& channel,
                                  const absl::StatusOr<AttemptOutcome>& outcome) {
  if (!outcome.ok()) {
    attempts_.Add({{"channel", channel}, {"outcome", "error"}}).Increment();
    return;
  }
  attempts_.Add({{"channel", channel}, {"outcome", outcome->status}}).Increment();
  if (outcome->status == "delivered") {
    latency_.Observe(std::max(0.0, absl::ToDoubleSeconds(outcome->since_event)));
  }
}

void NotificationMetrics::Queue(int64_t waiting, std::optional<absl::Duration> oldest) {
  waiting_.Set(static_cast<double>(waiting));
  oldest_queued_.Set(oldest ? std::max(0.0, absl::ToDoubleSeconds(*oldest)) : 0.0);
}

}  // namespace meldpunt::notification
