// The chaos load client: submits cases at a steady rate with idempotency keys, retries a
// submission whose outcome is unknown with the same key, and writes a ledger line (JSON) for
// every SubmitCase that returned OK. The ledger is what the verifier holds the system to.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "absl/time/time.h"

namespace meldpunt::chaos {

struct LoadOptions {
  std::string intake;      // host:port
  std::string ledger;      // appended to
  std::string key_prefix;  // request keys are <prefix>-<n>
  double rate = 20;        // submissions per second
  absl::Duration duration = absl::Seconds(30);
  absl::Duration call_timeout = absl::Seconds(10);
  absl::Duration retry_for = absl::Seconds(120);  // after the last submission started
  int workers = 16;
  // Every case with a point (NearbyPoint): reports of a category in groups of four within 32 m of
  // each other, likely duplicates for routing to link; each group 100 m or more from any other
  // of its category. Without it, no case has coordinates.
  bool nearby = false;
};

// The point of case `n` of a --nearby load. Cases come in blocks of 56 on a grid of cells about
// 1 km apart; in a block, the cases 7 apart share a category, and of those the ones 14 apart
// share one of two spots 122 m apart (each point within about 11 m of its spot, 32 m across).
struct Point {
  double latitude = 0, longitude = 0;
};
Point NearbyPoint(int64_t n);

struct LoadSummary {
  int64_t attempted = 0;
  int64_t ok = 0;
  int64_t created = 0;
  int64_t repeated = 0;  // OK with created=false: a retry the intake recognised by its key
  int64_t rejected = 0;  // a non-retryable error (a bug under chaos: the input is valid)
  int64_t gave_up = 0;   // still failing at the end of the retry window
  int64_t retries = 0;
  int64_t read_your_write_misses = 0;
  std::map<std::string, int64_t> errors;  // gRPC code -> count, retried or not
  double seconds = 0;
};

LoadSummary RunLoad(const LoadOptions& options);

}  // namespace meldpunt::chaos
