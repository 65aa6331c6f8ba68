// Template rendering: a letter's text and the values it is filled with both come from the input.
// The text goes through the same checks as at start-up (Templates::FromSources, which Load calls,
// then Templates::Check); a letter that passes is rendered in every language with the values, as
// the notification service renders it.
#include <cstdint>
#include <cstdlib>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "services/notification/templates.h"

namespace {
namespace notification = ::meldpunt::notification;
}  // namespace

// The input is "<template text>\0<letter>\0<value>\0<value>...": the letter's number in the
// catalogue (its first byte), then the values of its placeholders in the catalogue's order (an
// empty one is left out, as the service leaves out empty values).
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::vector<std::string> parts =
      absl::StrSplit(std::string(reinterpret_cast<const char*>(data), size), '\0');
  const std::string& text = parts[0];
  const auto& catalogue = notification::Placeholders();
  auto entry = catalogue.begin();
  if (parts.size() > 1 && !parts[1].empty()) {
    std::advance(entry, static_cast<unsigned char>(parts[1][0]) % catalogue.size());
  }
  const std::string& name = entry->first;
  std::map<std::string, std::string> values;
  size_t next = 2;
  for (const std::string& placeholder : entry->second) {
    if (next < parts.size()) values[placeholder] = parts[next++];
  }

  std::map<std::string, std::string> sources;
  for (const char* language : {"nl", "fr", "en"}) sources[absl::StrCat(language, "/", name)] = text;
  absl::StatusOr<notification::Templates> templates =
      notification::Templates::FromSources("templates", sources);
  if (!templates.ok()) {
    if (templates.status().code() != absl::StatusCode::kInvalidArgument) std::abort();
    return 0;
  }
  const absl::Status checked = templates->Check({name});
  if (!checked.ok() && checked.code() != absl::StatusCode::kInvalidArgument) std::abort();
  for (const char* language : {"nl", "de"}) {
    absl::StatusOr<notification::Rendered> letter = templates->Render(name, language, values);
    if (!letter.ok() && letter.status().code() != absl::StatusCode::kInternal) std::abort();
  }
  if (templates->Render("no-such-letter", "nl", values).status().code() !=
      absl::StatusCode::kNotFound) {
    std::abort();
  }
  return 0;
}
