#include "tests/testing/stack.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include <librdkafka/rdkafkacpp.h>

#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "libs/events/ids.h"
#include "nlohmann/json.hpp"

namespace meldpunt::testing {

absl::Status StartGroupAtEnd(const Stack& stack, const std::string& group,
                             const std::string& topic) {
  std::string error;
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::map<std::string, std::string> properties = stack.kafka_properties;
  properties["bootstrap.servers"] = stack.kafka;
  properties["group.id"] = group;
  properties["enable.auto.commit"] = "false";
  for (const auto& [k, v] : properties) {
    if (conf->set(k, v, error) != RdKafka::Conf::CONF_OK) {
      return absl::InvalidArgumentError(absl::StrCat(k, ": ", error));
    }
  }
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(
      RdKafka::KafkaConsumer::create(conf.get(), error));
  if (consumer == nullptr) return absl::InternalError(error);
  std::unique_ptr<RdKafka::Topic> handle(
      RdKafka::Topic::create(consumer.get(), topic, nullptr, error));
  if (handle == nullptr) return absl::InternalError(error);
  RdKafka::Metadata* raw = nullptr;
  if (RdKafka::ErrorCode code = consumer->metadata(false, handle.get(), &raw, 10000);
      code != RdKafka::ERR_NO_ERROR) {
    return absl::UnavailableError(
        absl::StrCat("metadata of ", topic, ": ", RdKafka::err2str(code)));
  }
  std::unique_ptr<RdKafka::Metadata> metadata(raw);
  std::vector<RdKafka::TopicPartition*> ends;
  absl::Status status = absl::OkStatus();
  for (const RdKafka::TopicMetadata* t : *metadata->topics()) {
    if (t->topic() != topic) continue;
    for (const RdKafka::PartitionMetadata* p : *t->partitions()) {
      int64_t low = 0, high = 0;
      if (RdKafka::ErrorCode code =
              consumer->query_watermark_offsets(topic, p->id(), &low, &high, 10000);
          code != RdKafka::ERR_NO_ERROR) {
        status = absl::UnavailableError(absl::StrCat("watermarks: ", RdKafka::err2str(code)));
        break;
      }
      ends.push_back(RdKafka::TopicPartition::create(topic, p->id(), high));
    }
  }
  // No topic yet (a fresh stack): no earlier record to skip, the group starts at its beginning.
  if (status.ok() && !ends.empty()) {
    if (RdKafka::ErrorCode code = consumer->commitSync(ends); code != RdKafka::ERR_NO_ERROR) {
      status = absl::UnavailableError(absl::StrCat("commit: ", RdKafka::err2str(code)));
    }
  }
  RdKafka::TopicPartition::destroy(ends);
  consumer->close();
  return status;
}

absl::StatusOr<Stack> LoadStack(const std::string& name) {
  const char* root = std::getenv("MELDPUNT_TEST_STACK");
  if (root == nullptr) {
    return absl::FailedPreconditionError(
        "MELDPUNT_TEST_STACK is not set: run this test through ctest");
  }
  const std::string path = absl::StrCat(root, "/", name, "/stack.json");
  std::ifstream in(path);
  if (!in)
    return absl::FailedPreconditionError(
        absl::StrCat("no stack at ", path, " (fixture not started?)"));
  nlohmann::json json;
  try {
    in >> json;
  } catch (const std::exception& e) {
    return absl::FailedPreconditionError(absl::StrCat(path, ": ", e.what()));
  }
  Stack stack;
  stack.redis = json.value("redis", "");
  stack.key_store = json.value("key_store", "");
  stack.kafka = json.value("kafka", "");
  stack.smtp = json.value("smtp", "");
  stack.smtp_dir = json.value("smtp_dir", "");
  stack.webhook = json.value("webhook", "");
  stack.webhook_dir = json.value("webhook_dir", "");
  if (json.contains("kafka_security") && json["kafka_security"].is_object()) {
    const nlohmann::json& security = json["kafka_security"];
    stack.kafka_ca_file = security.value("ca_file", "");
    for (auto it = security["admin_properties"].begin(); it != security["admin_properties"].end();
         ++it) {
      stack.kafka_properties[it.key()] = it.value().get<std::string>();
    }
    for (auto it = security["principals"].begin(); it != security["principals"].end(); ++it) {
      stack.kafka_principals[it.key()] = {it.value().value("password", ""),
                                          it.value().value("password_file", "")};
    }
  }
  if (json.contains("services") && json["services"].is_object()) {
    for (auto it = json["services"].begin(); it != json["services"].end(); ++it) {
      stack.services[it.key()] = {it.value().value("grpc", ""), it.value().value("admin", ""),
                                  it.value().value("http", "")};
    }
  }
  if (json.contains("processes") && json["processes"].is_object()) {
    for (auto it = json["processes"].begin(); it != json["processes"].end(); ++it) {
      if (it.value().is_object() && it.value().contains("pid"))
        stack.pids[it.key()] = it.value()["pid"].get<int>();
    }
  }
  return stack;
}

std::map<std::string, std::string> KafkaPropertiesOf(const Stack& stack,
                                                     const std::string& principal,
                                                     const std::string& password) {
  if (!KafkaSecured(stack)) return {};
  std::map<std::string, std::string> properties = stack.kafka_properties;
  properties["sasl.username"] = principal;
  auto it = stack.kafka_principals.find(principal);
  properties["sasl.password"] = !password.empty()                    ? password
                                : it != stack.kafka_principals.end() ? it->second.password
                                                                     : "";
  return properties;
}

std::string KafkaYaml(const Stack& stack, const std::string& principal) {
  if (!KafkaSecured(stack)) return "";
  return absl::StrCat(
      "  security:\n    protocol: SASL_SSL\n  tls:\n    ca_file: ", stack.kafka_ca_file,
      "\n  sasl:\n    mechanism: ", stack.kafka_properties.at("sasl.mechanisms"),
      "\n    username: ", principal,
      "\n    password_file: ", stack.kafka_principals.at(principal).password_file, "\n");
}

std::string UniqueName(const std::string& prefix) {
  return absl::StrCat(prefix, "-", events::RandomId("t").substr(2, 12));
}

int ClosedPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  socklen_t length = sizeof address;
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  close(fd);
  return ntohs(address.sin_port);
}

bool Eventually(const std::function<bool()>& check, absl::Duration limit) {
  const absl::Time deadline = absl::Now() + limit;
  while (absl::Now() < deadline) {
    if (check()) return true;
    absl::SleepFor(absl::Milliseconds(100));
  }
  return check();
}

}  // namespace meldpunt::testing

namespace meldpunt::testing {

std::string DevMasterKeyFile() {
  const char* source = std::getenv("MELDPUNT_SOURCE_DIR");
  return std::string(source == nullptr ? "." : source) + "/deploy/config/dev-master.key";
}

}  // namespace meldpunt::testing
