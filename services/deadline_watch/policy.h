// Deadline policies as data: which clocks run for which case kinds, how long, when they warn, and
// which events stop them.
//
//   deadline:
//     clocks:
//       - {name: acknowledge, kinds: [COMPLAINT, REPORT], duration: 10d, warn_at: [0.75],
//          stop_on: [acknowledged, answered, closed, withdrawn]}
//
// Durations: "10d" = until the end of the 10th calendar day after receipt, "2wd" = until the end of
// the 2nd working day after receipt (business calendar: Europe/Brussels, weekends, Belgian
// holidays, closing days), anything else ("48h", "30s") = exactly that much time.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "libs/calendar/calendar.h"
#include "libs/events/codec.h"
#include "meldpunt/types/v1/case.pb.h"
#include "yaml-cpp/yaml.h"

namespace meldpunt::deadline {

// How long a clock runs.
struct Term {
  enum class Unit { kElapsed, kCalendarDays, kWorkingDays };
  Unit unit = Unit::kElapsed;
  absl::Duration elapsed;
  int days = 0;

  absl::Time DueFrom(absl::Time start, const calendar::BusinessCalendar& calendar) const;
  // "10d", "2wd", or a duration such as "48h".
  static absl::StatusOr<Term> Parse(const std::string& text);
};

struct ClockPolicy {
  std::string name;
  std::set<types::v1::CaseKind> kinds;
  Term duration;
  std::vector<double> warn_at;
  // Pauses while the case waits for the reporter (InformationRequested .. InformationProvided).
  bool pauses = false;
  std::set<std::string>
      stop_on;  // acknowledged, routed, accepted, answered, closed, withdrawn, referred, merged
};

absl::StatusOr<std::vector<ClockPolicy>> ParsePolicies(const YAML::Node& clocks);

// The stop token an event stands for ("" when none).
std::string StopToken(const events::Envelope& envelope);

}  // namespace meldpunt::deadline
