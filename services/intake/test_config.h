// The intake's configuration for tests on the test stack: plaintext on loopback (the open
// development mode), free ports, the stack's Kafka, Redis and key store, the public development
// master key and a consumer group of its own.
#pragma once

#include <string>

#include "services/intake/config.h"
#include "tests/testing/stack.h"

namespace meldpunt::intake {

inline IntakeConfig TestConfig(const testing::Stack& stack, const std::string& group) {
  IntakeConfig config;
  config.grpc_listen = "127.0.0.1:0";
  config.grpc_plaintext_loopback = true;
  config.admin_listen = "127.0.0.1:0";
  testing::UseStackKafka(stack, config);
  config.redis_address = stack.redis;
  config.privacy_master_key_file = testing::DevMasterKeyFile();
  config.key_store_address = stack.key_store;
  config.consumer_group = testing::UniqueName(group);
  config.produce_timeout = absl::Seconds(5);
  config.startup_timeout = absl::Seconds(30);
  return config;
}

}  // namespace meldpunt::intake
