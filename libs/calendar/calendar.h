// The business calendar of the municipality: Europe/Brussels time (DST-correct), weekends, the
// Belgian public holidays (Easter-dependent ones computed), optionally 11 July (Flemish
// community holiday) and closing days from config.
//
//   ASSIGN_OR_RETURN(BusinessCalendar cal, BusinessCalendar::Create({.flemish_holiday = true}));
//   absl::Time due = cal.AddWorkingDays(received, 2);    // end of the 2nd working day after
//   absl::Time due45 = cal.AddCalendarDays(received, 45); // end of the 45th day after
//
// Deadlines end at midnight (local) at the end of their last day: a case received on Monday with
// 2 working days is due at Wednesday 24:00 (Thursday 00:00) Brussels time. Immutable; thread-safe.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"

namespace meldpunt::calendar {

struct CalendarOptions {
  std::string time_zone = "Europe/Brussels";
  // 11 July, the holiday of the Flemish community (many Flemish municipalities close).
  bool flemish_holiday = false;
  // Extra closing days of the municipality, "YYYY-MM-DD".
  std::vector<std::string> closing_days;
};

// Europe/Brussels, loaded once (UTC if the system has no time zone data).
const absl::TimeZone& BrusselsTimeZone();

// Easter Sunday of a year (Gregorian; anonymous algorithm of Meeus/Jones/Butcher).
absl::CivilDay EasterSunday(int year);

class BusinessCalendar {
 public:
  static absl::StatusOr<BusinessCalendar> Create(const CalendarOptions& options);

  // The public holidays of a year (and closing days falling in it), sorted.
  std::vector<absl::CivilDay> Holidays(int year) const;
  bool IsHoliday(absl::CivilDay day) const;
  bool IsWorkingDay(absl::CivilDay day) const;

  absl::CivilDay LocalDay(absl::Time t) const;
  // Midnight at the start of `day`, local time.
  absl::Time StartOf(absl::CivilDay day) const;

  // End of the `days`-th calendar day after the day of `from` (local).
  absl::Time AddCalendarDays(absl::Time from, int days) const;
  // End of the `days`-th working day after the day of `from` (local); the day of `from` itself
  // does not count, whether or not it is a working day.
  absl::Time AddWorkingDays(absl::Time from, int days) const;

  const absl::TimeZone& zone() const { return zone_; }

 private:
  BusinessCalendar() = default;
  bool flemish_holiday_ = false;
  std::set<absl::CivilDay> closing_days_;
  absl::TimeZone zone_;
};

}  // namespace meldpunt::calendar
