// Notification configuration: shared service keys, SMTP, templates and retry policy.
#pragma once

#include "yaml-cpp/yaml.h"

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
  absl::Duration retry_for = absl::Hours(24);
  absl::Duration first_backoff = absl::Seconds(2);
  absl::Duration max_backoff = absl::Minutes(10);
  int64_t workers = 16;
  absl::Duration lease = absl::Minutes(2);
  absl::Duration poll_interval = absl::Milliseconds(50);
  int64_t max_in_flight_per_host = 2;
  YAML::Node rules;
  YAML::Node recipients;
  std::vector<std::string> webhook_allow_private;
  absl::Duration webhook_timeout = absl::Seconds(15);
  // The second-line route named in complaint answers and inadmissibility letters; the defaults are
  // the Vlaamse Ombudsdienst's (to be checked by the municipality before going live).
  std::string second_line_name = "Vlaamse Ombudsdienst";
  std::string second_line_address = "Leuvenseweg 48, 1000 Brussel";
  std::string second_line_website = "https://www.vlaamseombudsdienst.be";
  std::string second_line_email = "klachten@vlaamseombudsdienst.be";
  std::string second_line_phone = "1700";
  std::map<std::string, std::string> answer_days = {
      {"COMPLAINT", "45"}, {"REPORT", "10"}, {"QUESTION", "14"}};
};

inline config::Schema<NotificationConfig> NotificationSchema() {
  config::Schema<NotificationConfig> schema("meldpunt-notification");
  config::AddServiceKeys(schema);
  config::AddPrivacyKeys(schema);
  config::AddCatalogKeys(schema);
  config::AddRebuildKeys(schema);
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
              "prefix of recipient webhooks written as a path (/hooks/x); empty: full URLs only")
      .StringList("webhook.allow_private", &NotificationConfig::webhook_allow_private,
                  "CIDR ranges webhook targets may resolve into although private or loopback "
                  "(e.g. 127.0.0.0/8 in development); everything else private is refused")
      .Duration("webhook.timeout", &NotificationConfig::webhook_timeout,
                "longest a webhook request may take")
      .Int("notification.workers", &NotificationConfig::workers, "messages sent at the same time",
           config::Range(1, 256))
      .Duration("notification.lease", &NotificationConfig::lease,
                "how long a claimed message is reserved before it may be tried again elsewhere "
                "(longer than any send)")
      .Duration("notification.poll_interval", &NotificationConfig::poll_interval,
                "how often due messages are claimed")
      .Int("notification.max_in_flight_per_host", &NotificationConfig::max_in_flight_per_host,
           "webhook requests to one host at the same time", config::Range(1, 256))
      .Tree("notification.rules", &NotificationConfig::rules,
            "list of {on, when, kinds, to, template, channel}: which letter goes to whom")
      .Tree("notification.recipients", &NotificationConfig::recipients,
            "map role -> {email, webhook, secret_env, language}")
      .String("notification.templates_dir", &NotificationConfig::templates_dir,
              "folder with <language>/<template>.mustache files", config::NonEmpty())
      .Duration("notification.retry_for", &NotificationConfig::retry_for,
                "how long temporary failures (SMTP 4xx, no connection, timeouts, HTTP 5xx, 408, "
                "429) are retried from when a message was queued before it is dead-lettered; "
                "permanent ones (SMTP 5xx, other HTTP 4xx) are dead-lettered at once",
                [](const absl::Duration& d) -> std::string {
                  return d >= absl::Seconds(1) && d <= absl::Hours(24 * 30)
                             ? ""
                             : "must be between 1s and 30d";
                })
      .Duration("notification.first_backoff", &NotificationConfig::first_backoff,
                "wait after the first failure; it doubles, with jitter, up to max_backoff",
                [](const absl::Duration& d) -> std::string {
                  return d >= absl::Milliseconds(10) && d <= absl::Hours(1)
                             ? ""
                             : "must be between 10ms and 1h";
                })
      .Duration("notification.max_backoff", &NotificationConfig::max_backoff,
                "longest wait between attempts, and the most of a webhook's Retry-After honoured",
                [](const absl::Duration& d) -> std::string {
                  return d >= absl::Milliseconds(10) && d <= absl::Hours(6)
                             ? ""
                             : "must be between 10ms and 6h";
                })
      .String("notification.second_line.name", &NotificationConfig::second_line_name,
              "where a citizen goes after a complaint answer or an inadmissibility decision (the "
              "second line): the Vlaamse Ombudsdienst, or the municipality's own ombudsman",
              config::NonEmpty())
      .String("notification.second_line.address", &NotificationConfig::second_line_address,
              "the second line's postal address (empty: not in the letters)")
      .String("notification.second_line.website", &NotificationConfig::second_line_website,
              "the second line's website (empty: not in the letters)")
      .String("notification.second_line.email", &NotificationConfig::second_line_email,
              "the second line's e-mail address (empty: not in the letters)")
      .String("notification.second_line.phone", &NotificationConfig::second_line_phone,
              "the second line's phone number (empty: not in the letters)")
      .StringMap("notification.answer_days", &NotificationConfig::answer_days,
                 "case kind -> days until the answer, printed in the acknowledgement")
      .Check([](const NotificationConfig& c) -> absl::Status {
        if (c.lease <= c.webhook_timeout + absl::Seconds(5)) {
          return absl::InvalidArgumentError(
              "notification.lease: must be longer than webhook.timeout plus 5s");
        }
        if (c.max_backoff < c.first_backoff) {
          return absl::InvalidArgumentError(
              "notification.max_backoff: must not be shorter than notification.first_backoff");
        }
        if (c.retry_for < c.max_backoff) {
          return absl::InvalidArgumentError(
              "notification.retry_for: must not be shorter than notification.max_backoff");
        }
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
