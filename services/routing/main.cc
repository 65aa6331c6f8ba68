// meldpunt-routing: decides the department of each case and dispatches it. See README.md.
#include "libs/service/wiring.h"
#include "services/routing/app.h"

int main(int argc, char** argv) {
  using meldpunt::routing::RoutingConfig;
  return meldpunt::service::RunMain<RoutingConfig>(
      argc, argv, "routing", meldpunt::routing::RoutingSchema(),
      meldpunt::service::RunApp<meldpunt::routing::RoutingApp, RoutingConfig>);
}
