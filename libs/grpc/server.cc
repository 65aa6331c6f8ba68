#include "libs/grpc/server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/resource_quota.h>
#include <grpcpp/support/server_interceptor.h>

#include <array>
#include <atomic>
#include <chrono>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "prometheus/counter.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace meldpunt::grpc_util {

// The per-method series of meldpunt_grpc_requests_total and meldpunt_grpc_request_seconds.
// Thread-safe: gRPC creates interceptors on all its threads; the method table has a lock, each
// method's series are created once and then only incremented.
class ServerMetrics {
 public:
  // Beyond this many distinct methods every further one is "unknown" (no server has that many;
  // the method names come from the registered services, so this is only a second fence).
  static constexpr size_t kMaxMethods = 256;

  class Method {
   public:
    Method(std::string name, prometheus::Family<prometheus::Counter>& calls,
           prometheus::Family<prometheus::Histogram>& seconds)
        : name_(std::move(name)),
          calls_(calls),
          seconds_(seconds.Add({{"method", name_}}, Buckets())) {}

    void Record(grpc::StatusCode code, double seconds) {
      const size_t index = static_cast<size_t>(code) < kCodes
                               ? static_cast<size_t>(code)
                               : static_cast<size_t>(grpc::StatusCode::UNKNOWN);
      prometheus::Counter* counter = counters_[index].load(std::memory_order_acquire);
      if (counter == nullptr) {
        // Family::Add returns the same counter for the same labels, so a race here is harmless.
        counter =
            &calls_.Add({{"method", name_},
                         {"code", absl::StatusCodeToString(static_cast<absl::StatusCode>(index))}});
        counters_[index].store(counter, std::memory_order_release);
      }
      counter->Increment();
      seconds_.Observe(seconds);
    }

   private:
    static prometheus::Histogram::BucketBoundaries Buckets() {
      return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
    }
    // grpc::StatusCode 0..16, the same numbers and names as absl::StatusCode.
    static constexpr size_t kCodes = 17;

    const std::string name_;
    prometheus::Family<prometheus::Counter>& calls_;
    prometheus::Histogram& seconds_;
    std::array<std::atomic<prometheus::Counter*>, kCodes> counters_{};
  };

  explicit ServerMetrics(prometheus::Registry& registry)
      : calls_(prometheus::BuildCounter()
                   .Name("meldpunt_grpc_requests_total")
                   .Help("gRPC calls served, by method and final status code")
                   .Register(registry)),
        seconds_(prometheus::BuildHistogram()
                     .Name("meldpunt_grpc_request_seconds")
                     .Help("gRPC call duration from its arrival to its final status, by method")
                     .Register(registry)) {}

  // The series of the method a call is for. A call the server has no method for (gRPC hands
  // those to its generic "unimplemented" handler, naming them after whatever path the client
  // sent) is "unknown": only registered methods become labels.
  Method* For(grpc::experimental::ServerRpcInfo& info) {
    const char* name = info.method();
    grpc::ServerContextBase* context = info.server_context();
    const bool generic = dynamic_cast<grpc::GenericCallbackServerContext*>(context) != nullptr ||
                         dynamic_cast<grpc::GenericServerContext*>(context) != nullptr;
    // The sync server's own unknown-method handler is registered as "unknown" (no leading '/').
    const absl::string_view method =
        generic || name == nullptr || name[0] != '/' ? absl::string_view("unknown") : name;
    {
      absl::ReaderMutexLock lock(&mu_);
      if (auto it = methods_.find(method); it != methods_.end()) return it->second.get();
    }
    absl::MutexLock lock(&mu_);
    auto it = methods_.find(method);
    if (it != methods_.end()) return it->second.get();
    if (methods_.size() >= kMaxMethods) {
      it = methods_.find(absl::string_view("unknown"));
      if (it != methods_.end()) return it->second.get();
      return Insert("unknown");
    }
    return Insert(method);
  }

 private:
  Method* Insert(absl::string_view method) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto& slot = methods_[method];
    slot = std::make_unique<Method>(std::string(method), calls_, seconds_);
    return slot.get();
  }

  prometheus::Family<prometheus::Counter>& calls_;
  prometheus::Family<prometheus::Histogram>& seconds_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::unique_ptr<Method>> methods_ ABSL_GUARDED_BY(mu_);
};

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

// Counts a call at its final status (for a server stream: when it ends) and observes its duration.
// Runs after UnparsableRequestInterceptor, so it sees the status the client gets.
class CallMetricsInterceptor final : public grpc::experimental::Interceptor {
 public:
  explicit CallMetricsInterceptor(ServerMetrics::Method* method)
      : method_(method), start_(std::chrono::steady_clock::now()) {}

  // A call that ends without the server sending a status (cancelled, or dropped at shutdown).
  ~CallMetricsInterceptor() override {
    if (!recorded_) Record(grpc::StatusCode::CANCELLED);
  }

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    using grpc::experimental::InterceptionHookPoints;
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS) &&
        !recorded_) {
      Record(methods->GetSendStatus().error_code());
    }
    methods->Proceed();
  }

 private:
  void Record(grpc::StatusCode code) {
    recorded_ = true;
    method_->Record(
        code, std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count());
  }

  ServerMetrics::Method* const method_;
  const std::chrono::steady_clock::time_point start_;
  bool recorded_ = false;
};

class CallMetricsInterceptorFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit CallMetricsInterceptorFactory(std::shared_ptr<ServerMetrics> metrics)
      : metrics_(std::move(metrics)) {}

  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new CallMetricsInterceptor(metrics_->For(*info));
  }

 private:
  const std::shared_ptr<ServerMetrics> metrics_;
};

}  // namespace

ServerRunner::~ServerRunner() { Shutdown(absl::ZeroDuration()); }

void ServerRunner::SetMetrics(prometheus::Registry* registry) {
  metrics_ = registry != nullptr ? std::make_shared<ServerMetrics>(*registry) : nullptr;
}

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
  // After the one above: interceptors see PRE_SEND_STATUS in this order, so the metrics count
  // the status the client gets.
  if (metrics_) interceptors.push_back(std::make_unique<CallMetricsInterceptorFactory>(metrics_));
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
