#include "libs/calendar/calendar.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace meldpunt::calendar {
namespace {

// Whether text[pos, pos + 5) has the form HH:MM (digits; the range is checked by ClockMinutes).
bool IsClock(const std::string& text, size_t pos) {
  for (size_t i = 0; i < 5; ++i) {
    const char c = text[pos + i];
    if (i == 2 ? c != ':' : !absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// Minutes after midnight of the HH:MM at text[pos]; -1 if it is outside 00:00-24:00.
int ClockMinutes(const std::string& text, size_t pos) {
  const int hours = (text[pos] - '0') * 10 + (text[pos + 1] - '0');
  const int minutes = (text[pos + 3] - '0') * 10 + (text[pos + 4] - '0');
  if (minutes > 59 || hours * 60 + minutes > 24 * 60) return -1;
  return hours * 60 + minutes;
}

// The instant of a local civil time: the earlier one if the clock goes back through it, the
// moment of the change if the clock jumps over it.
absl::Time LocalInstant(const absl::TimeZone& zone, absl::CivilSecond local) {
  const absl::TimeZone::TimeInfo info = zone.At(local);
  return info.kind == absl::TimeZone::TimeInfo::SKIPPED ? info.trans : info.pre;
}

}  // namespace

const absl::TimeZone& BrusselsTimeZone() {
  static const absl::TimeZone* zone = [] {
    auto* z = new absl::TimeZone();
    if (!absl::LoadTimeZone("Europe/Brussels", z)) *z = absl::UTCTimeZone();
    return z;
  }();
  return *zone;
}

absl::CivilDay EasterSunday(int year) {
  const int a = year % 19;
  const int b = year / 100;
  const int c = year % 100;
  const int d = b / 4;
  const int e = b % 4;
  const int f = (b + 8) / 25;
  const int g = (b - f + 1) / 3;
  const int h = (19 * a + b - d - g + 15) % 30;
  const int i = c / 4;
  const int k = c % 4;
  const int l = (32 + 2 * e + 2 * i - h - k) % 7;
  const int m = (a + 11 * h + 22 * l) / 451;
  const int month = (h + l - 7 * m + 114) / 31;
  const int day = (h + l - 7 * m + 114) % 31 + 1;
  return absl::CivilDay(year, month, day);
}

absl::StatusOr<BusinessCalendar> BusinessCalendar::Create(const CalendarOptions& options) {
  BusinessCalendar cal;
  if (!absl::LoadTimeZone(options.time_zone, &cal.zone_)) {
    return absl::InvalidArgumentError(
        absl::StrCat("calendar.time_zone: unknown time zone '", options.time_zone, "'"));
  }
  cal.flemish_holiday_ = options.flemish_holiday;
  for (const std::string& text : options.closing_days) {
    absl::CivilDay day;
    if (!absl::ParseCivilTime(text, &day)) {
      return absl::InvalidArgumentError(
          absl::StrCat("calendar.closing_days: '", text, "' is not YYYY-MM-DD"));
    }
    cal.closing_days_.insert(day);
  }
  if (!options.working_hours.empty()) {
    const std::string& text = options.working_hours;
    const std::string prefix = absl::StrCat("calendar.working_hours: \"", text, "\"");
    if (text.size() != 11 || text[5] != '-' || !IsClock(text, 0) || !IsClock(text, 6)) {
      return absl::InvalidArgumentError(absl::StrCat(prefix, " is not HH:MM-HH:MM"));
    }
    const int start = ClockMinutes(text, 0);
    const int end = ClockMinutes(text, 6);
    if (start < 0 || end < 0) {
      return absl::InvalidArgumentError(absl::StrCat(prefix, " is outside 00:00-24:00"));
    }
    if (start >= end) {
      return absl::InvalidArgumentError(absl::StrCat(prefix, ": start must be before end"));
    }
    cal.has_working_hours_ = true;
    cal.work_start_minute_ = start;
    cal.work_end_minute_ = end;
  }
  return cal;
}

std::vector<absl::CivilDay> BusinessCalendar::Holidays(int year, HolidaySet set) const {
  const absl::CivilDay easter = EasterSunday(year);
  std::vector<absl::CivilDay> days = {
      absl::CivilDay(year, 1, 1),    // Nieuwjaar
      easter + 1,                    // Paasmaandag
      absl::CivilDay(year, 5, 1),    // Dag van de Arbeid
      easter + 39,                   // O.L.H. Hemelvaart
      easter + 50,                   // Pinkstermaandag
      absl::CivilDay(year, 7, 21),   // Nationale feestdag
      absl::CivilDay(year, 8, 15),   // O.L.V. Hemelvaart
      absl::CivilDay(year, 11, 1),   // Allerheiligen
      absl::CivilDay(year, 11, 11),  // Wapenstilstand
      absl::CivilDay(year, 12, 25),  // Kerstmis
  };
  if (set == HolidaySet::kFederalAndFlemish ||
      (set == HolidaySet::kMunicipality && flemish_holiday_)) {
    days.push_back(absl::CivilDay(year, 7, 11));
  }
  if (set == HolidaySet::kMunicipality) {
    for (const absl::CivilDay& d : closing_days_)
      if (d.year() == year) days.push_back(d);
  }
  std::sort(days.begin(), days.end());
  days.erase(std::unique(days.begin(), days.end()), days.end());
  return days;
}

bool BusinessCalendar::IsHoliday(absl::CivilDay day, HolidaySet set) const {
  // The same days as Holidays(), without building the list: this runs once per day walked.
  const int month = day.month();
  const int dom = day.day();
  const bool flemish = set == HolidaySet::kFederalAndFlemish ||
                       (set == HolidaySet::kMunicipality && flemish_holiday_);
  if ((month == 1 && dom == 1) || (month == 5 && dom == 1) || (month == 7 && dom == 21) ||
      (month == 8 && dom == 15) || (month == 11 && (dom == 1 || dom == 11)) ||
      (month == 12 && dom == 25) || (flemish && month == 7 && dom == 11)) {
    return true;
  }
  if (month >= 3 && month <= 6) {  // Easter Monday (23 Mar-26 Apr) to Whit Monday (to 14 Jun)
    const absl::civil_diff_t after_easter = day - EasterSunday(static_cast<int>(day.year()));
    if (after_easter == 1 || after_easter == 39 || after_easter == 50) return true;
  }
  return set == HolidaySet::kMunicipality && closing_days_.count(day) > 0;
}

bool BusinessCalendar::IsWorkingDay(absl::CivilDay day, HolidaySet set) const {
  const absl::Weekday weekday = absl::GetWeekday(day);
  if (weekday == absl::Weekday::saturday || weekday == absl::Weekday::sunday) return false;
  return !IsHoliday(day, set);
}

absl::CivilDay BusinessCalendar::FirstWorkingDayFrom(absl::CivilDay day, HolidaySet set) const {
  while (!IsWorkingDay(day, set)) ++day;
  return day;
}

absl::CivilDay BusinessCalendar::NthWorkingDayAfter(absl::CivilDay day, int n,
                                                    HolidaySet set) const {
  for (int counted = 0; counted < n;) {
    ++day;
    if (IsWorkingDay(day, set)) ++counted;
  }
  return day;
}

absl::Time BusinessCalendar::At(absl::CivilSecond local) const {
  return LocalInstant(zone_, local);
}

absl::CivilDay BusinessCalendar::LocalDay(absl::Time t) const { return absl::ToCivilDay(t, zone_); }

absl::Time BusinessCalendar::StartOf(absl::CivilDay day) const {
  // Midnight exists every day in Brussels (DST changes at 02:00/03:00); pre = the earlier instant.
  return zone_.At(absl::CivilSecond(day)).pre;
}

absl::Time BusinessCalendar::AddCalendarDays(absl::Time from, int days) const {
  return StartOf(LocalDay(from) + days + 1);
}

absl::Time BusinessCalendar::AddWorkingDays(absl::Time from, int days, HolidaySet set) const {
  return StartOf(NthWorkingDayAfter(LocalDay(from), days, set) + 1);
}

absl::Duration BusinessCalendar::WindowOf(absl::CivilDay day, absl::Time from) const {
  const absl::CivilSecond midnight(day);
  const absl::Time open = std::max(from, LocalInstant(zone_, midnight + work_start_minute_ * 60));
  const absl::Time close = LocalInstant(zone_, midnight + work_end_minute_ * 60);
  return open >= close ? absl::ZeroDuration() : close - open;
}

absl::Duration BusinessCalendar::YearWorkingTime(absl::civil_year_t year, HolidaySet set) const {
  const absl::CivilDay first(year, 1, 1);
  const absl::CivilDay end(year + 1, 1, 1);
  // Weekdays: five in every whole week, then the days left over.
  const absl::civil_diff_t days = end - first;
  absl::civil_diff_t working = days / 7 * 5;
  for (absl::CivilDay d = first + days / 7 * 7; d < end; ++d) {
    const absl::Weekday weekday = absl::GetWeekday(d);
    if (weekday != absl::Weekday::saturday && weekday != absl::Weekday::sunday) ++working;
  }
  for (const absl::CivilDay& d : Holidays(static_cast<int>(year), set)) {
    const absl::Weekday weekday = absl::GetWeekday(d);
    if (weekday != absl::Weekday::saturday && weekday != absl::Weekday::sunday) --working;
  }
  const absl::Duration nominal = absl::Minutes(work_end_minute_ - work_start_minute_);
  absl::Duration total = working * nominal;
  // A window differs from its nominal length only on a day with a change of UTC offset inside
  // it; a window that closes at 24:00 ends on the next day, hence the day before each change too.
  std::set<absl::CivilDay> changed;
  absl::Time t = StartOf(first - 1);
  const absl::Time limit = StartOf(end + 1);
  absl::TimeZone::CivilTransition change;
  while (zone_.NextTransition(t, &change)) {
    const absl::Time at = zone_.At(change.to).trans;
    if (at >= limit || at <= t) break;
    for (const absl::CivilDay d : {absl::CivilDay(change.from), absl::CivilDay(change.to)}) {
      changed.insert(d);
      changed.insert(d - 1);
    }
    t = at;
  }
  for (const absl::CivilDay& d : changed) {
    if (d.year() == year && IsWorkingDay(d, set)) {
      total += WindowOf(d, absl::InfinitePast()) - nominal;
    }
  }
  return total;
}

absl::Time BusinessCalendar::AddWorkingHours(absl::Time from, absl::Duration amount,
                                             HolidaySet set) const {
  if (amount <= absl::ZeroDuration() || from == absl::InfiniteFuture() ||
      from == absl::InfinitePast()) {
    return from;
  }
  if (amount == absl::InfiniteDuration()) return absl::InfiniteFuture();
  // One window per day, each converted from local civil time on its own (days of 23 or 25 hours).
  const absl::CivilDay first = LocalDay(from);
  for (absl::CivilDay day = first;; ++day) {
    // A year that starts after `from` and is used up whole is passed in one step, so that a long
    // term with short hours (ten years of 08:00-08:01) takes a step per year, not per day.
    if (day > first && day.month() == 1 && day.day() == 1) {
      for (absl::Duration year = YearWorkingTime(day.year(), set); amount > year;
           year = YearWorkingTime(day.year(), set)) {
        amount -= year;
        day = absl::CivilDay(day.year() + 1, 1, 1);
      }
    }
    if (!IsWorkingDay(day, set)) continue;
    const absl::Duration window = WindowOf(day, from);
    if (window == absl::ZeroDuration()) continue;  // `from` is at or after this day's close
    if (amount <= window) {
      const absl::CivilSecond midnight(day);
      return std::max(from, LocalInstant(zone_, midnight + work_start_minute_ * 60)) + amount;
    }
    amount -= window;
  }
}

}  // namespace meldpunt::calendar
