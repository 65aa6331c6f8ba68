// The coordinator's workload view (Routing/GetWorkload): the open cases of a department, its
// teams and their members, with those due within 24 hours, those overdue, and the capacity the
// rules give. Counted from what RouteStore::Workload reads; a pure function of it and the time.
#pragma once

#include "absl/time/time.h"
#include "meldpunt/routing/v1/routing.pb.h"
#include "services/routing/route_store.h"
#include "services/routing/rules.h"

namespace meldpunt::routing {

// A case counts as overdue when its earliest running clock's due time has passed at `now`, and
// as due within 24 hours when it falls in [now, now + 24h). A member's open cases are those
// assigned to them; a team's, its members'; the department's, every open case it has, assigned
// or not (`unassigned` holds those nobody has). A member listed in two teams counts in both
// teams, once in the department.
// Open, due within 24 hours and overdue of a set of cases (capacity 0).
v1::Load CountCases(const std::map<std::string, std::optional<absl::Time>>& due, absl::Time now);

v1::DepartmentWorkload CountWorkload(const Department& department, const DepartmentCases& cases,
                                     absl::Time now);

}  // namespace meldpunt::routing
