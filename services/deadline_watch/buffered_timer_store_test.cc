// BufferedTimerStore over the in-memory store: one round trip for a run's reads and one for its
// writes, reads that see the run's own writes, writes applied in the order they were made, and
// nothing kept of a write that failed.
#include "services/deadline_watch/buffered_timer_store.h"

#include <gtest/gtest.h>

#include "services/deadline_watch/testing/memory_timer_store.h"

namespace meldpunt::deadline {
namespace {

v1::Clock ClockOf(const std::string& case_id, const std::string& name, v1::ClockStatus status) {
  v1::Clock clock;
  clock.set_case_id(case_id);
  clock.set_name(name);
  clock.set_status(status);
  return clock;
}

Timer TimerOf(const std::string& case_id, int64_t fire_ms) {
  return Timer{case_id, "answer", 1, "breach", 1000, fire_ms, fire_ms};
}

TEST(BufferedTimerStoreTest, OneRoundTripForTheReadsAndOneForTheWrites) {
  MemoryTimerStore store;
  ASSERT_TRUE(store.PutFacts("MP-A", CaseFacts{.department = "roads"}).ok());
  ASSERT_TRUE(store.PutClock(ClockOf("MP-A", "answer", v1::RUNNING)).ok());
  store.round_trips = 0;

  BufferedTimerStore buffered(store);
  ASSERT_TRUE(buffered.Prefetch({"MP-A", "MP-B", "MP-A"}).ok());
  EXPECT_EQ(store.round_trips, 1);
  absl::StatusOr<TimerStore::CaseRecord> a = buffered.Load("MP-A");
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(a->facts.has_value());
  EXPECT_EQ(a->facts->department, "roads");
  ASSERT_EQ(a->clocks.size(), 1u);
  absl::StatusOr<TimerStore::CaseRecord> b = buffered.Load("MP-B");
  ASSERT_TRUE(b.ok());
  EXPECT_FALSE(b->facts.has_value()) << "an unknown case is held as unknown, not read again";
  EXPECT_EQ(store.round_trips, 1);

  ASSERT_TRUE(buffered.PutFacts("MP-B", CaseFacts{.department = "parks"}).ok());
  ASSERT_TRUE(buffered.Schedule(3, {TimerOf("MP-B", 10)}).ok());
  ASSERT_TRUE(buffered
                  .PutClocks({ClockOf("MP-B", "acknowledge", v1::RUNNING),
                              ClockOf("MP-A", "answer", v1::STOPPED)})
                  .ok());
  EXPECT_EQ(store.round_trips, 1) << "nothing written before the flush";
  EXPECT_EQ(store.Pending(3), 0u);
  EXPECT_EQ(buffered.pending(), 3u);

  // The run's own writes are what its later reads see.
  EXPECT_EQ((*buffered.Facts("MP-B"))->department, "parks");
  ASSERT_EQ(buffered.Clocks("MP-A")->size(), 1u);
  EXPECT_EQ((*buffered.Clocks("MP-A"))[0].status(), v1::STOPPED) << "replaced, not added";

  ASSERT_TRUE(buffered.Flush().ok());
  EXPECT_EQ(store.round_trips, 2);
  EXPECT_EQ(buffered.pending(), 0u);
  EXPECT_EQ((*store.Facts("MP-B"))->department, "parks");
  EXPECT_EQ((*store.Clocks("MP-A"))[0].status(), v1::STOPPED);
  EXPECT_EQ(store.Pending(3), 1u);
  EXPECT_TRUE(buffered.Flush().ok()) << "nothing left to send";
}

TEST(BufferedTimerStoreTest, WritesReachTheStoreInTheOrderTheyWereMade) {
  MemoryTimerStore store;
  BufferedTimerStore buffered(store);
  // Scheduled, then cancelled, then scheduled at another time: only the last one is left.
  ASSERT_TRUE(buffered.Schedule(0, {TimerOf("MP-A", 10)}).ok());
  ASSERT_TRUE(buffered.Cancel(0, {TimerOf("MP-A", 10)}).ok());
  ASSERT_TRUE(buffered.Schedule(0, {TimerOf("MP-A", 20)}).ok());
  ASSERT_TRUE(buffered.Flush().ok());
  absl::StatusOr<std::vector<Timer>> due =
      store.ClaimDue(0, absl::FromUnixMillis(100), absl::Seconds(30), 10);
  ASSERT_TRUE(due.ok());
  ASSERT_EQ(due->size(), 1u);
  EXPECT_EQ((*due)[0].fire_ms, 20);
}

TEST(BufferedTimerStoreTest, AFailedFlushKeepsNothingOfWhatItHeld) {
  MemoryTimerStore store;
  ASSERT_TRUE(store.PutClock(ClockOf("MP-A", "answer", v1::RUNNING)).ok());
  BufferedTimerStore buffered(store);
  ASSERT_TRUE(buffered.Prefetch({"MP-A"}).ok());
  ASSERT_TRUE(buffered.PutClock(ClockOf("MP-A", "answer", v1::STOPPED)).ok());
  store.write_error = absl::UnavailableError("redis: connection lost");
  EXPECT_EQ(buffered.Flush(), absl::UnavailableError("redis: connection lost"));
  EXPECT_EQ(buffered.pending(), 0u);
  // Read again from the store, which has the clock as it was.
  store.write_error = absl::OkStatus();
  EXPECT_EQ((*buffered.Clocks("MP-A"))[0].status(), v1::RUNNING);
}

TEST(BufferedTimerStoreTest, TheStoresOtherCallsFlushFirst) {
  MemoryTimerStore store;
  BufferedTimerStore buffered(store);
  ASSERT_TRUE(buffered.Schedule(0, {TimerOf("MP-A", 10)}).ok());
  absl::StatusOr<std::vector<Timer>> due =
      buffered.ClaimDue(0, absl::FromUnixMillis(100), absl::Seconds(30), 10);
  ASSERT_TRUE(due.ok());
  EXPECT_EQ(due->size(), 1u) << "the claim sees the timer scheduled through the view";
}

}  // namespace
}  // namespace meldpunt::deadline
