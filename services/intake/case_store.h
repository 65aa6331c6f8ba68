// The case projection: each case's state, folded from its events, kept in Redis.
//
// Keys (the case id as hash tag, so Redis Cluster keeps a case's keys together):
//   mp:case:{<id>}          hash: pb = serialized meldpunt.types.v1.Case, ver = records folded,
//                           off = Kafka offset of the last event folded (the case's partition),
//                           and a field e:<event id> for each event folded or refused (a repeat
//                           of one is dropped)
//   mp:case:{<id>}:history  string: the case's history in fold order, each entry as a field
//                           `entries` of intake.v1.GetCaseHistoryResponse (so the string parses
//                           as that message); an entry keeps the event as the log's bytes and,
//                           for a refused one, why: the fields HistoryEntry repeats from its event
//                           (id, type, time, actor, producer) are filled in as it is read
//                           (CompleteHistoryEntry). A write puts its entries at the byte where the
//                           history ended, so a write done twice changes nothing
//   mp:cases                sorted set (all scores 0) of "<submitted µs, 20 digits>|<case id>",
//                           the listing index, newest last; it names every case the projection
//                           holds (a case's first write writes its entry in the same step)
//   mp:refs                 hash: reference -> case id
//   mp:retention            sorted set: the cases whose reporter's data falls due, scored by
//                           when (retention_rule.h); written with the case it follows, in the
//                           same step, by every write of a store told its terms (KeepRetention)
//   mp:submit:{<id>}        short-lived lock while a submission is being appended
//   mp:intake:layout        "3": the layout above (a projection of another layout is rebuilt)
//
// Create() writes a new case straight after its CaseSubmitted is durable (SubmitCase's
// read-your-writes); the fold then finds the event's id and drops it.
// The live fold (ApplyAll, FoldFence::kLive) folds with optimistic concurrency (a Lua
// compare-and-set on ver) and stores the event's offset with the state in the same script: an
// event at or below the stored offset, or one whose id was folded before, changes nothing, so the
// projection applies each event exactly once. The rebuild's replay (FoldFence::kNone) writes
// plain commands, each safe to repeat, in one MULTI/EXEC per run under WATCH of the rebuild's
// lock: no live fold writes meanwhile (the marker is gone), and a rebuild that no longer holds
// the lock writes nothing.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "libs/events/codec.h"
#include "libs/redis/redis.h"
#include "libs/service/rebuild_guard.h"
#include "meldpunt/intake/v1/intake.pb.h"
#include "meldpunt/types/v1/case.pb.h"
#include "services/intake/retention_rule.h"

namespace meldpunt::intake {

using Case = ::meldpunt::types::v1::Case;

enum class ApplyOutcome { kApplied, kDuplicate, kRejected };

// Who folds a run (ApplyAll). The live fold writes a case only while the projection is marked
// complete (the marker mp:intake:intact), and the store checks that in the same atomic step as
// the write: once a rebuild has taken the marker away, no live fold of any replica writes again,
// so the rebuild may clear the projection at once. The rebuild's replay folds unfenced.
enum class FoldFence { kLive, kNone };

// What a live fold's events get while the marker is gone: held in place (their records stay
// where they are) until the rebuild marks the projection complete again.
inline constexpr char kLiveFoldHeldText[] =
    "the projection is being rebuilt from the log; live folding waits for it";
// What Create gets while a rebuild clears the projection (UNAVAILABLE): nothing written; the
// rebuild's replay folds the case from its event.
inline constexpr char kCreateHeldText[] =
    "the projection is being cleared for a rebuild; the case shows once it is folded";

// One event of a run to fold (ApplyAll), read from the log at `offset` (-1 when unknown).
// `encoded`, when given, is the record's value: the envelope as the log holds it, which the
// history keeps as it is instead of encoding the envelope again.
struct FoldInput {
  const events::Envelope* envelope;
  int64_t offset = -1;
  const std::string* encoded = nullptr;
};

// What folding it did, as Apply would say it: the outcome (or the error Apply would return for
// it alone), and, when it was applied or refused, the case as the run left it (shared by the
// events of a case in one run: a later state of the case than right after the event when the
// run holds more of its events).
struct FoldOutcome {
  absl::StatusOr<ApplyOutcome> outcome = ApplyOutcome::kDuplicate;
  std::shared_ptr<const Case> folded;
};

// Appends the history entry of `envelope` as the projection keeps it to `history`: a field
// `entries` of GetCaseHistoryResponse holding intake.v1.HistoryEntry with only `event` (the
// log's bytes of it, `encoded`, when given: no encoding again) and, for a refused event,
// `rejected` and `rejection`.
void AppendHistoryEntry(const events::Envelope& envelope, const std::string* encoded, bool rejected,
                        absl::string_view rejection, std::string* history);
// A kept entry as GetCaseHistory answers it: the fields that repeat its event filled in from it.
void CompleteHistoryEntry(v1::HistoryEntry& entry);

struct ListQuery {
  types::v1::CaseKind kind = types::v1::CASE_KIND_UNSPECIFIED;
  types::v1::CaseState state = types::v1::CASE_STATE_UNSPECIFIED;
  std::string department;
  std::string category;
  bool overdue = false;
  std::optional<absl::Time> submitted_from;
  std::optional<absl::Time> submitted_to;
  std::string submitting_system;
  v1::OpenFilter open_filter = v1::OPEN_FILTER_ANY;
  std::optional<absl::Time> updated_from;
  std::optional<absl::Time> updated_to;
  std::vector<std::string> categories;  // any of them
  int page_size = 50;
  std::string page_token;  // opaque: the index member after which to continue
};

// What a submission finds when it starts: the case of its request key if it exists, whether it
// holds the submission lock, and whether the reference it wants is now its own.
struct SubmissionStart {
  std::optional<Case> existing;
  bool locked = false;
  bool reference_mine = false;
};

// What a new submission asks of the store before its append: its case, and the reference it
// would take this year.
struct SubmissionKey {
  std::string case_id;
  std::string reference;
};

struct ListPage {
  std::vector<Case> cases;
  std::string next_page_token;
};

class CaseStore {
 public:
  virtual ~CaseStore() = default;
  virtual absl::StatusOr<std::optional<Case>> Get(const std::string& case_id) = 0;
  // Folds an event read from the log at `offset` (-1 when unknown). An event the case's state does
  // not allow is recorded in the history as refused (kRejected) and changes nothing else.
  // `folded` (may be null) gets the case after the event when it was applied or refused.
  virtual absl::StatusOr<ApplyOutcome> Apply(const events::Envelope& envelope, int64_t offset,
                                             Case* folded = nullptr) = 0;
  // Writes a new case from its first event (CaseSubmitted), with its indexes, as soon as that
  // event is durable: SubmitCase's read-your-writes without waiting for the fold. No offset is
  // stored: the fold of the same event later finds its id and drops it, and the case's later
  // events fold on top in log order (an offset here could be a repeat's, past events of the
  // case the fold has yet to apply). True: written now (`folded` gets the case); false: the case
  // exists already (folded from the log, or written by a concurrent call). While a rebuild
  // clears the projection (Clear) nothing is written, and the answer is UNAVAILABLE with
  // kCreateHeldText.
  virtual absl::StatusOr<bool> Create(const events::Envelope& envelope, Case* folded);
  // Create for several new cases at once: each one's answer as Create would give it (`folded`
  // gets the cases written, in the same order; an error of the store is every case's). The
  // default calls Create; RedisCaseStore makes one round trip.
  virtual std::vector<absl::StatusOr<bool>> CreateAll(
      const std::vector<const events::Envelope*>& envelopes, std::vector<Case>* folded);
  // Folds a run of events of several cases (each case's in log order) with the outcome Apply
  // would give each one by one. After an event of a case that fails with an error other than
  // a refusal, the case's later events are not folded (their outcome is that error too). An
  // error of the store itself (Redis down) is the whole call's. With FoldFence::kLive, a case
  // whose write finds the projection not marked complete is not written: its events' outcome is
  // UNAVAILABLE, retried in place (kLiveFoldHeldText). The default calls Apply and knows no
  // marker: a store that keeps one overrides it.
  virtual absl::StatusOr<std::vector<FoldOutcome>> ApplyAll(const std::vector<FoldInput>& events,
                                                            FoldFence fence);
  virtual absl::StatusOr<bool> HasEvent(const std::string& case_id,
                                        const std::string& event_id) = 0;
  // The offset of the last event folded for the case, or -1.
  virtual absl::StatusOr<int64_t> AppliedOffset(const std::string& case_id) = 0;
  virtual absl::StatusOr<std::optional<std::string>> ResolveReference(
      const std::string& reference) = 0;
  // Reserves a reference for a case: true when it is free or already this case's.
  virtual absl::StatusOr<bool> ClaimReference(const std::string& reference,
                                              const std::string& case_id) = 0;
  virtual absl::StatusOr<bool> TryLockSubmission(const std::string& case_id,
                                                 absl::Duration ttl) = 0;
  virtual absl::Status ReleaseSubmission(const std::string& case_id) = 0;
  // Get + TryLockSubmission + ClaimReference for each submission, in their order: of two with the
  // same case the second finds it locked. A lock taken while the case exists is released again.
  // The default asks the three for each; RedisCaseStore takes one round trip for all (and one
  // more to give back what it took for cases that exist).
  virtual std::vector<absl::StatusOr<SubmissionStart>> BeginAll(
      const std::vector<SubmissionKey>& keys, absl::Duration ttl);
  virtual absl::StatusOr<std::vector<v1::HistoryEntry>> History(const std::string& case_id) = 0;
  virtual absl::StatusOr<ListPage> List(const ListQuery& query) = 0;
  // Deletes the whole projection (before a rebuild). Returns the number of keys removed.
  // RedisCaseStore removes each case by the name its listing index gives; a projection of an
  // older layout, or none, by walking the whole keyspace once.
  virtual absl::StatusOr<int64_t> Clear() = 0;
  // Every case submitted in [from, to), oldest first, for reports: without the description, the
  // attachments and the sealed reporter, which no figure needs. RESOURCE_EXHAUSTED past `limit`.
  virtual absl::StatusOr<std::vector<Case>> Submitted(absl::Time from, absl::Time to,
                                                      int64_t limit) {
    return absl::UnimplementedError("this store keeps no index of submissions");
  }
  // From now on every fold (Apply, ApplyAll) keeps the retention index of reporters' personal
  // data (retention_rule.h) in the same atomic step as the case it follows; `term` is a kind's
  // term. Called once, before the store folds anything. A store never told keeps no index.
  void KeepRetention(RetentionTerm term) { retention_term_ = std::move(term); }

 protected:
  RetentionTerm retention_term_;
};

// Where the projection says it is complete, and who is rebuilding it (ProjectionRebuild,
// ProjectionFold): the marker mp:intake:intact and the replicas' lock mp:intake:rebuilding.
class ProjectionMarks : public service::RebuildLock {
 public:
  // The projection is known to be complete (the marker a rebuild sets; gone when Redis lost it).
  virtual absl::StatusOr<bool> Intact() = 0;
  // Sets the marker only while `owner` holds the rebuild lock; false when it no longer does.
  virtual absl::StatusOr<bool> MarkIntactIfLocked(const std::string& owner) = 0;
  // Takes the marker away (a rebuild starting): every replica's live fold holds until it is back
  // (FoldFence::kLive: no live write lands once this returned).
  virtual absl::Status ForgetIntact() = 0;
};

class RedisCaseStore final : public CaseStore, public ProjectionMarks {
 public:
  explicit RedisCaseStore(redis::Client& redis) : redis_(redis) {}

  absl::StatusOr<std::optional<Case>> Get(const std::string& case_id) override;
  // The live fold's script for one event (ApplyAll), written whether or not the projection is
  // marked complete.
  absl::StatusOr<ApplyOutcome> Apply(const events::Envelope& envelope, int64_t offset,
                                     Case* folded = nullptr) override;
  // One round trip (a script; the store runs on one Redis, not a cluster: the index and the
  // reference are keys of other slots, as in BeginAll).
  absl::StatusOr<bool> Create(const events::Envelope& envelope, Case* folded) override;
  // One round trip: the create script of every case in one pipeline.
  std::vector<absl::StatusOr<bool>> CreateAll(const std::vector<const events::Envelope*>& envelopes,
                                              std::vector<Case>* folded) override;
  // One round trip for the whole run, two when a case must be read: one pipeline reads the cases
  // this store does not know (state, version, offset and which of its event ids were folded
  // before), one runs a compare-and-set script per case with all of its events (state, offset,
  // event ids, history, the retention index's change, and for a submission its indexes; for the
  // live fold, the marker's presence). The store keeps what its own last write of a case left (the
  // state, the version, the offset) for the cases it wrote last (Known): a case it knows is not
  // read, and its script checks the event ids itself. A case another writer changed in between (its
  // version is not the one the fold started from) or with an event id folded before is read and
  // folded again. The rebuild's replay (FoldFence::kNone) writes only while this store holds the
  // rebuild lock (TryLockRebuild; FAILED_PRECONDITION otherwise), on one connection: the lock
  // watched and read with the run's reads (a case it does not know is read, or, when its run starts
  // with its submission, looked for: absent, it starts here), then the run's plain writes in one
  // MULTI/EXEC. ABORTED when the lock is no longer this store's, or changed in between: nothing
  // of the run is written.
  absl::StatusOr<std::vector<FoldOutcome>> ApplyAll(const std::vector<FoldInput>& events,
                                                    FoldFence fence) override;
  absl::StatusOr<bool> HasEvent(const std::string& case_id, const std::string& event_id) override;
  absl::StatusOr<int64_t> AppliedOffset(const std::string& case_id) override;
  absl::StatusOr<std::optional<std::string>> ResolveReference(
      const std::string& reference) override;
  absl::StatusOr<bool> ClaimReference(const std::string& reference,
                                      const std::string& case_id) override;
  absl::StatusOr<bool> TryLockSubmission(const std::string& case_id, absl::Duration ttl) override;
  absl::Status ReleaseSubmission(const std::string& case_id) override;
  std::vector<absl::StatusOr<SubmissionStart>> BeginAll(const std::vector<SubmissionKey>& keys,
                                                        absl::Duration ttl) override;
  absl::StatusOr<std::vector<v1::HistoryEntry>> History(const std::string& case_id) override;
  absl::StatusOr<ListPage> List(const ListQuery& query) override;
  absl::StatusOr<int64_t> Clear() override;
  absl::StatusOr<std::vector<Case>> Submitted(absl::Time from, absl::Time to,
                                              int64_t limit) override;

  // The marker of a complete projection (mp:intake:intact), set after a rebuild: gone when Redis
  // lost its data (FLUSHALL, a new instance), which the intake notices and repairs by itself.
  // Complete only over this layout (mp:intake:layout): an older version's projection is rebuilt.
  absl::StatusOr<bool> Intact() override;
  // Sets the marker and the layout (tests, and a projection known complete).
  absl::Status MarkIntact();
  // MarkIntact, only while `owner` holds the rebuild lock (false otherwise).
  absl::StatusOr<bool> MarkIntactIfLocked(const std::string& owner) override;
  absl::Status ForgetIntact() override;
  // One rebuild at a time over all replicas (mp:intake:rebuilding, expires after `ttl`). The
  // store keeps the owner it took the lock for: its replay's writes are checked against it.
  absl::StatusOr<bool> TryLockRebuild(const std::string& owner, absl::Duration ttl) override;
  absl::Status UnlockRebuild(const std::string& owner) override;

  // Cases whose state this store knows, at most (Known): two generations of half as many each.
  static constexpr size_t kKnownCases = 4096;

  // The scripts this store needs loaded on every Redis connection.
  static std::vector<redis::Script> Scripts();
  static std::string CaseKey(const std::string& case_id);
  // The listing index member of a case.
  static std::string IndexMember(const Case& c);

 private:
  // What the store's own last write of a case left. Correct while the version in Redis is this
  // one: every write of a case's state sets a new version (the fold's, Apply's and Create's
  // scripts), and the fold's script writes only over the version it started from.
  struct Known {
    std::shared_ptr<const Case> state;  // null: absent
    std::string version = "0";
    int64_t offset = -1;  // the stored offset (-1: none)
    // The history's length in bytes, where the replay writes the next entries (-1: unknown, as
    // after a live fold, whose script appends).
    int64_t history_bytes = -1;
  };
  // ApplyAll: the live fold (`replay` null) or the replay's, on its connection, under `owner`.
  // A live fold with `fenced` false (Apply) writes whether or not the projection is marked
  // complete.
  absl::StatusOr<std::vector<FoldOutcome>> Fold(const std::vector<FoldInput>& events,
                                                redis::Connection* replay, const std::string& owner,
                                                bool fenced = true);
  // Clear's deletion, the fence set.
  absl::StatusOr<int64_t> ClearKeys();
  std::optional<Known> Recall(const std::string& case_id);
  // What the writes of `case_ids` left (`known`, in the same order), under one lock.
  void Remember(const std::vector<std::string>& case_ids, std::vector<Known> known);
  void Forget(const std::vector<std::string>& case_ids);
  void ForgetAll();

  redis::Client& redis_;
  absl::Mutex known_mu_;
  // The newer generation takes every write; when it is full it becomes the older one, and the
  // older one is dropped: the cases written least recently go first.
  absl::flat_hash_map<std::string, Known> known_ ABSL_GUARDED_BY(known_mu_);
  absl::flat_hash_map<std::string, Known> known_older_ ABSL_GUARDED_BY(known_mu_);
  std::string rebuild_owner_ ABSL_GUARDED_BY(known_mu_);  // "": the lock is not this store's
};

// True when the case matches every filter of the query (paging aside).
bool Matches(const Case& c, const ListQuery& query);

}  // namespace meldpunt::intake
