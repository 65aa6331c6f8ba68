// What a unit test reads back from a service's prometheus::Registry: one series' value, 0 when the
// series does not exist.
//
//   EXPECT_EQ(service::CounterValue(registry, "meldpunt_routing_decisions_total",
//                                   {{"department", "public-works"}}), 1);
#pragma once

#include <map>
#include <string>
#include <vector>

#include "prometheus/registry.h"

namespace meldpunt::service {

namespace internal {
// The first series of `name` whose labels include `labels`; null when none.
inline const prometheus::ClientMetric* FindSeries(
    const std::vector<prometheus::MetricFamily>& families, const std::string& name,
    const std::map<std::string, std::string>& labels) {
  for (const auto& family : families) {
    if (family.name != name) continue;
    for (const auto& metric : family.metric) {
      size_t matched = 0;
      for (const auto& label : metric.label) {
        auto it = labels.find(label.name);
        if (it != labels.end() && it->second == label.value) ++matched;
      }
      if (matched == labels.size()) return &metric;
    }
  }
  return nullptr;
}
}  // namespace internal

inline double CounterValue(prometheus::Registry& registry, const std::string& name,
                           const std::map<std::string, std::string>& labels = {}) {
  const auto families = registry.Collect();
  const prometheus::ClientMetric* m = internal::FindSeries(families, name, labels);
  return m == nullptr ? 0 : m->counter.value;
}

// Every series of the counter added up.
inline double CounterTotal(prometheus::Registry& registry, const std::string& name) {
  double total = 0;
  for (const auto& family : registry.Collect()) {
    if (family.name != name) continue;
    for (const auto& metric : family.metric) total += metric.counter.value;
  }
  return total;
}

inline double GaugeValue(prometheus::Registry& registry, const std::string& name,
                         const std::map<std::string, std::string>& labels = {}) {
  const auto families = registry.Collect();
  const prometheus::ClientMetric* m = internal::FindSeries(families, name, labels);
  return m == nullptr ? 0 : m->gauge.value;
}

inline uint64_t HistogramCount(prometheus::Registry& registry, const std::string& name,
                               const std::map<std::string, std::string>& labels = {}) {
  const auto families = registry.Collect();
  const prometheus::ClientMetric* m = internal::FindSeries(families, name, labels);
  return m == nullptr ? 0 : m->histogram.sample_count;
}

}  // namespace meldpunt::service
