// SmtpMailer against the real SMTP sink (aiosmtpd) of the test stack.
#include "services/notification/delivery_error.h"
#include "services/notification/mailer.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "tests/testing/mail.h"
#include "tests/testing/stack.h"

namespace meldpunt::notification {
namespace {

std::string FindMail(const std::string& dir, const std::string& needle) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.path().extension() != ".eml") continue;
    std::ifstream in(entry.path());
    std::stringstream buffer;
    buffer << in.rdbuf();
    if (buffer.str().find(needle) != std::string::npos) return buffer.str();
  }
  return "";
}

TEST(SmtpMailer, DeliversToARealSmtpServer) {
  auto stack = testing::LoadStack();
  ASSERT_TRUE(stack.ok()) << stack.status();
  SmtpMailer mailer({.url = "smtp://" + stack->smtp, .from = "meldpunt@gemeente.example"});
  const std::string key = testing::UniqueName("notify");
  std::string body =
      "Beste Jan & Els,\n\nUw melding is ontvangen: <script>alert(1)</script>\nÉén lange regel: " +
      std::string(1500, 'x') + "\n";
  Email email{
      "jan@example.org", "Ontvangstmelding MP-TEST: ü", body, key, "MP-0123456789ABC", "nl"};
  ASSERT_TRUE(mailer.Send(email).ok());
  std::string raw;
  ASSERT_TRUE(testing::Eventually([&] { return !(raw = FindMail(stack->smtp_dir, key)).empty(); },
                                  absl::Seconds(10)));
  EXPECT_NE(raw.find("X-Meldpunt-Idempotency-Key: " + key), std::string::npos);
  EXPECT_NE(raw.find("X-Meldpunt-Case: MP-0123456789ABC"), std::string::npos);
  EXPECT_NE(raw.find("To: jan@example.org"), std::string::npos);
  // multipart/alternative: the text part is the body as written, the HTML part the same text
  // escaped; each base64 UTF-8.
  std::map<std::string, std::string> parts = testing::MimeParts(raw);
  ASSERT_EQ(parts.size(), 2u) << raw;
  EXPECT_EQ(parts["text/plain; charset=utf-8"], body);
  const std::string& html = parts["text/html; charset=utf-8"];
  EXPECT_NE(html.find("<p>Beste Jan &amp; Els,</p>"), std::string::npos) << html;
  EXPECT_NE(html.find("&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos) << html;
  EXPECT_EQ(html.find("<script>"), std::string::npos) << html;
  EXPECT_NE(html.find("Één lange regel"), std::string::npos) << html;
}

TEST(SmtpMailer, MessagesInARowShareOneConnection) {
  auto stack = testing::LoadStack();
  ASSERT_TRUE(stack.ok()) << stack.status();
  SmtpMailer mailer({.url = "smtp://" + stack->smtp, .from = "meldpunt@gemeente.example"});
  std::vector<std::string> keys;
  for (int i = 0; i < 5; ++i) {
    keys.push_back(testing::UniqueName("reuse"));
    Email email{"els@example.org", "Ontvangstmelding", "Beste Els,\n",
                keys.back(),       "MP-0123456789ABC", "nl"};
    ASSERT_TRUE(mailer.Send(email).ok()) << i;
  }
  EXPECT_EQ(mailer.connections_opened(), 1);
  for (const std::string& key : keys) {
    EXPECT_TRUE(testing::Eventually([&] { return !FindMail(stack->smtp_dir, key).empty(); },
                                    absl::Seconds(10)))
        << key;
  }
}

TEST(SmtpMailer, SendersAtOnceEachGetTheirMessageThroughAndKeepTheirConnections) {
  auto stack = testing::LoadStack();
  ASSERT_TRUE(stack.ok()) << stack.status();
  SmtpMailer mailer({.url = "smtp://" + stack->smtp, .from = "meldpunt@gemeente.example"});
  constexpr int kSenders = 6;
  constexpr int kEach = 5;
  std::vector<std::vector<std::string>> keys(kSenders);
  std::vector<absl::Status> failed(kSenders);
  std::vector<std::thread> senders;
  for (int s = 0; s < kSenders; ++s) {
    senders.emplace_back([&, s] {
      for (int i = 0; i < kEach; ++i) {
        keys[s].push_back(testing::UniqueName("together"));
        absl::Status sent = mailer.Send({"els@example.org", "Ontvangstmelding",
                                         absl::StrCat("Bericht ", s, "-", i, "\n"), keys[s].back(),
                                         "MP-0123456789ABC", "nl"});
        if (!sent.ok()) failed[s] = sent;
      }
    });
  }
  for (auto& t : senders) t.join();
  for (int s = 0; s < kSenders; ++s) EXPECT_TRUE(failed[s].ok()) << s << ": " << failed[s];
  // A connection is kept for the next message: at most one per sender at a time was opened.
  EXPECT_GE(mailer.connections_opened(), 1);
  EXPECT_LE(mailer.connections_opened(), kSenders);
  for (int s = 0; s < kSenders; ++s) {
    for (int i = 0; i < kEach; ++i) {
      std::string raw;
      ASSERT_TRUE(testing::Eventually(
          [&] { return !(raw = FindMail(stack->smtp_dir, keys[s][i])).empty(); },
          absl::Seconds(10)))
          << keys[s][i];
      EXPECT_EQ(testing::MimeParts(raw)["text/plain; charset=utf-8"],
                absl::StrCat("Bericht ", s, "-", i, "\n"));
    }
  }
}

TEST(SmtpMailer, AServerThatNeverAnswersTimesOutAsUnavailable) {
  // A loopback port that takes connections (the kernel completes them) and never says a word.
  const int listener = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ASSERT_EQ(listen(listener, 4), 0);
  socklen_t length = sizeof(address);
  ASSERT_EQ(getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length), 0);
  SmtpMailer mailer({.url = absl::StrCat("smtp://127.0.0.1:", ntohs(address.sin_port)),
                     .timeout = absl::Seconds(1)});
  const absl::Time start = absl::Now();
  absl::Status status = mailer.Send({"a@example.org", "s", "b", "k", "MP-0123456789ABC", "nl"});
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  EXPECT_FALSE(IsPermanent(status)) << "a timeout may pass later";
  EXPECT_LT(absl::Now() - start, absl::Seconds(10)) << "the message's timeout ends it";
  close(listener);
}

TEST(SmtpMailer, UnreachableServerIsUnavailable) {
  SmtpMailer mailer({.url = "smtp://127.0.0.1:" + std::to_string(testing::ClosedPort()),
                     .timeout = absl::Seconds(5)});
  absl::Status status = mailer.Send({"a@example.org", "s", "b", "k", "MP-0123456789ABC", "nl"});
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  EXPECT_FALSE(IsPermanent(status)) << "no connection may pass later";
}

TEST(SmtpMailer, HeaderInjectionIsRefused) {
  SmtpMailer mailer({});
  const absl::Status status =
      mailer.Send({"a@example.org\r\nBcc: x@example.org", "s", "b", "k", "c", "nl"});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(IsPermanent(status)) << "it can never go";
}

}  // namespace
}  // namespace meldpunt::notification
