#include "services/notification/mailer.h"

#include <curl/curl.h>

#include <cstring>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
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
  const std::string* data;
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

SmtpMailer::~SmtpMailer() {
  for (void* handle : idle_) curl_easy_cleanup(static_cast<CURL*>(handle));
}

void* SmtpMailer::TakeHandle() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!idle_.empty()) {
      void* handle = idle_.back();
      idle_.pop_back();
      return handle;
    }
  }
  return curl_easy_init();
}

void SmtpMailer::GiveBack(void* handle) {
  // Nothing of the finished call (buffers, recipients) stays pointed at; the connection does.
  curl_easy_reset(static_cast<CURL*>(handle));
  std::lock_guard<std::mutex> lock(mu_);
  idle_.push_back(handle);
}

absl::Status SmtpMailer::Send(const Email& email) {
  if (email.to.empty() || HasLineBreak(email.to) || HasLineBreak(email.idempotency_key) ||
      HasLineBreak(email.case_id)) {
    return PermanentFailure(absl::StatusCode::kInvalidArgument,
                            "e-mail: recipient or header with a line break, or no recipient");
  }
  const std::string message = Compose(options_, email, absl::Now());
  CURL* curl = static_cast<CURL*>(TakeHandle());
  if (curl == nullptr) {
    return TemporaryFailure(absl::StatusCode::kResourceExhausted, "curl_easy_init failed");
  }
  Upload upload{&message};
  curl_slist* recipients = curl_slist_append(nullptr, email.to.c_str());
  char error[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(curl, CURLOPT_URL, options_.url.c_str());
  curl_easy_setopt(curl, CURLOPT_MAIL_FROM, options_.from.c_str());
  curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, recipients);
  curl_easy_setopt(curl, CURLOPT_READFUNCTION, ReadCallback);
  curl_easy_setopt(curl, CURLOPT_READDATA, &upload);
  curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS,
                   static_cast<long>(absl::ToInt64Milliseconds(options_.timeout)));
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  if (!options_.username.empty()) {
    curl_easy_setopt(curl, CURLOPT_USERNAME, options_.username.c_str());
    curl_easy_setopt(curl, CURLOPT_PASSWORD, options_.password.c_str());
  }
  CURLcode code = curl_easy_perform(curl);
  long response = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response);
  long connects = 0;
  curl_easy_getinfo(curl, CURLINFO_NUM_CONNECTS, &connects);
  connections_opened_ += connects;
  curl_slist_free_all(recipients);
  if (code == CURLE_OK) {
    GiveBack(curl);
    return absl::OkStatus();
  }
  curl_easy_cleanup(curl);  // its connection may be in any state
  const std::string detail =
      absl::StrCat("smtp ", options_.url, ": ", error[0] ? error : curl_easy_strerror(code),
                   response ? absl::StrCat(" (reply ", response, ")") : "");
  // A 5xx reply refuses this message for good (RFC 5321 4.2.1); a 4xx reply, no connection or a
  // timeout may pass later.
  if (response >= 500 && response < 600) {
    return PermanentFailure(absl::StatusCode::kFailedPrecondition, detail);
  }
  return TemporaryFailure(absl::StatusCode::kUnavailable, detail);
}

}  // namespace meldpunt::notification
