#include "services/notification/templates.h"

#include <filesystem>

#include <kainjow/mustache.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "libs/config/config.h"
#include "libs/status/retry.h"

namespace meldpunt::notification {
namespace {

constexpr const char* kLanguages[] = {"nl", "fr", "en"};

// One mustache tag: `kind` is 0 for a variable, '&' for an unescaped one ({{{x}}} or {{&x}}), or
// the sigil of a section ('#', '^', '/'), a partial ('>') or a comment ('!').
struct Tag {
  char kind = 0;
  std::string name;
};

// The tags of a template text, read the way kainjow's parser reads them: names trimmed, triple
// braces only with the default delimiters, and set-delimiter tags ({{=<% %>=}}) followed rather
// than returned.
absl::StatusOr<std::vector<Tag>> Tags(const std::string& text) {
  std::string open = "{{";
  std::string close = "}}";
  std::vector<Tag> tags;
  size_t pos = 0;
  while ((pos = text.find(open, pos)) != std::string::npos) {
    size_t start = pos + open.size();
    const bool triple = open == "{{" && close == "}}" && start < text.size() && text[start] == '{';
    const std::string end = triple ? "}}}" : close;
    if (triple) ++start;
    const size_t stop = text.find(end, start);
    if (stop == std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat("unclosed tag at offset ", pos));
    }
    const absl::string_view contents =
        absl::StripAsciiWhitespace(absl::string_view(text).substr(start, stop - start));
    const size_t tag_start = pos;
    pos = stop + end.size();
    if (triple) {
      tags.push_back({'&', std::string(contents)});
      continue;
    }
    if (!contents.empty() && contents.front() == '=') {
      std::vector<absl::string_view> delimiters;
      if (contents.size() >= 5 && contents.back() == '=') {
        delimiters = absl::StrSplit(contents.substr(1, contents.size() - 2),
                                    absl::ByAnyChar(" \t\r\n"), absl::SkipEmpty());
      }
      if (delimiters.size() != 2 || absl::StrContains(delimiters[0], '=') ||
          absl::StrContains(delimiters[1], '=')) {
        return absl::InvalidArgumentError(
            absl::StrCat("invalid set-delimiter tag at offset ", tag_start));
      }
      open = std::string(delimiters[0]);
      close = std::string(delimiters[1]);
      continue;
    }
    Tag tag;
    if (!contents.empty() && absl::StrContains("#^/>&!", contents.front())) {
      tag.kind = contents.front();
      tag.name = std::string(absl::StripAsciiWhitespace(contents.substr(1)));
    } else {
      tag.name = std::string(contents);
    }
    tags.push_back(std::move(tag));
  }
  return tags;
}

}  // namespace

const std::map<std::string, std::set<std::string>>& Placeholders() {
  static const auto* const catalogue = [] {
    // Every letter may use these. Letters to the reporter name no department: departments are
    // known here by id only (their names are routing's), and a citizen never reads an id.
    const std::set<std::string> common = {"reference",  "case_id",  "name",
                                          "kind_label", "category", "submitted_date"};
    // Where the citizen can go next (NotificationOptions::second_line).
    const std::set<std::string> second_line = {"second_line_name", "second_line_address",
                                               "second_line_website", "second_line_email",
                                               "second_line_phone"};
    std::map<std::string, std::set<std::string>> own = {
        // To the reporter.
        {"acknowledgement", {"expected_answer_date"}},
        {"information-request", {"question", "reply_hint"}},
        {"inadmissible", {"ground_label", "motivation"}},
        {"referral", {"referred_to", "reason"}},
        {"answer", {"answer_text", "is_complaint", "outcome_label"}},
        {"duplicate", {"master_reference"}},
        {"clock-extended",
         {"clock_label", "due_date", "previous_due_date", "term_label", "reason"}},
        // To the department.
        // `confidential`: set for a confidential case, whose letters to staff carry no content.
        {"dispatch",
         {"department", "description", "location", "priority_label", "due_date", "confidential"}},
        {"reminder", {"department", "clock_label", "due_date", "percent", "confidential"}},
        // To managers.
        {"warning", {"department", "clock_label", "due_date", "percent", "confidential"}},
        {"escalation",
         {"department", "clock_label", "due_date", "level", "target", "confidential"}},
    };
    own["inadmissible"].insert(second_line.begin(), second_line.end());
    own["answer"].insert(second_line.begin(), second_line.end());
    auto* all = new std::map<std::string, std::set<std::string>>;
    for (const auto& [name, values] : own) {
      std::set<std::string>& allowed = (*all)[name];
      allowed = common;
      allowed.insert(values.begin(), values.end());
    }
    return all;
  }();
  return *catalogue;
}

bool ForReporter(const std::string& name) {
  static const auto* const letters = new std::set<std::string>{
      "acknowledgement", "information-request", "inadmissible",  "referral",
      "answer",          "duplicate",           "clock-extended"};
  return letters->contains(name);
}

absl::StatusOr<Templates> Templates::Load(const std::string& dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    return absl::NotFoundError(
        absl::StrCat("notification.templates_dir: '", dir, "' is not a directory"));
  }
  std::map<std::string, std::string> sources;
  for (const char* language : kLanguages) {
    const std::filesystem::path folder = std::filesystem::path(dir) / language;
    if (!std::filesystem::is_directory(folder, ec)) continue;
    for (const auto& entry : std::filesystem::directory_iterator(folder)) {
      if (entry.path().extension() != ".mustache") continue;
      absl::StatusOr<std::string> text = config::ReadFile(entry.path().string());
      if (!text.ok()) return text.status();
      sources[absl::StrCat(language, "/", entry.path().stem().string())] = *std::move(text);
    }
  }
  if (sources.empty()) return absl::NotFoundError(absl::StrCat("no templates under '", dir, "'"));
  return FromSources(dir, sources);
}

struct Templates::Parsed {
  explicit Parsed(const std::string& text) : view(text) {
    // Plain-text letters: values are inserted as they are, not HTML-escaped.
    view.set_custom_escape([](const std::string& s) { return s; });
  }
  absl::Mutex mu;
  kainjow::mustache::mustache view ABSL_GUARDED_BY(mu);
};

absl::StatusOr<Templates> Templates::FromSources(
    const std::string& dir, const std::map<std::string, std::string>& sources) {
  Templates templates;
  templates.dir_ = dir;
  for (const auto& [key, text] : sources) {
    const std::string file = (std::filesystem::path(dir) / absl::StrCat(key, ".mustache")).string();
    kainjow::mustache::mustache parsed(text);
    if (!parsed.is_valid()) {
      return absl::InvalidArgumentError(absl::StrCat(file, ": ", parsed.error_message()));
    }
    if (!absl::StartsWith(text, "Subject: ")) {
      return absl::InvalidArgumentError(absl::StrCat(file, ": must start with 'Subject: '"));
    }
  }
  templates.sources_ = sources;
  for (const auto& [key, text] : sources) templates.parsed_[key] = std::make_shared<Parsed>(text);
  if (templates.sources_.empty())
    return absl::NotFoundError(absl::StrCat("no templates under '", dir, "'"));
  return templates;
}

absl::StatusOr<Rendered> Templates::Render(const std::string& name, const std::string& language,
                                           const std::map<std::string, std::string>& values) const {
  auto it = parsed_.find(absl::StrCat(language, "/", name));
  if (it == parsed_.end()) it = parsed_.find(absl::StrCat("nl/", name));
  if (it == parsed_.end()) return absl::NotFoundError(absl::StrCat("no template '", name, "'"));
  kainjow::mustache::data data;
  for (const auto& [key, value] : values) {
    if (!value.empty()) data.set(key, value);
  }
  Parsed& parsed = *it->second;
  std::string text;
  {
    absl::MutexLock lock(&parsed.mu);
    text = parsed.view.render(data);
    if (!parsed.view.is_valid()) {
      const std::string error = parsed.view.error_message();
      // kainjow keeps the error in the template: parse it again for the next letter.
      parsed.view = kainjow::mustache::mustache(sources_.at(it->first));
      parsed.view.set_custom_escape([](const std::string& s) { return s; });
      return status::GiveUp(absl::InternalError(absl::StrCat("template '", name, "': ", error)));
    }
  }
  Rendered out;
  size_t end_of_subject = text.find('\n');
  out.subject = std::string(absl::StripPrefix(text.substr(0, end_of_subject), "Subject: "));
  std::string body = end_of_subject == std::string::npos ? "" : text.substr(end_of_subject + 1);
  out.body = std::string(absl::StripPrefix(body, "\n"));
  return out;
}

absl::Status Templates::Check(const std::vector<std::string>& names) const {
  std::vector<std::string> problems;
  for (const std::string& name : names) {
    auto entry = Placeholders().find(name);
    if (entry == Placeholders().end()) {
      problems.push_back(absl::StrCat("unknown template '", name, "' (not in the catalogue)"));
      continue;
    }
    for (const char* language : kLanguages) {
      const std::string file =
          (std::filesystem::path(dir_) / language / absl::StrCat(name, ".mustache")).string();
      auto source = sources_.find(absl::StrCat(language, "/", name));
      if (source == sources_.end()) {
        problems.push_back(absl::StrCat(file, ": missing (every letter needs nl, fr and en)"));
        continue;
      }
      absl::StatusOr<std::vector<Tag>> tags = Tags(source->second);
      if (!tags.ok()) {
        problems.push_back(absl::StrCat(file, ": ", tags.status().message()));
        continue;
      }
      std::set<std::string> reported;
      for (const Tag& tag : *tags) {
        if (tag.kind == '!') continue;
        if (tag.kind == '>') {
          problems.push_back(absl::StrCat(file, ": partial '", tag.name, "' is not allowed"));
        } else if (!entry->second.contains(tag.name) && reported.insert(tag.name).second) {
          problems.push_back(absl::StrCat(file, ": unknown placeholder '", tag.name, "'"));
        }
      }
    }
  }
  if (problems.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrJoin(problems, "\n"));
}

}  // namespace meldpunt::notification
