#include "services/open311/rate_limit.h"

#include <algorithm>

namespace meldpunt::open311 {

absl::Duration RateLimiter::Take(const std::string& caller, absl::Time now) {
  absl::MutexLock lock(&mu_);
  if (now - swept_ > absl::Minutes(1)) {
    // A bucket idle for a minute is full again: dropping it changes nothing.
    absl::erase_if(buckets_, [&](const auto& entry) {
      return now - entry.second.at > absl::Minutes(1) &&
             burst_ <= entry.second.tokens + rate_ * absl::ToDoubleSeconds(now - entry.second.at);
    });
    swept_ = now;
  }
  auto [it, fresh] = buckets_.try_emplace(caller);
  Bucket& b = it->second;
  if (fresh) {
    b.tokens = burst_;
    b.at = now;
  } else if (now > b.at) {
    b.tokens = std::min(burst_, b.tokens + rate_ * absl::ToDoubleSeconds(now - b.at));
    b.at = now;
  }
  if (b.tokens >= 1) {
    b.tokens -= 1;
    return absl::ZeroDuration();
  }
  return absl::Seconds((1 - b.tokens) / rate_);
}

}  // namespace meldpunt::open311
