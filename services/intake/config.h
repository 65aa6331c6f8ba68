// The intake's configuration: the shared service keys (libs/config/service_config.h).
#pragma once

#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "libs/config/service_config.h"
#include "meldpunt/types/v1/case.pb.h"

namespace meldpunt::intake {

struct IntakeConfig : config::ServiceConfig {
  IntakeConfig() {
    grpc_listen = "127.0.0.1:50051";
    admin_listen = "127.0.0.1:9101";
    producer_linger = absl::Milliseconds(2);  // a citizen's SubmitCase waits for its append
  }
  std::string consumer_group = "meldpunt-intake-projection";
  absl::Duration projection_wait = absl::Seconds(5);
  absl::Duration reopen_window = absl::Hours(24 * 60);
  absl::Duration received_at_max_age = absl::Hours(24 * 30);
  std::vector<std::string> received_at_systems;
  // Personal data is erased this long after a case is closed (answered, closed, withdrawn,
  // inadmissible, referred or merged), per kind; a kind not named keeps the default.
  std::map<std::string, std::string> retention = {{"COMPLAINT", "1825d"},
                                                  {"REPORT", "730d"},
                                                  {"QUESTION", "365d"},
                                                  {"SUGGESTION", "365d"},
                                                  {"COMPLIMENT", "365d"}};
  absl::Duration retention_interval = absl::Hours(1);

  // The retention term of a kind (CaseKind name); checked at load, so always valid here.
  absl::Duration RetentionOf(const std::string& kind) const {
    auto it = retention.find(kind);
    absl::StatusOr<absl::Duration> d =
        config::ParseDuration(it == retention.end() ? "365d" : it->second);
    return d.ok() ? *d : absl::Hours(24 * 365);
  }
};

inline config::Schema<IntakeConfig> IntakeSchema() {
  config::Schema<IntakeConfig> schema("meldpunt-intake");
  config::AddServiceKeys(schema);
  config::AddPrivacyKeys(schema);
  config::AddCatalogKeys(schema);
  schema
      .String("projection.consumer_group", &IntakeConfig::consumer_group,
              "Kafka consumer group of the case projection", config::NonEmpty())
      .Duration("projection.wait", &IntakeConfig::projection_wait,
                "how long a command waits for the projection to show its event before answering")
      // The replay timeout of the application base (rebuild.timeout in the other services).
      .Duration("projection.rebuild_timeout", &IntakeConfig::replay_timeout,
                "how long a projection rebuild may take")
      .Duration("cases.reopen_window", &IntakeConfig::reopen_window,
                "how long after the answer or closing a reporter may reopen a case")
      .Duration("cases.received_at_max_age", &IntakeConfig::received_at_max_age,
                "how far back SubmitCase's draft.received_at may lie (a letter or call registered "
                "later); older is refused")
      .StringList("cases.received_at_systems", &IntakeConfig::received_at_systems,
                  "submitting systems (submitter role) that may set draft.received_at, e.g. the "
                  "contact centre's CRM; the team and admins always may")
      .StringMap("privacy.retention", &IntakeConfig::retention,
                 "per case kind (COMPLAINT, REPORT, QUESTION, SUGGESTION, COMPLIMENT): how long "
                 "after closing the reporter's personal data is kept before it is erased "
                 "(e.g. 1825d); kinds not named keep their default")
      .Duration("privacy.retention_interval", &IntakeConfig::retention_interval,
                "how often the retention job looks for personal data past its term")
      .Check([](const IntakeConfig& c) -> absl::Status {
        for (const auto& [kind, term] : c.retention) {
          types::v1::CaseKind parsed;
          if (!types::v1::CaseKind_Parse(kind, &parsed) ||
              parsed == types::v1::CASE_KIND_UNSPECIFIED) {
            return absl::InvalidArgumentError(absl::StrCat(
                "privacy.retention: '", kind,
                "' is not a case kind (COMPLAINT, REPORT, QUESTION, SUGGESTION, COMPLIMENT)"));
          }
          absl::StatusOr<absl::Duration> d = config::ParseDuration(term);
          if (!d.ok() || *d <= absl::ZeroDuration()) {
            return absl::InvalidArgumentError(
                absl::StrCat("privacy.retention.", kind, ": '", term,
                             "' is not a positive duration (e.g. 730d)"));
          }
        }
        if (c.received_at_max_age <= absl::ZeroDuration() ||
            c.received_at_max_age > absl::Hours(24 * 366)) {
          return absl::InvalidArgumentError(
              "cases.received_at_max_age: must be more than 0 and at most 366d");
        }
        if (c.retention_interval < absl::Seconds(1)) {
          return absl::InvalidArgumentError("privacy.retention_interval: must be at least 1s");
        }
        return absl::OkStatus();
      });
  return schema;
}

}  // namespace meldpunt::intake
