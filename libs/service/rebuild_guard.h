// One rebuild of a service's derived state at a time: in this process (a flag) and across the
// replicas (a lock with a time to live in the Redis of that state). The one form of what the
// intake's projection rebuild, deadline-watch's timer rebuild and notification's outbox rebuild
// each wrote by hand: the flag taken first, the lock next, and both given back, lock first, when
// the rebuild ends whichever way it ends.
//
//   ASSIGN_OR_RETURN(service::RebuildGuard::Held held, guard.Enter("the timers", store));
//   ... clear, ReplayCaseLog(..., guard.replay_timeout(), ...), mark intact ...
//   // `held` going out of scope unlocks and then clears guard.running()
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "libs/clock/clock.h"

namespace meldpunt::service {

// The lock replicas share: a key with a time to live, so a replica that dies mid-rebuild holds it
// no longer than that. Implemented by each service's Redis store (or RedisRebuildLock).
class RebuildLock {
 public:
  virtual ~RebuildLock() = default;
  // Takes the lock for `owner` until `ttl` passes; false when someone holds it.
  virtual absl::StatusOr<bool> TryLockRebuild(const std::string& owner, absl::Duration ttl) = 0;
  virtual absl::Status UnlockRebuild(const std::string& owner) = 0;
};

// Thread-safe.
class RebuildGuard {
 public:
  // What a replica's lock adds to the replay timeout: a rebuild that gives up at its timeout
  // still holds the lock while it restarts its consumer and says so.
  static constexpr absl::Duration kLockMargin = absl::Minutes(5);

  explicit RebuildGuard(absl::Duration replay_timeout) : replay_timeout_(replay_timeout) {}
  RebuildGuard(const RebuildGuard&) = delete;
  RebuildGuard& operator=(const RebuildGuard&) = delete;

  // A rebuild under way: running() is true and the lock (if any) is held while it lives. Its end
  // unlocks (an error is passed over: the lock's time to live ends it anyway) and then clears
  // running(). Move-only.
  class Held {
   public:
    Held(Held&& other) noexcept
        : guard_(other.guard_), lock_(other.lock_), owner_(std::move(other.owner_)) {
      other.guard_ = nullptr;
      other.lock_ = nullptr;
    }
    Held& operator=(Held&&) = delete;
    Held(const Held&) = delete;
    ~Held();
    // The lock's owner id (random per rebuild), for marks written "only while I hold the lock".
    const std::string& owner() const { return owner_; }

   private:
    friend class RebuildGuard;
    Held(RebuildGuard* guard, RebuildLock* lock, std::string owner)
        : guard_(guard), lock_(lock), owner_(std::move(owner)) {}
    RebuildGuard* guard_;
    RebuildLock* lock_;
    std::string owner_;
  };

  // Enters a rebuild of `what` ("the timers", "the outbox"). ABORTED "a rebuild is already
  // running" when one runs in this process; ABORTED "another replica is rebuilding <what>" when
  // `lock` is held elsewhere; the lock's own error when Redis does not answer. `lock` may be null
  // (this process only); it must outlive the Held. The lock is taken for lock_ttl().
  absl::StatusOr<Held> Enter(const std::string& what, RebuildLock* lock);

  // A rebuild runs in this process.
  bool running() const { return running_.load(); }
  // How long a rebuild's replay of the log may take (rebuild.timeout).
  absl::Duration replay_timeout() const { return replay_timeout_; }
  absl::Duration lock_ttl() const { return replay_timeout_ + kLockMargin; }

 private:
  const absl::Duration replay_timeout_;
  std::atomic<bool> running_{false};
};

// Whether the marker of complete state is set, as a live consumer asks it for every record while
// a rebuild may run on any replica (the intake's fold, notification's outbox gate): Redis is asked
// at most every 100 ms, and an answer it could not give counts as "not set". Thread-safe.
class CachedMarker {
 public:
  CachedMarker(std::function<absl::StatusOr<bool>()> ask, const clock::Clock& clock)
      : ask_(std::move(ask)), clock_(clock) {}

  bool Set() {
    const int64_t now = absl::ToUnixMillis(clock_.Now());
    if (now - checked_ms_.load() >= 100) {
      absl::StatusOr<bool> set = ask_();
      set_ = set.ok() && *set;
      checked_ms_ = now;
    }
    return set_.load();
  }

 private:
  const std::function<absl::StatusOr<bool>()> ask_;
  const clock::Clock& clock_;
  std::atomic<int64_t> checked_ms_{INT64_MIN / 2};
  std::atomic<bool> set_{false};
};

}  // namespace meldpunt::service
