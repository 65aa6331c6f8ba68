// The raw Kafka ceilings the services are measured against (tools/dev bench), straight on
// librdkafka with none of our code in the path:
//
//   kafka_baseline produce --brokers B --topic T --messages N --bytes S [--in-flight K]
//       N records of S bytes (keys spread like case ids), acks=all, idempotent, linger 2 ms,
//       TCP_NODELAY: the producer settings of libs/kafka; K > 0 keeps at most K unacknowledged
//       (like K concurrent SubmitCase calls), 0 enqueues as fast as librdkafka takes them.
//   kafka_baseline create --brokers B --topic T [--partitions P]
//       creates the topic (replication factor 1) unless it exists.
//   kafka_baseline consume --brokers B --topic T
//       every record of every partition from the beginning to the end, read-committed, and
//       nothing done with it.
//
// Prints one JSON object: records, seconds, per_second (and, for produce, ack latency p50/p99 ms).
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafkacpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Args {
  std::string mode, brokers, topic;
  long messages = 100000;
  long bytes = 600;
  long in_flight = 0;
  long partitions = 6;
};

[[noreturn]] void Die(const std::string& why) {
  std::fprintf(stderr, "kafka_baseline: %s\n", why.c_str());
  std::exit(1);
}

std::unique_ptr<RdKafka::Conf> Conf(const std::map<std::string, std::string>& properties) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string error;
  for (const auto& [key, value] : properties) {
    if (conf->set(key, value, error) != RdKafka::Conf::CONF_OK) Die(key + ": " + error);
  }
  return conf;
}

struct Acks : RdKafka::DeliveryReportCb {
  std::mutex mu;
  std::condition_variable cv;
  long acked = 0;
  long failed = 0;
  long outstanding = 0;
  std::vector<double> latencies_ms;

  void dr_cb(RdKafka::Message& message) override {
    auto* sent = static_cast<Clock::time_point*>(message.msg_opaque());
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - *sent).count();
    delete sent;
    std::lock_guard<std::mutex> lock(mu);
    if (message.err() == RdKafka::ERR_NO_ERROR) {
      ++acked;
      latencies_ms.push_back(ms);
    } else {
      ++failed;
    }
    --outstanding;
    cv.notify_all();
  }
};

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(v.size() * p / 100.0))];
}

int Produce(const Args& a) {
  Acks acks;
  std::unique_ptr<RdKafka::Conf> conf = Conf({{"bootstrap.servers", a.brokers},
                                              {"enable.idempotence", "true"},
                                              {"acks", "all"},
                                              {"linger.ms", "2"},
                                              {"socket.nagle.disable", "true"},
                                              {"partitioner", "murmur2_random"}});
  std::string error;
  if (conf->set("dr_cb", static_cast<RdKafka::DeliveryReportCb*>(&acks), error) !=
      RdKafka::Conf::CONF_OK)
    Die(error);
  std::unique_ptr<RdKafka::Producer> producer(RdKafka::Producer::create(conf.get(), error));
  if (!producer) Die(error);
  std::atomic<bool> stop{false};
  std::thread poller([&] {
    while (!stop.load()) producer->poll(50);
  });
  const std::string value(static_cast<size_t>(a.bytes), 'x');
  // One record first, outside the clock: metadata and the producer id.
  {
    std::lock_guard<std::mutex> lock(acks.mu);
    ++acks.outstanding;
  }
  producer->produce(a.topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
                    const_cast<char*>(value.data()), value.size(), "MP-WARMUP", 9, 0,
                    new Clock::time_point(Clock::now()));
  {
    std::unique_lock<std::mutex> lock(acks.mu);
    acks.cv.wait(lock, [&] { return acks.outstanding == 0; });
    if (acks.failed) Die("the first record was not acknowledged");
    acks.acked = 0;
    acks.latencies_ms.clear();
  }
  const auto start = Clock::now();
  for (long i = 0; i < a.messages; ++i) {
    const std::string key = "MP-" + std::to_string(1000000000000L + i * 7919L);
    {
      std::unique_lock<std::mutex> lock(acks.mu);
      if (a.in_flight > 0) acks.cv.wait(lock, [&] { return acks.outstanding < a.in_flight; });
      ++acks.outstanding;
    }
    auto* sent = new Clock::time_point(Clock::now());
    while (true) {
      RdKafka::ErrorCode err = producer->produce(
          a.topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
          const_cast<char*>(value.data()), value.size(), key.data(), key.size(), 0, sent);
      if (err == RdKafka::ERR_NO_ERROR) break;
      if (err != RdKafka::ERR__QUEUE_FULL) Die(RdKafka::err2str(err));
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  {
    std::unique_lock<std::mutex> lock(acks.mu);
    acks.cv.wait(lock, [&] { return acks.outstanding == 0; });
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  stop = true;
  poller.join();
  std::printf(
      "{\"mode\":\"produce\",\"records\":%ld,\"failed\":%ld,\"bytes\":%ld,\"in_flight\":%ld,"
      "\"seconds\":%.3f,\"per_second\":%.0f,\"ack_p50_ms\":%.2f,\"ack_p99_ms\":%.2f}\n",
      acks.acked, acks.failed, a.bytes, a.in_flight, seconds, acks.acked / seconds,
      Percentile(acks.latencies_ms, 50), Percentile(acks.latencies_ms, 99));
  return acks.failed == 0 ? 0 : 1;
}

int Create(const Args& a) {
  char error[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  if (rd_kafka_conf_set(conf, "bootstrap.servers", a.brokers.c_str(), error, sizeof error) !=
      RD_KAFKA_CONF_OK)
    Die(error);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof error);
  if (rk == nullptr) Die(error);
  rd_kafka_NewTopic_t* topic = rd_kafka_NewTopic_new(
      a.topic.c_str(), static_cast<int>(a.partitions), 1, error, sizeof error);
  if (topic == nullptr) Die(error);
  rd_kafka_queue_t* queue = rd_kafka_queue_new(rk);
  rd_kafka_CreateTopics(rk, &topic, 1, nullptr, queue);
  rd_kafka_event_t* event = rd_kafka_queue_poll(queue, 30000);
  int rc = 1;
  if (event != nullptr) {
    const rd_kafka_CreateTopics_result_t* result = rd_kafka_event_CreateTopics_result(event);
    size_t n = 0;
    const rd_kafka_topic_result_t** topics =
        result ? rd_kafka_CreateTopics_result_topics(result, &n) : nullptr;
    if (n == 1) {
      const rd_kafka_resp_err_t err = rd_kafka_topic_result_error(topics[0]);
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR || err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
        rc = 0;
      } else {
        std::fprintf(stderr, "kafka_baseline: create %s: %s\n", a.topic.c_str(),
                     rd_kafka_err2str(err));
      }
    }
    rd_kafka_event_destroy(event);
  }
  rd_kafka_queue_destroy(queue);
  rd_kafka_NewTopic_destroy(topic);
  rd_kafka_destroy(rk);
  if (rc == 0) std::printf("{\"mode\":\"create\",\"topic\":\"%s\"}\n", a.topic.c_str());
  return rc;
}

int Consume(const Args& a) {
  std::unique_ptr<RdKafka::Conf> conf = Conf({{"bootstrap.servers", a.brokers},
                                              {"group.id", "meldpunt-bench-raw-consume"},
                                              {"enable.auto.commit", "false"},
                                              {"isolation.level", "read_committed"},
                                              {"socket.nagle.disable", "true"},
                                              {"enable.partition.eof", "true"}});
  std::string error;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(
      RdKafka::KafkaConsumer::create(conf.get(), error));
  if (!consumer) Die(error);
  std::unique_ptr<RdKafka::Topic> topic(
      RdKafka::Topic::create(consumer.get(), a.topic, nullptr, error));
  RdKafka::Metadata* raw = nullptr;
  if (consumer->metadata(false, topic.get(), &raw, 10000) != RdKafka::ERR_NO_ERROR)
    Die("no metadata for " + a.topic);
  std::unique_ptr<RdKafka::Metadata> metadata(raw);
  std::vector<RdKafka::TopicPartition*> assignment;
  for (const RdKafka::TopicMetadata* t : *metadata->topics()) {
    for (const RdKafka::PartitionMetadata* p : *t->partitions()) {
      assignment.push_back(
          RdKafka::TopicPartition::create(a.topic, p->id(), RdKafka::Topic::OFFSET_BEGINNING));
    }
  }
  const size_t partitions = assignment.size();
  if (partitions == 0) Die("topic " + a.topic + " has no partitions");
  const auto start = Clock::now();
  consumer->assign(assignment);
  RdKafka::TopicPartition::destroy(assignment);
  long records = 0;
  long bytes = 0;
  size_t at_end = 0;
  while (at_end < partitions) {
    std::unique_ptr<RdKafka::Message> m(consumer->consume(1000));
    if (m->err() == RdKafka::ERR__PARTITION_EOF) {
      ++at_end;
    } else if (m->err() == RdKafka::ERR_NO_ERROR) {
      ++records;
      bytes += static_cast<long>(m->len());
    } else if (m->err() != RdKafka::ERR__TIMED_OUT) {
      Die(m->errstr());
    }
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  consumer->close();
  std::printf(
      "{\"mode\":\"consume\",\"records\":%ld,\"bytes\":%ld,\"seconds\":%.3f,\"per_second\":%.0f}\n",
      records, bytes, seconds, records / seconds);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  if (argc < 2) Die("usage: kafka_baseline produce|consume --brokers B --topic T [...]");
  a.mode = argv[1];
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const std::string value = argv[i + 1];
    if (flag == "--brokers")
      a.brokers = value;
    else if (flag == "--topic")
      a.topic = value;
    else if (flag == "--messages")
      a.messages = std::atol(value.c_str());
    else if (flag == "--bytes")
      a.bytes = std::atol(value.c_str());
    else if (flag == "--in-flight")
      a.in_flight = std::atol(value.c_str());
    else if (flag == "--partitions")
      a.partitions = std::atol(value.c_str());
    else
      Die("unknown flag " + flag);
  }
  if (a.brokers.empty() || a.topic.empty()) Die("--brokers and --topic are required");
  if (a.mode == "produce") return Produce(a);
  if (a.mode == "consume") return Consume(a);
  if (a.mode == "create") return Create(a);
  Die("unknown mode " + a.mode);
}
