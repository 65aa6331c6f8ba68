#include "services/intake/reporting.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
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
      return absl::FormatCivilTime(absl::ToCivilMonth(events::GetTime(c.submitted_at()),
                                                      calendar::BrusselsTimeZone()))
          .substr(0, 7);
    default:
      return "";
  }
}

// The sums of one row while the cases are walked.
struct Sums {
  int64_t received = 0, closed = 0, open = 0, bounces = 0, reroutes = 0, reopened = 0, answered = 0,
          duplicates = 0;
  int64_t backlog[4] = {0, 0, 0, 0};
  std::map<std::string, std::pair<int64_t, int64_t>> clocks;  // clock -> stopped, within
  std::vector<double> handling_days;

  void Add(const t::Case& c, absl::Time now) {
    ++received;
    const absl::Time submitted = events::GetTime(c.submitted_at());
    if (domain::IsOpen(c.state())) {
      ++open;
      const double age = Days(now - submitted);
      backlog[age <= 7 ? 0 : age <= 30 ? 1 : age <= 90 ? 2 : 3]++;
    } else {
      ++closed;
    }
    for (const std::string& clock : c.clocks_within_term()) {
      clocks[clock].first++;
      clocks[clock].second++;
    }
    for (const std::string& clock : c.clocks_late()) clocks[clock].first++;
    if (c.has_answered_at()) {
      ++answered;
      handling_days.push_back(Days(events::GetTime(c.answered_at()) - submitted));
    } else if (c.has_closed_at()) {
      handling_days.push_back(Days(events::GetTime(c.closed_at()) - submitted));
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
      share->set_stopped(counts.first);
      share->set_within_term(counts.second);
      share->set_share(counts.first == 0 ? 0 : static_cast<double>(counts.second) / counts.first);
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

std::string Number(double v) { return absl::StrFormat("%.2f", v); }

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

// A horizontal bar chart, one bar per row, scaled to the largest value (or to `max` if > 0).
std::string BarChart(const std::string& title, const std::vector<Bar>& bars,
                     const std::string& colour, double max = 0) {
  const int label_width = 190, chart_width = 420, row = 26, top = 34;
  const int height = top + row * static_cast<int>(std::max<size_t>(bars.size(), 1)) + 10;
  for (const Bar& b : bars) max = std::max(max, b.value);
  std::string svg = absl::StrCat(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" width=\"",
      label_width + chart_width + 90, "\" height=\"", height, "\" aria-label=\"", Escape(title),
      "\">", "<text x=\"0\" y=\"20\" class=\"chart-title\">", Escape(title), "</text>");
  if (bars.empty()) {
    absl::StrAppend(&svg, "<text x=\"0\" y=\"", top + 16, "\" class=\"none\">no cases</text>");
  }
  for (size_t i = 0; i < bars.size(); ++i) {
    const int y = top + row * static_cast<int>(i);
    const double w = max <= 0 ? 0 : chart_width * bars[i].value / max;
    absl::StrAppend(&svg, "<text x=\"", label_width - 8, "\" y=\"", y + 17,
                    "\" text-anchor=\"end\">", Escape(bars[i].label), "</text>", "<rect x=\"",
                    label_width, "\" y=\"", y + 4, "\" width=\"", absl::StrFormat("%.1f", w),
                    "\" height=\"18\" rx=\"2\" fill=\"", colour, "\"/>", "<text x=\"",
                    absl::StrFormat("%.1f", label_width + w + 6), "\" y=\"", y + 17, "\">",
                    Escape(bars[i].text), "</text>");
  }
  return svg + "</svg>";
}

std::string Percent(double share) { return absl::StrFormat("%.0f %%", 100 * share); }

std::string Tile(const std::string& label, const std::string& value) {
  return absl::StrCat("<div class=\"tile\"><div class=\"value\">", Escape(value),
                      "</div><div class=\"label\">", Escape(label), "</div></div>");
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
    const absl::Time submitted = events::GetTime(c.submitted_at());
    const absl::Time answered = events::GetTime(c.answered_at());
    if (answered <= calendar.AddCalendarDays(submitted, 45)) {
      r.set_answered_within_45_days(r.answered_within_45_days() + 1);
    } else {
      r.set_answered_later(r.answered_later() + 1);
    }
    handling += Days(answered - submitted);
  }
  r.set_average_handling_days(r.answered() == 0 ? 0 : handling / r.answered());
  Fill(grounds, r.mutable_inadmissible_by_ground());
  Fill(norms, r.mutable_ombudsnormen());
  Fill(channels, r.mutable_by_channel());
  Fill(media, r.mutable_by_medium());
  events::SetTime(r.mutable_computed_at(), now);
  return r;
}

std::string Csv(const v1::GetIndicatorsResponse& indicators, const v1::ComplaintsReport& r) {
  std::vector<std::string> clocks;
  for (const auto& share : indicators.total().within_term()) clocks.push_back(share.clock());
  std::vector<std::string> header = {"group",
                                     "received",
                                     "closed",
                                     "open",
                                     "backlog_0_7d",
                                     "backlog_8_30d",
                                     "backlog_31_90d",
                                     "backlog_over_90d",
                                     "handled",
                                     "handling_days_p50",
                                     "handling_days_p90",
                                     "bounces",
                                     "reroutes",
                                     "answered",
                                     "reopened",
                                     "reopen_rate",
                                     "duplicates"};
  for (const std::string& clock : clocks) {
    header.push_back(absl::StrCat(clock, "_stopped"));
    header.push_back(absl::StrCat(clock, "_within_term"));
  }
  std::string out = absl::StrCat("# indicators,", v1::ReportGrouping_Name(indicators.group_by()),
                                 "\r\n", absl::StrJoin(header, ","), "\r\n");
  auto line = [&](const v1::IndicatorRow& row, const std::string& group) {
    std::vector<std::string> f = {Field(group), absl::StrCat(row.received()),
                                  absl::StrCat(row.closed()), absl::StrCat(row.open())};
    for (const auto& b : row.backlog()) f.push_back(absl::StrCat(b.cases()));
    f.insert(f.end(), {absl::StrCat(row.handled()), Number(row.handling_days_p50()),
                       Number(row.handling_days_p90()), absl::StrCat(row.bounces()),
                       absl::StrCat(row.reroutes()), absl::StrCat(row.answered()),
                       absl::StrCat(row.reopened()), Number(row.reopen_rate()),
                       absl::StrCat(row.duplicates())});
    for (const std::string& clock : clocks) {
      int64_t stopped = 0, within = 0;
      for (const auto& share : row.within_term()) {
        if (share.clock() == clock) {
          stopped = share.stopped();
          within = share.within_term();
        }
      }
      f.push_back(absl::StrCat(stopped));
      f.push_back(absl::StrCat(within));
    }
    absl::StrAppend(&out, absl::StrJoin(f, ","), "\r\n");
  };
  for (const auto& row : indicators.rows()) line(row, row.group());
  line(indicators.total(), "total");
  absl::StrAppend(&out, "\r\n# complaints,", r.year(), "\r\nfigure,value\r\n");
  const std::pair<const char*, int64_t> figures[] = {
      {"received", r.received()},
      {"admissibility_pending", r.admissibility_pending()},
      {"admissible", r.admissible()},
      {"inadmissible", r.inadmissible()},
      {"founded", r.founded()},
      {"partly_founded", r.partly_founded()},
      {"unfounded", r.unfounded()},
      {"answered", r.answered()},
      {"answered_within_45_days", r.answered_within_45_days()},
      {"answered_later", r.answered_later()},
      {"open", r.open()}};
  for (const auto& [name, value] : figures) absl::StrAppend(&out, name, ",", value, "\r\n");
  absl::StrAppend(&out, "average_handling_days,", Number(r.average_handling_days()), "\r\n");
  for (const auto& [prefix, list] :
       {std::pair{"inadmissible_ground", &r.inadmissible_by_ground()},
        std::pair{"ombudsnorm", &r.ombudsnormen()}, std::pair{"channel", &r.by_channel()},
        std::pair{"medium", &r.by_medium()}}) {
    for (const auto& c : *list) {
      absl::StrAppend(&out, Field(absl::StrCat(prefix, ":", c.key())), ",", c.count(), "\r\n");
    }
  }
  return out;
}

std::string Html(const v1::GetIndicatorsResponse& indicators, const v1::ComplaintsReport& r) {
  const v1::IndicatorRow& total = indicators.total();
  std::string html = absl::StrCat(
      "<!DOCTYPE html><html lang=\"nl\"><head><meta charset=\"utf-8\">",
      "<title>Meldpunt: jaarverslag ", r.year(), "</title><style>",
      "body{font-family:'DejaVu Sans',Arial,sans-serif;color:#1f2328;margin:32px;max-width:1000px}",
      "h1{font-size:26px;margin:0 0 4px}h2{font-size:19px;margin:28px 0 8px;border-bottom:2px "
      "solid #d0d7de;padding-bottom:4px}",
      ".sub{color:#57606a;margin-bottom:18px}.tiles{display:flex;flex-wrap:wrap;gap:12px}",
      ".tile{border:1px solid #d0d7de;border-radius:6px;padding:10px 14px;min-width:130px}",
      ".value{font-size:24px;font-weight:bold}.label{color:#57606a;font-size:13px}",
      "svg text{font-size:13px;fill:#1f2328}.chart-title{font-size:15px;font-weight:bold}",
      "table{border-collapse:collapse;font-size:13px;margin-top:8px}th,td{border:1px solid "
      "#d0d7de;padding:4px 8px;text-align:right}th:first-child,td:first-child{text-align:left}",
      "th{background:#f6f8fa}@media print{body{margin:12mm}}</style></head><body>",
      "<h1>Meldpunt: klachten en meldingen ", r.year(), "</h1>", "<div class=\"sub\">",
      "Figures of the cases received in ", r.year(),
      " (Brussels time), computed from the case log on ",
      Escape(absl::FormatTime("%Y-%m-%d %H:%M", events::GetTime(r.computed_at()),
                              calendar::BrusselsTimeZone())),
      ". No personal data.</div>");
  // Summary tiles.
  html += "<div class=\"tiles\">";
  html += Tile("cases received", absl::StrCat(total.received()));
  html += Tile("closed", absl::StrCat(total.closed()));
  html += Tile("still open", absl::StrCat(total.open()));
  html += Tile("handling time, median", absl::StrFormat("%.1f days", total.handling_days_p50()));
  html += Tile("handling time, p90", absl::StrFormat("%.1f days", total.handling_days_p90()));
  html += Tile("reopened", Percent(total.reopen_rate()));
  html += "</div>";
  // Received per group.
  std::vector<Bar> received;
  for (const auto& row : indicators.rows()) {
    received.push_back({row.group().empty() ? "(none)" : row.group(),
                        static_cast<double>(row.received()), absl::StrCat(row.received())});
  }
  html += absl::StrCat(
      "<h2>Cases received by ",
      Escape(absl::AsciiStrToLower(v1::ReportGrouping_Name(indicators.group_by()).substr(6))),
      "</h2>", BarChart("Cases received", received, "#1f6feb"));
  // Within term per clock.
  std::vector<Bar> within;
  for (const auto& share : total.within_term()) {
    within.push_back({share.clock(), share.share(),
                      absl::StrCat(Percent(share.share()), " of ", share.stopped())});
  }
  html +=
      absl::StrCat("<h2>Answered within the term</h2>",
                   BarChart("Share of clocks stopped within their term", within, "#2da44e", 1.0));
  // Backlog.
  std::vector<Bar> backlog;
  for (const auto& b : total.backlog()) {
    backlog.push_back({b.bucket(), static_cast<double>(b.cases()), absl::StrCat(b.cases())});
  }
  html += absl::StrCat("<h2>Open cases by age</h2>",
                       BarChart("Open cases by age today", backlog, "#d29922"));
  // Complaints.
  html += absl::StrCat("<h2>Complaints ", r.year(), "</h2><div class=\"tiles\">");
  html += Tile("complaints received", absl::StrCat(r.received()));
  html += Tile("admissible", absl::StrCat(r.admissible()));
  html += Tile("inadmissible", absl::StrCat(r.inadmissible()));
  html += Tile("answered within 45 days", absl::StrCat(r.answered_within_45_days()));
  html += Tile("answered later", absl::StrCat(r.answered_later()));
  html += Tile("average handling", absl::StrFormat("%.1f days", r.average_handling_days()));
  html += "</div>";
  html += BarChart("Outcome of the admissible complaints",
                   {{"founded", static_cast<double>(r.founded()), absl::StrCat(r.founded())},
                    {"partly founded", static_cast<double>(r.partly_founded()),
                     absl::StrCat(r.partly_founded())},
                    {"unfounded", static_cast<double>(r.unfounded()), absl::StrCat(r.unfounded())}},
                   "#8250df");
  std::vector<Bar> grounds;
  for (const auto& g : r.inadmissible_by_ground()) {
    grounds.push_back(
        {absl::AsciiStrToLower(g.key()), static_cast<double>(g.count()), absl::StrCat(g.count())});
  }
  html += BarChart("Inadmissible, by legal ground", grounds, "#cf222e");
  std::vector<Bar> norms;
  for (const auto& n : r.ombudsnormen()) {
    norms.push_back({n.key(), static_cast<double>(n.count()), absl::StrCat(n.count())});
  }
  html += BarChart("Ombudsnormen", norms, "#0969da");
  std::vector<Bar> channels;
  for (const auto& c : r.by_channel()) {
    channels.push_back(
        {absl::AsciiStrToLower(c.key()), static_cast<double>(c.count()), absl::StrCat(c.count())});
  }
  html += BarChart("Complaints by channel", channels, "#1f6feb");
  // The table of indicators.
  html +=
      "<h2>Indicators</h2><table><tr><th>group</th><th>received</th><th>closed</th><th>open</th>"
      "<th>median days</th><th>p90 days</th><th>bounces</th><th>re-routes</th><th>reopened</th>"
      "<th>duplicates</th></tr>";
  auto row_html = [&](const v1::IndicatorRow& row, const std::string& group) {
    absl::StrAppend(&html, "<tr><td>", Escape(group), "</td><td>", row.received(), "</td><td>",
                    row.closed(), "</td><td>", row.open(), "</td><td>",
                    absl::StrFormat("%.1f", row.handling_days_p50()), "</td><td>",
                    absl::StrFormat("%.1f", row.handling_days_p90()), "</td><td>", row.bounces(),
                    "</td><td>", row.reroutes(), "</td><td>", row.reopened(), "</td><td>",
                    row.duplicates(), "</td></tr>");
  };
  for (const auto& row : indicators.rows())
    row_html(row, row.group().empty() ? "(none)" : row.group());
  row_html(total, "total");
  html += "</table></body></html>\n";
  return html;
}

}  // namespace meldpunt::intake::reporting
