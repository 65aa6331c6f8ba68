#include "services/notification/webhook.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "libs/status/status_macros.h"
#include "services/notification/delivery_error.h"

namespace meldpunt::notification {
namespace {

using Address = std::array<uint8_t, 16>;  // IPv6; IPv4 as IPv4-mapped (::ffff:a.b.c.d)

constexpr size_t kQuotedBodyBytes = 200;

Address MapV4(const uint8_t v4[4]) {
  Address a{};
  a[10] = a[11] = 0xff;
  std::memcpy(a.data() + 12, v4, 4);
  return a;
}

bool IsMappedV4(const Address& a) {
  for (int i = 0; i < 10; ++i)
    if (a[i] != 0) return false;
  return a[10] == 0xff && a[11] == 0xff;
}

std::optional<Address> ParseAddress(const std::string& text) {
  uint8_t buffer[16];
  if (inet_pton(AF_INET, text.c_str(), buffer) == 1) return MapV4(buffer);
  if (inet_pton(AF_INET6, text.c_str(), buffer) == 1) {
    Address a;
    std::memcpy(a.data(), buffer, 16);
    return a;
  }
  return std::nullopt;
}

std::string FormatAddress(const Address& a) {
  char text[INET6_ADDRSTRLEN] = {0};
  if (IsMappedV4(a)) {
    inet_ntop(AF_INET, a.data() + 12, text, sizeof text);
  } else {
    inet_ntop(AF_INET6, a.data(), text, sizeof text);
  }
  return text;
}

bool InPrefix(const Address& a, const Address& network, int bits) {
  for (int i = 0; i < 16 && bits > 0; ++i, bits -= 8) {
    const uint8_t mask = bits >= 8 ? 0xff : static_cast<uint8_t>(0xff << (8 - bits));
    if ((a[i] & mask) != (network[i] & mask)) return false;
  }
  return true;
}

// Why an IPv4 address is not a public one (empty when it is).
std::string RefuseV4(const uint8_t* v) {
  struct Rule {
    uint8_t network[4];
    int bits;
    const char* why;
  };
  static constexpr Rule kRules[] = {
      {{0, 0, 0, 0}, 8, "an unspecified address (0.0.0.0/8)"},
      {{10, 0, 0, 0}, 8, "a private address (10.0.0.0/8)"},
      {{100, 64, 0, 0}, 10, "a private address (carrier-grade NAT, 100.64.0.0/10)"},
      {{127, 0, 0, 0}, 8, "a loopback address (127.0.0.0/8)"},
      {{169, 254, 0, 0}, 16, "a link-local address (169.254.0.0/16)"},
      {{172, 16, 0, 0}, 12, "a private address (172.16.0.0/12)"},
      {{192, 168, 0, 0}, 16, "a private address (192.168.0.0/16)"},
      {{224, 0, 0, 0}, 4, "a multicast address (224.0.0.0/4)"},
      {{255, 255, 255, 255}, 32, "the broadcast address"},
      {{240, 0, 0, 0}, 4, "a reserved address (240.0.0.0/4)"},
  };
  const Address a = MapV4(v);
  for (const Rule& rule : kRules) {
    if (InPrefix(a, MapV4(rule.network), 96 + rule.bits)) return rule.why;
  }
  return "";
}

// Why an address may not be connected to without an allow_private range (empty when it may).
std::string Refuse(const Address& a) {
  if (IsMappedV4(a)) return RefuseV4(a.data() + 12);
  static const Address kNat64 = *ParseAddress("64:ff9b::");
  if (InPrefix(a, kNat64, 96)) {
    std::string why = RefuseV4(a.data() + 12);
    return why.empty() ? "" : absl::StrCat("NAT64 (64:ff9b::/96) for ", why);
  }
  static const Address k6to4 = *ParseAddress("2002::");
  if (InPrefix(a, k6to4, 16)) {
    std::string why = RefuseV4(a.data() + 2);
    return why.empty() ? "" : absl::StrCat("6to4 (2002::/16) for ", why);
  }
  struct Rule {
    const char* network;
    int bits;
    const char* why;
  };
  static constexpr Rule kRules[] = {
      {"::", 128, "the unspecified address (::)"},
      {"::1", 128, "the loopback address (::1)"},
      {"::", 96, "a reserved address (IPv4-compatible, ::/96)"},
      {"fc00::", 7, "a private address (unique local, fc00::/7)"},
      {"fe80::", 10, "a link-local address (fe80::/10)"},
      {"fec0::", 10, "a private address (site-local, fec0::/10)"},
      {"ff00::", 8, "a multicast address (ff00::/8)"},
  };
  for (const Rule& rule : kRules) {
    if (InPrefix(a, *ParseAddress(rule.network), rule.bits)) return rule.why;
  }
  return "";
}

bool HasControlCharacter(const std::string& s) {
  return std::any_of(s.begin(), s.end(),
                     [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}

// The start of a response body, safe for one log line: control characters become spaces and a
// UTF-8 sequence is not cut in half.
std::string Quote(const std::string& body, bool truncated) {
  if (body.empty()) return "(empty body)";
  size_t n = std::min(body.size(), kQuotedBodyBytes);
  if (n < body.size()) {
    while (n > 0 && (static_cast<unsigned char>(body[n]) & 0xC0) == 0x80) --n;
  }
  std::string out = body.substr(0, n);
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  }
  if (n < body.size() || truncated) out += "...";
  return out;
}

struct UrlDeleter {
  void operator()(CURLU* url) const { curl_url_cleanup(url); }
};
struct EasyDeleter {
  void operator()(CURL* curl) const { curl_easy_cleanup(curl); }
};
struct ListDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};

std::string UrlPart(CURLU* url, CURLUPart part, unsigned flags = 0) {
  char* value = nullptr;
  if (curl_url_get(url, part, &value, flags) != CURLUE_OK || value == nullptr) return "";
  std::string out = value;
  curl_free(value);
  return out;
}

// What the socket callback may connect to; it notes an attempt at anything else.
struct Pin {
  const std::vector<Address>* addresses;
  std::string refused;  // the address curl tried that was not checked
};

curl_socket_t OpenSocket(void* user, curlsocktype purpose, curl_sockaddr* address) {
  auto* pin = static_cast<Pin*>(user);
  std::optional<Address> a;
  if (address->family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&address->addr);
    a = MapV4(reinterpret_cast<const uint8_t*>(&in->sin_addr));
  } else if (address->family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&address->addr);
    a.emplace();
    std::memcpy(a->data(), &in6->sin6_addr, 16);
  }
  if (!a ||
      std::find(pin->addresses->begin(), pin->addresses->end(), *a) == pin->addresses->end()) {
    pin->refused = a ? FormatAddress(*a) : absl::StrCat("an address of family ", address->family);
    return CURL_SOCKET_BAD;
  }
  return socket(address->family, address->socktype, address->protocol);
}

struct Response {
  std::string body;
  bool truncated = false;  // more than kMaxResponseBytes came; the transfer was cut off there
};

size_t WriteCallback(char* data, size_t size, size_t count, void* user) {
  auto* response = static_cast<Response*>(user);
  const size_t n = size * count;
  const size_t room = WebhookSender::kMaxResponseBytes - response->body.size();
  if (n > room) {
    response->body.append(data, room);
    response->truncated = true;
    return 0;  // stops the transfer (CURLE_WRITE_ERROR); the status line is in by now
  }
  response->body.append(data, n);
  return n;
}

bool RetryableStatus(long status) {
  return status == 408 || status == 425 || status == 429 || (status >= 500 && status <= 599);
}

}  // namespace

struct WebhookSender::Target {
  std::unique_ptr<CURLU, UrlDeleter> url;
  std::string origin;  // scheme://host:port, for messages (the path may hold a token)
  std::string host;    // as curl will look it up (IPv6 literals in brackets)
  long port = 0;
  bool literal = false;  // the host is an IP address: nothing to resolve
  std::vector<Address> addresses;
};

absl::StatusOr<WebhookSender> WebhookSender::Create(WebhookOptions options) {
  static std::once_flag curl_init;
  // Reference-counted in libcurl, so harmless where main() has called it already.
  std::call_once(curl_init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (options.connect_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat("webhook.connect_timeout: must be positive, is ",
                                                   absl::FormatDuration(options.connect_timeout)));
  }
  if (options.timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat("webhook.timeout: must be positive, is ",
                                                   absl::FormatDuration(options.timeout)));
  }
  std::vector<Range> allowed;
  for (size_t i = 0; i < options.allow_private.size(); ++i) {
    const std::string& cidr = options.allow_private[i];
    const std::string field = absl::StrCat("webhook.allow_private[", i, "]");
    std::vector<std::string> parts = absl::StrSplit(cidr, absl::MaxSplits('/', 1));
    std::optional<Address> network = ParseAddress(parts[0]);
    if (!network) {
      return absl::InvalidArgumentError(absl::StrCat(
          field, ": \"", absl::CHexEscape(cidr),
          "\" is not a CIDR range: expected an IPv4 or IPv6 address and a prefix length, like "
          "\"127.0.0.0/8\" or \"::1/128\""));
    }
    const bool v4 = IsMappedV4(*network) && parts[0].find(':') == std::string::npos;
    const int max_bits = v4 ? 32 : 128;
    int bits = max_bits;
    if (parts.size() == 2 &&
        (!absl::SimpleAtoi(parts[1], &bits) || bits < 0 || bits > max_bits || parts[1].empty() ||
         !absl::ascii_isdigit(static_cast<unsigned char>(parts[1][0])))) {
      return absl::InvalidArgumentError(absl::StrCat(
          field, ": \"", absl::CHexEscape(cidr), "\" has a bad prefix length: expected 0 to ",
          max_bits, " for an IPv", v4 ? 4 : 6, " range"));
    }
    const int prefix_bits = v4 ? 96 + bits : bits;
    Address masked{};
    for (int b = 0; b < 16; ++b) {
      const int keep = std::clamp(prefix_bits - 8 * b, 0, 8);
      masked[b] = (*network)[b] & static_cast<uint8_t>(0xff << (8 - keep));
    }
    if (masked != *network) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": \"", cidr, "\" has host bits set beyond the /", bits,
                       " prefix (did you mean \"", FormatAddress(masked), "/", bits, "\"?)"));
    }
    allowed.push_back({*network, prefix_bits});
  }
  return WebhookSender(std::move(options), std::move(allowed));
}

absl::StatusOr<WebhookSender::Target> WebhookSender::Resolve(const std::string& url) const {
  Target target;
  target.url.reset(curl_url());
  if (target.url == nullptr)
    return TemporaryFailure(absl::StatusCode::kInternal, "curl_url failed");
  if (HasControlCharacter(url)) {
    return PermanentFailure(absl::StatusCode::kInvalidArgument,
                            "webhook target URL has a control character");
  }
  if (CURLUcode rc = curl_url_set(target.url.get(), CURLUPART_URL, url.c_str(), 0);
      rc != CURLUE_OK) {
    return PermanentFailure(absl::StatusCode::kInvalidArgument,
                            absl::StrCat("webhook target URL is not valid: ", curl_url_strerror(rc),
                                         " (expected http:// or https:// with a host)"));
  }
  const std::string scheme = absl::AsciiStrToLower(UrlPart(target.url.get(), CURLUPART_SCHEME));
  if (scheme != "http" && scheme != "https") {
    return PermanentFailure(
        absl::StatusCode::kInvalidArgument,
        absl::StrCat("webhook target URL has scheme \"", scheme, "\": only http and https"));
  }
  target.host = UrlPart(target.url.get(), CURLUPART_HOST);
  if (target.host.empty()) {
    return PermanentFailure(absl::StatusCode::kInvalidArgument, "webhook target URL has no host");
  }
  const std::string port = UrlPart(target.url.get(), CURLUPART_PORT, CURLU_DEFAULT_PORT);
  if (!absl::SimpleAtoi(port, &target.port) || target.port <= 0 || target.port > 65535) {
    return PermanentFailure(absl::StatusCode::kInvalidArgument,
                            absl::StrCat("webhook target URL has a bad port: ", port));
  }
  target.origin = absl::StrCat(scheme, "://", target.host, ":", target.port);

  std::string bare = target.host;
  if (bare.size() > 2 && bare.front() == '[' && bare.back() == ']') {
    bare = bare.substr(1, bare.size() - 2);
  }
  if (std::optional<Address> literal = ParseAddress(bare)) {
    target.literal = true;
    target.addresses.push_back(*literal);
  } else {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    if (int rc = getaddrinfo(bare.c_str(), nullptr, &hints, &found); rc != 0) {
      return TemporaryFailure(absl::StatusCode::kUnavailable,
                              absl::StrCat("webhook target ", target.origin, ": cannot resolve ",
                                           bare, ": ", gai_strerror(rc)));
    }
    for (addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
      Address a{};
      if (ai->ai_family == AF_INET) {
        a = MapV4(reinterpret_cast<const uint8_t*>(
            &reinterpret_cast<const sockaddr_in*>(ai->ai_addr)->sin_addr));
      } else if (ai->ai_family == AF_INET6) {
        std::memcpy(a.data(), &reinterpret_cast<const sockaddr_in6*>(ai->ai_addr)->sin6_addr, 16);
      } else {
        continue;
      }
      if (std::find(target.addresses.begin(), target.addresses.end(), a) ==
          target.addresses.end()) {
        target.addresses.push_back(a);
      }
    }
    freeaddrinfo(found);
    if (target.addresses.empty()) {
      return TemporaryFailure(absl::StatusCode::kUnavailable,
                              absl::StrCat("webhook target ", target.origin, ": ", bare,
                                           " resolves to no IPv4 or IPv6 address"));
    }
  }

  for (const Address& a : target.addresses) {
    const std::string why = Refuse(a);
    if (why.empty()) continue;
    const bool allowed = std::any_of(allowed_.begin(), allowed_.end(), [&](const Range& range) {
      return InPrefix(a, range.network, range.prefix_bits);
    });
    if (allowed) continue;
    return PermanentFailure(
        absl::StatusCode::kPermissionDenied,
        absl::StrCat("webhook target ", target.origin,
                     " refused: ", target.literal ? "it is " : absl::StrCat(bare, " resolves to "),
                     FormatAddress(a), ", ", why,
                     "; only public addresses are allowed unless webhook.allow_private has a range "
                     "that holds it"));
  }
  return target;
}

absl::StatusOr<std::vector<std::string>> WebhookSender::CheckTarget(const std::string& url) const {
  ASSIGN_OR_RETURN(Target target, Resolve(url));
  std::vector<std::string> out;
  for (const Address& a : target.addresses) out.push_back(FormatAddress(a));
  return out;
}

std::string WebhookSender::Sign(const std::string& secret, const std::string& id,
                                int64_t timestamp_seconds, const std::string& body) {
  const std::string content = absl::StrCat(id, ".", timestamp_seconds, ".", body);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(content.data()), content.size(), mac, &length);
  return absl::StrCat(
      "v1,", absl::Base64Escape(absl::string_view(reinterpret_cast<const char*>(mac), length)));
}

absl::Status WebhookSender::Send(const WebhookTarget& target, const WebhookMessage& message) const {
  const std::string what =
      absl::StrCat("webhook delivery ", message.id, " for case ", message.case_id);
  if (message.id.empty() || HasControlCharacter(message.id)) {
    return PermanentFailure(
        absl::StatusCode::kInvalidArgument,
        absl::StrCat(what, ": the id (webhook-id) is empty or has a control character"));
  }
  if (target.secret.empty()) {
    return PermanentFailure(
        absl::StatusCode::kInvalidArgument,
        absl::StrCat(what, ": the target has no secret, so it could not be signed"));
  }
  if (message.timestamp == absl::InfinitePast() || message.timestamp == absl::InfiniteFuture() ||
      message.timestamp == absl::UnixEpoch()) {
    return PermanentFailure(
        absl::StatusCode::kInvalidArgument,
        absl::StrCat(what, ": timestamp not set (it is the time of this attempt)"));
  }
  absl::StatusOr<Target> resolved = Resolve(target.url);
  if (!resolved.ok()) {
    const std::string message = absl::StrCat(what, ": ", resolved.status().message());
    return IsPermanent(resolved.status()) ? PermanentFailure(resolved.status().code(), message)
                                          : TemporaryFailure(resolved.status().code(), message);
  }

  const int64_t timestamp = absl::ToUnixSeconds(message.timestamp);
  std::unique_ptr<curl_slist, ListDeleter> headers;
  for (const std::string& header : {
           std::string("Content-Type: application/json"), absl::StrCat("webhook-id: ", message.id),
           absl::StrCat("webhook-timestamp: ", timestamp),
           absl::StrCat("webhook-signature: ",
                        Sign(target.secret, message.id, timestamp, message.body)),
           absl::StrCat("X-Meldpunt-Idempotency-Key: ", message.id),
           std::string("Expect:"),  // no 100-continue round trip
       }) {
    curl_slist* grown = curl_slist_append(headers.get(), header.c_str());
    if (grown == nullptr)
      return TemporaryFailure(absl::StatusCode::kResourceExhausted, "curl_slist_append failed");
    headers.release();
    headers.reset(grown);
  }
  // Pin the checked addresses: curl takes them instead of asking DNS again (a literal needs none).
  std::unique_ptr<curl_slist, ListDeleter> resolve;
  if (!resolved->literal) {
    std::vector<std::string> addresses;
    for (const Address& a : resolved->addresses) {
      addresses.push_back(IsMappedV4(a) ? FormatAddress(a)
                                        : absl::StrCat("[", FormatAddress(a), "]"));
    }
    const std::string entry =
        absl::StrCat(resolved->host, ":", resolved->port, ":", absl::StrJoin(addresses, ","));
    resolve.reset(curl_slist_append(nullptr, entry.c_str()));
    if (resolve == nullptr)
      return TemporaryFailure(absl::StatusCode::kResourceExhausted, "curl_slist_append failed");
  }

  std::unique_ptr<CURL, EasyDeleter> curl(curl_easy_init());
  if (curl == nullptr)
    return TemporaryFailure(absl::StatusCode::kInternal, "curl_easy_init failed");
  CURL* c = curl.get();
  Pin pin{&resolved->addresses, ""};
  Response response;
  char error[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(c, CURLOPT_CURLU, resolved->url.get());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_PROXY, "");  // no proxy from the environment: connect as checked
  if (resolve != nullptr) curl_easy_setopt(c, CURLOPT_RESOLVE, resolve.get());
  curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, OpenSocket);
  curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, &pin);
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c, CURLOPT_POST, 1L);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, message.body.data());
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(message.body.size()));
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(c, CURLOPT_USERAGENT, "meldpunt-webhook/1");
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, WriteCallback);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &response);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(absl::ToInt64Milliseconds(options_.connect_timeout)));
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS,
                   static_cast<long>(absl::ToInt64Milliseconds(options_.timeout)));
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);

  const CURLcode code = curl_easy_perform(c);
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  const std::string where = absl::StrCat(what, " to ", resolved->origin);
  if (!pin.refused.empty()) {
    return PermanentFailure(absl::StatusCode::kPermissionDenied,
                            absl::StrCat(where, ": refused to connect to ", pin.refused,
                                         ", which is not an address the target was checked at"));
  }
  const bool complete = code == CURLE_OK || (code == CURLE_WRITE_ERROR && response.truncated);
  if (!complete || status == 0) {
    char* ip = nullptr;
    curl_easy_getinfo(c, CURLINFO_PRIMARY_IP, &ip);
    return TemporaryFailure(
        absl::StatusCode::kUnavailable,
        absl::StrCat(where, ": ", error[0] ? error : curl_easy_strerror(code),
                     ip != nullptr && ip[0] ? absl::StrCat(" (at ", ip, ")") : ""));
  }
  if (status >= 200 && status <= 299) return absl::OkStatus();
  std::string detail = absl::StrCat(where, ": HTTP ", status);
  curl_header* retry_after = nullptr;
  std::optional<absl::Duration> wait;
  if (curl_easy_header(c, "Retry-After", 0, CURLH_HEADER, -1, &retry_after) == CURLHE_OK) {
    absl::StrAppend(&detail, " (Retry-After: ", retry_after->value, ")");
    // Too many requests, or down for maintenance: the receiver says when to come back.
    if (status == 429 || status == 503)
      wait = ParseRetryAfter(retry_after->value, message.timestamp);
  }
  if (status >= 300 && status <= 399) absl::StrAppend(&detail, " (redirects are not followed)");
  absl::StrAppend(&detail, ": ", Quote(response.body, response.truncated));
  if (RetryableStatus(status))
    return TemporaryFailure(absl::StatusCode::kUnavailable, detail, wait);
  return PermanentFailure(absl::StatusCode::kInvalidArgument, detail);
}

}  // namespace meldpunt::notification
