// The figures of the Reporting service, computed from folded cases (the projection): indicators
// over a period and a grouping, the annual complaints report, and both as CSV or as a
// self-contained HTML page with SVG charts. Pure functions of the cases and `now`; no personal
// data goes in or out.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "libs/calendar/calendar.h"
#include "meldpunt/intake/v1/intake.pb.h"
#include "meldpunt/types/v1/case.pb.h"

namespace meldpunt::intake::reporting {

// INVALID_ARGUMENT naming the field: from and to required, from before to, at most 3660 days
// apart; a known grouping.
absl::Status CheckIndicatorsRequest(const v1::GetIndicatorsRequest& request);
// INVALID_ARGUMENT unless 2000 <= year <= 2100.
absl::Status CheckYear(int year, const std::string& field = "year");

// Midnight of 1 January of `year`, Brussels time.
absl::Time YearStart(int year);

// The age buckets of the backlog, in order.
inline constexpr const char* kBacklogBuckets[] = {"0-7d", "8-30d", "31-90d", ">90d"};

// `cases` are those submitted in [from, to).
v1::GetIndicatorsResponse Indicators(const std::vector<types::v1::Case>& cases, absl::Time from,
                                     absl::Time to, v1::ReportGrouping group_by, absl::Time now);

// `cases` are those submitted in the year (all kinds: the complaints are picked out).
v1::ComplaintsReport Complaints(const std::vector<types::v1::Case>& cases, int year, absl::Time now,
                                const calendar::BusinessCalendar& calendar);

// RFC 4180 CSV: the indicators (a row per group, then the total), a blank line, the complaints.
std::string Csv(const v1::GetIndicatorsResponse& indicators, const v1::ComplaintsReport& report);
// One HTML page, nothing fetched: inline CSS and SVG charts, fit to print for the council.
std::string Html(const v1::GetIndicatorsResponse& indicators, const v1::ComplaintsReport& report);

// Nearest-rank percentile (p in (0, 1]) of `values`; 0 for none. Sorts `values`.
double Percentile(std::vector<double>& values, double p);

}  // namespace meldpunt::intake::reporting
