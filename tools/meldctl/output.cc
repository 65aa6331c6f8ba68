#include "tools/meldctl/output.h"

#include <algorithm>
#include <array>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "libs/events/codec.h"

namespace meldpunt::meldctl {
namespace {

namespace t = ::meldpunt::types::v1;

void Add(std::string* out, absl::string_view key, absl::string_view value) {
  absl::StrAppend(out, key, "=", OneLine(value), "\n");
}

void AddIfSet(std::string* out, absl::string_view key, absl::string_view value) {
  if (!value.empty()) Add(out, key, value);
}

std::string Cell(absl::string_view value) { return value.empty() ? "-" : OneLine(value); }

}  // namespace

std::string OneLine(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string Time(const google::protobuf::Timestamp& timestamp) {
  if (timestamp.seconds() == 0 && timestamp.nanos() == 0) return "";
  return absl::FormatTime("%Y-%m-%d%ET%H:%M:%SZ", events::GetTime(timestamp), absl::UTCTimeZone());
}

std::string CaseText(const t::Case& c) {
  std::string out;
  Add(&out, "case_id", c.case_id());
  AddIfSet(&out, "reference", c.reference());
  Add(&out, "kind", t::CaseKind_Name(c.draft().kind()));
  Add(&out, "state", t::CaseState_Name(c.state()));
  Add(&out, "category", c.draft().category());
  Add(&out, "department", c.department());
  AddIfSet(&out, "team", c.team());
  AddIfSet(&out, "assignee", c.assignee());
  Add(&out, "priority", t::Priority_Name(c.priority()));
  if (c.admissibility() != t::ADMISSIBILITY_NOT_APPLICABLE) {
    Add(&out, "admissibility", t::AdmissibilityStatus_Name(c.admissibility()));
  }
  AddIfSet(&out, "inadmissibility_ground", c.inadmissibility_ground());
  AddIfSet(&out, "outcome", c.outcome());
  AddIfSet(&out, "ombudsnorm", c.ombudsnorm());
  AddIfSet(&out, "answer", c.answer());
  AddIfSet(&out, "open_question", c.open_question());
  if (c.state_before_wait() != t::CASE_STATE_UNSPECIFIED) {
    Add(&out, "state_before_wait", t::CaseState_Name(c.state_before_wait()));
  }
  AddIfSet(&out, "master_case_id", c.master_case_id());
  AddIfSet(&out, "referred_to", c.referred_to());
  AddIfSet(&out, "bounced_departments", absl::StrJoin(c.bounced_departments(), ","));
  Add(&out, "acknowledged", c.acknowledged() ? "true" : "false");
  AddIfSet(&out, "acknowledged_at", Time(c.acknowledged_at()));
  Add(&out, "submitted_at", Time(c.submitted_at()));
  Add(&out, "updated_at", Time(c.updated_at()));
  AddIfSet(&out, "answered_at", Time(c.answered_at()));
  AddIfSet(&out, "closed_at", Time(c.closed_at()));
  Add(&out, "breached_clocks", absl::StrJoin(c.breached_clocks(), ","));
  if (c.rejected_events() > 0) Add(&out, "rejected_events", absl::StrCat(c.rejected_events()));
  Add(&out, "version", absl::StrCat(c.version()));
  return out;
}

std::string CaseTable(const google::protobuf::RepeatedPtrField<t::Case>& cases) {
  using Row = std::array<std::string, 7>;
  std::vector<Row> rows;
  rows.push_back(
      {"case_id", "reference", "kind", "state", "department", "category", "submitted_at"});
  for (const t::Case& c : cases) {
    rows.push_back({Cell(c.case_id()), Cell(c.reference()), t::CaseKind_Name(c.draft().kind()),
                    t::CaseState_Name(c.state()), Cell(c.department()), Cell(c.draft().category()),
                    Cell(Time(c.submitted_at()))});
  }
  std::array<size_t, 7> width{};
  for (const Row& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  std::string out;
  for (const Row& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      absl::StrAppend(&line, row[i]);
      if (i + 1 < row.size()) line.append(width[i] - row[i].size() + 2, ' ');
    }
    absl::StrAppend(&out, line, "\n");
  }
  return out;
}

std::string HistoryText(const intake::v1::GetCaseHistoryResponse& history) {
  std::string out;
  for (const intake::v1::HistoryEntry& entry : history.entries()) {
    absl::StrAppend(&out, "at=", Cell(Time(entry.occurred_at())), " type=", Cell(entry.type()),
                    " actor=", Cell(entry.actor().id()), " producer=", Cell(entry.producer()),
                    " event_id=", Cell(entry.event_id()));
    if (entry.rejected()) {
      absl::StrAppend(
          &out, " REJECTED: ",
          entry.rejection().empty() ? "refused by the state machine" : OneLine(entry.rejection()));
    }
    absl::StrAppend(&out, "\n");
  }
  return out;
}

}  // namespace meldpunt::meldctl
