// Standard letters as mustache files: templates/<language>/<name>.mustache, whose first line is
// "Subject: ..." followed by a blank line and the body. nl is the default language.
//
//   ASSIGN_OR_RETURN(Templates templates, Templates::Load("services/notification/templates"));
//   ASSIGN_OR_RETURN(Rendered letter, templates.Render("acknowledgement", "fr", values));
#pragma once

#include <map>
#include <string>

#include "absl/status/statusor.h"

namespace meldpunt::notification {

struct Rendered {
  std::string subject;
  std::string body;
};

class Templates {
 public:
  // Reads every <dir>/<lang>/<name>.mustache for lang in nl, fr, en; each must parse.
  static absl::StatusOr<Templates> Load(const std::string& dir);

  // Falls back to nl when the language has no such template. NOT_FOUND for an unknown name.
  absl::StatusOr<Rendered> Render(const std::string& name, const std::string& language,
                                  const std::map<std::string, std::string>& values) const;

 private:
  std::map<std::string, std::string> sources_;  // "<lang>/<name>" -> text
};

}  // namespace meldpunt::notification
