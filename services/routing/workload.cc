#include "services/routing/workload.h"

#include <set>

namespace meldpunt::routing {
namespace {

void Add(v1::Load& load, const std::optional<absl::Time>& due, absl::Time now) {
  load.set_open(load.open() + 1);
  if (!due) return;
  if (*due < now) {
    load.set_overdue(load.overdue() + 1);
  } else if (*due < now + absl::Hours(24)) {
    load.set_due_within_24h(load.due_within_24h() + 1);
  }
}

}  // namespace

v1::Load CountCases(const std::map<std::string, std::optional<absl::Time>>& due, absl::Time now) {
  v1::Load load;
  for (const auto& [case_id, at] : due) Add(load, at, now);
  return load;
}

v1::DepartmentWorkload CountWorkload(const Department& department, const DepartmentCases& cases,
                                     absl::Time now) {
  v1::DepartmentWorkload out;
  out.set_department(department.id);
  out.set_name(department.name);
  v1::Load& total = *out.mutable_load();
  for (const auto& [case_id, due] : cases.due) Add(total, due, now);
  std::set<std::string> assigned;
  int64_t capacity = 0;
  std::set<std::string> counted_members;
  for (const Team& team : department.teams) {
    v1::TeamWorkload& t = *out.add_teams();
    t.set_team(team.id);
    v1::Load& team_load = *t.mutable_load();
    for (const Member& member : team.members) {
      v1::MemberWorkload& m = *t.add_members();
      m.set_member(member.id);
      m.set_available(member.available);
      v1::Load& load = *m.mutable_load();
      load.set_capacity(member.capacity);
      team_load.set_capacity(team_load.capacity() + member.capacity);
      if (counted_members.insert(member.id).second) capacity += member.capacity;
      auto it = cases.assigned.find(member.id);
      if (it == cases.assigned.end()) continue;
      for (const std::string& case_id : it->second) {
        // The member's set and the department's may differ for a moment (a Save in flight):
        // a case the department no longer holds is not counted.
        auto due = cases.due.find(case_id);
        if (due == cases.due.end()) continue;
        Add(load, due->second, now);
        Add(team_load, due->second, now);
        assigned.insert(case_id);
      }
    }
  }
  total.set_capacity(capacity);
  v1::Load& unassigned = *out.mutable_unassigned();
  for (const auto& [case_id, due] : cases.due) {
    if (!assigned.count(case_id)) Add(unassigned, due, now);
  }
  return out;
}

}  // namespace meldpunt::routing
