// Topic administration through librdkafka's admin API (no Kafka shell scripts needed).
//
//   RETURN_IF_ERROR(EnsureTopics(brokers, {{kCaseEventsTopic, 6, 1}}, absl::Seconds(30)));
#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace meldpunt::kafka {

struct TopicSpec {
  std::string name;
  int partitions = 1;
  int replication_factor = 1;
  std::map<std::string, std::string> config;
};

// Creates the topics that do not exist yet; existing ones are left as they are. Retries while the
// broker is unreachable until `timeout`, then UNAVAILABLE.
absl::Status EnsureTopics(const std::string& brokers, const std::vector<TopicSpec>& topics,
                          absl::Duration timeout,
                          const std::map<std::string, std::string>& extra = {});

}  // namespace meldpunt::kafka
