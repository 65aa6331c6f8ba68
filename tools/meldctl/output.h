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

#include "absl/strings/string_view.h"
#include "google/protobuf/repeated_ptr_field.h"
#include "google/protobuf/timestamp.pb.h"
#include "meldpunt/intake/v1/intake.pb.h"
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
// answered_at, closed_at, rejected_events.
std::string CaseText(const types::v1::Case& c);

// A table with a header: case_id, reference, kind, state, department, category, submitted_at;
// "-" for an empty cell.
std::string CaseTable(const google::protobuf::RepeatedPtrField<types::v1::Case>& cases);

// One line per entry: at=, type=, actor=, producer=, event_id=, then "REJECTED: <why>" for an
// event the state machine refused.
std::string HistoryText(const intake::v1::GetCaseHistoryResponse& history);

}  // namespace meldpunt::meldctl
