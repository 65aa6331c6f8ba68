// Deadline-watch configuration: shared service keys, the clock policies and the timer loop.
#pragma once

#include "libs/config/service_config.h"
#include "services/deadline_watch/policy.h"

namespace meldpunt::deadline {

struct DeadlineConfig : config::ServiceConfig {
  DeadlineConfig() {
    grpc_listen = "127.0.0.1:50053";
    admin_listen = "127.0.0.1:9103";
  }
  std::string consumer_group = "meldpunt-deadline-watch";
  absl::Duration poll_interval = absl::Seconds(1);
  absl::Duration lease = absl::Seconds(30);
  YAML::Node clocks;
};

inline config::Schema<DeadlineConfig> DeadlineSchema() {
  config::Schema<DeadlineConfig> schema("meldpunt-deadline-watch");
  config::AddServiceKeys(schema);
  schema
      .String("deadline.consumer_group", &DeadlineConfig::consumer_group, "Kafka consumer group",
              config::NonEmpty())
      .Duration("deadline.poll_interval", &DeadlineConfig::poll_interval,
                "how often due timers are claimed",
                [](const absl::Duration& d) {
                  return d >= absl::Milliseconds(10) && d <= absl::Minutes(1)
                             ? ""
                             : "must be between 10ms and 1m";
                })
      .Duration("deadline.lease", &DeadlineConfig::lease,
                "how long a claimed timer is reserved before another attempt may fire it again")
      .Tree("deadline.clocks", &DeadlineConfig::clocks,
            "list of clocks: {name, kinds, duration, warn_at, stop_on}")
      .Check([](const DeadlineConfig& c) { return ParsePolicies(c.clocks).status(); });
  return schema;
}

}  // namespace meldpunt::deadline
