// How terms are counted, rule by rule (Counting: the start, the roll forward, the holiday set, a
// registered letter), and every clock of the shipped configuration (deploy/config/
// deadline_watch.yaml) across the holidays of 2026-2028. The expected dates were worked out by
// hand from a calendar, not by the code under test; docs/deadlines.md gives the legal source of
// each rule.
//
// Belgian legal holidays used below: 2026: Easter Monday 6 April, Ascension 14 May, Whit Monday
// 25 May; 2027: Easter Monday 29 March, Ascension 6 May, Whit Monday 17 May; 2028: Easter Monday
// 17 April, Ascension 25 May, Whit Monday 5 June; every year 1 January, 1 May, 21 July,
// 15 August, 1 and 11 November, 25 December; and 11 July for the Flemish community.
#include <cstdlib>
#include <map>
#include <string>

#include <gtest/gtest.h>

#include "absl/time/civil_time.h"
#include "libs/calendar/calendar.h"
#include "services/deadline_watch/policy.h"
#include "yaml-cpp/yaml.h"

namespace meldpunt::deadline {
namespace {

using calendar::BusinessCalendar;

// "2026-12-02 10:00" Brussels time.
absl::Time Local(const std::string& text) {
  absl::CivilMinute minute;
  EXPECT_TRUE(absl::ParseCivilTime(text.substr(0, 10) + "T" + text.substr(11), &minute)) << text;
  return absl::FromCivil(minute, calendar::BrusselsTimeZone());
}

std::string Show(absl::Time t) {
  return absl::FormatTime("%Y-%m-%d %H:%M", t, calendar::BrusselsTimeZone());
}

BusinessCalendar Calendar(bool flemish_holiday = true, std::vector<std::string> closing = {}) {
  return *BusinessCalendar::Create({.flemish_holiday = flemish_holiday,
                                    .closing_days = std::move(closing),
                                    .working_hours = "08:30-17:00"});
}

ClockPolicy Policy(const std::string& term, const std::string& counting_yaml = "{}") {
  ClockPolicy p;
  p.duration = *Term::Parse(term);
  absl::StatusOr<Counting> counting = ParseCounting(YAML::Load(counting_yaml), "counting");
  EXPECT_TRUE(counting.ok()) << counting.status();
  if (counting.ok()) p.counting = *counting;
  return p;
}

std::string Due(const ClockPolicy& p, const std::string& start, const BusinessCalendar& cal,
                bool by_letter = false) {
  return Show(p.DueFrom(Local(start), cal, by_letter));
}

TEST(Counting, TheDefaultStartsTheNextDayAndDoesNotRoll) {
  const BusinessCalendar cal = Calendar();
  // Received Wednesday 2 December 2026: the 10th day is Saturday 12 December, and stays so.
  EXPECT_EQ(Due(Policy("10d"), "2026-12-02 10:00", cal), "2026-12-13 00:00");
  EXPECT_EQ(Due(Policy("10d"), "2026-12-02 23:59", cal), "2026-12-13 00:00")
      << "the time of day does not matter: the day of receipt does not count";
}

TEST(Counting, TheJudicialCodeRollsALastDayOffToTheNextWorkingDay) {
  const BusinessCalendar cal = Calendar();
  const ClockPolicy judicial = Policy("10d", "judicial_code");
  // Saturday 12 December 2026 -> Monday 14 December.
  EXPECT_EQ(Due(judicial, "2026-12-02 10:00", cal), "2026-12-15 00:00");
  // Sunday 3 January 2027 -> Monday 4 January.
  EXPECT_EQ(Due(judicial, "2026-12-24 10:00", cal), "2027-01-05 00:00");
  // Easter Monday 6 April 2026 -> Tuesday 7 April.
  EXPECT_EQ(Due(judicial, "2026-03-27 10:00", cal), "2026-04-08 00:00");
  // 45 days from Wednesday 2 December 2026: Saturday 16 January 2027 -> Monday 18 January.
  EXPECT_EQ(Due(Policy("45d", "judicial_code"), "2026-12-02 10:00", cal), "2027-01-19 00:00");
  // A last day that is a working day stays: Monday 14 December 2026 (from Friday 4 December).
  EXPECT_EQ(Due(judicial, "2026-12-04 10:00", cal), "2026-12-15 00:00");
}

TEST(Counting, TheHolidaySetDecidesWhether11JulyAndClosingDaysCount) {
  // 10 days from Saturday 1 July 2028 end on Tuesday 11 July 2028.
  const BusinessCalendar cal = Calendar(/*flemish_holiday=*/true, {"2028-07-12"});
  EXPECT_EQ(
      Due(Policy("10d", "{roll: next_working_day, holidays: federal}"), "2028-07-01 10:00", cal),
      "2028-07-12 00:00")
      << "11 July is no legal holiday for the Judicial Code";
  EXPECT_EQ(Due(Policy("10d", "{roll: next_working_day, holidays: federal_and_flemish}"),
                "2028-07-01 10:00", cal),
            "2028-07-13 00:00");
  EXPECT_EQ(Due(Policy("10d", "{roll: next_working_day, holidays: municipality}"),
                "2028-07-01 10:00", cal),
            "2028-07-14 00:00")
      << "the municipality also closes on 12 July";
  // Working days skip the set's days too: from Monday 10 July 2028.
  EXPECT_EQ(Due(Policy("2wd", "{holidays: federal}"), "2028-07-10 10:00", cal), "2028-07-13 00:00");
  EXPECT_EQ(Due(Policy("2wd", "{holidays: municipality}"), "2028-07-10 10:00", cal),
            "2028-07-15 00:00");
}

TEST(Counting, AnInstantStartKeepsTheTimeOfDayAcrossTheChangeToSummerTime) {
  const BusinessCalendar cal = Calendar();
  EXPECT_EQ(Due(Policy("10d", "{start: instant}"), "2026-12-02 14:30", cal), "2026-12-12 14:30");
  EXPECT_EQ(Due(Policy("10d", "{start: instant, roll: next_working_day}"), "2026-12-02 14:30", cal),
            "2026-12-14 14:30");
  // Summer time begins on Sunday 29 March 2026: still 09:00 on the clock, 23 hours less a day.
  const ClockPolicy instant = Policy("10d", "{start: instant}");
  EXPECT_EQ(Due(instant, "2026-03-20 09:00", cal), "2026-03-30 09:00");
  EXPECT_EQ(instant.DueFrom(Local("2026-03-20 09:00"), cal, false) - Local("2026-03-20 09:00"),
            absl::Hours(10 * 24 - 1));
  // Working days from an instant: the same time on the second working day after.
  EXPECT_EQ(Due(Policy("2wd", "{start: instant}"), "2026-12-24 11:15", cal), "2026-12-29 11:15");
}

TEST(Counting, ARegisteredLetterStartsOnTheThirdWorkingDayAfterItWasPosted) {
  const BusinessCalendar cal = Calendar();
  const ClockPolicy judicial = Policy("10d", "judicial_code");
  // Posted Thursday 24 December 2026: Friday 25 is Christmas, so the third working day is
  // Wednesday 30 December; 10 days from it end on Saturday 9 January 2027 -> Monday 11 January.
  EXPECT_EQ(Due(judicial, "2026-12-24 00:00", cal, /*by_letter=*/true), "2027-01-12 00:00");
  // Without the option, or for a case that was no registered letter, the receipt counts.
  EXPECT_EQ(Due(judicial, "2026-12-24 00:00", cal, /*by_letter=*/false), "2027-01-05 00:00");
  EXPECT_EQ(Due(Policy("10d", "bestuursdecreet"), "2026-12-24 00:00", cal, /*by_letter=*/true),
            "2027-01-04 00:00");
}

TEST(Counting, OneWorkingDayIsNotTwentyFourWorkingHours) {
  const BusinessCalendar cal = Calendar();  // 08:30-17:00, eight and a half hours a day
  // From Monday 7 December 2026 10:00.
  EXPECT_EQ(Due(Policy("1wd"), "2026-12-07 10:00", cal), "2026-12-09 00:00");
  // 7 h on Monday, 8.5 h on Tuesday, 8.5 h on Wednesday.
  EXPECT_EQ(Due(Policy("24wh", "{start: instant}"), "2026-12-07 10:00", cal), "2026-12-09 17:00");
  // From the next day: 8.5 h Tuesday, 8.5 h Wednesday, 7 h Thursday.
  EXPECT_EQ(Due(Policy("24wh"), "2026-12-07 10:00", cal), "2026-12-10 15:30");
}

TEST(Counting, ElapsedTermsAreExactlyThatMuchTime) {
  const BusinessCalendar cal = Calendar();
  EXPECT_EQ(Due(Policy("48h", "judicial_code"), "2026-12-04 10:00", cal), "2026-12-06 10:00");
}

TEST(Counting, BadCountingIsRefusedNamingTheKey) {
  auto error = [](const std::string& yaml) {
    return std::string(
        ParseCounting(YAML::Load(yaml), "deadline.clocks[2].counting").status().message());
  };
  EXPECT_NE(error("civil_code").find("deadline.clocks[2].counting: unknown basis 'civil_code'"),
            std::string::npos);
  EXPECT_NE(error("{start: tomorrow}").find("counting.start: next_day or instant"),
            std::string::npos);
  EXPECT_NE(error("{roll: back}").find("counting.roll"), std::string::npos);
  EXPECT_NE(error("{holidays: regional}").find("counting.holidays"), std::string::npos);
  EXPECT_NE(error("{registered_letter: maybe}").find("counting.registered_letter"),
            std::string::npos);
  EXPECT_NE(error("{rol: none}").find("unknown key 'rol'"), std::string::npos);
  EXPECT_NE(error("[next_day]").find("a basis name or a mapping"), std::string::npos);
  auto policies = ParsePolicies(
      YAML::Load("[{name: a, kinds: [REPORT], duration: 1d, counting: {start: later}}]"));
  ASSERT_FALSE(policies.ok());
  EXPECT_NE(policies.status().message().find("deadline.clocks[0].counting.start"),
            std::string::npos);
}

TEST(Policies, APolicyForACategoryAppliesToTheCategoriesUnderIt) {
  auto categories = catalog::Catalog::Parse(R"(categories:
  - {id: public-space, labels: {nl: a, fr: b, en: c}}
  - {id: roads, parent: public-space, labels: {nl: a, fr: b, en: c}}
  - {id: potholes, parent: roads, labels: {nl: a, fr: b, en: c}}
  - {id: parks, labels: {nl: a, fr: b, en: c}}
)",
                                            "categories.yaml");
  ASSERT_TRUE(categories.ok()) << categories.status();
  auto policies = ParsePolicies(
      YAML::Load("[{name: resolve, kinds: [REPORT], categories: [roads], duration: 5wd}]"));
  ASSERT_TRUE(policies.ok()) << policies.status();
  const ClockPolicy& roads = (*policies)[0];
  CaseFacts facts{.kind = types::v1::REPORT, .category = "potholes"};
  EXPECT_TRUE(roads.Matches(facts, categories->get()));
  EXPECT_FALSE(roads.Matches(facts)) << "without the catalogue only roads itself";
  facts.category = "roads";
  EXPECT_TRUE(roads.Matches(facts, categories->get()));
  facts.category = "public-space";
  EXPECT_FALSE(roads.Matches(facts, categories->get())) << "not upwards";
  facts.category = "parks";
  EXPECT_FALSE(roads.Matches(facts, categories->get()));
  EXPECT_TRUE(CheckCategories(*policies, **categories).ok());
  auto typo =
      ParsePolicies(YAML::Load("[{name: a, kinds: [REPORT], duration: 1d}, "
                               "{name: b, kinds: [REPORT], categories: [road], duration: 1d}]"));
  ASSERT_TRUE(typo.ok());
  EXPECT_EQ(CheckCategories(*typo, **categories).message(),
            "deadline.clocks[1].categories: 'road' is not in the category catalogue");
}

// The shipped configuration, as a municipality starts with it.
class ShippedClocks : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* source = std::getenv("MELDPUNT_SOURCE_DIR");
    const YAML::Node root =
        YAML::LoadFile(std::string(source ? source : ".") + "/deploy/config/deadline_watch.yaml");
    calendar::CalendarOptions options;
    options.time_zone = root["calendar"]["time_zone"].as<std::string>();
    options.flemish_holiday = root["calendar"]["flemish_holiday"].as<bool>();
    options.closing_days = root["calendar"]["closing_days"].as<std::vector<std::string>>();
    options.working_hours = root["calendar"]["working_hours"].as<std::string>();
    absl::StatusOr<BusinessCalendar> cal = BusinessCalendar::Create(options);
    ASSERT_TRUE(cal.ok()) << cal.status();
    calendar_.emplace(*std::move(cal));
    absl::StatusOr<std::vector<ClockPolicy>> policies = ParsePolicies(root["deadline"]["clocks"]);
    ASSERT_TRUE(policies.ok()) << policies.status();
    for (ClockPolicy& p : *policies) policies_[p.id] = std::move(p);
  }

  std::string Due(const std::string& id, const std::string& start, bool by_letter = false) {
    auto it = policies_.find(id);
    if (it == policies_.end()) return "no clock " + id;
    return Show(it->second.DueFrom(Local(start), *calendar_, by_letter));
  }

  std::optional<BusinessCalendar> calendar_;
  std::map<std::string, ClockPolicy> policies_;
};

TEST_F(ShippedClocks, EveryClockIsCoveredHere) {
  std::set<std::string> ids;
  for (const auto& [id, p] : policies_) ids.insert(id);
  EXPECT_EQ(ids, (std::set<std::string>{"acknowledge", "admissibility", "answer", "answer-question",
                                        "department_acceptance", "resolve", "resolve-urgent"}))
      << "a new shipped clock needs its dates below";
}

TEST_F(ShippedClocks, ComplaintTermsRunFromTheDayAfterReceiptWithoutRollingForward) {
  // Acknowledgement and admissibility, 10 days: from Wednesday 2 December 2026 to the end of
  // Saturday 12 December (Bestuursdecreet: no shift).
  EXPECT_EQ(Due("acknowledge", "2026-12-02 10:00"), "2026-12-13 00:00");
  EXPECT_EQ(Due("admissibility", "2026-12-02 10:00"), "2026-12-13 00:00");
  // From Christmas Eve 2026: Sunday 3 January 2027.
  EXPECT_EQ(Due("admissibility", "2026-12-24 16:00"), "2027-01-04 00:00");
  // Over Easter 2027 and the change to summer time: Sunday 4 April 2027.
  EXPECT_EQ(Due("acknowledge", "2027-03-25 09:00"), "2027-04-05 00:00");
  // The answer, 45 days: Saturday 16 January 2027; Monday 14 December 2026 from 30 October.
  EXPECT_EQ(Due("answer", "2026-12-02 10:00"), "2027-01-17 00:00");
  EXPECT_EQ(Due("answer", "2026-10-30 10:00"), "2026-12-15 00:00");
  // Over Ascension and Whit Monday 2028: from Wednesday 24 May, Saturday 8 July 2028.
  EXPECT_EQ(Due("answer", "2028-05-24 10:00"), "2028-07-09 00:00");
  // A registered letter changes nothing for these clocks: the receipt counts.
  EXPECT_EQ(Due("admissibility", "2026-12-24 16:00", /*by_letter=*/true), "2027-01-04 00:00");
  // Questions and suggestions, 30 days: New Year's Day 2027 from 2 December 2026.
  EXPECT_EQ(Due("answer-question", "2026-12-02 10:00"), "2027-01-02 00:00");
}

TEST_F(ShippedClocks, WorkingDayTermsSkipWeekendsHolidaysAnd11July) {
  // The department's 2 working days from Wednesday 2 December 2026: Thursday and Friday.
  EXPECT_EQ(Due("department_acceptance", "2026-12-02 10:00"), "2026-12-05 00:00");
  // From Christmas Eve 2026: Monday 28 and Tuesday 29 December.
  EXPECT_EQ(Due("department_acceptance", "2026-12-24 10:00"), "2026-12-30 00:00");
  // Over Easter Monday 2027 (29 March): Friday 26 and Tuesday 30 March.
  EXPECT_EQ(Due("department_acceptance", "2027-03-25 10:00"), "2027-03-31 00:00");
  // Over Ascension 2028 (Thursday 25 May): Friday 26 and Monday 29 May.
  EXPECT_EQ(Due("department_acceptance", "2028-05-24 10:00"), "2028-05-30 00:00");
  // 11 July 2028 is a Tuesday, a holiday of the shipped calendar: Wednesday 12 and Thursday 13.
  EXPECT_EQ(Due("department_acceptance", "2028-07-10 10:00"), "2028-07-14 00:00");
  // Urgent, 1 working day: over Whit Monday 2028 (5 June) to Tuesday 6 June; over 21 July 2028
  // (a Friday) to Monday 24 July; over 11 July 2028 to Wednesday 12 July.
  EXPECT_EQ(Due("resolve-urgent", "2028-06-02 10:00"), "2028-06-07 00:00");
  EXPECT_EQ(Due("resolve-urgent", "2028-07-20 10:00"), "2028-07-25 00:00");
  EXPECT_EQ(Due("resolve-urgent", "2028-07-10 10:00"), "2028-07-13 00:00");
  EXPECT_EQ(Due("resolve-urgent", "2028-05-24 10:00"), "2028-05-27 00:00");
  // 10 working days from Wednesday 2 December 2026: Wednesday 16 December.
  EXPECT_EQ(Due("resolve", "2026-12-02 10:00"), "2026-12-17 00:00");
  // From Christmas Eve 2026, over Christmas and New Year: Monday 11 January 2027.
  EXPECT_EQ(Due("resolve", "2026-12-24 10:00"), "2027-01-12 00:00");
  // Over Ascension (6 May) 2027, from Monday 3 May: Monday 17 May is Whit Monday, so
  // 4, 5, 7, 10, 11, 12, 13, 14, 18, 19 May: Wednesday 19 May.
  EXPECT_EQ(Due("resolve", "2027-05-03 10:00"), "2027-05-20 00:00");
}

}  // namespace
}  // namespace meldpunt::deadline
