// Standard letters as mustache files: templates/<language>/<name>.mustache, whose first line is
// "Subject: ..." followed by a blank line and the body. nl is the default language.
//
//   ASSIGN_OR_RETURN(Templates templates, Templates::Load("services/notification/templates"));
//   RETURN_IF_ERROR(templates.Check({"acknowledgement", "referral", "duplicate"}));
//   ASSIGN_OR_RETURN(Rendered letter, templates.Render("acknowledgement", "fr", values));
//
// Placeholders() is the catalogue of letters and the values each is rendered with; Check holds the
// loaded files to it at start-up, so a typo in a letter fails the start rather than a mail.
//
// Optional lines: kainjow 4.1 leaves an empty line where a section on lines of its own is skipped,
// so the letters open a section at the end of the line before and close it at the end of its last
// line ("Category: {{category}}{{#location}}\nLocation: {{location}}{{/location}}\n").
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace meldpunt::notification {

struct Rendered {
  std::string subject;
  std::string body;
};

// The values each letter is rendered with: the common ones plus its own.
const std::map<std::string, std::set<std::string>>& Placeholders();

// Whether the letter goes to the reporter (and may carry their name); the others go to staff and
// never carry the reporter's identity, nor any content of a confidential case.
bool ForReporter(const std::string& name);

class Templates {
 public:
  // Reads every <dir>/<lang>/<name>.mustache for lang in nl, fr, en; each must parse.
  static absl::StatusOr<Templates> Load(const std::string& dir);
  // What Load does once the files are read: `sources` maps "<lang>/<name>" to the text of
  // <dir>/<lang>/<name>.mustache; `dir` only names the files in errors.
  static absl::StatusOr<Templates> FromSources(const std::string& dir,
                                               const std::map<std::string, std::string>& sources);

  // Falls back to nl when the language has no such template. NOT_FOUND for an unknown name.
  absl::StatusOr<Rendered> Render(const std::string& name, const std::string& language,
                                  const std::map<std::string, std::string>& values) const;

  // Every named template must exist in nl, fr and en, and use only placeholders its catalogue
  // entry allows (variables and sections alike; partials are not allowed). The error names the
  // file and the placeholder: "templates/fr/answer.mustache: unknown placeholder 'outcome'".
  // A name not in the catalogue is an error too. All problems are reported, one per line.
  absl::Status Check(const std::vector<std::string>& names) const;

 private:
  // A template parsed once at load (parsing took more CPU than rendering), rendered under its
  // lock: kainjow's render is not const.
  struct Parsed;
  std::string dir_;
  std::map<std::string, std::string> sources_;             // "<lang>/<name>" -> text
  std::map<std::string, std::shared_ptr<Parsed>> parsed_;  // the same, parsed
};

}  // namespace meldpunt::notification
