// Delivering webhooks. WebhookSender POSTs a JSON body to a receiver's URL through libcurl,
// signed the Standard Webhooks way (webhook-id, webhook-timestamp, webhook-signature), after
// checking that the URL does not lead into a private network: every address the host resolves
// to must be public unless it lies in an allowed range, and the request is pinned to the checked
// addresses, so a DNS answer that changes in between (rebinding) cannot redirect it.
//
//   ASSIGN_OR_RETURN(WebhookSender sender, WebhookSender::Create({}));
//   RETURN_IF_ERROR(sender.Send({.url = "https://hooks.example.org/meldpunt", .secret = key},
//                               {.id = delivery_id, .body = json, .timestamp = absl::Now(),
//                                .case_id = "MP-0123456789ABC"}));
//
// A receiver verifies: base64(HMAC-SHA256(secret, "<webhook-id>.<webhook-timestamp>.<body>"))
// equals the part after "v1," of webhook-signature.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace meldpunt::notification {

struct WebhookTarget {
  std::string url;     // http:// or https://
  std::string secret;  // HMAC key (raw bytes); must not be empty
};

struct WebhookMessage {
  std::string id;        // the idempotency key; the same on every retry
  std::string body;      // JSON
  absl::Time timestamp;  // when this attempt is made
  std::string case_id;   // for logs only
};

struct WebhookOptions {
  // CIDR ranges a target may resolve into although private/loopback/link-local (e.g.
  // "127.0.0.0/8", "::1/128"). A bare address means that one address.
  std::vector<std::string> allow_private;
  absl::Duration connect_timeout = absl::Seconds(5);
  absl::Duration timeout = absl::Seconds(15);  // whole request
};

class WebhookSender {
 public:
  // INVALID_ARGUMENT naming `webhook.allow_private[i]` for a bad CIDR (or `webhook.timeout` /
  // `webhook.connect_timeout` when not positive).
  static absl::StatusOr<WebhookSender> Create(WebhookOptions options);

  // POSTs body with Content-Type application/json and the Standard Webhooks headers:
  //   webhook-id: <id>, webhook-timestamp: <unix seconds>,
  //   webhook-signature: v1,<base64 HMAC-SHA256(secret, "<id>.<timestamp>.<body>")>
  // plus X-Meldpunt-Idempotency-Key: <id>. Outcome, classified here (delivery_error.h): OK for
  // 2xx; a TemporaryFailure (UNAVAILABLE) for connection errors, timeouts, a name that does not
  // resolve, 408, 425, 429 and 5xx, carrying the wait of a Retry-After header on 429 and 503; a
  // PermanentFailure for other statuses (INVALID_ARGUMENT: a 4xx, or a 3xx: redirects are not
  // followed), for a message or target that can never go (INVALID_ARGUMENT: bad URL, no secret,
  // no id) and for a refused target (PERMISSION_DENIED, see CheckTarget). Error messages name the
  // target by scheme, host and port only (a path may hold a token) and quote the start of the
  // response body. Thread-safe.
  absl::Status Send(const WebhookTarget& target, const WebhookMessage& message) const;

  // The target's scheme must be http or https, with a host (else INVALID_ARGUMENT); the host is
  // resolved (getaddrinfo; a failure is UNAVAILABLE) and refused (PERMISSION_DENIED, saying
  // which address and why) if ANY address is loopback, private (10/8, 172.16/12, 192.168/16,
  // 100.64/10, fc00::/7), link-local (169.254/16, fe80::/10), unspecified (0/8, ::), multicast,
  // broadcast or reserved (240/4), unless it lies in an allow_private range. IPv4-mapped IPv6
  // addresses (::ffff:a.b.c.d) are judged, and allowed, as the IPv4 address; NAT64
  // (64:ff9b::/96) and 6to4 (2002::/16) addresses by the IPv4 address inside. Resolution is not
  // bounded by the timeouts (the system resolver's own limits apply). Returns the addresses to
  // connect to, as text ("127.0.0.1", "::1").
  absl::StatusOr<std::vector<std::string>> CheckTarget(const std::string& url) const;

  // "v1," + base64(HMAC-SHA256(secret, "<id>.<timestamp_seconds>.<body>")).
  static std::string Sign(const std::string& secret, const std::string& id,
                          int64_t timestamp_seconds, const std::string& body);

  // The most of a response body kept; the rest is not read.
  static constexpr size_t kMaxResponseBytes = 64 * 1024;

 private:
  // An address range; IPv4 is kept as IPv4-mapped IPv6, so one comparison serves both.
  struct Range {
    std::array<uint8_t, 16> network;
    int prefix_bits;  // of the 128
  };
  struct Target;

  explicit WebhookSender(WebhookOptions options, std::vector<Range> allowed)
      : options_(std::move(options)), allowed_(std::move(allowed)) {}
  absl::StatusOr<Target> Resolve(const std::string& url) const;

  WebhookOptions options_;
  std::vector<Range> allowed_;
};

}  // namespace meldpunt::notification
