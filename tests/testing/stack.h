// Test access to the real local stack that the CTest fixtures start with tests/harness/stack.py:
// reads the endpoints it recorded in stack.json.
//
//   absl::StatusOr<Stack> stack = LoadStack();
//   auto redis = redis::Client::Create({.address = stack->redis});
#pragma once

#include <functional>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace meldpunt::testing {

struct ServiceEndpoints {
  std::string grpc;
  std::string admin;
};

struct Stack {
  std::string redis;
  std::string key_store;  // the Redis of the reporters' data keys
  std::string kafka;
  std::string smtp;
  std::string smtp_dir;
  std::string webhook;
  std::string webhook_dir;
  std::map<std::string, ServiceEndpoints> services;
  // Process ids by name (redis, kafka, smtp_sink, webhook_sink, and the services when started).
  std::map<std::string, int> pids;
};

// Reads $MELDPUNT_TEST_STACK/<name>/stack.json.
absl::StatusOr<Stack> LoadStack(const std::string& name = "infra");

// A name no other test run uses (for topics, groups, keys).
std::string UniqueName(const std::string& prefix);
// The public master key of the development and test configurations (deploy/config).
std::string DevMasterKeyFile();

// A loopback port nothing listens on (bound, then released).
int ClosedPort();

// Polls `check` every 100 ms until it returns true or `limit` passes.
bool Eventually(const std::function<bool()>& check, absl::Duration limit);

}  // namespace meldpunt::testing
