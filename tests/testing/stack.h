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
  std::string http;  // an HTTP gateway's port (open311)
};

// A Kafka principal of a secured test broker (stack.py start-infra --secure-kafka).
struct KafkaPrincipal {
  std::string password;
  std::string password_file;
};

struct Stack {
  std::string redis;
  std::string key_store;  // the Redis of the reporters' data keys
  std::string kafka;
  // The librdkafka properties a test client needs to reach `kafka` as the admin principal (the
  // super user of the harness): SASL_SSL, the stack's CA, the SCRAM user. Empty on an open broker.
  // Every test client of Kafka passes them, e.g. kafka::Producer::Create({.brokers = s.kafka,
  // .extra = s.kafka_properties}).
  std::map<std::string, std::string> kafka_properties;
  // Secured broker only: the CA of its certificate, and every principal by name ("admin", "ops",
  // "intake", "routing", "deadline-watch", "notification", "dept-<department>").
  std::string kafka_ca_file;
  std::map<std::string, KafkaPrincipal> kafka_principals;
  std::string smtp;
  std::string smtp_dir;
  std::string webhook;
  std::string webhook_dir;
  std::map<std::string, ServiceEndpoints> services;
  // Process ids by name (redis, kafka, smtp_sink, webhook_sink, and the services when started).
  std::map<std::string, int> pids;
};

// Whether the stack's broker is secured (TLS, SCRAM, ACLs).
inline bool KafkaSecured(const Stack& stack) { return !stack.kafka_properties.empty(); }

// The librdkafka properties of `principal` on the stack's secured broker (`password` instead of
// its own when given: a wrong one); empty on an open broker.
std::map<std::string, std::string> KafkaPropertiesOf(const Stack& stack,
                                                     const std::string& principal,
                                                     const std::string& password = "");

// Points a service configuration (config::ServiceConfig) at the stack's Kafka, as `principal` on
// a secured broker (default the admin principal: in-process apps of integration tests use groups
// and topics of their own).
template <typename Config>
void UseStackKafka(const Stack& stack, Config& config, const std::string& principal = "admin") {
  config.kafka_brokers = stack.kafka;
  if (!KafkaSecured(stack)) return;
  config.kafka_security_protocol = "SASL_SSL";
  config.kafka_tls_ca_file = stack.kafka_ca_file;
  config.kafka_sasl_mechanism = stack.kafka_properties.at("sasl.mechanisms");
  config.kafka_sasl_username = principal;
  config.kafka_sasl_password_file = stack.kafka_principals.at(principal).password_file;
}

// The same as YAML lines inside a `kafka:` section of a service's config file (indented by two),
// for tests that start a service binary; "" on an open broker.
std::string KafkaYaml(const Stack& stack, const std::string& principal = "admin");

// Reads $MELDPUNT_TEST_STACK/<name>/stack.json.
absl::StatusOr<Stack> LoadStack(const std::string& name = "infra");

// Commits the end of every partition of `topic` for consumer group `group`, so that a service
// started in that group handles only what is written after this call, not the records earlier
// tests left on the shared log (which its configuration may not be able to handle). A topic that
// does not exist yet has nothing to skip: OK, nothing committed.
absl::Status StartGroupAtEnd(const Stack& stack, const std::string& group,
                             const std::string& topic);

// A name no other test run uses (for topics, groups, keys).
std::string UniqueName(const std::string& prefix);
// The public master key of the development and test configurations (deploy/config).
std::string DevMasterKeyFile();

// A loopback port nothing listens on (bound, then released).
int ClosedPort();

// Polls `check` every 100 ms until it returns true or `limit` passes.
bool Eventually(const std::function<bool()>& check, absl::Duration limit);

}  // namespace meldpunt::testing
