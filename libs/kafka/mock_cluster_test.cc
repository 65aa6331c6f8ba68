// Component tests of the Kafka wrapper against librdkafka's in-process mock cluster. They prove
// the wrapper's semantics (acknowledgement, error mapping, manual commits, rebalance); the system
// itself is proven against a real broker in tests/integration and tests/e2e.
#include <arpa/inet.h>
#include <dirent.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "libs/kafka/consumer.h"
#include "libs/kafka/producer.h"
#include "prometheus/registry.h"

namespace meldpunt::kafka {
namespace {

constexpr int16_t kProduceApiKey = 0;  // Kafka protocol ApiKey of Produce

class MockCluster : public ::testing::Test {
 protected:
  void SetUp() override {
    char error[256];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "3", error, sizeof error);
    handle_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof error);
    ASSERT_NE(handle_, nullptr) << error;
    cluster_ = rd_kafka_mock_cluster_new(handle_, 1);
    ASSERT_NE(cluster_, nullptr);
    brokers_ = rd_kafka_mock_cluster_bootstraps(cluster_);
    ASSERT_EQ(rd_kafka_mock_topic_create(cluster_, "events", 2, 1), RD_KAFKA_RESP_ERR_NO_ERROR);
  }
  void TearDown() override {
    if (cluster_) rd_kafka_mock_cluster_destroy(cluster_);
    if (handle_) rd_kafka_destroy(handle_);
  }

  std::unique_ptr<Producer> MakeProducer(absl::Duration delivery_timeout = absl::Seconds(10)) {
    auto producer = Producer::Create({.brokers = brokers_, .delivery_timeout = delivery_timeout});
    EXPECT_TRUE(producer.ok()) << producer.status();
    return std::move(*producer);
  }

  rd_kafka_t* handle_ = nullptr;
  rd_kafka_mock_cluster_t* cluster_ = nullptr;
  std::string brokers_;
};

class RecordingListener : public RebalanceListener {
 public:
  void OnAssigned(const std::vector<TopicPartition>& partitions) override {
    assigned.insert(assigned.end(), partitions.begin(), partitions.end());
  }
  void OnRevoked(const std::vector<TopicPartition>& partitions) override {
    revoked += partitions.size();
  }
  std::vector<TopicPartition> assigned;
  size_t revoked = 0;
};

std::vector<Record> ReadN(Consumer& consumer, size_t n, absl::Duration limit) {
  std::vector<Record> out;
  const absl::Time deadline = absl::Now() + limit;
  while (out.size() < n && absl::Now() < deadline) {
    auto record = consumer.Poll(absl::Milliseconds(100));
    EXPECT_TRUE(record.ok()) << record.status();
    if (record.ok() && record->has_value()) out.push_back(**record);
  }
  return out;
}

bool WaitFor(const std::function<bool()>& check, absl::Duration limit = absl::Seconds(30)) {
  const absl::Time deadline = absl::Now() + limit;
  while (absl::Now() < deadline) {
    if (check()) return true;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return check();
}

// TCP_NODELAY of every socket of this process connected to `port` on loopback: the clients' ends
// of their connections to the mock broker (which runs in this process too; its own ends have the
// port as their local one, not their peer's).
std::vector<int> NoDelayOfConnectionsTo(int port) {
  std::vector<int> out;
  DIR* fds = opendir("/proc/self/fd");
  if (fds == nullptr) return out;
  while (const dirent* entry = readdir(fds)) {
    const int fd = std::atoi(entry->d_name);
    if (fd <= 2 || fd == dirfd(fds)) continue;
    sockaddr_in peer{};
    socklen_t size = sizeof peer;
    if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &size) != 0 ||
        peer.sin_family != AF_INET || ntohs(peer.sin_port) != port) {
      continue;
    }
    int nodelay = -1;
    socklen_t length = sizeof nodelay;
    if (getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &nodelay, &length) == 0) out.push_back(nodelay);
  }
  closedir(fds);
  return out;
}

// meldpunt_kafka_producer_queue, or -1 when the registry does not have it.
double QueueGauge(prometheus::Registry& registry) {
  for (const auto& family : registry.Collect()) {
    if (family.name == "meldpunt_kafka_producer_queue" && family.metric.size() == 1)
      return family.metric[0].gauge.value;
  }
  return -1;
}

TEST_F(MockCluster, SendReturnsOnlyAfterAcknowledgement) {
  auto producer = MakeProducer();
  auto delivered = producer->Send({"events", "MP-1", "payload", {{"event-type", "CaseSubmitted"}}},
                                  absl::Now() + absl::Seconds(10));
  ASSERT_TRUE(delivered.ok()) << delivered.status();
  EXPECT_GE(delivered->partition, 0);
  EXPECT_GE(delivered->offset, 0);
}

// With Nagle's algorithm a request written while an earlier one on the connection is unanswered
// (a produce request behind another, a commit beside a fetch) waits for the broker's reply.
TEST_F(MockCluster, ProducerAndConsumerConnectionsSendAtOnce) {
  auto producer = MakeProducer();
  ASSERT_TRUE(
      producer->Send({"events", "MP-1", "payload", {}}, absl::Now() + absl::Seconds(10)).ok());
  auto consumer = Consumer::Create({.brokers = brokers_, .group_id = "g", .topics = {"events"}});
  ASSERT_TRUE(consumer.ok()) << consumer.status();
  ASSERT_EQ(ReadN(**consumer, 1, absl::Seconds(20)).size(), 1u);
  const int port = std::atoi(brokers_.substr(brokers_.rfind(':') + 1).c_str());
  const std::vector<int> nodelay = NoDelayOfConnectionsTo(port);
  // At least the producer's connection and the consumer's (librdkafka may open more).
  ASSERT_GE(nodelay.size(), 2u);
  for (int value : nodelay) EXPECT_EQ(value, 1);
  (*consumer)->Close();
}

TEST_F(MockCluster, ConsumerReadsHeadersAndResumesAfterCommittedOffset) {
  auto producer = MakeProducer();
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(
        producer
            ->Send(
                {"events", "same-key", "v" + std::to_string(i), {{"event-id", std::to_string(i)}}},
                absl::Now() + absl::Seconds(10))
            .ok());
  }
  RecordingListener listener;
  {
    auto consumer =
        Consumer::Create({.brokers = brokers_, .group_id = "g1", .topics = {"events"}}, &listener);
    ASSERT_TRUE(consumer.ok()) << consumer.status();
    std::vector<Record> first = ReadN(**consumer, 2, absl::Seconds(20));
    ASSERT_EQ(first.size(), 2u);
    EXPECT_EQ(first[0].value, "v0");
    EXPECT_EQ(first[1].value, "v1");
    ASSERT_EQ(first[0].headers.size(), 1u);
    EXPECT_EQ(first[0].headers[0].first, "event-id");
    EXPECT_EQ(first[0].headers[0].second, "0");
    // Only the first record is handled: the next member of the group must start at v1.
    ASSERT_TRUE((*consumer)->Commit(first[0]).ok());
    (*consumer)->Close();
  }
  EXPECT_EQ(listener.assigned.size(), 2u);
  auto again = Consumer::Create({.brokers = brokers_, .group_id = "g1", .topics = {"events"}});
  ASSERT_TRUE(again.ok());
  std::vector<Record> rest = ReadN(**again, 2, absl::Seconds(20));
  ASSERT_EQ(rest.size(), 2u);
  EXPECT_EQ(rest[0].value, "v1");
  EXPECT_EQ(rest[1].value, "v2");
}

// A reader that needs only the values (a replay of the log) takes no headers off its records.
TEST_F(MockCluster, AReaderWithoutHeadersGetsTheRecordsWithoutThem) {
  auto producer = MakeProducer();
  ASSERT_TRUE(producer
                  ->Send({"events", "MP-1", "payload", {{"event-id", "ev-1"}}},
                         absl::Now() + absl::Seconds(10))
                  .ok());
  auto reader = Consumer::Create({.brokers = brokers_,
                                  .group_id = "replay",
                                  .topics = {"events"},
                                  .subscribe = false,
                                  .headers = false});
  ASSERT_TRUE(reader.ok()) << reader.status();
  ASSERT_TRUE((*reader)->AssignFromStart("events", 2).ok());
  std::vector<Record> read = ReadN(**reader, 1, absl::Seconds(20));
  ASSERT_EQ(read.size(), 1u);
  EXPECT_EQ(read[0].key, "MP-1");
  EXPECT_EQ(read[0].value, "payload");
  EXPECT_TRUE(read[0].headers.empty());
  (*reader)->Close();
}

TEST_F(MockCluster, RetriableBrokerErrorIsRetriedTransparently) {
  auto producer = MakeProducer();
  rd_kafka_mock_push_request_errors(cluster_, kProduceApiKey, 2,
                                    RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
                                    RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS);
  auto delivered = producer->Send({"events", "k", "v", {}}, absl::Now() + absl::Seconds(10));
  EXPECT_TRUE(delivered.ok()) << delivered.status();
}

TEST_F(MockCluster, PermanentBrokerErrorComesBackAsStatus) {
  auto producer = MakeProducer();
  rd_kafka_mock_push_request_errors(cluster_, kProduceApiKey, 1,
                                    RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
  auto delivered = producer->Send({"events", "k", "v", {}}, absl::Now() + absl::Seconds(10));
  ASSERT_FALSE(delivered.ok());
  EXPECT_EQ(delivered.status().code(), absl::StatusCode::kPermissionDenied) << delivered.status();
}

TEST_F(MockCluster, BrokerDownGivesUnavailableWithinTheDeadline) {
  auto producer = MakeProducer(absl::Seconds(2));
  ASSERT_TRUE(producer->Send({"events", "k", "warm", {}}, absl::Now() + absl::Seconds(10)).ok());
  rd_kafka_mock_broker_set_down(cluster_, 1);
  const absl::Time start = absl::Now();
  auto delivered = producer->Send({"events", "k", "v", {}}, start + absl::Milliseconds(1500));
  ASSERT_FALSE(delivered.ok());
  EXPECT_EQ(delivered.status().code(), absl::StatusCode::kUnavailable) << delivered.status();
  // Generous bound: the call must return around its deadline, not hang.
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
  rd_kafka_mock_broker_set_up(cluster_, 1);
}

TEST_F(MockCluster, QueueGaugeCountsRecordsWaitingForTheBrokerAcrossProducers) {
  prometheus::Registry registry;
  auto first = MakeProducer();
  auto second = MakeProducer();
  first->ExportMetrics(registry);
  second->ExportMetrics(registry);
  EXPECT_EQ(QueueGauge(registry), 0);
  ASSERT_TRUE(first->Send({"events", "k", "warm", {}}, absl::Now() + absl::Seconds(10)).ok());
  ASSERT_TRUE(second->Send({"events", "k", "warm", {}}, absl::Now() + absl::Seconds(10)).ok());
  rd_kafka_mock_broker_set_down(cluster_, 1);
  std::atomic<int> delivered{0};
  auto count = [&](absl::StatusOr<Delivered> result) {
    if (result.ok()) ++delivered;
  };
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(first->SendAsync({"events", "k", "a", {}}, count).ok());
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(second->SendAsync({"events", "k", "b", {}}, count).ok());
  // The queue also holds events not yet served (the broker going down): they pass quickly.
  EXPECT_TRUE(WaitFor([&] { return first->QueueLength() == 20 && second->QueueLength() == 5; }))
      << first->QueueLength() << " and " << second->QueueLength();
  // Sampled about once a second by each producer's poll thread; the two add up.
  EXPECT_TRUE(WaitFor([&] { return QueueGauge(registry) == 25; })) << QueueGauge(registry);
  rd_kafka_mock_broker_set_up(cluster_, 1);
  EXPECT_TRUE(WaitFor([&] { return QueueGauge(registry) == 0 && delivered == 25; }))
      << QueueGauge(registry) << " waiting, " << delivered << " delivered";
  // A producer that goes takes its share with it, and never below zero.
  second.reset();
  EXPECT_EQ(QueueGauge(registry), 0);
}

TEST_F(MockCluster, LagRisesWithUnhandledRecordsAndFallsAsTheyAreCommitted) {
  auto producer = MakeProducer();
  auto created = Consumer::Create({.brokers = brokers_, .group_id = "lag", .topics = {"events"}});
  ASSERT_TRUE(created.ok()) << created.status();
  Consumer& consumer = **created;
  // Join the group while the topic is empty: no record is taken by these polls.
  ASSERT_TRUE(WaitFor([&] {
    EXPECT_TRUE(consumer.Poll(absl::Milliseconds(100)).ok());
    return consumer.Assignment().size() == 2;
  }));
  EXPECT_EQ(consumer.Lag(), 0);

  auto produce = [&](int n) {
    for (int i = 0; i < n; ++i) {
      ASSERT_TRUE(producer
                      ->Send({"events", "key-" + std::to_string(i), "v", {}},
                             absl::Now() + absl::Seconds(10))
                      .ok());
    }
  };
  produce(10);  // over both partitions (murmur2 of the keys)
  // Nothing handled: the group has committed nothing, so all ten are behind.
  EXPECT_TRUE(WaitFor([&] { return consumer.Lag() == 10; })) << consumer.Lag();

  std::vector<Record> taken = ReadN(consumer, 4, absl::Seconds(20));
  ASSERT_EQ(taken.size(), 4u);
  // Taken is not handled: only commits move the lag.
  EXPECT_EQ(consumer.Lag(), 10);
  for (const Record& record : taken) ASSERT_TRUE(consumer.Commit(record).ok());
  EXPECT_EQ(consumer.Lag(), 6);

  std::vector<Record> rest = ReadN(consumer, 6, absl::Seconds(20));
  ASSERT_EQ(rest.size(), 6u);
  for (const Record& record : rest) ASSERT_TRUE(consumer.Commit(record).ok());
  EXPECT_EQ(consumer.Lag(), 0);

  produce(3);
  EXPECT_TRUE(WaitFor([&] { return consumer.Lag() == 3; })) << consumer.Lag();
}

TEST_F(MockCluster, LagStartsFromTheGroupsCommittedOffset) {
  auto producer = MakeProducer();
  for (int i = 0; i < 6; ++i) {
    ASSERT_TRUE(
        producer->Send({"events", "same-key", "v", {}}, absl::Now() + absl::Seconds(10)).ok());
  }
  {
    auto first =
        Consumer::Create({.brokers = brokers_, .group_id = "resume", .topics = {"events"}});
    ASSERT_TRUE(first.ok());
    std::vector<Record> two = ReadN(**first, 2, absl::Seconds(20));
    ASSERT_EQ(two.size(), 2u);
    for (const Record& record : two) ASSERT_TRUE((*first)->Commit(record).ok());
    (*first)->Close();  // commits synchronously
  }
  // The next member has handled nothing itself: its lag comes from the committed offset.
  auto next = Consumer::Create({.brokers = brokers_, .group_id = "resume", .topics = {"events"}});
  ASSERT_TRUE(next.ok());
  Consumer& consumer = **next;
  ASSERT_TRUE(WaitFor([&] {
    // Polls join the group; a record they take is not handled, so the lag stays 4 either way.
    EXPECT_TRUE(consumer.Poll(absl::Milliseconds(100)).ok());
    return consumer.Assignment().size() == 2;
  }));
  EXPECT_TRUE(WaitFor([&] { return consumer.Lag() == 4; })) << consumer.Lag();
}

TEST_F(MockCluster, CreateRejectsBadOptionsByName) {
  auto producer = Producer::Create({.brokers = brokers_, .extra = {{"no.such.property", "1"}}});
  ASSERT_FALSE(producer.ok());
  EXPECT_NE(producer.status().message().find("no.such.property"), std::string::npos);
  auto consumer = Consumer::Create({.brokers = brokers_, .group_id = "", .topics = {"events"}});
  EXPECT_EQ(consumer.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace meldpunt::kafka
