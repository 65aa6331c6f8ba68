#include "services/notification/mailer.h"

#include <curl/curl.h>

#include <cstring>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "libs/observability/thread_name.h"
#include "services/notification/delivery_error.h"
#include "services/notification/html_letter.h"

namespace meldpunt::notification {
namespace {

bool HasLineBreak(const std::string& s) { return s.find_first_of("\r\n") != std::string::npos; }

// RFC 2047 encoded word, so UTF-8 subjects survive any mail system.
std::string EncodeHeader(const std::string& text) {
  return absl::StrCat("=?UTF-8?B?", absl::Base64Escape(text), "?=");
}

struct Upload {
  const std::string* data = nullptr;
  size_t offset = 0;
};

size_t ReadCallback(char* buffer, size_t size, size_t count, void* user) {
  auto* upload = static_cast<Upload*>(user);
  const size_t room = size * count;
  const size_t left = upload->data->size() - upload->offset;
  const size_t n = std::min(room, left);
  std::memcpy(buffer, upload->data->data() + upload->offset, n);
  upload->offset += n;
  return n;
}

std::string Base64Lines(const std::string& text) {
  const std::string encoded = absl::Base64Escape(text);
  std::string wrapped;
  for (size_t i = 0; i < encoded.size(); i += 76)
    absl::StrAppend(&wrapped, encoded.substr(i, 76), "\r\n");
  return wrapped;
}

}  // namespace

std::string SmtpMailer::Compose(const SmtpOptions& options, const Email& email, absl::Time now) {
  // Base64 never contains "=_", so the boundary cannot occur in a part.
  const std::string boundary = "=_meldpunt_alternative";
  const std::string html =
      email.html.empty() ? HtmlLetter(email.subject, email.body, email.language) : email.html;
  return absl::StrCat(
      "Date: ", absl::FormatTime("%a, %d %b %Y %H:%M:%S +0000", now, absl::UTCTimeZone()), "\r\n",
      "From: ", options.from, "\r\n", "To: ", email.to, "\r\n",
      "Subject: ", EncodeHeader(email.subject), "\r\n", "Message-ID: <", email.idempotency_key,
      "@meldpunt>\r\n", "X-Meldpunt-Idempotency-Key: ", email.idempotency_key, "\r\n",
      "X-Meldpunt-Case: ", email.case_id, "\r\n", "Content-Language: ", email.language, "\r\n",
      "MIME-Version: 1.0\r\n", "Content-Type: multipart/alternative; boundary=\"", boundary,
      "\"\r\n", "\r\n", "--", boundary, "\r\n", "Content-Type: text/plain; charset=utf-8\r\n",
      "Content-Transfer-Encoding: base64\r\n", "\r\n", Base64Lines(email.body), "--", boundary,
      "\r\n", "Content-Type: text/html; charset=utf-8\r\n", "Content-Transfer-Encoding: base64\r\n",
      "\r\n", Base64Lines(html), "--", boundary, "--\r\n");
}

// One message in flight: what libcurl reads and writes while it goes, and its outcome. Lives on
// the stack of the Send that waits for it.
struct SmtpMailer::Transfer {
  CURL* curl = nullptr;
  Upload upload;
  curl_slist* recipients = nullptr;
  char error[CURL_ERROR_SIZE] = {0};
  CURLcode code = CURLE_OK;
  long response = 0;
  absl::Notification done;
};

SmtpMailer::SmtpMailer(SmtpOptions options) : options_(std::move(options)) {
  CURLM* multi = curl_multi_init();
  if (multi != nullptr) {
    // Connections kept for the next messages: enough for every sender at once.
    curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, 64L);
  }
  multi_ = multi;
  loop_ = std::thread([this] {
    observability::NameThread("mp-mail-smtp");
    Loop();
  });
}

SmtpMailer::~SmtpMailer() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (multi_ != nullptr) curl_multi_wakeup(static_cast<CURLM*>(multi_));
  if (loop_.joinable()) loop_.join();
  for (void* handle : idle_) curl_easy_cleanup(static_cast<CURL*>(handle));
  if (multi_ != nullptr) curl_multi_cleanup(static_cast<CURLM*>(multi_));
}

void SmtpMailer::Loop() {
  CURLM* multi = static_cast<CURLM*>(multi_);
  if (multi == nullptr) return;
  while (true) {
    std::vector<Transfer*> incoming;
    bool stopping = false;
    {
      absl::MutexLock lock(&mu_);
      incoming.swap(incoming_);
      stopping = stopping_;
    }
    if (stopping) return;  // no Send is running (the destructor's contract): none in flight
    for (Transfer* t : incoming) {
      curl_easy_setopt(t->curl, CURLOPT_PRIVATE, t);
      if (curl_multi_add_handle(multi, t->curl) != CURLM_OK) {
        t->code = CURLE_FAILED_INIT;
        t->done.Notify();
      }
    }
    int running = 0;
    curl_multi_perform(multi, &running);
    int left = 0;
    while (CURLMsg* message = curl_multi_info_read(multi, &left)) {
      if (message->msg != CURLMSG_DONE) continue;
      CURL* curl = message->easy_handle;
      Transfer* t = nullptr;
      curl_easy_getinfo(curl, CURLINFO_PRIVATE, reinterpret_cast<char**>(&t));
      t->code = message->data.result;
      curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &t->response);
      long connects = 0;
      curl_easy_getinfo(curl, CURLINFO_NUM_CONNECTS, &connects);
      connections_opened_ += connects;
      curl_multi_remove_handle(multi, curl);
      t->done.Notify();  // t is the waiting Send's: not touched after this
    }
    // Until a connection has something, libcurl's own next timeout, or a new message.
    curl_multi_poll(multi, nullptr, 0, 1000, nullptr);
  }
}

absl::Status SmtpMailer::Send(const Email& email) {
  if (email.to.empty() || HasLineBreak(email.to) || HasLineBreak(email.idempotency_key) ||
      HasLineBreak(email.case_id)) {
    return PermanentFailure(absl::StatusCode::kInvalidArgument,
                            "e-mail: recipient or header with a line break, or no recipient");
  }
  if (multi_ == nullptr) {
    return TemporaryFailure(absl::StatusCode::kResourceExhausted, "curl_multi_init failed");
  }
  const std::string message = Compose(options_, email, absl::Now());
  Transfer t;
  {
    absl::MutexLock lock(&mu_);
    if (!idle_.empty()) {
      t.curl = static_cast<CURL*>(idle_.back());
      idle_.pop_back();
    }
  }
  if (t.curl == nullptr) t.curl = curl_easy_init();
  if (t.curl == nullptr) {
    return TemporaryFailure(absl::StatusCode::kResourceExhausted, "curl_easy_init failed");
  }
  t.upload.data = &message;
  t.recipients = curl_slist_append(nullptr, email.to.c_str());
  CURL* curl = t.curl;
  curl_easy_setopt(curl, CURLOPT_URL, options_.url.c_str());
  curl_easy_setopt(curl, CURLOPT_MAIL_FROM, options_.from.c_str());
  curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, t.recipients);
  curl_easy_setopt(curl, CURLOPT_READFUNCTION, ReadCallback);
  curl_easy_setopt(curl, CURLOPT_READDATA, &t.upload);
  curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, t.error);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS,
                   static_cast<long>(absl::ToInt64Milliseconds(options_.timeout)));
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  if (!options_.username.empty()) {
    curl_easy_setopt(curl, CURLOPT_USERNAME, options_.username.c_str());
    curl_easy_setopt(curl, CURLOPT_PASSWORD, options_.password.c_str());
  }
  {
    absl::MutexLock lock(&mu_);
    incoming_.push_back(&t);
  }
  curl_multi_wakeup(static_cast<CURLM*>(multi_));
  t.done.WaitForNotification();
  curl_slist_free_all(t.recipients);
  // Nothing of the finished message (buffers, recipients) stays pointed at.
  curl_easy_reset(curl);
  {
    absl::MutexLock lock(&mu_);
    idle_.push_back(curl);
  }
  return Outcome(t);
}

absl::Status SmtpMailer::Outcome(const Transfer& t) const {
  if (t.code == CURLE_OK) return absl::OkStatus();
  const std::string detail =
      absl::StrCat("smtp ", options_.url, ": ", t.error[0] ? t.error : curl_easy_strerror(t.code),
                   t.response ? absl::StrCat(" (reply ", t.response, ")") : "");
  // A 5xx reply refuses this message for good (RFC 5321 4.2.1); a 4xx reply, no connection or a
  // timeout may pass later.
  if (t.response >= 500 && t.response < 600) {
    return PermanentFailure(absl::StatusCode::kFailedPrecondition, detail);
  }
  return TemporaryFailure(absl::StatusCode::kUnavailable, detail);
}

}  // namespace meldpunt::notification
