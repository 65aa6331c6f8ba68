#include "libs/kafka/admin.h"

#include <librdkafka/rdkafka.h>

#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "libs/kafka/errors.h"
#include "libs/kafka/security.h"

namespace meldpunt::kafka {
namespace {

absl::Status CreateOnce(rd_kafka_t* rk, const std::vector<TopicSpec>& topics,
                        absl::Duration timeout) {
  std::vector<rd_kafka_NewTopic_t*> new_topics;
  char error[512];
  for (const TopicSpec& spec : topics) {
    rd_kafka_NewTopic_t* topic = rd_kafka_NewTopic_new(
        spec.name.c_str(), spec.partitions, spec.replication_factor, error, sizeof error);
    if (topic == nullptr) {
      for (auto* t : new_topics) rd_kafka_NewTopic_destroy(t);
      return absl::InvalidArgumentError(absl::StrCat("topic ", spec.name, ": ", error));
    }
    for (const auto& [key, value] : spec.config)
      rd_kafka_NewTopic_set_config(topic, key.c_str(), value.c_str());
    new_topics.push_back(topic);
  }
  rd_kafka_AdminOptions_t* options = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
  rd_kafka_AdminOptions_set_request_timeout(
      options, static_cast<int>(absl::ToInt64Milliseconds(timeout)), error, sizeof error);
  rd_kafka_queue_t* queue = rd_kafka_queue_new(rk);
  rd_kafka_CreateTopics(rk, new_topics.data(), new_topics.size(), options, queue);
  rd_kafka_event_t* event =
      rd_kafka_queue_poll(queue, static_cast<int>(absl::ToInt64Milliseconds(timeout)) + 1000);
  absl::Status result = absl::OkStatus();
  if (event == nullptr) {
    result = absl::UnavailableError("create topics: no answer from the broker");
  } else if (rd_kafka_event_error(event) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    result = ToStatus(static_cast<RdKafka::ErrorCode>(rd_kafka_event_error(event)),
                      absl::StrCat("create topics: ", rd_kafka_event_error_string(event)));
  } else {
    const rd_kafka_CreateTopics_result_t* created = rd_kafka_event_CreateTopics_result(event);
    size_t count = 0;
    const rd_kafka_topic_result_t** results = rd_kafka_CreateTopics_result_topics(created, &count);
    for (size_t i = 0; i < count && result.ok(); ++i) {
      rd_kafka_resp_err_t err = rd_kafka_topic_result_error(results[i]);
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR || err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
        continue;
      const char* message = rd_kafka_topic_result_error_string(results[i]);
      result = ToStatus(static_cast<RdKafka::ErrorCode>(err),
                        absl::StrCat("create topic ", rd_kafka_topic_result_name(results[i]), ": ",
                                     message ? message : ""));
    }
  }
  if (event) rd_kafka_event_destroy(event);
  rd_kafka_queue_destroy(queue);
  rd_kafka_AdminOptions_destroy(options);
  for (auto* t : new_topics) rd_kafka_NewTopic_destroy(t);
  return result;
}

}  // namespace

absl::Status EnsureTopics(const std::string& brokers, const std::vector<TopicSpec>& topics,
                          absl::Duration timeout, const std::map<std::string, std::string>& extra) {
  if (topics.empty()) return absl::OkStatus();
  char error[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  if (rd_kafka_conf_set(conf, "bootstrap.servers", brokers.c_str(), error, sizeof error) !=
      RD_KAFKA_CONF_OK) {
    rd_kafka_conf_destroy(conf);
    return absl::InvalidArgumentError(absl::StrCat("kafka admin: ", error));
  }
  std::map<std::string, std::string> properties = ProcessSecurity();
  for (const auto& [key, value] : extra) properties[key] = value;
  for (const auto& [key, value] : properties) {
    if (rd_kafka_conf_set(conf, key.c_str(), value.c_str(), error, sizeof error) !=
        RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      return absl::InvalidArgumentError(absl::StrCat("kafka admin property '", key, "': ", error));
    }
  }
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof error);
  if (rk == nullptr) return absl::InvalidArgumentError(absl::StrCat("kafka admin: ", error));
  const absl::Time deadline = absl::Now() + timeout;
  absl::Status status;
  do {
    status =
        CreateOnce(rk, topics,
                   std::min(absl::Seconds(10), std::max(absl::Seconds(1), deadline - absl::Now())));
    if (status.ok() || status.code() != absl::StatusCode::kUnavailable) break;
    absl::SleepFor(absl::Milliseconds(500));
  } while (absl::Now() < deadline);
  rd_kafka_destroy(rk);
  return status;
}

}  // namespace meldpunt::kafka
