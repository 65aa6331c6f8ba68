// Sending e-mail. SmtpMailer speaks SMTP through libcurl (plain or smtps://, with optional
// credentials from the environment); tests use the real SMTP sink of the test stack.
//
//   SmtpMailer mailer({.url = "smtp://127.0.0.1:2525", .from = "meldpunt@gemeente.example"});
//   RETURN_IF_ERROR(mailer.Send(email));
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace meldpunt::notification {

struct Email {
  std::string to;
  std::string subject;
  std::string body;  // UTF-8 plain text
  // Sent as Message-ID and X-Meldpunt-Idempotency-Key, so a receiver can drop a repeat.
  std::string idempotency_key;
  std::string case_id;
  std::string language = "nl";
  // The HTML part (html_letter.h); empty: made from `body` by HtmlLetter.
  std::string html;
};

class Mailer {
 public:
  virtual ~Mailer() = default;
  // Classified where it is made (delivery_error.h): TemporaryFailure (UNAVAILABLE) for no
  // connection, a timeout or an SMTP 4xx reply; PermanentFailure for an SMTP 5xx reply
  // (FAILED_PRECONDITION) or a message that can never go (INVALID_ARGUMENT).
  virtual absl::Status Send(const Email& email) = 0;
};

struct SmtpOptions {
  std::string url = "smtp://127.0.0.1:2525";
  std::string from = "meldpunt@localhost";
  std::string username;
  std::string password;
  absl::Duration timeout = absl::Seconds(20);
};

// Keeps the connections of messages that went through for the next ones (one curl handle per
// sender at a time, so one SMTP session each instead of a connect, EHLO and QUIT per message); a
// handle whose message failed is closed. Thread-safe: the idle handles are guarded by a mutex.
class SmtpMailer final : public Mailer {
 public:
  explicit SmtpMailer(SmtpOptions options) : options_(std::move(options)) {}
  ~SmtpMailer() override;
  SmtpMailer(const SmtpMailer&) = delete;
  SmtpMailer& operator=(const SmtpMailer&) = delete;
  absl::Status Send(const Email& email) override;
  // SMTP connections opened so far (a message sent on a kept connection opens none).
  int64_t connections_opened() const { return connections_opened_.load(); }

  // The RFC 5322 message: multipart/alternative with a text/plain and a text/html part, both
  // UTF-8 and base64 (so any line length is safe), CRLF line ends.
  static std::string Compose(const SmtpOptions& options, const Email& email, absl::Time now);

 private:
  void* TakeHandle();
  void GiveBack(void* handle);

  SmtpOptions options_;
  std::mutex mu_;
  std::vector<void*> idle_;  // CURL* handles with a live connection, guarded by mu_
  std::atomic<int64_t> connections_opened_{0};
};

}  // namespace meldpunt::notification
