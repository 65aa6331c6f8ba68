#include "libs/grpc/server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/resource_quota.h>
#include <grpcpp/support/server_interceptor.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace meldpunt::grpc_util {
namespace {

// gRPC answers a request whose bytes do not parse as the method's message (a string field that is
// not UTF-8, a truncated or garbled protobuf, no message at all) with INTERNAL and an empty
// message, which reads as a server fault. This turns exactly that case into INVALID_ARGUMENT, so
// the caller knows to fix the request rather than retry it.
class UnparsableRequestInterceptor final : public grpc::experimental::Interceptor {
 public:
  // `method` is gRPC's, valid for the whole call: no copy per call.
  explicit UnparsableRequestInterceptor(const char* method) : method_(method) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    using grpc::experimental::InterceptionHookPoints;
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_MESSAGE)) {
      unparsable_ = methods->GetRecvMessage() == nullptr;
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS) &&
        unparsable_ && methods->GetSendStatus().error_code() == grpc::StatusCode::INTERNAL) {
      methods->ModifySendStatus(
          grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                       absl::StrCat("the request is not a valid message for ", method_,
                                    " (malformed protobuf or a string field that is not UTF-8)")));
    }
    methods->Proceed();
  }

 private:
  const char* const method_;
  bool unparsable_ = false;
};

class UnparsableRequestInterceptorFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    // Only calls that carry exactly one request message can have "the request" fail to parse.
    using Type = grpc::experimental::ServerRpcInfo::Type;
    if (info->type() != Type::UNARY && info->type() != Type::SERVER_STREAMING) return nullptr;
    return new UnparsableRequestInterceptor(info->method());
  }
};

}  // namespace

ServerRunner::~ServerRunner() { Shutdown(absl::ZeroDuration()); }

absl::Status ServerRunner::Start(const std::string& listen,
                                 const std::vector<grpc::Service*>& services,
                                 std::shared_ptr<grpc::ServerCredentials> credentials) {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  // Without this gRPC binds with SO_REUSEPORT and a second process on the same port "succeeds".
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.AddListeningPort(
      listen, credentials != nullptr ? credentials : grpc::InsecureServerCredentials(), &port_);
  // Bounded input: no request may exceed 512 KiB (RESOURCE_EXHAUSTED before any handler runs).
  // The largest valid request (a submission with a 4,000-character description and ten
  // attachments) is far below; a bigger limit would only let tiny repeated entries, which
  // protobuf parses to some 35 times their wire size, take more memory.
  builder.SetMaxReceiveMessageSize(kMaxReceiveBytes);
  // Far above the largest real answer (a full ListCases page); a bigger one is a bug, not sent.
  builder.SetMaxSendMessageSize(kMaxSendBytes);
  // Headers (a bearer token included) fit easily; a flood of metadata is refused per call.
  builder.AddChannelArgument(GRPC_ARG_MAX_METADATA_SIZE, kMaxMetadataBytes);
  // One connection cannot hold every handler thread; more calls on it wait at the client.
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, kMaxStreamsPerConnection);
  // A connection that never finishes its HTTP/2 preface and SETTINGS is dropped after this.
  builder.AddChannelArgument(GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS, 20'000);
  // Connections with no call for this long are closed (GOAWAY); clients reconnect on demand.
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS, 10 * 60'000);
  // Ping every client after a minute of silence and drop it if no answer within 20 s: frees the
  // streams of peers that vanished without closing the socket.
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 60'000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 20'000);
  // Keepalive enforcement: a client pinging more often than once a minute without calls is
  // struck; after two strikes it gets GOAWAY (ENHANCE_YOUR_CALM), so pings cannot flood us.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 60'000);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 2);
  // Memory and threads of the gRPC library are bounded: under memory pressure it shrinks
  // flow-control windows and then fails calls, and a call beyond the thread cap (every sync call
  // holds a thread, an intake call until Kafka acknowledges) gets RESOURCE_EXHAUSTED at once.
  grpc::ResourceQuota quota("meldpunt-grpc-server");
  quota.Resize(kMemoryQuotaBytes);
  quota.SetMaxThreads(kMaxThreads);
  builder.SetResourceQuota(quota);
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
  interceptors.push_back(std::make_unique<UnparsableRequestInterceptorFactory>());
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  for (grpc::Service* service : services) builder.RegisterService(service);
  server_ = builder.BuildAndStart();
  if (!server_ || port_ == 0) {
    server_.reset();
    return absl::UnavailableError(absl::StrCat("gRPC server cannot listen on ", listen));
  }
  SetServing(false);
  return absl::OkStatus();
}

void ServerRunner::SetServing(bool serving) {
  if (!server_) return;
  if (auto* health = server_->GetHealthCheckService()) health->SetServingStatus(serving);
}

void ServerRunner::Shutdown(absl::Duration grace) {
  if (!server_) return;
  SetServing(false);
  server_->Shutdown(absl::ToChronoTime(absl::Now() + grace));
  server_->Wait();
  server_.reset();
}

}  // namespace meldpunt::grpc_util
