#include "services/deadline_watch/metrics.h"

#include <algorithm>

namespace meldpunt::deadline {

DeadlineMetrics::DeadlineMetrics(prometheus::Registry& registry)
    : fired_(prometheus::BuildCounter()
                 .Name("meldpunt_deadline_fired_total")
                 .Help("Deadline warnings and breaches fired, by clock and kind")
                 .Register(registry)),
      breaches_(prometheus::BuildCounter()
                    .Name("meldpunt_deadline_breaches_total")
                    .Help("Deadline breaches fired, by department and clock")
                    .Register(registry)),
      clock_events_(
          prometheus::BuildCounter()
              .Name("meldpunt_deadline_clock_events_total")
              .Help(
                  "Clock events appended (ClocksStarted, ClockStarted, ClockPaused, ...), by type")
              .Register(registry)),
      lateness_(
          prometheus::BuildHistogram()
              .Name("meldpunt_deadline_firing_lateness_seconds")
              .Help("Time from a timer's due instant until its event was in the log")
              .Register(registry)
              .Add({}, prometheus::Histogram::BucketBoundaries{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
                                                               2.5, 5, 10, 30, 60, 300})),
      open_clocks_(prometheus::BuildGauge()
                       .Name("meldpunt_deadline_open_clocks")
                       .Help("Clocks not stopped (running, warned, breached or paused)")
                       .Register(registry)
                       .Add({})),
      due_24h_(prometheus::BuildGauge()
                   .Name("meldpunt_deadline_due_next_24h")
                   .Help("Open clocks due within the next 24 hours")
                   .Register(registry)
                   .Add({})) {}

void DeadlineMetrics::Fired(const Firing& f, absl::Time appended) {
  fired_.Add({{"clock", f.timer.clock}, {"kind", f.timer.kind}}).Increment();
  lateness_.Observe(
      std::max(0.0, absl::ToDoubleSeconds(appended - absl::FromUnixMillis(f.timer.fire_ms))));
  if (f.timer.kind == "breach") {
    breaches_
        .Add({{"department", f.department.empty() ? "none" : f.department},
              {"clock", f.timer.clock}})
        .Increment();
  }
}

void DeadlineMetrics::ClockEvent(const std::string& type) {
  clock_events_.Add({{"type", type}}).Increment();
}

void DeadlineMetrics::Clocks(const ClockCounts& counts) {
  open_clocks_.Set(static_cast<double>(counts.open));
  due_24h_.Set(static_cast<double>(counts.due_soon));
}

}  // namespace meldpunt::deadline
