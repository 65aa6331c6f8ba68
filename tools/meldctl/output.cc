#include "tools/meldctl/output.h"

#include <algorithm>
#include <array>
#include <map>
#include <set>
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

// `text` on one line, at most `max` characters (UTF-8 code points): cut with "…" as the last one.
std::string Cut(absl::string_view text, size_t max) {
  const std::string line = OneLine(text);
  size_t chars = 0;
  for (size_t i = 0; i < line.size(); ++i) {
    if ((static_cast<unsigned char>(line[i]) & 0xC0) == 0x80) continue;  // inside a character
    if (++chars == max) {
      // `i` starts the max-th character: keep it only if it is the last one.
      size_t next = i + 1;
      while (next < line.size() && (static_cast<unsigned char>(line[next]) & 0xC0) == 0x80) ++next;
      if (next == line.size()) return line;
      return line.substr(0, i) + "\xE2\x80\xA6";  // …
    }
  }
  return line;
}

// The characters of a UTF-8 text (code points; labels in French have accents).
size_t Width(absl::string_view text) {
  return std::count_if(text.begin(), text.end(),
                       [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; });
}

// Rows aligned in columns two spaces apart; the last cell of a row is not padded.
std::string Columns(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width;
  for (const auto& row : rows) {
    if (width.size() < row.size()) width.resize(row.size());
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], Width(row[i]));
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      absl::StrAppend(&line, row[i]);
      if (i + 1 < row.size()) line.append(width[i] - Width(row[i]) + 2, ' ');
    }
    absl::StrAppend(&out, line, "\n");
  }
  return out;
}

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
  AddIfSet(&out, "triage_reason", c.triage_reason());
  Add(&out, "acknowledged", c.acknowledged() ? "true" : "false");
  AddIfSet(&out, "acknowledged_at", Time(c.acknowledged_at()));
  // The fold sets received_at to submitted_at unless the draft named an earlier receipt.
  if (const std::string received = Time(c.received_at());
      !received.empty() && received != Time(c.submitted_at())) {
    Add(&out, "received_at", received);
  }
  if (c.draft().registered_letter()) Add(&out, "registered_letter", "true");
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
  constexpr size_t kReasonWidth = 80;
  const bool triaged = std::any_of(cases.begin(), cases.end(),
                                   [](const t::Case& c) { return !c.triage_reason().empty(); });
  std::vector<std::vector<std::string>> rows;
  rows.push_back(
      {"case_id", "reference", "kind", "state", "department", "category", "submitted_at"});
  if (triaged) rows.back().push_back("triage_reason");
  for (const t::Case& c : cases) {
    rows.push_back({Cell(c.case_id()), Cell(c.reference()), t::CaseKind_Name(c.draft().kind()),
                    t::CaseState_Name(c.state()), Cell(c.department()), Cell(c.draft().category()),
                    Cell(Time(c.submitted_at()))});
    if (triaged) {
      rows.back().push_back(c.triage_reason().empty() ? "-" : Cut(c.triage_reason(), kReasonWidth));
    }
  }
  return Columns(rows);
}

void SortOldestFirst(google::protobuf::RepeatedPtrField<t::Case>* cases) {
  // Stable, so cases submitted in the same instant keep the server's order among themselves.
  std::vector<t::Case> sorted(cases->begin(), cases->end());
  std::stable_sort(sorted.begin(), sorted.end(), [](const t::Case& a, const t::Case& b) {
    return events::GetTime(a.submitted_at()) < events::GetTime(b.submitted_at());
  });
  cases->Clear();
  for (t::Case& c : sorted) *cases->Add() = std::move(c);
}

std::string WorkloadTable(const routing::v1::GetWorkloadResponse& response) {
  std::vector<std::vector<std::string>> rows;
  rows.push_back({"workload", "open", "due_24h", "overdue", "capacity"});
  auto row = [&](const std::string& name, const routing::v1::Load& load,
                 const std::string& note = "") {
    std::vector<std::string> r = {name, absl::StrCat(load.open()),
                                  absl::StrCat(load.due_within_24h()), absl::StrCat(load.overdue()),
                                  load.capacity() > 0 ? absl::StrCat(load.capacity()) : "–"};
    if (!note.empty()) r.push_back(note);
    rows.push_back(std::move(r));
  };
  if (response.has_triage()) row("(triage)", response.triage(), "the triage queue: nobody's yet");
  for (const auto& d : response.departments()) {
    row(Cell(d.department()), d.load(), d.name().empty() ? "" : OneLine(d.name()));
    if (d.unassigned().open() > 0) row("  (unassigned)", d.unassigned());
    for (const auto& team : d.teams()) {
      row("  " + Cell(team.team()), team.load());
      for (const auto& m : team.members())
        row("    " + Cell(m.member()), m.load(), m.available() ? "" : "unavailable");
    }
  }
  return Columns(rows);
}

std::string TriageTable(const google::protobuf::RepeatedPtrField<t::Case>& cases) {
  std::vector<std::vector<std::string>> rows;
  rows.push_back({"case_id", "reference", "kind", "category", "submitted_at", "triage_reason"});
  for (const t::Case& c : cases) {
    rows.push_back({Cell(c.case_id()), Cell(c.reference()), t::CaseKind_Name(c.draft().kind()),
                    Cell(c.draft().category()), Cell(Time(c.submitted_at())),
                    Cell(c.triage_reason())});
  }
  return Columns(rows);
}

std::string CategoryTree(const intake::v1::GetCategoriesResponse& response) {
  const auto& categories = response.categories();
  std::set<std::string> listed;
  for (const auto& c : categories) listed.insert(c.id());
  // Children by parent, in the catalogue's order; "" holds the top and the orphans.
  std::map<std::string, std::vector<int>> children;
  for (int i = 0; i < categories.size(); ++i) {
    const std::string& parent = categories[i].parent();
    children[listed.count(parent) > 0 && parent != categories[i].id() ? parent : ""].push_back(i);
  }
  std::vector<std::vector<std::string>> rows;
  rows.push_back({"id", "label", "service_code"});
  std::vector<bool> shown(categories.size(), false);
  // Depth first; `shown` stops a cycle in the parents (the intake refuses one, but a tree printer
  // must not loop on a bad answer).
  auto add = [&](auto&& self, int i, int depth) -> void {
    if (shown[i]) return;
    shown[i] = true;
    const intake::v1::CategoryInfo& c = categories[i];
    std::vector<std::string> row = {std::string(2 * depth, ' ') + Cell(c.id()), Cell(c.label()),
                                    Cell(c.service_code())};
    std::vector<std::string> notes;
    if (!c.active()) notes.push_back("inactive");
    if (depth == 0 && !c.parent().empty()) notes.push_back("under " + OneLine(c.parent()));
    if (!notes.empty()) row.push_back(absl::StrJoin(notes, ", "));
    rows.push_back(std::move(row));
    auto it = children.find(c.id());
    if (it == children.end()) return;
    for (int child : it->second) self(self, child, depth + 1);
  };
  for (int i : children[""]) add(add, i, 0);
  // What a cycle kept from the top: shown flat, so nothing in the answer is left out.
  for (int i = 0; i < categories.size(); ++i) add(add, i, 0);
  return Columns(rows);
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
