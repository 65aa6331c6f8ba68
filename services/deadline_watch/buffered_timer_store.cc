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

namespace {

// What `writes` leave, as few writes (BufferedTimerStore::Writes::kFinalState). Each write of
// the result touches other keys, fields or members than the others, except that a timer's
// cancel comes before its schedule: the cancel also takes it out of the in-flight set, as it
// did in the run, and the schedule puts it back where the run left it.
std::vector<TimerStore::Write> FinalState(std::vector<TimerStore::Write> writes) {
  using Write = TimerStore::Write;
  struct TimerFate {
    int32_t partition = 0;
    Timer* timer = nullptr;  // in `writes`, the last write of it
    bool cancelled = false;  // a cancel in the run: out of the in-flight set
    bool scheduled = false;  // the run's last word on it was a schedule
  };
  // Each timer and clock once, in the order first written, pointing into `writes` at its last
  // write (their places by "<partition>|<member>" and "<case>|<clock>"); each case's last facts.
  std::vector<TimerFate> timers;
  std::vector<v1::Clock*> clocks;
  absl::flat_hash_map<std::string, size_t> timer_at, clock_at;
  absl::flat_hash_map<std::string, CaseFacts*> facts;
  for (Write& w : writes) {
    switch (w.kind) {
      case Write::Kind::kSchedule:
      case Write::Kind::kCancel:
        for (Timer& t : w.timers) {
          auto [at, first] =
              timer_at.try_emplace(absl::StrCat(w.partition, "|", t.Member()), timers.size());
          if (first) timers.push_back({.partition = w.partition});
          TimerFate& fate = timers[at->second];
          fate.timer = &t;
          fate.scheduled = w.kind == Write::Kind::kSchedule;
          if (w.kind == Write::Kind::kCancel) fate.cancelled = true;
        }
        break;
      case Write::Kind::kFacts:
        facts[w.case_id] = &w.facts;
        break;
      case Write::Kind::kClocks:
        for (v1::Clock& c : w.clocks) {
          auto [at, first] =
              clock_at.try_emplace(absl::StrCat(c.case_id(), "|", c.name()), clocks.size());
          if (first) clocks.push_back(nullptr);
          clocks[at->second] = &c;
        }
        break;
    }
  }
  std::map<int32_t, Write> cancels, schedules;
  for (TimerFate& fate : timers) {
    if (fate.cancelled) {
      Write& w = cancels[fate.partition];
      w.kind = Write::Kind::kCancel;
      w.partition = fate.partition;
      w.timers.push_back(*fate.timer);
    }
    if (fate.scheduled) {
      Write& w = schedules[fate.partition];
      w.kind = Write::Kind::kSchedule;
      w.partition = fate.partition;
      w.timers.push_back(std::move(*fate.timer));
    }
  }
  std::vector<Write> out;
  out.reserve(cancels.size() + schedules.size() + facts.size() + 1);
  for (auto& [partition, w] : cancels) out.push_back(std::move(w));
  for (auto& [partition, w] : schedules) out.push_back(std::move(w));
  for (auto& [case_id, last] : facts) {
    Write w;
    w.kind = Write::Kind::kFacts;
    w.case_id = case_id;
    w.facts = std::move(*last);
    out.push_back(std::move(w));
  }
  if (!clocks.empty()) {
    Write w;
    w.kind = Write::Kind::kClocks;
    w.clocks.reserve(clocks.size());
    for (v1::Clock* c : clocks) w.clocks.push_back(std::move(*c));
    out.push_back(std::move(w));
  }
  return out;
}

}  // namespace

absl::Status BufferedTimerStore::Flush() {
  if (writes_.empty()) return absl::OkStatus();
  std::vector<Write> writes;
  writes.swap(writes_);
  if (mode_ == Writes::kFinalState) writes = FinalState(std::move(writes));
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

absl::Status BufferedTimerStore::Schedule(int32_t partition, const std::vector<Timer>& timers) {
  if (timers.empty()) return absl::OkStatus();
  Write w;
  w.kind = Write::Kind::kSchedule;
  w.partition = partition;
  w.timers = timers;
  writes_.push_back(std::move(w));
  return absl::OkStatus();
}

absl::Status BufferedTimerStore::Cancel(int32_t partition, const std::vector<Timer>& timers) {
  if (timers.empty()) return absl::OkStatus();
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
  }
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
  records_.clear();
  return store_.Clear();
}

}  // namespace meldpunt::deadline
