// A token bucket per caller: `rate` requests per second on average, `burst` at once. A caller
// that has not been seen for a minute is forgotten, so that the table stays small. Thread-safe.
#pragma once

#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace meldpunt::open311 {

class RateLimiter {
 public:
  RateLimiter(double rate, double burst) : rate_(rate), burst_(burst) {}

  // Takes one request of `caller` at `now`: zero when it may go, otherwise how long to wait
  // before the next one may (Retry-After).
  absl::Duration Take(const std::string& caller, absl::Time now);

 private:
  struct Bucket {
    double tokens = 0;
    absl::Time at;
  };
  const double rate_;
  const double burst_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, Bucket> buckets_ ABSL_GUARDED_BY(mu_);
  absl::Time swept_ ABSL_GUARDED_BY(mu_);
};

}  // namespace meldpunt::open311
