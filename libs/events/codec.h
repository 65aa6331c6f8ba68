// The event envelope on the wire: protobuf bytes, with the type and id also in Kafka headers so
// tools can filter without decoding.
//
//   Envelope e = NewEnvelope(case_id, "intake", clock.Now());
//   *e.mutable_case_submitted() = submitted;
//   Finish(e, DeterministicId("submitted", {case_id}));
//   std::string bytes = Encode(e);
//   absl::StatusOr<Envelope> back = Decode(bytes);
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "meldpunt/events/v1/dispatch.pb.h"
#include "meldpunt/events/v1/events.pb.h"

namespace meldpunt::events {

using Envelope = ::meldpunt::events::v1::Envelope;

// An envelope with case id, producer and time set; the caller sets the payload and calls Finish.
Envelope NewEnvelope(const std::string& case_id, const std::string& producer,
                     absl::Time occurred_at);

// Sets the event id and the type name from the payload.
void Finish(Envelope& envelope, const std::string& event_id);

// The payload's message name ("CaseSubmitted"), or "" when none is set.
std::string PayloadType(const Envelope& envelope);

std::string Encode(const Envelope& envelope);

// Fails with INVALID_ARGUMENT on bytes that are not an envelope, or one without id, case or
// payload.
absl::StatusOr<Envelope> Decode(const std::string& bytes);
// The same into `envelope` (one made on an arena by a reader that decodes many at once); on an
// error `envelope` holds whatever the bytes gave.
absl::Status DecodeInto(const std::string& bytes, Envelope* envelope);

// The field number of the payload an encoded envelope carries (the last payload field in the
// bytes, as a parse keeps it), read from the field numbers without decoding anything: for a
// reader that decodes only the payloads it handles. 0 when the bytes carry none or do not parse
// (decoding them says what is wrong).
int PayloadField(const std::string& bytes);

// The Kafka header that carries the envelope's correlation_id (the caller's trace id), so one
// trace can be followed through the topics (kcat -f '%h') without decoding.
inline constexpr char kTraceIdHeader[] = "trace-id";

// Appends the trace-id header (the envelope's correlation_id) to a record's headers and leaves
// the others as they are; nothing when the correlation_id is empty or a trace-id header is
// already there. `headers` is kafka::Message::headers.
void AddTraceHeader(const Envelope& envelope,
                    std::vector<std::pair<std::string, std::string>>& headers);

// The JSON form of a message (field names as in the proto), for kcat users and logs.
std::string ToJson(const google::protobuf::Message& message);

void SetTime(google::protobuf::Timestamp* out, absl::Time time);
absl::Time GetTime(const google::protobuf::Timestamp& in);

}  // namespace meldpunt::events
