// Deadline-watch's metrics, in one place: the handler and the timer loop only call these methods.
//   meldpunt_deadline_fired_total{clock,kind}, meldpunt_deadline_breaches_total{department,clock},
//   meldpunt_deadline_firing_lateness_seconds, meldpunt_deadline_clock_events_total{type},
//   meldpunt_deadline_open_clocks, meldpunt_deadline_due_next_24h
#pragma once

#include <string>

#include "absl/time/time.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "services/deadline_watch/deadline_logic.h"
#include "services/deadline_watch/timer_store.h"

namespace meldpunt::deadline {

class DeadlineMetrics {
 public:
  explicit DeadlineMetrics(prometheus::Registry& registry);

  // A timer's event is durable: `appended` is when Kafka acknowledged it.
  void Fired(const Firing& firing, absl::Time appended);
  // A clock event (ClocksStarted, ClockStarted, ClockPaused, ...) about to be appended.
  void ClockEvent(const std::string& type);
  // The clocks not stopped, and those due soon.
  void Clocks(const ClockCounts& counts);

 private:
  prometheus::Family<prometheus::Counter>& fired_;
  prometheus::Family<prometheus::Counter>& breaches_;
  prometheus::Family<prometheus::Counter>& clock_events_;
  prometheus::Histogram& lateness_;
  prometheus::Gauge& open_clocks_;
  prometheus::Gauge& due_24h_;
};

}  // namespace meldpunt::deadline
