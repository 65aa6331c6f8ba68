// The independent verifier: holds the system to DESIGN.md §4 for every case in a ledger. It
// reads every topic from offset 0 (read-committed), asks the services what Redis holds
// (GetCase, GetCaseClocks, ListDeliveries) and reads the SMTP sink's files, and repeats until
// every case passes or `settle` runs out. It trusts nothing the services say about themselves
// beyond what a user of theirs would see.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "nlohmann/json.hpp"

namespace meldpunt::chaos {

struct VerifyOptions {
  std::vector<std::string> ledgers;
  std::string kafka;
  std::string intake;        // gRPC host:port
  std::string deadline;      // gRPC host:port
  std::string notification;  // gRPC host:port
  std::string smtp_dir;
  // Clocks every ledger case must have (the chaos deadline policy gives reports and complaints
  // both). A clock due within `settle` must fire; after `fire_grace` past its due time it counts
  // as lost (timers that fell due while deadline-watch was down fire late, within the lease).
  std::vector<std::string> clocks = {"acknowledge", "answer"};
  absl::Duration fire_grace = absl::Seconds(20);
  absl::Duration settle = absl::Seconds(180);
  // A dead-lettered acknowledgement passes (it is visible to ops) only when the scenario made
  // the sinks fail for longer than the retries last.
  bool allow_dead_letter = false;
  // The case-event dead letters (meldpunt.case-events.dlq.v1) the scenario expects; any other
  // in its scope is a violation. In scope: those of a ledger or injected case, and those with no
  // such case (undecodable records) set aside since `since_ms`.
  // - injected: ledgers of cases the scenario made unhandleable for notification; every one of
  //   them must have a dead letter of notification ("cannot be retried"), none of another service.
  // - undecodable_services: the services (DeadLetter.service) that must each set aside every
  //   undecodable record written to the case topic since `since_ms` ("cannot be decoded").
  std::vector<std::string> injected;
  std::vector<std::string> other_injected;  // other scenarios' injected ledgers: out of scope
  std::vector<std::string> undecodable_services;
  int64_t since_ms = 0;
  // The duplicates rule's radius (metres) for a --nearby load, whose ledger lines carry each
  // case's category and point; 0 leaves the duplicate checks out. With it, beside the rest:
  // - a case is linked once (one CaseLinked id) and only a report is;
  // - its master is a case of the ledger, of its category, within the radius (a metre of slack
  //   for the index's 52-bit cells), and the event names the master's reference;
  // - following the links never comes back to a case (no cycle);
  // - of two routed reports of a category less than the radius apart (a metre less), at least
  //   one is linked: one replica missed no duplicate;
  // - the reporter of a linked case got the duplicate letter once, in the sink, naming the
  //   master's reference and not its case id.
  double duplicate_radius_m = 0;
};

// One row of the scenario table, and the first failures by rule (case id and why).
struct VerifyResult {
  int64_t acknowledged = 0;         // ledger lines (SubmitCase OK)
  int64_t found = 0;                // in the log and in GetCase
  int64_t dispatched_once = 0;      // one CaseRouted id and one dispatch id
  int64_t clocks_right = 0;         // every clock started once, held in Redis, fired when due
  int64_t acks_delivered = 0;       // NotificationDelivered + ListDeliveries + the sink's mail
  int64_t acks_dead_lettered = 0;   // on the DLQ and the log instead (counted in acks_delivered
                                    // only when allowed)
  int64_t repeats_absorbed = 0;     // records repeated with the same event id / idempotency key
  int64_t violations = 0;           // distinct ids for one fact, duplicate cases for one key
  int64_t undecodable_records = 0;  // on the case topic (poison), skipped by every service
  // meldpunt.case-events.dlq.v1, in the scenario's scope: "service/reason" -> dead letters.
  std::map<std::string, int64_t> dead_letters;
  int64_t unexpected_dead_letters = 0;    // of a ledger case, of another service, or stray
  int64_t injected = 0;                   // cases made unhandleable (injected ledgers)
  int64_t injected_dead_lettered = 0;     // of those, with notification's dead letter
  int64_t undecodable_dead_lettered = 0;  // (record, service) pairs set aside as undecodable
  int64_t linked = 0;                     // with duplicate_radius_m: ledger cases linked
  int64_t duplicate_letters = 0;          // of those, whose reporter got the right letter
  double dead_letter_after_max_s = 0;     // record written -> dead letter, the longest
  double lag_p50_s = 0;                   // OK -> dispatched and acknowledged, per case
  double lag_max_s = 0;
  std::string lag_max_case;    // that case, with its dispatch and acknowledgement lags
  double settled_after_s = 0;  // from the start of verification until all passed
  bool passed = false;
  std::vector<std::string> failures;  // "rule case_id: why", the first few per rule

  nlohmann::json ToJson() const;
};

VerifyResult Verify(const VerifyOptions& options);

}  // namespace meldpunt::chaos
