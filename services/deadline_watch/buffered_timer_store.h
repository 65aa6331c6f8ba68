// A batch's view of the TimerStore: the records of the batch's cases read in one round trip, the
// writes of every record kept in order and sent in one more.
//
//   BufferedTimerStore buffered(store);
//   RETURN_IF_ERROR(buffered.Prefetch(case_ids));             // one pipeline of reads
//   for each record: logic.OnEvent(envelope, partition, buffered);
//   RETURN_IF_ERROR(buffered.Flush());                        // one pipeline of writes
//
// Reads of a case's record (Load, Clocks, Facts) see the writes made through this view before
// them, so a later event of a case in the same run sees what an earlier one did. The writes reach
// the store in the order they were made (TimerStore::WriteAll): a crash part way leaves a prefix
// of them, as the same calls made one at a time would; or, for the rebuild, only what the run
// leaves (Writes::kFinalState). Everything else (claims, the ops queries, the markers) first
// flushes, then goes to the store.
//
// For one thread (a lane's batch, a replay lane's run); what it holds is dropped with it.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/container/node_hash_map.h"

#include "services/deadline_watch/timer_store.h"

namespace meldpunt::deadline {

class BufferedTimerStore final : public TimerStore {
 public:
  // What Flush sends.
  enum class Writes {
    // Every write, in the order it was made: a crash part way leaves a prefix of them, as the
    // same calls made one at a time would (the live handler: it appends the clock events of what
    // it wrote, and a repeat relies on that prefix).
    kInOrder,
    // Only what the run leaves: per timer its last schedule or cancel, per case its last facts,
    // per clock its last record. The same keys hold the same values at the end as with kInOrder,
    // but a crash part way leaves some of them in no order (the rebuild: a crash part way leaves
    // the timers not marked complete, and they are rebuilt again from the start). A timer
    // scheduled and cancelled in the same run, as the clocks of the past were, is never added:
    // in a sorted set of every pending timer an insert is the costly write.
    kFinalState,
  };

  explicit BufferedTimerStore(TimerStore& store, Writes writes = Writes::kInOrder)
      : store_(store), mode_(writes) {}

  // Reads the records of the cases not held yet, at once.
  absl::Status Prefetch(const std::vector<std::string>& case_ids);
  // Sends the writes made so far, at once. On an error they are dropped from the view as well:
  // the caller handles the records again, from the store.
  absl::Status Flush();
  size_t pending() const {
    return writes_.size() + timers_.size() + facts_of_.size() + clocks_of_.size();
  }

  absl::Status Schedule(int32_t partition, const std::vector<Timer>& timers) override;
  absl::Status Cancel(int32_t partition, const std::vector<Timer>& timers) override;
  absl::Status PutFacts(const std::string& case_id, const CaseFacts& facts) override;
  absl::Status PutClock(const v1::Clock& clock) override;
  absl::Status PutClocks(const std::vector<v1::Clock>& clocks) override;
  absl::StatusOr<CaseRecord> Load(const std::string& case_id) override;
  absl::StatusOr<std::vector<v1::Clock>> Clocks(const std::string& case_id) override;
  absl::StatusOr<std::optional<CaseFacts>> Facts(const std::string& case_id) override;

  absl::StatusOr<std::vector<Timer>> ClaimDue(int32_t partition, absl::Time now,
                                              absl::Duration lease, int limit) override;
  absl::Status Complete(int32_t partition, const std::vector<Timer>& timers) override;
  absl::StatusOr<ClockCounts> Counts(absl::Time now, absl::Duration ahead) override;
  absl::StatusOr<DeadlinePage> ListDeadlines(const DeadlineQuery& query) override;
  absl::StatusOr<bool> Intact() override;
  absl::Status MarkIntact() override;
  absl::Status Clear() override;

 private:
  // The case's record as this view sees it (read from the store when not held yet).
  absl::StatusOr<CaseRecord*> Held(const std::string& case_id);

  // Writes::kFinalState: a timer's fate in the run, as its writes come.
  struct TimerFate {
    int32_t partition = 0;
    Timer timer;             // as last written
    bool cancelled = false;  // a cancel in the run: out of the in-flight set
    bool scheduled = false;  // the run's last word on it was a schedule
  };
  // What Writes::kFinalState sends, from what the view holds.
  std::vector<Write> FinalState();
  void Fate(int32_t partition, const Timer& timer, bool schedule);
  void DropFinalState();

  TimerStore& store_;
  const Writes mode_;
  absl::node_hash_map<std::string, CaseRecord> records_;
  std::vector<Write> writes_;  // Writes::kInOrder
  // Writes::kFinalState: each timer once, in the order first written (their places by
  // "<partition>|<member>"); the cases whose facts the run wrote; the clocks it wrote, as
  // (case, clock), each once in the order first written. The records hold their last values.
  std::vector<TimerFate> timers_;
  absl::flat_hash_map<std::string, size_t> timer_at_;
  std::vector<std::string> facts_of_;
  absl::flat_hash_set<std::string> facts_seen_;
  std::vector<std::pair<std::string, std::string>> clocks_of_;
  absl::flat_hash_set<std::string> clocks_seen_;  // "<case>|<clock>"
};

}  // namespace meldpunt::deadline
