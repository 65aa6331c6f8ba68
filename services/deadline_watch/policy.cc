#include "services/deadline_watch/policy.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "libs/config/config.h"

namespace meldpunt::deadline {
namespace {
const std::set<std::string>& KnownStops() {
  static const auto* stops =
      new std::set<std::string>{"acknowledged", "routed",   "accepted", "answered",    "closed",
                                "withdrawn",    "referred", "merged",   "inadmissible"};
  return *stops;
}
}  // namespace

absl::Time Term::DueFrom(absl::Time start, const calendar::BusinessCalendar& calendar) const {
  switch (unit) {
    case Unit::kCalendarDays:
      return calendar.AddCalendarDays(start, days);
    case Unit::kWorkingDays:
      return calendar.AddWorkingDays(start, days);
    case Unit::kElapsed:
      break;
  }
  return start + elapsed;
}

absl::StatusOr<Term> Term::Parse(const std::string& raw) {
  std::string text(absl::StripAsciiWhitespace(raw));
  Term term;
  int days = 0;
  if (absl::EndsWith(text, "wd") && absl::SimpleAtoi(text.substr(0, text.size() - 2), &days) &&
      days > 0) {
    term.unit = Unit::kWorkingDays;
    term.days = days;
    return term;
  }
  if (absl::EndsWith(text, "d") && absl::SimpleAtoi(text.substr(0, text.size() - 1), &days) &&
      days > 0) {
    term.unit = Unit::kCalendarDays;
    term.days = days;
    return term;
  }
  absl::StatusOr<absl::Duration> elapsed = config::ParseDuration(text);
  if (!elapsed.ok() || *elapsed <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat("'", text, "' is not a term"));
  }
  term.elapsed = *elapsed;
  return term;
}

absl::StatusOr<std::vector<ClockPolicy>> ParsePolicies(const YAML::Node& clocks) {
  std::vector<ClockPolicy> out;
  if (!clocks || clocks.IsNull()) return out;
  if (!clocks.IsSequence()) return absl::InvalidArgumentError("deadline.clocks: must be a list");
  std::set<std::string> names;
  for (size_t i = 0; i < clocks.size(); ++i) {
    const YAML::Node& node = clocks[i];
    const std::string where = absl::StrCat("deadline.clocks[", i, "]");
    if (!node.IsMap())
      return absl::InvalidArgumentError(absl::StrCat(where, ": must be a mapping"));
    ClockPolicy p;
    bool has_duration = false;
    try {
      for (const auto& item : node) {
        const std::string key = item.first.as<std::string>();
        if (key == "name") {
          p.name = item.second.as<std::string>();
        } else if (key == "kinds") {
          for (const auto& k : item.second) {
            types::v1::CaseKind kind;
            if (!types::v1::CaseKind_Parse(k.as<std::string>(), &kind) ||
                kind == types::v1::CASE_KIND_UNSPECIFIED) {
              return absl::InvalidArgumentError(
                  absl::StrCat(where, ".kinds: unknown kind '", k.as<std::string>(), "'"));
            }
            p.kinds.insert(kind);
          }
        } else if (key == "duration") {
          auto d = Term::Parse(item.second.as<std::string>());
          if (!d.ok()) {
            return absl::InvalidArgumentError(absl::StrCat(
                where,
                ".duration: must be calendar days (10d), working days (2wd) or a time (48h)"));
          }
          p.duration = *d;
          has_duration = true;
        } else if (key == "pauses") {
          const std::string v = item.second.as<std::string>();
          if (v != "true" && v != "false") {
            return absl::InvalidArgumentError(absl::StrCat(where, ".pauses: true or false"));
          }
          p.pauses = v == "true";
        } else if (key == "warn_at") {
          for (const auto& f : item.second) {
            double v = f.as<double>();
            if (!(v > 0 && v < 1)) {
              return absl::InvalidArgumentError(
                  absl::StrCat(where, ".warn_at: fractions must be between 0 and 1"));
            }
            p.warn_at.push_back(v);
          }
        } else if (key == "stop_on") {
          for (const auto& s : item.second) {
            std::string token = s.as<std::string>();
            if (!KnownStops().count(token)) {
              return absl::InvalidArgumentError(
                  absl::StrCat(where, ".stop_on: unknown event '", token, "'"));
            }
            p.stop_on.insert(token);
          }
        } else {
          return absl::InvalidArgumentError(absl::StrCat(where, ": unknown key '", key, "'"));
        }
      }
    } catch (const YAML::Exception& e) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": ", e.what()));
    }
    if (p.name.empty() || p.name.find('|') != std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat(where, ".name: required, without '|'"));
    }
    if (!names.insert(p.name).second)
      return absl::InvalidArgumentError(absl::StrCat(where, ".name: '", p.name, "' twice"));
    if (!has_duration)
      return absl::InvalidArgumentError(absl::StrCat(where, ".duration: required"));
    if (p.kinds.empty())
      return absl::InvalidArgumentError(absl::StrCat(where, ".kinds: at least one kind"));
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

}  // namespace meldpunt::deadline
