// Sending e-mail. SmtpMailer speaks SMTP through libcurl (plain or smtps://, with optional
// credentials from the environment); tests use the real SMTP sink of the test stack.
//
//   SmtpMailer mailer({.url = "smtp://127.0.0.1:2525", .from = "meldpunt@gemeente.example"});
//   RETURN_IF_ERROR(mailer.Send(email));
#pragma once

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
};

class Mailer {
 public:
  virtual ~Mailer() = default;
  // UNAVAILABLE for failures worth retrying; INVALID_ARGUMENT for a message that can never go.
  virtual absl::Status Send(const Email& email) = 0;
};

struct SmtpOptions {
  std::string url = "smtp://127.0.0.1:2525";
  std::string from = "meldpunt@localhost";
  std::string username;
  std::string password;
  absl::Duration timeout = absl::Seconds(20);
};

class SmtpMailer final : public Mailer {
 public:
  explicit SmtpMailer(SmtpOptions options) : options_(std::move(options)) {}
  absl::Status Send(const Email& email) override;

  // The RFC 5322 message (CRLF line ends, base64 body so any line length and UTF-8 are safe).
  static std::string Compose(const SmtpOptions& options, const Email& email, absl::Time now);

 private:
  SmtpOptions options_;
};

}  // namespace meldpunt::notification
