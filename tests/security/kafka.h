// How the security tests reach the test stack's Kafka (locked: TLS and SCRAM,
// tests/testing/stack.h) from the service binaries they start and from their own tooling.
#pragma once

#include <string>

#include "absl/strings/str_cat.h"
#include "libs/kafka/producer.h"
#include "tests/testing/stack.h"

namespace meldpunt::testing {

// The kafka section of a service's config on the test stack, as the admin principal: the
// binaries here use consumer groups of their own, which the services' principals may not.
inline std::string KafkaConfigYaml(const Stack& stack) {
  return absl::StrCat("kafka:\n  brokers: ", stack.kafka, "\n  produce_timeout: 5s\n",
                      KafkaYaml(stack));
}

// A producer's options on the test stack, as the test's own tooling (the admin principal).
inline kafka::ProducerOptions KafkaClientOptions(const Stack& stack) {
  return {.brokers = stack.kafka, .extra = stack.kafka_properties};
}

}  // namespace meldpunt::testing
