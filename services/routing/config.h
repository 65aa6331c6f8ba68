// The routing service's configuration: shared service keys plus the routing rules.
#pragma once

#include <map>
#include <string>

#include "libs/config/service_config.h"
#include "services/routing/rules.h"

namespace meldpunt::routing {

struct RoutingConfig : config::ServiceConfig {
  RoutingConfig() {
    grpc_listen = "127.0.0.1:50052";
    admin_listen = "127.0.0.1:9102";
  }
  std::string consumer_group = "meldpunt-routing";
  int64_t dispatch_partitions = 3;
  std::string default_department = "meldpunt-triage";
  std::map<std::string, std::string> categories;
  YAML::Node departments;
};

inline config::Schema<RoutingConfig> RoutingSchema() {
  config::Schema<RoutingConfig> schema("meldpunt-routing");
  config::AddServiceKeys(schema);
  schema
      .String("routing.consumer_group", &RoutingConfig::consumer_group, "Kafka consumer group",
              config::NonEmpty())
      .Int("routing.dispatch_partitions", &RoutingConfig::dispatch_partitions,
           "partitions of each meldpunt.dispatch.<department>.v1 topic routing creates",
           config::Range(1, 256))
      .String("routing.default_department", &RoutingConfig::default_department,
              "where a case goes when no rule matches (the Meldpunt triage queue)",
              config::NonEmpty())
      .StringMap("routing.categories", &RoutingConfig::categories, "category -> department id")
      .Tree("routing.departments", &RoutingConfig::departments,
            "list of departments: {id, name, may_see_reporter}")
      .Check([](const RoutingConfig& c) {
        return Rules::FromConfig(c.categories, c.departments, c.default_department).status();
      });
  return schema;
}

}  // namespace meldpunt::routing
