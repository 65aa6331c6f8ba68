// The figures on handcrafted cases whose answers are worked out by hand: percentiles, the backlog
// buckets, the on-time figures per clock (an open overdue case counts as late; the four categories
// partition), periods and months by receipt in Brussels time, the 45-day term of complaints to the
// second, "–" for a figure over nothing, the report in Dutch, French and English, and what CSV and
// HTML make of awkward text.
#include "services/intake/reporting.h"

#include <map>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "libs/events/codec.h"
#include "libs/grpc/status.h"
#include "services/intake/reporting_texts.h"

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
  EXPECT_NE(csv.find("beantwoord binnen 45 dagen,1\r\n"), std::string::npos) << csv;
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

// ---- On-time figures per clock ----

void Running(t::Case& c, const std::string& clock, const std::string& due, bool paused = false) {
  t::RunningClock* r = c.add_running_clocks();
  r->set_clock(clock);
  r->set_generation(1);
  events::SetTime(r->mutable_due_at(), Utc(due));
  r->set_paused(paused);
}

const v1::ClockShare& ShareOf(const v1::IndicatorRow& row, const std::string& clock) {
  for (const auto& s : row.within_term())
    if (s.clock() == clock) return s;
  ADD_FAILURE() << "no clock " << clock;
  return v1::ClockShare::default_instance();
}

TEST(OnTime, AnOpenCaseAlreadyOverdueCountsAsLateInTheShare) {
  const absl::Time now = Utc("2025-06-30T12:00:00Z");
  std::vector<t::Case> cases;
  t::Case within = Make("2025-06-01T08:00:00Z", t::REPORT, t::ANSWERED);
  within.add_clocks_within_term("answer");
  cases.push_back(within);
  t::Case late = Make("2025-06-01T09:00:00Z", t::REPORT, t::ANSWERED);
  late.add_clocks_late("answer");
  cases.push_back(late);
  // Open, its due time passed a second before the computation: overdue.
  t::Case overdue = Make("2025-06-02T08:00:00Z", t::REPORT, t::ACCEPTED);
  Running(overdue, "answer", "2025-06-30T11:59:59Z");
  cases.push_back(overdue);
  // Open, due at the very time of the computation: not yet overdue.
  t::Case in_time = Make("2025-06-03T08:00:00Z", t::REPORT, t::ACCEPTED);
  Running(in_time, "answer", "2025-06-30T12:00:00Z");
  cases.push_back(in_time);
  // Paused (waiting for the reporter) with a due time in the past: it stands still, and it had
  // not breached before it did, so it is within the term.
  t::Case paused = Make("2025-06-04T08:00:00Z", t::REPORT, t::WAITING_FOR_REPORTER);
  Running(paused, "answer", "2025-06-10T08:00:00Z", /*paused=*/true);
  cases.push_back(paused);
  // Paused after its breach: overdue.
  t::Case paused_breached = Make("2025-06-05T08:00:00Z", t::REPORT, t::WAITING_FOR_REPORTER);
  Running(paused_breached, "answer", "2025-06-10T08:00:00Z", /*paused=*/true);
  paused_breached.add_breached_clocks("answer");
  cases.push_back(paused_breached);
  // Stopped late once, restarted by a bounce and running within its new term: the running
  // generation counts, the case once; and its term was extended twice.
  t::Case restarted = Make("2025-06-06T08:00:00Z", t::REPORT, t::ROUTED);
  restarted.add_clocks_late("answer");
  Running(restarted, "answer", "2025-07-10T08:00:00Z");
  restarted.add_clocks_extended("answer");
  restarted.add_clocks_extended("answer");
  cases.push_back(restarted);

  // Started without a due time (the fold keeps 0): judged by its breach only, and not breached.
  t::Case no_due = Make("2025-06-07T08:00:00Z", t::REPORT, t::ROUTED);
  no_due.add_running_clocks()->set_clock("answer");
  no_due.mutable_running_clocks(0)->mutable_due_at();
  cases.push_back(no_due);

  const auto r = Indicators(cases, Utc("2025-06-01T00:00:00Z"), Utc("2025-07-01T00:00:00Z"),
                            v1::GROUP_NONE, now);
  const v1::ClockShare& s = ShareOf(r.total(), "answer");
  EXPECT_EQ(s.within_term(), 1);
  EXPECT_EQ(s.late(), 1);
  EXPECT_EQ(s.stopped(), 2);
  EXPECT_EQ(s.open_overdue(), 2);
  EXPECT_EQ(s.open_within_term(), 4);
  EXPECT_EQ(s.extended(), 1);
  // 1 / (2 stopped + 2 open and overdue), not 1 / 2.
  EXPECT_DOUBLE_EQ(s.share(), 0.25);
  EXPECT_EQ(r.total().extensions(), 2);
}

TEST(OnTime, TheFourCategoriesPartitionTheCasesOfEveryRowAndClock) {
  const absl::Time now = Utc("2025-06-30T12:00:00Z");
  const std::vector<std::string> clocks = {"acknowledge", "answer", "resolve"};
  std::vector<t::Case> cases;
  // Every combination, per clock, of: none, within, late, running due before or after now,
  // paused, paused and breached, stopped and running again; in two kinds.
  for (int n = 0; n < 7 * 7 * 7 * 2; ++n) {
    t::Case c =
        Make(absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", Utc("2025-06-01T00:00:00Z") + absl::Minutes(n),
                              absl::UTCTimeZone()),
             n % 2 ? t::REPORT : t::QUESTION, t::ACCEPTED);
    int code = n / 2;
    for (const std::string& clock : clocks) {
      switch (code % 7) {
        case 1:
          c.add_clocks_within_term(clock);
          break;
        case 2:
          c.add_clocks_late(clock);
          break;
        case 3:
          Running(c, clock, "2025-06-20T00:00:00Z");
          break;
        case 4:
          Running(c, clock, "2025-07-20T00:00:00Z");
          c.add_clocks_extended(clock);
          break;
        case 5:
          Running(c, clock, "2025-06-20T00:00:00Z", /*paused=*/true);
          break;
        case 6:
          c.add_clocks_within_term(clock);
          Running(c, clock, "2025-06-20T00:00:00Z", /*paused=*/true);
          c.add_breached_clocks(clock);
          break;
      }
      code /= 7;
    }
    cases.push_back(c);
  }
  const auto r = Indicators(cases, Utc("2025-06-01T00:00:00Z"), Utc("2025-07-01T00:00:00Z"),
                            v1::GROUP_KIND, now);
  ASSERT_EQ(r.rows_size(), 2);
  std::vector<v1::IndicatorRow> rows(r.rows().begin(), r.rows().end());
  rows.push_back(r.total());
  for (const v1::IndicatorRow& row : rows) {
    SCOPED_TRACE(row.group());
    ASSERT_EQ(row.within_term_size(), 3);
    for (const std::string& clock : clocks) {
      // The cases of the row whose clock ran: each in exactly one category.
      int64_t ran = 0, extended = 0;
      for (const t::Case& c : cases) {
        if (!row.group().empty() && t::CaseKind_Name(c.draft().kind()) != row.group()) continue;
        bool any = false;
        for (const auto& x : c.clocks_within_term()) any |= x == clock;
        for (const auto& x : c.clocks_late()) any |= x == clock;
        for (const auto& x : c.running_clocks()) any |= x.clock() == clock;
        ran += any;
        for (const auto& x : c.clocks_extended()) extended += x == clock;
      }
      const v1::ClockShare& s = ShareOf(row, clock);
      EXPECT_EQ(s.within_term() + s.late() + s.open_overdue() + s.open_within_term(), ran) << clock;
      EXPECT_EQ(s.stopped(), s.within_term() + s.late());
      EXPECT_EQ(s.extended(), extended);
      EXPECT_GT(s.open_overdue(), 0);
      EXPECT_DOUBLE_EQ(s.share(), static_cast<double>(s.within_term()) /
                                      static_cast<double>(s.stopped() + s.open_overdue()));
    }
  }
  // Per clock in the total: 2 kinds x 49 combinations of the other clocks per category.
  const v1::ClockShare& answer = ShareOf(r.total(), "answer");
  EXPECT_EQ(answer.within_term(), 98);
  EXPECT_EQ(answer.late(), 98);
  EXPECT_EQ(answer.open_overdue(), 2 * 98);      // due before now; paused and breached
  EXPECT_EQ(answer.open_within_term(), 2 * 98);  // due after now; paused, not breached
}

// ---- Count by receipt ----

t::Case Received(const std::string& received, const std::string& submitted, t::CaseKind kind,
                 t::CaseState state) {
  t::Case c = Make(submitted, kind, state);
  c.set_case_id("MP-r-" + received);
  events::SetTime(c.mutable_received_at(), Utc(received));
  return c;
}

TEST(Receipt, PeriodsAndMonthsCountFromReceiptNotFromRegistration) {
  const absl::Time from = YearStart(2025), to = YearStart(2026);
  EXPECT_EQ(from, Utc("2024-12-31T23:00:00Z"));  // midnight in Brussels
  std::vector<t::Case> cases = {
      // A letter of 31 December 2024 (23:59:59 in Brussels), registered on 2 January: 2024.
      Received("2024-12-31T22:59:59Z", "2025-01-02T09:00:00Z", t::REPORT, t::ROUTED),
      // Received at the first second of 2025, registered in it: 2025.
      Received("2024-12-31T23:00:00Z", "2025-01-03T09:00:00Z", t::REPORT, t::ROUTED),
      // Folded before received_at existed: by its submission, in 2025.
      Make("2025-06-01T09:00:00Z", t::REPORT, t::ROUTED),
      // Received on the last evening of 2025, registered in 2026: 2025.
      Received("2025-12-31T22:59:59Z", "2026-01-05T09:00:00Z", t::REPORT, t::ROUTED),
      // 31 January 23:30 UTC is 1 February in Brussels; registered in March.
      Received("2025-01-31T23:30:00Z", "2025-03-02T09:00:00Z", t::QUESTION, t::ROUTED),
  };
  const std::vector<t::Case> in = ReceivedIn(cases, from, to);
  std::vector<std::string> ids;
  for (const auto& c : in) ids.push_back(c.case_id());
  EXPECT_EQ(ids, (std::vector<std::string>{cases[1].case_id(), cases[2].case_id(),
                                           cases[3].case_id(), cases[4].case_id()}));
  const auto r = Indicators(in, from, to, v1::GROUP_MONTH, Utc("2026-02-01T00:00:00Z"));
  std::map<std::string, int64_t> months;
  for (const auto& row : r.rows()) months[row.group()] = row.received();
  EXPECT_EQ(months, (std::map<std::string, int64_t>{
                        {"2025-01", 1}, {"2025-02", 1}, {"2025-06", 1}, {"2025-12", 1}}));
  // The letter of 2024 is in 2024's report.
  EXPECT_EQ(ReceivedIn(cases, YearStart(2024), from).size(), 1u);
}

TEST(Receipt, HandlingTimesAndTheFortyFiveDaysRunFromReceipt) {
  const absl::Time now = Utc("2025-12-31T00:00:00Z");
  // Received 1 March, registered 5 March, answered 11 March: 10 days, not 6.
  t::Case report = Received("2025-03-01T09:00:00Z", "2025-03-05T09:00:00Z", t::REPORT, t::ANSWERED);
  events::SetTime(report.mutable_answered_at(), Utc("2025-03-11T09:00:00Z"));
  // Open, received 100 days before the computation but registered 20 days before: over 90 days.
  t::Case old = Received("2025-09-22T00:00:00Z", "2025-12-11T00:00:00Z", t::REPORT, t::ROUTED);
  const auto r = Indicators({report, old}, YearStart(2025), YearStart(2026), v1::GROUP_NONE, now);
  EXPECT_DOUBLE_EQ(r.total().handling_days_p50(), 10);
  EXPECT_EQ(r.total().backlog(3).cases(), 1);
  // A complaint received 3 March, registered 10 March, answered 20 April: 48 days from receipt
  // (late), though only 41 from registration.
  t::Case complaint =
      Received("2025-03-03T09:00:00Z", "2025-03-10T09:00:00Z", t::COMPLAINT, t::ANSWERED);
  complaint.set_admissibility(t::ADMISSIBILITY_ADMISSIBLE);
  events::SetTime(complaint.mutable_answered_at(), Utc("2025-04-20T09:00:00Z"));
  const auto c = Complaints({complaint}, 2025, now, *calendar::BusinessCalendar::Create({}));
  EXPECT_EQ(c.answered_within_45_days(), 0);
  EXPECT_EQ(c.answered_later(), 1);
  EXPECT_DOUBLE_EQ(c.average_handling_days(), 48);
}

// ---- Figures over nothing ----

TEST(Export, AFigureOverNothingIsAnEnDashNotZero) {
  const absl::Time now = Utc("2025-12-31T00:00:00Z");
  // One open case: no handling time, no answer, its only clock running within the term.
  t::Case open = Make("2025-12-20T09:00:00Z", t::COMPLAINT, t::ROUTED);
  Running(open, "answer", "2026-02-01T00:00:00Z");
  const auto indicators = Indicators({open}, YearStart(2025), YearStart(2026), v1::GROUP_NONE, now);
  const auto report = Complaints({open}, 2025, now, *calendar::BusinessCalendar::Create({}));
  // The protos keep 0, and the counts beside them say it is over nothing.
  const v1::IndicatorRow& total = indicators.total();
  EXPECT_EQ(total.handled(), 0);
  EXPECT_EQ(total.handling_days_p50(), 0);
  EXPECT_EQ(total.answered(), 0);
  const v1::ClockShare& s = ShareOf(total, "answer");
  EXPECT_EQ(s.stopped() + s.open_overdue(), 0);
  EXPECT_EQ(s.share(), 0);
  EXPECT_EQ(report.answered(), 0);

  const std::string html = Html(indicators, report);
  // The median and p90 tiles, the reopen rate, the share and the average handling: each "–".
  EXPECT_NE(html.find("<div class=\"value\">\u2013</div><div class=\"label\">behandelingstijd, "
                      "mediaan</div>"),
            std::string::npos)
      << html;
  EXPECT_NE(html.find("<div class=\"value\">\u2013</div><div class=\"label\">gemiddelde "
                      "behandelingstijd</div>"),
            std::string::npos);
  EXPECT_NE(html.find("<td>\u2013</td><td>0</td></tr>"), std::string::npos);  // share, extended
  EXPECT_EQ(html.find("0,0 dagen"), std::string::npos);
  EXPECT_EQ(html.find("0\u00a0%"), std::string::npos);

  // CSV: an empty cell for p50, p90, the reopen rate, the share and the average.
  const std::string csv = Csv(indicators, report);
  EXPECT_NE(csv.find("\r\ntotaal,1,0,1,0,1,0,0,0,,,0,0,0,0,,0,0,0,0,0,1,,0\r\n"), std::string::npos)
      << csv;
  EXPECT_NE(csv.find("\r\ngemiddelde behandelingstijd,\r\n"), std::string::npos) << csv;

  // With data, figures again.
  t::Case answered = Make("2025-03-01T09:00:00Z", t::REPORT, t::ANSWERED);
  events::SetTime(answered.mutable_answered_at(), Utc("2025-03-04T21:00:00Z"));
  answered.add_clocks_within_term("answer");
  const auto with = Indicators({answered}, YearStart(2025), YearStart(2026), v1::GROUP_NONE, now);
  const std::string with_html = Html(with, report);
  EXPECT_NE(with_html.find(">3,5 dagen<"), std::string::npos);
  EXPECT_NE(with_html.find("<td>100\u00a0%</td>"), std::string::npos);
  EXPECT_NE(Csv(with, report).find(",3.50,3.50,"), std::string::npos);
}

// ---- Languages ----

struct Rendered {
  std::string html, csv;
};

Rendered Render(Lang lang) {
  const absl::Time now = Utc("2025-12-31T00:00:00Z");
  t::Case inadmissible = Make("2025-05-01T09:00:00Z", t::COMPLAINT, t::INADMISSIBLE);
  inadmissible.set_admissibility(t::ADMISSIBILITY_INADMISSIBLE);
  inadmissible.set_inadmissibility_ground("FACTS_OLDER_THAN_ONE_YEAR");
  inadmissible.mutable_draft()->set_channel(t::LETTER);
  inadmissible.add_clocks_within_term("admissibility");
  t::Case answered = Make("2025-05-02T09:00:00Z", t::COMPLAINT, t::ANSWERED);
  answered.set_admissibility(t::ADMISSIBILITY_ADMISSIBLE);
  answered.set_outcome("PARTLY_FOUNDED");
  events::SetTime(answered.mutable_answered_at(), Utc("2025-05-20T09:00:00Z"));
  t::Case waiting = Make("2025-05-03T09:00:00Z", t::REPORT, t::WAITING_FOR_REPORTER);
  const std::vector<t::Case> cases = {inadmissible, answered, waiting};
  const auto indicators = Indicators(cases, YearStart(2025), YearStart(2026), v1::GROUP_KIND, now);
  const auto report = Complaints(cases, 2025, now, *calendar::BusinessCalendar::Create({}));
  return {Html(indicators, report, lang, OpenByState(cases)), Csv(indicators, report, lang)};
}

void ExpectIn(const std::string& text, const std::vector<std::string>& words) {
  for (const std::string& w : words) EXPECT_NE(text.find(w), std::string::npos) << w;
}

TEST(Languages, DutchByDefault) {
  const Rendered nl = Render(Lang::kNl);
  EXPECT_EQ(Html({}, {}), Html({}, {}, Lang::kNl));
  ExpectIn(nl.html, {"<html lang=\"nl\">", "Meldpunt: klachten en meldingen 2025",
                     "Binnen de termijn", "aandeel binnen de termijn", "open, termijn overschreden",
                     "Ontvangen dossiers per soort", ">klacht<", ">melding<", "ontvankelijk",
                     "deels gegrond", "ongegrond", ">brief<", ">ontvankelijkheid<",
                     "wacht op de melder", "termijnverlengingen"});
  for (const char* id : {"COMPLAINT", "PARTLY_FOUNDED", "LETTER", "WAITING_FOR_REPORTER",
                         "lang=\"en\"", "Within the term", "Cases received"})
    EXPECT_EQ(nl.html.find(id), std::string::npos) << id;
  ExpectIn(nl.csv, {"# indicatoren per soort\r\ngroep,ontvangen,afgesloten,open,", "\r\nklacht,2,",
                    "\r\nmelding,1,", "ontvankelijkheid (binnen de termijn)",
                    "# klachten 2025\r\ncijfer,waarde\r\nklachten ontvangen,2\r\n",
                    "deels gegrond,1\r\n", "kanaal: brief,1\r\n"});
}

TEST(Languages, FrenchAndEnglishOnRequest) {
  const Rendered fr = Render(Lang::kFr);
  ExpectIn(fr.html,
           {"<html lang=\"fr\">", "Meldpunt\u00a0: plaintes et signalements 2025", "Dans le délai",
            "part dans le délai", "en cours, délai dépassé", ">plainte<", ">signalement<",
            "partiellement fondée", "recevables", ">lettre<", "en attente du demandeur"});
  EXPECT_EQ(fr.html.find("Binnen de termijn"), std::string::npos);
  ExpectIn(fr.csv, {"# indicateurs par type\r\ngroupe,reçus,clôturés,", "\r\nplainte,2,"});
  const Rendered en = Render(Lang::kEn);
  ExpectIn(en.html,
           {"<html lang=\"en\">", "Meldpunt: complaints and reports 2025", "Within the term",
            "share within the term", "open, overdue", ">complaint<", ">report<", "partly founded",
            "admissible", ">letter<", "waiting for the reporter"});
  ExpectIn(en.csv, {"# indicators by kind\r\ngroup,received,closed,", "\r\ncomplaint,2,"});
}

TEST(Languages, ALegalGroundIsASentenceInTheExportsAndAnIdInTheApi) {
  const Rendered nl = Render(Lang::kNl), fr = Render(Lang::kFr), en = Render(Lang::kEn);
  ExpectIn(nl.html, {"<td>de feiten dateren van meer dan een jaar vóór de klacht</td><td>1</td>",
                     "<td>de klacht is kennelijk ongegrond</td><td>0</td>"});
  ExpectIn(fr.html, {"<td>les faits datent de plus d'un an avant la plainte</td><td>1</td>"});
  ExpectIn(en.html,
           {"<td>the facts date from more than a year before the complaint</td><td>1</td>"});
  ExpectIn(nl.csv, {"onontvankelijk: de feiten dateren van meer dan een jaar vóór de klacht,1"});
  for (const Rendered* r : {&nl, &fr, &en}) {
    for (const char* id : {"FACTS_OLDER_THAN_ONE_YEAR", "facts_older_than_one_year"}) {
      EXPECT_EQ(r->html.find(id), std::string::npos) << id;
      EXPECT_EQ(r->csv.find(id), std::string::npos) << id;
    }
  }
  // The API keeps the ids as keys.
  t::Case c = Make("2025-05-01T09:00:00Z", t::COMPLAINT, t::INADMISSIBLE);
  c.set_admissibility(t::ADMISSIBILITY_INADMISSIBLE);
  c.set_inadmissibility_ground("FACTS_OLDER_THAN_ONE_YEAR");
  const auto report =
      Complaints({c}, 2025, Utc("2025-12-31T00:00:00Z"), *calendar::BusinessCalendar::Create({}));
  bool found = false;
  for (const auto& g : report.inadmissible_by_ground())
    found |= g.key() == "FACTS_OLDER_THAN_ONE_YEAR" && g.count() == 1;
  EXPECT_TRUE(found);
}

TEST(Languages, EveryTextAndEveryKindStateChannelAndGroundHasWordsInEachLanguage) {
  for (Lang lang : {Lang::kNl, Lang::kFr, Lang::kEn}) {
    std::set<std::string> seen;
    for (int i = 0; i < static_cast<int>(T::kCount); ++i) {
      const std::string& text = Text(lang, static_cast<T>(i));
      EXPECT_FALSE(text.empty()) << i;
      EXPECT_NE(text, "?") << "text " << i << " is missing";
    }
    for (int k = 1; t::CaseKind_IsValid(k); ++k)
      EXPECT_NE(KindName(lang, static_cast<t::CaseKind>(k)),
                t::CaseKind_Name(static_cast<t::CaseKind>(k)));
    for (int s = 1; t::CaseState_IsValid(s); ++s)
      EXPECT_NE(StateName(lang, static_cast<t::CaseState>(s)),
                t::CaseState_Name(static_cast<t::CaseState>(s)));
    for (int c = 1; t::Channel_IsValid(c); ++c)
      EXPECT_NE(ChannelName(lang, static_cast<t::Channel>(c)),
                t::Channel_Name(static_cast<t::Channel>(c)));
    for (int g = 1; events::v1::InadmissibilityGround_IsValid(g); ++g) {
      const std::string id =
          events::v1::InadmissibilityGround_Name(static_cast<events::v1::InadmissibilityGround>(g));
      const std::string words = GroundText(lang, id);
      EXPECT_NE(words, id);
      EXPECT_TRUE(seen.insert(words).second) << words;  // no two grounds read the same
    }
  }
  EXPECT_EQ(Text(Lang::kNl, T::kNoData), "\u2013");
  EXPECT_EQ(MonthName(Lang::kNl, "2025-03"), "maart 2025");
  EXPECT_EQ(MonthName(Lang::kFr, "2025-08"), "août 2025");
  EXPECT_EQ(ClockName(Lang::kFr, "answer"), "réponse");
  EXPECT_EQ(ClockName(Lang::kFr, "custom-clock"), "custom-clock");
}

TEST(Requests, AnUnknownLanguageIsRefusedNamingTheField) {
  EXPECT_EQ(*LanguageOf(t::LANGUAGE_UNSPECIFIED), Lang::kNl);
  EXPECT_EQ(*LanguageOf(t::NL), Lang::kNl);
  EXPECT_EQ(*LanguageOf(t::FR), Lang::kFr);
  EXPECT_EQ(*LanguageOf(t::EN), Lang::kEn);
  const absl::StatusOr<Lang> bad = LanguageOf(static_cast<t::Language>(9));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(grpc_util::ErrorField(bad.status()), "language");
}

}  // namespace
}  // namespace meldpunt::intake::reporting
