// Topic names: part of the contract with departments and operations; keep them stable.
#pragma once

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace meldpunt::events {

inline constexpr char kCaseEventsTopic[] = "meldpunt.case-events.v1";
// Records of the case event log a service could not handle (events/v1/dead_letter.proto), one
// partition, key = dead-letter id.
inline constexpr char kCaseEventsDeadLetterTopic[] = "meldpunt.case-events.dlq.v1";
inline constexpr char kNotificationDeadLetterTopic[] = "meldpunt.notifications.dlq.v1";
// The audit trail of personal data (events/v1/audit.proto), key = case id.
inline constexpr char kAuditTopic[] = "meldpunt.audit.v1";

inline std::string DispatchTopic(absl::string_view department) {
  return absl::StrCat("meldpunt.dispatch.", department, ".v1");
}

}  // namespace meldpunt::events
