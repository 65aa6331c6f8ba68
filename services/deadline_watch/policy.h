// Deadline policies as data: which clocks run for which case kinds, how long, when they warn, and
// which events stop them.
//
//   deadline:
//     clocks:
//       - {name: acknowledge, kinds: [COMPLAINT, REPORT], duration: 10d, warn_at: [0.75],
//          stop_on: [acknowledged, answered, closed, withdrawn]}
//
// Durations are calendar time for now ("10d" = 10 x 24 h).
#pragma once

#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "libs/events/codec.h"
#include "meldpunt/types/v1/case.pb.h"
#include "yaml-cpp/yaml.h"

namespace meldpunt::deadline {

struct ClockPolicy {
  std::string name;
  std::set<types::v1::CaseKind> kinds;
  absl::Duration duration;
  std::vector<double> warn_at;
  std::set<std::string>
      stop_on;  // acknowledged, routed, accepted, answered, closed, withdrawn, referred, merged
};

absl::StatusOr<std::vector<ClockPolicy>> ParsePolicies(const YAML::Node& clocks);

// The stop token an event stands for ("" when none).
std::string StopToken(const events::Envelope& envelope);

}  // namespace meldpunt::deadline
