#include "services/deadline_watch/policy.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "libs/config/config.h"

namespace meldpunt::deadline {
namespace {
const std::set<std::string>& KnownStops() {
  static const auto* stops =
      new std::set<std::string>{"acknowledged", "routed",   "accepted", "answered",     "closed",
                                "withdrawn",    "referred", "merged",   "inadmissible", "triaged"};
  return *stops;
}

const std::set<std::string>& KnownStarts() {
  static const auto* starts =
      new std::set<std::string>{"submitted", "routed", "accepted", "acknowledged", "admissible"};
  return *starts;
}

std::vector<std::string> Strings(const YAML::Node& node, const std::string& where) {
  if (!node.IsSequence()) throw YAML::Exception(node.Mark(), where + ": must be a list");
  std::vector<std::string> out;
  for (const auto& item : node) out.push_back(item.as<std::string>());
  return out;
}

bool KeepOrRestart(const YAML::Node& node, bool* restart) {
  const std::string v = node.as<std::string>();
  if (v != "keep" && v != "restart") return false;
  *restart = v == "restart";
  return true;
}
}  // namespace

absl::Time Term::DueFrom(absl::Time start, const calendar::BusinessCalendar& calendar) const {
  switch (unit) {
    case Unit::kCalendarDays:
      return calendar.AddCalendarDays(start, days);
    case Unit::kWorkingDays:
      return calendar.AddWorkingDays(start, days);
    case Unit::kWorkingHours:
      return calendar.AddWorkingHours(start, elapsed);
    case Unit::kElapsed:
      break;
  }
  return start + elapsed;
}

absl::StatusOr<Term> Term::Parse(const std::string& raw, bool allow_zero) {
  std::string text(absl::StripAsciiWhitespace(raw));
  Term term;
  term.text = text;
  int n = 0;
  auto count = [&](size_t suffix, int max) {
    return absl::SimpleAtoi(text.substr(0, text.size() - suffix), &n) && n > 0 && n <= max;
  };
  if (absl::EndsWith(text, "wd") && count(2, kMaxTermDays)) {
    term.unit = Unit::kWorkingDays;
    term.days = n;
    return term;
  }
  if (absl::EndsWith(text, "wh") && count(2, kMaxTermDays * 24)) {
    term.unit = Unit::kWorkingHours;
    term.elapsed = absl::Hours(n);
    return term;
  }
  if (absl::EndsWith(text, "d") && count(1, kMaxTermDays)) {
    term.unit = Unit::kCalendarDays;
    term.days = n;
    return term;
  }
  absl::StatusOr<absl::Duration> elapsed = config::ParseDuration(text);
  if (!elapsed.ok() || *elapsed < absl::ZeroDuration() ||
      (*elapsed == absl::ZeroDuration() && !allow_zero) ||
      *elapsed > absl::Hours(24 * kMaxTermDays)) {
    return absl::InvalidArgumentError(absl::StrCat("'", text, "' is not a term"));
  }
  term.elapsed = *elapsed;
  return term;
}

bool ClockPolicy::Matches(const CaseFacts& facts, const catalog::Catalog* catalog) const {
  if (!kinds.count(facts.kind)) return false;
  if (!priorities.empty() && !priorities.count(facts.priority)) return false;
  if (!departments.empty() && !departments.count(facts.department)) return false;
  if (categories.empty()) return true;
  for (const std::string& c : categories) {
    if (facts.category == c || (catalog != nullptr && catalog->IsWithin(facts.category, c))) {
      return true;
    }
  }
  return false;
}

absl::Status CheckCategories(const std::vector<ClockPolicy>& policies,
                             const catalog::Catalog& catalog) {
  for (size_t i = 0; i < policies.size(); ++i) {
    for (const std::string& c : policies[i].categories) {
      if (!catalog.Contains(c)) {
        return absl::InvalidArgumentError(absl::StrCat("deadline.clocks[", i, "].categories: '", c,
                                                       "' is not in the category catalogue"));
      }
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<ClockPolicy>> ParsePolicies(const YAML::Node& clocks) {
  std::vector<ClockPolicy> out;
  if (!clocks || clocks.IsNull()) return out;
  if (!clocks.IsSequence()) return absl::InvalidArgumentError("deadline.clocks: must be a list");
  std::set<std::string> ids;
  constexpr char kTermHelp[] =
      "must be calendar days (10d), working days (2wd), working hours (16wh) or a time (48h), of "
      "at most ten years";
  for (size_t i = 0; i < clocks.size(); ++i) {
    const YAML::Node& node = clocks[i];
    const std::string where = absl::StrCat("deadline.clocks[", i, "]");
    if (!node.IsMap())
      return absl::InvalidArgumentError(absl::StrCat(where, ": must be a mapping"));
    ClockPolicy p;
    bool has_duration = false;
    auto invalid = [&](const std::string& key, const std::string& why) {
      return absl::InvalidArgumentError(absl::StrCat(where, ".", key, ": ", why));
    };
    try {
      for (const auto& item : node) {
        const std::string key = item.first.as<std::string>();
        const YAML::Node& value = item.second;
        if (key == "name") {
          p.name = value.as<std::string>();
        } else if (key == "id") {
          p.id = value.as<std::string>();
        } else if (key == "kinds") {
          for (const std::string& k : Strings(value, where + ".kinds")) {
            types::v1::CaseKind kind;
            if (!types::v1::CaseKind_Parse(k, &kind) || kind == types::v1::CASE_KIND_UNSPECIFIED)
              return invalid(key, absl::StrCat("unknown kind '", k, "'"));
            p.kinds.insert(kind);
          }
        } else if (key == "priorities") {
          for (const std::string& k : Strings(value, where + ".priorities")) {
            types::v1::Priority priority;
            if (!types::v1::Priority_Parse(k, &priority) ||
                priority == types::v1::PRIORITY_UNSPECIFIED)
              return invalid(key, absl::StrCat("unknown priority '", k, "'"));
            p.priorities.insert(priority);
          }
        } else if (key == "categories") {
          for (const std::string& c : Strings(value, where + ".categories")) {
            if (c.empty()) return invalid(key, "an empty category");
            p.categories.insert(c);
          }
        } else if (key == "departments") {
          for (const std::string& d : Strings(value, where + ".departments")) {
            if (d.empty()) return invalid(key, "an empty department");
            p.departments.insert(d);
          }
        } else if (key == "start_on") {
          p.start_on = value.as<std::string>();
          if (!KnownStarts().count(p.start_on)) {
            return invalid(key, absl::StrCat("unknown event '", p.start_on,
                                             "' (submitted, routed, accepted, acknowledged, "
                                             "admissible)"));
          }
        } else if (key == "duration") {
          auto d = Term::Parse(value.as<std::string>());
          if (!d.ok()) return invalid(key, kTermHelp);
          p.duration = *d;
          has_duration = true;
        } else if (key == "counting") {
          absl::StatusOr<Counting> counting = ParseCounting(value, where + ".counting");
          if (!counting.ok()) return counting.status();
          p.counting = *counting;
        } else if (key == "pauses") {
          const std::string v = value.as<std::string>();
          if (v != "true" && v != "false") return invalid(key, "true or false");
          p.pauses = v == "true";
        } else if (key == "on_reassign") {
          if (!KeepOrRestart(value, &p.restart_on_reassign)) return invalid(key, "keep or restart");
        } else if (key == "on_bounce") {
          if (!KeepOrRestart(value, &p.restart_on_bounce)) return invalid(key, "keep or restart");
        } else if (key == "warn_at") {
          for (const auto& f : value) {
            double v = f.as<double>();
            if (!(v > 0 && v < 1)) return invalid(key, "fractions must be between 0 and 1");
            p.warn_at.push_back(v);
          }
        } else if (key == "stop_on") {
          for (const std::string& token : Strings(value, where + ".stop_on")) {
            if (!KnownStops().count(token))
              return invalid(key, absl::StrCat("unknown event '", token, "'"));
            p.stop_on.insert(token);
          }
        } else if (key == "escalate") {
          if (!value.IsSequence()) return invalid(key, "must be a list of {after, to}");
          for (size_t j = 0; j < value.size(); ++j) {
            const std::string at = absl::StrCat("escalate[", j, "]");
            const YAML::Node& step = value[j];
            if (!step.IsMap() || !step["after"] || !step["to"] || step.size() != 2)
              return invalid(at, "must be {after: <term>, to: <target>}");
            auto after = Term::Parse(step["after"].as<std::string>(), /*allow_zero=*/true);
            if (!after.ok()) return invalid(at + ".after", kTermHelp);
            Escalation e{*after, step["to"].as<std::string>()};
            if (e.target.empty()) return invalid(at + ".to", "required");
            p.escalate.push_back(std::move(e));
          }
        } else {
          return absl::InvalidArgumentError(absl::StrCat(where, ": unknown key '", key, "'"));
        }
      }
    } catch (const YAML::Exception& e) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": ", e.what()));
    }
    // The warnings fire in the order of their fractions, one timer after the other.
    std::sort(p.warn_at.begin(), p.warn_at.end());
    p.warn_at.erase(std::unique(p.warn_at.begin(), p.warn_at.end()), p.warn_at.end());
    if (p.name.empty() || p.name.find('|') != std::string::npos) {
      return invalid("name", "required, without '|'");
    }
    if (p.id.empty()) p.id = p.name;
    if (p.id.find('|') != std::string::npos) return invalid("id", "without '|'");
    if (!ids.insert(p.id).second) {
      return invalid("id",
                     absl::StrCat("'", p.id, "' twice (entries sharing a name need an id each)"));
    }
    if (!has_duration) return invalid("duration", "required");
    if (p.kinds.empty()) return invalid("kinds", "at least one kind");
    if (!p.departments.empty() && p.start_on == "submitted") {
      return invalid("departments",
                     "the department is known only once routed: use start_on routed or later");
    }
    if (p.restart_on_bounce && p.start_on == "submitted" && p.stop_on.count("routed")) {
      return invalid("on_bounce", "a clock stopped by routing cannot restart on a bounce");
    }
    out.push_back(std::move(p));
  }
  return out;
}

std::string StopToken(const events::Envelope& e) {
  switch (e.payload_case()) {
    case events::Envelope::kNotificationDelivered:
      return e.notification_delivered().template_name() == "acknowledgement" ? "acknowledged" : "";
    case events::Envelope::kCaseRouted:
      return "routed";
    case events::Envelope::kCaseTriaged:
      return "triaged";
    case events::Envelope::kCaseAccepted:
      return "accepted";
    case events::Envelope::kCaseAnswered:
      return "answered";
    case events::Envelope::kCaseClosed:
      return "closed";
    case events::Envelope::kCaseWithdrawn:
      return "withdrawn";
    case events::Envelope::kCaseReferred:
      return "referred";
    case events::Envelope::kCaseMerged:
      return "merged";
    case events::Envelope::kAdmissibilityDecided:
      return e.admissibility_decided().admissible() ? "" : "inadmissible";
    default:
      return "";
  }
}

std::string StartToken(const events::Envelope& e) {
  switch (e.payload_case()) {
    case events::Envelope::kCaseSubmitted:
      return "submitted";
    case events::Envelope::kCaseRouted:
      return "routed";
    case events::Envelope::kCaseAccepted:
      return "accepted";
    case events::Envelope::kNotificationDelivered:
      return e.notification_delivered().template_name() == "acknowledgement" ? "acknowledged" : "";
    case events::Envelope::kAdmissibilityDecided:
      return e.admissibility_decided().admissible() ? "admissible" : "";
    default:
      return "";
  }
}

absl::Time ClockPolicy::DueFrom(absl::Time start, const calendar::BusinessCalendar& calendar,
                                bool by_letter) const {
  using Start = Counting::Start;
  const calendar::HolidaySet set = counting.holidays;
  if (start == absl::InfiniteFuture() || start == absl::InfinitePast()) return start;
  if (duration.unit == Term::Unit::kElapsed) return start + duration.elapsed;
  // A registered letter is taken to arrive on the third working day after it was posted (the
  // receipt date given): that day is the day of the event.
  if (by_letter && counting.registered_letter) {
    const absl::CivilDay event_day = calendar.NthWorkingDayAfter(calendar.LocalDay(start), 3, set);
    start = calendar.StartOf(event_day);
  }
  const absl::CivilDay first = calendar.LocalDay(start);
  // The time of day an instant start keeps (seconds after local midnight, as a civil offset).
  const absl::CivilSecond local = absl::ToCivilSecond(start, calendar.zone());
  const absl::civil_diff_t time_of_day = local - absl::CivilSecond(first);
  // The last day of the term, and the instant it ends on that day.
  absl::CivilDay last;
  switch (duration.unit) {
    case Term::Unit::kCalendarDays:
      last = first + duration.days;
      break;
    case Term::Unit::kWorkingDays:
      last = calendar.NthWorkingDayAfter(first, duration.days, set);
      break;
    case Term::Unit::kWorkingHours:
      // Counted inside the working hours; a next-day start counts from the next midnight. The
      // term ends within a window, on a working day: there is nothing to roll forward.
      return calendar.AddWorkingHours(
          counting.start == Start::kNextDay ? calendar.StartOf(first + 1) : start, duration.elapsed,
          set);
    case Term::Unit::kElapsed:
      break;
  }
  if (counting.roll == Counting::Roll::kNextWorkingDay) {
    last = calendar.FirstWorkingDayFrom(last, set);
  }
  if (counting.start == Start::kNextDay) return calendar.StartOf(last + 1);  // end of `last`
  return calendar.At(absl::CivilSecond(last) + time_of_day);
}

absl::StatusOr<Counting> ParseCounting(const YAML::Node& node, const std::string& where) {
  auto invalid = [&](const std::string& key, const std::string& why) {
    return absl::InvalidArgumentError(absl::StrCat(where, key.empty() ? "" : ".", key, ": ", why));
  };
  Counting c;
  if (node.IsScalar()) {
    const std::string basis = node.as<std::string>();
    if (basis == "judicial_code") {
      c.roll = Counting::Roll::kNextWorkingDay;
      c.holidays = calendar::HolidaySet::kFederal;
      c.registered_letter = true;
      return c;
    }
    if (basis == "bestuursdecreet") return c;
    return invalid("", absl::StrCat("unknown basis '", basis,
                                    "' (judicial_code, bestuursdecreet, or a mapping of start, "
                                    "roll, holidays, registered_letter)"));
  }
  if (!node.IsMap()) return invalid("", "a basis name or a mapping");
  for (const auto& item : node) {
    const std::string key = item.first.as<std::string>();
    const std::string value = item.second.as<std::string>();
    if (key == "start") {
      if (value == "next_day") {
        c.start = Counting::Start::kNextDay;
      } else if (value == "instant") {
        c.start = Counting::Start::kInstant;
      } else {
        return invalid(key, "next_day or instant");
      }
    } else if (key == "roll") {
      if (value == "none") {
        c.roll = Counting::Roll::kNone;
      } else if (value == "next_working_day") {
        c.roll = Counting::Roll::kNextWorkingDay;
      } else {
        return invalid(key, "none or next_working_day");
      }
    } else if (key == "holidays") {
      if (value == "federal") {
        c.holidays = calendar::HolidaySet::kFederal;
      } else if (value == "federal_and_flemish") {
        c.holidays = calendar::HolidaySet::kFederalAndFlemish;
      } else if (value == "municipality") {
        c.holidays = calendar::HolidaySet::kMunicipality;
      } else {
        return invalid(key, "federal, federal_and_flemish or municipality");
      }
    } else if (key == "registered_letter") {
      if (value != "true" && value != "false") return invalid(key, "true or false");
      c.registered_letter = value == "true";
    } else {
      return invalid("", absl::StrCat("unknown key '", key, "'"));
    }
  }
  return c;
}

}  // namespace meldpunt::deadline
