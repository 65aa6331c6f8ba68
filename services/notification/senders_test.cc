// How the dispatcher shares its free senders among the partitions' queues (ClaimFairly).
#include "services/notification/senders.h"

#include <map>
#include <vector>

#include <gtest/gtest.h>

namespace meldpunt::notification {
namespace {

// Queues of `waiting` messages per partition; claim takes from them.
struct Queues {
  std::map<int32_t, int> waiting;
  std::map<int32_t, int> taken;
  std::vector<std::pair<int32_t, int>> calls;
  int rounds = 0;
  absl::StatusOr<int> Claim(int32_t p, int n) {
    calls.emplace_back(p, n);
    if (p < 0) return absl::UnavailableError("redis down");
    const int got = std::min(n, waiting[p]);
    waiting[p] -= got;
    taken[p] += got;
    return got;
  }
};

int ClaimFrom(Queues& q, const std::vector<int32_t>& order, int free) {
  return ClaimFairly(order, free, [&](const std::vector<std::pair<int32_t, int>>& wants) {
    ++q.rounds;
    std::vector<absl::StatusOr<int>> got;
    for (const auto& [p, n] : wants) got.push_back(q.Claim(p, n));
    return got;
  });
}

TEST(ClaimFairly, ABacklogInOnePartitionDoesNotHoldBackTheOthers) {
  Queues q;
  q.waiting = {{0, 1000}, {1, 3}, {2, 1000}, {3, 0}};
  EXPECT_EQ(ClaimFrom(q, {0, 1, 2, 3}, 8), 8);
  // Before, partition 0 took all 8 and the others waited until it was empty.
  EXPECT_EQ(q.taken[1], 3);  // all it had, in the same pass
  EXPECT_GE(q.taken[2], 2);
  EXPECT_GE(q.taken[0], 2);
  EXPECT_EQ(q.taken[0] + q.taken[1] + q.taken[2], 8);
  // Every partition asked at once, then those that had more: two round trips, not eight.
  EXPECT_EQ(q.rounds, 2);
}

TEST(ClaimFairly, OneRoundWhenEveryPartitionHasEnough) {
  Queues q;
  q.waiting = {{0, 100}, {1, 100}, {2, 100}, {3, 100}, {4, 100}, {5, 100}};
  EXPECT_EQ(ClaimFrom(q, {2, 3, 4, 5, 0, 1}, 8), 8);
  EXPECT_EQ(q.rounds, 1);
  // 8 over 6: the first two in the order get two, the others one.
  EXPECT_EQ(q.calls,
            (std::vector<std::pair<int32_t, int>>{{2, 2}, {3, 2}, {4, 1}, {5, 1}, {0, 1}, {1, 1}}));
}

TEST(ClaimFairly, WhatOnePartitionLeavesGoesToTheOthersInTheSamePass) {
  Queues q;
  q.waiting = {{0, 1000}, {1, 0}, {2, 0}, {3, 0}, {4, 0}, {5, 0}};
  // All free senders get work although only one partition has any.
  EXPECT_EQ(ClaimFrom(q, {1, 2, 3, 4, 5, 0}, 30), 30);
  EXPECT_EQ(q.taken[0], 30);
  EXPECT_EQ(ClaimFrom(q, {0, 1}, 250), 250);  // at most 100 per claim, as many claims as it takes
  for (const auto& [p, n] : q.calls) EXPECT_LE(n, 100);
}

TEST(ClaimFairly, StopsWhenNothingIsFreeOrNothingIsLeftAndPassesAFailedClaimBy) {
  Queues q;
  q.waiting = {{0, 2}, {1, 1}};
  EXPECT_EQ(ClaimFrom(q, {-1, 0, 1}, 10), 3);  // -1: its claim fails
  EXPECT_EQ(q.waiting[0], 0);
  EXPECT_EQ(q.waiting[1], 0);
  q.calls.clear();
  EXPECT_EQ(ClaimFrom(q, {0, 1}, 0), 0);
  EXPECT_TRUE(q.calls.empty());
  EXPECT_EQ(ClaimFrom(q, {}, 5), 0);
  // One free sender: only the first partition in the order is asked (the dispatcher rotates it).
  q.waiting = {{0, 5}, {1, 5}};
  q.calls.clear();
  EXPECT_EQ(ClaimFrom(q, {1, 0}, 1), 1);
  EXPECT_EQ(q.calls, (std::vector<std::pair<int32_t, int>>{{1, 1}}));
}

}  // namespace
}  // namespace meldpunt::notification
