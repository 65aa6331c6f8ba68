// Readiness against a producer of librdkafka's in-process mock cluster: a fatal producer error
// (raised the way librdkafka raises a real one) makes the service not ready for good and asks the
// process to exit, once.
#include "libs/service/readiness.h"

#include <atomic>
#include <string>

#include <gtest/gtest.h>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"

namespace meldpunt::service {
namespace {

// Polls `check` every 10 ms for up to 10 s: what a background thread did shows within that.
template <typename F>
bool Within10s(F check) {
  for (const absl::Time end = absl::Now() + absl::Seconds(10); absl::Now() < end;) {
    if (check()) return true;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return check();
}

TEST(DependencyCheck, AFatalProducerIsNeverReadyAgainAndEndsTheProcessOnce) {
  auto producer = kafka::Producer::Create(
      {.brokers = "", .client_id = "readiness-test", .extra = {{"test.mock.num.brokers", "1"}}});
  ASSERT_TRUE(producer.ok()) << producer.status();
  absl::Mutex mu;
  int calls = 0;
  std::string why;
  DependencyCheck check(producer->get(), {}, absl::Milliseconds(20), [&](const absl::Status& s) {
    absl::MutexLock lock(&mu);
    ++calls;
    why = std::string(s.message());
  });
  ASSERT_TRUE(Within10s([&] { return check.up(); })) << check.down();
  ASSERT_TRUE((*producer)->RaiseFatalErrorForTest("fenced by a newer instance").ok());
  ASSERT_TRUE(Within10s([&] { return (*producer)->fatal(); }));
  ASSERT_TRUE(Within10s([&] { return !check.up(); }));
  // A check that was pinging when the error came may first show the broker's words; the next one
  // names the fatal error, and it stays.
  EXPECT_TRUE(Within10s([&] { return check.down().find("fatal") != std::string::npos; }))
      << check.down();
  ASSERT_TRUE(Within10s([&] {
    absl::MutexLock lock(&mu);
    return calls == 1;
  }));
  // Checked again and again: still not ready, and the exit is asked for once only.
  const absl::Time later = absl::Now() + absl::Milliseconds(200);
  while (absl::Now() < later) EXPECT_FALSE(check.up());
  absl::MutexLock lock(&mu);
  EXPECT_EQ(calls, 1);
  EXPECT_NE(why.find("fatal error"), std::string::npos) << why;
}

}  // namespace
}  // namespace meldpunt::service
