// Deadline policies as data: which clocks run for which cases, how long, when they warn, what
// starts, pauses, restarts and stops them, and whom a breach escalates to.
//
//   deadline:
//     clocks:
//       - name: resolve                 # the clock; several entries may share a name: the first
//         id: resolve-urgent            #   that matches a case wins (id tells them apart)
//         kinds: [REPORT]
//         priorities: [URGENT]          # optional filters: priorities, categories (a category
//         start_on: routed              #   matches itself and its sub-categories), departments
//         duration: 1wd
//         warn_at: [0.5, 0.75, 0.9]
//         pauses: true                  # stands still while the reporter is asked for information
//         on_reassign: keep             # keep | restart (a new generation, a full term)
//         on_bounce: restart
//         stop_on: [answered, closed, withdrawn]
//         escalate:                     # after the breach: level 1, 2, ... (delay after due)
//           - {after: 0h, to: department-head}
//           - {after: 2wd, to: meldpunt-coordinator}
//
// Terms: "10d" = until the end of the 10th calendar day after the start; "2wd" = until the end of
// the 2nd working day (business calendar: Europe/Brussels, weekends, Belgian holidays, closing
// days); "16wh" = 16 hours inside the working hours of working days; anything else ("48h", "30s")
// = exactly that much time.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "libs/calendar/calendar.h"
#include "libs/catalog/catalog.h"
#include "libs/events/codec.h"
#include "meldpunt/types/v1/case.pb.h"
#include "yaml-cpp/yaml.h"

namespace meldpunt::deadline {

// The longest term a policy may name: ten years, counted as days, working days, working hours
// or time. The calendar walks terms a day at a time, so a typo such as "2000000000wd" must not
// reach it.
inline constexpr int kMaxTermDays = 3660;

// How long a clock runs.
struct Term {
  enum class Unit { kElapsed, kCalendarDays, kWorkingDays, kWorkingHours };
  Unit unit = Unit::kElapsed;
  absl::Duration elapsed;  // kElapsed and kWorkingHours
  int days = 0;            // kCalendarDays and kWorkingDays
  std::string text;        // as configured

  absl::Time DueFrom(absl::Time start, const calendar::BusinessCalendar& calendar) const;
  // "10d", "2wd", "16wh", or a duration such as "48h", at most kMaxTermDays long (in hours for
  // "wh"). `allow_zero` for escalation delays.
  static absl::StatusOr<Term> Parse(const std::string& text, bool allow_zero = false);
};

// How a policy counts its term, set per clock policy because the legal basis decides it (the
// municipality's complaints regulation chooses). docs/deadlines.md names the source of each.
struct Counting {
  // kNextDay: the day of the start does not count; the term runs from the next midnight (Judicial
  // Code art. 52). kInstant: from the moment itself (a "10d" term ends 10 days later at the same
  // time of day).
  enum class Start { kNextDay, kInstant };
  // kNextWorkingDay: a last day that is a weekend day or a holiday of the set moves to the next
  // working day (Judicial Code art. 53). kNone: the term ends on its last day whatever it is.
  enum class Roll { kNone, kNextWorkingDay };
  Start start = Start::kNextDay;
  Roll roll = Roll::kNone;
  calendar::HolidaySet holidays = calendar::HolidaySet::kMunicipality;
  // A case that came as a registered letter (CaseDraft.registered_letter): the term starts on
  // the third working day after the date it was handed to the post (Judicial Code art. 53bis).
  bool registered_letter = false;
};

struct Escalation {
  Term after;  // after the due time
  std::string target;
};

// What a policy knows of a case when it decides whether it applies.
struct CaseFacts {
  types::v1::CaseKind kind = types::v1::CASE_KIND_UNSPECIFIED;
  types::v1::Priority priority = types::v1::PRIORITY_UNSPECIFIED;
  std::string category;
  std::string department;  // empty until routed
  // The team set the priority (PriorityChanged): a later CaseRouted does not overwrite it.
  bool priority_by_team = false;
};

struct ClockPolicy {
  std::string id;    // unique; defaults to the name
  std::string name;  // the clock
  std::set<types::v1::CaseKind> kinds;
  std::set<types::v1::Priority> priorities;  // empty: any
  std::set<std::string> categories;          // empty: any
  std::set<std::string> departments;         // empty: any
  std::string start_on = "submitted";        // submitted, routed, accepted, acknowledged
  Term duration;
  std::vector<double> warn_at;
  // Pauses while the case waits for the reporter (InformationRequested .. InformationProvided).
  bool pauses = false;
  bool restart_on_reassign = false;
  bool restart_on_bounce = false;
  std::set<std::string>
      stop_on;  // acknowledged, routed, accepted, answered, closed, withdrawn, referred, merged
  std::vector<Escalation> escalate;
  // How the term is counted (the start, the roll forward, the holidays, a registered letter).
  Counting counting;

  // The case's kind, priority, department and category fit. A policy for a category applies to
  // the categories under it in the catalogue (`catalog` null: to that category only).
  bool Matches(const CaseFacts& facts, const catalog::Catalog* catalog = nullptr) const;
  // The due time of a clock that starts at `start`. `by_letter`: the case came as a registered
  // letter and `start` is its posting date (counting.registered_letter applies).
  absl::Time DueFrom(absl::Time start, const calendar::BusinessCalendar& calendar,
                     bool by_letter) const;
};

absl::StatusOr<std::vector<ClockPolicy>> ParsePolicies(const YAML::Node& clocks);
// Every category a policy names is in the catalogue (INVALID_ARGUMENT naming the entry).
absl::Status CheckCategories(const std::vector<ClockPolicy>& policies,
                             const catalog::Catalog& catalog);
// A policy's `counting`: a legal basis by name, or a mapping of start (next_day, instant), roll
// (none, next_working_day), holidays (federal, federal_and_flemish, municipality) and
// registered_letter (true, false); unnamed keys keep the defaults of Counting. `where` prefixes
// the errors.
//   judicial_code:   next_day, next_working_day, federal, registered_letter (Ger.W. art. 52-53bis)
//   bestuursdecreet: next_day, none, municipality, no registered letter (the defaults)
absl::StatusOr<Counting> ParseCounting(const YAML::Node& node, const std::string& where);

// The stop token an event stands for ("" when none).
std::string StopToken(const events::Envelope& envelope);
// The start token an event stands for ("" when none).
std::string StartToken(const events::Envelope& envelope);

}  // namespace meldpunt::deadline
