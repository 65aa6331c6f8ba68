// What a caller should do about an error, carried on the status itself (a payload, in the spirit
// of google.rpc.RetryInfo) by the code that made it, so that a loop far away acts on it without
// guessing from the status code:
//
//   return status::InPlace(absl::UnavailableError("redis 10.0.0.5:6379: connection refused"));
//   return status::GiveUp(absl::InternalError("template 'ack': unknown variable"));
//   ...
//   switch (status::RetryOf(handled)) { case status::Retry::kInPlace: ... }
//
// - kInPlace: the fault is elsewhere (Kafka or Redis down, a leader moving): try the same thing
//   again, for as long as it takes.
// - kRecreateClient: the client cannot be used again (a fatal Kafka producer error): the process
//   recreates it (here: readiness turns red and the process exits to be restarted); the work is
//   retried by the next owner.
// - kGiveUp: this input can never succeed (bad bytes, a template that cannot render it): retrying
//   changes nothing; set it aside (a dead letter) and go on.
// - kUnclassified: no payload. RetryOf falls back on the code, for errors made outside our code.
#pragma once

#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace meldpunt::status {

enum class Retry { kUnclassified, kInPlace, kRecreateClient, kGiveUp };

// The payload's type URL.
inline constexpr absl::string_view kRetryPayload = "type.meldpunt.io/meldpunt.status.Retry";

// `status` with the payload set (an OK status stays OK).
absl::Status WithRetry(absl::Status status, Retry retry);
inline absl::Status InPlace(absl::Status status) {
  return WithRetry(std::move(status), Retry::kInPlace);
}
inline absl::Status RecreateClient(absl::Status status) {
  return WithRetry(std::move(status), Retry::kRecreateClient);
}
inline absl::Status GiveUp(absl::Status status) {
  return WithRetry(std::move(status), Retry::kGiveUp);
}

// The payload, or kUnclassified without one.
Retry RetryPayload(const absl::Status& status);

// What to do: the payload when there is one; otherwise by code: UNAVAILABLE, DEADLINE_EXCEEDED,
// ABORTED and RESOURCE_EXHAUSTED in place; INTERNAL and UNKNOWN kUnclassified (the caller decides,
// e.g. a few retries and then give up); every other code kGiveUp. OK: kUnclassified.
Retry RetryOf(const absl::Status& status);

// "in_place", "recreate_client", "give_up", "unclassified".
absl::string_view RetryName(Retry retry);

}  // namespace meldpunt::status
