#include "libs/catalog/slug.h"

namespace meldpunt::catalog {

bool IsSlug(std::string_view text, size_t max) {
  if (text.empty() || text.size() > max) return false;
  for (char c : text) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return text.front() != '-' && text.back() != '-';
}

}  // namespace meldpunt::catalog
