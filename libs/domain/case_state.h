// The case state machine as a pure function: the state of a case is the fold of its events.
//
//   types::Case c;
//   for (const Envelope& e : history) {
//     absl::Status s = Apply(c, e);  // FAILED_PRECONDITION names the state when e is not allowed
//   }
//
// Command handlers call Check() before they append an event; projections call Apply() and record
// a refused event as a harmless rejection.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "libs/events/codec.h"
#include "meldpunt/types/v1/case.pb.h"

namespace meldpunt::domain {

using Case = ::meldpunt::types::v1::Case;
using CaseState = ::meldpunt::types::v1::CaseState;

// OK when `envelope` may be applied to `c` in its current state; FAILED_PRECONDITION otherwise.
absl::Status Check(const Case& c, const events::Envelope& envelope);

// Applies the event: the new state, version and bookkeeping. Leaves `c` unchanged on error.
absl::Status Apply(Case& c, const events::Envelope& envelope);

// True for states a case never leaves (withdrawn, merged). A closed case can still be reopened.
bool IsTerminal(CaseState state);

// What a fold keeps of the reporter once their data was erased (ReporterDataErased): no personal
// field, no sealed copy (the key is gone, so it could never be opened again), `erased` set. Every
// fold of the event (the intake's projection, routing's route state) uses it.
void MarkReporterErased(types::v1::Reporter* reporter);

std::string StateName(CaseState state);

// Open: the Meldpunt or a department still has to act (not answered, closed, inadmissible,
// referred, merged or withdrawn).
bool IsOpen(CaseState state);

}  // namespace meldpunt::domain
