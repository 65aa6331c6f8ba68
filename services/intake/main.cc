// meldpunt-intake: the front door. See services/intake/README.md.
#include "libs/service/wiring.h"
#include "services/intake/app.h"

int main(int argc, char** argv) {
  using meldpunt::intake::IntakeConfig;
  return meldpunt::service::RunMain<IntakeConfig>(
      argc, argv, "intake", meldpunt::intake::IntakeSchema(),
      meldpunt::service::RunApp<meldpunt::intake::IntakeApp, IntakeConfig>);
}
