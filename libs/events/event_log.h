// The case event log as the services see it: append an envelope and learn that it is durable.
// KafkaEventLog writes to meldpunt.case-events.v1 keyed by case id (so one case's events are
// totally ordered) with the event type and id in headers.
//
//   KafkaEventLog log(producer);
//   ASSIGN_OR_RETURN(Appended at, log.Append(envelope, absl::Now() + absl::Seconds(5)));
#pragma once

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "libs/events/codec.h"
#include "libs/kafka/producer.h"

namespace meldpunt::events {

struct Appended {
  int32_t partition = -1;
  int64_t offset = -1;
};

class EventLog {
 public:
  virtual ~EventLog() = default;
  // OK only once the event is durable (acks=all); UNAVAILABLE when that is not known by `deadline`.
  virtual absl::StatusOr<Appended> Append(const Envelope& envelope, absl::Time deadline) = 0;
  // Appends without waiting: `done` runs once with where the event is once it is durable, or the
  // error (on the caller's thread when the append is refused at once; KafkaEventLog: else on the
  // producer's poll thread, by its delivery timeout at the latest, so keep `done` short).
  // The default calls Append with `deadline` and then `done`.
  virtual void AppendAsync(const Envelope& envelope, absl::Time deadline,
                           std::function<void(absl::StatusOr<Appended>)> done);
};

// The Kafka record for an envelope on `topic`: key = case id, headers event-id and event-type.
kafka::Message ToRecord(const std::string& topic, const Envelope& envelope);

class KafkaEventLog final : public EventLog {
 public:
  explicit KafkaEventLog(kafka::Producer& producer, std::string topic = kCaseEventsTopicName())
      : producer_(producer), topic_(std::move(topic)) {}
  absl::StatusOr<Appended> Append(const Envelope& envelope, absl::Time deadline) override;
  // Bounded by the producer's delivery timeout (kafka.produce_timeout), not by `deadline`.
  void AppendAsync(const Envelope& envelope, absl::Time deadline,
                   std::function<void(absl::StatusOr<Appended>)> done) override;

  static std::string kCaseEventsTopicName();

 private:
  kafka::Producer& producer_;
  std::string topic_;
};

}  // namespace meldpunt::events
