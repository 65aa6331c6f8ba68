#include "services/notification/templates.h"

#include <kainjow/mustache.hpp>

#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "libs/config/config.h"

namespace meldpunt::notification {

absl::StatusOr<Templates> Templates::Load(const std::string& dir) {
  Templates templates;
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    return absl::NotFoundError(
        absl::StrCat("notification.templates_dir: '", dir, "' is not a directory"));
  }
  for (const char* language : {"nl", "fr", "en"}) {
    const std::filesystem::path folder = std::filesystem::path(dir) / language;
    if (!std::filesystem::is_directory(folder, ec)) continue;
    for (const auto& entry : std::filesystem::directory_iterator(folder)) {
      if (entry.path().extension() != ".mustache") continue;
      absl::StatusOr<std::string> text = config::ReadFile(entry.path().string());
      if (!text.ok()) return text.status();
      kainjow::mustache::mustache parsed(*text);
      if (!parsed.is_valid()) {
        return absl::InvalidArgumentError(
            absl::StrCat(entry.path().string(), ": ", parsed.error_message()));
      }
      if (!absl::StartsWith(*text, "Subject: ")) {
        return absl::InvalidArgumentError(
            absl::StrCat(entry.path().string(), ": must start with 'Subject: '"));
      }
      templates.sources_[absl::StrCat(language, "/", entry.path().stem().string())] = *text;
    }
  }
  if (templates.sources_.empty())
    return absl::NotFoundError(absl::StrCat("no templates under '", dir, "'"));
  return templates;
}

absl::StatusOr<Rendered> Templates::Render(const std::string& name, const std::string& language,
                                           const std::map<std::string, std::string>& values) const {
  auto it = sources_.find(absl::StrCat(language, "/", name));
  if (it == sources_.end()) it = sources_.find(absl::StrCat("nl/", name));
  if (it == sources_.end()) return absl::NotFoundError(absl::StrCat("no template '", name, "'"));
  kainjow::mustache::mustache view(it->second);
  // Plain-text letters: values are inserted as they are, not HTML-escaped.
  view.set_custom_escape([](const std::string& s) { return s; });
  kainjow::mustache::data data;
  for (const auto& [key, value] : values) {
    if (!value.empty()) data.set(key, value);
  }
  std::string text = view.render(data);
  if (!view.is_valid())
    return absl::InternalError(absl::StrCat("template '", name, "': ", view.error_message()));
  Rendered out;
  size_t end_of_subject = text.find('\n');
  out.subject = std::string(absl::StripPrefix(text.substr(0, end_of_subject), "Subject: "));
  std::string body = end_of_subject == std::string::npos ? "" : text.substr(end_of_subject + 1);
  out.body = std::string(absl::StripPrefix(body, "\n"));
  return out;
}

}  // namespace meldpunt::notification
