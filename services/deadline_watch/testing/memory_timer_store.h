// An in-memory TimerStore with the same claim/lease semantics as the Redis one, for the unit
// tests of the logic, the timer loop and the rebuild. Not thread-safe: tests drive it from one
// thread. Counts the calls that would each be a round trip to Redis (`round_trips`).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "services/deadline_watch/timer_store.h"

namespace meldpunt::deadline {

class MemoryTimerStore : public TimerStore {
 public:
  absl::Status Schedule(int32_t p, const std::vector<Timer>& timers) override {
    Count();
    for (const Timer& tm : timers) due_[p][tm.Member()] = tm.fire_ms;
    timers_scheduled += static_cast<int64_t>(timers.size());
    return absl::OkStatus();
  }
  absl::Status Cancel(int32_t p, const std::vector<Timer>& timers) override {
    Count();
    for (const Timer& tm : timers) due_[p].erase(tm.Member());  // as RedisTimerStore::Cancel
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<Timer>> ClaimDue(int32_t p, absl::Time now, absl::Duration lease,
                                              int limit) override {
    std::vector<Timer> out;
    const int64_t now_ms = absl::ToUnixMillis(now);
    for (auto& [member, until] : inflight_[p]) {
      if (until <= now_ms && static_cast<int>(out.size()) < limit) {
        until = now_ms + absl::ToInt64Milliseconds(lease);
        out.push_back(*Timer::Parse(member));
      }
    }
    for (auto it = due_[p].begin(); it != due_[p].end();) {
      if (it->second <= now_ms && static_cast<int>(out.size()) < limit) {
        inflight_[p][it->first] = now_ms + absl::ToInt64Milliseconds(lease);
        out.push_back(*Timer::Parse(it->first));
        it = due_[p].erase(it);
      } else {
        ++it;
      }
    }
    return out;
  }
  absl::Status Complete(int32_t p, const std::vector<Timer>& timers) override {
    for (const Timer& timer : timers) inflight_[p].erase(timer.Member());
    return absl::OkStatus();
  }
  absl::StatusOr<std::optional<CaseFacts>> Facts(const std::string& case_id) override {
    Count();
    auto it = facts_.find(case_id);
    if (it == facts_.end()) return std::nullopt;
    return it->second;
  }
  absl::Status PutFacts(const std::string& case_id, const CaseFacts& facts) override {
    Count();
    facts_[case_id] = facts;
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<v1::Clock>> Clocks(const std::string& case_id) override {
    Count();
    std::vector<v1::Clock> out;
    for (const auto& [name, c] : clocks_[case_id]) out.push_back(c);
    return out;
  }
  absl::Status PutClock(const v1::Clock& c) override {
    Count();
    clocks_[c.case_id()][c.name()] = c;
    return absl::OkStatus();
  }
  // One round trip each, as in Redis.
  absl::StatusOr<CaseRecord> Load(const std::string& case_id) override {
    Batch batch(*this);
    return TimerStore::Load(case_id);
  }
  absl::StatusOr<std::map<std::string, CaseRecord>> LoadAll(
      const std::vector<std::string>& case_ids) override {
    Batch batch(*this);
    return TimerStore::LoadAll(case_ids);
  }
  absl::Status PutClocks(const std::vector<v1::Clock>& clocks) override {
    Batch batch(*this);
    return TimerStore::PutClocks(clocks);
  }
  absl::Status WriteAll(const std::vector<Write>& writes) override {
    if (!write_error.ok()) return write_error;
    Batch batch(*this);
    return TimerStore::WriteAll(writes);
  }
  absl::StatusOr<DeadlinePage> ListDeadlines(const DeadlineQuery&) override {
    return DeadlinePage();
  }
  absl::StatusOr<bool> Intact() override {
    if (!error.ok()) return error;
    return intact;
  }
  absl::Status MarkIntact() override {
    intact = true;
    return absl::OkStatus();
  }
  // Deletes every timer, clock and fact, as the Redis one does (the marker stays).
  absl::Status Clear() override {
    if (!error.ok()) return error;
    ++clears;
    due_.clear();
    inflight_.clear();
    clocks_.clear();
    facts_.clear();
    return absl::OkStatus();
  }
  absl::StatusOr<ClockCounts> Counts(absl::Time, absl::Duration) override {
    return ClockCounts{.open = open_clocks, .due_soon = due_soon};
  }
  size_t Pending(int32_t p) { return due_[p].size() + inflight_[p].size(); }
  // Everything it holds, in one comparable text: the timers due and in flight of every
  // partition, the facts and the clocks.
  std::string Dump() const {
    std::string out;
    for (const auto* set : {&due_, &inflight_}) {
      out += set == &due_ ? "due:" : "inflight:";
      for (const auto& [p, members] : *set) {
        for (const auto& [member, score] : members) {
          out += " " + std::to_string(p) + "/" + member + "@" + std::to_string(score);
        }
      }
      out += "\n";
    }
    for (const auto& [case_id, f] : facts_) {
      out += "facts " + case_id + " " + f.department + " " + f.category + "\n";
    }
    for (const auto& [case_id, by_name] : clocks_) {
      for (const auto& [name, c] : by_name) {
        out += "clock " + case_id + " " + name + " " + c.ShortDebugString() + "\n";
      }
    }
    return out;
  }

  // Calls that are a round trip each in Redis: every read and write, a Load, LoadAll, PutClocks
  // and WriteAll counting once.
  int round_trips = 0;
  // Timers handed to Schedule (each an insert into a sorted set in Redis).
  int64_t timers_scheduled = 0;
  // What WriteAll answers (applying nothing) when not OK.
  absl::Status write_error;
  // The marker (Intact, MarkIntact) and what Intact and Clear answer.
  bool intact = true;
  absl::Status error;
  int clears = 0;
  // What Counts answers.
  int64_t open_clocks = 0;
  int64_t due_soon = 0;

 private:
  void Count() {
    if (depth_ == 0) ++round_trips;
  }
  // One round trip for the calls made while it lives.
  struct Batch {
    explicit Batch(MemoryTimerStore& store) : store(store) {
      store.Count();
      ++store.depth_;
    }
    ~Batch() { --store.depth_; }
    MemoryTimerStore& store;
  };

  int depth_ = 0;
  std::map<int32_t, std::map<std::string, int64_t>> due_, inflight_;
  std::map<std::string, std::map<std::string, v1::Clock>> clocks_;
  std::map<std::string, CaseFacts> facts_;
};

}  // namespace meldpunt::deadline
