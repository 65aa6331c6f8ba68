// The one rule for ids that appear in events, topics and URLs: categories, departments, teams,
// districts, submitting systems. 1-64 characters of a-z, 0-9 and '-', not starting or ending with
// '-'. Every check of such an id uses this one.
//
//   if (!catalog::IsSlug(draft.category())) return FieldError("draft.category", kSlugRule);
#pragma once

#include <cstddef>
#include <string_view>

namespace meldpunt::catalog {

inline constexpr size_t kMaxSlug = 64;
// The rule in words, for error messages.
inline constexpr char kSlugRule[] =
    "must be 1-64 characters of a-z, 0-9 and '-' (not first or last)";

bool IsSlug(std::string_view text, size_t max = kMaxSlug);

}  // namespace meldpunt::catalog
