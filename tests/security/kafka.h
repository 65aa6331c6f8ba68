// How the security tests reach the test stack's Kafka, as the services and the test's own tooling.
#pragma once

#include <string>

#include "absl/strings/str_cat.h"
#include "libs/kafka/producer.h"
#include "tests/testing/stack.h"

namespace meldpunt::testing {

// The kafka section of a service's config on the test stack.
inline std::string KafkaConfigYaml(const Stack& stack, const std::string& /*principal*/) {
  return absl::StrCat("kafka:\n  brokers: ", stack.kafka, "\n  produce_timeout: 5s\n");
}

// A producer's options on the test stack, as the test's own tooling.
inline kafka::ProducerOptions KafkaClientOptions(const Stack& stack,
                                                 const std::string& /*principal*/) {
  return {.brokers = stack.kafka};
}

}  // namespace meldpunt::testing
