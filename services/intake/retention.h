// The retention of reporters' personal data: a closed case's data is erased once its term
// (privacy.retention per kind, from the closing) has passed.
// - The projection's store keeps the index mp:retention in step with the case, in the same
//   atomic step as each write of it (retention_rule.h, CaseStore::KeepRetention): added when it
//   closes, removed when it reopens or its reporter's data is erased.
// - The job erases what fell due, every privacy.retention_interval, as `service:retention`, with
//   a deterministic command id, so replicas running it at once erase once.
//
//   store.KeepRetention([&](const std::string& kind) { return config.RetentionOf(kind); });
//   RedisRetentionIndex index(redis);
//   RetentionJob retention(index, store, erase, clock, {.interval = config.retention_interval});
//   retention.Start();  // the job's thread
//   retention.Stop();
//
// Owns one thread, the job's (Start to Stop).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "libs/clock/clock.h"
#include "libs/events/codec.h"
#include "libs/redis/redis.h"
#include "services/intake/case_store.h"
#include "services/intake/commands.h"
#include "services/intake/intake_logic.h"
#include "services/intake/retention_rule.h"

namespace meldpunt::intake {

// The cases whose personal data falls due, by when, as the job reads them (the projection's store
// puts them in).
class RetentionIndex {
 public:
  virtual ~RetentionIndex() = default;
  // Takes a case out (its data erased, or the case gone).
  virtual absl::Status Remove(const std::string& case_id) = 0;
  // Up to `limit` cases due at or before `now`, earliest first.
  virtual absl::StatusOr<std::vector<std::string>> Due(absl::Time now, int limit) = 0;
};

// mp:retention (kRetentionIndexKey): a sorted set of case ids scored by when their data falls
// due (ms): what the job reads and takes out; the projection's store adds and removes cases as
// it writes them.
class RedisRetentionIndex final : public RetentionIndex {
 public:
  explicit RedisRetentionIndex(redis::Client& redis) : redis_(redis) {}
  absl::Status Remove(const std::string& case_id) override;
  absl::StatusOr<std::vector<std::string>> Due(absl::Time now, int limit) override;

 private:
  redis::Client& redis_;
};

struct RetentionOptions {
  // How often the job looks for data past its term (privacy.retention_interval).
  absl::Duration interval = absl::Hours(1);
  // How long an erasure may wait for Kafka (kafka.produce_timeout).
  absl::Duration produce_timeout = absl::Seconds(10);
  // Whether the projection is complete (ProjectionMarks::Intact; null: always). A pass waits for
  // it: while a rebuild runs, a case its replay has not written yet is not gone.
  std::function<absl::StatusOr<bool>()> intact;
};

// Thread-safe: EraseDue runs on the job's thread or a test's.
class RetentionJob {
 public:
  // IntakeLogic::Erase in the app.
  using Erase = std::function<absl::StatusOr<CommandResult>(Command command, absl::Time deadline)>;

  RetentionJob(RetentionIndex& index, CaseStore& store, Erase erase, const clock::Clock& clock,
               RetentionOptions options)
      : index_(index),
        store_(store),
        erase_(std::move(erase)),
        clock_(clock),
        options_(std::move(options)) {}
  ~RetentionJob() { Stop(); }

  // One pass: erases the personal data of every case due at `now`; returns how many were erased.
  // None while the projection is not complete (RetentionOptions::intact).
  absl::StatusOr<int64_t> EraseDue(absl::Time now);
  absl::StatusOr<int64_t> RunOnce() { return EraseDue(clock_.Now()); }

  // The job's thread: a pass every `interval`; a failed pass is logged and the next retries.
  void Start();
  void Stop();

 private:
  RetentionIndex& index_;
  CaseStore& store_;
  const Erase erase_;
  const clock::Clock& clock_;
  const RetentionOptions options_;
  absl::Notification stopping_;
  std::thread thread_;
};

}  // namespace meldpunt::intake
