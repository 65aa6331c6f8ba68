// mp:retention in memory, for the intake's unit tests.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "services/intake/retention.h"

namespace meldpunt::intake::testing {

class MemoryRetentionIndex : public RetentionIndex {
 public:
  absl::Status Remove(const std::string& case_id) override {
    if (!error.ok()) return error;
    due_by_case.erase(case_id);
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<std::string>> Due(absl::Time now, int limit) override {
    if (!error.ok()) return error;
    std::multimap<absl::Time, std::string> by_time;
    for (const auto& [id, due] : due_by_case) {
      if (due <= now) by_time.emplace(due, id);
    }
    std::vector<std::string> ids;
    for (const auto& [due, id] : by_time) {
      if (static_cast<int>(ids.size()) == limit) break;
      ids.push_back(id);
    }
    return ids;
  }
  std::map<std::string, absl::Time> due_by_case;
  absl::Status error = absl::OkStatus();
};

}  // namespace meldpunt::intake::testing
