#include "libs/status/retry.h"

#include "absl/strings/cord.h"

namespace meldpunt::status {

absl::Status WithRetry(absl::Status status, Retry retry) {
  if (status.ok()) return status;
  if (retry == Retry::kUnclassified) {
    status.ErasePayload(kRetryPayload);
  } else {
    status.SetPayload(kRetryPayload, absl::Cord(RetryName(retry)));
  }
  return status;
}

Retry RetryPayload(const absl::Status& status) {
  absl::optional<absl::Cord> payload = status.GetPayload(kRetryPayload);
  if (!payload) return Retry::kUnclassified;
  if (*payload == RetryName(Retry::kInPlace)) return Retry::kInPlace;
  if (*payload == RetryName(Retry::kRecreateClient)) return Retry::kRecreateClient;
  if (*payload == RetryName(Retry::kGiveUp)) return Retry::kGiveUp;
  return Retry::kUnclassified;
}

Retry RetryOf(const absl::Status& status) {
  if (status.ok()) return Retry::kUnclassified;
  if (Retry payload = RetryPayload(status); payload != Retry::kUnclassified) return payload;
  switch (status.code()) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kResourceExhausted:
      return Retry::kInPlace;
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kUnknown:
      return Retry::kUnclassified;
    default:
      return Retry::kGiveUp;
  }
}

absl::string_view RetryName(Retry retry) {
  switch (retry) {
    case Retry::kInPlace:
      return "in_place";
    case Retry::kRecreateClient:
      return "recreate_client";
    case Retry::kGiveUp:
      return "give_up";
    case Retry::kUnclassified:
      break;
  }
  return "unclassified";
}

}  // namespace meldpunt::status
