// The routing service's configuration: shared service keys, the category catalogue, the rules file
// and the dispatch topics.
#pragma once

#include <string>

#include "libs/config/service_config.h"
#include "services/routing/rules.h"

namespace meldpunt::routing {

struct RoutingConfig : config::ServiceConfig {
  RoutingConfig() {
    grpc_listen = "127.0.0.1:50052";
    admin_listen = "127.0.0.1:9102";
    // A case is dispatched when routing's run is acknowledged: the linger is in every case's
    // time to dispatch (docs/benchmarks.md, "The producers' linger where a run waits").
    producer_linger = absl::Milliseconds(2);
    // And one fetch of routing's: 5 ms instead of 20 took the dispatch p99 from 25 to 10.5 ms at
    // 100 cases/s and from 50 to 43-47 at 500/s (docs/benchmarks.md, "Routing's fetches held
    // 5 ms").
    consumer_fetch_wait = absl::Milliseconds(5);
  }
  std::string consumer_group = "meldpunt-routing";
  int64_t dispatch_partitions = 3;
  std::string rules_file = "deploy/config/routing-rules.yaml";
};

inline config::Schema<RoutingConfig> RoutingSchema() {
  config::Schema<RoutingConfig> schema("meldpunt-routing");
  config::AddServiceKeys(schema);
  config::AddCatalogKeys(schema,
                         "the category catalogue (deploy/config/categories.yaml); required by "
                         "routing: its rules are read against the catalogue's category tree. Read "
                         "again only together with the rules (ReloadRules, SIGHUP)");
  schema
      .String("routing.consumer_group", &RoutingConfig::consumer_group, "Kafka consumer group",
              config::NonEmpty())
      .Int("routing.dispatch_partitions", &RoutingConfig::dispatch_partitions,
           "partitions of each meldpunt.dispatch.<department>.v1 topic routing creates",
           config::Range(1, 256))
      .String("routing.rules_file", &RoutingConfig::rules_file,
              "the routing rules (departments, what routing says of categories, districts, "
              "rules), checked against catalog.file; both are read again together by "
              "ReloadRules and SIGHUP",
              config::NonEmpty())
      .Check([](const RoutingConfig& c) -> absl::Status {
        // The category tree of the rules is the catalogue's: without it a category under
        // another would not go where its parent goes.
        if (c.catalog_file.empty()) {
          return absl::InvalidArgumentError(
              "catalog.file: required by routing (the category tree its rules are read against)");
        }
        return LoadRules(c.rules_file, c.catalog_file).status();
      });
  return schema;
}

}  // namespace meldpunt::routing
