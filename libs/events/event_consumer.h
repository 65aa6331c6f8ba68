// The consume-handle-commit loop every service runs over the case event log.
//
//   KafkaDeadLetters dead_letters(*producer, "routing", "meldpunt-routing");
//   EventConsumer loop(std::move(consumer), [&](const Envelope& e, const kafka::Record& r) {
//     return logic.Handle(e);
//   }, registry, "meldpunt-routing", {.dead_letters = &dead_letters});
//   loop.Start();
//   ...
//   loop.Stop();  // finishes the record in hand, commits, leaves the group
//
// A record is committed only once it is handled or set aside. What a handler's error means is
// read from the status (status::RetryOf, libs/status/retry.h), not guessed from its code:
// - in place (Kafka or Redis down; also "recreate the client", which the process does by
//   exiting): the same record again, with backoff capped at 5 s, for as long as it lasts. The
//   record is not at fault, and setting records aside during an outage would lose them too.
// - give up (bad bytes, a template that cannot render this case): set aside at once.
// - unclassified (INTERNAL or UNKNOWN without a payload): retried up to `max_attempts` times,
//   then set aside.
// Setting aside puts the record on meldpunt.case-events.dlq.v1 through `dead_letters`
// (libs/events/dead_letters.h), durably, before the record is committed; while that fails the
// loop tries again and does not move on. Without a sink (tests of the loop only) a record is
// skipped with an error log. Owns one thread, and with `lanes` > 1 a pool of lanes - 1 lane
// threads that lives as long as the loop.
//
// With `lanes` > 1 the loop takes what the consumer already holds (up to `max_batch` records),
// spreads it over as many lanes as it has `lane_min_records` records for (one at least, `lanes` at
// most), handles each partition's records in order on its lane (partition % the lanes used), in
// parallel with the other lanes, and commits each partition's last handled record once the whole
// batch is done. A batch handler's run takes from each partition of its lane its next records.
// Order within a partition (so within a case) is kept; the handler must be safe to call from
// several threads at once. A batch handler (libs/events/batch.h) gets each lane's run of records
// at once, with an explicit context: what it sends is waited for once for the run, and what must
// follow the acknowledgements runs then, in record order.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "libs/events/batch.h"
#include "libs/events/codec.h"
#include "libs/kafka/consumer.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace meldpunt::events {

using EventHandler = std::function<absl::Status(const Envelope&, const kafka::Record&)>;

struct EventConsumerStats {
  std::atomic<int64_t> handled{0};
  std::atomic<int64_t> dead_lettered{0};  // set aside (on the dead-letter topic)
  std::atomic<int64_t> retries{0};
};

class DeadLetterSink;

// What handlers wrote outside Kafka, made durable before the offsets that cover it are committed:
// e.g. Redis writes held by a replica (service::RedisDurability), so that a failover of the
// primary cannot lose state whose records are already committed. Called from the loop thread.
class Durability {
 public:
  virtual ~Durability() = default;
  // Taken before a record or batch is handled.
  virtual int64_t Mark() = 0;
  // OK when everything written since `mark` is durable. Otherwise the records are handled again
  // (handlers are idempotent) and confirmed again, with backoff, and nothing is committed until
  // it is OK.
  virtual absl::Status Confirm(int64_t mark) = 0;
};

struct EventConsumerOptions {
  int lanes = 1;        // partitions handled in parallel, at most (1: one record at a time)
  int max_batch = 256;  // records taken at once when lanes > 1
  // A lane's run costs the same round trips to Redis and the same wait for its acknowledgements
  // however few records it holds, so a batch is spread over another lane only for each
  // `lane_min_records` records it holds: a batch of fewer than 2 * lane_min_records records goes
  // to one lane on the loop's own thread, whatever partitions it spans, and each of its runs
  // takes the partitions side by side (libs/events/lane_runs.h), with one_record_per_case too: a
  // partition cut at a case's second record goes on in the next run, once the acknowledgements
  // of the run before are in (docs/benchmarks.md, "Deadline-watch's small batches on one lane").
  int lane_min_records = 64;
  // Where records that cannot be handled go (must outlive the loop); every service sets it.
  DeadLetterSink* dead_letters = nullptr;
  // Attempts at a record whose error says nothing of what to do (status::Retry::kUnclassified).
  int max_attempts = 5;
  // A batch handler's wait for the acknowledgements of what it sent (Batch::Finish).
  absl::Duration ack_timeout = absl::Seconds(30);
  // A batch ends before a second record of a case it holds, so that a handler whose state is
  // saved only once its records are acknowledged (Batch::After) reads it saved for the next one.
  bool one_record_per_case = false;
  // With one_record_per_case: the records the handler reads and drops, changing nothing and
  // appending nothing (deadline-watch: its own clock records). They do not count as their case's
  // record, so a run goes on past them (LaneRuns). Null: every record counts.
  std::function<bool(const Envelope&)> inert;
  // Confirmed before every commit (must outlive the loop); null: nothing to wait for.
  Durability* durability = nullptr;
};

class EventConsumer {
 public:
  // `registry` (optional, must outlive the loop) gets meldpunt_events_consumed_total{group,
  // outcome} and meldpunt_kafka_consumer_lag{group}: the records behind on the partitions this
  // loop holds (kafka::Consumer::Lag), sampled by the loop thread at most once a second between
  // polls, 0 once stopped. Loops of one group in one process add up. With lanes > 1 or a batch
  // handler also meldpunt_events_batch_records{group} (the records each poll took at once) and, for
  // a batch handler, meldpunt_events_runs_total{group} (the handler's calls: each run costs its
  // round trips and one wait for acknowledgements, so runs per record is what batching saves).
  EventConsumer(std::unique_ptr<kafka::Consumer> consumer, EventHandler handler,
                prometheus::Registry* registry = nullptr, const std::string& group = "",
                EventConsumerOptions options = {});
  // The same loop with a handler that takes each lane's run of records at once (batch.h), in
  // log order per partition, at most `max_batch` records over all lanes; used with any `lanes`.
  // Undecodable records are set aside before the handler sees them.
  EventConsumer(std::unique_ptr<kafka::Consumer> consumer, BatchHandler handler,
                prometheus::Registry* registry = nullptr, const std::string& group = "",
                EventConsumerOptions options = {});
  ~EventConsumer();

  void Start();
  void Stop();
  const EventConsumerStats& stats() const { return stats_; }
  // True once the consumer has joined its group and holds partitions (or polled without error).
  bool running() const { return running_.load(); }
  // The group has given this consumer its partitions (libs/kafka Consumer::joined).
  bool joined() const { return consumer_ && consumer_->joined(); }

 private:
  void Run();
  void RunLanes();
  // The next record (or none within the poll timeout); nullopt after a fatal Kafka error, which
  // ends the loop (logged, running() turns false).
  std::optional<std::optional<kafka::Record>> PollNext();
  // Moves the lag gauge to consumer_->Lag() when a second has passed since the last sample.
  void MaybeReportLag();
  // Decodes and handles one record, retrying in place. False when Stop() came before it was
  // handled: the record must not be committed.
  bool Process(const kafka::Record& record);
  // Puts the record on the dead-letter topic, trying again until that is durable; false when
  // Stop() came first (the record must not be committed).
  bool SetAside(const kafka::Record& record, const Envelope* envelope, const absl::Status& error,
                int attempts, absl::string_view reason);
  // Runs `handle` (true: handled, false: Stop() came) until durability confirms what it wrote,
  // handling again after each failed confirmation; false when Stop() came first (then nothing
  // may be committed).
  bool HandleDurably(const std::function<bool()>& handle);
  // Handles one lane's records in order, one at a time; returns how many are done for good
  // (handled, or set aside), a prefix: fewer than all only when Stop() came.
  size_t RunLane(const std::vector<kafka::Record>& records);
  // The same for a batch handler: the lane's records one Batch at a time, each taking every
  // partition's next records (LaneRuns), until all are done (or Stop() came). Says of each record
  // whether it is done: a prefix of each partition.
  std::vector<char> RunBatchLane(const std::vector<kafka::Record>& records);
  // Runs lane(i) for every i in `lanes` (lanes[0] on this thread, the rest on the lane threads)
  // and returns when all are done.
  void RunOnLanes(const std::vector<size_t>& lanes, const std::function<void(size_t)>& lane);

  std::unique_ptr<kafka::Consumer> consumer_;
  EventHandler handler_;
  BatchHandler batch_handler_;
  EventConsumerOptions options_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> running_{false};
  EventConsumerStats stats_;
  prometheus::Counter* handled_metric_ = nullptr;
  prometheus::Counter* dead_lettered_metric_ = nullptr;
  prometheus::Counter* retried_metric_ = nullptr;
  prometheus::Gauge* lag_metric_ = nullptr;
  prometheus::Histogram* batch_metric_ = nullptr;
  prometheus::Counter* runs_metric_ = nullptr;
  int64_t lag_reported_ = 0;  // what this loop added to the gauge (loop thread, then Stop)
  std::chrono::steady_clock::time_point next_lag_sample_;
  std::thread thread_;

  // The lane threads (lanes - 1 of them), started with the loop; a batch hands each its lane.
  struct LaneWork {
    absl::Mutex mu;
    const std::function<void(size_t)>* run ABSL_GUARDED_BY(mu) = nullptr;
    std::vector<size_t> pending ABSL_GUARDED_BY(mu);  // lanes not taken yet
    size_t busy ABSL_GUARDED_BY(mu) = 0;              // lanes taken, not finished
    bool quit ABSL_GUARDED_BY(mu) = false;
  };
  LaneWork work_;
  std::vector<std::thread> lane_threads_;
};

}  // namespace meldpunt::events
