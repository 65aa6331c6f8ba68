// The Open311 gateway process: the catalogue and API keys, the intake client, the HTTP server
// and the admin port.
#pragma once

#include <memory>

#include "absl/status/status.h"
#include "services/open311/config.h"
#include "services/open311/gateway.h"
#include "services/open311/http_server.h"

namespace prometheus {
class Registry;
}

namespace meldpunt::observability {
class AdminServer;
}

namespace meldpunt::open311 {

class GatewayApp {
 public:
  explicit GatewayApp(GatewayConfig config);
  ~GatewayApp();

  absl::Status Start();
  void Stop();
  bool Ready();
  int http_port() const { return http_ ? http_->port() : 0; }
  int admin_port() const;

 private:
  GatewayConfig config_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<catalog::CatalogFile> catalog_;
  std::unique_ptr<ApiKeyFile> keys_;
  std::unique_ptr<auth::Guard> guard_;
  std::unique_ptr<IntakeClient> intake_;
  std::unique_ptr<Gateway> gateway_;
  std::unique_ptr<HttpServer> http_;
  std::unique_ptr<observability::AdminServer> admin_;
};

}  // namespace meldpunt::open311
