// What routing keeps in Redis, all derived from case events:
//   mp:route:{<case>}               serialized meldpunt.routing.v1.RouteState
//   mp:open:{<department>}:<member> set of the open cases assigned to a member (workload)
// Sets make the workload idempotent: folding an event twice adds or removes the same member.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "libs/redis/redis.h"
#include "meldpunt/routing/v1/routing.pb.h"

namespace meldpunt::routing {

class RouteStore {
 public:
  virtual ~RouteStore() = default;
  virtual absl::StatusOr<v1::RouteState> Load(const std::string& case_id) = 0;
  // Writes the state and moves the case between the workload sets of `before` and `after`.
  virtual absl::Status Save(const std::string& case_id, const v1::RouteState& before,
                            const v1::RouteState& after) = 0;
  virtual absl::StatusOr<std::map<std::string, int64_t>> OpenCases(
      const std::string& department, const std::vector<std::string>& members) = 0;
};

class RedisRouteStore final : public RouteStore {
 public:
  explicit RedisRouteStore(redis::Client& redis) : redis_(redis) {}
  absl::StatusOr<v1::RouteState> Load(const std::string& case_id) override;
  absl::Status Save(const std::string& case_id, const v1::RouteState& before,
                    const v1::RouteState& after) override;
  absl::StatusOr<std::map<std::string, int64_t>> OpenCases(
      const std::string& department, const std::vector<std::string>& members) override;

 private:
  redis::Client& redis_;
};

}  // namespace meldpunt::routing
