#include "libs/status/retry.h"

#include <gtest/gtest.h>

#include "libs/status/status_macros.h"

namespace meldpunt::status {
namespace {

absl::Status Pass(absl::Status s) {
  RETURN_IF_ERROR(s);
  return absl::OkStatus();
}

TEST(Retry, ThePayloadDecidesAndSurvivesThePropagationMacros) {
  // An INTERNAL that the code that made it knows to be an outage is retried in place...
  absl::Status outage = InPlace(absl::InternalError("redis: LOADING"));
  EXPECT_EQ(RetryOf(outage), Retry::kInPlace);
  EXPECT_EQ(RetryOf(Pass(outage)), Retry::kInPlace);
  // ...and an UNAVAILABLE known to be this input's fault is not.
  EXPECT_EQ(RetryOf(GiveUp(absl::UnavailableError("x"))), Retry::kGiveUp);
  EXPECT_EQ(RetryOf(RecreateClient(absl::InternalError("fenced"))), Retry::kRecreateClient);
  EXPECT_EQ(RetryPayload(absl::InternalError("x")), Retry::kUnclassified);
  EXPECT_EQ(RetryOf(WithRetry(GiveUp(absl::InternalError("x")), Retry::kUnclassified)),
            Retry::kUnclassified);
  EXPECT_TRUE(InPlace(absl::OkStatus()).ok());
}

TEST(Retry, WithoutAPayloadTheCodeDecides) {
  EXPECT_EQ(RetryOf(absl::UnavailableError("x")), Retry::kInPlace);
  EXPECT_EQ(RetryOf(absl::DeadlineExceededError("x")), Retry::kInPlace);
  EXPECT_EQ(RetryOf(absl::AbortedError("x")), Retry::kInPlace);
  EXPECT_EQ(RetryOf(absl::ResourceExhaustedError("x")), Retry::kInPlace);
  EXPECT_EQ(RetryOf(absl::InternalError("x")), Retry::kUnclassified);
  EXPECT_EQ(RetryOf(absl::UnknownError("x")), Retry::kUnclassified);
  EXPECT_EQ(RetryOf(absl::FailedPreconditionError("x")), Retry::kGiveUp);
  EXPECT_EQ(RetryOf(absl::InvalidArgumentError("x")), Retry::kGiveUp);
  EXPECT_EQ(RetryOf(absl::OkStatus()), Retry::kUnclassified);
  EXPECT_EQ(RetryName(Retry::kGiveUp), "give_up");
}

}  // namespace
}  // namespace meldpunt::status
