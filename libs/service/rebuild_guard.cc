#include "libs/service/rebuild_guard.h"

#include "absl/strings/str_cat.h"
#include "libs/events/ids.h"

namespace meldpunt::service {

RebuildGuard::Held::~Held() {
  if (guard_ == nullptr) return;
  if (lock_ != nullptr) (void)lock_->UnlockRebuild(owner_);
  guard_->running_ = false;
}

absl::StatusOr<RebuildGuard::Held> RebuildGuard::Enter(const std::string& what, RebuildLock* lock) {
  if (running_.exchange(true)) return absl::AbortedError("a rebuild is already running");
  // From here on the flag is this call's: every way out below clears it (a Held does at its end).
  const std::string owner = events::RandomId("rebuild");
  if (lock != nullptr) {
    absl::StatusOr<bool> locked = lock->TryLockRebuild(owner, lock_ttl());
    if (!locked.ok() || !*locked) {
      running_ = false;
      if (!locked.ok()) return locked.status();
      return absl::AbortedError(absl::StrCat("another replica is rebuilding ", what));
    }
  }
  return Held(this, lock, owner);
}

}  // namespace meldpunt::service
