#include "libs/events/codec.h"

#include <gtest/gtest.h>

#include "google/protobuf/arena.h"
#include "libs/events/batch.h"
#include "libs/events/ids.h"
#include "libs/events/topics.h"

namespace meldpunt::events {
namespace {

TEST(Codec, RoundTripKeepsEveryEnvelopeField) {
  const absl::Time at = absl::FromUnixMillis(1'763'800'000'123);
  Envelope envelope = NewEnvelope("MP-0123456789ABC", "intake", at);
  envelope.set_correlation_id("trace-1");
  envelope.mutable_case_submitted()->set_submitting_system("web-form");
  envelope.mutable_case_submitted()->mutable_draft()->set_category("street-lighting");
  Finish(envelope, DeterministicId("submitted", {"MP-0123456789ABC"}));
  EXPECT_EQ(envelope.type(), "CaseSubmitted");

  absl::StatusOr<Envelope> back = Decode(Encode(envelope));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->event_id(), envelope.event_id());
  EXPECT_EQ(back->case_id(), "MP-0123456789ABC");
  EXPECT_EQ(back->producer(), "intake");
  EXPECT_EQ(back->correlation_id(), "trace-1");
  EXPECT_EQ(GetTime(back->occurred_at()), at);
  EXPECT_EQ(back->case_submitted().draft().category(), "street-lighting");
}

TEST(Codec, DecodeRejectsGarbageAndIncompleteEnvelopes) {
  EXPECT_EQ(Decode("\xff\xff\xff").status().code(), absl::StatusCode::kInvalidArgument);
  Envelope no_payload = NewEnvelope("MP-0123456789ABC", "intake", absl::Now());
  no_payload.set_event_id("ev-1");
  EXPECT_NE(Decode(Encode(no_payload)).status().message().find("no payload"), std::string::npos);
  Envelope no_id = NewEnvelope("MP-0123456789ABC", "intake", absl::Now());
  no_id.mutable_case_closed();
  EXPECT_NE(Decode(Encode(no_id)).status().message().find("event_id"), std::string::npos);
}

// What a replay's lane does: decode onto an arena, with Decode's checks, and hand the batch the
// envelope where it is.
TEST(Codec, DecodeIntoAnArenaChecksAsDecodeDoesAndTheBatchReadsItInPlace) {
  google::protobuf::Arena arena;
  Envelope envelope = NewEnvelope("MP-0123456789ABC", "intake", absl::Now());
  envelope.mutable_case_submitted()->mutable_draft()->set_category("street-lighting");
  Finish(envelope, "ev-1");
  const std::string bytes = Encode(envelope);
  auto* decoded = google::protobuf::Arena::CreateMessage<Envelope>(&arena);
  ASSERT_TRUE(DecodeInto(bytes, decoded).ok());
  EXPECT_EQ(decoded->GetArena(), &arena);
  EXPECT_EQ(decoded->case_submitted().draft().category(), "street-lighting");

  Envelope no_id = NewEnvelope("MP-0123456789ABC", "intake", absl::Now());
  no_id.mutable_case_closed();
  auto* refused = google::protobuf::Arena::CreateMessage<Envelope>(&arena);
  absl::Status error = DecodeInto(Encode(no_id), refused);
  EXPECT_EQ(error.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(error.message().find("event_id"), std::string::npos);
  EXPECT_EQ(DecodeInto("\xff\xff\xff", refused).code(), absl::StatusCode::kInvalidArgument);

  kafka::Record record;
  record.value = bytes;
  Envelope held = envelope;
  held.set_event_id("ev-held");
  Batch batch({{&record, Envelope(), decoded}, {&record, held}});
  EXPECT_EQ(&batch.envelope(0), decoded);
  EXPECT_EQ(batch.envelope(1).event_id(), "ev-held");
}

TEST(Codec, PayloadTypeNamesEveryPayload) {
  Envelope envelope;
  EXPECT_EQ(PayloadType(envelope), "");
  envelope.mutable_deadline_breached();
  EXPECT_EQ(PayloadType(envelope), "DeadlineBreached");
  envelope.mutable_notification_delivered();
  EXPECT_EQ(PayloadType(envelope), "NotificationDelivered");
}

// Which payload a record carries, read without decoding it: the field number of every payload
// of the envelope; nothing for bytes that do not parse or an envelope without one; of two
// envelopes' bytes one after the other, the second's, as a parse keeps it.
TEST(Codec, PayloadFieldReadsWhichPayloadARecordCarries) {
  const google::protobuf::OneofDescriptor* payload =
      Envelope::descriptor()->FindOneofByName("payload");
  ASSERT_NE(payload, nullptr);
  for (int i = 0; i < payload->field_count(); ++i) {
    Envelope e = NewEnvelope("MP-0123456789ABC", "intake", absl::Now());
    e.set_correlation_id("trace-1");
    e.GetReflection()->MutableMessage(&e, payload->field(i));
    Finish(e, "ev-1");
    EXPECT_EQ(PayloadField(Encode(e)), payload->field(i)->number()) << payload->field(i)->name();
  }
  Envelope none = NewEnvelope("MP-0123456789ABC", "intake", absl::Now());
  none.set_event_id("ev-1");
  EXPECT_EQ(PayloadField(Encode(none)), 0);
  EXPECT_EQ(PayloadField(""), 0);
  EXPECT_EQ(PayloadField("\xff\xff\xff"), 0);
  Envelope first = NewEnvelope("MP-0123456789ABC", "intake", absl::Now());
  first.mutable_case_closed();
  Envelope second = first;
  second.mutable_notification_delivered()->set_template_name("acknowledgement");
  const std::string both = Encode(first) + Encode(second);
  EXPECT_EQ(PayloadField(both), Envelope::kNotificationDeliveredFieldNumber);
  Envelope parsed;
  ASSERT_TRUE(parsed.ParseFromString(both));
  EXPECT_TRUE(parsed.has_notification_delivered());
  // A payload's field number with another wire type is an unknown field to a parse: the payload
  // is what it was.
  const std::string stray = Encode(second) + std::string("\xd8\x02\x00", 3);  // field 43, varint
  EXPECT_EQ(PayloadField(stray), Envelope::kNotificationDeliveredFieldNumber);
  ASSERT_TRUE(parsed.ParseFromString(stray));
  EXPECT_TRUE(parsed.has_notification_delivered());
  // Cut short inside the payload: not an envelope.
  const std::string whole = Encode(second);
  EXPECT_EQ(PayloadField(whole.substr(0, whole.size() - 3)), 0);
}

TEST(Codec, JsonUsesProtoFieldNames) {
  v1::DispatchMessage dispatch;
  dispatch.set_case_id("MP-0123456789ABC");
  dispatch.set_department("public-works");
  const std::string json = ToJson(dispatch);
  EXPECT_NE(json.find("\"case_id\":\"MP-0123456789ABC\""), std::string::npos) << json;
}

TEST(Topics, DispatchTopicPerDepartment) {
  EXPECT_EQ(DispatchTopic("public-works"), "meldpunt.dispatch.public-works.v1");
  EXPECT_STREQ(kCaseEventsTopic, "meldpunt.case-events.v1");
}

}  // namespace
}  // namespace meldpunt::events
