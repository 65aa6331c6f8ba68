// The application base: stops run last first, a failed start runs the stops registered so far,
// the readiness flag, the rebuild guard and the replay timeout from config. No I/O.
#include "libs/service/application.h"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "libs/config/config.h"
#include "libs/service/consumer_slot.h"
#include "libs/status/status_macros.h"

namespace meldpunt::service {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

config::ServiceConfig Config(absl::Duration replay_timeout = absl::Minutes(30)) {
  config::ServiceConfig config;
  config.replay_timeout = replay_timeout;
  return config;
}

TEST(Application, StopsRunLastFirst) {
  std::vector<std::string> order;
  Application app("test", Config());
  ASSERT_TRUE(
      app.Start([&]() -> absl::Status {
           RETURN_IF_ERROR(app.Step(
               "admin", [] { return absl::OkStatus(); }, [&] { order.push_back("admin"); }));
           app.Defer("producer", [&] { order.push_back("producer"); });
           RETURN_IF_ERROR(app.Step(
               "consumer", [] { return absl::OkStatus(); }, [&] { order.push_back("consumer"); }));
           // A step without a stop registers nothing.
           RETURN_IF_ERROR(app.Step("log", [] { return absl::OkStatus(); }));
           return app.Step(
               "grpc", [] { return absl::OkStatus(); }, [&] { order.push_back("grpc"); });
         })
          .ok());
  EXPECT_THAT(app.pending_stops(), ElementsAre("admin", "producer", "consumer", "grpc"));
  app.Stop();
  EXPECT_THAT(order, ElementsAre("grpc", "consumer", "producer", "admin"));
  EXPECT_TRUE(app.pending_stops().empty());
  // Once: a second Stop (and the destructor) runs nothing again.
  app.Stop();
  EXPECT_EQ(order.size(), 4u);
}

TEST(Application, AFailedStartStepRunsTheStopsRegisteredSoFar) {
  std::vector<std::string> order;
  bool later_step_ran = false;
  Application app("test", Config());
  absl::Status started = app.Start([&]() -> absl::Status {
    RETURN_IF_ERROR(app.Step(
        "admin", [] { return absl::OkStatus(); }, [&] { order.push_back("admin"); }));
    app.Defer("producer", [&] { order.push_back("producer"); });
    // The failing step's own stop is not registered: it did not start.
    RETURN_IF_ERROR(app.Step(
        "grpc", [] { return absl::UnavailableError("port taken"); },
        [&] { order.push_back("grpc"); }));
    later_step_ran = true;
    return app.Step(
        "reload", [] { return absl::OkStatus(); }, [&] { order.push_back("reload"); });
  });
  EXPECT_EQ(started, absl::UnavailableError("port taken"));
  EXPECT_FALSE(later_step_ran);
  EXPECT_THAT(order, ElementsAre("producer", "admin"));
  EXPECT_FALSE(app.started());
  EXPECT_FALSE(app.Ready());
  app.Stop();
  EXPECT_EQ(order.size(), 2u);
}

TEST(Application, TheDestructorStopsWhatIsStarted) {
  std::vector<std::string> order;
  {
    Application app("test", Config());
    ASSERT_TRUE(app.Start([&] {
                     app.Defer("a", [&] { order.push_back("a"); });
                     app.Defer("b", [&] { order.push_back("b"); });
                     return absl::OkStatus();
                   })
                    .ok());
  }
  EXPECT_THAT(order, ElementsAre("b", "a"));
}

TEST(Application, ReadyOnlyWhileStartedAndAsTheServiceSays) {
  Application app("test", Config());
  int asked = 0;
  bool own = true;
  auto also = [&] {
    ++asked;
    return own;
  };
  EXPECT_FALSE(app.Ready(also));
  EXPECT_EQ(asked, 0) << "what Start has not made yet is not asked";
  bool ready_during_start = true;
  ASSERT_TRUE(app.Start([&] {
                   ready_during_start = app.Ready(also);
                   return absl::OkStatus();
                 })
                  .ok());
  EXPECT_FALSE(ready_during_start);
  EXPECT_TRUE(app.Ready(also));
  EXPECT_TRUE(app.Ready());
  own = false;
  EXPECT_FALSE(app.Ready(also));
  own = true;
  bool ready_during_stop = true;
  app.Defer("check", [&] { ready_during_stop = app.Ready(also); });
  app.Stop();
  EXPECT_FALSE(ready_during_stop) << "not ready before the first stop runs";
  EXPECT_FALSE(app.Ready(also));
}

TEST(Application, ReadinessIsReadFromAnotherThreadWhileStartingAndStopping) {
  // The admin server's thread asks /readyz while the main thread starts and stops the service:
  // the flag is an atomic (TSan checks this test), and it is never true outside Start..Stop.
  Application app("test", Config());
  std::atomic<int> phase{0};  // 1: the last start step ran; 2: Stop returned
  std::atomic<bool> done{false};
  std::atomic<int> wrong{0};
  std::atomic<int> seen_ready{0};
  std::thread admin([&] {
    while (!done.load()) {
      const int before = phase.load();
      const bool ready = app.Ready();
      const int after = phase.load();
      if (ready) ++seen_ready;
      if (ready && (after == 0 || before == 2)) ++wrong;
    }
  });
  ASSERT_TRUE(app.Start([&] {
                   app.Defer("x", [] {});
                   phase = 1;
                   return absl::OkStatus();
                 })
                  .ok());
  while (seen_ready.load() == 0) absl::SleepFor(absl::Milliseconds(1));
  app.Stop();
  phase = 2;
  absl::SleepFor(absl::Milliseconds(5));
  done = true;
  admin.join();
  EXPECT_FALSE(app.Ready());
  EXPECT_EQ(wrong.load(), 0);
}

class FakeLock : public RebuildLock {
 public:
  explicit FakeLock(const RebuildGuard* guard = nullptr) : guard_(guard) {}
  absl::StatusOr<bool> TryLockRebuild(const std::string& owner, absl::Duration ttl) override {
    if (!error.ok()) return error;
    if (!holder.empty()) return false;
    holder = owner;
    this->ttl = ttl;
    return true;
  }
  absl::Status UnlockRebuild(const std::string& owner) override {
    unlocked_by.push_back(owner);
    running_at_unlock = guard_ != nullptr && guard_->running();
    if (holder == owner) holder.clear();
    return absl::OkStatus();
  }
  std::string holder;
  absl::Duration ttl;
  absl::Status error;
  std::vector<std::string> unlocked_by;
  bool running_at_unlock = false;

 private:
  const RebuildGuard* guard_;
};

TEST(RebuildGuard, OneRebuildAtATimeInThisProcess) {
  RebuildGuard guard(absl::Minutes(30));
  FakeLock lock(&guard);
  EXPECT_FALSE(guard.running());
  {
    absl::StatusOr<RebuildGuard::Held> held = guard.Enter("the timers", &lock);
    ASSERT_TRUE(held.ok()) << held.status();
    EXPECT_TRUE(guard.running());
    EXPECT_EQ(lock.holder, held->owner());
    EXPECT_THAT(held->owner(), HasSubstr("rebuild"));
    EXPECT_EQ(lock.ttl, absl::Minutes(35)) << "the replay timeout and 5 minutes";
    absl::StatusOr<RebuildGuard::Held> second = guard.Enter("the timers", &lock);
    EXPECT_EQ(second.status(), absl::AbortedError("a rebuild is already running"));
    EXPECT_TRUE(guard.running()) << "the refused second rebuild leaves the first one's flag";
  }
  EXPECT_FALSE(guard.running());
  ASSERT_EQ(lock.unlocked_by.size(), 1u);
  EXPECT_TRUE(lock.running_at_unlock) << "the lock goes first, then the flag";
  EXPECT_TRUE(lock.holder.empty());
  // Free again.
  absl::StatusOr<RebuildGuard::Held> again = guard.Enter("the timers", &lock);
  EXPECT_TRUE(again.ok());
}

TEST(RebuildGuard, AnotherReplicaHoldingTheLockIsAborted) {
  RebuildGuard guard(absl::Minutes(30));
  FakeLock lock;
  lock.holder = "rebuild-of-the-other-replica";
  absl::StatusOr<RebuildGuard::Held> held = guard.Enter("the outbox", &lock);
  EXPECT_EQ(held.status(), absl::AbortedError("another replica is rebuilding the outbox"));
  EXPECT_FALSE(guard.running());
  EXPECT_TRUE(lock.unlocked_by.empty()) << "a lock not taken is not given back";
}

TEST(RebuildGuard, ALockThatCannotBeAskedIsTheError) {
  RebuildGuard guard(absl::Minutes(30));
  FakeLock lock;
  lock.error = absl::UnavailableError("redis: connection refused");
  absl::StatusOr<RebuildGuard::Held> held = guard.Enter("the timers", &lock);
  EXPECT_EQ(held.status(), absl::UnavailableError("redis: connection refused"));
  EXPECT_FALSE(guard.running());
}

TEST(RebuildGuard, AMovedHeldEndsTheRebuildOnce) {
  RebuildGuard guard(absl::Minutes(1));
  FakeLock lock;
  {
    absl::StatusOr<RebuildGuard::Held> held = guard.Enter("the timers", &lock);
    ASSERT_TRUE(held.ok());
    RebuildGuard::Held moved = std::move(*held);
    EXPECT_TRUE(guard.running());
  }
  EXPECT_FALSE(guard.running());
  EXPECT_EQ(lock.unlocked_by.size(), 1u);
}

TEST(RebuildGuard, WithoutALockOnlyThisProcessIsGuarded) {
  RebuildGuard guard(absl::Minutes(1));
  absl::StatusOr<RebuildGuard::Held> held = guard.Enter("the timers", nullptr);
  ASSERT_TRUE(held.ok());
  EXPECT_TRUE(guard.running());
  EXPECT_EQ(guard.Enter("the timers", nullptr).status().code(), absl::StatusCode::kAborted);
}

TEST(Application, NotReadyWhileARebuildRunsUnlessTheServiceSaysSo) {
  Application strict("test", Config());
  Application lenient("test", Config(), {.ready_while_rebuilding = true});
  ASSERT_TRUE(strict.Start([] { return absl::OkStatus(); }).ok());
  ASSERT_TRUE(lenient.Start([] { return absl::OkStatus(); }).ok());
  {
    auto a = strict.rebuild().Enter("the timers", nullptr);
    auto b = lenient.rebuild().Enter("the outbox", nullptr);
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_FALSE(strict.Ready());
    EXPECT_TRUE(lenient.Ready());
  }
  EXPECT_TRUE(strict.Ready());
}

TEST(Application, TheReplayTimeoutComesFromConfig) {
  struct TestConfig : config::ServiceConfig {};
  config::Schema<TestConfig> schema("test");
  config::AddRebuildKeys(schema);
  absl::StatusOr<TestConfig> defaults = schema.LoadString("", {});
  ASSERT_TRUE(defaults.ok()) << defaults.status();
  EXPECT_EQ(defaults->replay_timeout, absl::Minutes(30));
  absl::StatusOr<TestConfig> set = schema.LoadString("rebuild: {timeout: 45m}\n", {});
  ASSERT_TRUE(set.ok()) << set.status();
  Application app("test", *set);
  EXPECT_EQ(app.replay_timeout(), absl::Minutes(45));
  EXPECT_EQ(app.rebuild().lock_ttl(), absl::Minutes(50));
  absl::StatusOr<TestConfig> env =
      schema.LoadString("", {{config::EnvName("rebuild.timeout"), "2h"}});
  ASSERT_TRUE(env.ok()) << env.status();
  EXPECT_EQ(env->replay_timeout, absl::Hours(2));
  absl::StatusOr<TestConfig> zero = schema.LoadString("rebuild: {timeout: 0s}\n", {});
  ASSERT_FALSE(zero.ok());
  EXPECT_THAT(zero.status().message(), HasSubstr("rebuild.timeout"));
}

TEST(ConsumerSlot, AConsumerThatCannotBeMadeIsTheStartsError) {
  ConsumerSlot slot([]() -> absl::StatusOr<std::unique_ptr<events::EventConsumer>> {
    return absl::UnavailableError("kafka: no broker");
  });
  EXPECT_EQ(slot.Start(), absl::UnavailableError("kafka: no broker"));
  EXPECT_FALSE(slot.Ready());
  EXPECT_TRUE(slot.AwaitJoined(absl::Now())) << "no consumer: nothing to wait for";
  slot.Stop();
}

}  // namespace
}  // namespace meldpunt::service
