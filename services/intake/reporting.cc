#include "services/intake/reporting.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/substitute.h"
#include "absl/time/civil_time.h"
#include "libs/domain/case_state.h"
#include "libs/events/codec.h"
#include "libs/grpc/status.h"
#include "meldpunt/events/v1/events.pb.h"

namespace meldpunt::intake::reporting {
namespace {

namespace t = ::meldpunt::types::v1;
namespace ev = ::meldpunt::events::v1;

constexpr absl::Duration kMaxSpan = absl::Hours(24 * 3660);

double Days(absl::Duration d) { return absl::ToDoubleHours(d) / 24.0; }

std::string GroupOf(const t::Case& c, v1::ReportGrouping group_by) {
  switch (group_by) {
    case v1::GROUP_KIND:
      return t::CaseKind_Name(c.draft().kind());
    case v1::GROUP_CATEGORY:
      return c.draft().category();
    case v1::GROUP_DEPARTMENT:
      return c.department();
    case v1::GROUP_CHANNEL:
      return t::Channel_Name(c.draft().channel());
    case v1::GROUP_DISTRICT:
      return c.draft().location().district();
    case v1::GROUP_MONTH:
      return absl::FormatCivilTime(absl::ToCivilMonth(ReceivedAt(c), calendar::BrusselsTimeZone()))
          .substr(0, 7);
    default:
      return "";
  }
}

bool Contains(const google::protobuf::RepeatedPtrField<std::string>& list,
              const std::string& value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

// One clock's counts in a row: each case whose clock ran lands in exactly one of the first four.
struct ClockCounts {
  int64_t within = 0, late = 0, open_overdue = 0, open_within = 0, extended = 0;
};

// The sums of one row while the cases are walked.
struct Sums {
  int64_t received = 0, closed = 0, open = 0, bounces = 0, reroutes = 0, reopened = 0, answered = 0,
          duplicates = 0, extensions = 0;
  int64_t backlog[4] = {0, 0, 0, 0};
  std::map<std::string, ClockCounts> clocks;
  std::vector<double> handling_days;

  void AddClocks(const t::Case& c, absl::Time now) {
    // A clock restarted (a bounce, a reassignment) is both stopped and running: the running
    // generation is the one that counts now.
    std::map<std::string, int64_t ClockCounts::*> where;
    for (const std::string& clock : c.clocks_within_term()) where[clock] = &ClockCounts::within;
    for (const std::string& clock : c.clocks_late()) where[clock] = &ClockCounts::late;
    for (const t::RunningClock& r : c.running_clocks()) {
      where[r.clock()] = Overdue(r, c.breached_clocks(), now) ? &ClockCounts::open_overdue
                                                              : &ClockCounts::open_within;
    }
    for (const auto& [clock, field] : where) {
      ClockCounts& counts = clocks[clock];
      ++(counts.*field);
      if (Contains(c.clocks_extended(), clock)) ++counts.extended;
    }
    extensions += c.clocks_extended_size();
  }

  void Add(const t::Case& c, absl::Time now) {
    ++received;
    const absl::Time received_at = ReceivedAt(c);
    if (domain::IsOpen(c.state())) {
      ++open;
      const double age = Days(now - received_at);
      backlog[age <= 7 ? 0 : age <= 30 ? 1 : age <= 90 ? 2 : 3]++;
    } else {
      ++closed;
    }
    AddClocks(c, now);
    if (c.has_answered_at()) {
      ++answered;
      handling_days.push_back(Days(events::GetTime(c.answered_at()) - received_at));
    } else if (c.has_closed_at()) {
      handling_days.push_back(Days(events::GetTime(c.closed_at()) - received_at));
    }
    bounces += c.bounced_departments_size();
    reroutes += std::max(0, c.route_hops() - 1);
    if (c.reopen_count() > 0) ++reopened;
    if (!c.duplicate_of().empty() || c.state() == t::MERGED) ++duplicates;
  }

  v1::IndicatorRow Row(const std::string& group) {
    v1::IndicatorRow row;
    row.set_group(group);
    row.set_received(received);
    row.set_closed(closed);
    row.set_open(open);
    for (int i = 0; i < 4; ++i) {
      auto* b = row.add_backlog();
      b->set_bucket(kBacklogBuckets[i]);
      b->set_cases(backlog[i]);
    }
    for (const auto& [clock, counts] : clocks) {
      auto* share = row.add_within_term();
      share->set_clock(clock);
      share->set_stopped(counts.within + counts.late);
      share->set_within_term(counts.within);
      share->set_late(counts.late);
      share->set_open_overdue(counts.open_overdue);
      share->set_open_within_term(counts.open_within);
      share->set_extended(counts.extended);
      const int64_t judged = counts.within + counts.late + counts.open_overdue;
      share->set_share(judged == 0 ? 0 : static_cast<double>(counts.within) / judged);
    }
    row.set_handled(static_cast<int64_t>(handling_days.size()));
    row.set_handling_days_p50(Percentile(handling_days, 0.5));
    row.set_handling_days_p90(Percentile(handling_days, 0.9));
    row.set_bounces(bounces);
    row.set_reroutes(reroutes);
    row.set_reopened(reopened);
    row.set_answered(answered);
    row.set_reopen_rate(answered == 0 ? 0 : static_cast<double>(reopened) / answered);
    row.set_duplicates(duplicates);
    row.set_extensions(extensions);
    return row;
  }
};

void Count(std::map<std::string, int64_t>& counts, const std::string& key) { counts[key]++; }

void Fill(const std::map<std::string, int64_t>& counts,
          google::protobuf::RepeatedPtrField<v1::CountBy>* out) {
  for (const auto& [key, count] : counts) {
    auto* c = out->Add();
    c->set_key(key);
    c->set_count(count);
  }
}

// ---- Words and figures of the exports ----

// A group's value in words: kinds and channels in the reader's language, months named in HTML
// ("maart 2025"; CSV keeps "2025-03", which sorts); districts as ids. Categories and departments
// come here named already (the catalogue's labels: ReportingService::ExportReport).
std::string GroupLabel(const std::string& group, v1::ReportGrouping group_by, Lang lang,
                       bool html) {
  if (group.empty()) return Text(lang, T::kNone);
  if (group_by == v1::GROUP_KIND) {
    t::CaseKind kind;
    if (t::CaseKind_Parse(group, &kind)) return KindName(lang, kind);
  }
  if (group_by == v1::GROUP_CHANNEL) {
    t::Channel channel;
    if (t::Channel_Parse(group, &channel)) return ChannelName(lang, channel);
  }
  if (group_by == v1::GROUP_MONTH && html) return MonthName(lang, group);
  return group;
}

std::string ChannelLabel(const std::string& key, Lang lang) {
  t::Channel channel;
  return t::Channel_Parse(key, &channel) ? ChannelName(lang, channel) : key;
}

// The share of a clock is over within + late + open_overdue: none of those, nothing to show.
bool HasShare(const v1::ClockShare& s) { return s.stopped() + s.open_overdue() > 0; }

// ---- CSV ----

std::string Field(const std::string& text) {
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  return quoted + "\"";
}

// A figure with a decimal point, or an empty cell when it is over nothing.
std::string Number(double v, bool has_data = true) {
  return has_data ? absl::StrFormat("%.2f", v) : "";
}

// ---- HTML ----

std::string Escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

struct Bar {
  std::string label;
  double value = 0;
  std::string text;  // what is written at the end of the bar
};

struct Chart {
  std::string title;
  std::vector<Bar> bars;
  std::string colour;
  double max = 0;  // the value of a full bar; 0: the largest value
};

constexpr int kLabelWidth = 210, kChartWidth = 400, kRow = 26, kTop = 34;

std::string SvgOpen(const std::string& title, int height) {
  return absl::StrCat("<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" width=\"",
                      kLabelWidth + kChartWidth + 110, "\" height=\"", height, "\" aria-label=\"",
                      Escape(title), "\">", "<text x=\"0\" y=\"20\" class=\"chart-title\">",
                      Escape(title), "</text>");
}

std::string RowLabel(int y, const std::string& label) {
  return absl::StrCat("<text x=\"", kLabelWidth - 8, "\" y=\"", y + 17, "\" text-anchor=\"end\">",
                      Escape(label), "</text>");
}

// A horizontal bar chart, one bar per row, scaled to the largest value (or to `max` if > 0).
std::string BarChart(const Chart& chart, Lang lang) {
  const int height = kTop + kRow * static_cast<int>(std::max<size_t>(chart.bars.size(), 1)) + 10;
  double max = chart.max;
  for (const Bar& b : chart.bars) max = std::max(max, b.value);
  std::string svg = SvgOpen(chart.title, height);
  if (chart.bars.empty()) {
    absl::StrAppend(&svg, "<text x=\"0\" y=\"", kTop + 16, "\" class=\"none\">",
                    Escape(Text(lang, T::kNoCases)), "</text>");
  }
  for (size_t i = 0; i < chart.bars.size(); ++i) {
    const int y = kTop + kRow * static_cast<int>(i);
    const double w = max <= 0 ? 0 : kChartWidth * chart.bars[i].value / max;
    absl::StrAppend(&svg, RowLabel(y, chart.bars[i].label), "<rect x=\"", kLabelWidth, "\" y=\"",
                    y + 4, "\" width=\"", absl::StrFormat("%.1f", w),
                    "\" height=\"18\" rx=\"2\" fill=\"", chart.colour, "\"/>", "<text x=\"",
                    absl::StrFormat("%.1f", kLabelWidth + w + 6), "\" y=\"", y + 17, "\">",
                    Escape(chart.bars[i].text), "</text>");
  }
  return svg + "</svg>";
}

// The four categories of the on-time figures, in the order they are stacked, with their colours.
struct Category {
  T label;
  int64_t (v1::ClockShare::*count)() const;
  const char* colour;
};
constexpr Category kCategories[] = {
    {T::kWithinTerm, &v1::ClockShare::within_term, "#2da44e"},
    {T::kLate, &v1::ClockShare::late, "#cf222e"},
    {T::kOpenOverdue, &v1::ClockShare::open_overdue, "#fb8f44"},
    {T::kOpenWithinTerm, &v1::ClockShare::open_within_term, "#8c959f"},
};

std::string ShareText(const v1::ClockShare& s, Lang lang) {
  return HasShare(s) ? Percent(lang, s.share()) : Text(lang, T::kNoData);
}

// One stacked bar per clock: within the term, late, open and overdue, open within the term; the
// share within the term written after it.
std::string OnTimeChart(const v1::IndicatorRow& total, Lang lang) {
  const int legend = 24;
  const int rows = std::max(total.within_term_size(), 1);
  const int height = kTop + legend + kRow * rows + 10;
  std::string svg = SvgOpen(Text(lang, T::kOnTimeChart), height);
  int x = 0;
  for (const Category& c : kCategories) {
    const std::string& label = Text(lang, c.label);
    absl::StrAppend(&svg, "<rect x=\"", x, "\" y=\"", kTop, "\" width=\"12\" height=\"12\" fill=\"",
                    c.colour, "\"/><text x=\"", x + 16, "\" y=\"", kTop + 11, "\">", Escape(label),
                    "</text>");
    x += 16 + 7 * static_cast<int>(label.size()) + 14;
  }
  if (total.within_term().empty()) {
    absl::StrAppend(&svg, "<text x=\"0\" y=\"", kTop + legend + 16, "\" class=\"none\">",
                    Escape(Text(lang, T::kNoCases)), "</text>");
  }
  int64_t max = 0;
  for (const auto& s : total.within_term()) {
    max = std::max(max, s.within_term() + s.late() + s.open_overdue() + s.open_within_term());
  }
  for (int i = 0; i < total.within_term_size(); ++i) {
    const v1::ClockShare& s = total.within_term(i);
    const int y = kTop + legend + kRow * i;
    absl::StrAppend(&svg, RowLabel(y, ClockName(lang, s.clock())));
    double at = kLabelWidth;
    for (const Category& c : kCategories) {
      const double w = max == 0 ? 0 : kChartWidth * static_cast<double>((s.*c.count)()) / max;
      if (w <= 0) continue;
      absl::StrAppend(&svg, "<rect x=\"", absl::StrFormat("%.1f", at), "\" y=\"", y + 4,
                      "\" width=\"", absl::StrFormat("%.1f", w), "\" height=\"18\" fill=\"",
                      c.colour, "\"/>");
      at += w;
    }
    absl::StrAppend(&svg, "<text x=\"", absl::StrFormat("%.1f", at + 6), "\" y=\"", y + 17, "\">",
                    Escape(ShareText(s, lang)), "</text>");
  }
  return svg + "</svg>";
}

// The on-time figures as a table: a row per clock, the four categories, the share, the extended.
std::string OnTimeTable(const v1::IndicatorRow& total, Lang lang) {
  std::string html =
      absl::StrCat("<table class=\"ontime\"><tr><th>", Escape(Text(lang, T::kClock)), "</th>");
  for (const Category& c : kCategories) {
    absl::StrAppend(&html, "<th>", Escape(Text(lang, c.label)), "</th>");
  }
  absl::StrAppend(&html, "<th>", Escape(Text(lang, T::kShare)), "</th><th>",
                  Escape(Text(lang, T::kExtended)), "</th></tr>");
  for (const auto& s : total.within_term()) {
    absl::StrAppend(&html, "<tr><td>", Escape(ClockName(lang, s.clock())), "</td>");
    for (const Category& c : kCategories) absl::StrAppend(&html, "<td>", (s.*c.count)(), "</td>");
    absl::StrAppend(&html, "<td>", Escape(ShareText(s, lang)), "</td><td>", s.extended(),
                    "</td></tr>");
  }
  return html + "</table>";
}

std::string Tile(const std::string& label, const std::string& value) {
  return absl::StrCat("<div class=\"tile\"><div class=\"value\">", Escape(value),
                      "</div><div class=\"label\">", Escape(label), "</div></div>");
}

// Days with one decimal, or "–" over nothing.
std::string DaysText(double days, bool has_data, Lang lang) {
  if (!has_data) return Text(lang, T::kNoData);
  return absl::Substitute(Text(lang, T::kDays), Decimal(lang, days, 1));
}

}  // namespace

absl::Status CheckIndicatorsRequest(const v1::GetIndicatorsRequest& request) {
  if (!request.has_from()) return grpc_util::FieldError("from", "is required");
  if (!request.has_to()) return grpc_util::FieldError("to", "is required");
  const absl::Time from = events::GetTime(request.from());
  const absl::Time to = events::GetTime(request.to());
  if (from >= to) return grpc_util::FieldError("to", "must be after from");
  if (to - from > kMaxSpan) return grpc_util::FieldError("to", "at most 3660 days after from");
  if (!v1::ReportGrouping_IsValid(request.group_by())) {
    return grpc_util::FieldError("group_by", "is not a known grouping");
  }
  return absl::OkStatus();
}

absl::Status CheckYear(int year, const std::string& field) {
  if (year < 2000 || year > 2100) return grpc_util::FieldError(field, "must be 2000-2100");
  return absl::OkStatus();
}

absl::Time YearStart(int year) {
  return calendar::BrusselsTimeZone().At(absl::CivilSecond(year, 1, 1, 0, 0, 0)).pre;
}

double Percentile(std::vector<double>& values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t rank = static_cast<size_t>(std::ceil(p * static_cast<double>(values.size())));
  return values[std::min(values.size(), std::max<size_t>(rank, 1)) - 1];
}

v1::GetIndicatorsResponse Indicators(const std::vector<t::Case>& cases, absl::Time from,
                                     absl::Time to, v1::ReportGrouping group_by, absl::Time now) {
  std::map<std::string, Sums> groups;
  Sums total;
  for (const t::Case& c : cases) {
    total.Add(c, now);
    if (group_by != v1::GROUP_NONE) groups[GroupOf(c, group_by)].Add(c, now);
  }
  v1::GetIndicatorsResponse response;
  events::SetTime(response.mutable_from(), from);
  events::SetTime(response.mutable_to(), to);
  response.set_group_by(group_by);
  for (auto& [group, sums] : groups) *response.add_rows() = sums.Row(group);
  *response.mutable_total() = total.Row("");
  events::SetTime(response.mutable_computed_at(), now);
  return response;
}

v1::ComplaintsReport Complaints(const std::vector<t::Case>& cases, int year, absl::Time now,
                                const calendar::BusinessCalendar& calendar) {
  v1::ComplaintsReport r;
  r.set_year(year);
  std::map<std::string, int64_t> grounds, norms, channels, media;
  for (int g = 1; ev::InadmissibilityGround_IsValid(g); ++g) {
    grounds[ev::InadmissibilityGround_Name(static_cast<ev::InadmissibilityGround>(g))] = 0;
  }
  double handling = 0;
  for (const t::Case& c : cases) {
    if (c.draft().kind() != t::COMPLAINT) continue;
    r.set_received(r.received() + 1);
    if (domain::IsOpen(c.state())) r.set_open(r.open() + 1);
    switch (c.admissibility()) {
      case t::ADMISSIBILITY_ADMISSIBLE:
        r.set_admissible(r.admissible() + 1);
        break;
      case t::ADMISSIBILITY_INADMISSIBLE:
        r.set_inadmissible(r.inadmissible() + 1);
        Count(grounds, c.inadmissibility_ground());
        break;
      default:
        r.set_admissibility_pending(r.admissibility_pending() + 1);
    }
    Count(channels, t::Channel_Name(c.draft().channel()));
    Count(media, c.submitting_system());
    if (!c.has_answered_at()) continue;
    r.set_answered(r.answered() + 1);
    if (c.outcome() == "FOUNDED") r.set_founded(r.founded() + 1);
    if (c.outcome() == "PARTLY_FOUNDED") r.set_partly_founded(r.partly_founded() + 1);
    if (c.outcome() == "UNFOUNDED") r.set_unfounded(r.unfounded() + 1);
    if (!c.ombudsnorm().empty()) Count(norms, c.ombudsnorm());
    // The 45 days run from receipt, as the law counts them.
    const absl::Time received = ReceivedAt(c);
    const absl::Time answered = events::GetTime(c.answered_at());
    if (answered <= calendar.AddCalendarDays(received, 45)) {
      r.set_answered_within_45_days(r.answered_within_45_days() + 1);
    } else {
      r.set_answered_later(r.answered_later() + 1);
    }
    handling += Days(answered - received);
  }
  r.set_average_handling_days(r.answered() == 0 ? 0 : handling / r.answered());
  Fill(grounds, r.mutable_inadmissible_by_ground());
  Fill(norms, r.mutable_ombudsnormen());
  Fill(channels, r.mutable_by_channel());
  Fill(media, r.mutable_by_medium());
  events::SetTime(r.mutable_computed_at(), now);
  return r;
}

absl::Time ReceivedAt(const t::Case& c) {
  return events::GetTime(c.has_received_at() ? c.received_at() : c.submitted_at());
}

std::vector<t::Case> ReceivedIn(std::vector<t::Case> cases, absl::Time from, absl::Time to) {
  cases.erase(std::remove_if(cases.begin(), cases.end(),
                             [&](const t::Case& c) {
                               const absl::Time received = ReceivedAt(c);
                               return received < from || received >= to;
                             }),
              cases.end());
  return cases;
}

bool Overdue(const t::RunningClock& clock,
             const google::protobuf::RepeatedPtrField<std::string>& breached, absl::Time now) {
  // The fold copies a ClockStarted's due time as it came: an event without one gives 0.
  const bool due_known =
      clock.has_due_at() && (clock.due_at().seconds() != 0 || clock.due_at().nanos() != 0);
  if (clock.paused() || !due_known) return Contains(breached, clock.clock());
  return events::GetTime(clock.due_at()) < now;
}

std::map<t::CaseState, int64_t> OpenByState(const std::vector<t::Case>& cases) {
  std::map<t::CaseState, int64_t> states;
  for (const t::Case& c : cases) {
    if (domain::IsOpen(c.state())) states[c.state()]++;
  }
  return states;
}

std::string Csv(const v1::GetIndicatorsResponse& indicators, const v1::ComplaintsReport& r,
                Lang lang) {
  std::vector<std::string> clocks;
  for (const auto& share : indicators.total().within_term()) clocks.push_back(share.clock());
  std::vector<std::string> header;
  for (T column :
       {T::kColGroup, T::kColReceived, T::kColClosed, T::kColOpen, T::kColBacklog0to7,
        T::kColBacklog8to30, T::kColBacklog31to90, T::kColBacklogOver90, T::kColHandled,
        T::kColMedianDays, T::kColP90Days, T::kColBounces, T::kColReroutes, T::kColAnswered,
        T::kColReopened, T::kColReopenRate, T::kColDuplicates, T::kColExtensions}) {
    header.push_back(Field(Text(lang, column)));
  }
  for (const std::string& clock : clocks) {
    for (T column :
         {T::kWithinTerm, T::kLate, T::kOpenOverdue, T::kOpenWithinTerm, T::kShare, T::kExtended}) {
      header.push_back(Field(absl::StrCat(ClockName(lang, clock), " (", Text(lang, column), ")")));
    }
  }
  std::string out = absl::StrCat(Field(absl::Substitute(Text(lang, T::kCsvIndicators),
                                                        GroupingName(lang, indicators.group_by()))),
                                 "\r\n", absl::StrJoin(header, ","), "\r\n");
  auto line = [&](const v1::IndicatorRow& row, const std::string& group) {
    std::vector<std::string> f = {Field(group), absl::StrCat(row.received()),
                                  absl::StrCat(row.closed()), absl::StrCat(row.open())};
    for (const auto& b : row.backlog()) f.push_back(absl::StrCat(b.cases()));
    const bool handled = row.handled() > 0;
    f.insert(f.end(), {absl::StrCat(row.handled()), Number(row.handling_days_p50(), handled),
                       Number(row.handling_days_p90(), handled), absl::StrCat(row.bounces()),
                       absl::StrCat(row.reroutes()), absl::StrCat(row.answered()),
                       absl::StrCat(row.reopened()), Number(row.reopen_rate(), row.answered() > 0),
                       absl::StrCat(row.duplicates()), absl::StrCat(row.extensions())});
    for (const std::string& clock : clocks) {
      v1::ClockShare share;  // a clock that did not run in this row: zeros, no share
      for (const auto& s : row.within_term()) {
        if (s.clock() == clock) share = s;
      }
      f.insert(f.end(), {absl::StrCat(share.within_term()), absl::StrCat(share.late()),
                         absl::StrCat(share.open_overdue()), absl::StrCat(share.open_within_term()),
                         Number(share.share(), HasShare(share)), absl::StrCat(share.extended())});
    }
    absl::StrAppend(&out, absl::StrJoin(f, ","), "\r\n");
  };
  for (const auto& row : indicators.rows()) {
    line(row, GroupLabel(row.group(), indicators.group_by(), lang, /*html=*/false));
  }
  line(indicators.total(), Text(lang, T::kTotal));
  absl::StrAppend(&out, "\r\n", Field(absl::Substitute(Text(lang, T::kCsvComplaints), r.year())),
                  "\r\n", Field(Text(lang, T::kCsvFigure)), ",", Field(Text(lang, T::kCsvValue)),
                  "\r\n");
  const std::pair<T, int64_t> figures[] = {{T::kComplaintsReceived, r.received()},
                                           {T::kAdmissibilityPending, r.admissibility_pending()},
                                           {T::kAdmissible, r.admissible()},
                                           {T::kInadmissible, r.inadmissible()},
                                           {T::kColAnswered, r.answered()},
                                           {T::kAnsweredWithin45, r.answered_within_45_days()},
                                           {T::kAnsweredLater, r.answered_later()},
                                           {T::kCsvOpen, r.open()}};
  for (const auto& [name, value] : figures) {
    absl::StrAppend(&out, Field(Text(lang, name)), ",", value, "\r\n");
  }
  const std::pair<ev::ComplaintOutcome, int64_t> outcomes[] = {
      {ev::FOUNDED, r.founded()},
      {ev::PARTLY_FOUNDED, r.partly_founded()},
      {ev::UNFOUNDED, r.unfounded()}};
  for (const auto& [outcome, value] : outcomes) {
    absl::StrAppend(&out, Field(OutcomeName(lang, outcome)), ",", value, "\r\n");
  }
  absl::StrAppend(&out, Field(Text(lang, T::kAverageHandling)), ",",
                  Number(r.average_handling_days(), r.answered() > 0), "\r\n");
  for (const auto& g : r.inadmissible_by_ground()) {
    absl::StrAppend(&out,
                    Field(absl::Substitute(Text(lang, T::kCsvGround), GroundText(lang, g.key()))),
                    ",", g.count(), "\r\n");
  }
  for (const auto& n : r.ombudsnormen()) {
    absl::StrAppend(&out, Field(absl::Substitute(Text(lang, T::kCsvOmbudsnorm), n.key())), ",",
                    n.count(), "\r\n");
  }
  for (const auto& c : r.by_channel()) {
    absl::StrAppend(
        &out, Field(absl::Substitute(Text(lang, T::kCsvChannel), ChannelLabel(c.key(), lang))), ",",
        c.count(), "\r\n");
  }
  for (const auto& m : r.by_medium()) {
    absl::StrAppend(&out, Field(absl::Substitute(Text(lang, T::kCsvMedium), m.key())), ",",
                    m.count(), "\r\n");
  }
  return out;
}

std::string Html(const v1::GetIndicatorsResponse& indicators, const v1::ComplaintsReport& r,
                 Lang lang, const std::map<t::CaseState, int64_t>& open_by_state) {
  const v1::IndicatorRow& total = indicators.total();
  const std::string nodata = Text(lang, T::kNoData);
  std::string html = absl::StrCat(
      "<!DOCTYPE html><html lang=\"", LangCode(lang), "\"><head><meta charset=\"utf-8\">",
      "<title>", Escape(absl::Substitute(Text(lang, T::kTitle), r.year())), "</title><style>",
      "body{font-family:'DejaVu Sans',Arial,sans-serif;color:#1f2328;margin:32px;max-width:1000px}",
      "h1{font-size:26px;margin:0 0 4px}h2{font-size:19px;margin:28px 0 8px;border-bottom:2px "
      "solid #d0d7de;padding-bottom:4px}",
      ".sub{color:#57606a;margin-bottom:18px}.tiles{display:flex;flex-wrap:wrap;gap:12px}",
      ".tile{border:1px solid #d0d7de;border-radius:6px;padding:10px 14px;min-width:130px}",
      ".value{font-size:24px;font-weight:bold}.label{color:#57606a;font-size:13px}",
      "svg text{font-size:13px;fill:#1f2328}.chart-title{font-size:15px;font-weight:bold}",
      ".note{color:#57606a;font-size:13px;max-width:760px}",
      "table{border-collapse:collapse;font-size:12px;margin-top:8px}th,td{border:1px solid "
      "#d0d7de;padding:3px 6px;text-align:right}th:first-child,td:first-child{text-align:left}",
      "th{background:#f6f8fa}@media print{body{margin:12mm}}</style></head><body>", "<h1>",
      Escape(absl::Substitute(Text(lang, T::kTitle), r.year())), "</h1>", "<div class=\"sub\">",
      Escape(absl::Substitute(Text(lang, T::kSubtitle), r.year(),
                              absl::FormatTime("%Y-%m-%d %H:%M", events::GetTime(r.computed_at()),
                                               calendar::BrusselsTimeZone()))),
      "</div>");
  // Summary tiles.
  const bool handled = total.handled() > 0;
  html += "<div class=\"tiles\">";
  html += Tile(Text(lang, T::kTileReceived), absl::StrCat(total.received()));
  html += Tile(Text(lang, T::kTileClosed), absl::StrCat(total.closed()));
  html += Tile(Text(lang, T::kTileOpen), absl::StrCat(total.open()));
  html += Tile(Text(lang, T::kTileMedian), DaysText(total.handling_days_p50(), handled, lang));
  html += Tile(Text(lang, T::kTileP90), DaysText(total.handling_days_p90(), handled, lang));
  html += Tile(Text(lang, T::kTileReopened),
               total.answered() > 0 ? Percent(lang, total.reopen_rate()) : nodata);
  html += Tile(Text(lang, T::kColExtensions), absl::StrCat(total.extensions()));
  html += "</div>";
  // Received per group.
  std::vector<Bar> received;
  for (const auto& row : indicators.rows()) {
    received.push_back({GroupLabel(row.group(), indicators.group_by(), lang, /*html=*/true),
                        static_cast<double>(row.received()), absl::StrCat(row.received())});
  }
  html +=
      absl::StrCat("<h2>",
                   Escape(absl::Substitute(Text(lang, T::kReceivedBy),
                                           GroupingName(lang, indicators.group_by()))),
                   "</h2>", BarChart({Text(lang, T::kReceivedChart), received, "#1f6feb"}, lang));
  // Within the term, per clock: the four categories, the share and the extensions.
  html += absl::StrCat("<h2>", Escape(Text(lang, T::kOnTime)), "</h2>", OnTimeChart(total, lang),
                       OnTimeTable(total, lang), "<p class=\"note\">",
                       Escape(Text(lang, T::kOnTimeNote)), "</p>");
  // Backlog.
  std::vector<Bar> backlog;
  const T buckets[] = {T::kColBacklog0to7, T::kColBacklog8to30, T::kColBacklog31to90,
                       T::kColBacklogOver90};
  for (int i = 0; i < total.backlog_size() && i < 4; ++i) {
    const auto& b = total.backlog(i);
    backlog.push_back(
        {Text(lang, buckets[i]), static_cast<double>(b.cases()), absl::StrCat(b.cases())});
  }
  html += absl::StrCat("<h2>", Escape(Text(lang, T::kBacklog)), "</h2>",
                       BarChart({Text(lang, T::kBacklogChart), backlog, "#d29922"}, lang));
  if (!open_by_state.empty()) {
    std::vector<Bar> states;
    for (const auto& [state, count] : open_by_state) {
      states.push_back({StateName(lang, state), static_cast<double>(count), absl::StrCat(count)});
    }
    html += BarChart({Text(lang, T::kOpenByStateChart), states, "#d29922"}, lang);
  }
  // Complaints.
  html += absl::StrCat("<h2>", Escape(absl::Substitute(Text(lang, T::kComplaints), r.year())),
                       "</h2><div class=\"tiles\">");
  html += Tile(Text(lang, T::kComplaintsReceived), absl::StrCat(r.received()));
  html += Tile(Text(lang, T::kAdmissible), absl::StrCat(r.admissible()));
  html += Tile(Text(lang, T::kInadmissible), absl::StrCat(r.inadmissible()));
  html += Tile(Text(lang, T::kAdmissibilityPending), absl::StrCat(r.admissibility_pending()));
  html += Tile(Text(lang, T::kAnsweredWithin45), absl::StrCat(r.answered_within_45_days()));
  html += Tile(Text(lang, T::kAnsweredLater), absl::StrCat(r.answered_later()));
  html += Tile(Text(lang, T::kAverageHandling),
               DaysText(r.average_handling_days(), r.answered() > 0, lang));
  html += "</div>";
  std::vector<Bar> outcomes;
  for (const auto& [outcome, count] :
       {std::pair{ev::FOUNDED, r.founded()}, std::pair{ev::PARTLY_FOUNDED, r.partly_founded()},
        std::pair{ev::UNFOUNDED, r.unfounded()}}) {
    outcomes.push_back(
        {OutcomeName(lang, outcome), static_cast<double>(count), absl::StrCat(count)});
  }
  html += BarChart({Text(lang, T::kOutcomeChart), outcomes, "#8250df"}, lang);
  // The legal grounds are sentences: a table reads them better than a chart's labels.
  html +=
      absl::StrCat("<h3>", Escape(Text(lang, T::kGroundsChart)), "</h3><table class=\"grounds\">");
  for (const auto& g : r.inadmissible_by_ground()) {
    absl::StrAppend(&html, "<tr><td>", Escape(GroundText(lang, g.key())), "</td><td>", g.count(),
                    "</td></tr>");
  }
  html += "</table>";
  std::vector<Bar> norms;
  for (const auto& n : r.ombudsnormen()) {
    norms.push_back({n.key(), static_cast<double>(n.count()), absl::StrCat(n.count())});
  }
  html += BarChart({Text(lang, T::kOmbudsnormen), norms, "#0969da"}, lang);
  std::vector<Bar> channels;
  for (const auto& c : r.by_channel()) {
    channels.push_back(
        {ChannelLabel(c.key(), lang), static_cast<double>(c.count()), absl::StrCat(c.count())});
  }
  html += BarChart({Text(lang, T::kChannelsChart), channels, "#1f6feb"}, lang);
  // The table of indicators.
  html += absl::StrCat("<h2>", Escape(Text(lang, T::kIndicators)), "</h2><table><tr>");
  for (T column : {T::kColGroup, T::kColReceived, T::kColClosed, T::kColOpen, T::kColHandled,
                   T::kColMedianDays, T::kColP90Days, T::kColBounces, T::kColReroutes,
                   T::kColReopened, T::kColDuplicates, T::kColExtensions}) {
    absl::StrAppend(&html, "<th>", Escape(Text(lang, column)), "</th>");
  }
  html += "</tr>";
  auto row_html = [&](const v1::IndicatorRow& row, const std::string& group) {
    const bool has = row.handled() > 0;
    absl::StrAppend(&html, "<tr><td>", Escape(group), "</td><td>", row.received(), "</td><td>",
                    row.closed(), "</td><td>", row.open(), "</td><td>", row.handled(), "</td><td>",
                    has ? Decimal(lang, row.handling_days_p50(), 1) : nodata, "</td><td>",
                    has ? Decimal(lang, row.handling_days_p90(), 1) : nodata, "</td><td>",
                    row.bounces(), "</td><td>", row.reroutes(), "</td><td>", row.reopened(),
                    "</td><td>", row.duplicates(), "</td><td>", row.extensions(), "</td></tr>");
  };
  for (const auto& row : indicators.rows()) {
    row_html(row, GroupLabel(row.group(), indicators.group_by(), lang, /*html=*/true));
  }
  row_html(total, Text(lang, T::kTotal));
  html += "</table></body></html>\n";
  return html;
}

}  // namespace meldpunt::intake::reporting
