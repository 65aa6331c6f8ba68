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
};

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
