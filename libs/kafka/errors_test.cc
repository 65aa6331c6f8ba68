#include "libs/kafka/errors.h"

#include <gtest/gtest.h>

#include "libs/status/retry.h"

namespace meldpunt::kafka {
namespace {

TEST(KafkaErrors, ClassifiesByWhatTheCallerShouldDo) {
  EXPECT_EQ(Classify(RdKafka::ERR__MSG_TIMED_OUT), ErrorClass::kRetriable);
  EXPECT_EQ(Classify(RdKafka::ERR__TRANSPORT), ErrorClass::kRetriable);
  EXPECT_EQ(Classify(RdKafka::ERR_NOT_ENOUGH_REPLICAS), ErrorClass::kRetriable);
  EXPECT_EQ(Classify(RdKafka::ERR_INVALID_PRODUCER_EPOCH), ErrorClass::kAbortable);
  EXPECT_EQ(Classify(RdKafka::ERR__FATAL), ErrorClass::kFatal);
  EXPECT_EQ(Classify(RdKafka::ERR_NOT_ENOUGH_REPLICAS, /*fatal=*/true), ErrorClass::kFatal);
  EXPECT_EQ(Classify(RdKafka::ERR_TOPIC_AUTHORIZATION_FAILED), ErrorClass::kPermanent);
}

TEST(KafkaErrors, MapsToStatusCodes) {
  EXPECT_TRUE(ToStatus(RdKafka::ERR_NO_ERROR, "x").ok());
  EXPECT_EQ(ToStatus(RdKafka::ERR__MSG_TIMED_OUT, "x").code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(ToStatus(RdKafka::ERR_INVALID_PRODUCER_EPOCH, "x").code(), absl::StatusCode::kAborted);
  EXPECT_EQ(ToStatus(RdKafka::ERR__FATAL, "x").code(), absl::StatusCode::kInternal);
  EXPECT_EQ(ToStatus(RdKafka::ERR_TOPIC_AUTHORIZATION_FAILED, "x").code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(ToStatus(RdKafka::ERR_UNKNOWN_TOPIC_OR_PART, "x").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ToStatus(RdKafka::ERR_MSG_SIZE_TOO_LARGE, "x").code(),
            absl::StatusCode::kInvalidArgument);
  absl::Status status = ToStatus(RdKafka::ERR__MSG_TIMED_OUT, "delivery to t");
  EXPECT_NE(status.message().find("delivery to t"), std::string::npos);
}

TEST(KafkaErrors, SayWhatAConsumeLoopShouldDo) {
  using status::Retry;
  using status::RetryOf;
  // An outage, or a deployment without an ACL: the same record again, for as long as it lasts.
  EXPECT_EQ(RetryOf(ToStatus(RdKafka::ERR__MSG_TIMED_OUT, "x")), Retry::kInPlace);
  EXPECT_EQ(RetryOf(ToStatus(RdKafka::ERR__ALL_BROKERS_DOWN, "x")), Retry::kInPlace);
  EXPECT_EQ(RetryOf(ToStatus(RdKafka::ERR_TOPIC_AUTHORIZATION_FAILED, "x")), Retry::kInPlace);
  EXPECT_EQ(RetryOf(ToStatus(RdKafka::ERR_INVALID_PRODUCER_EPOCH, "x")), Retry::kInPlace);
  // A fenced or fatal producer cannot send again: recreated (the process exits).
  EXPECT_EQ(RetryOf(ToStatus(RdKafka::ERR__FATAL, "x")), Retry::kRecreateClient);
  // This record's destination does not exist, or the record is too large: set aside, so that
  // the records after it are not held up. Unknown: no class (a few attempts first).
  EXPECT_EQ(RetryOf(ToStatus(RdKafka::ERR__UNKNOWN_TOPIC, "x")), Retry::kGiveUp);
  EXPECT_EQ(RetryOf(ToStatus(RdKafka::ERR_MSG_SIZE_TOO_LARGE, "x")), Retry::kGiveUp);
  EXPECT_EQ(RetryOf(ToStatus(RdKafka::ERR_INVALID_REQUIRED_ACKS, "x")), Retry::kUnclassified);
}

}  // namespace
}  // namespace meldpunt::kafka
