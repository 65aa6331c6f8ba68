// Topic names: part of the contract with departments and operations; keep them stable.
#pragma once

#include <map>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "libs/kafka/admin.h"

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

// How long each topic keeps its records, set explicitly whatever the broker's default:
// - the case log and both dead-letter queues for ever: every rebuild replays the log from its
//   start, and a queue's record is open until an action closes it;
// - the audit trail two years (the proof of who saw whom; a local policy may keep it longer);
// - a dispatch feed 90 days: as long as a department may need to read its feed again.
inline constexpr int64_t kAuditRetentionMs = 730LL * 24 * 3600 * 1000;
inline constexpr int64_t kDispatchRetentionMs = 90LL * 24 * 3600 * 1000;

inline std::string RetentionMs(absl::string_view topic) {
  if (topic == kAuditTopic) return absl::StrCat(kAuditRetentionMs);
  if (absl::StartsWith(topic, "meldpunt.dispatch.")) return absl::StrCat(kDispatchRetentionMs);
  return "-1";
}

// A Meldpunt topic as the services create it when it is missing: its retention (above), no
// retention by size, no unclean leader election (a replica that missed acknowledged records never
// becomes leader), and min.insync.replicas 2 from a replication factor of 3 on (1 below), so that
// with acks=all an acknowledged record is on two brokers.
inline kafka::TopicSpec TopicSpecFor(absl::string_view topic, int partitions,
                                     int replication_factor) {
  const int min_insync = replication_factor >= 3 ? 2 : 1;
  return {.name = std::string(topic),
          .partitions = partitions,
          .replication_factor = replication_factor,
          .config = {{"retention.ms", RetentionMs(topic)},
                     {"retention.bytes", "-1"},
                     {"cleanup.policy", "delete"},
                     {"min.insync.replicas", absl::StrCat(min_insync)},
                     {"unclean.leader.election.enable", "false"}}};
}

}  // namespace meldpunt::events
