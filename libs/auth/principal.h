// Who calls: the authenticated principal of a gRPC call and its role.
#pragma once

#include <string>

#include "absl/strings/string_view.h"

namespace meldpunt::auth {

enum class Role {
  kSubmitter,   // a municipal system that submits cases and follows its own
  kDepartment,  // a department: the cases routed to it
  kTeam,        // the Meldpunt team: every case, triage and confidential ones included
  kOps,         // operations: deadlines, deliveries and figures; no personal data
  kAdmin,       // rules, rebuilds, erasure
  // A gateway (services/open311) that speaks for submitting systems: alone it may read the
  // category catalogue only; with `meldpunt-on-behalf-of: <system>` a call is that system's, as
  // the submitter role (Guard::Admit).
  kGateway,
};

// "submitter", "department", "team", "ops", "admin", "gateway".
absl::string_view RoleName(Role role);
// The role of a name above; false for anything else.
bool ParseRole(absl::string_view name, Role* role);

struct Principal {
  std::string subject;  // the token's `sub` or the certificate's CN
  Role role = Role::kOps;
  std::string department;  // the department role's department
  // False only for the open development mode (no credentials asked).
  bool authenticated = true;
  // The gateway that made the call for the submitter `subject` ("" for a direct call).
  std::string via;
};

// The actor recorded in a case's events for what `who` did: "<role>:<subject>", and for a
// department "department:<department>/<subject>" when the subject is a person or system of it.
// Derived from the authenticated caller only: what a request says of its actor is a display name.
std::string ActorId(const Principal& who);

// A key for per-caller limits: role, department and subject.
std::string CallerKey(const Principal& who);

}  // namespace meldpunt::auth
