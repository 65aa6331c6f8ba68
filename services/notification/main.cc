// meldpunt-notification: letters to reporters and departments. See README.md.
#include <curl/curl.h>

#include "libs/service/wiring.h"
#include "services/notification/app.h"

int main(int argc, char** argv) {
  curl_global_init(CURL_GLOBAL_DEFAULT);  // once, before any thread
  using meldpunt::notification::NotificationConfig;
  int rc = meldpunt::service::RunMain<NotificationConfig>(
      argc, argv, "notification", meldpunt::notification::NotificationSchema(),
      meldpunt::service::RunApp<meldpunt::notification::NotificationApp, NotificationConfig>);
  curl_global_cleanup();
  return rc;
}
