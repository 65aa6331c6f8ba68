// Hand-checked against the Belgian public holidays and the DST changes of the years concerned.
#include "libs/calendar/calendar.h"

#include <algorithm>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

namespace meldpunt::calendar {
namespace {

absl::Time Utc(const std::string& rfc3339) {
  absl::Time t;
  std::string error;
  EXPECT_TRUE(absl::ParseTime(absl::RFC3339_full, rfc3339, &t, &error)) << error;
  return t;
}

BusinessCalendar Make(CalendarOptions options = {}) {
  auto cal = BusinessCalendar::Create(options);
  EXPECT_TRUE(cal.ok()) << cal.status();
  return *cal;
}

TEST(Easter, KnownDates) {
  EXPECT_EQ(EasterSunday(2000), absl::CivilDay(2000, 4, 23));
  EXPECT_EQ(EasterSunday(2019), absl::CivilDay(2019, 4, 21));
  EXPECT_EQ(EasterSunday(2024), absl::CivilDay(2024, 3, 31));
  EXPECT_EQ(EasterSunday(2025), absl::CivilDay(2025, 4, 20));
  EXPECT_EQ(EasterSunday(2026), absl::CivilDay(2026, 4, 5));
  EXPECT_EQ(EasterSunday(2027), absl::CivilDay(2027, 3, 28));
  EXPECT_EQ(EasterSunday(2028), absl::CivilDay(2028, 4, 16));
  EXPECT_EQ(EasterSunday(2038), absl::CivilDay(2038, 4, 25));
}

TEST(Holidays, Belgium2026) {
  const std::vector<absl::CivilDay> expected = {
      absl::CivilDay(2026, 1, 1),  absl::CivilDay(2026, 4, 6),  absl::CivilDay(2026, 5, 1),
      absl::CivilDay(2026, 5, 14), absl::CivilDay(2026, 5, 25), absl::CivilDay(2026, 7, 21),
      absl::CivilDay(2026, 8, 15), absl::CivilDay(2026, 11, 1), absl::CivilDay(2026, 11, 11),
      absl::CivilDay(2026, 12, 25)};
  EXPECT_EQ(Make().Holidays(2026), expected);
}

TEST(Holidays, Belgium2025WithTheFlemishHolidayAndAClosingDay) {
  BusinessCalendar cal = Make({.flemish_holiday = true, .closing_days = {"2025-12-26"}});
  EXPECT_TRUE(cal.IsHoliday(absl::CivilDay(2025, 4, 21)));   // Easter Monday
  EXPECT_TRUE(cal.IsHoliday(absl::CivilDay(2025, 5, 29)));   // Ascension
  EXPECT_TRUE(cal.IsHoliday(absl::CivilDay(2025, 6, 9)));    // Whit Monday
  EXPECT_TRUE(cal.IsHoliday(absl::CivilDay(2025, 7, 11)));   // Flemish community
  EXPECT_TRUE(cal.IsHoliday(absl::CivilDay(2025, 12, 26)));  // closing day
  EXPECT_FALSE(Make().IsHoliday(absl::CivilDay(2025, 7, 11)));
  EXPECT_FALSE(cal.IsWorkingDay(absl::CivilDay(2025, 11, 22)));  // Saturday
  EXPECT_TRUE(cal.IsWorkingDay(absl::CivilDay(2025, 11, 24)));   // Monday
}

TEST(Deadlines, WorkingDaysSkipWeekendsAndHolidays) {
  BusinessCalendar cal = Make();
  // Wed 13 May 2026 10:00 CEST; Thu 14 May is Ascension: Fri 15 (1), Mon 18 (2): due Tue 19 00:00
  // CEST.
  EXPECT_EQ(cal.AddWorkingDays(Utc("2026-05-13T08:00:00Z"), 2), Utc("2026-05-18T22:00:00Z"));
  // Wed 23 Dec 2026: Thu 24 (1), Fri 25 Christmas, Mon 28 (2), Tue 29 (3): due Wed 30 00:00 CET.
  EXPECT_EQ(cal.AddWorkingDays(Utc("2026-12-23T10:00:00Z"), 3), Utc("2026-12-29T23:00:00Z"));
  // A closing day on 24 December moves it one more day.
  BusinessCalendar closed = Make({.closing_days = {"2026-12-24"}});
  EXPECT_EQ(closed.AddWorkingDays(Utc("2026-12-23T10:00:00Z"), 3), Utc("2026-12-30T23:00:00Z"));
  // Received on Saturday 21 Nov 2026: Mon 23 (1): due Tue 24 00:00 CET.
  EXPECT_EQ(cal.AddWorkingDays(Utc("2026-11-21T12:00:00Z"), 1), Utc("2026-11-23T23:00:00Z"));
  // Thu 10 July 2025 with and without the Flemish holiday on Friday 11 July.
  EXPECT_EQ(cal.AddWorkingDays(Utc("2025-07-10T09:00:00Z"), 1), Utc("2025-07-11T22:00:00Z"));
  EXPECT_EQ(Make({.flemish_holiday = true}).AddWorkingDays(Utc("2025-07-10T09:00:00Z"), 1),
            Utc("2025-07-14T22:00:00Z"));
  // Late evening counts for its local day: Mon 23:30 CET is still Monday.
  EXPECT_EQ(cal.AddWorkingDays(Utc("2026-11-23T22:30:00Z"), 1), Utc("2026-11-24T23:00:00Z"));
}

TEST(Deadlines, CalendarDaysAcrossBothDstChanges) {
  BusinessCalendar cal = Make();
  // Summer time starts 29 March 2026: received Fri 27 March 15:00 CET, 10 days: end of 6 April
  // CEST.
  EXPECT_EQ(cal.AddCalendarDays(Utc("2026-03-27T14:00:00Z"), 10), Utc("2026-04-06T22:00:00Z"));
  // Winter time starts 25 October 2026: received Thu 22 October 09:00 CEST, 10 days: end of 1 Nov
  // CET.
  EXPECT_EQ(cal.AddCalendarDays(Utc("2026-10-22T07:00:00Z"), 10), Utc("2026-11-01T23:00:00Z"));
  // The complaint's 45 days: received 22 Nov 2026, due at the end of 6 January 2027.
  EXPECT_EQ(cal.AddCalendarDays(Utc("2026-11-22T10:00:00Z"), 45), Utc("2027-01-06T23:00:00Z"));
  // Working days across the autumn change: Thu 29 Oct 2026; Fri 30 (1), Mon 2 Nov (2).
  EXPECT_EQ(cal.AddWorkingDays(Utc("2026-10-29T10:00:00Z"), 2), Utc("2026-11-02T23:00:00Z"));
  // Spring 2027 (28 March): received Thu 25 March 2027 CET, 3 working days: Fri 26, Mon 29 =
  // Easter Monday (skipped), Tue 30, Wed 31: due Thu 1 April 00:00 CEST.
  EXPECT_EQ(cal.AddWorkingDays(Utc("2027-03-25T10:00:00Z"), 3), Utc("2027-03-31T22:00:00Z"));
}

TEST(Calendar, BadOptionsAreRefusedByName) {
  EXPECT_NE(BusinessCalendar::Create({.time_zone = "Mars/Olympus"})
                .status()
                .message()
                .find("calendar.time_zone"),
            std::string::npos);
  EXPECT_NE(BusinessCalendar::Create({.closing_days = {"24/12/2026"}})
                .status()
                .message()
                .find("closing_days"),
            std::string::npos);
}

// Working hours "08:00-17:00": 9 hours a working day. November 2026 is CET (UTC+1): 23 Nov is a
// Monday, 21 Nov a Saturday, 27 Nov a Friday.
BusinessCalendar Office(std::vector<std::string> closing_days = {}) {
  return Make({.closing_days = std::move(closing_days), .working_hours = "08:00-17:00"});
}

TEST(WorkingHours, CountOnlyOfficeHoursOnWorkingDays) {
  BusinessCalendar cal = Office();
  EXPECT_TRUE(cal.has_working_hours());
  // Mon 23 Nov 10:00 CET + 16h: Monday 10:00-17:00 = 7h, 9h left = all of Tuesday: used up at the
  // close, Tue 24 Nov 17:00 CET = 16:00Z (not Wednesday 08:00).
  EXPECT_EQ(cal.AddWorkingHours(Utc("2026-11-23T09:00:00Z"), absl::Hours(16)),
            Utc("2026-11-24T16:00:00Z"));
  // Fri 27 Nov 16:00 CET + 2h: 1h on Friday, weekend skipped, Mon 30 Nov 08:00 + 1h = 09:00 CET.
  EXPECT_EQ(cal.AddWorkingHours(Utc("2026-11-27T15:00:00Z"), absl::Hours(2)),
            Utc("2026-11-30T08:00:00Z"));
  // Sat 21 Nov 12:00 CET + 3h: counting starts Mon 23 Nov 08:00: 11:00 CET = 10:00Z.
  EXPECT_EQ(cal.AddWorkingHours(Utc("2026-11-21T11:00:00Z"), absl::Hours(3)),
            Utc("2026-11-23T10:00:00Z"));
  // Tue 24 Nov 06:30 CET, before opening, + 2h30: 08:00 + 2h30 = 10:30 CET = 09:30Z.
  EXPECT_EQ(cal.AddWorkingHours(Utc("2026-11-24T05:30:00Z"), absl::Minutes(150)),
            Utc("2026-11-24T09:30:00Z"));
  // Inside the window: Tue 24 Nov 09:15 CET + 45 min = 10:00 CET = 09:00Z.
  EXPECT_EQ(cal.AddWorkingHours(Utc("2026-11-24T08:15:00Z"), absl::Minutes(45)),
            Utc("2026-11-24T09:00:00Z"));
  // Mon 2 Nov 08:00 CET + 300h = 33 working days of 9h + 3h. Working days from 2 Nov: 2-6 (5),
  // 9, 10, 12, 13 (9; 11 Nov is a holiday), 16-20 (14), 23-27 (19), 30 Nov-4 Dec (24), 7-11 (29),
  // 14, 15, 16, 17 Dec (33): 297h used up Thu 17 Dec 17:00; Fri 18 Dec 08:00 + 3h = 11:00 CET.
  EXPECT_EQ(cal.AddWorkingHours(Utc("2026-11-02T07:00:00Z"), absl::Hours(300)),
            Utc("2026-12-18T10:00:00Z"));
}

TEST(WorkingHours, AtOrAfterTheCloseCountingStartsTheNextMorning) {
  BusinessCalendar cal = Office();
  // Mon 23 Nov 16:00 CET + 1h ends exactly at the close: 17:00 CET = 16:00Z.
  EXPECT_EQ(cal.AddWorkingHours(Utc("2026-11-23T15:00:00Z"), absl::Hours(1)),
            Utc("2026-11-23T16:00:00Z"));
  // From exactly Mon 23 Nov 17:00 CET, from 20:00 CET and from 23:30 CET + 1h: Tue 24 Nov 08:00
  // + 1h = 09:00 CET = 08:00Z.
  EXPECT_EQ(cal.AddWorkingHours(Utc("2026-11-23T16:00:00Z"), absl::Hours(1)),
            Utc("2026-11-24T08:00:00Z"));
  EXPECT_EQ(cal.AddWorkingHours(Utc("2026-11-23T19:00:00Z"), absl::Hours(1)),
            Utc("2026-11-24T08:00:00Z"));
  EXPECT_EQ(cal.AddWorkingHours(Utc("2026-11-23T22:30:00Z"), absl::Hours(1)),
            Utc("2026-11-24T08:00:00Z"));
}

TEST(WorkingHours, SkipHolidaysAndClosingDays) {
  // Mon 9 Nov 2026 08:00 CET + 27h: Monday 9h, Tuesday 9h, Wed 11 Nov (Wapenstilstand) skipped,
  // Thursday 9h: used up Thu 12 Nov 17:00 CET = 16:00Z.
  EXPECT_EQ(Office().AddWorkingHours(Utc("2026-11-09T07:00:00Z"), absl::Hours(27)),
            Utc("2026-11-12T16:00:00Z"));
  // Closed on Tue 24 Nov: Mon 23 Nov 16:00 CET + 2h: 1h on Monday, Wed 25 Nov 09:00 CET = 08:00Z.
  EXPECT_EQ(Office({"2026-11-24"}).AddWorkingHours(Utc("2026-11-23T15:00:00Z"), absl::Hours(2)),
            Utc("2026-11-25T08:00:00Z"));
}

TEST(WorkingHours, AcrossEasterMondayAndTheSpringDstChange) {
  BusinessCalendar cal = Office();
  // Easter 2027 is Sunday 28 March, also the day summer time starts (02:00 CET -> 03:00 CEST).
  // Fri 26 March 15:00 CET (14:00Z) + 5h: Friday 15:00-17:00 = 2h, 3h left; Sat 27, Sun 28 and
  // Easter Monday 29 skipped; Tue 30 March 08:00 CEST + 3h = 11:00 CEST = 09:00Z (adding 4 x 24h
  // in UTC would wrongly give 10:00Z).
  EXPECT_EQ(cal.AddWorkingHours(Utc("2027-03-26T14:00:00Z"), absl::Hours(5)),
            Utc("2027-03-30T09:00:00Z"));
  // Thu 25 March 08:00 CET (07:00Z) + 27h: Thursday 9h, Friday 9h, Tuesday 30 March 9h: used up
  // at 17:00 CEST = 15:00Z.
  EXPECT_EQ(cal.AddWorkingHours(Utc("2027-03-25T07:00:00Z"), absl::Hours(27)),
            Utc("2027-03-30T15:00:00Z"));
}

TEST(WorkingHours, AcrossTheAutumnDstChange) {
  // Winter time starts Sun 25 Oct 2026 (03:00 CEST -> 02:00 CET). Fri 23 Oct 16:00 CEST (14:00Z)
  // + 2h: 1h on Friday, Mon 26 Oct 08:00 CET + 1h = 09:00 CET = 08:00Z.
  EXPECT_EQ(Office().AddWorkingHours(Utc("2026-10-23T14:00:00Z"), absl::Hours(2)),
            Utc("2026-10-26T08:00:00Z"));
}

TEST(WorkingHours, WithoutWorkingHoursWholeWorkingDaysCount) {
  BusinessCalendar cal = Make();
  EXPECT_FALSE(cal.has_working_hours());
  // Fri 27 Nov 2026 20:00 CET + 10h: 4h until midnight, weekend skipped, Mon 30 Nov 00:00 + 6h =
  // 06:00 CET = 05:00Z.
  EXPECT_EQ(cal.AddWorkingHours(Utc("2026-11-27T19:00:00Z"), absl::Hours(10)),
            Utc("2026-11-30T05:00:00Z"));
  // Sat 21 Nov 12:00 CET + 24h = all of Monday 23 Nov: its end, 24:00 CET = 23:00Z.
  EXPECT_EQ(cal.AddWorkingHours(Utc("2026-11-21T11:00:00Z"), absl::Hours(24)),
            Utc("2026-11-23T23:00:00Z"));
  // Fri 26 March 2027 12:00 CET + 20h: 12h on Friday; Sat, Sun (23 hours long) and Easter Monday
  // skipped; Tue 30 March 00:00 CEST + 8h = 08:00 CEST = 06:00Z.
  EXPECT_EQ(cal.AddWorkingHours(Utc("2027-03-26T11:00:00Z"), absl::Hours(20)),
            Utc("2027-03-30T06:00:00Z"));
}

TEST(WorkingHours, ZeroOrNegativeAmountReturnsFrom) {
  BusinessCalendar cal = Office();
  const absl::Time saturday = Utc("2026-11-21T11:00:00Z");
  EXPECT_EQ(cal.AddWorkingHours(saturday, absl::ZeroDuration()), saturday);
  EXPECT_EQ(cal.AddWorkingHours(saturday, absl::Hours(-3)), saturday);
  const absl::Time evening = Utc("2026-11-23T19:00:00Z");
  EXPECT_EQ(cal.AddWorkingHours(evening, absl::ZeroDuration()), evening);
}

TEST(WorkingHours, BadValuesAreRefusedWithTheReason) {
  const auto error = [](const std::string& hours) {
    absl::StatusOr<BusinessCalendar> cal = BusinessCalendar::Create({.working_hours = hours});
    EXPECT_EQ(cal.status().code(), absl::StatusCode::kInvalidArgument) << hours;
    return std::string(cal.status().message());
  };
  EXPECT_EQ(error("8-17"), "calendar.working_hours: \"8-17\" is not HH:MM-HH:MM");
  EXPECT_EQ(error("8:00-17:00"), "calendar.working_hours: \"8:00-17:00\" is not HH:MM-HH:MM");
  EXPECT_EQ(error("08:00 - 17:00"), "calendar.working_hours: \"08:00 - 17:00\" is not HH:MM-HH:MM");
  EXPECT_EQ(error("08h00-17h00"), "calendar.working_hours: \"08h00-17h00\" is not HH:MM-HH:MM");
  EXPECT_EQ(error("17:00-08:00"),
            "calendar.working_hours: \"17:00-08:00\": start must be before end");
  EXPECT_EQ(error("08:00-08:00"),
            "calendar.working_hours: \"08:00-08:00\": start must be before end");
  EXPECT_EQ(error("08:00-24:30"), "calendar.working_hours: \"08:00-24:30\" is outside 00:00-24:00");
  EXPECT_EQ(error("25:00-26:00"), "calendar.working_hours: \"25:00-26:00\" is outside 00:00-24:00");
  EXPECT_EQ(error("08:60-17:00"), "calendar.working_hours: \"08:60-17:00\" is outside 00:00-24:00");
  EXPECT_TRUE(BusinessCalendar::Create({.working_hours = "00:00-24:00"})->has_working_hours());
}

// The walk AddWorkingHours makes without passing whole years: one step per day, every day's
// window converted from local civil time on its own.
absl::Time DayByDay(const BusinessCalendar& cal, int start_minute, int end_minute, absl::Time from,
                    absl::Duration amount) {
  const auto instant = [&](absl::CivilSecond local) {
    const absl::TimeZone::TimeInfo info = cal.zone().At(local);
    return info.kind == absl::TimeZone::TimeInfo::SKIPPED ? info.trans : info.pre;
  };
  for (absl::CivilDay day = cal.LocalDay(from);; ++day) {
    if (!cal.IsWorkingDay(day)) continue;
    const absl::Time open = std::max(from, instant(absl::CivilSecond(day) + start_minute * 60));
    const absl::Time close = instant(absl::CivilSecond(day) + end_minute * 60);
    if (open >= close) continue;
    if (amount <= close - open) return open + amount;
    amount -= close - open;
  }
}

TEST(WorkingHours, PassingWholeYearsGivesTheSameInstantAsWalkingEveryDay) {
  // Zones with DST at 02:00, none, a half-hour change, a change at midnight and a change in the
  // small hours; windows that hold a change, that close at 24:00 and that are a minute long.
  struct Window {
    const char* text;
    int start;
    int end;
  };
  const std::vector<Window> windows = {{"08:30-17:00", 510, 1020},
                                       {"00:00-24:00", 0, 1440},
                                       {"01:30-03:30", 90, 210},
                                       {"23:00-24:00", 1380, 1440},
                                       {"08:00-08:01", 480, 481}};
  std::mt19937_64 random(20261201);
  int compared = 0;
  for (const char* zone :
       {"Europe/Brussels", "UTC", "Australia/Lord_Howe", "America/Santiago", "Pacific/Apia"}) {
    for (const Window& w : windows) {
      BusinessCalendar cal = Make({.time_zone = zone,
                                   .flemish_holiday = true,
                                   .closing_days = {"2027-01-04", "2031-12-31"},
                                   .working_hours = w.text});
      for (int i = 0; i < 12; ++i) {
        // From 1970 to 2400 (and once past 9000), up to about 25 years of windows.
        const int64_t seconds = std::uniform_int_distribution<int64_t>(0, 13'500'000'000)(random) +
                                (i == 0 ? 220'000'000'000 : 0);
        const absl::Time from = absl::FromUnixSeconds(seconds);
        const absl::Duration amount =
            absl::Minutes(std::uniform_int_distribution<int64_t>(1, 25 * 260)(random) *
                          (w.end - w.start)) +
            absl::Seconds(std::uniform_int_distribution<int64_t>(-59, 59)(random));
        EXPECT_EQ(cal.AddWorkingHours(from, amount), DayByDay(cal, w.start, w.end, from, amount))
            << zone << " " << w.text << " from " << absl::FormatTime(from) << " + " << amount;
        ++compared;
      }
    }
  }
  EXPECT_EQ(compared, 5 * 5 * 12);
}

TEST(WorkingHours, TenYearsOfAOneMinuteWindowEndTwentyThousandYearsLater) {
  // The longest working-hours term a policy allows (ten years) against a one-minute window:
  // about 5.3 million working days. Passed a year at a time, not walked day by day.
  BusinessCalendar cal = Make({.working_hours = "08:00-08:01"});
  const absl::Time from = Utc("2026-12-01T12:00:00Z");
  const absl::Duration ten_years = absl::Hours(24 * 3660);
  const absl::Time due = cal.AddWorkingHours(from, ten_years);
  const int64_t year = cal.LocalDay(due).year();
  EXPECT_GT(year, 20000);
  EXPECT_LT(year, 23000);
  // Still a minute of a window on a working day, and more time never ends sooner.
  EXPECT_TRUE(cal.IsWorkingDay(cal.LocalDay(due)));
  EXPECT_GT(cal.AddWorkingHours(from, ten_years + absl::Minutes(1)), due);
}

}  // namespace
}  // namespace meldpunt::calendar
