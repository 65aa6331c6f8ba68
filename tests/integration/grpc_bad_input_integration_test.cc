// Bad input over gRPC at volume against the intake in-process (real Kafka broker and redis-server
// of the test stack): oversized messages, invalid UTF-8, unknown enum values, huge repeated
// fields, oversized metadata and malformed HTTP/2 and gRPC framing on raw sockets. Every bad call
// gets a clean error, nothing reaches the log, the process memory stays bounded and the intake
// keeps serving.
#include <arpa/inet.h>
#include <malloc.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "libs/events/ids.h"
#include "libs/events/topics.h"
#include "libs/kafka/consumer.h"
#include "meldpunt/intake/v1/intake.grpc.pb.h"
#include "services/intake/app.h"
#include "tests/testing/stack.h"

namespace meldpunt::intake {
namespace {

namespace t = ::meldpunt::types::v1;

constexpr int kThreads = 4;
constexpr char kSubmitPath[] = "/meldpunt.intake.v1.Intake/SubmitCase";
// A resource bound, not a measurement: the storm moves about a gigabyte through the process, and
// the requests of a quarter of a million empty attachments leave fragmented heap behind even
// after malloc_trim (not a leak: it does not grow with more rounds). A leak of the requests
// themselves would be gigabytes. Under ThreadSanitizer (tools/tsan) every allocation also carries
// shadow memory and access history, several times its size: the bound is four times as large there,
// still well under such a leak.
#if defined(__SANITIZE_THREAD__)
constexpr int64_t kMaxRssGrowthKb = 4 * 256 * 1024;
#else
constexpr int64_t kMaxRssGrowthKb = 256 * 1024;
#endif

// A figure of /proc/self/status in kB: VmRSS (resident now) or VmHWM (the peak so far).
int64_t StatusKb(const std::string& key) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(key + ":", 0) == 0) return std::stoll(line.substr(key.size() + 1));
  }
  return -1;
}

// Resident memory once the allocator has returned its free lists: what the process still holds,
// not what glibc keeps cached per thread arena after a burst of large requests.
int64_t HeldKb() {
  malloc_trim(0);
  return StatusKb("VmRSS");
}

// Runs `body(thread, i)` for i in [0, per_thread) on kThreads threads at once.
void OnThreads(int per_thread, const std::function<void(int, int)>& body) {
  std::vector<std::thread> threads;
  for (int w = 0; w < kThreads; ++w) {
    threads.emplace_back([&, w] {
      for (int i = 0; i < per_thread; ++i) body(w, i);
    });
  }
  for (auto& thread : threads) thread.join();
}

// The BadRequest field of an INVALID_ARGUMENT, or "" when there is none.
std::string FieldOf(const grpc::Status& status) {
  google::rpc::Status rich;
  if (!rich.ParseFromString(status.error_details()) || rich.details_size() == 0) return "";
  google::rpc::BadRequest bad;
  if (!bad.ParseFromString(rich.details(0).value()) || bad.field_violations_size() == 0) return "";
  return bad.field_violations(0).field();
}

v1::SubmitCaseRequest ValidRequest(const std::string& key) {
  v1::SubmitCaseRequest r;
  r.set_submitting_system("bad-input-test");
  r.set_request_key(key);
  auto* d = r.mutable_draft();
  d->set_kind(t::REPORT);
  d->set_channel(t::WEB);
  d->set_category("street-lighting");
  d->set_description("Street light out at the market square");
  d->mutable_reporter()->set_name("An Janssens");
  d->mutable_reporter()->set_email("an@example.org");
  return r;
}

// 5 MiB of valid text: without the receive limit it would reach validation.
v1::SubmitCaseRequest OversizedRequest() {
  auto request = ValidRequest(testing::UniqueName("huge"));
  request.mutable_draft()->set_description(std::string(5 * 1024 * 1024, 'x'));
  return request;
}

// The worst case for memory within the limit: an empty attachment is two bytes on the wire and a
// whole message once parsed; these are the bytes of a valid SubmitCaseRequest followed by a second
// `draft` (which protobuf merges into the first) holding as many as fit in the receive limit,
// about a quarter of a million. Built as bytes, so the client never holds them as messages.
std::string EmptyAttachmentsBytes() {
  std::string bytes = ValidRequest(testing::UniqueName("empties")).SerializeAsString();
  const size_t count = (grpc_util::ServerRunner::kMaxReceiveBytes - 4096 - bytes.size()) / 2;
  std::string draft;
  draft.reserve(2 * count);
  for (size_t i = 0; i < count; ++i) draft.append("\x32\x00", 2);  // field 6, length 0
  bytes.push_back('\x1a');                                         // field 3 (draft), LEN
  for (size_t n = draft.size(); n > 0; n >>= 7) {
    bytes.push_back(static_cast<char>((n & 0x7f) | (n >= 0x80 ? 0x80 : 0)));
  }
  return bytes + draft;
}

// A unary call with the request given as bytes, so they can be anything.
grpc::Status CallRaw(grpc::GenericStub& stub, const std::string& path, const std::string& bytes) {
  grpc::Slice slice(bytes);
  grpc::ByteBuffer send(&slice, 1);
  grpc::ByteBuffer receive;
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
  absl::Notification done;
  grpc::Status status;
  stub.UnaryCall(&context, path, grpc::StubOptions(), &send, &receive, [&](grpc::Status s) {
    status = std::move(s);
    done.Notify();
  });
  done.WaitForNotification();
  return status;
}

// ---- raw HTTP/2 ----

constexpr char kPreface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
enum FrameType : uint8_t { kData = 0, kHeaders = 1, kRstStream = 3, kSettings = 4, kGoaway = 7 };
constexpr uint8_t kEndStream = 0x1;
constexpr uint8_t kEndHeaders = 0x4;

std::string Frame(uint8_t type, uint8_t flags, uint32_t stream, const std::string& payload,
                  int64_t claimed_length = -1) {
  const uint32_t length =
      claimed_length >= 0 ? static_cast<uint32_t>(claimed_length) : payload.size();
  std::string f;
  f.push_back(static_cast<char>((length >> 16) & 0xff));
  f.push_back(static_cast<char>((length >> 8) & 0xff));
  f.push_back(static_cast<char>(length & 0xff));
  f.push_back(static_cast<char>(type));
  f.push_back(static_cast<char>(flags));
  f.push_back(static_cast<char>((stream >> 24) & 0x7f));
  f.push_back(static_cast<char>((stream >> 16) & 0xff));
  f.push_back(static_cast<char>((stream >> 8) & 0xff));
  f.push_back(static_cast<char>(stream & 0xff));
  return f + payload;
}

// HPACK "literal header field without indexing, new name", no Huffman; names and values < 127.
std::string Literal(const std::string& name, const std::string& value) {
  return std::string(1, '\0') + static_cast<char>(name.size()) + name +
         static_cast<char>(value.size()) + value;
}

std::string GrpcHeaders(bool gzip) {
  std::string block = Literal(":method", "POST") + Literal(":scheme", "http") +
                      Literal(":path", kSubmitPath) + Literal(":authority", "localhost") +
                      Literal("content-type", "application/grpc") + Literal("te", "trailers");
  if (gzip) block += Literal("grpc-encoding", "gzip");
  return Frame(kHeaders, kEndHeaders, 1, block);
}

// The 5-byte gRPC message prefix: compressed flag, then the big-endian length.
std::string GrpcPrefix(bool compressed, uint32_t length) {
  std::string p(1, compressed ? '\1' : '\0');
  p.push_back(static_cast<char>((length >> 24) & 0xff));
  p.push_back(static_cast<char>((length >> 16) & 0xff));
  p.push_back(static_cast<char>((length >> 8) & 0xff));
  p.push_back(static_cast<char>(length & 0xff));
  return p;
}

struct RawOutcome {
  bool connected = false;
  bool closed = false;        // the server closed the connection
  bool goaway = false;        // it sent GOAWAY
  bool stream_ended = false;  // it ended stream 1: trailers (HEADERS + END_STREAM) or RST_STREAM
};

class RawConnection {
 public:
  explicit RawConnection(int port) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = fd_ >= 0 && connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  }
  ~RawConnection() {
    if (fd_ >= 0) close(fd_);
  }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  bool connected() const { return connected_; }

  // Best effort: the server may already have closed the connection.
  void Send(const std::string& bytes) {
    size_t sent = 0;
    while (sent < bytes.size()) {
      ssize_t n = send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return;
      sent += static_cast<size_t>(n);
    }
  }

  // Reads what the server answers until it closes, ends stream 1 or sends GOAWAY, or `limit`
  // passes. Frames are parsed only as far as their 9-byte headers.
  RawOutcome Read(absl::Duration limit) {
    RawOutcome outcome;
    outcome.connected = connected_;
    const absl::Time until = absl::Now() + limit;
    std::string in;
    size_t parsed = 0;
    while (absl::Now() < until) {
      pollfd p{fd_, POLLIN, 0};
      int ready = poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(until - absl::Now())));
      if (ready <= 0) break;
      char buffer[16384];
      ssize_t n = recv(fd_, buffer, sizeof(buffer), 0);
      if (n <= 0) {
        outcome.closed = true;
        break;
      }
      in.append(buffer, static_cast<size_t>(n));
      // A server talks HTTP/2 frames from its first byte (its SETTINGS).
      while (in.size() - parsed >= 9) {
        const auto* h = reinterpret_cast<const unsigned char*>(in.data() + parsed);
        const size_t length = (size_t{h[0]} << 16) | (size_t{h[1]} << 8) | h[2];
        const uint8_t type = h[3];
        const uint8_t flags = h[4];
        const uint32_t stream =
            ((uint32_t{h[5]} & 0x7f) << 24) | (uint32_t{h[6]} << 16) | (uint32_t{h[7]} << 8) | h[8];
        if (in.size() - parsed < 9 + length) break;
        parsed += 9 + length;
        if (type == kGoaway) outcome.goaway = true;
        if (stream == 1 && (type == kRstStream || (type == kHeaders && (flags & kEndStream)))) {
          outcome.stream_ended = true;
        }
      }
      if (outcome.goaway || outcome.stream_ended) break;
    }
    return outcome;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

std::string RandomBytes(std::mt19937& rng, size_t n) {
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng() & 0xff);
  return s;
}

class GrpcBadInput : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(started_) << "the intake did not start"; }

  static void SetUpTestSuite() {
    auto stack = testing::LoadStack();
    ASSERT_TRUE(stack.ok()) << stack.status();
    stack_ = new testing::Stack(*stack);
    IntakeConfig config;
    config.grpc_listen = "127.0.0.1:0";
    config.grpc_plaintext_loopback = true;
    config.admin_listen = "127.0.0.1:0";
    testing::UseStackKafka(*stack_, config);
    config.redis_address = stack_->redis;
    config.privacy_master_key_file = testing::DevMasterKeyFile();
    config.key_store_address = stack_->key_store;
    config.consumer_group = testing::UniqueName("bad-input");
    config.produce_timeout = absl::Seconds(5);
    config.startup_timeout = absl::Seconds(30);
    app_ = new IntakeApp(config);
    absl::Status started = app_->Start();
    ASSERT_TRUE(started.ok()) << started;
    started_ = true;
    // Warm up (channels, server threads, allocator arenas, the producer) with the heaviest inputs
    // once, so the bound below is on what the storm adds, not on the first use of each.
    ExpectServing();
    OnThreads(1, [](int w, int) {
      grpc::GenericStub stub(Channel());
      const std::string bytes =
          w % 2 == 0 ? OversizedRequest().SerializeAsString() : EmptyAttachmentsBytes();
      (void)CallRaw(stub, kSubmitPath, bytes);
    });
    baseline_rss_kb_ = HeldKb();
    baseline_rss_raw_kb_ = StatusKb("VmRSS");
  }

  static void TearDownTestSuite() {
    if (started_) {
      const int64_t peak = StatusKb("VmHWM");
      const int64_t raw = StatusKb("VmRSS");
      const int64_t after = HeldKb();
      std::printf(
          "VmRSS held: %lld kB before the storm, %lld kB after (growth %lld kB, bound %lld kB); "
          "untrimmed %lld kB before, %lld kB after; VmHWM %lld kB\n",
          static_cast<long long>(baseline_rss_kb_), static_cast<long long>(after),
          static_cast<long long>(after - baseline_rss_kb_), static_cast<long long>(kMaxRssGrowthKb),
          static_cast<long long>(baseline_rss_raw_kb_), static_cast<long long>(raw),
          static_cast<long long>(peak));
      EXPECT_LT(after - baseline_rss_kb_, kMaxRssGrowthKb);
      app_->Stop();
    }
    delete app_;
    app_ = nullptr;
    delete stack_;
    stack_ = nullptr;
  }

  // A channel of its own (not the shared subchannel pool), so the threads use separate
  // connections.
  static std::shared_ptr<grpc::Channel> Channel() {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    return grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", app_->grpc_port()),
                                     grpc::InsecureChannelCredentials(), args);
  }

  static std::unique_ptr<grpc::ClientContext> Context() {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
    return context;
  }

  // A valid SubmitCase on a fresh connection is created and GetCase finds it.
  static void ExpectServing() {
    auto stub = v1::Intake::NewStub(Channel());
    v1::SubmitCaseResponse submitted;
    grpc::Status status =
        stub->SubmitCase(Context().get(), ValidRequest(testing::UniqueName("ok")), &submitted);
    ASSERT_TRUE(status.ok()) << status.error_code() << " " << status.error_message();
    EXPECT_TRUE(submitted.created());
    v1::GetCaseRequest get;
    get.set_case_id(submitted.case_id());
    v1::GetCaseResponse got;
    status = stub->GetCase(Context().get(), get, &got);
    ASSERT_TRUE(status.ok()) << status.error_code() << " " << status.error_message();
    EXPECT_EQ(got.case_().case_id(), submitted.case_id());
    EXPECT_EQ(got.case_().state(), t::RECEIVED);
  }

  // Sum of the case topic's end offsets over its partitions.
  static int64_t CaseTopicEnd() {
    auto consumer = kafka::Consumer::Create({.brokers = stack_->kafka,
                                             .group_id = testing::UniqueName("bad-input-offsets"),
                                             .topics = {events::kCaseEventsTopic},
                                             .extra = stack_->kafka_properties});
    EXPECT_TRUE(consumer.ok()) << consumer.status();
    if (!consumer.ok()) return -1;
    auto partitions = (*consumer)->PartitionCount(events::kCaseEventsTopic, absl::Seconds(10));
    EXPECT_TRUE(partitions.ok()) << partitions.status();
    if (!partitions.ok()) return -1;
    int64_t end = 0;
    for (int p = 0; p < *partitions; ++p) {
      auto high = (*consumer)->HighWatermark(events::kCaseEventsTopic, p, absl::Seconds(10));
      EXPECT_TRUE(high.ok()) << high.status();
      if (high.ok()) end += *high;
    }
    (*consumer)->Close();
    return end;
  }

  static testing::Stack* stack_;
  static IntakeApp* app_;
  static int64_t baseline_rss_kb_;
  static int64_t baseline_rss_raw_kb_;
  static bool started_;
};

testing::Stack* GrpcBadInput::stack_ = nullptr;
IntakeApp* GrpcBadInput::app_ = nullptr;
int64_t GrpcBadInput::baseline_rss_kb_ = 0;
int64_t GrpcBadInput::baseline_rss_raw_kb_ = 0;
bool GrpcBadInput::started_ = false;

TEST_F(GrpcBadInput, OversizedMessageIsResourceExhausted) {
  const v1::SubmitCaseRequest request = OversizedRequest();
  std::atomic<int> exhausted{0};
  std::atomic<int> other{0};
  std::string example;
  absl::Mutex mu;
  OnThreads(1, [&](int, int) {
    auto stub = v1::Intake::NewStub(Channel());
    for (int i = 0; i < 40; ++i) {
      v1::SubmitCaseResponse response;
      grpc::Status status = stub->SubmitCase(Context().get(), request, &response);
      if (status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
        ++exhausted;
        absl::MutexLock lock(&mu);
        if (example.empty()) example = status.error_message();
      } else {
        ++other;
        ADD_FAILURE() << status.error_code() << " " << status.error_message();
      }
    }
  });
  EXPECT_EQ(exhausted, kThreads * 40);
  EXPECT_EQ(other, 0);
  std::printf("oversized: RESOURCE_EXHAUSTED \"%s\"\n", example.c_str());
  ExpectServing();
}

TEST_F(GrpcBadInput, InvalidUtf8IsInvalidArgumentAndAppendsNothing) {
  // A valid request with a placeholder in one string field; the placeholder's bytes are then
  // replaced by invalid UTF-8 of the same length, so every length prefix stays right.
  const std::vector<std::string> bad_bytes = {
      std::string("\xff\xfe\xfd\xfc", 4),  // never valid
      std::string("\xc0\xaf\x41\x41", 4),  // overlong '/'
      std::string("\xed\xa0\x80\x41", 4),  // a UTF-16 surrogate
      std::string("\xf4\x90\x80\x80", 4),  // beyond U+10FFFF
      std::string("\x41\x41\xe2\x82", 4),  // truncated sequence
  };
  const std::string placeholder = "@@@@";
  struct Field {
    std::string name;
    std::function<void(v1::SubmitCaseRequest&)> set;
  };
  const std::vector<Field> fields = {
      {"submitting_system", [&](auto& r) { r.set_submitting_system("sys" + placeholder); }},
      {"request_key", [&](auto& r) { r.set_request_key(r.request_key() + placeholder); }},
      {"correlation_id", [&](auto& r) { r.set_correlation_id(placeholder); }},
      {"draft.description",
       [&](auto& r) { r.mutable_draft()->set_description("Light out " + placeholder); }},
      {"draft.reporter.name",
       [&](auto& r) { r.mutable_draft()->mutable_reporter()->set_name("An " + placeholder); }},
      {"draft.location.address",
       [&](auto& r) { r.mutable_draft()->mutable_location()->set_address(placeholder); }},
      {"draft.attachments[0].url",
       [&](auto& r) {
         auto* a = r.mutable_draft()->add_attachments();
         a->set_url("https://x.example/" + placeholder);
         a->set_media_type("image/png");
         a->set_size_bytes(10);
       }},
  };
  const int64_t end_before = CaseTopicEnd();
  std::atomic<int> invalid{0};
  std::vector<std::string> keys(kThreads * 250);
  std::string example;
  absl::Mutex mu;
  OnThreads(250, [&](int w, int i) {
    thread_local std::unique_ptr<grpc::GenericStub> stub;
    if (!stub) stub = std::make_unique<grpc::GenericStub>(Channel());
    const int n = w * 250 + i;
    const Field& field = fields[n % fields.size()];
    auto request = ValidRequest(testing::UniqueName("utf8"));
    keys[n] = request.request_key();
    field.set(request);
    std::string bytes = request.SerializeAsString();
    const size_t at = bytes.find(placeholder);
    ASSERT_NE(at, std::string::npos);
    bytes.replace(at, placeholder.size(), bad_bytes[n % bad_bytes.size()]);
    if (field.name == "request_key") keys[n] += bad_bytes[n % bad_bytes.size()];

    const grpc::Status status = CallRaw(*stub, kSubmitPath, bytes);
    if (status.error_code() == grpc::StatusCode::INVALID_ARGUMENT) {
      ++invalid;
      absl::MutexLock lock(&mu);
      if (example.empty()) example = status.error_message();
    } else {
      ADD_FAILURE() << field.name << ": " << status.error_code() << " " << status.error_message();
    }
  });
  EXPECT_EQ(invalid, kThreads * 250);
  std::printf("invalid UTF-8: INVALID_ARGUMENT \"%s\"\n", example.c_str());
  // Nothing was appended and no case exists for any of those requests.
  EXPECT_EQ(CaseTopicEnd(), end_before);
  auto stub = v1::Intake::NewStub(Channel());
  for (size_t n = 0; n < keys.size(); n += 25) {
    v1::GetCaseRequest get;
    get.set_case_id(events::CaseIdFor("bad-input-test", keys[n]));
    v1::GetCaseResponse got;
    EXPECT_EQ(stub->GetCase(Context().get(), get, &got).error_code(), grpc::StatusCode::NOT_FOUND);
  }
  ExpectServing();
}

TEST_F(GrpcBadInput, UnknownEnumValuesAreInvalidArgumentNamingTheField) {
  struct EnumCase {
    std::string field;
    std::function<void(v1::SubmitCaseRequest&)> set;
  };
  const std::vector<EnumCase> cases = {
      {"draft.kind", [](auto& r) { r.mutable_draft()->set_kind(static_cast<t::CaseKind>(999)); }},
      {"draft.kind", [](auto& r) { r.mutable_draft()->set_kind(static_cast<t::CaseKind>(-1)); }},
      {"draft.channel",
       [](auto& r) { r.mutable_draft()->set_channel(static_cast<t::Channel>(42)); }},
      {"draft.priority",
       [](auto& r) { r.mutable_draft()->set_priority(static_cast<t::Priority>(77)); }},
      {"draft.reporter.language",
       [](auto& r) {
         r.mutable_draft()->mutable_reporter()->set_language(static_cast<t::Language>(9));
       }},
      {"draft.reporter.preferred_channel",
       [](auto& r) {
         r.mutable_draft()->mutable_reporter()->set_preferred_channel(
             static_cast<t::Channel>(1 << 30));
       }},
      {"draft.reporter.notify_by",
       [](auto& r) {
         r.mutable_draft()->mutable_reporter()->set_notify_by(static_cast<t::NotifyBy>(12));
       }},
  };
  const int64_t end_before = CaseTopicEnd();
  std::atomic<int> named{0};
  OnThreads(300, [&](int w, int i) {
    thread_local std::unique_ptr<v1::Intake::Stub> stub;
    if (!stub) stub = v1::Intake::NewStub(Channel());
    const EnumCase& c = cases[(w * 300 + i) % cases.size()];
    auto request = ValidRequest(testing::UniqueName("enum"));
    c.set(request);
    v1::SubmitCaseResponse response;
    grpc::Status status = stub->SubmitCase(Context().get(), request, &response);
    if (status.error_code() == grpc::StatusCode::INVALID_ARGUMENT && FieldOf(status) == c.field &&
        status.error_message().find(c.field) != std::string::npos) {
      ++named;
    } else {
      ADD_FAILURE() << c.field << ": " << status.error_code() << " " << status.error_message();
    }
  });
  EXPECT_EQ(named, kThreads * 300);
  EXPECT_EQ(CaseTopicEnd(), end_before);

  // The filters of ListCases as well.
  auto stub = v1::Intake::NewStub(Channel());
  v1::ListCasesRequest list;
  list.set_kind(static_cast<t::CaseKind>(999));
  v1::ListCasesResponse listed;
  grpc::Status status = stub->ListCases(Context().get(), list, &listed);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(FieldOf(status), "kind");
  list.set_kind(t::REPORT);
  list.set_state(static_cast<t::CaseState>(77));
  status = stub->ListCases(Context().get(), list, &listed);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(FieldOf(status), "state");
  ExpectServing();
}

TEST_F(GrpcBadInput, HugeRepeatedFieldsAreInvalidArgumentNamingTheField) {
  constexpr int kEntries = 15'000;  // as many as fit in the receive limit
  t::Attachment attachment;
  attachment.set_url("https://a.be/x");
  attachment.set_media_type("a/b");
  attachment.set_size_bytes(1);

  auto submit = ValidRequest(testing::UniqueName("repeated"));
  for (int i = 0; i < kEntries; ++i) *submit.mutable_draft()->add_attachments() = attachment;
  ASSERT_LT(submit.ByteSizeLong(), size_t{grpc_util::ServerRunner::kMaxReceiveBytes});

  const std::string empties = EmptyAttachmentsBytes();
  ASSERT_LT(empties.size(), size_t{grpc_util::ServerRunner::kMaxReceiveBytes});
  {
    v1::SubmitCaseRequest parsed;  // the bytes are what they claim to be
    ASSERT_TRUE(parsed.ParseFromString(empties));
    ASSERT_GT(parsed.draft().attachments_size(), 250'000);
    ASSERT_EQ(parsed.draft().category(), "street-lighting");
  }

  v1::ProvideInformationRequest provide;
  provide.set_case_id("MP-0000000000000");
  provide.set_text("More photos");
  for (int i = 0; i < kEntries; ++i) *provide.add_attachments() = attachment;
  ASSERT_LT(provide.ByteSizeLong(), size_t{grpc_util::ServerRunner::kMaxReceiveBytes});

  const int64_t end_before = CaseTopicEnd();
  std::atomic<int> named{0};
  std::string example;
  absl::Mutex mu;
  OnThreads(1, [&](int w, int) {
    auto stub = v1::Intake::NewStub(Channel());
    grpc::GenericStub raw(Channel());
    for (int i = 0; i < 25; ++i) {
      grpc::Status status;
      std::string field;
      if ((w + i) % 3 == 0) {
        v1::SubmitCaseResponse response;
        status = stub->SubmitCase(Context().get(), submit, &response);
        field = "draft.attachments";
      } else if ((w + i) % 3 == 1) {
        status = CallRaw(raw, kSubmitPath, empties);
        field = "draft.attachments";
      } else {
        v1::CaseResponse response;
        status = stub->ProvideInformation(Context().get(), provide, &response);
        field = "attachments";
      }
      if (status.error_code() == grpc::StatusCode::INVALID_ARGUMENT && FieldOf(status) == field) {
        ++named;
        absl::MutexLock lock(&mu);
        if (example.empty()) example = status.error_message();
      } else {
        ADD_FAILURE() << field << ": " << status.error_code() << " " << status.error_message();
      }
    }
  });
  EXPECT_EQ(named, kThreads * 25);
  EXPECT_EQ(CaseTopicEnd(), end_before);
  std::printf("huge repeated: INVALID_ARGUMENT \"%s\"\n", example.c_str());
  ExpectServing();
}

TEST_F(GrpcBadInput, OversizedMetadataIsRefusedPerCall) {
  const std::string value(64 * 1024, 'm');
  std::atomic<int> refused{0};
  std::atomic<int> dropped{0};
  std::string example;
  absl::Mutex mu;
  OnThreads(1, [&](int, int) {
    auto stub = v1::Intake::NewStub(Channel());
    for (int i = 0; i < 50; ++i) {
      auto context = Context();
      context->AddMetadata("x-padding", value);
      v1::SubmitCaseResponse response;
      grpc::Status status =
          stub->SubmitCase(context.get(), ValidRequest(testing::UniqueName("meta")), &response);
      if (status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
        ++refused;
        absl::MutexLock lock(&mu);
        if (example.empty()) example = status.error_message();
      } else if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
        ++dropped;  // now and then the server drops the connection instead
      } else {
        ADD_FAILURE() << status.error_code() << " " << status.error_message();
      }
    }
  });
  EXPECT_EQ(refused + dropped, kThreads * 50);
  EXPECT_GT(refused, dropped);
  std::printf("oversized metadata: %d RESOURCE_EXHAUSTED \"%s\", %d UNAVAILABLE\n", refused.load(),
              example.c_str(), dropped.load());
  ExpectServing();
}

TEST_F(GrpcBadInput, MalformedFramesLeaveTheServerServing) {
  const int port = app_->grpc_port();
  const std::string settings = Frame(kSettings, 0, 0, "");
  std::atomic<int> answered{0};
  std::atomic<int> sent{0};
  OnThreads(60, [&](int w, int i) {
    std::mt19937 rng(static_cast<uint32_t>(w * 1000 + i));
    const int kind = i % 8;
    RawConnection c(port);
    ASSERT_TRUE(c.connected());
    ++sent;
    switch (kind) {
      case 0:  // not HTTP/2 at all
        c.Send(RandomBytes(rng, 24 + rng() % 4096));
        EXPECT_TRUE(c.Read(absl::Seconds(5)).closed) << "garbage instead of the preface";
        break;
      case 1: {  // the preface, then frames of random type, flags, stream and payload
        std::string bytes = kPreface + settings;
        for (int f = 0; f < 20; ++f) {
          bytes += Frame(static_cast<uint8_t>(rng() % 16), static_cast<uint8_t>(rng()), rng(),
                         RandomBytes(rng, rng() % 64));
        }
        // Whatever the random frames did, a frame beyond the maximum frame size ends it.
        bytes += Frame(kData, 0, 1, "", 0xffffff);
        c.Send(bytes);
        RawOutcome o = c.Read(absl::Seconds(5));
        EXPECT_TRUE(o.goaway || o.closed) << "random frames";
        break;
      }
      case 2: {  // a message whose length prefix promises more than the stream carries
        c.Send(kPreface + settings + GrpcHeaders(false) +
               Frame(kData, kEndStream, 1, GrpcPrefix(false, 1000) + RandomBytes(rng, 10)));
        RawOutcome o = c.Read(absl::Seconds(5));
        EXPECT_TRUE(o.stream_ended || o.goaway || o.closed) << "length prefix beyond the body";
        answered += o.stream_ended;
        break;
      }
      case 3:  // a truncated message, then the connection closes mid-stream
        c.Send(kPreface + settings + GrpcHeaders(false) +
               Frame(kData, 0, 1, GrpcPrefix(false, 100) + RandomBytes(rng, 50)));
        break;
      case 4: {  // compressed flag with gzip announced, garbage instead of gzip
        c.Send(kPreface + settings + GrpcHeaders(true) +
               Frame(kData, kEndStream, 1, GrpcPrefix(true, 64) + RandomBytes(rng, 64)));
        RawOutcome o = c.Read(absl::Seconds(5));
        EXPECT_TRUE(o.stream_ended || o.goaway || o.closed) << "garbage gzip";
        answered += o.stream_ended;
        break;
      }
      case 5: {  // compressed flag without any grpc-encoding
        c.Send(kPreface + settings + GrpcHeaders(false) +
               Frame(kData, kEndStream, 1, GrpcPrefix(true, 64) + RandomBytes(rng, 64)));
        RawOutcome o = c.Read(absl::Seconds(5));
        EXPECT_TRUE(o.stream_ended || o.goaway || o.closed) << "compressed flag, no encoding";
        answered += o.stream_ended;
        break;
      }
      case 6: {  // a header block that is not HPACK
        c.Send(kPreface + settings +
               Frame(kHeaders, kEndHeaders | kEndStream, 1, RandomBytes(rng, 200)));
        RawOutcome o = c.Read(absl::Seconds(5));
        EXPECT_TRUE(o.stream_ended || o.goaway || o.closed) << "garbage HPACK";
        break;
      }
      case 7:  // a DATA frame announcing 16 MiB, beyond the frame size, then gone
        c.Send(kPreface + settings + GrpcHeaders(false) +
               Frame(kData, 0, 1, RandomBytes(rng, 100), 0xffffff));
        break;
    }
  });
  EXPECT_EQ(sent, kThreads * 60);
  std::printf("malformed frames: %d connections, %d streams answered with trailers or a reset\n",
              sent.load(), answered.load());
  ExpectServing();
}

}  // namespace
}  // namespace meldpunt::intake
