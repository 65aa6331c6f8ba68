// The case event log as the services see it: append an envelope and learn that it is durable.
// KafkaEventLog writes to meldpunt.case-events.v1 keyed by case id (so one case's events are
// totally ordered) with the event type and id in headers.
//
//   KafkaEventLog log(producer);
//   ASSIGN_OR_RETURN(Appended at, log.Append(envelope, absl::Now() + absl::Seconds(5)));
#pragma once

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
};

// The Kafka record for an envelope on `topic`: key = case id, headers event-id and event-type.
kafka::Message ToRecord(const std::string& topic, const Envelope& envelope);

class KafkaEventLog final : public EventLog {
 public:
  explicit KafkaEventLog(kafka::Producer& producer, std::string topic = kCaseEventsTopicName())
      : producer_(producer), topic_(std::move(topic)) {}
  absl::StatusOr<Appended> Append(const Envelope& envelope, absl::Time deadline) override;

  static std::string kCaseEventsTopicName();

 private:
  kafka::Producer& producer_;
  std::string topic_;
};

}  // namespace meldpunt::events
