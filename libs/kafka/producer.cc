#include "libs/kafka/producer.h"

#include <librdkafka/rdkafka.h>

#include <chrono>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "libs/kafka/errors.h"
#include "libs/kafka/properties.h"
#include "libs/kafka/security.h"
#include "libs/observability/log.h"
#include "libs/observability/thread_name.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"

namespace meldpunt::kafka {

class Producer::Reports : public RdKafka::DeliveryReportCb, public RdKafka::EventCb {
 public:
  explicit Reports(std::atomic<bool>* fatal) : fatal_(fatal) {}

  void dr_cb(RdKafka::Message& message) override {
    auto* done = static_cast<DeliveryCallback*>(message.msg_opaque());
    if (done == nullptr) return;
    if (message.err() == RdKafka::ERR_NO_ERROR) {
      (*done)(Delivered{message.partition(), message.offset()});
    } else {
      (*done)(ToStatus(message.err(), absl::StrCat("delivery to ", message.topic_name()),
                       fatal_->load()));
    }
    delete done;
  }

  void event_cb(RdKafka::Event& event) override {
    if (event.type() == RdKafka::Event::EVENT_ERROR) {
      if (event.fatal()) fatal_->store(true);
      log::Write(event.fatal() ? log::Level::kError : log::Level::kWarning, "kafka producer error",
                 {{"error", RdKafka::err2str(event.err())},
                  {"detail", event.str()},
                  {"fatal", event.fatal()}});
    }
  }

 private:
  std::atomic<bool>* fatal_;
};

absl::StatusOr<std::unique_ptr<Producer>> Producer::Create(const ProducerOptions& options) {
  std::unique_ptr<Producer> producer(new Producer());
  producer->reports_ = std::make_unique<Reports>(&producer->fatal_);
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::map<std::string, std::string> properties = {
      {"bootstrap.servers", options.brokers},
      {"client.id", options.client_id},
      {"enable.idempotence", "true"},
      {"acks", "all"},
      {"message.timeout.ms", absl::StrCat(absl::ToInt64Milliseconds(options.delivery_timeout))},
      {"linger.ms", absl::StrCat(absl::ToInt64Milliseconds(options.linger))},
      // Same partitioner as the Java client, so every tool agrees where a case id lives.
      {"partitioner", "murmur2_random"},
      // TCP_NODELAY, as Kafka's own clients, gRPC, hiredis and libcurl set it: with Nagle a
      // request written while the previous one is unanswered waits for the broker's reply
      // (docs/benchmarks.md, "Kafka's connections without Nagle's delay").
      {"socket.nagle.disable", "true"},
  };
  // The process's security first (security.h), then what this client names itself.
  for (const auto& [key, value] : ProcessSecurity()) properties[key] = value;
  for (const auto& [key, value] : options.extra) properties[key] = value;
  if (absl::Status status = ApplyProperties(*conf, properties); !status.ok()) return status;
  std::string error;
  if (conf->set("dr_cb", static_cast<RdKafka::DeliveryReportCb*>(producer->reports_.get()),
                error) != RdKafka::Conf::CONF_OK ||
      conf->set("event_cb", static_cast<RdKafka::EventCb*>(producer->reports_.get()), error) !=
          RdKafka::Conf::CONF_OK) {
    return absl::InternalError(absl::StrCat("kafka producer callbacks: ", error));
  }
  producer->producer_.reset(RdKafka::Producer::create(conf.get(), error));
  if (!producer->producer_)
    return absl::InvalidArgumentError(absl::StrCat("kafka producer: ", error));
  Producer* raw = producer.get();
  producer->poller_ = std::thread([raw] {
    observability::NameThread("mp-produce-poll");
    auto next_sample = std::chrono::steady_clock::now();
    while (!raw->stop_.load()) {
      raw->producer_->poll(50);
      if (const auto now = std::chrono::steady_clock::now(); now >= next_sample) {
        raw->SampleQueue();
        next_sample = now + std::chrono::seconds(1);
      }
    }
  });
  return producer;
}

Producer::~Producer() {
  if (producer_) {
    producer_->flush(5000);
  }
  stop_ = true;
  if (poller_.joinable()) poller_.join();
  if (producer_) {
    // Records still queued after the bounded flush fail now, so their callbacks run and free.
    producer_->purge(RdKafka::Producer::PURGE_QUEUE | RdKafka::Producer::PURGE_INFLIGHT);
    producer_->poll(0);
  }
  absl::MutexLock lock(&metrics_mu_);
  if (queue_gauge_ != nullptr) queue_gauge_->Decrement(static_cast<double>(queue_reported_));
}

int64_t Producer::QueueLength() const { return producer_->outq_len(); }

absl::Status Producer::RaiseFatalErrorForTest(const std::string& reason) {
  const rd_kafka_resp_err_t err = rd_kafka_test_fatal_error(
      producer_->c_ptr(), RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER, reason.c_str());
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::FailedPreconditionError(
        absl::StrCat("no fatal error raised: ", rd_kafka_err2str(err)));
  }
  return absl::OkStatus();
}

absl::Status Producer::Ping(absl::Duration timeout) const {
  RdKafka::Metadata* metadata = nullptr;
  const RdKafka::ErrorCode err = producer_->metadata(
      /*all_topics=*/false, nullptr, &metadata,
      static_cast<int>(absl::ToInt64Milliseconds(timeout)));
  delete metadata;
  if (err != RdKafka::ERR_NO_ERROR) {
    return absl::UnavailableError(
        absl::StrCat("kafka: no broker answered: ", RdKafka::err2str(err)));
  }
  return absl::OkStatus();
}

void Producer::ExportMetrics(prometheus::Registry& registry) {
  prometheus::Gauge& gauge =
      prometheus::BuildGauge()
          .Name("meldpunt_kafka_producer_queue")
          .Help("Records waiting in the Kafka producer for the broker's acknowledgement")
          .Register(registry)
          .Add({});
  {
    absl::MutexLock lock(&metrics_mu_);
    if (queue_gauge_ != nullptr) queue_gauge_->Decrement(static_cast<double>(queue_reported_));
    queue_gauge_ = &gauge;
    queue_reported_ = 0;
  }
  SampleQueue();
}

void Producer::SampleQueue() {
  absl::MutexLock lock(&metrics_mu_);
  if (queue_gauge_ == nullptr) return;
  const int64_t length = QueueLength();
  queue_gauge_->Increment(static_cast<double>(length - queue_reported_));
  queue_reported_ = length;
}

absl::Status Producer::SendAsync(const Message& message, DeliveryCallback done) {
  if (fatal_.load()) return absl::InternalError("kafka producer is in a fatal state");
  RdKafka::Headers* headers = RdKafka::Headers::create();
  for (const auto& [name, value] : message.headers) headers->add(name, value);
  auto* callback = new DeliveryCallback(std::move(done));
  RdKafka::ErrorCode err = producer_->produce(
      message.topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
      const_cast<char*>(message.value.data()), message.value.size(), message.key.data(),
      message.key.size(), 0, headers, callback);
  if (err != RdKafka::ERR_NO_ERROR) {
    delete headers;  // ownership passes to librdkafka only on success
    delete callback;
    return ToStatus(err, absl::StrCat("produce to ", message.topic));
  }
  return absl::OkStatus();
}

absl::StatusOr<Delivered> Producer::Send(const Message& message, absl::Time deadline) {
  struct Waiter {
    absl::Notification done;
    absl::StatusOr<Delivered> result = absl::UnknownError("pending");
  };
  auto waiter = std::make_shared<Waiter>();
  absl::Status queued = SendAsync(message, [waiter](absl::StatusOr<Delivered> result) {
    waiter->result = std::move(result);
    waiter->done.Notify();
  });
  if (!queued.ok()) return queued;
  if (!waiter->done.WaitForNotificationWithDeadline(deadline)) {
    return absl::UnavailableError(absl::StrCat("kafka did not acknowledge the record on ",
                                               message.topic, " before the deadline"));
  }
  return waiter->result;
}

absl::Status Producer::Flush(absl::Duration timeout) {
  return ToStatus(producer_->flush(static_cast<int>(absl::ToInt64Milliseconds(timeout))), "flush");
}

}  // namespace meldpunt::kafka
