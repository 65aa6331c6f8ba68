#include "libs/events/event_log.h"

#include <memory>

#include "libs/events/topics.h"

namespace meldpunt::events {

std::string KafkaEventLog::kCaseEventsTopicName() { return kCaseEventsTopic; }

kafka::Message ToRecord(const std::string& topic, const Envelope& envelope) {
  kafka::Message record{topic,
                        envelope.case_id(),
                        Encode(envelope),
                        {{"event-id", envelope.event_id()}, {"event-type", envelope.type()}}};
  AddTraceHeader(envelope, record.headers);  // the trace, readable without decoding
  return record;
}

absl::StatusOr<Appended> KafkaEventLog::Append(const Envelope& envelope, absl::Time deadline) {
  absl::StatusOr<kafka::Delivered> delivered = producer_.Send(ToRecord(topic_, envelope), deadline);
  if (!delivered.ok()) return delivered.status();
  return Appended{delivered->partition, delivered->offset};
}

void EventLog::AppendAsync(const Envelope& envelope, absl::Time deadline,
                           std::function<void(absl::StatusOr<Appended>)> done) {
  done(Append(envelope, deadline));
}

void KafkaEventLog::AppendAsync(const Envelope& envelope, absl::Time /*deadline*/,
                                std::function<void(absl::StatusOr<Appended>)> done) {
  auto shared = std::make_shared<std::function<void(absl::StatusOr<Appended>)>>(std::move(done));
  absl::Status queued = producer_.SendAsync(
      ToRecord(topic_, envelope), [shared](absl::StatusOr<kafka::Delivered> delivered) {
        if (!delivered.ok()) return (*shared)(delivered.status());
        (*shared)(Appended{delivered->partition, delivered->offset});
      });
  if (!queued.ok()) (*shared)(queued);
}

}  // namespace meldpunt::events
