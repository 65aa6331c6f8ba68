// A Kafka group consumer with manual offset commits: the caller commits a record only after it
// handled it, so a crash means the record is handled again (at least once), never skipped.
//
//   ASSIGN_OR_RETURN(auto consumer, Consumer::Create({.brokers = b, .group_id = "meldpunt-routing",
//                                                     .topics = {kCaseEventsTopic}}, &listener));
//   while (running) {
//     ASSIGN_OR_RETURN(std::optional<Record> record, consumer->Poll(absl::Milliseconds(200)));
//     if (!record) continue;
//     RETURN_IF_ERROR(Handle(*record));
//     RETURN_IF_ERROR(consumer->Commit(*record));
//   }
//
// Not thread-safe: one thread polls, handles and commits. The rebalance listener runs on that
// thread, inside Poll. Close() commits nothing by itself and leaves the group cleanly.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <librdkafka/rdkafkacpp.h>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace meldpunt::kafka {

struct ConsumerOptions {
  std::string brokers;
  std::string group_id;
  std::vector<std::string> topics;
  std::string client_id = "meldpunt";
  absl::Duration session_timeout = absl::Seconds(10);
  // Handled offsets are stored at once and committed at most this often (and synchronously on
  // revocation and Close), instead of one OffsetCommit request per record: a crash hands at most
  // this much work to the next owner again, which every handler absorbs (idempotent on event id).
  absl::Duration commit_interval = absl::Milliseconds(100);
  std::map<std::string, std::string> extra;
  // False: the consumer joins no group and subscribes to nothing; AssignFromStart gives it its
  // partitions (a replay of a whole topic: no JoinGroup before the first fetch, no LeaveGroup at
  // Close). `group_id` then only names it; nothing is committed under it.
  bool subscribe = true;
  // False: records come without their headers (Record::headers empty), for a reader that needs
  // only the values (a replay of the log): each header read is two strings made on every record.
  bool headers = true;
};

struct Record {
  std::string topic;
  int32_t partition = -1;
  int64_t offset = -1;
  std::string key;
  std::string value;
  std::vector<std::pair<std::string, std::string>> headers;
  absl::Time timestamp;
};

struct TopicPartition {
  std::string topic;
  int32_t partition;
  bool operator==(const TopicPartition&) const = default;
};

// Told which partitions this replica owns; a service moves per-partition state (timers) on it.
class RebalanceListener {
 public:
  virtual ~RebalanceListener() = default;
  virtual void OnAssigned(const std::vector<TopicPartition>& partitions) = 0;
  // Before the partitions go; the consumer commits what it handled right after.
  virtual void OnRevoked(const std::vector<TopicPartition>& partitions) = 0;
};

class Consumer {
 public:
  // `listener` may be null; it must outlive the consumer.
  static absl::StatusOr<std::unique_ptr<Consumer>> Create(const ConsumerOptions& options,
                                                          RebalanceListener* listener = nullptr);
  ~Consumer();
  Consumer(const Consumer&) = delete;
  Consumer& operator=(const Consumer&) = delete;

  // The next record, or nullopt when none arrived in `timeout`. Transient errors (broker down,
  // partition EOF) are logged and give nullopt; a fatal error is returned as INTERNAL.
  absl::StatusOr<std::optional<Record>> Poll(absl::Duration timeout);

  // Marks the record handled: its offset + 1 is stored and committed asynchronously within
  // `commit_interval` (Close and revocation commit synchronously what was marked).
  absl::Status Commit(const Record& record);
  absl::Status CommitSync();

  std::vector<TopicPartition> Assignment();
  // Counts the assignments and revocations so far (they happen inside Poll): a caller holding
  // records polled earlier checks it to drop those of partitions it no longer owns.
  int64_t rebalances() const;
  // Whether the group gave this consumer its first assignment (possibly no partitions, when the
  // group has more members than partitions) since it was created. Any thread.
  bool joined() const;

  // For a consumer created with `subscribe` false: reads partitions 0..partitions-1 of `topic`
  // from their first records.
  absl::Status AssignFromStart(const std::string& topic, int partitions);

  // The number of partitions of `topic` (from the broker's metadata).
  absl::StatusOr<int> PartitionCount(const std::string& topic, absl::Duration timeout);
  // The offset the next record written to the partition will get (the high watermark).
  absl::StatusOr<int64_t> HighWatermark(const std::string& topic, int32_t partition,
                                        absl::Duration timeout);
  // The first offset still on the partition (retention may have deleted earlier ones) and the
  // high watermark.
  absl::StatusOr<std::pair<int64_t, int64_t>> Watermarks(const std::string& topic,
                                                         int32_t partition, absl::Duration timeout);

  // Records behind on the partitions this consumer holds, summed: per partition the high
  // watermark librdkafka took from its last fetch response (cached, no request) minus the next
  // offset to handle - after the last Commit()ed record; before one, the group's committed
  // offset (asked for once per assignment) or else the first record polled. A partition whose
  // watermark or position is not known yet counts 0. Only the first call after an assignment
  // waits, for that one OffsetFetch (at most kCommittedTimeout). Same thread as Poll.
  int64_t Lag();
  static constexpr absl::Duration kCommittedTimeout = absl::Seconds(1);

  void Close();

 private:
  class Rebalancer;
  Consumer() = default;

  std::unique_ptr<Rebalancer> rebalancer_;
  // Commits the stored offsets when some wait and `commit_interval` has passed since the last.
  void MaybeCommit();

  // For Lag: the partitions held now (set on every rebalance, inside Poll).
  void Hold(std::vector<TopicPartition> partitions);
  // Fills next_offset_ from the group's committed offsets for the held partitions without one.
  void FetchCommitted();

  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
  bool subscribed_ = true;  // ConsumerOptions::subscribe
  bool headers_ = true;     // ConsumerOptions::headers
  std::vector<TopicPartition> held_;
  // Per held partition, the next offset to handle (or kFromLogStart: the group has committed
  // nothing, so consumption starts at the log start).
  std::map<std::pair<std::string, int32_t>, int64_t> next_offset_;
  static constexpr int64_t kFromLogStart = -2;
  bool committed_unknown_ = false;  // assigned since Lag() last asked for committed offsets
  absl::Duration commit_interval_;
  absl::Time last_commit_ = absl::InfinitePast();
  bool uncommitted_ = false;
  bool closed_ = false;
};

}  // namespace meldpunt::kafka
