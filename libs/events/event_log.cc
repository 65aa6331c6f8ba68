#include "libs/events/event_log.h"

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

}  // namespace meldpunt::events
