// SmtpMailer::Compose without a server: the message's structure (the SMTP sink test sends one).
#include "services/notification/mailer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_split.h"

namespace meldpunt::notification {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string Decode(const std::string& part) {
  const size_t blank = part.find("\r\n\r\n");
  std::string encoded;
  for (char c : part.substr(blank == std::string::npos ? 0 : blank))
    if (!isspace(static_cast<unsigned char>(c))) encoded.push_back(c);
  std::string decoded;
  EXPECT_TRUE(absl::Base64Unescape(encoded, &decoded)) << part;
  return decoded;
}

TEST(Compose, MultipartAlternativeWithTheTextAndItsEscapedHtml) {
  const Email email{"els@example.org", "Uw klacht MP-1",   "Beste Els,\n\n<script>x</script> & é\n",
                    "key-1",           "MP-0123456789ABC", "fr"};
  const std::string message =
      SmtpMailer::Compose({.from = "meldpunt@gemeente.example"}, email, absl::UnixEpoch());
  const std::string headers = message.substr(0, message.find("\r\n\r\n"));
  EXPECT_THAT(headers, HasSubstr("MIME-Version: 1.0\r\n"));
  EXPECT_THAT(
      headers,
      HasSubstr("Content-Type: multipart/alternative; boundary=\"=_meldpunt_alternative\""));
  EXPECT_THAT(headers, HasSubstr("Message-ID: <key-1@meldpunt>"));
  // The headers, the text part, the HTML part, and the closing delimiter's "--".
  std::vector<std::string> parts = absl::StrSplit(message, "\r\n--=_meldpunt_alternative");
  ASSERT_EQ(parts.size(), 4u) << message;
  EXPECT_EQ(parts[3], "--\r\n");
  const std::string text = parts[1];
  const std::string html_part = parts[2];
  EXPECT_THAT(text, HasSubstr("Content-Type: text/plain; charset=utf-8\r\n"));
  EXPECT_THAT(html_part, HasSubstr("Content-Type: text/html; charset=utf-8\r\n"));
  EXPECT_EQ(Decode(text), email.body);
  const std::string html = Decode(html_part);
  EXPECT_THAT(html, HasSubstr("<html lang=\"fr\">"));
  EXPECT_THAT(html, HasSubstr("<p>&lt;script&gt;x&lt;/script&gt; &amp; é</p>"));
  EXPECT_THAT(html, Not(HasSubstr("<script>")));
}

TEST(Compose, AGivenHtmlPartIsSentAsItIs) {
  Email email{"els@example.org", "s", "tekst", "key-2", "MP-0123456789ABC", "nl"};
  email.html = "<p>eigen</p>";
  const std::string message = SmtpMailer::Compose({}, email, absl::UnixEpoch());
  EXPECT_THAT(message, HasSubstr(absl::Base64Escape("<p>eigen</p>")));
}

}  // namespace
}  // namespace meldpunt::notification
