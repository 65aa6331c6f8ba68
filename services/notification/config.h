// Notification configuration: shared service keys, SMTP, templates and retry policy.
#pragma once

#include <map>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

#include "libs/config/service_config.h"

namespace meldpunt::notification {

struct NotificationConfig : config::ServiceConfig {
  NotificationConfig() {
    grpc_listen = "127.0.0.1:50054";
    admin_listen = "127.0.0.1:9104";
  }
  std::string consumer_group = "meldpunt-notification";
  std::string smtp_url = "smtp://127.0.0.1:2525";
  std::string smtp_from = "meldpunt@gemeente.example";
  std::string smtp_username;
  std::string smtp_password;
  std::string webhook_base_url;
  std::string templates_dir = "services/notification/templates";
  int64_t max_attempts = 5;
  absl::Duration first_backoff = absl::Seconds(1);
  absl::Duration max_backoff = absl::Seconds(30);
  std::map<std::string, std::string> answer_days = {
      {"COMPLAINT", "45"}, {"REPORT", "10"}, {"QUESTION", "14"}};
};

inline config::Schema<NotificationConfig> NotificationSchema() {
  config::Schema<NotificationConfig> schema("meldpunt-notification");
  config::AddServiceKeys(schema);
  schema
      .String("notification.consumer_group", &NotificationConfig::consumer_group,
              "Kafka consumer group", config::NonEmpty())
      .String("smtp.url", &NotificationConfig::smtp_url,
              "SMTP server, smtp://host:port or smtps://host:port",
              [](const std::string& v) -> std::string {
                return v.rfind("smtp://", 0) == 0 || v.rfind("smtps://", 0) == 0
                           ? ""
                           : "must start with smtp:// or smtps://";
              })
      .String("smtp.from", &NotificationConfig::smtp_from, "sender address of every e-mail",
              config::NonEmpty())
      .String("smtp.username", &NotificationConfig::smtp_username,
              "SMTP user (empty: no authentication)")
      .String("smtp.password", &NotificationConfig::smtp_password,
              "SMTP password; set it through MELDPUNT_SMTP_PASSWORD, never in the file")
      .String("webhook.base_url", &NotificationConfig::webhook_base_url,
              "base URL of department webhooks (not used yet by the acknowledgement flow)")
      .String("notification.templates_dir", &NotificationConfig::templates_dir,
              "folder with <language>/<template>.mustache files", config::NonEmpty())
      .Int("notification.max_attempts", &NotificationConfig::max_attempts,
           "delivery attempts before a message is dead-lettered", config::Range(1, 100))
      .Duration("notification.first_backoff", &NotificationConfig::first_backoff,
                "wait after the first failure")
      .Duration("notification.max_backoff", &NotificationConfig::max_backoff,
                "longest wait between attempts")
      .StringMap("notification.answer_days", &NotificationConfig::answer_days,
                 "case kind -> days until the answer, printed in the acknowledgement")
      .Check([](const NotificationConfig& c) -> absl::Status {
        for (const auto& [kind, days] : c.answer_days) {
          int64_t n = 0;
          if (!absl::SimpleAtoi(days, &n) || n < 0 || n > 3650) {
            return absl::InvalidArgumentError(
                absl::StrCat("notification.answer_days.", kind, ": must be a number of days"));
          }
        }
        return absl::OkStatus();
      });
  return schema;
}

}  // namespace meldpunt::notification
