// meldpunt-deadline-watch: the legal clocks of every case. See README.md.
#include "libs/service/wiring.h"
#include "services/deadline_watch/app.h"

int main(int argc, char** argv) {
  using meldpunt::deadline::DeadlineConfig;
  return meldpunt::service::RunMain<DeadlineConfig>(
      argc, argv, "deadline-watch", meldpunt::deadline::DeadlineSchema(),
      meldpunt::service::RunApp<meldpunt::deadline::DeadlineApp, DeadlineConfig>);
}
