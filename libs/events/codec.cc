#include "libs/events/codec.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/wire_format_lite.h>

#include <bitset>

#include "absl/strings/str_cat.h"

namespace meldpunt::events {

void SetTime(google::protobuf::Timestamp* out, absl::Time time) {
  const int64_t nanos = absl::ToUnixNanos(time);
  out->set_seconds(nanos / 1'000'000'000);
  out->set_nanos(static_cast<int32_t>(nanos % 1'000'000'000));
}

absl::Time GetTime(const google::protobuf::Timestamp& in) {
  return absl::FromUnixSeconds(in.seconds()) + absl::Nanoseconds(in.nanos());
}

Envelope NewEnvelope(const std::string& case_id, const std::string& producer,
                     absl::Time occurred_at) {
  Envelope envelope;
  envelope.set_case_id(case_id);
  envelope.set_producer(producer);
  SetTime(envelope.mutable_occurred_at(), occurred_at);
  return envelope;
}

std::string PayloadType(const Envelope& envelope) {
  const google::protobuf::OneofDescriptor* oneof =
      Envelope::descriptor()->FindOneofByName("payload");
  const google::protobuf::FieldDescriptor* field =
      Envelope::GetReflection()->GetOneofFieldDescriptor(envelope, oneof);
  return field == nullptr ? "" : field->message_type()->name();
}

void Finish(Envelope& envelope, const std::string& event_id) {
  envelope.set_event_id(event_id);
  envelope.set_type(PayloadType(envelope));
}

std::string Encode(const Envelope& envelope) { return envelope.SerializeAsString(); }

absl::Status DecodeInto(const std::string& bytes, Envelope* envelope) {
  if (!envelope->ParseFromString(bytes)) {
    return absl::InvalidArgumentError("event: bytes are not a meldpunt.events.v1.Envelope");
  }
  if (envelope->event_id().empty()) return absl::InvalidArgumentError("event: event_id is empty");
  if (envelope->case_id().empty()) return absl::InvalidArgumentError("event: case_id is empty");
  if (envelope->payload_case() == Envelope::PAYLOAD_NOT_SET) {
    return absl::InvalidArgumentError(
        absl::StrCat("event ", envelope->event_id(), ": no payload (written by a newer version?)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<Envelope> Decode(const std::string& bytes) {
  Envelope envelope;
  if (absl::Status decoded = DecodeInto(bytes, &envelope); !decoded.ok()) return decoded;
  return envelope;
}

int PayloadField(const std::string& bytes) {
  using google::protobuf::internal::WireFormatLite;
  // The envelope's payload fields, from its descriptor (once).
  static const std::bitset<1024>* payload = [] {
    auto* fields = new std::bitset<1024>();
    const google::protobuf::OneofDescriptor* oneof =
        Envelope::descriptor()->FindOneofByName("payload");
    for (int i = 0; oneof != nullptr && i < oneof->field_count(); ++i) {
      if (oneof->field(i)->number() < 1024) fields->set(oneof->field(i)->number());
    }
    return fields;
  }();
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(bytes.data()),
                                            static_cast<int>(bytes.size()));
  int field = 0;
  while (const uint32_t tag = in.ReadTag()) {
    const int number = WireFormatLite::GetTagFieldNumber(tag);
    // A payload field of another wire type is an unknown field to a parse: not the payload.
    if (number < 1024 && payload->test(number) &&
        WireFormatLite::GetTagWireType(tag) == WireFormatLite::WIRETYPE_LENGTH_DELIMITED) {
      field = number;
    }
    if (!WireFormatLite::SkipField(&in, tag)) return 0;
  }
  return in.ConsumedEntireMessage() ? field : 0;
}

void AddTraceHeader(const Envelope& envelope,
                    std::vector<std::pair<std::string, std::string>>& headers) {
  if (envelope.correlation_id().empty()) return;
  for (const auto& [name, value] : headers) {
    if (name == kTraceIdHeader) return;
  }
  headers.emplace_back(kTraceIdHeader, envelope.correlation_id());
}

std::string ToJson(const google::protobuf::Message& message) {
  std::string out;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(message, &out, options);
  return out;
}

}  // namespace meldpunt::events
