// Where a handler's records go: the service's Kafka producer, or a fake in a unit test
// (libs/service/testing/fake_record_sink.h). The narrow part of kafka::Producer a handler uses,
// so the handler's test needs no broker.
//
//   events::Acks acks;
//   RETURN_IF_ERROR(service::SendTracked(acks, sink, events::ToRecord(topic, envelope)));
//   batch.Await(index, std::move(acks), then);  // or acks.Wait(absl::Now() + timeout)
#pragma once

#include "absl/status/status.h"
#include "libs/events/acks.h"
#include "libs/kafka/producer.h"

namespace meldpunt::service {

class RecordSink {
 public:
  virtual ~RecordSink() = default;
  // As kafka::Producer::SendAsync: `done` runs once the record is acknowledged or failed for
  // good; a refused enqueue is returned and `done` never runs.
  virtual absl::Status SendAsync(const kafka::Message& message, kafka::DeliveryCallback done) = 0;
};

// The service's producer as a sink. Any thread, as the producer.
class ProducerSink final : public RecordSink {
 public:
  explicit ProducerSink(kafka::Producer& producer) : producer_(producer) {}
  absl::Status SendAsync(const kafka::Message& message, kafka::DeliveryCallback done) override {
    return producer_.SendAsync(message, std::move(done));
  }

 private:
  kafka::Producer& producer_;
};

// events::Acks::Send through a sink: sends the record and tracks its acknowledgement in `acks`;
// a refused enqueue is returned, and acks.Wait returns it too.
inline absl::Status SendTracked(events::Acks& acks, RecordSink& sink,
                                const kafka::Message& message) {
  absl::Status queued = sink.SendAsync(message, acks.Track());
  if (!queued.ok()) acks.Refused(queued);
  return queued;
}

}  // namespace meldpunt::service
