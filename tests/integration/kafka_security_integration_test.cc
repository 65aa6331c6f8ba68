// The locked broker of the test stack (stack.py start-infra --secure-kafka): TLS, a SCRAM user per
// service, department and ops, and ACLs. Each forbidden operation is tried for real and must end
// in the broker's authorization (or authentication) error, so this fails against an open broker.
// Raw librdkafka, so that no wrapper retries or hides an error.
#include <librdkafka/rdkafka.h>

#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "libs/events/topics.h"
#include "libs/kafka/admin.h"
#include "libs/kafka/consumer.h"
#include "libs/kafka/producer.h"
#include "tests/testing/stack.h"

namespace meldpunt {
namespace {

using Properties = std::map<std::string, std::string>;

// The errors librdkafka reported through error_cb (authentication, transport).
struct ErrorLog {
  absl::Mutex mu;
  std::vector<rd_kafka_resp_err_t> errors ABSL_GUARDED_BY(mu);
  bool Saw(rd_kafka_resp_err_t err) {
    absl::MutexLock lock(&mu);
    for (auto e : errors)
      if (e == err) return true;
    return false;
  }
};

struct Delivery {
  bool done = false;
  rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
};

rd_kafka_t* NewClient(rd_kafka_type_t type, const std::string& brokers, const Properties& props,
                      ErrorLog* log, const std::string& group = "") {
  char error[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  Properties all = props;
  all["bootstrap.servers"] = brokers;
  all["socket.timeout.ms"] = "10000";
  if (!group.empty()) {
    all["group.id"] = group;
    all["enable.auto.commit"] = "false";
    all["auto.offset.reset"] = "earliest";
  }
  for (const auto& [key, value] : all) {
    EXPECT_EQ(rd_kafka_conf_set(conf, key.c_str(), value.c_str(), error, sizeof error),
              RD_KAFKA_CONF_OK)
        << key << ": " << error;
  }
  rd_kafka_conf_set_opaque(conf, log);
  rd_kafka_conf_set_error_cb(conf, [](rd_kafka_t*, int err, const char*, void* opaque) {
    auto* l = static_cast<ErrorLog*>(opaque);
    absl::MutexLock lock(&l->mu);
    l->errors.push_back(static_cast<rd_kafka_resp_err_t>(err));
  });
  if (type == RD_KAFKA_PRODUCER) {
    rd_kafka_conf_set_dr_msg_cb(conf, [](rd_kafka_t*, const rd_kafka_message_t* m, void*) {
      auto* d = static_cast<Delivery*>(m->_private);
      d->err = m->err;
      d->done = true;
    });
  }
  rd_kafka_t* rk = rd_kafka_new(type, conf, error, sizeof error);
  EXPECT_NE(rk, nullptr) << error;
  return rk;
}

class KafkaSecurity : public ::testing::Test {
 protected:
  void SetUp() override {
    auto stack = testing::LoadStack();
    ASSERT_TRUE(stack.ok()) << stack.status();
    stack_ = *stack;
    ASSERT_TRUE(testing::KafkaSecured(stack_))
        << "the test stack's Kafka is open: no TLS, no SASL, no ACLs";
    // The feeds of two departments, each with a record, made by the admin principal.
    ASSERT_TRUE(kafka::EnsureTopics(stack_.kafka,
                                    {{events::DispatchTopic("mobility"), 1, 1},
                                     {events::DispatchTopic("environment"), 1, 1},
                                     {events::kCaseEventsTopic, 6, 1},
                                     {events::kAuditTopic, 6, 1}},
                                    absl::Seconds(30), stack_.kafka_properties)
                    .ok());
    for (const std::string topic :
         {events::DispatchTopic("mobility"), events::DispatchTopic("environment"),
          std::string(events::kCaseEventsTopic), std::string(events::kAuditTopic)}) {
      ASSERT_EQ(Write(stack_.kafka_properties, topic), RD_KAFKA_RESP_ERR_NO_ERROR) << topic;
    }
  }

  Properties As(const std::string& principal) {
    return testing::KafkaPropertiesOf(stack_, principal);
  }

  // Writes one record to partition 0 (which Read reads) as `props`: the delivery report's error (no
  // idempotence: a principal without any Write would fail at InitProducerId before the topic is
  // even asked for).
  rd_kafka_resp_err_t Write(const Properties& props, const std::string& topic) {
    ErrorLog log;
    rd_kafka_t* rk = NewClient(RD_KAFKA_PRODUCER, stack_.kafka, props, &log);
    Delivery delivery;
    rd_kafka_resp_err_t err = rd_kafka_producev(
        rk, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(0),
        RD_KAFKA_V_KEY("MP-SECURITYTEST", 15), RD_KAFKA_V_VALUE(const_cast<char*>("x"), 1),
        RD_KAFKA_V_OPAQUE(&delivery), RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      const absl::Time deadline = absl::Now() + absl::Seconds(60);
      while (!delivery.done && absl::Now() < deadline) rd_kafka_poll(rk, 100);
      err = delivery.done ? delivery.err : RD_KAFKA_RESP_ERR__TIMED_OUT;
    }
    rd_kafka_purge(rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_destroy(rk);
    return err;
  }

  // Reads partition 0 of `topic` from its start as `props` (the simple consumer, as kcat -C -p 0:
  // the fetch alone, no group): NO_ERROR once a record arrives, else the error that came instead
  // (a fetch error, or an authentication error of the connection).
  rd_kafka_resp_err_t Read(const Properties& props, const std::string& topic) {
    ErrorLog log;
    rd_kafka_t* rk = NewClient(RD_KAFKA_CONSUMER, stack_.kafka, props, &log);
    rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
    rd_kafka_resp_err_t result = RD_KAFKA_RESP_ERR__TIMED_OUT;
    // As kcat: the topic's metadata first. A principal without Describe on it gets the broker's
    // TOPIC_AUTHORIZATION_FAILED here (librdkafka then fetches nothing and says no more).
    const rd_kafka_metadata_t* metadata = nullptr;
    if (rd_kafka_metadata(rk, 0, rkt, &metadata, 30000) == RD_KAFKA_RESP_ERR_NO_ERROR &&
        metadata->topic_cnt == 1 && metadata->topics[0].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      result = metadata->topics[0].err;
    }
    if (metadata != nullptr) rd_kafka_metadata_destroy(metadata);
    if (result == RD_KAFKA_RESP_ERR__TIMED_OUT &&
        rd_kafka_consume_start(rkt, 0, RD_KAFKA_OFFSET_BEGINNING) == -1) {
      result = rd_kafka_last_error();
    }
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    while (absl::Now() < deadline && result == RD_KAFKA_RESP_ERR__TIMED_OUT) {
      rd_kafka_message_t* m = rd_kafka_consume(rkt, 0, 200);
      if (m != nullptr) {
        if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) result = m->err;
        rd_kafka_message_destroy(m);
      }
      rd_kafka_poll(rk, 0);
      if (log.Saw(RD_KAFKA_RESP_ERR__AUTHENTICATION)) result = RD_KAFKA_RESP_ERR__AUTHENTICATION;
      // Without Describe the topic's metadata is refused: librdkafka reports that as an error
      // event of the client rather than on the partition.
      if (log.Saw(RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED)) {
        result = RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED;
      }
    }
    rd_kafka_consume_stop(rkt, 0);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    return result;
  }

  testing::Stack stack_;
};

constexpr rd_kafka_resp_err_t kTopicDenied = RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED;

TEST_F(KafkaSecurity, ADepartmentReadsItsOwnFeedAndNoOtherOne) {
  EXPECT_EQ(Read(As("dept-mobility"), events::DispatchTopic("mobility")),
            RD_KAFKA_RESP_ERR_NO_ERROR);
  EXPECT_EQ(Read(As("dept-mobility"), events::DispatchTopic("environment")), kTopicDenied);
  EXPECT_EQ(Read(As("dept-environment"), events::DispatchTopic("mobility")), kTopicDenied);
}

TEST_F(KafkaSecurity, ADepartmentCannotReadOrWriteTheCaseLog) {
  EXPECT_EQ(Read(As("dept-mobility"), events::kCaseEventsTopic), kTopicDenied);
  EXPECT_EQ(Write(As("dept-mobility"), events::kCaseEventsTopic), kTopicDenied);
  EXPECT_EQ(Write(As("dept-mobility"), events::DispatchTopic("mobility")), kTopicDenied)
      << "a department's feed is written by routing only";
}

TEST_F(KafkaSecurity, APlaintextClientIsRefused) {
  ErrorLog log;
  rd_kafka_t* rk = NewClient(RD_KAFKA_PRODUCER, stack_.kafka, {}, &log);
  const rd_kafka_metadata_t* metadata = nullptr;
  const rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 1, nullptr, &metadata, 10000);
  if (metadata != nullptr) rd_kafka_metadata_destroy(metadata);
  rd_kafka_destroy(rk);
  EXPECT_NE(err, RD_KAFKA_RESP_ERR_NO_ERROR) << "a plaintext client got the broker's metadata";
}

TEST_F(KafkaSecurity, AWrongPasswordIsRefused) {
  EXPECT_EQ(Read(testing::KafkaPropertiesOf(stack_, "routing", "not-the-password"),
                 events::kCaseEventsTopic),
            RD_KAFKA_RESP_ERR__AUTHENTICATION);
  EXPECT_EQ(
      Read(testing::KafkaPropertiesOf(stack_, "nobody", "whatever"), events::kCaseEventsTopic),
      RD_KAFKA_RESP_ERR__AUTHENTICATION);
}

TEST_F(KafkaSecurity, AServiceDoesWhatItNeedsAndNoMore) {
  // routing: the case log in and out (idempotent, as the services produce), its group, the
  // dispatch feeds, and a new department's feed created.
  auto producer = kafka::Producer::Create({.brokers = stack_.kafka, .extra = As("routing")});
  ASSERT_TRUE(producer.ok()) << producer.status();
  for (const std::string topic :
       {std::string(events::kCaseEventsTopic), events::DispatchTopic("mobility")}) {
    auto sent =
        (*producer)->Send({topic, "MP-SECURITYTEST", "routed"}, absl::Now() + absl::Seconds(60));
    EXPECT_TRUE(sent.ok()) << topic << ": " << sent.status();
  }
  const std::string new_feed = events::DispatchTopic(testing::UniqueName("newdept"));
  EXPECT_TRUE(
      kafka::EnsureTopics(stack_.kafka, {{new_feed, 1, 1}}, absl::Seconds(30), As("routing")).ok());
  EXPECT_EQ(Read(As("routing"), events::kCaseEventsTopic), RD_KAFKA_RESP_ERR_NO_ERROR);
  auto consumer = kafka::Consumer::Create({.brokers = stack_.kafka,
                                           .group_id = testing::UniqueName("meldpunt-routing"),
                                           .topics = {events::kCaseEventsTopic},
                                           .extra = As("routing")});
  ASSERT_TRUE(consumer.ok()) << consumer.status();
  EXPECT_TRUE(testing::Eventually(
      [&] {
        (void)(*consumer)->Poll(absl::Milliseconds(100));
        return (*consumer)->joined();
      },
      absl::Seconds(60)))
      << "routing may not join its own group";
  (*consumer)->Close();
  // ... but it reads no department's feed, and intake writes none.
  EXPECT_EQ(Read(As("routing"), events::DispatchTopic("mobility")), kTopicDenied);
  EXPECT_EQ(Write(As("intake"), events::DispatchTopic("mobility")), kTopicDenied);
  // The audit trail: written by the services, read by ops alone.
  EXPECT_EQ(Write(As("intake"), events::kAuditTopic), RD_KAFKA_RESP_ERR_NO_ERROR);
  EXPECT_EQ(Read(As("ops"), events::kAuditTopic), RD_KAFKA_RESP_ERR_NO_ERROR);
  EXPECT_EQ(Read(As("intake"), events::kAuditTopic), kTopicDenied);
  EXPECT_EQ(Read(As("ops"), events::kCaseEventsTopic), kTopicDenied);
}

}  // namespace
}  // namespace meldpunt
