// meldpunt-open311: the Open311 GeoReport v2 gateway. See README.md.
#include "libs/service/runtime.h"
#include "services/open311/app.h"

int main(int argc, char** argv) {
  using meldpunt::open311::GatewayConfig;
  return meldpunt::service::RunMain<GatewayConfig>(
      argc, argv, "open311", meldpunt::open311::GatewaySchema(),
      [](const GatewayConfig& config) -> absl::Status {
        meldpunt::open311::GatewayApp app(config);
        if (absl::Status started = app.Start(); !started.ok()) return started;
        meldpunt::service::WaitForShutdownSignal();
        app.Stop();
        return absl::OkStatus();
      });
}
