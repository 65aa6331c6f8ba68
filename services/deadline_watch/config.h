// Deadline-watch configuration: shared service keys, the clock policies and the timer loop.
#pragma once

#include "libs/config/service_config.h"
#include "services/deadline_watch/policy.h"

namespace meldpunt::deadline {

struct DeadlineConfig : config::ServiceConfig {
  DeadlineConfig() {
    grpc_listen = "127.0.0.1:50053";
    admin_listen = "127.0.0.1:9103";
    // Each run waits for the acknowledgements of its clock events before the next run of its
    // partition: 10 ms of linger per run left the first clock 214 ms behind at 500 cases/s (p50),
    // 24 ms with 2 ms (docs/benchmarks.md, "The producers' linger where a run waits").
    producer_linger = absl::Milliseconds(2);
  }
  std::string consumer_group = "meldpunt-deadline-watch";
  absl::Duration poll_interval = absl::Milliseconds(100);
  absl::Duration lease = absl::Seconds(30);
  int64_t claim_limit = 500;
  YAML::Node clocks;
  std::string time_zone = "Europe/Brussels";
  bool flemish_holiday = false;
  std::vector<std::string> closing_days;
  std::string working_hours;
};

inline config::Schema<DeadlineConfig> DeadlineSchema() {
  config::Schema<DeadlineConfig> schema("meldpunt-deadline-watch");
  config::AddServiceKeys(schema);
  config::AddCatalogKeys(schema);
  config::AddRebuildKeys(schema);
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
      .Int("deadline.claim_limit", &DeadlineConfig::claim_limit,
           "timers claimed (and their events appended) per page", config::Range(1, 10000))
      .Tree("deadline.clocks", &DeadlineConfig::clocks,
            "list of clocks: {name, id, kinds, priorities, categories, departments, start_on, "
            "duration, warn_at, pauses, on_reassign, on_bounce, stop_on, escalate}")
      .String("calendar.time_zone", &DeadlineConfig::time_zone,
              "time zone of the business calendar")
      .Bool("calendar.flemish_holiday", &DeadlineConfig::flemish_holiday,
            "11 July (Flemish community holiday) is a closing day")
      .StringList("calendar.closing_days", &DeadlineConfig::closing_days,
                  "extra closing days of the municipality, YYYY-MM-DD")
      .String("calendar.working_hours", &DeadlineConfig::working_hours,
              "office hours on working days, HH:MM-HH:MM (for terms in working hours, 16wh); "
              "empty: whole working days")
      .Check([](const DeadlineConfig& c) -> absl::Status {
        if (c.lease <= c.produce_timeout) {
          return absl::InvalidArgumentError(
              "deadline.lease: must be longer than kafka.produce_timeout (a claim must outlive "
              "the wait for its append)");
        }
        absl::Status calendar =
            calendar::BusinessCalendar::Create(
                {c.time_zone, c.flemish_holiday, c.closing_days, c.working_hours})
                .status();
        if (!calendar.ok()) return calendar;
        absl::StatusOr<std::vector<ClockPolicy>> policies = ParsePolicies(c.clocks);
        if (!policies.ok() || c.catalog_file.empty()) return policies.status();
        absl::StatusOr<std::shared_ptr<const catalog::Catalog>> categories =
            catalog::Catalog::LoadFile(c.catalog_file);
        if (!categories.ok()) return categories.status();
        return CheckCategories(*policies, **categories);
      });
  return schema;
}

}  // namespace meldpunt::deadline
