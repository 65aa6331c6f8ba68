#include "services/intake/completions.h"

#include <atomic>
#include <thread>

#include <gtest/gtest.h>

#include "absl/synchronization/notification.h"

namespace meldpunt::intake {
namespace {

TEST(Completions, RunsWorkOffTheCallersThread) {
  Completions completions(2);
  absl::Notification ran;
  std::thread::id where;
  completions.Post([&] {
    where = std::this_thread::get_id();
    ran.Notify();
  });
  ran.WaitForNotification();
  EXPECT_NE(where, std::this_thread::get_id());
}

TEST(Completions, RunsEverythingQueuedBeforeItGoes) {
  std::atomic<int> done{0};
  {
    // Declared first so that it outlives the pool: the worker may still be returning from
    // WaitForNotification when the block ends.
    absl::Notification release;
    Completions completions(1);
    completions.Post([&] { release.WaitForNotification(); });
    for (int i = 0; i < 100; ++i) completions.Post([&] { ++done; });
    release.Notify();
  }
  EXPECT_EQ(done.load(), 100) << "no answer may be dropped at shutdown";
}

}  // namespace
}  // namespace meldpunt::intake
