#include "services/notification/delivery_error.h"

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace meldpunt::notification {
namespace {

constexpr char kClassUrl[] = "type.meldpunt/notification.FailureClass";
constexpr char kRetryAfterUrl[] = "type.meldpunt/notification.RetryAfterMs";

}  // namespace

absl::Status TemporaryFailure(absl::StatusCode code, absl::string_view message,
                              std::optional<absl::Duration> retry_after) {
  absl::Status status(code, message);
  if (status.ok()) return status;
  status.SetPayload(kClassUrl, absl::Cord("temporary"));
  if (retry_after) {
    status.SetPayload(kRetryAfterUrl,
                      absl::Cord(absl::StrCat(absl::ToInt64Milliseconds(*retry_after))));
  }
  return status;
}

absl::Status PermanentFailure(absl::StatusCode code, absl::string_view message) {
  absl::Status status(code, message);
  if (!status.ok()) status.SetPayload(kClassUrl, absl::Cord("permanent"));
  return status;
}

bool IsPermanent(const absl::Status& status) {
  const auto c = status.GetPayload(kClassUrl);
  return c && *c == "permanent";
}

std::optional<absl::Duration> RetryAfterOf(const absl::Status& status) {
  const auto c = status.GetPayload(kRetryAfterUrl);
  int64_t ms = 0;
  if (!c || !absl::SimpleAtoi(std::string(*c), &ms) || ms < 0) return std::nullopt;
  return absl::Milliseconds(ms);
}

std::optional<absl::Duration> ParseRetryAfter(absl::string_view value, absl::Time now) {
  const std::string text(absl::StripAsciiWhitespace(value));
  if (text.empty()) return std::nullopt;
  int64_t seconds = 0;
  if (absl::ascii_isdigit(static_cast<unsigned char>(text[0]))) {
    if (!absl::SimpleAtoi(text, &seconds) || seconds < 0) return std::nullopt;
    return absl::Seconds(seconds);
  }
  absl::Time at;
  std::string error;
  if (!absl::ParseTime("%a, %d %b %Y %H:%M:%S GMT", text, absl::UTCTimeZone(), &at, &error)) {
    return std::nullopt;
  }
  return std::max(absl::ZeroDuration(), at - now);
}

}  // namespace meldpunt::notification
