// Folding the whole case log again, from its first record to where it ends now, with a throwaway
// consumer group: how a service rebuilds derived state (the intake's projection, deadline-watch's
// timers) after Redis lost it or on an operator's request.
//
//   ASSIGN_OR_RETURN(int64_t records, ReplayCaseLog(config, "meldpunt-intake-rebuild",
//   absl::Minutes(30),
//       [&](const events::Envelope& e, const kafka::Record& r) { return store.Apply(e, r.offset);
//       }));
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "libs/config/service_config.h"
#include "libs/events/batch.h"
#include "libs/events/codec.h"
#include "libs/kafka/consumer.h"

namespace meldpunt::service {

// What a replay does with one record of the log.
using ReplayHandler = std::function<absl::Status(const events::Envelope&, const kafka::Record&)>;
// A replay of the case log as a rebuild runs it: ReplayCaseLog bound by the composition root to
// the service's config, consumer group prefix, timeout (rebuild.timeout) and lanes; a list of
// records in a rebuild's unit test. Returns the records read.
using CaseLogReplay = std::function<absl::StatusOr<int64_t>(const ReplayHandler& handle)>;
// The same for a rebuild that folds runs of records at once (the batch form below), with its
// `reached` step.
using CaseLogBatchReplay = std::function<absl::StatusOr<int64_t>(
    const events::BatchHandler& handle, const std::function<absl::Status()>& reached)>;

// Calls `handle` for every decodable record of meldpunt.case-events.v1 up to the high watermarks
// read at the start, retrying a record that fails for an outage until `timeout` (one that cannot
// be handled, by its status's retry class, is passed over with an error log). Returns the records
// read.
// With `parallelism` > 1, that many threads handle the records, each the partitions p with
// p % parallelism == its number, in log order within a partition (a case's events stay in order;
// `handle` must be safe to call from several threads for different cases).
// With `reached`: once every record up to those high watermarks is handled, `reached` is called
// (an error of it ends the replay), and the replay then goes on to the high watermarks read after
// it returned. A service that stopped its own consumer of the log restarts it in `reached`: what
// was appended while it was stopped is handled by the replay or, later, by that consumer, with no
// gap between the two (both may handle some records twice: handlers drop what comes twice).
absl::StatusOr<int64_t> ReplayCaseLog(
    const config::ServiceConfig& config, const std::string& group_prefix, absl::Duration timeout,
    const std::function<absl::Status(const events::Envelope&, const kafka::Record&)>& handle,
    int parallelism = 1, const std::function<absl::Status()>& reached = nullptr);

// The batch form: the same replay (the same end positions, `reached`, errors and timeout), with
// each lane handing `handle` the run of records it holds (in log order per partition, at most
// kReplayBatch at once; with `parallelism` <= 1 one lane). A handler folds the run at once and
// says what failed with Batch::Fail (it sends nothing: Batch::Send and After are for the live
// loop). The records before the first failure count as handled; the failed one is tried again
// with the records after it, as the record form retries one record: an outage until `timeout`, a
// record that cannot be handled (give up, or no class after 5 attempts) passed over with an error
// log.
// `pass_over`: the payloads (envelope field numbers) the handler does nothing with, which the
// replay counts as read but neither decodes nor hands over (events::PayloadField reads which
// payload a record carries without decoding it).
inline constexpr size_t kReplayBatch = 5000;
absl::StatusOr<int64_t> ReplayCaseLog(const config::ServiceConfig& config,
                                      const std::string& group_prefix, absl::Duration timeout,
                                      const events::BatchHandler& handle, int parallelism = 1,
                                      const std::function<absl::Status()>& reached = nullptr,
                                      const std::vector<int>& pass_over = {});

// What a scan does with one record: false stops the scan.
using ScanVisitor = std::function<bool(const kafka::Record&)>;
// A scan of the case log as a rebuild runs it beside its replay: ScanCaseLog bound by the
// composition root; a list of records in a unit test. Returns the records read.
using CaseLogScan = std::function<absl::StatusOr<int64_t>(const ScanVisitor& visit,
                                                          const std::function<bool()>& stopped)>;

// Reads meldpunt.case-events.v1 from its first record to the high watermarks read at the start,
// on the caller's thread, handing `visit` every record as it is (not decoded: the visitor picks
// what it needs), in log order within a partition, until the ends, `timeout`, or `visit` answers
// false or `stopped` answers true (asked at least every 200 ms, while it waits for Kafka too).
// What a rebuild reads ahead of its replay (the outbox rebuild's outcomes). Returns the records
// read.
absl::StatusOr<int64_t> ScanCaseLog(const config::ServiceConfig& config,
                                    const std::string& group_prefix, absl::Duration timeout,
                                    const ScanVisitor& visit,
                                    const std::function<bool()>& stopped = nullptr);

}  // namespace meldpunt::service
