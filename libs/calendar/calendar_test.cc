// Hand-checked against the Belgian public holidays and the DST changes of the years concerned.
#include "libs/calendar/calendar.h"

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

}  // namespace
}  // namespace meldpunt::calendar
