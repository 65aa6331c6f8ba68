// What meldctl prints: key=value lines for scripts (`sed -n 's/^state=//p'`), a table for lists,
// one line per history entry. Every value stays on its line: a newline in a text is printed as
// \n, a backslash as \\.
//
//   std::printf("%s", CaseText(response.case_()).c_str());
//   // case_id=MP-7K3QX9M2TD4AB
//   // reference=MP-2026-7K3QX9M2T
//   // state=ROUTED ...
#pragma once

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "google/protobuf/repeated_ptr_field.h"
#include "google/protobuf/timestamp.pb.h"
#include "meldpunt/intake/v1/intake.pb.h"
#include "meldpunt/routing/v1/routing.pb.h"
#include "meldpunt/types/v1/case.pb.h"

namespace meldpunt::meldctl {

// `text` on one line: backslash, newline, carriage return and tab escaped.
std::string OneLine(absl::string_view text);

// RFC 3339 in UTC to the second ("2026-03-01T09:30:00Z"); "" for an unset timestamp.
std::string Time(const google::protobuf::Timestamp& timestamp);

// The case as key=value lines. Always: case_id, kind, state, category, department, priority,
// acknowledged, submitted_at, updated_at, breached_clocks, version. Where set: reference, team,
// assignee, admissibility, inadmissibility_ground, outcome, ombudsnorm, answer, open_question,
// state_before_wait, master_case_id, referred_to, bounced_departments, acknowledged_at,
// answered_at, closed_at, rejected_events, triage_reason, registered_letter, and received_at when
// it is not the submission time (a letter, call or visit registered later).
std::string CaseText(const types::v1::Case& c);

// A table with a header: case_id, reference, kind, state, department, category, submitted_at;
// "-" for an empty cell. When a case has a triage_reason, a last column triage_reason, cut to 80
// characters ("…" at the end).
std::string CaseTable(const google::protobuf::RepeatedPtrField<types::v1::Case>& cases);

// The triage queue: the cases by submission, oldest first (ListCases answers newest first).
void SortOldestFirst(google::protobuf::RepeatedPtrField<types::v1::Case>* cases);

// The triage queue's row first (when given), then one row per department, its unassigned cases,
// teams and members (indented): open, due_24h, overdue, capacity (– when the rules set none) and,
// for a member, unavailable.
std::string WorkloadTable(const routing::v1::GetWorkloadResponse& response);

// The triage queue as a table: case_id, reference, kind, category, submitted_at, and the whole
// triage_reason last (on one line); "-" for an empty cell. In the order given.
std::string TriageTable(const google::protobuf::RepeatedPtrField<types::v1::Case>& cases);

// The catalogue as a tree: a header (id, label, service_code), then each category under its parent
// (two spaces deeper per level), in the catalogue's order; "-" for an empty cell, and a last
// column "inactive" for a category no longer in use. A category whose parent is not in the answer
// (an inactive parent, left out without --all) stands at the top with "under <parent>".
std::string CategoryTree(const intake::v1::GetCategoriesResponse& response);

// One line per entry: at=, type=, actor=, producer=, event_id=, then "REJECTED: <why>" for an
// event the state machine refused.
std::string HistoryText(const intake::v1::GetCaseHistoryResponse& history);

}  // namespace meldpunt::meldctl
