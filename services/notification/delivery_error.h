// What a failed delivery attempt means, said where the failure is made: the mailer and the
// webhook sender know whether the other side refused for good (SMTP 5xx, HTTP 4xx) or only for
// now (SMTP 4xx, HTTP 5xx/408/429, no connection, a timeout), and attach that to the status
// (like google.rpc.RetryInfo) so that NotificationLogic acts on it instead of guessing from the
// status code. A webhook's Retry-After travels the same way.
//
//   if (reply >= 500) return PermanentFailure(absl::StatusCode::kFailedPrecondition, detail);
//   return TemporaryFailure(absl::StatusCode::kUnavailable, detail, RetryAfter(header, now));
//   ...
//   if (IsPermanent(sent)) dead-letter now; else retry, not before RetryAfterOf(sent)
#pragma once

#include <optional>
#include "absl/strings/string_view.h"

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace meldpunt::notification {

// May pass if tried again later. `retry_after`: the other side asked us to wait this long.
absl::Status TemporaryFailure(absl::StatusCode code, absl::string_view message,
                              std::optional<absl::Duration> retry_after = std::nullopt);
// Will fail however often it is tried: the message is dead-lettered at once.
absl::Status PermanentFailure(absl::StatusCode code, absl::string_view message);

// True only for a status marked by PermanentFailure. An error nobody classified (an unexpected
// one) counts as temporary: it is retried for notification.retry_for rather than losing a letter.
bool IsPermanent(const absl::Status& status);
// The wait a TemporaryFailure carries, if any.
std::optional<absl::Duration> RetryAfterOf(const absl::Status& status);

// An HTTP Retry-After value: delta-seconds ("120") or an HTTP-date ("Wed, 21 Oct 2026 07:28:00
// GMT"), as a wait from `now` (never negative); nullopt when it is neither.
std::optional<absl::Duration> ParseRetryAfter(absl::string_view value, absl::Time now);

}  // namespace meldpunt::notification
