// BufferedTimerStore over the in-memory store: one round trip for a run's reads and one for its
// writes, reads that see the run's own writes, writes applied in the order they were made, and
// nothing kept of a write that failed.
#include "services/deadline_watch/buffered_timer_store.h"

#include <gtest/gtest.h>

#include <random>

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

// The rebuild's view sends only what a run leaves: a timer scheduled and cancelled in the run
// is never inserted, and a clock or a case's facts written twice are written once.
TEST(BufferedTimerStoreTest, TheFinalStateOfARunIsWrittenWithoutTheTimersItCancelled) {
  MemoryTimerStore store;
  BufferedTimerStore buffered(store, BufferedTimerStore::Writes::kFinalState);
  ASSERT_TRUE(buffered.Schedule(0, {TimerOf("MP-A", 10), TimerOf("MP-A", 15)}).ok());
  ASSERT_TRUE(buffered.PutFacts("MP-A", CaseFacts{.department = "roads"}).ok());
  ASSERT_TRUE(buffered.PutClock(ClockOf("MP-A", "answer", v1::RUNNING)).ok());
  ASSERT_TRUE(buffered.Cancel(0, {TimerOf("MP-A", 10), TimerOf("MP-A", 15)}).ok());
  ASSERT_TRUE(buffered.Schedule(0, {TimerOf("MP-A", 20)}).ok());
  ASSERT_TRUE(buffered.PutFacts("MP-A", CaseFacts{.department = "parks"}).ok());
  ASSERT_TRUE(buffered.PutClock(ClockOf("MP-A", "answer", v1::STOPPED)).ok());
  store.round_trips = 0;
  ASSERT_TRUE(buffered.Flush().ok());
  EXPECT_EQ(store.round_trips, 1);
  EXPECT_EQ(store.timers_scheduled, 1) << "the two cancelled in the run never went in";
  EXPECT_EQ(store.Pending(0), 1u);
  EXPECT_EQ((*store.Facts("MP-A"))->department, "parks");
  ASSERT_EQ(store.Clocks("MP-A")->size(), 1u);
  EXPECT_EQ((*store.Clocks("MP-A"))[0].status(), v1::STOPPED);
}

// Whatever a run writes, the store ends the same with either view: random runs of schedules,
// cancels, facts and clocks over a few cases and partitions, with some timers in flight from
// before the run, written in order to one store and as their final state to the other.
TEST(BufferedTimerStoreTest, TheFinalStateIsWhatTheWritesInOrderLeave) {
  std::mt19937 random(20261204);
  const std::vector<std::string> cases = {"MP-A", "MP-B"};
  for (int run = 0; run < 500; ++run) {
    MemoryTimerStore in_order, final_state;
    // Before the run: some timers pending, two of them claimed (in flight).
    for (MemoryTimerStore* store : {&in_order, &final_state}) {
      ASSERT_TRUE(store->Schedule(0, {TimerOf("MP-A", 10), TimerOf("MP-B", 11)}).ok());
      ASSERT_TRUE(store->Schedule(1, {TimerOf("MP-B", 10), TimerOf("MP-A", 12)}).ok());
      ASSERT_TRUE(store->ClaimDue(0, absl::FromUnixMillis(11), absl::Seconds(30), 10).ok());
    }
    BufferedTimerStore a(in_order, BufferedTimerStore::Writes::kInOrder);
    BufferedTimerStore b(final_state, BufferedTimerStore::Writes::kFinalState);
    const int writes = 1 + static_cast<int>(random() % 16);
    for (int w = 0; w < writes; ++w) {
      const std::string& case_id = cases[random() % cases.size()];
      const int32_t partition = static_cast<int32_t>(random() % 2);
      const std::vector<Timer> timers = {TimerOf(case_id, 10 + random() % 2)};
      const v1::ClockStatus status = random() % 2 ? v1::RUNNING : v1::STOPPED;
      const std::string department = random() % 2 ? "roads" : "parks";
      const int choice = static_cast<int>(random() % 4);
      for (BufferedTimerStore* view : {&a, &b}) {
        switch (choice) {
          case 0:
            ASSERT_TRUE(view->Schedule(partition, timers).ok());
            break;
          case 1:
            ASSERT_TRUE(view->Cancel(partition, timers).ok());
            break;
          case 2:
            ASSERT_TRUE(view->PutFacts(case_id, CaseFacts{.department = department}).ok());
            break;
          default:
            ASSERT_TRUE(view->PutClock(ClockOf(case_id, "answer", status)).ok());
            break;
        }
      }
    }
    ASSERT_TRUE(a.Flush().ok());
    ASSERT_TRUE(b.Flush().ok());
    EXPECT_EQ(final_state.Dump(), in_order.Dump()) << "run " << run;
    EXPECT_LE(final_state.timers_scheduled, in_order.timers_scheduled);
  }
}

}  // namespace
}  // namespace meldpunt::deadline
