// The HTML part of a letter, made from its rendered plain text: one layout for every letter, the
// text escaped whole (template wording and values alike) and laid out as paragraphs (a blank line
// starts one, a line break inside one is kept). The wording of a letter lives in one place, its
// mustache template, so the two parts of an e-mail can never say different things.
//
//   const std::string html = HtmlLetter(letter.subject, letter.body, "nl");
#pragma once

#include <string>

namespace meldpunt::notification {

// &, <, >, " and ' as entities.
std::string HtmlEscape(const std::string& text);

// A complete UTF-8 HTML document with `lang` and the subject as its title.
std::string HtmlLetter(const std::string& subject, const std::string& body,
                       const std::string& language);

}  // namespace meldpunt::notification
