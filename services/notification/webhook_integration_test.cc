// WebhookSender against the real webhook sink of the test stack (tests/harness/webhook_sink.py),
// which records every request as a JSON file and can be told to answer with another status or
// late. The signature is checked by Python's hmac, an implementation independent of ours.
#include "services/notification/delivery_error.h"
#include "services/notification/webhook.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <optional>
#include <sstream>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "nlohmann/json.hpp"
#include "tests/testing/stack.h"
#include "tests/testing/webhook_sink.h"

namespace meldpunt::notification {
namespace {

using ::testing::HasSubstr;

struct Record {
  std::filesystem::path file;
  nlohmann::json json;
};

// The request the sink recorded for `path`, if any (the sink's files appear by rename, whole).
std::optional<Record> FindRecord(const std::string& dir, const std::string& path) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.path().extension() != ".json" || entry.path().filename().string()[0] == '.') {
      continue;
    }
    std::ifstream in(entry.path());
    nlohmann::json json = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
    if (json.is_object() && json.value("path", "") == path) return Record{entry.path(), json};
  }
  return std::nullopt;
}

class WebhookSenderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<testing::Stack> stack = testing::LoadStack();
    ASSERT_TRUE(stack.ok()) << stack.status();
    stack_ = *std::move(stack);
    ASSERT_FALSE(stack_.webhook.empty()) << "no webhook sink in the stack";
    auto sender = WebhookSender::Create({.allow_private = {"127.0.0.0/8", "::1/128"},
                                         .connect_timeout = absl::Seconds(5),
                                         .timeout = absl::Seconds(10)});
    ASSERT_TRUE(sender.ok()) << sender.status();
    sender_.emplace(*std::move(sender));
  }

  // The sink is shared: leave it answering 200 at once.
  void TearDown() override {
    if (!stack_.webhook.empty()) EXPECT_EQ(testing::SinkControl(stack_.webhook, "DELETE"), 200);
  }

  void Respond(const std::string& json) {
    ASSERT_EQ(testing::SinkControl(stack_.webhook, "POST", json), 200) << json;
  }

  // A path of its own for each request, so its record is easy to find.
  static std::string UniquePath() {
    const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
    return absl::StrCat("/hooks/", testing::UniqueName(test->name()));
  }

  WebhookTarget Target(const std::string& path) const {
    return {.url = stack_.webhook + path, .secret = "meldpunt-test-secret"};
  }

  static WebhookMessage Message() {
    return {.id = testing::UniqueName("msg"),
            .body = R"({"case_id":"MP-0123456789ABC"})",
            .timestamp = absl::Now(),
            .case_id = "MP-0123456789ABC"};
  }

  std::optional<Record> WaitForRecord(const std::string& path) const {
    std::optional<Record> record;
    testing::Eventually([&] { return (record = FindRecord(stack_.webhook_dir, path)).has_value(); },
                        absl::Seconds(10));
    return record;
  }

  testing::Stack stack_;
  std::optional<WebhookSender> sender_;
};

TEST_F(WebhookSenderTest, SignedDeliveryArrivesWithHeadersAndBody) {
  const std::string path = UniquePath();
  // Raw key bytes, not text: a NUL and bytes that are not UTF-8.
  const std::string secret("k\0\xff\x80-s3cr3t", 10);
  const std::string body = R"({"case_id":"MP-0123456789ABC","text":"Één melding, ü"})";
  const absl::Time now = absl::Now();
  WebhookMessage message{.id = testing::UniqueName("msg"),
                         .body = body,
                         .timestamp = now,
                         .case_id = "MP-0123456789ABC"};
  absl::Status status = sender_->Send({.url = stack_.webhook + path, .secret = secret}, message);
  ASSERT_TRUE(status.ok()) << status;

  std::optional<Record> record = WaitForRecord(path);
  ASSERT_TRUE(record.has_value()) << "nothing recorded for " << path;
  const nlohmann::json& json = record->json;
  EXPECT_EQ(json.value("method", ""), "POST");
  EXPECT_EQ(json.value("body", ""), body);
  EXPECT_EQ(testing::SinkHeader(json, "Content-Type"), "application/json");
  EXPECT_EQ(testing::SinkHeader(json, "webhook-id"), message.id);
  EXPECT_EQ(testing::SinkHeader(json, "X-Meldpunt-Idempotency-Key"), message.id);
  EXPECT_EQ(testing::SinkHeader(json, "webhook-timestamp"),
            std::to_string(absl::ToUnixSeconds(now)));
  const std::string signature = testing::SinkHeader(json, "webhook-signature");
  EXPECT_EQ(signature, WebhookSender::Sign(secret, message.id, absl::ToUnixSeconds(now), body));

  // Independently: Python's hmac over what the sink recorded (id, timestamp and body as they
  // arrived) and the secret.
  const std::string expected = testing::PythonSignature(json, secret);
  ASSERT_FALSE(expected.empty()) << "python3 failed";
  EXPECT_EQ(signature, expected);
}

TEST_F(WebhookSenderTest, ServerErrorIsUnavailableAndRecorded) {
  const std::string path = UniquePath();
  Respond(R"({"status": 503, "count": 1})");
  absl::Status status = sender_->Send(Target(path), Message());
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  EXPECT_THAT(status.ToString(), HasSubstr("HTTP 503"));
  // The start of the response body is in the message.
  EXPECT_THAT(status.ToString(), HasSubstr("injected by the sink"));
  std::optional<Record> record = WaitForRecord(path);
  ASSERT_TRUE(record.has_value());
  EXPECT_EQ(record->json.value("status", 0), 503);
}

TEST_F(WebhookSenderTest, NotFoundIsInvalidArgument) {
  const std::string path = UniquePath();
  Respond(R"({"status": 404, "count": 1})");
  absl::Status status = sender_->Send(Target(path), Message());
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_THAT(status.ToString(), HasSubstr("HTTP 404"));
  // The path is not in the message: it may hold the receiver's token.
  EXPECT_THAT(status.ToString(), ::testing::Not(HasSubstr(path)));
}

TEST_F(WebhookSenderTest, StatusesMapToRetryOrNot) {
  const std::vector<std::pair<int, absl::StatusCode>> cases = {
      {200, absl::StatusCode::kOk},
      {201, absl::StatusCode::kOk},
      {202, absl::StatusCode::kOk},
      {301, absl::StatusCode::kInvalidArgument},
      {400, absl::StatusCode::kInvalidArgument},
      {401, absl::StatusCode::kInvalidArgument},
      {410, absl::StatusCode::kInvalidArgument},
      {408, absl::StatusCode::kUnavailable},
      {425, absl::StatusCode::kUnavailable},
      {429, absl::StatusCode::kUnavailable},
      {500, absl::StatusCode::kUnavailable},
      {502, absl::StatusCode::kUnavailable},
  };
  for (const auto& [http, code] : cases) {
    Respond(absl::StrCat(R"({"status": )", http, R"(, "count": 1})"));
    absl::Status status = sender_->Send(Target(UniquePath()), Message());
    EXPECT_EQ(status.code(), code) << "HTTP " << http << ": " << status;
    // Said by the sender: a 4xx (but 408, 425, 429) or 3xx is refused for good.
    EXPECT_EQ(IsPermanent(status), code == absl::StatusCode::kInvalidArgument)
        << "HTTP " << http << ": " << status;
  }
}

// A receiver on loopback that answers one request with `response` (the test sink cannot send a
// Retry-After header). Returns its URL; the thread ends after the answer.
class OneAnswer {
 public:
  explicit OneAnswer(std::string response) {
    listener_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        listen(listener_, 1) != 0 ||
        getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      ADD_FAILURE() << "no loopback listener";
      return;
    }
    url = absl::StrCat("http://127.0.0.1:", ntohs(address.sin_port), "/hook");
    thread_ = std::thread([this, response = std::move(response)] {
      const int connection = accept(listener_, nullptr, nullptr);
      if (connection < 0) return;
      std::string request;
      char buffer[4096];
      // The headers, then the body curl sends with them (small: it comes at once).
      while (request.find("\r\n\r\n") == std::string::npos) {
        const ssize_t n = read(connection, buffer, sizeof buffer);
        if (n <= 0) break;
        request.append(buffer, static_cast<size_t>(n));
      }
      (void)!write(connection, response.data(), response.size());
      close(connection);
    });
  }
  ~OneAnswer() {
    if (thread_.joinable()) thread_.join();
    if (listener_ >= 0) close(listener_);
  }
  std::string url;

 private:
  int listener_ = -1;
  std::thread thread_;
};

TEST_F(WebhookSenderTest, RetryAfterOf429And503TravelsWithTheTemporaryFailure) {
  const absl::Time now = absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now()));
  WebhookMessage message = Message();
  message.timestamp = now;
  {
    OneAnswer receiver(
        "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 120\r\nContent-Length: 0\r\n"
        "Connection: close\r\n\r\n");
    const absl::Status status =
        sender_->Send({.url = receiver.url, .secret = "meldpunt-test-secret"}, message);
    EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
    EXPECT_FALSE(IsPermanent(status));
    EXPECT_EQ(RetryAfterOf(status), absl::Seconds(120)) << status;
  }
  {
    const std::string date =
        absl::FormatTime("%a, %d %b %Y %H:%M:%S GMT", now + absl::Minutes(5), absl::UTCTimeZone());
    OneAnswer receiver(absl::StrCat("HTTP/1.1 503 Service Unavailable\r\nRetry-After: ", date,
                                    "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"));
    const absl::Status status =
        sender_->Send({.url = receiver.url, .secret = "meldpunt-test-secret"}, message);
    EXPECT_FALSE(IsPermanent(status)) << status;
    EXPECT_EQ(RetryAfterOf(status), absl::Minutes(5)) << status;
  }
  {
    // Only 429 and 503 say when to come back.
    OneAnswer receiver(
        "HTTP/1.1 500 Internal Server Error\r\nRetry-After: 120\r\nContent-Length: 0\r\n"
        "Connection: close\r\n\r\n");
    const absl::Status status =
        sender_->Send({.url = receiver.url, .secret = "meldpunt-test-secret"}, message);
    EXPECT_FALSE(IsPermanent(status)) << status;
    EXPECT_EQ(RetryAfterOf(status), std::nullopt) << status;
  }
}

TEST_F(WebhookSenderTest, SlowEndpointTimesOutAsUnavailable) {
  auto sender = WebhookSender::Create({.allow_private = {"127.0.0.0/8"},
                                       .connect_timeout = absl::Seconds(1),
                                       .timeout = absl::Seconds(1)});
  ASSERT_TRUE(sender.ok()) << sender.status();
  const std::string path = UniquePath();
  Respond(R"({"delay_ms": 3000, "count": 1})");
  const absl::Time start = absl::Now();
  absl::Status status = sender->Send(Target(path), Message());
  const absl::Duration took = absl::Now() - start;
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  EXPECT_FALSE(IsPermanent(status)) << "a timeout is temporary";
  EXPECT_LT(took, absl::Seconds(10));
  // It did arrive (the sink records before it waits): a retry must be idempotent.
  EXPECT_TRUE(WaitForRecord(path).has_value());
}

TEST_F(WebhookSenderTest, SlowRequestDoesNotHoldUpOthers) {
  const std::string slow_path = UniquePath();
  Respond(R"({"delay_ms": 3000, "count": 1})");
  std::future<absl::Status> slow =
      std::async(std::launch::async, [&] { return sender_->Send(Target(slow_path), Message()); });
  ASSERT_TRUE(WaitForRecord(slow_path).has_value());  // it has taken the delay
  const std::string fast_path = UniquePath();
  absl::Status fast = sender_->Send(Target(fast_path), Message());
  EXPECT_TRUE(fast.ok()) << fast;
  EXPECT_EQ(slow.wait_for(std::chrono::seconds(0)), std::future_status::timeout)
      << "the slow request finished before the fast one: the sink or the sender serialised them";
  absl::Status slow_status = slow.get();
  EXPECT_TRUE(slow_status.ok()) << slow_status;
}

TEST_F(WebhookSenderTest, SendsFromManyThreadsAtOnce) {
  constexpr int kThreads = 8;
  std::vector<std::string> paths;
  for (int i = 0; i < kThreads; ++i) paths.push_back(UniquePath());
  std::vector<std::future<absl::Status>> results;
  for (int i = 0; i < kThreads; ++i) {
    results.push_back(std::async(std::launch::async,
                                 [&, i] { return sender_->Send(Target(paths[i]), Message()); }));
  }
  for (int i = 0; i < kThreads; ++i) {
    absl::Status status = results[i].get();
    EXPECT_TRUE(status.ok()) << status;
    EXPECT_TRUE(WaitForRecord(paths[i]).has_value()) << paths[i];
  }
}

TEST_F(WebhookSenderTest, LoopbackTargetIsRefusedWithoutAllowPrivate) {
  auto strict = WebhookSender::Create({});
  ASSERT_TRUE(strict.ok()) << strict.status();
  const std::string path = UniquePath();
  absl::Status status = strict->Send(Target(path), Message());
  EXPECT_EQ(status.code(), absl::StatusCode::kPermissionDenied) << status;
  EXPECT_TRUE(IsPermanent(status)) << "a refused target is refused for good";
  EXPECT_THAT(status.ToString(), HasSubstr("127.0.0.1"));
  EXPECT_THAT(status.ToString(), HasSubstr("loopback"));
  // By name too: localhost resolves to loopback.
  const std::string port = stack_.webhook.substr(stack_.webhook.rfind(':'));
  WebhookTarget by_name = {.url = "http://localhost" + port + path, .secret = "s"};
  status = strict->Send(by_name, Message());
  EXPECT_EQ(status.code(), absl::StatusCode::kPermissionDenied) << status;
  EXPECT_THAT(status.ToString(), HasSubstr("localhost resolves to"));
  // A request that would arrive is recorded within milliseconds; give it ample time.
  absl::SleepFor(absl::Milliseconds(500));
  EXPECT_FALSE(FindRecord(stack_.webhook_dir, path).has_value());
}

TEST_F(WebhookSenderTest, HostNameIsDeliveredWhenItsRangeIsAllowed) {
  // Goes through getaddrinfo and the CURLOPT_RESOLVE pin (a literal address needs neither).
  const std::string port = stack_.webhook.substr(stack_.webhook.rfind(':'));
  absl::StatusOr<std::vector<std::string>> addresses =
      sender_->CheckTarget("http://localhost" + port + "/");
  ASSERT_TRUE(addresses.ok()) << addresses.status();
  EXPECT_NE(std::find(addresses->begin(), addresses->end(), "127.0.0.1"), addresses->end());
  const std::string path = UniquePath();
  absl::Status status =
      sender_->Send({.url = "http://LocalHost" + port + path, .secret = "s"}, Message());
  EXPECT_TRUE(status.ok()) << status;
  EXPECT_TRUE(WaitForRecord(path).has_value());
}

TEST_F(WebhookSenderTest, PrivateAndSpecialAddressesAreRefused) {
  auto strict = WebhookSender::Create({});
  ASSERT_TRUE(strict.ok()) << strict.status();
  absl::Status status = strict->Send({.url = "http://10.0.0.1/hook", .secret = "s"}, Message());
  EXPECT_EQ(status.code(), absl::StatusCode::kPermissionDenied) << status;
  EXPECT_THAT(status.ToString(), HasSubstr("10.0.0.1"));
  EXPECT_THAT(status.ToString(), HasSubstr("private"));

  for (const char* url : {
           "http://10.0.0.1/",
           "http://172.16.0.1/",
           "http://172.31.255.255/",
           "http://192.168.1.1/",
           "http://100.64.0.1/",
           "http://127.0.0.1:8080/",
           "http://169.254.169.254/latest/meta-data/",
           "http://0.0.0.0/",
           "http://224.0.0.1/",
           "http://255.255.255.255/",
           "http://240.0.0.1/",
           "http://2130706433/",
           "http://[::1]/",
           "http://[::]/",
           "http://[fe80::1]/",
           "http://[fc00::1]/",
           "http://[fd12:3456::1]/",
           "http://[ff02::1]/",
           "http://[::ffff:10.0.0.1]/",
           "http://[::ffff:127.0.0.1]/",
           "http://[64:ff9b::a9fe:a9fe]/",
           "http://[2002:a00:1::]/",
           "https://127.0.0.1/",
       }) {
    absl::StatusOr<std::vector<std::string>> checked = strict->CheckTarget(url);
    EXPECT_EQ(checked.status().code(), absl::StatusCode::kPermissionDenied)
        << url << ": " << checked.status();
  }
  for (const char* url : {"http://8.8.8.8/hook", "http://172.32.0.1/", "http://100.128.0.1/",
                          "https://[2606:4700:4700::1111]:8443/"}) {
    absl::StatusOr<std::vector<std::string>> checked = strict->CheckTarget(url);
    EXPECT_TRUE(checked.ok()) << url << ": " << checked.status();
  }
  absl::StatusOr<std::vector<std::string>> v6 =
      strict->CheckTarget("https://[2606:4700:4700::1111]/");
  ASSERT_TRUE(v6.ok()) << v6.status();
  EXPECT_EQ(*v6, std::vector<std::string>{"2606:4700:4700::1111"});
}

TEST_F(WebhookSenderTest, AllowPrivateLetsOnlyItsRangesThrough) {
  auto sender = WebhookSender::Create({.allow_private = {"10.0.0.0/8", "fd00::/8"}});
  ASSERT_TRUE(sender.ok()) << sender.status();
  absl::StatusOr<std::vector<std::string>> checked = sender->CheckTarget("http://10.1.2.3/x");
  ASSERT_TRUE(checked.ok()) << checked.status();
  EXPECT_EQ(*checked, std::vector<std::string>{"10.1.2.3"});
  EXPECT_TRUE(sender->CheckTarget("http://[fd00::5]/").ok());
  // IPv4-mapped IPv6 is judged as the IPv4 address, for allowing too.
  EXPECT_TRUE(sender->CheckTarget("http://[::ffff:10.9.9.9]/").ok());
  EXPECT_EQ(sender->CheckTarget("http://192.168.1.1/").status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(sender->CheckTarget("http://127.0.0.1/").status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(sender->CheckTarget("http://[fc00::1]/").status().code(),
            absl::StatusCode::kPermissionDenied);
  // A bare address allows that one address.
  auto single = WebhookSender::Create({.allow_private = {"192.168.1.10"}});
  ASSERT_TRUE(single.ok()) << single.status();
  EXPECT_TRUE(single->CheckTarget("http://192.168.1.10/").ok());
  EXPECT_FALSE(single->CheckTarget("http://192.168.1.11/").ok());
}

TEST_F(WebhookSenderTest, BadCidrIsInvalidArgumentNamingTheField) {
  for (const char* bad : {"10.0.0.0/33", "banana", "10.0.0.1/8", "::1/129", "10.0.0.0/",
                          "10.0.0.0/-1", "10.0.0.0/+8", "10.0.0/8", "", "fe80::1/10x"}) {
    auto sender = WebhookSender::Create({.allow_private = {"127.0.0.0/8", bad}});
    EXPECT_EQ(sender.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(sender.status().ToString(), HasSubstr("webhook.allow_private[1]")) << bad;
  }
  auto host_bits = WebhookSender::Create({.allow_private = {"10.0.0.1/8"}});
  EXPECT_THAT(host_bits.status().ToString(), HasSubstr("10.0.0.0/8")) << host_bits.status();
  for (const char* good : {"127.0.0.0/8", "::1/128", "fc00::/7", "0.0.0.0/0", "192.168.1.10"}) {
    EXPECT_TRUE(WebhookSender::Create({.allow_private = {good}}).ok()) << good;
  }
  auto no_timeout = WebhookSender::Create({.timeout = absl::ZeroDuration()});
  EXPECT_EQ(no_timeout.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(no_timeout.status().ToString(), HasSubstr("webhook.timeout"));
}

TEST_F(WebhookSenderTest, BadTargetsAndMessagesAreInvalidArgument) {
  // (libcurl reads "http:///hook" as host "hook", so that one is not here.)
  for (const char* url : {"ftp://example.org/hook", "file:///etc/passwd", "example.org/hook",
                          "http://:80/hook", "http://user@/hook", "", "http://exa mple.org/",
                          "http://example.org/\r\nX: y", "http://example.org:99999/"}) {
    EXPECT_EQ(sender_->CheckTarget(url).status().code(), absl::StatusCode::kInvalidArgument)
        << url << ": " << sender_->CheckTarget(url).status();
  }
  const std::string path = UniquePath();
  WebhookMessage injected = Message();
  injected.id = "abc\r\nX-Evil: 1";
  EXPECT_EQ(sender_->Send(Target(path), injected).code(), absl::StatusCode::kInvalidArgument);
  WebhookMessage unset = Message();
  unset.timestamp = absl::UnixEpoch();
  EXPECT_EQ(sender_->Send(Target(path), unset).code(), absl::StatusCode::kInvalidArgument);
  WebhookTarget no_secret = Target(path);
  no_secret.secret.clear();
  absl::Status status = sender_->Send(no_secret, Message());
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_THAT(status.ToString(), HasSubstr("secret"));
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_FALSE(FindRecord(stack_.webhook_dir, path).has_value());
}

TEST_F(WebhookSenderTest, UnreachableOrUnresolvableTargetIsUnavailable) {
  absl::Status status = sender_->Send(
      {.url = absl::StrCat("http://127.0.0.1:", testing::ClosedPort(), "/hook"), .secret = "s"},
      Message());
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  // .invalid never resolves (RFC 6761).
  status = sender_->Send({.url = "http://meldpunt.invalid/hook", .secret = "s"}, Message());
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
}

TEST(WebhookSign, MatchesKnownVectors) {
  // python3 -c 'import base64,hashlib,hmac; print("v1," + base64.b64encode(hmac.new(
  //   b"meldpunt-test-secret", b"msg_2Kd8Zq.1700000000.{\"case_id\":\"MP-0123456789ABC\"}",
  //   hashlib.sha256).digest()).decode())'
  EXPECT_EQ(WebhookSender::Sign("meldpunt-test-secret", "msg_2Kd8Zq", 1700000000,
                                R"({"case_id":"MP-0123456789ABC"})"),
            "v1,9Zsa3aT01sRZKD42XIxCEb29/CrzjwAE8fX389VRlXk=");
  // python3 -c 'import base64,hashlib,hmac; print("v1," + base64.b64encode(hmac.new(
  //   bytes([0,255,1,128]), b"id.0.", hashlib.sha256).digest()).decode())'
  EXPECT_EQ(WebhookSender::Sign(std::string("\x00\xff\x01\x80", 4), "id", 0, ""),
            "v1,wGIkyFtJwM1oazQXy/jGJUOayMUHH0ZHWQnEc5O5Bzs=");
}

}  // namespace
}  // namespace meldpunt::notification
