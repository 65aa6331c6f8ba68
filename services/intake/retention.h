// The retention of reporters' personal data: a closed case's data is erased once its term
// (privacy.retention per kind, from the closing) has passed.
// - Track (called by the projection's fold for every event it applies) keeps the index
//   mp:retention in step with the case: added when it closes, removed when it reopens or its
//   reporter's data is erased.
// - The job erases what fell due, every privacy.retention_interval, as `service:retention`, with
//   a deterministic command id, so replicas running it at once erase once.
//
//   RedisRetentionIndex index(redis);
//   RetentionJob retention(index, store, erase, clock, {.interval = config.retention_interval,
//                          .term = [&](const std::string& kind) { return config.RetentionOf(kind);
//                          }});
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

namespace meldpunt::intake {

// One change of the index: the case added, due at `due` unless it is in already, or removed
// (`due` empty).
struct RetentionChange {
  std::string case_id;
  std::optional<absl::Time> due;
};

// The cases whose personal data falls due, by when.
class RetentionIndex {
 public:
  virtual ~RetentionIndex() = default;
  // Adds the case due at `due` unless it is in already (its term runs from the closing).
  virtual absl::Status Add(const std::string& case_id, absl::Time due) = 0;
  virtual absl::Status Remove(const std::string& case_id) = 0;
  // The changes, in their order; the default makes them one by one (Add, Remove), the first
  // error stopping the rest.
  virtual absl::Status Apply(const std::vector<RetentionChange>& changes);
  // Up to `limit` cases due at or before `now`, earliest first.
  virtual absl::StatusOr<std::vector<std::string>> Due(absl::Time now, int limit) = 0;
};

// mp:retention: a sorted set of case ids scored by when their data falls due (ms).
class RedisRetentionIndex final : public RetentionIndex {
 public:
  static constexpr char kKey[] = "mp:retention";
  explicit RedisRetentionIndex(redis::Client& redis) : redis_(redis) {}
  absl::Status Add(const std::string& case_id, absl::Time due) override;
  absl::Status Remove(const std::string& case_id) override;
  // One round trip: a ZADD NX or a ZREM for each, in one pipeline.
  absl::Status Apply(const std::vector<RetentionChange>& changes) override;
  absl::StatusOr<std::vector<std::string>> Due(absl::Time now, int limit) override;

 private:
  redis::Client& redis_;
};

struct RetentionOptions {
  // How often the job looks for data past its term (privacy.retention_interval).
  absl::Duration interval = absl::Hours(1);
  // How long an erasure may wait for Kafka (kafka.produce_timeout).
  absl::Duration produce_timeout = absl::Seconds(10);
  // The term of a case kind (its CaseKind name): IntakeConfig::RetentionOf.
  std::function<absl::Duration(const std::string& kind)> term;
  // Whether the projection is complete (ProjectionMarks::Intact; null: always). A pass waits for
  // it: while a rebuild runs, a case its replay has not written yet is not gone.
  std::function<absl::StatusOr<bool>()> intact;
};

// Thread-safe: Track runs on the projection's lanes, EraseDue on the job's thread or a test's.
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

  // Keeps the index in step with a folded case (the fold applied `envelope`, giving `folded`).
  absl::Status Track(const events::Envelope& envelope, const Case& folded);
  // Track for each event a run applied, in their order, with the index's changes made at once
  // (RedisRetentionIndex: one round trip for the run, not one for each event of a closed case).
  using Folded = std::pair<const events::Envelope*, const Case*>;
  absl::Status TrackAll(const std::vector<Folded>& folded);
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
