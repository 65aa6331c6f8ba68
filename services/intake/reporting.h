// The figures of the Reporting service, computed from folded cases (the projection): indicators
// over a period and a grouping, the annual complaints report, and both as CSV or as a
// self-contained HTML page with SVG charts, in the reader's language (reporting_texts.h). Pure
// functions of the cases and `now`; no personal data goes in or out.
//
// Every period counts cases by receipt (Case.received_at; submitted_at for a case folded before
// the field existed), and every handling time and age runs from receipt. A figure over nothing (a
// median without handled cases, a share without a clock to count) is 0 in the protos, where the
// count beside it (handled, answered, stopped + open_overdue) tells a client so, and "–" in the
// exports (an empty cell in CSV).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "libs/calendar/calendar.h"
#include "meldpunt/intake/v1/intake.pb.h"
#include "meldpunt/types/v1/case.pb.h"
#include "services/intake/reporting_texts.h"

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

// When the case was received: received_at, or submitted_at when the fold predates it.
absl::Time ReceivedAt(const types::v1::Case& c);
// The cases received in [from, to), in their order. A case is registered (submitted) at or after
// its receipt, so the caller reads those submitted in [from, to + the longest registration delay).
std::vector<types::v1::Case> ReceivedIn(std::vector<types::v1::Case> cases, absl::Time from,
                                        absl::Time to);

// Whether a running clock is overdue at `now`. A running clock is judged by its due time. A
// paused one stands still and its due time moves on resume, so it is overdue only when it was
// breached before it stopped (listed in `breached`); likewise a clock without a due time.
bool Overdue(const types::v1::RunningClock& clock,
             const google::protobuf::RepeatedPtrField<std::string>& breached, absl::Time now);

// `cases` are those received in [from, to).
v1::GetIndicatorsResponse Indicators(const std::vector<types::v1::Case>& cases, absl::Time from,
                                     absl::Time to, v1::ReportGrouping group_by, absl::Time now);

// `cases` are those received in the year (all kinds: the complaints are picked out).
v1::ComplaintsReport Complaints(const std::vector<types::v1::Case>& cases, int year, absl::Time now,
                                const calendar::BusinessCalendar& calendar);

// The open cases by state, for the report.
std::map<types::v1::CaseState, int64_t> OpenByState(const std::vector<types::v1::Case>& cases);

// RFC 4180 CSV: the indicators (a row per group, then the total), a blank line, the complaints.
// Headers, kinds, channels and legal grounds in `lang`; numbers with a decimal point, so that a
// spreadsheet reads them; a figure over nothing is an empty cell.
std::string Csv(const v1::GetIndicatorsResponse& indicators, const v1::ComplaintsReport& report,
                Lang lang = Lang::kNl);
// One HTML page in `lang` (its lang attribute set), nothing fetched: inline CSS and SVG charts,
// fit to print for the council. A figure over nothing shows "–".
std::string Html(const v1::GetIndicatorsResponse& indicators, const v1::ComplaintsReport& report,
                 Lang lang = Lang::kNl,
                 const std::map<types::v1::CaseState, int64_t>& open_by_state = {});

// Nearest-rank percentile (p in (0, 1]) of `values`; 0 for none. Sorts `values`.
double Percentile(std::vector<double>& values, double p);

}  // namespace meldpunt::intake::reporting
