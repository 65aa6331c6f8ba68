// Setting aside a record of the case event log that a service could not handle: the record goes
// to meldpunt.case-events.dlq.v1 (events/v1/dead_letter.proto) with the error, where it came from
// and who could not handle it, and the consume loop goes on with the next one. The EventConsumer
// calls the sink; nothing it takes is dropped with only a log line.
//
//   KafkaDeadLetters dead_letters(*producer, "routing", "meldpunt-routing");
//   EventConsumer loop(std::move(consumer), handler, registry, group, {.dead_letters =
//   &dead_letters});
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "libs/events/codec.h"
#include "libs/kafka/consumer.h"
#include "libs/kafka/producer.h"
#include "meldpunt/events/v1/dead_letter.pb.h"

namespace meldpunt::events {

// Why a record is set aside (DeadLetter.reason).
inline constexpr absl::string_view kFailedAfterRetries = "failed after its retries";
inline constexpr absl::string_view kCannotBeRetried = "cannot be retried";
inline constexpr absl::string_view kCannotBeDecoded = "cannot be decoded";

// "<group>/<topic>/<partition>/<offset>".
std::string DeadLetterId(absl::string_view group, const kafka::Record& record);

// The dead letter of `record` (`envelope` null when it could not be decoded); no record bytes
// are dropped.
v1::DeadLetter MakeDeadLetter(absl::string_view service, absl::string_view group,
                              const kafka::Record& record, const Envelope* envelope,
                              const absl::Status& error, int attempts, absl::string_view reason,
                              absl::Time now);

// The record of the dead-letter topic for an entry or an action (key: its dead-letter id).
kafka::Message DeadLetterMessage(const v1::DeadLetterRecord& record);

class DeadLetterSink {
 public:
  virtual ~DeadLetterSink() = default;
  // Durable on return when OK. An error (Kafka down) leaves the record where it is: the caller
  // tries again and does not move past it.
  virtual absl::Status Put(const kafka::Record& record, const Envelope* envelope,
                           const absl::Status& error, int attempts, absl::string_view reason) = 0;
};

class KafkaDeadLetters : public DeadLetterSink {
 public:
  KafkaDeadLetters(kafka::Producer& producer, std::string service, std::string group,
                   absl::Duration timeout = absl::Seconds(10));
  absl::Status Put(const kafka::Record& record, const Envelope* envelope, const absl::Status& error,
                   int attempts, absl::string_view reason) override;

 private:
  kafka::Producer& producer_;
  const std::string service_;
  const std::string group_;
  const absl::Duration timeout_;
};

}  // namespace meldpunt::events
