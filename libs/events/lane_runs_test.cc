// LaneRuns: how a lane's records, over several partitions, become the runs its batch handler gets.
#include "libs/events/lane_runs.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace meldpunt::events {
namespace {

kafka::Record At(int32_t partition, int64_t offset, const std::string& key) {
  return {.topic = "t", .partition = partition, .offset = offset, .key = key};
}

const auto kTakeAll = [](size_t, bool) { return true; };

// Two cases on two partitions, three events each, as a poll hands them over: partition 0's
// first. Taking a case once per run, the partitions go side by side: three runs of two, not the
// five a run in poll order would make ([x1], [x2], [x3 y1], [y2], [y3]).
TEST(LaneRuns, ACaseOncePerRunTakesThePartitionsSideBySide) {
  const std::vector<kafka::Record> records = {At(0, 10, "x"), At(0, 11, "x"), At(0, 12, "x"),
                                              At(1, 20, "y"), At(1, 21, "y"), At(1, 22, "y")};
  LaneRuns runs(records, /*one_record_per_case=*/true);
  std::vector<std::vector<size_t>> seen;
  while (!runs.finished()) {
    std::vector<size_t> run = runs.Next(kTakeAll);
    ASSERT_FALSE(run.empty());
    for (size_t i : run) runs.Done(i);
    seen.push_back(run);
  }
  EXPECT_EQ(seen, (std::vector<std::vector<size_t>>{{0, 3}, {1, 4}, {2, 5}}));
}

// Without that rule a run is every partition's records, partition by partition, in log order.
TEST(LaneRuns, ARunHoldsEveryPartitionInLogOrderTogether) {
  const std::vector<kafka::Record> records = {At(2, 5, "a"), At(0, 7, "b"), At(2, 6, "c"),
                                              At(0, 8, "b"), At(2, 7, "a")};
  LaneRuns runs(records, /*one_record_per_case=*/false);
  EXPECT_EQ(runs.Next(kTakeAll), (std::vector<size_t>{0, 2, 4, 1, 3}));
}

// A refused record ends its partition's part of the run, not the other partitions'; whatever is
// done stays a prefix of each partition, and the next run starts at each partition's first
// record not done.
TEST(LaneRuns, ARefusedRecordEndsOnlyItsPartitionsPart) {
  const std::vector<kafka::Record> records = {At(0, 1, "a"), At(1, 1, "b"), At(0, 2, "c"),
                                              At(1, 2, "d"), At(0, 3, "e")};
  LaneRuns runs(records, /*one_record_per_case=*/false);
  std::vector<bool> heads(records.size(), false);
  // Record 2 (partition 0, offset 2) is refused: partition 0 gives only record 0.
  std::vector<size_t> run = runs.Next([&](size_t i, bool head) {
    heads[i] = head;
    return i != 2;
  });
  EXPECT_EQ(run, (std::vector<size_t>{0, 1, 3}));
  EXPECT_TRUE(heads[0]);
  EXPECT_TRUE(heads[1]);
  EXPECT_FALSE(heads[2]);  // asked, after record 0: not its partition's first
  // The handler finished records 0 and 1 and failed at 3: partition 1 goes on from 3.
  runs.Done(0);
  runs.Done(1);
  EXPECT_TRUE(runs.done(0));
  EXPECT_FALSE(runs.done(3));
  EXPECT_EQ(runs.done_count(), 2u);
  run = runs.Next([&](size_t i, bool head) {
    heads[i] = head;
    return true;
  });
  EXPECT_EQ(run, (std::vector<size_t>{2, 4, 3}));
  EXPECT_TRUE(heads[2]);
  EXPECT_TRUE(heads[3]);
  for (size_t i : run) runs.Done(i);
  EXPECT_TRUE(runs.finished());
  EXPECT_TRUE(runs.Next(kTakeAll).empty());
}

// An inert record (one the handler drops, changing nothing) neither ends a run as its case's
// second record nor counts as its case's record; a case's second record that is not inert still
// ends its partition's part.
TEST(LaneRuns, AnInertRecordSharesTheRunWithItsCasesRecord) {
  // Partition 0: x, x (inert), x, y (inert), y. Partition 1: z (inert), z, z.
  const std::vector<kafka::Record> records = {At(0, 1, "x"), At(0, 2, "x"), At(0, 3, "x"),
                                              At(0, 4, "y"), At(0, 5, "y"), At(1, 1, "z"),
                                              At(1, 2, "z"), At(1, 3, "z")};
  const std::vector<bool> inert = {false, true, false, true, false, true, false, false};
  auto is_inert = [&](size_t i) { return static_cast<bool>(inert[i]); };
  LaneRuns runs(records, /*one_record_per_case=*/true);
  std::vector<std::vector<size_t>> seen;
  while (!runs.finished()) {
    std::vector<size_t> run = runs.Next(kTakeAll, is_inert);
    ASSERT_FALSE(run.empty());
    for (size_t i : run) runs.Done(i);
    seen.push_back(run);
  }
  EXPECT_EQ(seen, (std::vector<std::vector<size_t>>{{0, 1, 5, 6}, {2, 3, 4, 7}}));
  // Without the predicate every record counts: four runs.
  LaneRuns counted(records, /*one_record_per_case=*/true);
  size_t count = 0;
  while (!counted.finished()) {
    for (size_t i : counted.Next(kTakeAll)) counted.Done(i);
    ++count;
  }
  EXPECT_EQ(count, 4u);
}

// Marking a record done before the records ahead of it in its partition would let a commit pass
// records nobody handled: it stops the process.
TEST(LaneRunsDeathTest, ARecordIsDoneOnlyAfterThoseBeforeIt) {
  const std::vector<kafka::Record> records = {At(0, 1, "a"), At(0, 2, "b")};
  LaneRuns runs(records, false);
  EXPECT_DEATH(runs.Done(1), "only after the records before it");
}

}  // namespace
}  // namespace meldpunt::events
