// Runs a gRPC server with the standard health service (grpc.health.v1) and reflection, so that
// grpcurl and load balancers work against every Meldpunt service.
//
//   ServerRunner server;
//   server.SetMetrics(registry.get());  // optional: meldpunt_grpc_requests_total and _seconds
//   RETURN_IF_ERROR(server.Start("127.0.0.1:50051", {&intake_service}));
//   server.SetServing(true);
//   ...
//   server.Shutdown(absl::Seconds(10));  // drains in-flight calls
//
// gRPC owns the server's threads; Shutdown waits for them.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace prometheus {
class Registry;
}  // namespace prometheus

namespace meldpunt::grpc_util {

class ServerMetrics;

class ServerRunner {
 public:
  // The limits every Meldpunt gRPC server applies (libs/grpc/README.md says why).
  static constexpr int kMaxReceiveBytes = 512 * 1024;
  static constexpr int kMaxSendBytes = 32 * 1024 * 1024;
  static constexpr int kMaxMetadataBytes = 16 * 1024;
  static constexpr int kMaxStreamsPerConnection = 100;
  static constexpr size_t kMemoryQuotaBytes = 256 * 1024 * 1024;
  static constexpr int kMaxThreads = 64;

  ServerRunner() = default;
  ~ServerRunner();
  ServerRunner(const ServerRunner&) = delete;
  ServerRunner& operator=(const ServerRunner&) = delete;

  // Every call of a server started after this is counted in `registry` (which must outlive the
  // server): meldpunt_grpc_requests_total{method, code} at its final status (a server stream
  // when it ends) and meldpunt_grpc_request_seconds{method}. `method` is the registered method
  // ("/meldpunt.intake.v1.Intake/SubmitCase", health and reflection included) or "unknown", so
  // callers cannot add series. Null: no metrics.
  void SetMetrics(prometheus::Registry* registry);

  // Binds `listen` (host:port; port 0 picks one) with `credentials` (TLS or, on loopback for
  // development, insecure: auth::ServerCredentials); null means insecure.
  absl::Status Start(const std::string& listen, const std::vector<grpc::Service*>& services,
                     std::shared_ptr<grpc::ServerCredentials> credentials = nullptr);
  // Health status of the overall server ("") and every registered service.
  void SetServing(bool serving);
  void Shutdown(absl::Duration grace);
  int port() const { return port_; }

 private:
  // Shared with the interceptor factory the server owns.
  std::shared_ptr<ServerMetrics> metrics_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

}  // namespace meldpunt::grpc_util
