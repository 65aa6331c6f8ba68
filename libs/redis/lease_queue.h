// A due-time queue with leases in two sorted sets: members wait in `due` (score = when they are
// due, ms) and a claim moves the due ones, and those whose lease ran out, to `inflight` (score =
// lease expiry) in one Lua script. The caller removes a member from `inflight` when it is done;
// one it never finishes (the process died) is claimed again after its lease. Deadline-watch's
// timers and notification's outbox both run on it.
//
//   Client::Create({.scripts = {LeaseClaimScript()}});
//   ASSIGN_OR_RETURN(auto members, ClaimLeased(client, "mp:{p3}:timers", "mp:{p3}:inflight",
//                                              absl::Now(), absl::Seconds(30), 100));
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "libs/redis/redis.h"

namespace meldpunt::redis {

// Register it with the client (Options::scripts) before ClaimLeased.
Script LeaseClaimScript();

// At most `limit` members: expired leases first, then due members, earliest first; each gets a
// lease until now + lease.
absl::StatusOr<std::vector<std::string>> ClaimLeased(Client& client, const std::string& due_key,
                                                     const std::string& inflight_key,
                                                     absl::Time now, absl::Duration lease,
                                                     int limit);

// One queue of a ClaimLeasedMany: its two sorted sets and at most how many to claim.
struct LeaseClaim {
  std::string due_key;
  std::string inflight_key;
  int limit = 0;
};

// ClaimLeased of several queues in one round trip (one script call each, pipelined); the members
// of each, in the order of `claims`, or the error of its script. Fails as a whole only when Redis
// did not answer.
absl::StatusOr<std::vector<absl::StatusOr<std::vector<std::string>>>> ClaimLeasedMany(
    Client& client, const std::vector<LeaseClaim>& claims, absl::Time now, absl::Duration lease);

}  // namespace meldpunt::redis
