#include "services/notification/html_letter.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace meldpunt::notification {

std::string HtmlEscape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string HtmlLetter(const std::string& subject, const std::string& body,
                       const std::string& language) {
  std::string html = absl::StrCat(
      "<!DOCTYPE html>\n<html lang=\"", HtmlEscape(language.empty() ? "nl" : language),
      "\">\n<head>\n<meta charset=\"utf-8\">\n<title>", HtmlEscape(subject),
      "</title>\n</head>\n<body style=\"font-family: Arial, Helvetica, sans-serif; font-size: "
      "15px; line-height: 1.5; color: #1a1a1a; max-width: 40em;\">\n");
  std::string text = absl::StrReplaceAll(body, {{"\r\n", "\n"}});
  for (absl::string_view paragraph : absl::StrSplit(text, "\n\n", absl::SkipWhitespace())) {
    std::vector<std::string> lines;
    for (absl::string_view line :
         absl::StrSplit(absl::StripTrailingAsciiWhitespace(paragraph), '\n')) {
      // An indented line (an address block, a list) keeps its indent.
      const size_t indent = line.find_first_not_of(' ');
      std::string escaped;
      for (size_t i = 0; indent != absl::string_view::npos && i < indent; ++i) escaped += "&nbsp;";
      escaped += HtmlEscape(std::string(absl::StripLeadingAsciiWhitespace(line)));
      lines.push_back(std::move(escaped));
    }
    absl::StrAppend(&html, "<p>", absl::StrJoin(lines, "<br>\n"), "</p>\n");
  }
  absl::StrAppend(&html, "</body>\n</html>\n");
  return html;
}

}  // namespace meldpunt::notification
