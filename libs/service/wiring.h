// The wiring every service repeats: its Kafka topics, producer and case-event consumer, and its
// Redis pool, built from the shared ServiceConfig; and the run loop of an app.
//
//   RETURN_IF_ERROR(EnsureTopicsAtStart(config_, {{DispatchTopic("x"), 3, 1}}));
//   ASSIGN_OR_RETURN(producer_, MakeProducer(config_, "meldpunt-routing"));
//   ASSIGN_OR_RETURN(auto consumer, MakeCaseEventConsumer(config_, "meldpunt-routing",
//   "meldpunt-routing")); ASSIGN_OR_RETURN(redis_, ConnectRedisAtStart(config_,
//   {RedisTimerStore::ClaimScript()}));
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/security/server_credentials.h>

#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "libs/auth/auth.h"
#include "libs/config/service_config.h"
#include "libs/events/event_consumer.h"
#include "libs/kafka/admin.h"
#include "libs/kafka/consumer.h"
#include "libs/kafka/producer.h"
#include "libs/privacy/privacy.h"
#include "libs/redis/redis.h"
#include "libs/service/runtime.h"

namespace meldpunt::service {

// meldpunt.case-events.v1 (config's partitions and replication), its dead-letter topic
// meldpunt.case-events.dlq.v1 (one partition) plus `extra`; waits for Kafka up to
// startup.timeout.
absl::Status EnsureTopicsAtStart(const config::ServiceConfig& config,
                                 const std::vector<kafka::TopicSpec>& extra = {});

absl::StatusOr<std::unique_ptr<kafka::Producer>> MakeProducer(const config::ServiceConfig& config,
                                                              const std::string& client_id);

// The librdkafka security properties of the service's Kafka clients (kafka.security.protocol,
// kafka.tls.*, kafka.sasl.*; the password file read now). Every client below carries them.
absl::StatusOr<std::map<std::string, std::string>> KafkaSecurityProperties(
    const config::ServiceConfig& config);

// Makes every Kafka client of this process carry the config's security (kafka::SetProcessSecurity),
// also those made without the helpers here, and says at start how the clients connect (a warning
// when PLAINTEXT). RunApp calls it before the app makes any client.
absl::Status InstallKafkaSecurity(const config::ServiceConfig& config);

// kafka::EnsureTopics with the config's brokers and security (topics created after start, e.g.
// a department added to the routing rules).
absl::Status EnsureTopics(const config::ServiceConfig& config,
                          const std::vector<kafka::TopicSpec>& topics, absl::Duration timeout);

// A consumer of any topics with the config's brokers and security; `options.brokers` is filled
// in, `options.extra` comes on top of the security (it may not name security properties).
absl::StatusOr<std::unique_ptr<kafka::Consumer>> MakeConsumer(
    const config::ServiceConfig& config, kafka::ConsumerOptions options,
    kafka::RebalanceListener* listener = nullptr);

// The case-event consumer fetches in fewer, fuller requests than librdkafka's defaults (which
// answer a fetch as soon as one byte is there): the broker holds a fetch until 32 KiB are waiting
// or kafka.fetch_wait (20 ms; routing 5 ms) has passed. Measured on the whole pipeline
// (docs/benchmarks.md, "Fewer, fuller fetches"): Fetch requests per case 11.5 -> 3.7 and the
// stack's CPU per case 10.8 -> 7.6 ms at the maximum rate, at the price of up to the wait per hop
// when the log is quiet and an empty fetch per wait and consumer at rest.
// kafka.consumer_properties overrides either.
inline constexpr char kFetchMinBytes[] = "32768";

// The prefetch queue bounded by its bytes only (queued.max.messages.kbytes, 64 MiB), not by
// librdkafka's default count of 100,000 records: past either bound librdkafka stops fetching and
// looks again only at its next wake-up, up to a second later (librdkafka 2.0; 2.1 added
// fetch.queue.backoff.ms for it). A consumer that falls behind its fetches (a rebuild's replay,
// a consumer catching up) then emptied its 100,000 records (about 32 MB of case events) in 0.7 s
// and waited the rest of the second: a rebuild of the projection stood still 0.2-0.3 s of every
// second, 3.0 s against 2.5 for 420,000 events (docs/benchmarks.md, "The replay's prefetch
// bounded by bytes"). 64 MiB holds more than a second of any replay's records.
inline constexpr char kQueuedMinMessages[] = "10000000";

// The librdkafka properties of the case-event consumer: fetch.min.bytes and queued.min.messages
// above and fetch.wait.max.ms from kafka.fetch_wait, then kafka.consumer_properties on top.
std::map<std::string, std::string> CaseEventConsumerProperties(const config::ServiceConfig& config);

absl::StatusOr<std::unique_ptr<kafka::Consumer>> MakeCaseEventConsumer(
    const config::ServiceConfig& config, const std::string& group, const std::string& client_id,
    kafka::RebalanceListener* listener = nullptr);

// A reader of the whole case log in no group (a replay): the case-event consumer's properties,
// kafka::ConsumerOptions::subscribe false (Consumer::AssignFromStart gives it the partitions),
// and no headers (the replay reads the values only).
absl::StatusOr<std::unique_ptr<kafka::Consumer>> MakeCaseLogReader(
    const config::ServiceConfig& config, const std::string& client_id);

// How the service's consume-handle-commit loop runs (kafka.consumer_lanes); a rebuild's replay
// uses the same number of lanes.
// Records it cannot handle go to `dead_letters` (MakeDeadLetters, libs/service/dead_letters.h).
// With redis.wait_replicas above 0, the loop confirms through `durability` that replicas hold
// what its handlers wrote to Redis before it commits (RedisDurability).
events::EventConsumerOptions LoopOptions(const config::ServiceConfig& config,
                                         events::DeadLetterSink* dead_letters = nullptr,
                                         events::Durability* durability = nullptr);

// A consumer loop's writes to one Redis, durable once redis.wait_replicas replicas hold them
// (redis::Client::WaitForReplicas).
class RedisDurability final : public events::Durability {
 public:
  explicit RedisDurability(redis::Client& redis) : redis_(redis) {}
  int64_t Mark() override { return redis_.DurabilityMark(); }
  absl::Status Confirm(int64_t mark) override {
    absl::Status confirmed = redis_.WaitForReplicas(mark);
    if (!confirmed.ok()) last_failure_ms_ = absl::ToUnixMillis(absl::Now());
    return confirmed;
  }
  // A confirmation failed within the last `window`: the loop is handling records again, and
  // after a failover Redis may lack what they, and the records polled after them, wrote until the
  // loop has folded them again (e.g. a case the intake answered from its event). The window
  // covers the records after the redone ones, which are handled only once those are committed.
  bool behind(absl::Duration window = absl::Seconds(10)) const {
    return absl::ToUnixMillis(absl::Now()) - last_failure_ms_.load() <
           absl::ToInt64Milliseconds(window);
  }

 private:
  redis::Client& redis_;
  std::atomic<int64_t> last_failure_ms_{INT64_MIN / 2};
};

// Waits for Redis up to startup.timeout.
absl::StatusOr<std::unique_ptr<redis::Client>> ConnectRedisAtStart(
    const config::ServiceConfig& config, std::vector<redis::Script> scripts = {});

// Who may call the gRPC port: the guard every handler asks, and the port's credentials (TLS,
// mTLS, or plaintext on loopback). Logs a warning at start when the port is plaintext, and a
// louder one when it lets every call in unauthenticated.
struct GrpcSecurity {
  std::unique_ptr<auth::Guard> guard;
  std::shared_ptr<grpc::ServerCredentials> credentials;
};
absl::StatusOr<GrpcSecurity> MakeGrpcSecurity(const config::ServiceConfig& config,
                                              prometheus::Registry* registry);

// The reporters' data keys: the key store's Redis (waited for up to startup.timeout), the master
// key read from privacy.master_key_file, and the sealer over them.
struct Privacy {
  std::unique_ptr<redis::Client> redis;
  std::unique_ptr<privacy::RedisKeyStore> keys;
  std::unique_ptr<privacy::Sealer> sealer;
};
absl::StatusOr<Privacy> ConnectKeyStoreAtStart(const config::ServiceConfig& config);

// Builds the app, starts it, serves until SIGTERM or SIGINT, then drains it.
template <typename App, typename Config>
absl::Status RunApp(const Config& config) {
  if (absl::Status secured = InstallKafkaSecurity(config); !secured.ok()) return secured;
  App app(config);
  if (absl::Status started = app.Start(); !started.ok()) return started;
  WaitForShutdownSignal();
  app.Stop();
  return FailureExitReason();  // OK after SIGTERM; the reason after RequestFailureExit
}

}  // namespace meldpunt::service
