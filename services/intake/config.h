// The intake's configuration: the shared service keys (libs/config/service_config.h).
#pragma once

#include "libs/config/service_config.h"

namespace meldpunt::intake {

struct IntakeConfig : config::ServiceConfig {
  IntakeConfig() {
    grpc_listen = "127.0.0.1:50051";
    admin_listen = "127.0.0.1:9101";
  }
  std::string consumer_group = "meldpunt-intake-projection";
  absl::Duration projection_wait = absl::Seconds(5);
  absl::Duration reopen_window = absl::Hours(24 * 60);
  absl::Duration rebuild_timeout = absl::Minutes(30);
};

inline config::Schema<IntakeConfig> IntakeSchema() {
  config::Schema<IntakeConfig> schema("meldpunt-intake");
  config::AddServiceKeys(schema);
  schema
      .String("projection.consumer_group", &IntakeConfig::consumer_group,
              "Kafka consumer group of the case projection", config::NonEmpty())
      .Duration("projection.wait", &IntakeConfig::projection_wait,
                "how long a command waits for the projection to show its event before answering")
      .Duration("projection.rebuild_timeout", &IntakeConfig::rebuild_timeout,
                "how long a projection rebuild may take")
      .Duration("cases.reopen_window", &IntakeConfig::reopen_window,
                "how long after the answer or closing a reporter may reopen a case");
  return schema;
}

}  // namespace meldpunt::intake
