// The intake's metrics, in one place; logic and adapters only call these methods.
#pragma once

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "prometheus/counter.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace meldpunt::intake {

class IntakeMetrics {
 public:
  explicit IntakeMetrics(prometheus::Registry& registry);

  void ObserveSubmit(const absl::Status& status, bool created, absl::Duration latency);
  void ObserveCommand(const std::string& command, const absl::Status& status,
                      absl::Duration latency);
  void ProjectionApplied(bool duplicate);
  void ProjectionRejected();

 private:
  prometheus::Family<prometheus::Counter>& submits_;
  prometheus::Histogram& submit_latency_;
  prometheus::Family<prometheus::Counter>& projection_;
  // The fold counts every event: its three series found once, not by their labels each time.
  prometheus::Counter& projection_applied_;
  prometheus::Counter& projection_duplicate_;
  prometheus::Counter& projection_rejected_;
  prometheus::Family<prometheus::Counter>& commands_;
  prometheus::Family<prometheus::Histogram>& command_latency_;
};

}  // namespace meldpunt::intake
