#include "libs/events/dead_letters.h"

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "libs/events/topics.h"
#include "libs/status/retry.h"

namespace meldpunt::events {

std::string DeadLetterId(absl::string_view group, const kafka::Record& record) {
  return absl::StrCat(group, "/", record.topic, "/", record.partition, "/", record.offset);
}

v1::DeadLetter MakeDeadLetter(absl::string_view service, absl::string_view group,
                              const kafka::Record& record, const Envelope* envelope,
                              const absl::Status& error, int attempts, absl::string_view reason,
                              absl::Time now) {
  v1::DeadLetter out;
  out.set_dead_letter_id(DeadLetterId(group, record));
  out.set_service(std::string(service));
  out.set_consumer_group(std::string(group));
  out.set_source_topic(record.topic);
  out.set_source_partition(record.partition);
  out.set_source_offset(record.offset);
  out.set_case_id(envelope != nullptr ? envelope->case_id() : record.key);
  if (envelope != nullptr) {
    out.set_event_id(envelope->event_id());
    out.set_event_type(PayloadType(*envelope));
  }
  out.set_reason(std::string(reason));
  out.set_error_code(absl::StatusCodeToString(error.code()));
  out.set_error(std::string(error.message()));
  out.set_retry(std::string(status::RetryName(status::RetryOf(error))));
  out.set_attempts(attempts);
  SetTime(out.mutable_at(), now);
  out.set_record_value(record.value);
  out.set_record_key(record.key);
  SetTime(out.mutable_record_timestamp(), record.timestamp);
  return out;
}

kafka::Message DeadLetterMessage(const v1::DeadLetterRecord& record) {
  kafka::Message message;
  message.topic = kCaseEventsDeadLetterTopic;
  message.key = record.has_dead_letter() ? record.dead_letter().dead_letter_id()
                                         : record.action().dead_letter_id();
  message.value = record.SerializeAsString();
  return message;
}

KafkaDeadLetters::KafkaDeadLetters(kafka::Producer& producer, std::string service,
                                   std::string group, absl::Duration timeout)
    : producer_(producer),
      service_(std::move(service)),
      group_(std::move(group)),
      timeout_(timeout) {}

absl::Status KafkaDeadLetters::Put(const kafka::Record& record, const Envelope* envelope,
                                   const absl::Status& error, int attempts,
                                   absl::string_view reason) {
  v1::DeadLetterRecord entry;
  *entry.mutable_dead_letter() =
      MakeDeadLetter(service_, group_, record, envelope, error, attempts, reason, absl::Now());
  absl::StatusOr<kafka::Delivered> sent =
      producer_.Send(DeadLetterMessage(entry), absl::Now() + timeout_);
  return sent.ok() ? absl::OkStatus() : sent.status();
}

}  // namespace meldpunt::events
