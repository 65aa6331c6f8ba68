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
};

inline config::Schema<IntakeConfig> IntakeSchema() {
  config::Schema<IntakeConfig> schema("meldpunt-intake");
  config::AddServiceKeys(schema);
  schema.String("projection.consumer_group", &IntakeConfig::consumer_group,
                "Kafka consumer group of the case projection", config::NonEmpty());
  return schema;
}

}  // namespace meldpunt::intake
