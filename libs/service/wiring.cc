#include "libs/service/wiring.h"

#include "absl/strings/str_cat.h"
#include "libs/events/topics.h"
#include "libs/kafka/security.h"
#include "libs/observability/log.h"
#include "libs/status/status_macros.h"

namespace meldpunt::service {

absl::StatusOr<std::map<std::string, std::string>> KafkaSecurityProperties(
    const config::ServiceConfig& config) {
  return kafka::SecurityProperties(config.kafka_security());
}

absl::Status InstallKafkaSecurity(const config::ServiceConfig& config) {
  ASSIGN_OR_RETURN(auto properties, KafkaSecurityProperties(config));
  kafka::SetProcessSecurity(std::move(properties));
  if (config.kafka_security_protocol == "PLAINTEXT") {
    log::Warning(
        "INSECURE: the Kafka clients are plaintext and unauthenticated "
        "(kafka.security.protocol PLAINTEXT). Development on loopback only.",
        {{"kafka", config.kafka_brokers}});
  } else {
    log::Info(
        "Kafka clients secured",
        {{"kafka", config.kafka_brokers},
         {"protocol", config.kafka_security_protocol},
         {"principal", config.kafka_security_protocol == "SASL_SSL"
                           ? config.kafka_sasl_username
                           : (config.kafka_tls_cert_file.empty() ? "(none)" : "(certificate)")}});
  }
  return absl::OkStatus();
}

absl::Status EnsureTopics(const config::ServiceConfig& config,
                          const std::vector<kafka::TopicSpec>& topics, absl::Duration timeout) {
  ASSIGN_OR_RETURN(auto properties, KafkaSecurityProperties(config));
  return kafka::EnsureTopics(config.kafka_brokers, topics, timeout, properties);
}

absl::Status EnsureTopicsAtStart(const config::ServiceConfig& config,
                                 const std::vector<kafka::TopicSpec>& extra) {
  const int rf = static_cast<int>(config.replication_factor);
  std::vector<kafka::TopicSpec> topics = {
      events::TopicSpecFor(events::kCaseEventsTopic,
                           static_cast<int>(config.case_events_partitions), rf),
      events::TopicSpecFor(events::kCaseEventsDeadLetterTopic, 1, rf)};
  topics.insert(topics.end(), extra.begin(), extra.end());
  return RetryUntilAvailable("kafka", config.startup_timeout,
                             [&] { return EnsureTopics(config, topics, absl::Seconds(5)); });
}

absl::StatusOr<std::unique_ptr<kafka::Producer>> MakeProducer(const config::ServiceConfig& config,
                                                              const std::string& client_id) {
  ASSIGN_OR_RETURN(auto properties, KafkaSecurityProperties(config));
  for (const auto& [key, value] : config.producer_properties) properties[key] = value;
  return kafka::Producer::Create({.brokers = config.kafka_brokers,
                                  .client_id = client_id,
                                  .delivery_timeout = config.produce_timeout,
                                  .linger = config.producer_linger,
                                  .extra = std::move(properties)});
}

absl::StatusOr<std::unique_ptr<kafka::Consumer>> MakeConsumer(const config::ServiceConfig& config,
                                                              kafka::ConsumerOptions options,
                                                              kafka::RebalanceListener* listener) {
  ASSIGN_OR_RETURN(auto properties, KafkaSecurityProperties(config));
  for (const auto& [key, value] : options.extra) {
    if (kafka::IsSecurityProperty(key)) {
      return absl::InvalidArgumentError(
          absl::StrCat("kafka consumer property '", key, "': set by kafka.security.* only"));
    }
    properties[key] = value;
  }
  options.brokers = config.kafka_brokers;
  options.extra = std::move(properties);
  return kafka::Consumer::Create(options, listener);
}

std::map<std::string, std::string> CaseEventConsumerProperties(
    const config::ServiceConfig& config) {
  std::map<std::string, std::string> properties = {
      {"fetch.min.bytes", kFetchMinBytes},
      {"queued.min.messages", kQueuedMinMessages},
      {"fetch.wait.max.ms", absl::StrCat(absl::ToInt64Milliseconds(config.consumer_fetch_wait))}};
  for (const auto& [key, value] : config.consumer_properties) properties[key] = value;
  return properties;
}

absl::StatusOr<std::unique_ptr<kafka::Consumer>> MakeCaseEventConsumer(
    const config::ServiceConfig& config, const std::string& group, const std::string& client_id,
    kafka::RebalanceListener* listener) {
  return MakeConsumer(config,
                      {.brokers = config.kafka_brokers,
                       .group_id = group,
                       .topics = {events::kCaseEventsTopic},
                       .client_id = client_id,
                       .extra = CaseEventConsumerProperties(config)},
                      listener);
}

absl::StatusOr<std::unique_ptr<kafka::Consumer>> MakeCaseLogReader(
    const config::ServiceConfig& config, const std::string& client_id) {
  return MakeConsumer(config, {.brokers = config.kafka_brokers,
                               .group_id = client_id,
                               .topics = {events::kCaseEventsTopic},
                               .client_id = client_id,
                               .extra = CaseEventConsumerProperties(config),
                               .subscribe = false,
                               .headers = false});
}

events::EventConsumerOptions LoopOptions(const config::ServiceConfig& config,
                                         events::DeadLetterSink* dead_letters,
                                         events::Durability* durability) {
  return {.lanes = static_cast<int>(config.consumer_lanes),
          .lane_min_records = static_cast<int>(config.consumer_lane_min_records),
          .dead_letters = dead_letters,
          .inert = nullptr,
          .durability = config.redis_wait_replicas > 0 ? durability : nullptr};
}

namespace {

// A Redis client for `address` (or the primary `sentinels` name), waiting for it up to
// startup.timeout.
absl::StatusOr<std::unique_ptr<redis::Client>> ConnectAtStart(const config::ServiceConfig& config,
                                                              const std::string& what,
                                                              const std::string& address,
                                                              const std::string& sentinels,
                                                              const std::string& master_name,
                                                              std::vector<redis::Script> scripts) {
  const redis::Options options = {.address = address,
                                  .sentinels = config::SplitList(sentinels),
                                  .master_name = master_name,
                                  .wait_replicas = static_cast<int>(config.redis_wait_replicas),
                                  .wait_timeout = config.redis_wait_timeout,
                                  .scripts = std::move(scripts),
                                  .pool_size = static_cast<int>(config.redis_pool_size)};
  std::unique_ptr<redis::Client> client;
  RETURN_IF_ERROR(RetryUntilAvailable(what, config.startup_timeout, [&]() -> absl::Status {
    ASSIGN_OR_RETURN(client, redis::Client::Create(options));
    return absl::OkStatus();
  }));
  return client;
}

}  // namespace

absl::StatusOr<std::unique_ptr<redis::Client>> ConnectRedisAtStart(
    const config::ServiceConfig& config, std::vector<redis::Script> scripts) {
  return ConnectAtStart(config, "redis", config.redis_address, config.redis_sentinels,
                        config.redis_master_name, std::move(scripts));
}

}  // namespace meldpunt::service

namespace meldpunt::service {

absl::StatusOr<GrpcSecurity> MakeGrpcSecurity(const config::ServiceConfig& config,
                                              prometheus::Registry* registry) {
  const auth::SecurityOptions options = config.security();
  RETURN_IF_ERROR(auth::CheckOptions(options, config.grpc_listen));
  GrpcSecurity security;
  ASSIGN_OR_RETURN(security.guard, auth::Guard::Create(options, registry));
  ASSIGN_OR_RETURN(security.credentials, auth::ServerCredentials(options));
  if (security.guard->open()) {
    log::Warning(
        "INSECURE: the gRPC port is plaintext and lets every call in unauthenticated, with every "
        "role (grpc.plaintext_loopback without auth.jwt.key_set_file). Development on loopback "
        "only.",
        {{"grpc", config.grpc_listen}});
  } else if (options.plaintext_loopback) {
    log::Warning(
        "the gRPC port is plaintext (grpc.plaintext_loopback): bearer tokens cross it "
        "unencrypted. Development on loopback only.",
        {{"grpc", config.grpc_listen}});
  } else {
    log::Info("gRPC port secured",
              {{"grpc", config.grpc_listen},
               {"tls", "on"},
               {"client_certificates", options.tls_client_ca_file.empty() ? "no" : "required"},
               {"bearer_tokens", options.jwt_key_set_file.empty() ? "no" : "key set"},
               {"token_issuer", options.jwt_issuer}});
  }
  return security;
}

}  // namespace meldpunt::service

namespace meldpunt::service {

absl::StatusOr<Privacy> ConnectKeyStoreAtStart(const config::ServiceConfig& config) {
  ASSIGN_OR_RETURN(std::string master, privacy::ReadMasterKey("privacy.master_key_file",
                                                              config.privacy_master_key_file));
  Privacy p;
  ASSIGN_OR_RETURN(p.redis,
                   ConnectAtStart(config, "key store", config.key_store_address,
                                  config.key_store_sentinels, config.key_store_master_name, {}));
  p.keys = std::make_unique<privacy::RedisKeyStore>(*p.redis, std::move(master));
  p.sealer = std::make_unique<privacy::Sealer>(*p.keys);
  return p;
}

}  // namespace meldpunt::service
