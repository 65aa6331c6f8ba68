// What notification keeps, in Redis: an outbox of messages and what each case's letters need.
//   mp:notify:jobs:{<case>}          hash idempotency key -> meldpunt.notification.v1.Job (the
//                                    message, its status and attempts: the delivery record)
//   mp:{p<N>}:notify:due             sorted set "<case>|<key>", score = next attempt (ms)
//   mp:{p<N>}:notify:inflight        claimed messages, score = lease expiry
//   mp:{p<N>}:notify:queued          the same messages (due or in flight), score = when queued
//                                    or retried by hand (ms): the oldest, for the metric
//   (libs/redis/lease_queue) mp:notify:case:{<case>}          hash: "submitted" -> the
//   CaseSubmitted envelope, "department"
// The partition is the case's partition on the case topic, so a replica sends the messages of
// the partitions it is assigned, and a rebalance hands them over.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "libs/events/codec.h"
#include "libs/redis/redis.h"
#include "meldpunt/notification/v1/notification.pb.h"

namespace meldpunt::notification {

class DeliveryStore {
 public:
  virtual ~DeliveryStore() = default;
  // Adds the message and schedules it for `due`, unless a message with its key exists (then
  // false, nothing changed: the event was handled before).
  virtual absl::StatusOr<bool> Enqueue(const v1::Job& job, absl::Time due) = 0;
  virtual absl::StatusOr<std::vector<v1::Job>> Claim(int32_t partition, absl::Time now,
                                                     absl::Duration lease, int limit) = 0;
  // Writes the job and schedules it again for `due` (it leaves the in-flight set).
  virtual absl::Status Reschedule(const v1::Job& job, absl::Time due) = 0;
  // Writes the job (still claimed): e.g. "delivered" before its event is appended.
  virtual absl::Status Save(const v1::Job& job) = 0;
  // Writes the job and takes it out of the queue for good.
  virtual absl::Status Finish(const v1::Job& job) = 0;
  virtual absl::StatusOr<std::vector<v1::Job>> Jobs(const std::string& case_id) = 0;
  virtual absl::StatusOr<std::optional<v1::Job>> Job(const std::string& case_id,
                                                     const std::string& key) = 0;
  // Messages waiting (due or not) in a partition's queue.
  virtual absl::StatusOr<int64_t> Waiting(int32_t partition) = 0;
  // When the oldest message in a partition's queue (pending or retrying) was queued, or retried
  // by hand; nullopt when the queue is empty.
  virtual absl::StatusOr<std::optional<absl::Time>> OldestQueued(int32_t partition) = 0;

  // The case's CaseSubmitted envelope (reporter, language), and the department it is with.
  virtual absl::Status SaveSubmission(const events::Envelope& submitted) = 0;
  virtual absl::StatusOr<std::optional<events::Envelope>> LoadSubmission(
      const std::string& case_id) = 0;
  virtual absl::Status SetDepartment(const std::string& case_id, const std::string& dept) = 0;
  virtual absl::StatusOr<std::string> Department(const std::string& case_id) = 0;

  // The messages of several (case, idempotency key) pairs at once (one round trip in Redis);
  // nullopt for one that does not exist. One whose record cannot be read is left out, as LoadCases
  // leaves out a case: reading it alone (Job) fails what needs it, and nothing else.
  using JobKey = std::pair<std::string, std::string>;
  virtual absl::StatusOr<std::map<JobKey, std::optional<v1::Job>>> JobsOf(
      const std::vector<JobKey>& keys);
  // Writes the record of a message that is finished already (a rebuild's, whose delivery the log
  // holds further on), queued nowhere, unless a message with its key exists: false then, nothing
  // changed. The default reads the record, then saves the job.
  virtual absl::StatusOr<bool> AddFinished(const v1::Job& job);
  // Save and Finish of several jobs (one round trip each in Redis).
  virtual absl::Status SaveAll(const std::vector<v1::Job>& jobs);
  // Claim of several partitions at once, (partition, limit) each: what each got, or why its
  // claim failed, in the order asked (two round trips in Redis, however many partitions).
  using ClaimWant = std::pair<int32_t, int>;
  virtual std::vector<absl::StatusOr<std::vector<v1::Job>>> ClaimMany(
      const std::vector<ClaimWant>& wants, absl::Time now, absl::Duration lease);
  // Finish of each job; where `written` (empty, or one flag a job) is set, the record holds the
  // job already (its SaveAll before its event was appended) and only leaves the queue.
  virtual absl::Status FinishAll(const std::vector<v1::Job>& jobs,
                                 const std::vector<bool>& written = {});

  // What the letters of a case need: its submission and department.
  struct CaseInfo {
    std::optional<events::Envelope> submitted;
    std::string department;
  };
  // Several cases' at once (one round trip in Redis). A case whose record cannot be read is left
  // out of the map, so that reading it alone fails the event that needs it and no other.
  virtual absl::StatusOr<std::map<std::string, CaseInfo>> LoadCases(
      const std::vector<std::string>& case_ids);
  // A run of SaveSubmission, SetDepartment, Enqueue and AddFinished, applied in their order (two
  // round trips in Redis: the records, then the queue entries of the messages that were new).
  // Returns, per write, whether it queued a new message or wrote a new finished record (Enqueue's
  // and AddFinished's answer; false for the others). A crash part
  // way leaves a prefix of them, or messages recorded but not queued yet, which Enqueue queues
  // when the event is handled again.
  struct Write {
    enum class Kind { kSubmission, kDepartment, kEnqueue, kFinished };
    Kind kind = Kind::kEnqueue;
    events::Envelope submitted;  // kSubmission
    std::string case_id;         // kDepartment
    std::string department;      // kDepartment
    v1::Job job;                 // kEnqueue, kFinished
    absl::Time due;              // kEnqueue
  };
  virtual absl::StatusOr<std::vector<bool>> WriteAll(const std::vector<Write>& writes);
};

class RedisDeliveryStore final : public DeliveryStore {
 public:
  explicit RedisDeliveryStore(redis::Client& redis) : redis_(redis) {}
  absl::StatusOr<bool> Enqueue(const v1::Job& job, absl::Time due) override;
  absl::StatusOr<bool> AddFinished(const v1::Job& job) override;
  absl::StatusOr<std::vector<v1::Job>> Claim(int32_t partition, absl::Time now,
                                             absl::Duration lease, int limit) override;
  absl::Status Reschedule(const v1::Job& job, absl::Time due) override;
  absl::Status Save(const v1::Job& job) override;
  absl::Status Finish(const v1::Job& job) override;
  absl::StatusOr<std::vector<v1::Job>> Jobs(const std::string& case_id) override;
  absl::StatusOr<std::optional<v1::Job>> Job(const std::string& case_id,
                                             const std::string& key) override;
  absl::StatusOr<int64_t> Waiting(int32_t partition) override;
  absl::StatusOr<std::optional<absl::Time>> OldestQueued(int32_t partition) override;
  absl::Status SaveSubmission(const events::Envelope& submitted) override;
  absl::StatusOr<std::optional<events::Envelope>> LoadSubmission(
      const std::string& case_id) override;
  absl::Status SetDepartment(const std::string& case_id, const std::string& dept) override;
  absl::StatusOr<std::string> Department(const std::string& case_id) override;
  absl::StatusOr<std::map<std::string, CaseInfo>> LoadCases(
      const std::vector<std::string>& case_ids) override;
  absl::StatusOr<std::vector<bool>> WriteAll(const std::vector<Write>& writes) override;
  absl::Status SaveAll(const std::vector<v1::Job>& jobs) override;
  std::vector<absl::StatusOr<std::vector<v1::Job>>> ClaimMany(const std::vector<ClaimWant>& wants,
                                                              absl::Time now,
                                                              absl::Duration lease) override;
  absl::StatusOr<std::map<JobKey, std::optional<v1::Job>>> JobsOf(
      const std::vector<JobKey>& keys) override;
  absl::Status FinishAll(const std::vector<v1::Job>& jobs,
                         const std::vector<bool>& written = {}) override;

  static std::string DueKey(int32_t partition);
  static std::string InflightKey(int32_t partition);
  static std::string QueuedKey(int32_t partition);

 private:
  redis::Client& redis_;
};

}  // namespace meldpunt::notification
