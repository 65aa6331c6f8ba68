// What the intake's unit tests share: the projection in memory (MemoryStore), with the semantics
// of RedisCaseStore, and the projection's marks (MemoryMarks: the marker and the replicas' lock).
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "libs/domain/case_state.h"
#include "libs/status/retry.h"
#include "services/intake/case_store.h"
#include "services/intake/testing/memory_retention.h"

namespace meldpunt::intake::testing {

// The projection in memory, with the same semantics as RedisCaseStore: told the terms
// (KeepRetention), it keeps `retention` (when set) with each case, in the same step: when the
// index cannot be written (its `error`), nothing is.
class MemoryStore : public CaseStore {
 public:
  absl::StatusOr<std::optional<Case>> Get(const std::string& id) override {
    if (!error.ok()) return error;
    auto it = cases.find(id);
    if (it == cases.end()) return std::optional<Case>();
    return std::optional<Case>(it->second);
  }
  absl::StatusOr<ApplyOutcome> Apply(const events::Envelope& e, int64_t offset,
                                     Case* folded = nullptr) override {
    if (!error.ok()) return error;
    if (retention != nullptr && !retention->error.ok()) return retention->error;
    if (seen[e.case_id()].count(e.event_id())) return ApplyOutcome::kDuplicate;
    auto off = offsets.find(e.case_id());
    if (offset >= 0 && off != offsets.end() && off->second >= offset)
      return ApplyOutcome::kDuplicate;
    Case next = cases[e.case_id()];
    if (absl::Status s = domain::Apply(next, e); !s.ok()) {
      if (cases[e.case_id()].case_id().empty()) {
        cases.erase(e.case_id());
        return s;
      }
      seen[e.case_id()].insert(e.event_id());
      return ApplyOutcome::kRejected;
    }
    if (retention != nullptr && retention_term_) {
      if (std::optional<RetentionChange> change = RetentionChangeOf(e, next, retention_term_)) {
        if (change->due) {
          retention->due_by_case.emplace(change->case_id, *change->due);  // NX
        } else {
          retention->due_by_case.erase(change->case_id);
        }
      }
    }
    cases[e.case_id()] = next;
    if (folded != nullptr) *folded = next;
    seen[e.case_id()].insert(e.event_id());
    if (offset >= 0) offsets[e.case_id()] = offset;
    if (e.has_case_submitted()) refs[next.reference()] = next.case_id();
    return ApplyOutcome::kApplied;
  }
  absl::StatusOr<bool> HasEvent(const std::string& c, const std::string& e) override {
    return seen[c].count(e) > 0;
  }
  absl::StatusOr<int64_t> AppliedOffset(const std::string& c) override {
    auto it = offsets.find(c);
    return it == offsets.end() ? -1 : it->second;
  }
  absl::StatusOr<std::optional<std::string>> ResolveReference(const std::string& r) override {
    auto it = refs.find(r);
    if (it == refs.end()) return std::optional<std::string>();
    return std::optional<std::string>(it->second);
  }
  absl::StatusOr<bool> ClaimReference(const std::string& r, const std::string& c) override {
    return refs.emplace(r, c).first->second == c;
  }
  absl::StatusOr<bool> TryLockSubmission(const std::string& c, absl::Duration) override {
    if (!error.ok()) return error;
    return locks.insert(c).second;
  }
  absl::Status ReleaseSubmission(const std::string& c) override {
    locks.erase(c);
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<v1::HistoryEntry>> History(const std::string&) override {
    return std::vector<v1::HistoryEntry>();
  }
  absl::StatusOr<ListPage> List(const ListQuery&) override { return ListPage(); }
  // With `marker` set, a live fold (FoldFence::kLive) writes only while *marker is true, as the
  // Redis store's script checks mp:intake:intact.
  absl::StatusOr<std::vector<FoldOutcome>> ApplyAll(const std::vector<FoldInput>& events,
                                                    FoldFence fence) override {
    ++apply_all_calls;
    if (!error.ok()) return error;
    if (fence == FoldFence::kLive && marker != nullptr && !*marker) {
      ++held_runs;
      std::vector<FoldOutcome> held(events.size());
      for (FoldOutcome& o : held) {
        o.outcome = status::InPlace(absl::UnavailableError(kLiveFoldHeldText));
      }
      return held;
    }
    return CaseStore::ApplyAll(events, fence);
  }
  std::vector<absl::StatusOr<SubmissionStart>> BeginAll(const std::vector<SubmissionKey>& keys,
                                                        absl::Duration ttl) override {
    ++begin_all_calls;
    return CaseStore::BeginAll(keys, ttl);
  }
  std::vector<absl::StatusOr<bool>> CreateAll(const std::vector<const events::Envelope*>& envelopes,
                                              std::vector<Case>* folded) override {
    ++create_all_calls;
    return CaseStore::CreateAll(envelopes, folded);
  }
  absl::StatusOr<int64_t> Clear() override {
    if (!error.ok()) return error;
    const int64_t removed = static_cast<int64_t>(cases.size());
    cases.clear();
    seen.clear();
    offsets.clear();
    refs.clear();
    ++clears;
    return removed;
  }

  std::map<std::string, Case> cases;
  std::map<std::string, std::set<std::string>> seen;
  std::map<std::string, int64_t> offsets;
  std::map<std::string, std::string> refs;
  std::set<std::string> locks;
  absl::Status error = absl::OkStatus();
  const bool* marker = nullptr;
  MemoryRetentionIndex* retention = nullptr;  // kept with the cases once told the terms
  int apply_all_calls = 0;
  int begin_all_calls = 0;
  int create_all_calls = 0;
  int held_runs = 0;
  int clears = 0;
};

// mp:intake:intact and mp:intake:rebuilding in memory; `lose_lock` makes the lock go (Redis lost
// its data) before the marker is set.
class MemoryMarks : public ProjectionMarks {
 public:
  absl::StatusOr<bool> TryLockRebuild(const std::string& owner, absl::Duration ttl) override {
    if (!holder.empty()) return false;
    holder = owner;
    this->ttl = ttl;
    return true;
  }
  absl::Status UnlockRebuild(const std::string& owner) override {
    if (holder == owner) holder.clear();
    return absl::OkStatus();
  }
  absl::StatusOr<bool> Intact() override {
    ++intact_asked;
    if (!error.ok()) return error;
    return intact;
  }
  absl::Status ForgetIntact() override {
    if (!error.ok()) return error;
    intact = false;
    ++forgotten;
    return absl::OkStatus();
  }
  absl::StatusOr<bool> MarkIntactIfLocked(const std::string& owner) override {
    if (lose_lock) holder.clear();
    if (holder != owner) return false;
    intact = true;
    return true;
  }
  std::string holder;
  absl::Duration ttl;
  bool intact = true;
  bool lose_lock = false;
  int intact_asked = 0;
  int forgotten = 0;
  absl::Status error = absl::OkStatus();
};

}  // namespace meldpunt::intake::testing
