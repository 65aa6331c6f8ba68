#include "libs/grpc/server.h"

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <gtest/gtest.h>

namespace meldpunt::grpc_util {
namespace {

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

}  // namespace
}  // namespace meldpunt::grpc_util
