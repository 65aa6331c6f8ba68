// The figures on handcrafted cases whose answers are worked out by hand: percentiles, the backlog
// buckets, shares within term, months in Brussels time, the 45-day term of complaints to the
// second, and what CSV and HTML make of awkward text.
#include "services/intake/reporting.h"

#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "libs/events/codec.h"

namespace meldpunt::intake::reporting {
namespace {

namespace t = ::meldpunt::types::v1;

absl::Time Utc(const std::string& text) {
  absl::Time out;
  EXPECT_TRUE(absl::ParseTime(absl::RFC3339_full, text, &out, nullptr)) << text;
  return out;
}

t::Case Make(const std::string& submitted, t::CaseKind kind, t::CaseState state) {
  t::Case c;
  c.set_case_id("MP-" + submitted);
  c.mutable_draft()->set_kind(kind);
  c.mutable_draft()->set_category("potholes");
  c.mutable_draft()->set_channel(t::WEB);
  c.set_state(state);
  events::SetTime(c.mutable_submitted_at(), Utc(submitted));
  return c;
}

TEST(Percentile, NearestRank) {
  std::vector<double> v = {5, 1, 4, 2, 3};
  EXPECT_EQ(Percentile(v, 0.5), 3);
  EXPECT_EQ(Percentile(v, 0.9), 5);
  std::vector<double> four = {10, 20, 30, 40};
  EXPECT_EQ(Percentile(four, 0.5), 20);
  EXPECT_EQ(Percentile(four, 0.9), 40);
  std::vector<double> none;
  EXPECT_EQ(Percentile(none, 0.5), 0);
}

TEST(Indicators, CountsBucketsSharesAndMonthsInBrusselsTime) {
  const absl::Time now = Utc("2025-12-31T12:00:00Z");
  std::vector<t::Case> cases;
  // 31 Jan 23:30 UTC is already 1 February in Brussels.
  t::Case a = Make("2025-01-31T23:30:00Z", t::REPORT, t::CLOSED);
  events::SetTime(a.mutable_answered_at(), Utc("2025-02-03T23:30:00Z"));  // 3 days
  events::SetTime(a.mutable_closed_at(), Utc("2025-02-04T00:00:00Z"));
  a.add_clocks_within_term("answer");
  a.set_route_hops(2);
  a.add_bounced_departments("parks");
  a.set_reopen_count(1);
  cases.push_back(a);
  t::Case b = Make("2025-02-10T10:00:00Z", t::REPORT, t::ANSWERED);
  events::SetTime(b.mutable_answered_at(), Utc("2025-02-20T10:00:00Z"));  // 10 days
  b.add_clocks_late("answer");
  b.set_route_hops(1);
  b.set_duplicate_of("MP-x");
  cases.push_back(b);
  // Open: 5 days and 40 days old at `now`.
  cases.push_back(Make("2025-12-26T12:00:00Z", t::REPORT, t::ACCEPTED));
  cases.push_back(Make("2025-11-21T12:00:00Z", t::QUESTION, t::ROUTED));
  // Withdrawn: closed, no handling time; merged: a duplicate.
  cases.push_back(Make("2025-01-05T08:00:00Z", t::SUGGESTION, t::WITHDRAWN));
  cases.push_back(Make("2025-01-06T08:00:00Z", t::REPORT, t::MERGED));

  const auto r = Indicators(cases, Utc("2025-01-01T00:00:00Z"), Utc("2026-01-01T00:00:00Z"),
                            v1::GROUP_MONTH, now);
  const v1::IndicatorRow& total = r.total();
  EXPECT_EQ(total.received(), 6);
  EXPECT_EQ(total.open(), 2);
  EXPECT_EQ(total.closed(), 4);
  EXPECT_EQ(total.backlog(0).cases(), 1);  // 0-7d
  EXPECT_EQ(total.backlog(2).cases(), 1);  // 31-90d
  EXPECT_EQ(total.handled(), 2);
  EXPECT_DOUBLE_EQ(total.handling_days_p50(), 3);
  EXPECT_DOUBLE_EQ(total.handling_days_p90(), 10);
  ASSERT_EQ(total.within_term_size(), 1);
  EXPECT_EQ(total.within_term(0).stopped(), 2);
  EXPECT_EQ(total.within_term(0).within_term(), 1);
  EXPECT_DOUBLE_EQ(total.within_term(0).share(), 0.5);
  EXPECT_EQ(total.bounces(), 1);
  EXPECT_EQ(total.reroutes(), 1);
  EXPECT_EQ(total.reopened(), 1);
  EXPECT_DOUBLE_EQ(total.reopen_rate(), 0.5);
  EXPECT_EQ(total.duplicates(), 2);
  std::map<std::string, int64_t> months;
  for (const auto& row : r.rows()) months[row.group()] = row.received();
  EXPECT_EQ(months, (std::map<std::string, int64_t>{
                        {"2025-01", 2}, {"2025-02", 2}, {"2025-11", 1}, {"2025-12", 1}}));
}

TEST(Complaints, TheFortyFiveDaysEndAtMidnightBrusselsTime) {
  calendar::BusinessCalendar cal = *calendar::BusinessCalendar::Create({});
  // Received Mon 3 March 2025 10:00 CET: the 45th day after is Thu 17 April, which ends at
  // 18 April 00:00 CEST = 17 April 22:00 UTC.
  std::vector<t::Case> cases;
  for (const char* answered : {"2025-04-17T22:00:00Z", "2025-04-17T22:00:01Z"}) {
    t::Case c = Make("2025-03-03T09:00:00Z", t::COMPLAINT, t::ANSWERED);
    c.set_admissibility(t::ADMISSIBILITY_ADMISSIBLE);
    c.set_outcome("PARTLY_FOUNDED");
    c.set_ombudsnorm("redelijke termijn");
    c.set_submitting_system("crm");
    events::SetTime(c.mutable_answered_at(), Utc(answered));
    cases.push_back(c);
  }
  t::Case inadmissible = Make("2025-05-01T09:00:00Z", t::COMPLAINT, t::INADMISSIBLE);
  inadmissible.set_admissibility(t::ADMISSIBILITY_INADMISSIBLE);
  inadmissible.set_inadmissibility_ground("FACTS_OLDER_THAN_ONE_YEAR");
  cases.push_back(inadmissible);
  cases.push_back(Make("2025-05-02T09:00:00Z", t::REPORT, t::CLOSED));  // not a complaint
  const auto r = Complaints(cases, 2025, Utc("2025-12-31T00:00:00Z"), cal);
  EXPECT_EQ(r.received(), 3);
  EXPECT_EQ(r.admissible(), 2);
  EXPECT_EQ(r.inadmissible(), 1);
  EXPECT_EQ(r.answered(), 2);
  EXPECT_EQ(r.answered_within_45_days(), 1);
  EXPECT_EQ(r.answered_later(), 1);
  EXPECT_EQ(r.partly_founded(), 2);
  ASSERT_EQ(r.ombudsnormen_size(), 1);
  EXPECT_EQ(r.ombudsnormen(0).count(), 2);
  EXPECT_EQ(r.inadmissible_by_ground_size(), 6);  // every legal ground, zero included
  for (const auto& g : r.inadmissible_by_ground())
    EXPECT_EQ(g.count(), g.key() == "FACTS_OLDER_THAN_ONE_YEAR" ? 1 : 0) << g.key();
}

TEST(Export, CsvQuotesAndHtmlEscapesAndFetchesNothing) {
  t::Case c = Make("2025-03-03T09:00:00Z", t::COMPLAINT, t::ANSWERED);
  c.mutable_draft()->set_category("a,\"b\"");
  c.set_ombudsnorm("<script>alert(1)</script>");
  events::SetTime(c.mutable_answered_at(), Utc("2025-03-10T09:00:00Z"));
  const absl::Time now = Utc("2025-12-31T00:00:00Z");
  const auto indicators = Indicators({c}, Utc("2025-01-01T00:00:00Z"), Utc("2026-01-01T00:00:00Z"),
                                     v1::GROUP_CATEGORY, now);
  const auto report = Complaints({c}, 2025, now, *calendar::BusinessCalendar::Create({}));
  const std::string csv = Csv(indicators, report);
  EXPECT_NE(csv.find("\"a,\"\"b\"\"\",1,"), std::string::npos) << csv;
  EXPECT_NE(csv.find("answered_within_45_days,1\r\n"), std::string::npos) << csv;
  const std::string html = Html(indicators, report);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;"), std::string::npos);
  EXPECT_NE(html.find("<svg"), std::string::npos);
  // Self-contained: no stylesheet, script, image or font is fetched.
  for (const char* fetch : {"<link", "src=", "url(", "@import"})
    EXPECT_EQ(html.find(fetch), std::string::npos) << fetch;
}

TEST(Requests, BadPeriodsAndYearsAreRefusedByField) {
  v1::GetIndicatorsRequest r;
  EXPECT_NE(CheckIndicatorsRequest(r).message().find("from"), std::string::npos);
  events::SetTime(r.mutable_from(), Utc("2025-01-01T00:00:00Z"));
  events::SetTime(r.mutable_to(), Utc("2024-01-01T00:00:00Z"));
  EXPECT_NE(CheckIndicatorsRequest(r).message().find("after from"), std::string::npos);
  events::SetTime(r.mutable_to(), Utc("2040-01-01T00:00:00Z"));
  EXPECT_NE(CheckIndicatorsRequest(r).message().find("3660"), std::string::npos);
  events::SetTime(r.mutable_to(), Utc("2026-01-01T00:00:00Z"));
  r.set_group_by(static_cast<v1::ReportGrouping>(99));
  EXPECT_NE(CheckIndicatorsRequest(r).message().find("group_by"), std::string::npos);
  r.set_group_by(v1::GROUP_DISTRICT);
  EXPECT_TRUE(CheckIndicatorsRequest(r).ok());
  EXPECT_FALSE(CheckYear(1999).ok());
  EXPECT_TRUE(CheckYear(2025).ok());
}

}  // namespace
}  // namespace meldpunt::intake::reporting
