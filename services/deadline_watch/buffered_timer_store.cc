#include "services/deadline_watch/buffered_timer_store.h"

#include <map>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "libs/status/status_macros.h"

namespace meldpunt::deadline {

absl::Status BufferedTimerStore::Prefetch(const std::vector<std::string>& case_ids) {
  std::vector<std::string> missing;
  for (const std::string& id : case_ids) {
    if (!records_.count(id)) missing.push_back(id);
  }
  if (missing.empty()) return absl::OkStatus();
  ASSIGN_OR_RETURN(auto loaded, store_.LoadAll(missing));
  for (auto& [id, record] : loaded) records_.emplace(id, std::move(record));
  return absl::OkStatus();
}

// What the run leaves, as few writes (Writes::kFinalState). Each write of the result touches other
// keys, fields or members than the others, except that a timer's cancel comes before its
// schedule: the cancel also takes it out of the in-flight set, as it did in the run, and the
// schedule puts it back where the run left it.
std::vector<TimerStore::Write> BufferedTimerStore::FinalState() {
  std::map<int32_t, Write> cancels, schedules;
  for (TimerFate& fate : timers_) {
    if (fate.cancelled) {
      Write& w = cancels[fate.partition];
      w.kind = Write::Kind::kCancel;
      w.partition = fate.partition;
      w.timers.push_back(fate.timer);
    }
    if (fate.scheduled) {
      Write& w = schedules[fate.partition];
      w.kind = Write::Kind::kSchedule;
      w.partition = fate.partition;
      w.timers.push_back(std::move(fate.timer));
    }
  }
  std::vector<Write> out;
  out.reserve(cancels.size() + schedules.size() + facts_of_.size() + 1);
  for (auto& [partition, w] : cancels) out.push_back(std::move(w));
  for (auto& [partition, w] : schedules) out.push_back(std::move(w));
  for (const std::string& case_id : facts_of_) {
    Write w;
    w.kind = Write::Kind::kFacts;
    w.case_id = case_id;
    w.facts = *records_.at(case_id).facts;
    out.push_back(std::move(w));
  }
  if (!clocks_of_.empty()) {
    Write w;
    w.kind = Write::Kind::kClocks;
    w.clocks.reserve(clocks_of_.size());
    for (const auto& [case_id, name] : clocks_of_) {
      for (const v1::Clock& held : records_.at(case_id).clocks) {
        if (held.name() == name) {
          w.clocks.push_back(held);
          break;
        }
      }
    }
    out.push_back(std::move(w));
  }
  DropFinalState();
  return out;
}

void BufferedTimerStore::DropFinalState() {
  timers_.clear();
  timer_at_.clear();
  facts_of_.clear();
  facts_seen_.clear();
  clocks_of_.clear();
  clocks_seen_.clear();
}

absl::Status BufferedTimerStore::Flush() {
  std::vector<Write> writes;
  if (mode_ == Writes::kFinalState) {
    writes = FinalState();
  } else {
    writes.swap(writes_);
  }
  if (writes.empty()) return absl::OkStatus();
  absl::Status written = store_.WriteAll(writes);
  // Unknown how much of it arrived: what this view holds may no longer be what the store holds.
  if (!written.ok()) records_.clear();
  return written;
}

absl::StatusOr<TimerStore::CaseRecord*> BufferedTimerStore::Held(const std::string& case_id) {
  auto it = records_.find(case_id);
  if (it == records_.end()) {
    // Not prefetched: the store's record, under the writes this view has not sent yet (none of
    // them can be this case's: its writes need its record held).
    ASSIGN_OR_RETURN(CaseRecord record, store_.Load(case_id));
    it = records_.emplace(case_id, std::move(record)).first;
  }
  return &it->second;
}

void BufferedTimerStore::Fate(int32_t partition, const Timer& timer, bool schedule) {
  auto [at, first] =
      timer_at_.try_emplace(absl::StrCat(partition, "|", timer.Member()), timers_.size());
  if (first) timers_.push_back(TimerFate{.partition = partition, .timer = timer});
  TimerFate& fate = timers_[at->second];
  fate.timer = timer;
  fate.scheduled = schedule;
  if (!schedule) fate.cancelled = true;
}

absl::Status BufferedTimerStore::Schedule(int32_t partition, const std::vector<Timer>& timers) {
  if (timers.empty()) return absl::OkStatus();
  if (mode_ == Writes::kFinalState) {
    for (const Timer& t : timers) Fate(partition, t, /*schedule=*/true);
    return absl::OkStatus();
  }
  Write w;
  w.kind = Write::Kind::kSchedule;
  w.partition = partition;
  w.timers = timers;
  writes_.push_back(std::move(w));
  return absl::OkStatus();
}

absl::Status BufferedTimerStore::Cancel(int32_t partition, const std::vector<Timer>& timers) {
  if (timers.empty()) return absl::OkStatus();
  if (mode_ == Writes::kFinalState) {
    for (const Timer& t : timers) Fate(partition, t, /*schedule=*/false);
    return absl::OkStatus();
  }
  Write w;
  w.kind = Write::Kind::kCancel;
  w.partition = partition;
  w.timers = timers;
  writes_.push_back(std::move(w));
  return absl::OkStatus();
}

absl::Status BufferedTimerStore::PutFacts(const std::string& case_id, const CaseFacts& facts) {
  ASSIGN_OR_RETURN(CaseRecord * record, Held(case_id));
  record->facts = facts;
  if (mode_ == Writes::kFinalState) {
    if (facts_seen_.insert(case_id).second) facts_of_.push_back(case_id);
    return absl::OkStatus();
  }
  Write w;
  w.kind = Write::Kind::kFacts;
  w.case_id = case_id;
  w.facts = facts;
  writes_.push_back(std::move(w));
  return absl::OkStatus();
}

absl::Status BufferedTimerStore::PutClock(const v1::Clock& clock) { return PutClocks({clock}); }

absl::Status BufferedTimerStore::PutClocks(const std::vector<v1::Clock>& clocks) {
  if (clocks.empty()) return absl::OkStatus();
  for (const v1::Clock& clock : clocks) {
    ASSIGN_OR_RETURN(CaseRecord * record, Held(clock.case_id()));
    // As a hash field: replaced in place, or added after the others.
    bool replaced = false;
    for (v1::Clock& held : record->clocks) {
      if (held.name() == clock.name()) {
        held = clock;
        replaced = true;
        break;
      }
    }
    if (!replaced) record->clocks.push_back(clock);
    if (mode_ == Writes::kFinalState &&
        clocks_seen_.insert(absl::StrCat(clock.case_id(), "|", clock.name())).second) {
      clocks_of_.emplace_back(clock.case_id(), clock.name());
    }
  }
  if (mode_ == Writes::kFinalState) return absl::OkStatus();
  Write w;
  w.kind = Write::Kind::kClocks;
  w.clocks = clocks;
  writes_.push_back(std::move(w));
  return absl::OkStatus();
}

absl::StatusOr<TimerStore::CaseRecord> BufferedTimerStore::Load(const std::string& case_id) {
  ASSIGN_OR_RETURN(CaseRecord * record, Held(case_id));
  return *record;
}

absl::StatusOr<std::vector<v1::Clock>> BufferedTimerStore::Clocks(const std::string& case_id) {
  ASSIGN_OR_RETURN(CaseRecord * record, Held(case_id));
  return record->clocks;
}

absl::StatusOr<std::optional<CaseFacts>> BufferedTimerStore::Facts(const std::string& case_id) {
  ASSIGN_OR_RETURN(CaseRecord * record, Held(case_id));
  return record->facts;
}

absl::StatusOr<std::vector<Timer>> BufferedTimerStore::ClaimDue(int32_t partition, absl::Time now,
                                                                absl::Duration lease, int limit) {
  RETURN_IF_ERROR(Flush());
  return store_.ClaimDue(partition, now, lease, limit);
}

absl::Status BufferedTimerStore::Complete(int32_t partition, const std::vector<Timer>& timers) {
  RETURN_IF_ERROR(Flush());
  return store_.Complete(partition, timers);
}

absl::StatusOr<ClockCounts> BufferedTimerStore::Counts(absl::Time now, absl::Duration ahead) {
  RETURN_IF_ERROR(Flush());
  return store_.Counts(now, ahead);
}

absl::StatusOr<DeadlinePage> BufferedTimerStore::ListDeadlines(const DeadlineQuery& query) {
  RETURN_IF_ERROR(Flush());
  return store_.ListDeadlines(query);
}

absl::StatusOr<bool> BufferedTimerStore::Intact() {
  RETURN_IF_ERROR(Flush());
  return store_.Intact();
}

absl::Status BufferedTimerStore::MarkIntact() {
  RETURN_IF_ERROR(Flush());
  return store_.MarkIntact();
}

absl::Status BufferedTimerStore::Clear() {
  writes_.clear();
  DropFinalState();
  records_.clear();
  return store_.Clear();
}

}  // namespace meldpunt::deadline
