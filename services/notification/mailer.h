// Sending e-mail. SmtpMailer speaks SMTP through libcurl (plain or smtps://, with optional
// credentials from the environment); tests use the real SMTP sink of the test stack.
//
//   SmtpMailer mailer({.url = "smtp://127.0.0.1:2525", .from = "meldpunt@gemeente.example"});
//   RETURN_IF_ERROR(mailer.Send(email));
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
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

// Sends through one libcurl multi handle driven by a thread of its own ("mp-mail-smtp"): Send
// hands its message to that thread and waits for the outcome, and the thread carries every
// message in flight at once, waking for whichever connections have a reply. The multi handle keeps
// the connections of messages that went through for the next ones (one SMTP session each, no
// connect, EHLO and QUIT per message); libcurl closes one whose message failed. Thread-safe: any
// number of threads may Send at once (each message its own connection while it is in flight).
class SmtpMailer final : public Mailer {
 public:
  explicit SmtpMailer(SmtpOptions options);
  // Once no Send is running.
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
  struct Transfer;
  void Loop();
  // The outcome of a finished transfer, from its libcurl result and SMTP reply.
  absl::Status Outcome(const Transfer& transfer) const;

  SmtpOptions options_;
  void* multi_ = nullptr;  // CURLM*: used by the loop thread only (and curl_multi_wakeup)
  absl::Mutex mu_;
  std::vector<Transfer*> incoming_ ABSL_GUARDED_BY(mu_);  // handed in, not yet added
  std::vector<void*> idle_ ABSL_GUARDED_BY(mu_);          // CURL* handles for the next messages
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::atomic<int64_t> connections_opened_{0};
  std::thread loop_;
};

}  // namespace meldpunt::notification
