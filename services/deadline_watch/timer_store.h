// Durable timers and clock records.
//
// Redis layout (the partition as hash tag, so a partition's timers live in one Redis Cluster slot
// and move with the Kafka partition between replicas):
//   mp:{p<N>}:timers     sorted set, score = fire time (ms), member = Timer::Member()
//   mp:{p<N>}:inflight   sorted set, score = lease expiry (ms): claimed, not yet completed
//   mp:clock:{<case>}    hash: clock name -> serialized meldpunt.deadline.v1.Clock, and field
//                        "_facts": what the policies match on (kind, priority, category,
//                        department)
//   mp:deadlines         sorted set, score = due time (ms), member "<case>|<clock>", of every clock
//                        not stopped: the ops view, earliest due first
//
// Claim moves due timers to the in-flight set under a lease (one Lua script, atomic); Complete
// removes them after their event is in the log. A lease that expires (the replica died between
// claim and complete) makes the timer due again: it fires again with the same event id.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "libs/redis/redis.h"
#include "libs/service/rebuild_guard.h"
#include "meldpunt/deadline/v1/deadline.pb.h"
#include "services/deadline_watch/policy.h"

namespace meldpunt::deadline {

struct Timer {
  std::string case_id;
  std::string clock;
  int32_t generation = 1;
  std::string kind;         // "warning", "breach" or "escalation"
  int32_t permille = 1000;  // fraction of the duration at which it fires; escalations: the level
  int64_t due_ms = 0;       // the clock's due time
  int64_t fire_ms = 0;      // when this timer fires

  std::string Member() const;
  static std::optional<Timer> Parse(const std::string& member);
};

struct DeadlineQuery {
  std::optional<absl::Time> due_before;
  bool breached_only = false;
  std::string department;
  std::string kind;
  int page_size = 100;
  std::string page_token;  // "<due ms>|<case>|<clock>": continue after this entry
};

struct DeadlinePage {
  std::vector<v1::Clock> clocks;
  std::string next_page_token;
};

struct ClockCounts {
  int64_t open = 0;      // clocks not stopped
  int64_t due_soon = 0;  // of those, due between now and now + ahead
};

class TimerStore {
 public:
  virtual ~TimerStore() = default;
  virtual absl::Status Schedule(int32_t partition, const std::vector<Timer>& timers) = 0;
  virtual absl::Status Cancel(int32_t partition, const std::vector<Timer>& timers) = 0;
  virtual absl::StatusOr<std::vector<Timer>> ClaimDue(int32_t partition, absl::Time now,
                                                      absl::Duration lease, int limit) = 0;
  // Drops claimed timers whose event is in the log.
  virtual absl::Status Complete(int32_t partition, const std::vector<Timer>& timers) = 0;
  virtual absl::StatusOr<std::vector<v1::Clock>> Clocks(const std::string& case_id) = 0;
  // The clocks of several cases at once (one round trip in Redis).
  virtual absl::StatusOr<std::map<std::string, std::vector<v1::Clock>>> ClocksOf(
      const std::vector<std::string>& case_ids);
  virtual absl::StatusOr<std::optional<CaseFacts>> Facts(const std::string& case_id) = 0;
  virtual absl::Status PutFacts(const std::string& case_id, const CaseFacts& facts) = 0;
  virtual absl::StatusOr<ClockCounts> Counts(absl::Time now, absl::Duration ahead) = 0;
  // A case's facts and clocks together (one round trip in Redis).
  struct CaseRecord {
    std::optional<CaseFacts> facts;
    std::vector<v1::Clock> clocks;
  };
  virtual absl::StatusOr<CaseRecord> Load(const std::string& case_id);
  // Several cases' records at once (one pipeline in Redis); every case asked for is in the map.
  virtual absl::StatusOr<std::map<std::string, CaseRecord>> LoadAll(
      const std::vector<std::string>& case_ids);
  // Several clocks (one pipeline in Redis).
  virtual absl::Status PutClocks(const std::vector<v1::Clock>& clocks);
  // A run of the writes above, applied in their order (one pipeline in Redis). A crash part way
  // leaves a prefix of them applied, as the same calls one at a time would.
  struct Write {
    enum class Kind { kSchedule, kCancel, kFacts, kClocks };
    Kind kind = Kind::kClocks;
    int32_t partition = 0;          // kSchedule, kCancel
    std::vector<Timer> timers;      // kSchedule, kCancel
    std::string case_id;            // kFacts
    CaseFacts facts;                // kFacts
    std::vector<v1::Clock> clocks;  // kClocks
  };
  virtual absl::Status WriteAll(const std::vector<Write>& writes);
  // Writes the clock and keeps the deadline index (mp:deadlines) in step: clocks that are not
  // stopped are listed by due time.
  virtual absl::Status PutClock(const v1::Clock& clock) = 0;
  virtual absl::StatusOr<DeadlinePage> ListDeadlines(const DeadlineQuery& query) = 0;
  // Whether the timers are known to be complete (a marker written after a start or a rebuild; it
  // is gone when Redis lost its data).
  virtual absl::StatusOr<bool> Intact() = 0;
  virtual absl::Status MarkIntact() = 0;
  // Deletes every timer, clock and the deadline index (before a rebuild).
  virtual absl::Status Clear() = 0;
};

// The commands of a run's writes (RedisTimerStore::WriteAll) with each record's HSETs made one, in
// the place of its last: the fields in the order first written, each with its last value. A
// record's write only moves later, after the timers written before it (a crash part way leaves
// timers without their record, never a record without its timers: DeadlineLogic::Start).
void OneWritePerRecord(std::vector<std::vector<std::string>>& commands);

// The commands that write `clocks` (a run's, or one event's): the deadline index first, in one
// ZADD and one ZREM (each clock by its last record in `clocks`), then the records. A crash in
// between leaves entries ahead of their records (the ops view reads the record of each entry,
// and the repeated event writes both again), never a record without its entry.
void ClockCommands(const std::vector<v1::Clock>& clocks,
                   std::vector<std::vector<std::string>>& commands);

// The replicas' lock of a timer rebuild, and what every timer pass asks of it: is a rebuild
// running anywhere (then this replica holds its consumer and its timer loop: their work would
// race the replay)?
class TimerRebuildLock : public service::RebuildLock {
 public:
  virtual absl::StatusOr<bool> RebuildRunning() = 0;
};

class RedisTimerStore final : public TimerStore, public TimerRebuildLock {
 public:
  explicit RedisTimerStore(redis::Client& redis) : redis_(redis) {}
  static redis::Script ClaimScript();

  absl::Status Schedule(int32_t partition, const std::vector<Timer>& timers) override;
  absl::Status Cancel(int32_t partition, const std::vector<Timer>& timers) override;
  absl::StatusOr<std::vector<Timer>> ClaimDue(int32_t partition, absl::Time now,
                                              absl::Duration lease, int limit) override;
  absl::Status Complete(int32_t partition, const std::vector<Timer>& timers) override;
  absl::StatusOr<std::vector<v1::Clock>> Clocks(const std::string& case_id) override;
  absl::StatusOr<std::map<std::string, std::vector<v1::Clock>>> ClocksOf(
      const std::vector<std::string>& case_ids) override;
  absl::StatusOr<std::optional<CaseFacts>> Facts(const std::string& case_id) override;
  absl::Status PutFacts(const std::string& case_id, const CaseFacts& facts) override;
  absl::StatusOr<ClockCounts> Counts(absl::Time now, absl::Duration ahead) override;
  absl::Status PutClock(const v1::Clock& clock) override;
  // One replica at a time rebuilds: a lock with a time to live (mp:deadline:rebuilding). While it
  // is held, the other replicas hold their consumers and timer loops (their work would race the
  // replay).
  absl::StatusOr<bool> TryLockRebuild(const std::string& owner, absl::Duration ttl) override;
  // Deletes the lock whoever holds it (as it always did; `owner` is not compared).
  absl::Status UnlockRebuild(const std::string& owner) override;
  absl::StatusOr<bool> RebuildRunning() override;
  absl::Status PutClocks(const std::vector<v1::Clock>& clocks) override;
  absl::StatusOr<CaseRecord> Load(const std::string& case_id) override;
  absl::StatusOr<std::map<std::string, CaseRecord>> LoadAll(
      const std::vector<std::string>& case_ids) override;
  absl::Status WriteAll(const std::vector<Write>& writes) override;
  absl::StatusOr<DeadlinePage> ListDeadlines(const DeadlineQuery& query) override;
  absl::StatusOr<bool> Intact() override;
  absl::Status MarkIntact() override;
  absl::Status Clear() override;

  static std::string TimersKey(int32_t partition);
  static std::string InflightKey(int32_t partition);

 private:
  redis::Client& redis_;
};

}  // namespace meldpunt::deadline
