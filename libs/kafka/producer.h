// An idempotent Kafka producer (acks=all, enable.idempotence) whose delivery reports come back as
// a Status: a caller answers its client only after the broker acknowledged the record.
//
//   ASSIGN_OR_RETURN(auto producer, Producer::Create({.brokers = "127.0.0.1:9092"}));
//   ASSIGN_OR_RETURN(Delivered d, producer->Send({topic, key, value}, absl::Now() +
//   absl::Seconds(5)));
//
// Owns one thread that polls librdkafka for delivery reports (and, after ExportMetrics, samples
// the queue gauge once a second); the destructor flushes (bounded) and joins it. Send is safe
// from any thread.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <librdkafka/rdkafkacpp.h>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace prometheus {
class Gauge;
class Registry;
}  // namespace prometheus

namespace meldpunt::kafka {

struct ProducerOptions {
  std::string brokers;
  std::string client_id = "meldpunt";
  // Upper bound for one record to be acknowledged, retries included (message.timeout.ms).
  absl::Duration delivery_timeout = absl::Seconds(30);
  absl::Duration linger = absl::Milliseconds(2);
  // Extra librdkafka properties, applied last (tests use them for the mock cluster).
  std::map<std::string, std::string> extra;
};

struct Message {
  std::string topic;
  std::string key;
  std::string value;
  std::vector<std::pair<std::string, std::string>> headers;
};

struct Delivered {
  int32_t partition = -1;
  int64_t offset = -1;
};

using DeliveryCallback = std::function<void(absl::StatusOr<Delivered>)>;

class Producer {
 public:
  static absl::StatusOr<std::unique_ptr<Producer>> Create(const ProducerOptions& options);
  ~Producer();
  Producer(const Producer&) = delete;
  Producer& operator=(const Producer&) = delete;

  // Enqueues the record; `done` runs on the poll thread once the broker acknowledged it or it
  // failed for good. A refused enqueue returns the error and never calls `done`.
  absl::Status SendAsync(const Message& message, DeliveryCallback done);

  // Waits for the acknowledgement until `deadline`. UNAVAILABLE when the deadline passes first
  // (the record may still be written later: callers use deterministic ids so a retry is harmless).
  absl::StatusOr<Delivered> Send(const Message& message, absl::Time deadline);

  absl::Status Flush(absl::Duration timeout);

  // Set once librdkafka reported a fatal error; the producer must be recreated.
  bool fatal() const { return fatal_.load(); }
  // Makes librdkafka raise a fatal error on this producer as a real one would be raised
  // (rd_kafka_test_fatal_error), for tests of what follows one.
  absl::Status RaiseFatalErrorForTest(const std::string& reason);

  // Records (and requests) waiting in the producer: enqueued and not yet acknowledged or failed,
  // plus delivery reports not yet served (rd_kafka_outq_len). Cheap, safe from any thread.
  int64_t QueueLength() const;
  // OK when a broker answers a metadata request within `timeout` (readiness); UNAVAILABLE else.
  // Any thread.
  absl::Status Ping(absl::Duration timeout) const;

  // Exports meldpunt_kafka_producer_queue (QueueLength) to `registry`, which must outlive the
  // producer; the poll thread samples it once a second, no thread of its own. Producers sharing
  // a registry add up (each adds its change); a second call moves the export to `registry`.
  void ExportMetrics(prometheus::Registry& registry);

 private:
  class Reports;
  Producer() = default;
  // Moves the gauge to the current queue length (poll thread, ExportMetrics).
  void SampleQueue();

  std::unique_ptr<Reports> reports_;
  std::unique_ptr<RdKafka::Producer> producer_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> fatal_{false};
  std::thread poller_;

  absl::Mutex metrics_mu_;
  prometheus::Gauge* queue_gauge_ ABSL_GUARDED_BY(metrics_mu_) = nullptr;
  int64_t queue_reported_ ABSL_GUARDED_BY(metrics_mu_) = 0;  // what this producer added to it
};

}  // namespace meldpunt::kafka
