#include "services/open311/rate_limit.h"

#include <gtest/gtest.h>

namespace meldpunt::open311 {
namespace {

const absl::Time kStart = absl::FromUnixSeconds(1772616900);

TEST(RateLimiter, ABurstThenTheRateAndEachCallerHasItsOwn) {
  RateLimiter limiter(/*rate=*/2, /*burst=*/3);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(limiter.Take("a", kStart), absl::ZeroDuration()) << i;
  // The fourth at once waits half a second (2 per second).
  EXPECT_EQ(limiter.Take("a", kStart), absl::Milliseconds(500));
  EXPECT_EQ(limiter.Take("b", kStart), absl::ZeroDuration()) << "another caller";
  EXPECT_EQ(limiter.Take("a", kStart + absl::Milliseconds(500)), absl::ZeroDuration());
  EXPECT_GT(limiter.Take("a", kStart + absl::Milliseconds(500)), absl::ZeroDuration());
  // Idle long enough, the bucket is full again, never fuller than the burst.
  const absl::Time later = kStart + absl::Minutes(5);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(limiter.Take("a", later), absl::ZeroDuration()) << i;
  EXPECT_GT(limiter.Take("a", later), absl::ZeroDuration());
}

}  // namespace
}  // namespace meldpunt::open311
