// What routing keeps in Redis, all derived from case events:
//   mp:route:{<case>}               serialized meldpunt.routing.v1.RouteState
//   mp:open:{<department>}:<member> set of the open cases assigned to a member (workload)
//   mp:due:{<department>}           sorted set of the department's open cases (assigned or not),
//                                   scored by the earliest due time of their running clocks
//                                   (Unix ms; +inf when no clock runs): the workload view
//   mp:triage                       sorted set of the cases in the triage queue, scored as mp:due
//   mp:geo:{<category>}             Redis GEO set of the open cases with coordinates (duplicates),
//                                   confidential cases excepted
// Sets make the workload idempotent: folding an event twice adds or removes the same member.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "libs/redis/redis.h"
#include "meldpunt/routing/v1/routing.pb.h"

namespace meldpunt::routing {

struct DepartmentCases {
  // Every open case of the department: its earliest running due time, none when no clock runs.
  std::map<std::string, std::optional<absl::Time>> due;
  // The open cases assigned to each member asked for.
  std::map<std::string, std::vector<std::string>> assigned;
};

// Whether a save of `before` -> `after` puts the case into its category's duplicate index (the
// GEO set Near searches): a submission with coordinates and a category, not confidential, open.
bool EntersNearbyIndex(const v1::RouteState& before, const v1::RouteState& after);

class RouteStore {
 public:
  virtual ~RouteStore() = default;
  virtual absl::StatusOr<v1::RouteState> Load(const std::string& case_id) = 0;
  // The states of many cases at once (a batch's), in the order asked; the default loads each.
  virtual absl::StatusOr<std::vector<v1::RouteState>> LoadAll(
      const std::vector<std::string>& case_ids);
  // Writes the state, moves the case between the workload sets of `before` and `after`, and
  // keeps it in (or takes it out of) its category's GEO set while it is open.
  virtual absl::Status Save(const std::string& case_id, const v1::RouteState& before,
                            const v1::RouteState& after) = 0;
  // Several saves, in order (one round trip in Redis; the default saves each). On an error,
  // `*failed` (if given) is the first change whose writes failed; the ones before it are saved.
  struct Change {
    std::string case_id;
    v1::RouteState before;
    v1::RouteState after;
  };
  virtual absl::Status SaveAll(const std::vector<Change>& changes, size_t* failed = nullptr);
  virtual absl::StatusOr<std::map<std::string, int64_t>> OpenCases(
      const std::string& department, const std::vector<std::string>& members) = 0;
  // Open cases of the category within the radius, nearest first: (case id, metres).
  virtual absl::StatusOr<std::vector<std::pair<std::string, double>>> Near(
      const std::string& category, double latitude, double longitude, double radius_m) = 0;
  // The department's open cases with their earliest due time, and the open cases of each of
  // `members`: what GetWorkload counts.
  virtual absl::StatusOr<DepartmentCases> Workload(const std::string& department,
                                                   const std::vector<std::string>& members) = 0;
  // The cases in the triage queue with their earliest due time.
  virtual absl::StatusOr<std::map<std::string, std::optional<absl::Time>>> Triage() = 0;
};

class RedisRouteStore final : public RouteStore {
 public:
  explicit RedisRouteStore(redis::Client& redis) : redis_(redis) {}
  absl::StatusOr<v1::RouteState> Load(const std::string& case_id) override;
  // One round trip (MGET).
  absl::StatusOr<std::vector<v1::RouteState>> LoadAll(
      const std::vector<std::string>& case_ids) override;
  absl::Status Save(const std::string& case_id, const v1::RouteState& before,
                    const v1::RouteState& after) override;
  // One pipeline.
  absl::Status SaveAll(const std::vector<Change>& changes, size_t* failed = nullptr) override;
  absl::StatusOr<std::map<std::string, int64_t>> OpenCases(
      const std::string& department, const std::vector<std::string>& members) override;
  absl::StatusOr<std::vector<std::pair<std::string, double>>> Near(const std::string& category,
                                                                   double latitude,
                                                                   double longitude,
                                                                   double radius_m) override;
  absl::StatusOr<DepartmentCases> Workload(const std::string& department,
                                           const std::vector<std::string>& members) override;
  absl::StatusOr<std::map<std::string, std::optional<absl::Time>>> Triage() override;

 private:
  redis::Client& redis_;
};

}  // namespace meldpunt::routing
