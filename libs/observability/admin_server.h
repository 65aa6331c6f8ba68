// The admin HTTP port of every service: /metrics (Prometheus text), /healthz (the process runs),
// /readyz (its dependencies are connected and it serves).
//
//   AdminServer admin(registry, [&] { return app.Ready(); });
//   RETURN_IF_ERROR(admin.Start("127.0.0.1:9101"));
//
// Owns one listener thread (cpp-httplib's worker pool behind it); Stop() joins it.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "prometheus/registry.h"

namespace httplib {
class Server;
}

namespace meldpunt::observability {

class AdminServer {
 public:
  AdminServer(std::shared_ptr<prometheus::Registry> registry, std::function<bool()> ready);
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // Binds host:port (port 0 picks a free one) and serves in the background.
  absl::Status Start(const std::string& listen);
  void Stop();
  int port() const { return port_; }

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  std::function<bool()> ready_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
};

// Renders a registry in the Prometheus text format.
std::string RenderMetrics(prometheus::Registry& registry);

}  // namespace meldpunt::observability
