#include "libs/service/wiring.h"

#include "libs/events/topics.h"
#include "libs/status/status_macros.h"

namespace meldpunt::service {

absl::Status EnsureTopicsAtStart(const config::ServiceConfig& config,
                                 const std::vector<kafka::TopicSpec>& extra) {
  std::vector<kafka::TopicSpec> topics = {{events::kCaseEventsTopic,
                                           static_cast<int>(config.case_events_partitions),
                                           static_cast<int>(config.replication_factor)}};
  topics.insert(topics.end(), extra.begin(), extra.end());
  return RetryUntilAvailable("kafka", config.startup_timeout, [&] {
    return kafka::EnsureTopics(config.kafka_brokers, topics, absl::Seconds(5));
  });
}

absl::StatusOr<std::unique_ptr<kafka::Producer>> MakeProducer(const config::ServiceConfig& config,
                                                              const std::string& client_id) {
  return kafka::Producer::Create({.brokers = config.kafka_brokers,
                                  .client_id = client_id,
                                  .delivery_timeout = config.produce_timeout,
                                  .linger = config.producer_linger});
}

absl::StatusOr<std::unique_ptr<kafka::Consumer>> MakeCaseEventConsumer(
    const config::ServiceConfig& config, const std::string& group, const std::string& client_id,
    kafka::RebalanceListener* listener) {
  return kafka::Consumer::Create({.brokers = config.kafka_brokers,
                                  .group_id = group,
                                  .topics = {events::kCaseEventsTopic},
                                  .client_id = client_id},
                                 listener);
}

events::EventConsumerOptions LoopOptions(const config::ServiceConfig& config) {
  return {.lanes = static_cast<int>(config.consumer_lanes)};
}

absl::StatusOr<std::unique_ptr<redis::Client>> ConnectRedisAtStart(
    const config::ServiceConfig& config, std::vector<redis::Script> scripts) {
  std::unique_ptr<redis::Client> client;
  RETURN_IF_ERROR(RetryUntilAvailable("redis", config.startup_timeout, [&]() -> absl::Status {
    ASSIGN_OR_RETURN(
        client, redis::Client::Create({.address = config.redis_address,
                                       .scripts = scripts,
                                       .pool_size = static_cast<int>(config.redis_pool_size)}));
    return absl::OkStatus();
  }));
  return client;
}

}  // namespace meldpunt::service
