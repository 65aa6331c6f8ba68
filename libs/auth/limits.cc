#include "libs/auth/limits.h"

#include "absl/strings/str_cat.h"

namespace meldpunt::auth {

absl::StatusOr<CallerLimit::Ticket> CallerLimit::Acquire(const Principal& who) {
  std::string key = CallerKey(who);
  absl::MutexLock lock(&mu_);
  int& mine = by_caller_[key];
  // In the open development mode nobody is told apart: only the total counts.
  if (who.authenticated && mine >= per_caller_) {
    if (mine == 0) by_caller_.erase(key);
    return absl::ResourceExhaustedError(absl::StrCat("at most ", per_caller_, " ", what_,
                                                     " at once per caller; close one and retry"));
  }
  if (in_use_ >= total_) {
    if (mine == 0) by_caller_.erase(key);
    return absl::ResourceExhaustedError(
        absl::StrCat("this replica serves at most ", total_, " ", what_, " at once; retry later"));
  }
  ++mine;
  ++in_use_;
  return Ticket(this, std::move(key));
}

int CallerLimit::in_use() const {
  absl::MutexLock lock(&mu_);
  return in_use_;
}

void CallerLimit::Release(const std::string& key) {
  absl::MutexLock lock(&mu_);
  auto it = by_caller_.find(key);
  if (it != by_caller_.end() && --it->second <= 0) by_caller_.erase(it);
  --in_use_;
}

}  // namespace meldpunt::auth
