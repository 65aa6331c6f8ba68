// Identifiers: deterministic ones for anything that may be emitted again (a retry, a replay, a
// re-delivery after a crash), so every consumer can drop repeats by id.
//
//   std::string id = DeterministicId("routed", {submitted_event_id});
//   std::string case_id = CaseIdFor("web-form", "req-42");  // "MP-..." the same on every retry
#pragma once

#include <initializer_list>
#include <string>

#include "absl/strings/string_view.h"

namespace meldpunt::events {

// "<kind>-" + 32 hex digits of SHA-256 over kind and parts (length-prefixed, so ("ab","c") differs
// from ("a","bc")).
std::string DeterministicId(absl::string_view kind, std::initializer_list<absl::string_view> parts);

// A fresh random id, "<kind>-" + 32 hex digits.
std::string RandomId(absl::string_view kind);

// The case id of a submission: "MP-" + 13 Crockford base32 characters derived from the submitting
// system and its request key (64 bits).
std::string CaseIdFor(absl::string_view submitting_system, absl::string_view request_key);

// True for a well-formed case id.
bool IsCaseId(absl::string_view text);

}  // namespace meldpunt::events

namespace meldpunt::events {

// The reference a citizen reads over the phone: "MP-<year>-" + `length` Crockford base32 characters
// taken from the case id + one Luhn mod 32 check character, e.g. "MP-2026-7K3QX9M2T".
std::string ReferenceFor(absl::string_view case_id, int year, int length = 8);

// Normalises what a person typed (case, spaces, I/L for 1, O for 0) into the canonical form, or ""
// when it is not a reference. `check_ok` tells whether the check character matches.
std::string NormalizeReference(absl::string_view text, bool* check_ok);

}  // namespace meldpunt::events
