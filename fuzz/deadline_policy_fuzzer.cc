// Deadline policies: the text is the `deadline:` part of deadline_watch.yaml (a mapping with
// `clocks`, or the list of clocks itself), checked by ParsePolicies as the service does at start.
// Every term of a policy that loads is then turned into a due time from a few start times, as the
// timers are set: a due time is never before its start.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "libs/calendar/calendar.h"
#include "services/deadline_watch/policy.h"
#include "yaml-cpp/yaml.h"

namespace {
namespace deadline = ::meldpunt::deadline;
namespace calendar = ::meldpunt::calendar;

const calendar::BusinessCalendar& Calendar() {
  static const auto* cal = new calendar::BusinessCalendar(*calendar::BusinessCalendar::Create(
      {.flemish_holiday = true, .closing_days = {"2026-12-24"}, .working_hours = "08:30-17:00"}));
  return *cal;
}

void CheckDue(const deadline::Term& term, absl::Time start) {
  const absl::Time due = term.DueFrom(start, Calendar());
  if (due < start) std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(reinterpret_cast<const char*>(data), size));
  } catch (const YAML::Exception&) {
    return 0;  // not YAML: the config loader's error, before the policies are looked at
  }
  const YAML::Node& doc = root;
  const YAML::Node clocks = doc.IsMap() ? doc["clocks"] : doc;
  absl::StatusOr<std::vector<deadline::ClockPolicy>> policies = deadline::ParsePolicies(clocks);
  if (!policies.ok()) {
    if (policies.status().code() != absl::StatusCode::kInvalidArgument) std::abort();
    return 0;
  }
  const std::vector<absl::Time> starts = {
      absl::FromCivil(absl::CivilSecond(2026, 3, 27, 16, 59, 0), Calendar().zone()),
      absl::FromCivil(absl::CivilSecond(2026, 10, 24, 23, 0, 0), Calendar().zone())};
  for (const deadline::ClockPolicy& p : *policies) {
    (void)p.Matches({.kind = meldpunt::types::v1::REPORT, .category = "road/pothole"});
    for (absl::Time start : starts) {
      CheckDue(p.duration, start);
      for (const deadline::Escalation& e : p.escalate) CheckDue(e.after, start);
    }
  }
  return 0;
}
