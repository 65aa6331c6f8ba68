// The business calendar: its configuration (time zone, closing days "YYYY-MM-DD", working hours
// "HH:MM-HH:MM") through BusinessCalendar::Create, then the date arithmetic the deadline clocks use
// (AddCalendarDays, AddWorkingDays, AddWorkingHours) from fuzzed start times, holding cheap
// invariants: a deadline is never before its start, more time never ends earlier, and working
// hours never end sooner than the same amount of elapsed time.
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "libs/calendar/calendar.h"

namespace {
namespace calendar = ::meldpunt::calendar;

// Zones with DST at night, half-hour DST, DST at midnight, none, and one that does not exist.
constexpr const char* kZones[] = {"Europe/Brussels",  "UTC",          "Australia/Lord_Howe",
                                  "America/Santiago", "Asia/Kolkata", "Pacific/Apia",
                                  "Not/A_Zone"};

// Start times the deadline clocks see: event times from the log (years 1 to 9999; the events
// carry whatever a producer wrote).
constexpr int64_t kMinSeconds = -62135596800;  // 0001-01-01
constexpr int64_t kMaxSeconds = 253402300799;  // 9999-12-31 23:59:59
// The longest terms a deadline policy allows (policy.h): ten years.
constexpr int kMaxDays = 3660;
constexpr int64_t kMaxWorkingSeconds = int64_t{10} * 366 * 24 * 3600;

void Require(bool ok) {
  if (!ok) std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  calendar::CalendarOptions options;
  options.time_zone = in.PickValueInArray(kZones);
  options.flemish_holiday = in.ConsumeBool();
  const int closing_days = in.ConsumeIntegralInRange(0, 4);
  for (int i = 0; i < closing_days; ++i)
    options.closing_days.push_back(in.ConsumeRandomLengthString(16));
  if (in.ConsumeBool()) {
    options.working_hours = in.ConsumeRandomLengthString(16);
  } else if (in.ConsumeBool()) {
    // Mostly well-formed hours, to get past the parser and into the arithmetic.
    const int start = in.ConsumeIntegralInRange(0, 24 * 60);
    const int end = in.ConsumeIntegralInRange(0, 24 * 60);
    char text[16];
    std::snprintf(text, sizeof text, "%02d:%02d-%02d:%02d", start / 60, start % 60, end / 60,
                  end % 60);
    options.working_hours = text;
  }
  absl::StatusOr<calendar::BusinessCalendar> created = calendar::BusinessCalendar::Create(options);
  if (!created.ok()) {
    Require(created.status().code() == absl::StatusCode::kInvalidArgument);
    return 0;
  }
  const calendar::BusinessCalendar& cal = *created;

  const absl::Time from =
      absl::FromUnixSeconds(in.ConsumeIntegralInRange(kMinSeconds, kMaxSeconds)) +
      absl::Nanoseconds(in.ConsumeIntegralInRange(0, 999'999'999));
  // Mostly terms of up to a few months (fast to walk), sometimes the longest allowed.
  const bool long_terms = in.ConsumeIntegralInRange(0, 63) == 0;
  const int days = in.ConsumeIntegralInRange(0, long_terms ? kMaxDays : 120);
  const absl::Duration amount = absl::Seconds(
      in.ConsumeIntegralInRange<int64_t>(0, long_terms ? kMaxWorkingSeconds : 60 * 24 * 3600));
  const absl::Duration more = amount + absl::Seconds(in.ConsumeIntegralInRange(0, 7 * 24 * 3600));

  const absl::CivilDay day = cal.LocalDay(from);
  const std::vector<absl::CivilDay> holidays = cal.Holidays(static_cast<int>(day.year()));
  Require(std::is_sorted(holidays.begin(), holidays.end()));
  Require(cal.IsHoliday(day) == std::binary_search(holidays.begin(), holidays.end(), day));
  if (day.year() >= 1583)
    Require(absl::GetWeekday(calendar::EasterSunday(static_cast<int>(day.year()))) ==
            absl::Weekday::sunday);

  const absl::Time calendar_due = cal.AddCalendarDays(from, days);
  Require(calendar_due > from);
  const absl::Time working_due = cal.AddWorkingDays(from, days);
  Require(working_due > from);
  Require(working_due >= calendar_due);
  Require(cal.AddWorkingDays(from, days + 1) > working_due);

  const absl::Time hours_due = cal.AddWorkingHours(from, amount);
  Require(hours_due >= from + amount);
  Require(cal.AddWorkingHours(from, more) >= hours_due);
  return 0;
}
