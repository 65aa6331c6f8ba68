#include "libs/clock/clock.h"

#include <gtest/gtest.h>

namespace meldpunt::clock {
namespace {

TEST(FakeClock, MovesOnlyWhenTold) {
  const absl::Time start = absl::FromUnixSeconds(1'700'000'000);
  FakeClock fake(start);
  EXPECT_EQ(fake.Now(), start);
  fake.Advance(absl::Hours(3));
  EXPECT_EQ(fake.Now(), start + absl::Hours(3));
  fake.Set(start);
  EXPECT_EQ(fake.Now(), start);
}

TEST(SystemClock, FollowsWallTime) {
  SystemClock system;
  const absl::Time before = absl::Now();
  const absl::Time read = system.Now();
  EXPECT_GE(read, before);
  EXPECT_LT(read - before, absl::Seconds(5));
}

}  // namespace
}  // namespace meldpunt::clock
