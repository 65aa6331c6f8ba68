// The business calendar of the municipality: Europe/Brussels time (DST-correct), weekends, the
// Belgian public holidays (Easter-dependent ones computed), optionally 11 July (Flemish
// community holiday), closing days and optional working hours from config.
//
//   ASSIGN_OR_RETURN(BusinessCalendar cal,
//                    BusinessCalendar::Create({.flemish_holiday = true,
//                                              .working_hours = "08:30-17:00"}));
//   absl::Time due = cal.AddWorkingDays(received, 2);    // end of the 2nd working day after
//   absl::Time due45 = cal.AddCalendarDays(received, 45); // end of the 45th day after
//   absl::Time reply = cal.AddWorkingHours(received, absl::Hours(16));  // 16 office hours later
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

// Which days besides weekends a term skips. kMunicipality is the calendar as configured: the
// federal holidays, 11 July when flemish_holiday is set, and the closing days.
enum class HolidaySet { kFederal, kFederalAndFlemish, kMunicipality };

struct CalendarOptions {
  std::string time_zone = "Europe/Brussels";
  // 11 July, the holiday of the Flemish community (many Flemish municipalities close).
  bool flemish_holiday = false;
  // Extra closing days of the municipality, "YYYY-MM-DD".
  std::vector<std::string> closing_days;
  // Office hours on working days, "HH:MM-HH:MM" local time within 00:00-24:00, start before end
  // (e.g. "08:30-17:00"). Empty: not configured, AddWorkingHours counts whole working days.
  std::string working_hours;
};

// Europe/Brussels, loaded once (UTC if the system has no time zone data).
const absl::TimeZone& BrusselsTimeZone();

// Easter Sunday of a year (Gregorian; anonymous algorithm of Meeus/Jones/Butcher).
absl::CivilDay EasterSunday(int year);

class BusinessCalendar {
 public:
  static absl::StatusOr<BusinessCalendar> Create(const CalendarOptions& options);

  // The holidays of a year in a set (the municipality's: with 11 July if configured and the
  // closing days falling in it), sorted.
  std::vector<absl::CivilDay> Holidays(int year, HolidaySet set = HolidaySet::kMunicipality) const;
  bool IsHoliday(absl::CivilDay day, HolidaySet set = HolidaySet::kMunicipality) const;
  // Not a Saturday, a Sunday or a holiday of the set.
  bool IsWorkingDay(absl::CivilDay day, HolidaySet set = HolidaySet::kMunicipality) const;
  // `day` itself if it is a working day, otherwise the first working day after it.
  absl::CivilDay FirstWorkingDayFrom(absl::CivilDay day,
                                     HolidaySet set = HolidaySet::kMunicipality) const;
  // The `n`-th working day after `day` (`day` itself does not count).
  absl::CivilDay NthWorkingDayAfter(absl::CivilDay day, int n,
                                    HolidaySet set = HolidaySet::kMunicipality) const;

  absl::CivilDay LocalDay(absl::Time t) const;
  // Midnight at the start of `day`, local time.
  absl::Time StartOf(absl::CivilDay day) const;

  // End of the `days`-th calendar day after the day of `from` (local).
  absl::Time AddCalendarDays(absl::Time from, int days) const;
  // End of the `days`-th working day after the day of `from` (local); the day of `from` itself
  // does not count, whether or not it is a working day.
  absl::Time AddWorkingDays(absl::Time from, int days,
                            HolidaySet set = HolidaySet::kMunicipality) const;

  bool has_working_hours() const { return has_working_hours_; }
  // The instant at which `amount` of working time, counted from `from`, is used up. Only time
  // inside the working hours of working days counts (local time, DST-correct); without configured
  // working hours every working day counts from 00:00 to 24:00. Counting starts at `from` if it
  // falls inside a window, at the window's start if `from` is earlier that day, and otherwise at
  // the start of the next working day's window. Ending exactly at the close of a window gives
  // that close, not the next opening. An `amount` <= 0 (or an infinite `from`) returns `from`;
  // an infinite `amount` gives absl::InfiniteFuture(). A step per day, and one per whole year
  // that the amount outlasts.
  absl::Time AddWorkingHours(absl::Time from, absl::Duration amount,
                             HolidaySet set = HolidaySet::kMunicipality) const;
  // The instant of a local civil time: the earlier one if the clock goes back through it, the
  // moment of the change if the clock jumps over it.
  absl::Time At(absl::CivilSecond local) const;

  const absl::TimeZone& zone() const { return zone_; }

 private:
  BusinessCalendar() = default;
  // The working time in `day`'s window that lies after `from` (zero on a day it cannot count).
  absl::Duration WindowOf(absl::CivilDay day, absl::Time from) const;
  // The working time in all the windows of a local year's working days.
  absl::Duration YearWorkingTime(absl::civil_year_t year, HolidaySet set) const;
  bool flemish_holiday_ = false;
  std::set<absl::CivilDay> closing_days_;
  absl::TimeZone zone_;
  bool has_working_hours_ = false;
  // The working window of a working day, in minutes after local midnight.
  int work_start_minute_ = 0;
  int work_end_minute_ = 24 * 60;
};

}  // namespace meldpunt::calendar
