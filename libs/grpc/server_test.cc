#include "libs/grpc/server.h"

#include <google/protobuf/wrappers.pb.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/impl/client_unary_call.h>
#include <grpcpp/impl/codegen/proto_utils.h>
#include <grpcpp/impl/rpc_service_method.h>
#include <grpcpp/support/method_handler.h>

#include <chrono>
#include <map>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "absl/time/clock.h"
#include "prometheus/registry.h"

namespace meldpunt::grpc_util {
namespace {

using google::protobuf::StringValue;

constexpr char kSay[] = "/meldpunt.test.v1.Echo/Say";
constexpr char kCount[] = "/meldpunt.test.v1.Echo/Count";

// A small service without generated code: Say answers with the status its request names, Count
// streams three messages and ends OK, or one and ends UNAVAILABLE when asked to "fail", or
// streams until the client cancels when asked for "forever".
class EchoService final : public grpc::Service {
 public:
  EchoService() {
    AddMethod(new grpc::internal::RpcServiceMethod(
        kSay, grpc::internal::RpcMethod::NORMAL_RPC,
        new grpc::internal::RpcMethodHandler<EchoService, StringValue, StringValue>(
            [](EchoService*, grpc::ServerContext*, const StringValue* request,
               StringValue* response) {
              response->set_value(request->value());
              if (request->value() == "invalid")
                return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "bad field");
              if (request->value() == "denied")
                return grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "not yours");
              if (request->value() == "down")
                return grpc::Status(grpc::StatusCode::UNAVAILABLE, "try again");
              return grpc::Status::OK;
            },
            this)));
    AddMethod(new grpc::internal::RpcServiceMethod(
        kCount, grpc::internal::RpcMethod::SERVER_STREAMING,
        new grpc::internal::ServerStreamingHandler<EchoService, StringValue, StringValue>(
            [](EchoService*, grpc::ServerContext* context, const StringValue* request,
               grpc::ServerWriter<StringValue>* writer) {
              StringValue message;
              if (request->value() == "forever") {  // until the client goes
                while (!context->IsCancelled() && writer->Write(message)) {
                  std::this_thread::sleep_for(std::chrono::milliseconds(5));
                }
                return grpc::Status(grpc::StatusCode::CANCELLED, "client left");
              }
              const bool fail = request->value() == "fail";
              for (int i = 0; i < (fail ? 1 : 3); ++i) {
                message.set_value(std::to_string(i));
                writer->Write(message);
              }
              return fail ? grpc::Status(grpc::StatusCode::UNAVAILABLE, "stream broke")
                          : grpc::Status::OK;
            },
            this)));
  }
};

std::shared_ptr<grpc::Channel> Connect(int port) {
  return grpc::CreateChannel("127.0.0.1:" + std::to_string(port),
                             grpc::InsecureChannelCredentials());
}

grpc::Status Say(grpc::Channel& channel, const std::string& value) {
  grpc::internal::RpcMethod method(kSay, grpc::internal::RpcMethod::NORMAL_RPC);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  StringValue request;
  request.set_value(value);
  StringValue response;
  return grpc::internal::BlockingUnaryCall(&channel, method, &context, request, &response);
}

// A unary call with the request's raw bytes, to any method path.
grpc::Status RawCall(grpc::Channel& channel, const char* path, const std::string& bytes) {
  grpc::internal::RpcMethod method(path, grpc::internal::RpcMethod::NORMAL_RPC);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  grpc::Slice slice(bytes);
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer response;
  return grpc::internal::BlockingUnaryCall(&channel, method, &context, request, &response);
}

// Reads the whole stream; `messages` counts what arrived before the final status.
grpc::Status Count(grpc::Channel& channel, const std::string& value, int* messages) {
  grpc::internal::RpcMethod method(kCount, grpc::internal::RpcMethod::SERVER_STREAMING);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  StringValue request;
  request.set_value(value);
  std::unique_ptr<grpc::ClientReader<StringValue>> reader(
      grpc::internal::ClientReaderFactory<StringValue>::Create(&channel, method, &context,
                                                               request));
  StringValue message;
  *messages = 0;
  while (reader->Read(&message)) ++*messages;
  return reader->Finish();
}

const prometheus::MetricFamily* FindFamily(const std::vector<prometheus::MetricFamily>& families,
                                           const std::string& name) {
  for (const auto& family : families) {
    if (family.name == name) return &family;
  }
  return nullptr;
}

bool HasLabels(const prometheus::ClientMetric& metric,
               const std::map<std::string, std::string>& labels) {
  size_t matched = 0;
  for (const auto& label : metric.label) {
    auto it = labels.find(label.name);
    if (it == labels.end()) continue;
    if (it->second != label.value) return false;
    ++matched;
  }
  return matched == labels.size();
}

// meldpunt_grpc_requests_total{method, code}; 0 when the series does not exist.
double Calls(prometheus::Registry& registry, const std::string& method, const std::string& code) {
  const auto families = registry.Collect();
  const prometheus::MetricFamily* family = FindFamily(families, "meldpunt_grpc_requests_total");
  if (family == nullptr) return 0;
  for (const auto& metric : family->metric) {
    if (HasLabels(metric, {{"method", method}, {"code", code}})) return metric.counter.value;
  }
  return 0;
}

// The observations of meldpunt_grpc_request_seconds{method}.
uint64_t Timed(prometheus::Registry& registry, const std::string& method) {
  const auto families = registry.Collect();
  const prometheus::MetricFamily* family = FindFamily(families, "meldpunt_grpc_request_seconds");
  if (family == nullptr) return 0;
  for (const auto& metric : family->metric) {
    if (HasLabels(metric, {{"method", method}})) return metric.histogram.sample_count;
  }
  return 0;
}

// Every method label the registry holds.
std::set<std::string> MethodLabels(prometheus::Registry& registry) {
  std::set<std::string> out;
  const auto families = registry.Collect();
  if (const auto* family = FindFamily(families, "meldpunt_grpc_requests_total")) {
    for (const auto& metric : family->metric) {
      for (const auto& label : metric.label) {
        if (label.name == "method") out.insert(label.value);
      }
    }
  }
  return out;
}

// The health service answers through a generic call, so this test needs no generated health stub.
grpc::Status CheckHealth(int port, std::string* response_bytes) {
  auto channel =
      grpc::CreateChannel("127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials());
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  grpc::ByteBuffer request;  // empty HealthCheckRequest: the overall server
  grpc::Slice empty("", 0);
  request = grpc::ByteBuffer(&empty, 1);
  grpc::ByteBuffer response;
  grpc::Status result;
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  stub.UnaryCall(&context, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request, &response,
                 [&](grpc::Status status) {
                   std::lock_guard<std::mutex> lock(mu);
                   result = status;
                   done = true;
                   cv.notify_one();
                 });
  std::unique_lock<std::mutex> lock(mu);
  cv.wait(lock, [&] { return done; });
  std::vector<grpc::Slice> slices;
  if (result.ok() && response.Dump(&slices).ok()) {
    for (auto& slice : slices)
      response_bytes->append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  return result;
}

TEST(ServerRunner, ServesHealthThatFollowsServingState) {
  ServerRunner server;
  ASSERT_TRUE(server.Start("127.0.0.1:0", {}).ok());
  ASSERT_GT(server.port(), 0);
  std::string bytes;
  ASSERT_TRUE(CheckHealth(server.port(), &bytes).ok());
  // HealthCheckResponse{status: NOT_SERVING(2)} encodes as 08 02, SERVING(1) as 08 01.
  EXPECT_EQ(bytes, std::string("\x08\x02", 2));
  server.SetServing(true);
  bytes.clear();
  ASSERT_TRUE(CheckHealth(server.port(), &bytes).ok());
  EXPECT_EQ(bytes, std::string("\x08\x01", 2));
  server.Shutdown(absl::Seconds(1));
}

TEST(ServerRunner, FailsCleanlyOnABusyPort) {
  ServerRunner first;
  ASSERT_TRUE(first.Start("127.0.0.1:0", {}).ok());
  ServerRunner second;
  absl::Status status = second.Start("127.0.0.1:" + std::to_string(first.port()), {});
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
}

TEST(ServerRunner, CountsEveryCallByMethodAndFinalCode) {
  prometheus::Registry registry;
  EchoService echo;
  ServerRunner server;
  server.SetMetrics(&registry);
  ASSERT_TRUE(server.Start("127.0.0.1:0", {&echo}).ok());
  auto channel = Connect(server.port());

  EXPECT_TRUE(Say(*channel, "hello").ok());
  EXPECT_TRUE(Say(*channel, "again").ok());
  EXPECT_EQ(Say(*channel, "invalid").error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Say(*channel, "denied").error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Say(*channel, "down").error_code(), grpc::StatusCode::UNAVAILABLE);
  std::string health;
  EXPECT_TRUE(CheckHealth(server.port(), &health).ok());

  // The status is counted before it is sent, so it is there once the client has it.
  EXPECT_EQ(Calls(registry, kSay, "OK"), 2);
  EXPECT_EQ(Calls(registry, kSay, "INVALID_ARGUMENT"), 1);
  EXPECT_EQ(Calls(registry, kSay, "PERMISSION_DENIED"), 1);
  EXPECT_EQ(Calls(registry, kSay, "UNAVAILABLE"), 1);
  EXPECT_EQ(Timed(registry, kSay), 5u);
  EXPECT_EQ(Calls(registry, "/grpc.health.v1.Health/Check", "OK"), 1);
  EXPECT_EQ(Timed(registry, "/grpc.health.v1.Health/Check"), 1u);
  server.Shutdown(absl::Seconds(1));
  // Shutting down adds no calls (nothing ends without a status here).
  EXPECT_EQ(Timed(registry, kSay), 5u);
  EXPECT_EQ(Calls(registry, kSay, "CANCELLED"), 0);
  EXPECT_EQ(MethodLabels(registry), (std::set<std::string>{kSay, "/grpc.health.v1.Health/Check"}));
}

TEST(ServerRunner, CountsTheStatusTheClientGetsForAnUnparsableRequest) {
  prometheus::Registry registry;
  EchoService echo;
  ServerRunner server;
  server.SetMetrics(&registry);
  ASSERT_TRUE(server.Start("127.0.0.1:0", {&echo}).ok());
  auto channel = Connect(server.port());
  // StringValue.value (field 1) with bytes that are not UTF-8: gRPC's INTERNAL becomes
  // INVALID_ARGUMENT, and that is what is counted.
  EXPECT_EQ(RawCall(*channel, kSay, std::string("\x0a\x02\xff\xfe", 4)).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Calls(registry, kSay, "INVALID_ARGUMENT"), 1);
  EXPECT_EQ(Calls(registry, kSay, "INTERNAL"), 0);
  server.Shutdown(absl::Seconds(1));
}

TEST(ServerRunner, CountsServerStreamsAtTheirFinalStatus) {
  prometheus::Registry registry;
  EchoService echo;
  ServerRunner server;
  server.SetMetrics(&registry);
  ASSERT_TRUE(server.Start("127.0.0.1:0", {&echo}).ok());
  auto channel = Connect(server.port());
  int messages = 0;
  EXPECT_TRUE(Count(*channel, "", &messages).ok());
  EXPECT_EQ(messages, 3);
  EXPECT_EQ(Count(*channel, "fail", &messages).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(messages, 1);
  // One count per stream, not per message.
  EXPECT_EQ(Calls(registry, kCount, "OK"), 1);
  EXPECT_EQ(Calls(registry, kCount, "UNAVAILABLE"), 1);
  EXPECT_EQ(Timed(registry, kCount), 2u);

  // A stream the client walks away from counts once, when the server's handler ends.
  {
    grpc::internal::RpcMethod method(kCount, grpc::internal::RpcMethod::SERVER_STREAMING);
    grpc::ClientContext context;
    StringValue request;
    request.set_value("forever");
    std::unique_ptr<grpc::ClientReader<StringValue>> reader(
        grpc::internal::ClientReaderFactory<StringValue>::Create(channel.get(), method, &context,
                                                                 request));
    StringValue message;
    ASSERT_TRUE(reader->Read(&message));
    context.TryCancel();
    while (reader->Read(&message)) {
    }
    EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
  }
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (Calls(registry, kCount, "CANCELLED") == 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ(Calls(registry, kCount, "CANCELLED"), 1);
  EXPECT_EQ(Timed(registry, kCount), 3u);
  server.Shutdown(absl::Seconds(1));
}

TEST(ServerRunner, LabelsMethodsTheServerDoesNotHaveUnknown) {
  prometheus::Registry registry;
  EchoService echo;
  ServerRunner server;
  server.SetMetrics(&registry);
  ASSERT_TRUE(server.Start("127.0.0.1:0", {&echo}).ok());
  auto channel = Connect(server.port());
  // Paths a client makes up must not become series: neither a service nor a method of it.
  for (const char* path :
       {"/no.such.v1.Service/Method", "/meldpunt.test.v1.Echo/Nope", "/x/1", "/x/2", "/x/3"}) {
    EXPECT_EQ(RawCall(*channel, path, "").error_code(), grpc::StatusCode::UNIMPLEMENTED) << path;
  }
  EXPECT_TRUE(Say(*channel, "hello").ok());
  EXPECT_EQ(Calls(registry, "unknown", "UNIMPLEMENTED"), 5);
  EXPECT_EQ(MethodLabels(registry), (std::set<std::string>{"unknown", kSay}));
  server.Shutdown(absl::Seconds(1));
}

TEST(ServerRunner, WithoutARegistryCountsNothingAndStillServes) {
  prometheus::Registry registry;
  EchoService echo;
  ServerRunner server;
  server.SetMetrics(&registry);
  server.SetMetrics(nullptr);
  ASSERT_TRUE(server.Start("127.0.0.1:0", {&echo}).ok());
  auto channel = Connect(server.port());
  EXPECT_TRUE(Say(*channel, "hello").ok());
  EXPECT_TRUE(MethodLabels(registry).empty());
  server.Shutdown(absl::Seconds(1));
}

}  // namespace
}  // namespace meldpunt::grpc_util
