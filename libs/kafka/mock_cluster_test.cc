// Component tests of the Kafka wrapper against librdkafka's in-process mock cluster. They prove
// the wrapper's semantics (acknowledgement, error mapping, manual commits, rebalance); the system
// itself is proven against a real broker in tests/integration and tests/e2e.
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <gtest/gtest.h>

#include "absl/time/clock.h"
#include "libs/kafka/consumer.h"
#include "libs/kafka/producer.h"

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

TEST_F(MockCluster, SendReturnsOnlyAfterAcknowledgement) {
  auto producer = MakeProducer();
  auto delivered = producer->Send({"events", "MP-1", "payload", {{"event-type", "CaseSubmitted"}}},
                                  absl::Now() + absl::Seconds(10));
  ASSERT_TRUE(delivered.ok()) << delivered.status();
  EXPECT_GE(delivered->partition, 0);
  EXPECT_GE(delivered->offset, 0);
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

TEST_F(MockCluster, CreateRejectsBadOptionsByName) {
  auto producer = Producer::Create({.brokers = brokers_, .extra = {{"no.such.property", "1"}}});
  ASSERT_FALSE(producer.ok());
  EXPECT_NE(producer.status().message().find("no.such.property"), std::string::npos);
  auto consumer = Consumer::Create({.brokers = brokers_, .group_id = "", .topics = {"events"}});
  EXPECT_EQ(consumer.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace meldpunt::kafka
