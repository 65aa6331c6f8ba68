#include "services/intake/fold_watch.h"

#include <optional>
#include <thread>

#include <gtest/gtest.h>

#include "absl/time/clock.h"

namespace meldpunt::intake {
namespace {

types::v1::Case CaseWith(const std::string& id) {
  types::v1::Case c;
  c.set_case_id(id);
  return c;
}

TEST(FoldWatch, AWaiterWakesForItsOwnEventOnlyAndGetsTheCase) {
  FoldWatch watch;
  FoldWatch::Waiter mine(watch, "MP-1", "ev-1");
  FoldWatch::Waiter other(watch, "MP-1", "ev-2");
  EXPECT_EQ(watch.waiting(), 2u);
  const types::v1::Case folded = CaseWith("MP-1");
  watch.Folded("MP-2", "ev-1", &folded);  // another case
  watch.Folded("MP-1", "ev-1", &folded);
  EXPECT_TRUE(mine.Wait(absl::Now()));
  const std::optional<types::v1::Case> taken = mine.TakeFolded();
  ASSERT_TRUE(taken.has_value());
  EXPECT_EQ(taken->case_id(), "MP-1");
  EXPECT_FALSE(mine.TakeFolded().has_value()) << "taken once";
  EXPECT_FALSE(other.Wait(absl::Now()));  // deadline already passed, not told
}

// With no one waiting a fold passes by without the mutex (a rebuild's replay folds hundreds of
// thousands of events so); a waiter registered after that, and after one that left, still wakes.
TEST(FoldWatch, AFoldWithNoOneWaitingPassesByAndALaterWaiterStillWakes) {
  FoldWatch watch;
  const types::v1::Case folded = CaseWith("MP-1");
  watch.Folded("MP-1", "ev-1", &folded);
  { FoldWatch::Waiter left(watch, "MP-1", "ev-0"); }
  EXPECT_EQ(watch.waiting(), 0u);
  watch.Folded("MP-1", "ev-1", &folded);
  FoldWatch::Waiter waiter(watch, "MP-1", "ev-1");
  EXPECT_FALSE(waiter.Wait(absl::Now())) << "an earlier fold is not this waiter's";
  watch.Folded("MP-1", "ev-1", &folded);
  EXPECT_TRUE(waiter.Wait(absl::Now()));
  ASSERT_TRUE(waiter.TakeFolded().has_value());
}

TEST(FoldWatch, ARepeatWakesWithoutACase) {
  FoldWatch watch;
  FoldWatch::Waiter waiter(watch, "MP-1", "ev-1");
  watch.Folded("MP-1", "ev-1", nullptr);
  EXPECT_TRUE(waiter.Wait(absl::Now()));
  EXPECT_FALSE(waiter.TakeFolded().has_value());
}

TEST(FoldWatch, AWaiterBlockedInWaitIsWokenFromAnotherThread) {
  FoldWatch watch;
  FoldWatch::Waiter waiter(watch, "MP-1", "ev-1");
  std::thread projection([&] {
    while (watch.waiting() == 0) {
    }
    const types::v1::Case folded = CaseWith("MP-1");
    watch.Folded("MP-1", "ev-1", &folded);
  });
  EXPECT_TRUE(waiter.Wait(absl::Now() + absl::Seconds(30)));
  projection.join();
}

// The caller may learn of the fold elsewhere (polling Redis finds it) and ask for the case while
// the projection consumer is still reporting it: the read and the fold's write of the case are
// under one mutex (reading it unlocked was a data race that `tools/dev tsan` reported).
TEST(FoldWatch, TheCaseCanBeAskedForWhileTheFoldReportsIt) {
  FoldWatch watch;
  FoldWatch::Waiter waiter(watch, "MP-1", "ev-1");
  std::thread projection([&] {
    const types::v1::Case folded = CaseWith("MP-1");
    watch.Folded("MP-1", "ev-1", &folded);
  });
  std::optional<types::v1::Case> taken;
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (!taken && absl::Now() < deadline) taken = waiter.TakeFolded();
  projection.join();
  ASSERT_TRUE(taken.has_value());
  EXPECT_EQ(taken->case_id(), "MP-1");
}

TEST(FoldWatch, AGoneWaiterIsForgotten) {
  FoldWatch watch;
  { FoldWatch::Waiter waiter(watch, "MP-1", "ev-1"); }
  EXPECT_EQ(watch.waiting(), 0u);
  watch.Folded("MP-1", "ev-1", nullptr);  // nobody to tell: no crash
}

}  // namespace
}  // namespace meldpunt::intake
