#include "services/intake/case_store.h"

#include <algorithm>
#include <cstdio>
#include <iterator>
#include <memory>
#include <set>

#include "absl/cleanup/cleanup.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/wire_format_lite.h"
#include "libs/domain/case_state.h"
#include "libs/status/retry.h"
#include "libs/status/status_macros.h"

namespace meldpunt::intake {
namespace {

namespace t = ::meldpunt::types::v1;

// The history of a case is one string: each entry as a field `entries` of
// intake.v1.GetCaseHistoryResponse (its tag, its length, the entry), so the string parses as that
// message. A run's entries go at the byte where the history ended (SETRANGE, or APPEND in a
// script that checked the version): a write done twice writes the same bytes at the same place.

// A case's event ids are fields of its hash: e:<event id> (the value "1").

// KEYS: case hash, history, listing index, references, the clear's fence.
// ARGV: event id, pb, history record, index member, case id, reference ("": none).
// Nothing is written while a rebuild clears the projection (the fence, RedisCaseStore::Clear):
// the clear, over many calls, could take part of a case written meanwhile and leave its event id
// as folded without its state.
constexpr char kCreateLua[] = R"lua(
if redis.call('EXISTS', KEYS[5]) == 1 then return 'HELD' end
local id = 'e:' .. ARGV[1]
if redis.call('HEXISTS', KEYS[1], id) == 1 then return 'DUP' end
if redis.call('EXISTS', KEYS[1]) == 1 then return 'EXISTS' end
redis.call('HSET', KEYS[1], 'pb', ARGV[2], 'ver', '1', id, '1')
redis.call('SET', KEYS[2], ARGV[3])
redis.call('ZADD', KEYS[3], 0, ARGV[4])
if ARGV[6] ~= '' then redis.call('HSET', KEYS[4], ARGV[6], ARGV[5]) end
return 'OK'
)lua";

// The live fold of a case's events in a run, with what they do to the retention index.
// KEYS: case hash, history, the projection's marker, its layout, listing index, references,
// retention index.
// ARGV: expected ver, new pb, new ver, offset (-1: none), n, fenced ("1": a live fold, written only
// while the marker exists over this layout), check ("1": the ids were not read with the state:
// DUP when one of them was folded before, and nothing written), this layout, the history records,
// n event ids, index member ("": not a submission), case id, reference ("": none), retention
// ("": unchanged, "nx": added unless in, "set": added, "rm": removed), due (ms).
constexpr char kFoldLua[] = R"lua(
if ARGV[6] == '1' and (redis.call('EXISTS', KEYS[3]) == 0 or
                       redis.call('GET', KEYS[4]) ~= ARGV[8]) then
  return 'HELD'
end
local cur = redis.call('HGET', KEYS[1], 'ver')
if (cur or '0') ~= ARGV[1] then return 'CONFLICT' end
local n = tonumber(ARGV[5])
local ids = {}
for i = 1, n do ids[i] = 'e:' .. ARGV[9 + i] end
if ARGV[7] == '1' then
  for _, folded in ipairs(redis.call('HMGET', KEYS[1], unpack(ids))) do
    if folded then return 'DUP' end
  end
end
-- The indexes before the case's state and event ids: a script stopped half way by an error
-- (Redis does not undo what a script wrote) leaves its events unfolded, and their fold done again
-- writes the same index entries again.
local case_id = ARGV[11 + n]
if ARGV[10 + n] ~= '' then
  redis.call('ZADD', KEYS[5], 0, ARGV[10 + n])
  if ARGV[12 + n] ~= '' then redis.call('HSET', KEYS[6], ARGV[12 + n], case_id) end
end
local retention = ARGV[13 + n]
if retention == 'rm' then
  redis.call('ZREM', KEYS[7], case_id)
elseif retention == 'nx' then
  redis.call('ZADD', KEYS[7], 'NX', ARGV[14 + n], case_id)
elseif retention == 'set' then
  redis.call('ZADD', KEYS[7], ARGV[14 + n], case_id)
end
local set = {'pb', ARGV[2], 'ver', ARGV[3]}
if tonumber(ARGV[4]) >= 0 then
  set[5] = 'off'
  set[6] = ARGV[4]
end
for i = 1, n do
  set[#set + 1] = ids[i]
  set[#set + 1] = '1'
end
redis.call('HSET', KEYS[1], unpack(set))
redis.call('APPEND', KEYS[2], ARGV[9])
return 'OK'
)lua";

constexpr int kMaxCasAttempts = 20;
constexpr char kIndexKey[] = "mp:cases";
constexpr char kRefsKey[] = "mp:refs";
constexpr char kIntactKey[] = "mp:intake:intact";
constexpr char kRebuildLockKey[] = "mp:intake:rebuilding";
// The layout the projection is written in. A projection of another layout (an older version's)
// is not complete for this one (Intact): it is rebuilt, and its clear walks the whole keyspace
// once; a projection of this layout is cleared by the names its listing index gives.
constexpr char kLayoutKey[] = "mp:intake:layout";
constexpr char kLayout[] = "3";
// Set while Clear runs (Create writes nothing then); it expires should the clear die half way.
constexpr char kClearingKey[] = "mp:intake:clearing";
constexpr char kClearingTtlMs[] = "3600000";
constexpr int kListBatch = 100;
constexpr int kListBudget = 5000;  // cases examined per call at most; then a token is returned

// The field of a case's hash that says an event was folded (or refused).
std::string EventField(absl::string_view event_id) { return absl::StrCat("e:", event_id); }
std::string HistoryKey(const std::string& case_id) {
  return RedisCaseStore::CaseKey(case_id) + ":history";
}

std::string LockKey(const std::string& case_id) {
  return absl::StrCat("mp:submit:{", case_id, "}");
}

// The retention index's change of a case's run as the fold's script takes it: what to do ("":
// nothing, "nx", "set", "rm") and the due time in ms ("" when there is none).
std::pair<const char*, std::string> RetentionArgs(const RetentionStep& step) {
  switch (step.op()) {
    case RetentionStep::Op::kNone:
      return {"", ""};
    case RetentionStep::Op::kAddUnlessIn:
      return {"nx", absl::StrCat(absl::ToUnixMillis(step.due()))};
    case RetentionStep::Op::kSet:
      return {"set", absl::StrCat(absl::ToUnixMillis(step.due()))};
    case RetentionStep::Op::kRemove:
      return {"rm", ""};
  }
  return {"", ""};
}

// The same as the replay's command; none when nothing changes.
std::optional<std::vector<std::string>> RetentionCommand(const RetentionStep& step,
                                                         const std::string& case_id) {
  switch (step.op()) {
    case RetentionStep::Op::kNone:
      return std::nullopt;
    case RetentionStep::Op::kAddUnlessIn:
      return std::vector<std::string>{"ZADD", kRetentionIndexKey, "NX",
                                      absl::StrCat(absl::ToUnixMillis(step.due())), case_id};
    case RetentionStep::Op::kSet:
      return std::vector<std::string>{"ZADD", kRetentionIndexKey,
                                      absl::StrCat(absl::ToUnixMillis(step.due())), case_id};
    case RetentionStep::Op::kRemove:
      return std::vector<std::string>{"ZREM", kRetentionIndexKey, case_id};
  }
  return std::nullopt;
}

std::string Micros20(absl::Time time) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%020lld",
                static_cast<long long>(std::max<int64_t>(0, absl::ToUnixMicros(time))));
  return buffer;
}

}  // namespace

void AppendHistoryEntry(const events::Envelope& envelope, const std::string* encoded, bool rejected,
                        absl::string_view rejection, std::string* history) {
  if (encoded == nullptr) {
    const std::string bytes = envelope.SerializeAsString();
    return AppendHistoryEntry(envelope, &bytes, rejected, rejection, history);
  }
  // Written by hand, as encoding the message would (its fields in number order, an empty string
  // or a false left out), straight into the history: a field of a message type is its tag, its
  // length and its encoding, so `event` is the record's bytes as they are. A unit test holds it
  // to the message.
  using google::protobuf::internal::WireFormatLite;
  using google::protobuf::io::CodedOutputStream;
  constexpr auto kBytes = WireFormatLite::WIRETYPE_LENGTH_DELIMITED;
  const uint32_t event_tag = WireFormatLite::MakeTag(v1::HistoryEntry::kEventFieldNumber, kBytes);
  const uint32_t rejection_tag =
      WireFormatLite::MakeTag(v1::HistoryEntry::kRejectionFieldNumber, kBytes);
  size_t size = CodedOutputStream::VarintSize32(event_tag) +
                CodedOutputStream::VarintSize64(encoded->size()) + encoded->size();
  if (rejected) size += 2;  // the tag of field 6 and a 1, one byte each
  if (!rejection.empty()) {
    size += CodedOutputStream::VarintSize32(rejection_tag) +
            CodedOutputStream::VarintSize64(rejection.size()) + rejection.size();
  }
  uint8_t head[48];  // what precedes a string: at most 3 tags and 3 lengths, and the flag
  uint8_t* at = head;
  auto flush = [&] {
    history->append(reinterpret_cast<const char*>(head), at - head);
    at = head;
  };
  history->reserve(history->size() + size + 16);
  at = CodedOutputStream::WriteVarint32ToArray(
      WireFormatLite::MakeTag(v1::GetCaseHistoryResponse::kEntriesFieldNumber, kBytes), at);
  at = CodedOutputStream::WriteVarint64ToArray(size, at);
  if (rejected) {
    at = CodedOutputStream::WriteVarint32ToArray(
        WireFormatLite::MakeTag(v1::HistoryEntry::kRejectedFieldNumber,
                                WireFormatLite::WIRETYPE_VARINT),
        at);
    at = CodedOutputStream::WriteVarint32ToArray(1, at);
  }
  if (!rejection.empty()) {
    at = CodedOutputStream::WriteVarint32ToArray(rejection_tag, at);
    at = CodedOutputStream::WriteVarint64ToArray(rejection.size(), at);
    flush();
    history->append(rejection.data(), rejection.size());
  }
  at = CodedOutputStream::WriteVarint32ToArray(event_tag, at);
  at = CodedOutputStream::WriteVarint64ToArray(encoded->size(), at);
  flush();
  history->append(*encoded);
}

void CompleteHistoryEntry(v1::HistoryEntry& entry) {
  const events::Envelope& event = entry.event();
  entry.set_event_id(event.event_id());
  entry.set_type(event.type());
  // The two message fields always there (empty when the event has none), as they always were.
  *entry.mutable_occurred_at() = event.occurred_at();
  *entry.mutable_actor() = event.actor();
  entry.set_producer(event.producer());
}

std::vector<redis::Script> RedisCaseStore::Scripts() {
  return {{"case_create", kCreateLua}, {"case_fold", kFoldLua}};
}

std::string RedisCaseStore::CaseKey(const std::string& case_id) {
  return absl::StrCat("mp:case:{", case_id, "}");
}

std::string RedisCaseStore::IndexMember(const Case& c) {
  return absl::StrCat(Micros20(events::GetTime(c.submitted_at())), "|", c.case_id());
}

bool Matches(const Case& c, const ListQuery& q) {
  if (q.kind != t::CASE_KIND_UNSPECIFIED && c.draft().kind() != q.kind) return false;
  if (q.state != t::CASE_STATE_UNSPECIFIED && c.state() != q.state) return false;
  if (!q.department.empty() && c.department() != q.department) return false;
  if (!q.category.empty() && c.draft().category() != q.category) return false;
  if (q.overdue &&
      (c.breached_clocks_size() == 0 || c.state() == t::CLOSED || domain::IsTerminal(c.state()))) {
    return false;
  }
  const absl::Time submitted = events::GetTime(c.submitted_at());
  if (q.submitted_from && submitted < *q.submitted_from) return false;
  if (q.submitted_to && submitted >= *q.submitted_to) return false;
  if (!q.submitting_system.empty() && c.submitting_system() != q.submitting_system) return false;
  if (q.open_filter == v1::OPEN_ONLY && !domain::IsOpen(c.state())) return false;
  if (q.open_filter == v1::CLOSED_ONLY && domain::IsOpen(c.state())) return false;
  const absl::Time updated = events::GetTime(c.updated_at());
  if (q.updated_from && updated < *q.updated_from) return false;
  if (q.updated_to && updated >= *q.updated_to) return false;
  if (!q.categories.empty() && std::find(q.categories.begin(), q.categories.end(),
                                         c.draft().category()) == q.categories.end()) {
    return false;
  }
  return true;
}

absl::StatusOr<std::optional<Case>> RedisCaseStore::Get(const std::string& case_id) {
  ASSIGN_OR_RETURN(redis::Reply reply, redis_.Command({"HGET", CaseKey(case_id), "pb"}));
  RETURN_IF_ERROR(redis::ReplyStatus(reply));
  if (reply.is_nil()) return std::optional<Case>();
  Case c;
  if (!c.ParseFromString(reply.str)) {
    return absl::DataLossError(
        absl::StrCat("projection of ", case_id, " is not a Case (rebuild it from the log)"));
  }
  return std::optional<Case>(std::move(c));
}

std::vector<absl::StatusOr<SubmissionStart>> CaseStore::BeginAll(
    const std::vector<SubmissionKey>& keys, absl::Duration ttl) {
  std::vector<absl::StatusOr<SubmissionStart>> out;
  out.reserve(keys.size());
  for (const SubmissionKey& key : keys) {
    out.push_back([&]() -> absl::StatusOr<SubmissionStart> {
      SubmissionStart start;
      ASSIGN_OR_RETURN(start.existing, Get(key.case_id));
      if (start.existing) return start;
      ASSIGN_OR_RETURN(start.locked, TryLockSubmission(key.case_id, ttl));
      if (!start.locked) return start;
      ASSIGN_OR_RETURN(start.reference_mine, ClaimReference(key.reference, key.case_id));
      return start;
    }());
  }
  return out;
}

std::vector<absl::StatusOr<SubmissionStart>> RedisCaseStore::BeginAll(
    const std::vector<SubmissionKey>& keys, absl::Duration ttl) {
  std::vector<absl::StatusOr<SubmissionStart>> out(keys.size());
  if (keys.empty()) return out;
  // One round trip. Claiming the reference before knowing whether the case exists is harmless:
  // it is derived from the case id, so an existing case of this key holds it already.
  constexpr size_t kPer = 4;
  const std::string lock_ms = absl::StrCat(absl::ToInt64Milliseconds(ttl));
  std::vector<std::vector<std::string>> commands;
  commands.reserve(keys.size() * kPer);
  for (const SubmissionKey& key : keys) {
    commands.push_back({"HGET", CaseKey(key.case_id), "pb"});
    commands.push_back({"SET", LockKey(key.case_id), "1", "NX", "PX", lock_ms});
    commands.push_back({"HSETNX", kRefsKey, key.reference, key.case_id});
    commands.push_back({"HGET", kRefsKey, key.reference});
  }
  absl::StatusOr<std::vector<redis::Reply>> replies = redis_.Pipeline(commands);
  if (!replies.ok()) {
    out.assign(keys.size(), replies.status());
    return out;
  }
  // The cases that exist: give the lock back, and the reference of another year if we just took
  // it, all in one more round trip.
  std::vector<std::vector<std::string>> undo;
  std::vector<size_t> undone_by;  // the key each undo command belongs to
  for (size_t i = 0; i < keys.size(); ++i) {
    const redis::Reply* r = &(*replies)[i * kPer];
    absl::Status error;
    for (size_t k = 0; k < kPer && error.ok(); ++k) error = redis::ReplyStatus(r[k]);
    if (!error.ok()) {
      out[i] = error;
      continue;
    }
    SubmissionStart start;
    start.locked = !r[1].is_nil();
    start.reference_mine = r[3].str == keys[i].case_id;
    if (!r[0].is_nil()) {
      Case c;
      if (!c.ParseFromString(r[0].str)) {
        out[i] = absl::DataLossError(absl::StrCat("projection of ", keys[i].case_id,
                                                  " is not a Case (rebuild it from the log)"));
        continue;
      }
      if (start.locked) {
        undo.push_back({"DEL", LockKey(keys[i].case_id)});
        undone_by.push_back(i);
      }
      if (r[2].integer == 1 && c.reference() != keys[i].reference) {
        undo.push_back({"HDEL", kRefsKey, keys[i].reference});
        undone_by.push_back(i);
      }
      start.locked = false;
      start.existing = std::move(c);
    }
    out[i] = std::move(start);
  }
  if (!undo.empty()) {
    absl::StatusOr<std::vector<redis::Reply>> undone = redis_.Pipeline(undo);
    for (size_t k = 0; k < undo.size(); ++k) {
      absl::Status error = undone.ok() ? redis::ReplyStatus((*undone)[k]) : undone.status();
      if (!error.ok() && out[undone_by[k]].ok()) out[undone_by[k]] = error;
    }
  }
  return out;
}

absl::StatusOr<std::vector<FoldOutcome>> CaseStore::ApplyAll(const std::vector<FoldInput>& events,
                                                             FoldFence) {
  std::vector<FoldOutcome> out(events.size());
  std::set<std::string> stopped;  // cases whose event failed: their later events wait
  for (size_t i = 0; i < events.size(); ++i) {
    const std::string& case_id = events[i].envelope->case_id();
    if (stopped.count(case_id) > 0) {
      out[i].outcome = absl::AbortedError("an earlier event of the case failed");
      continue;
    }
    Case folded;
    out[i].outcome = Apply(*events[i].envelope, events[i].offset, &folded);
    if (out[i].outcome.ok() && *out[i].outcome != ApplyOutcome::kDuplicate) {
      out[i].folded = std::make_shared<const Case>(std::move(folded));
    }
    if (!out[i].outcome.ok() &&
        out[i].outcome.status().code() != absl::StatusCode::kFailedPrecondition) {
      if (absl::IsUnavailable(out[i].outcome.status())) return out[i].outcome.status();
      stopped.insert(case_id);
    }
  }
  return out;
}

std::optional<RedisCaseStore::Known> RedisCaseStore::Recall(const std::string& case_id) {
  absl::MutexLock lock(&known_mu_);
  if (auto it = known_.find(case_id); it != known_.end()) return it->second;
  if (auto it = known_older_.find(case_id); it != known_older_.end()) return it->second;
  return std::nullopt;
}

void RedisCaseStore::Remember(const std::vector<std::string>& case_ids, std::vector<Known> known) {
  // The generations dropped, freed after the lock is let go.
  std::vector<absl::flat_hash_map<std::string, Known>> dropped;
  absl::MutexLock lock(&known_mu_);
  for (size_t k = 0; k < case_ids.size(); ++k) {
    const std::string& case_id = case_ids[k];
    known_older_.erase(case_id);
    if (known_.size() >= kKnownCases / 2 && known_.find(case_id) == known_.end()) {
      dropped.emplace_back().swap(known_older_);
      known_older_.swap(known_);
      known_.reserve(kKnownCases / 2);  // filled again without growing step by step
    }
    known_.insert_or_assign(case_id, std::move(known[k]));
  }
}

void RedisCaseStore::Forget(const std::vector<std::string>& case_ids) {
  absl::MutexLock lock(&known_mu_);
  for (const std::string& case_id : case_ids) {
    known_.erase(case_id);
    known_older_.erase(case_id);
  }
}

void RedisCaseStore::ForgetAll() {
  absl::MutexLock lock(&known_mu_);
  known_.clear();
  known_older_.clear();
}

absl::StatusOr<std::vector<FoldOutcome>> RedisCaseStore::ApplyAll(
    const std::vector<FoldInput>& events, FoldFence fence) {
  if (fence == FoldFence::kLive) return Fold(events, nullptr, "", true);
  // The replay's plain writes hold only while its rebuild does: each run is checked against the
  // lock this store took, on one connection (WATCH, then MULTI and EXEC).
  std::string owner;
  {
    absl::MutexLock lock(&known_mu_);
    owner = rebuild_owner_;
  }
  if (owner.empty()) {
    return absl::FailedPreconditionError(
        "the rebuild's replay writes only while this store holds the rebuild lock "
        "(TryLockRebuild)");
  }
  return redis_.Exclusive(
      [&](redis::Connection& connection) -> absl::StatusOr<std::vector<FoldOutcome>> {
        RETURN_IF_ERROR(connection.Connected());
        return Fold(events, &connection, owner);
      });
}

absl::StatusOr<std::vector<FoldOutcome>> RedisCaseStore::Fold(const std::vector<FoldInput>& events,
                                                              redis::Connection* replay,
                                                              const std::string& owner,
                                                              bool fenced) {
  const bool live = replay == nullptr;
  std::vector<FoldOutcome> out(events.size());
  // Each case's events, in log order, the cases in the order they first come.
  std::vector<std::string> pending;
  absl::flat_hash_map<std::string, std::vector<size_t>> of_case;
  for (size_t i = 0; i < events.size(); ++i) {
    auto [it, inserted] = of_case.try_emplace(events[i].envelope->case_id());
    if (inserted) pending.push_back(it->first);
    it->second.push_back(i);
  }
  // The replay's round trips: each begins with the lock watched and read (a run of a rebuild that
  // no longer holds it writes nothing), and ends with the run's writes in one transaction (EXEC
  // fails when the lock changed in between) or with the watch let go.
  auto replay_send = [&](std::vector<std::vector<std::string>> commands,
                         bool guard) -> absl::StatusOr<std::vector<redis::Reply>> {
    if (guard) {
      commands.insert(commands.begin(), {{"WATCH", kRebuildLockKey}, {"GET", kRebuildLockKey}});
    }
    ASSIGN_OR_RETURN(std::vector<redis::Reply> replies, replay->SendOnce(commands));
    if (guard) {
      RETURN_IF_ERROR(redis::ReplyStatus(replies[1]));
      if (replies[1].is_nil() || replies[1].str != owner) {
        ASSIGN_OR_RETURN(std::vector<redis::Reply> unwatched, replay->SendOnce({{"UNWATCH"}}));
        // Given up at once (not retried in place): the replay passes over what is left, and
        // the rebuild, which can no longer mark the projection complete, ends ABORTED.
        return status::GiveUp(absl::AbortedError(
            "the rebuild no longer holds its lock (it outlived it, or Redis lost it): its replay "
            "writes nothing more"));
      }
      replies.erase(replies.begin(), replies.begin() + 2);
    }
    return replies;
  };
  for (int attempt = 0; attempt < kMaxCasAttempts && !pending.empty(); ++attempt) {
    // Where each case's fold starts: what the store knows of it (the first attempt only: a case
    // that comes round again is read), what the pipeline reads, or, for the rebuild's replay, an
    // absent case when its run starts with its submission and it does not exist.
    // read_at: where a case's replies are in the pipeline; SIZE_MAX for a case not read, whose
    // event ids its script checks.
    enum class Read { kNone, kState, kExists };
    std::vector<Known> starts(pending.size());
    std::vector<Read> how(pending.size(), Read::kNone);
    std::vector<size_t> read_at(pending.size(), SIZE_MAX);
    std::vector<std::vector<std::string>> reads;
    for (size_t k = 0; k < pending.size(); ++k) {
      const std::string& case_id = pending[k];
      const std::vector<size_t>& indexes = of_case[case_id];
      if (attempt == 0) {
        // The replay writes a case's history at the byte it knows the history ends: a case
        // known from a live fold (which appends) is read.
        if (std::optional<Known> known = Recall(case_id);
            known && (live || known->history_bytes >= 0)) {
          starts[k] = std::move(*known);
          continue;
        }
        if (!live &&
            events[indexes.front()].envelope->payload_case() == events::Envelope::kCaseSubmitted) {
          how[k] = Read::kExists;
          read_at[k] = reads.size();
          reads.push_back({"EXISTS", CaseKey(case_id)});
          continue;
        }
      }
      how[k] = Read::kState;
      read_at[k] = reads.size();
      // The state, and which of the run's events were folded before (their fields).
      std::vector<std::string> read = {"HMGET", CaseKey(case_id), "pb", "ver", "off"};
      for (size_t i : indexes) read.push_back(EventField(events[i].envelope->event_id()));
      reads.push_back(std::move(read));
      if (!live) reads.push_back({"STRLEN", HistoryKey(case_id)});
    }
    std::vector<redis::Reply> replies;
    if (!live) {
      ASSIGN_OR_RETURN(replies, replay_send(std::move(reads), true));
    } else if (!reads.empty()) {
      ASSIGN_OR_RETURN(replies, redis_.Pipeline(reads));
    }
    std::vector<redis::ScriptCall> writes;                // the live fold's
    std::vector<std::vector<std::string>> replay_writes;  // the replay's
    std::vector<std::string> index_adds = {"ZADD", kIndexKey};
    std::vector<std::string> reference_sets = {"HSET", kRefsKey};
    std::vector<std::string> written;
    std::vector<Known> written_known;
    std::vector<std::string> unchecked;  // cases folded from what the store knew, nothing written
    std::vector<std::string> read_unchanged;  // cases read and left as they are
    std::vector<Known> read_known;
    for (size_t k = 0; k < pending.size(); ++k) {
      const std::string& case_id = pending[k];
      const std::vector<size_t>& indexes = of_case[case_id];
      Case next;
      std::string version = "0";
      int64_t stored_offset = -1;
      int64_t history_bytes = 0;
      const redis::Reply* members = nullptr;  // the state read, with the event fields from 3 on
      if (how[k] == Read::kNone) {
        if (starts[k].state != nullptr) next = *starts[k].state;
        version = starts[k].version;
        stored_offset = starts[k].offset;
        history_bytes = starts[k].history_bytes;
      } else if (how[k] == Read::kExists) {
        RETURN_IF_ERROR(redis::ReplyStatus(replies[read_at[k]]));
        if (replies[read_at[k]].integer != 0) {
          // There after all (a submission's own write, or a repeat of the submission on the log):
          // read and folded on in the next attempt.
          unchecked.push_back(case_id);
          continue;
        }
      } else {
        const redis::Reply& state = replies[read_at[k]];
        RETURN_IF_ERROR(redis::ReplyStatus(state));
        if (state.elements.size() != 3 + indexes.size()) {
          return absl::InternalError("redis: HMGET answered a different number of fields");
        }
        members = &state;
        if (!live) {
          RETURN_IF_ERROR(redis::ReplyStatus(replies[read_at[k] + 1]));
          history_bytes = replies[read_at[k] + 1].integer;
        }
        if (!state.elements[0].is_nil()) {
          if (!next.ParseFromString(state.elements[0].str)) {
            for (size_t i : indexes) {
              out[i].outcome =
                  absl::DataLossError(absl::StrCat("projection of ", case_id, " is corrupt"));
            }
            continue;
          }
          version = state.elements[1].str;
          if (!state.elements[2].is_nil() &&
              !absl::SimpleAtoi(state.elements[2].str, &stored_offset))
            stored_offset = -1;
        }
      }
      int64_t next_version = 0;
      if (!absl::SimpleAtoi(version, &next_version)) next_version = 0;
      std::vector<absl::string_view> ids;  // of the events folded (the envelopes' own)
      std::string history;                 // the run's history records
      std::vector<size_t> folded_here;     // the events applied or refused: they get the state
      absl::flat_hash_set<absl::string_view> seen;
      int64_t offset = -1;
      bool submitted = false;
      bool failed = false;
      RetentionStep retention;  // what the applied events do to the retention index
      for (size_t j = 0; j < indexes.size(); ++j) {
        const size_t i = indexes[j];
        const events::Envelope& envelope = *events[i].envelope;
        out[i] = FoldOutcome();
        if (failed) {
          out[i].outcome = absl::AbortedError("an earlier event of the case failed");
          continue;
        }
        const bool folded_before =
            (members != nullptr && !members->elements[3 + j].is_nil()) ||
            (events[i].offset >= 0 && stored_offset >= events[i].offset) ||
            (!next.last_event_id().empty() && next.last_event_id() == envelope.event_id()) ||
            !seen.insert(envelope.event_id()).second;
        if (folded_before) continue;  // kDuplicate
        // domain::Apply checks before it changes anything: a refused event left `next` as it was.
        if (absl::Status applied = domain::Apply(next, envelope); !applied.ok()) {
          if (applied.code() != absl::StatusCode::kFailedPrecondition) {
            out[i].outcome = applied;
            failed = true;
            continue;
          }
          // A case that was never submitted has nowhere to keep the refusal: only the log.
          if (next.case_id().empty()) {
            out[i].outcome = applied;
            continue;
          }
          next.set_rejected_events(next.rejected_events() + 1);
          AppendHistoryEntry(envelope, events[i].encoded, true, applied.message(), &history);
          out[i].outcome = ApplyOutcome::kRejected;
        } else {
          AppendHistoryEntry(envelope, events[i].encoded, false, {}, &history);
          out[i].outcome = ApplyOutcome::kApplied;
          submitted = submitted || envelope.payload_case() == events::Envelope::kCaseSubmitted;
          if (retention_term_) {
            if (std::optional<RetentionChange> change =
                    RetentionChangeOf(envelope, next, retention_term_)) {
              retention.Then(*change);
            }
          }
        }
        folded_here.push_back(i);
        ids.push_back(envelope.event_id());
        if (events[i].offset >= 0) offset = events[i].offset;
      }
      if (ids.empty()) {
        if (how[k] == Read::kNone) {
          // Nothing to write, so no script checks the version this fold started from: what it
          // decided (repeats, a case never submitted) holds only for what Redis holds. Read it.
          unchecked.push_back(case_id);
          continue;
        }
        // What was read is what Redis holds (one HMGET): as good to start from as a write.
        if (version != "0") {
          read_unchanged.push_back(case_id);
          read_known.push_back(Known{std::make_shared<const Case>(std::move(next)), version,
                                     stored_offset, live ? -1 : history_bytes});
        }
        continue;
      }
      const std::string key = CaseKey(case_id);
      const std::string new_version = absl::StrCat(next_version + static_cast<int64_t>(ids.size()));
      const int64_t history_end = history_bytes + static_cast<int64_t>(history.size());
      std::string index_member;
      if (submitted) index_member = IndexMember(next);
      const std::string reference = submitted ? next.reference() : std::string();
      if (live) {
        redis::ScriptCall call{"case_fold",
                               {key, HistoryKey(case_id), kIntactKey, kLayoutKey, kIndexKey,
                                kRefsKey, kRetentionIndexKey},
                               {}};
        call.args = {version,
                     next.SerializeAsString(),
                     new_version,
                     absl::StrCat(offset),
                     absl::StrCat(ids.size()),
                     fenced ? "1" : "0",
                     how[k] == Read::kNone ? "1" : "0",
                     kLayout,
                     std::move(history)};
        for (absl::string_view id : ids) call.args.emplace_back(id);
        auto [retention_op, retention_due] = RetentionArgs(retention);
        call.args.push_back(index_member);
        call.args.push_back(case_id);
        call.args.push_back(reference);
        call.args.emplace_back(retention_op);
        call.args.push_back(std::move(retention_due));
        writes.push_back(std::move(call));
      } else {
        // Plain commands, each safe to repeat: the state with its event ids, the history's bytes
        // at their place (a case that starts here has its whole history set); the run's index
        // entries and references after its cases, one command each.
        std::vector<std::string> state = {"HSET", key,        "pb", next.SerializeAsString(),
                                          "ver",  new_version};
        state.reserve(state.size() + 2 + 2 * ids.size());
        if (offset >= 0) {
          state.push_back("off");
          state.push_back(absl::StrCat(offset));
        }
        for (absl::string_view id : ids) {
          state.push_back(EventField(id));
          state.push_back("1");
        }
        replay_writes.push_back(std::move(state));
        if (history_bytes == 0) {
          replay_writes.push_back({"SET", HistoryKey(case_id), std::move(history)});
        } else {
          replay_writes.push_back(
              {"SETRANGE", HistoryKey(case_id), absl::StrCat(history_bytes), std::move(history)});
        }
        if (std::optional<std::vector<std::string>> kept = RetentionCommand(retention, case_id)) {
          replay_writes.push_back(std::move(*kept));
        }
        if (submitted) {
          index_adds.push_back("0");
          index_adds.push_back(index_member);
          if (!reference.empty()) {
            reference_sets.push_back(reference);
            reference_sets.push_back(next.case_id());
          }
        }
      }
      // One copy of the state for every event of the case in this run.
      auto after = std::make_shared<const Case>(std::move(next));
      for (size_t i : folded_here) out[i].folded = after;
      written.push_back(case_id);
      written_known.push_back(
          Known{after, new_version, offset >= 0 ? offset : stored_offset, live ? -1 : history_end});
    }
    pending = std::move(unchecked);
    Remember(read_unchanged, std::move(read_known));
    if (!live) {
      if (replay_writes.empty()) {
        ASSIGN_OR_RETURN(std::vector<redis::Reply> unwatched, replay_send({{"UNWATCH"}}, false));
        continue;
      }
      Forget(written);
      if (index_adds.size() > 2) replay_writes.push_back(std::move(index_adds));
      if (reference_sets.size() > 2) replay_writes.push_back(std::move(reference_sets));
      const size_t count = replay_writes.size();
      replay_writes.insert(replay_writes.begin(), {"MULTI"});
      replay_writes.push_back({"EXEC"});
      ASSIGN_OR_RETURN(std::vector<redis::Reply> done,
                       replay_send(std::move(replay_writes), false));
      // The commands' own replies first: a write refused as it was queued (-READONLY: the
      // primary became a replica, an outage to retry in place) makes EXEC refuse the whole
      // transaction (-EXECABORT), which says less.
      for (size_t r = 0; r + 1 < done.size(); ++r) RETURN_IF_ERROR(redis::ReplyStatus(done[r]));
      const redis::Reply& exec = done.back();
      RETURN_IF_ERROR(redis::ReplyStatus(exec));
      if (exec.is_nil()) {
        return status::GiveUp(absl::AbortedError(
            "the rebuild's lock changed during its run (another rebuild took it): its replay "
            "writes nothing more"));
      }
      if (exec.elements.size() != count) {
        return absl::InternalError("redis: the replay's transaction did not run every write");
      }
      for (const redis::Reply& reply : exec.elements) RETURN_IF_ERROR(redis::ReplyStatus(reply));
      Remember(written, std::move(written_known));
      continue;
    }
    if (writes.empty()) continue;
    // Until a script's answer says what it did, the store knows nothing of its case.
    Forget(written);
    ASSIGN_OR_RETURN(std::vector<redis::Reply> results, redis_.Scripts(writes));
    std::vector<std::string> ok;
    std::vector<Known> ok_known;
    absl::Cleanup remember = [&] { Remember(ok, std::move(ok_known)); };
    for (size_t w = 0; w < results.size(); ++w) {
      RETURN_IF_ERROR(redis::ReplyStatus(results[w]));
      if (results[w].str == "OK") {
        ok.push_back(written[w]);
        ok_known.push_back(std::move(written_known[w]));
        continue;
      }
      if (results[w].str == "HELD") {
        // A rebuild took the marker away: nothing of the case was written.
        for (size_t i : of_case[written[w]]) {
          out[i] = FoldOutcome();
          out[i].outcome = status::InPlace(absl::UnavailableError(kLiveFoldHeldText));
        }
        continue;
      }
      // CONFLICT: another writer (a submission's own write, another replica, the rebuild's
      // clear) changed the case since the fold started from it; DUP: one of its events was
      // folded before. Either way it is read and its events folded again.
      for (size_t i : of_case[written[w]]) out[i] = FoldOutcome();
      pending.push_back(written[w]);
    }
  }
  for (const std::string& case_id : pending) {
    for (size_t i : of_case[case_id]) {
      out[i].outcome =
          absl::AbortedError(absl::StrCat("case ", case_id, ": too many concurrent updates"));
    }
  }
  return out;
}

absl::StatusOr<bool> CaseStore::Create(const events::Envelope& envelope, Case* folded) {
  ASSIGN_OR_RETURN(ApplyOutcome outcome, Apply(envelope, -1, folded));
  return outcome == ApplyOutcome::kApplied;
}

std::vector<absl::StatusOr<bool>> CaseStore::CreateAll(
    const std::vector<const events::Envelope*>& envelopes, std::vector<Case>* folded) {
  std::vector<absl::StatusOr<bool>> out;
  if (folded != nullptr) folded->assign(envelopes.size(), Case());
  for (size_t i = 0; i < envelopes.size(); ++i) {
    out.push_back(Create(*envelopes[i], folded != nullptr ? &(*folded)[i] : nullptr));
  }
  return out;
}

namespace {

// The case a CaseSubmitted starts, and the create script's call for it.
absl::StatusOr<redis::ScriptCall> CreateCall(const events::Envelope& envelope, Case* next) {
  if (envelope.payload_case() != events::Envelope::kCaseSubmitted) {
    return absl::InvalidArgumentError("only a CaseSubmitted creates a case");
  }
  RETURN_IF_ERROR(domain::Apply(*next, envelope));
  const std::string& id = envelope.case_id();
  std::string history;
  AppendHistoryEntry(envelope, nullptr, false, {}, &history);
  return redis::ScriptCall{
      "case_create",
      {RedisCaseStore::CaseKey(id), HistoryKey(id), kIndexKey, kRefsKey, kClearingKey},
      {envelope.event_id(), next->SerializeAsString(), std::move(history),
       RedisCaseStore::IndexMember(*next), next->case_id(), next->reference()}};
}

}  // namespace

absl::StatusOr<bool> RedisCaseStore::Create(const events::Envelope& envelope, Case* folded) {
  Case next;
  ASSIGN_OR_RETURN(redis::ScriptCall call, CreateCall(envelope, &next));
  ASSIGN_OR_RETURN(redis::Reply result, redis_.Script(call.name, call.keys, call.args));
  RETURN_IF_ERROR(redis::ReplyStatus(result));
  if (result.str == "HELD") return absl::UnavailableError(kCreateHeldText);
  if (result.str != "OK") return false;
  if (folded != nullptr) *folded = std::move(next);
  return true;
}

std::vector<absl::StatusOr<bool>> RedisCaseStore::CreateAll(
    const std::vector<const events::Envelope*>& envelopes, std::vector<Case>* folded) {
  std::vector<absl::StatusOr<bool>> out(envelopes.size(), false);
  std::vector<Case> cases(envelopes.size());
  std::vector<redis::ScriptCall> calls;
  std::vector<size_t> called;  // the index of each call's envelope
  for (size_t i = 0; i < envelopes.size(); ++i) {
    absl::StatusOr<redis::ScriptCall> call = CreateCall(*envelopes[i], &cases[i]);
    if (!call.ok()) {
      out[i] = call.status();
      continue;
    }
    calls.push_back(*std::move(call));
    called.push_back(i);
  }
  if (!calls.empty()) {
    absl::StatusOr<std::vector<redis::Reply>> results = redis_.Scripts(calls);
    for (size_t k = 0; k < called.size(); ++k) {
      const size_t i = called[k];
      if (!results.ok()) {
        out[i] = results.status();
      } else if (absl::Status error = redis::ReplyStatus((*results)[k]); !error.ok()) {
        out[i] = error;
      } else if ((*results)[k].str == "HELD") {
        out[i] = absl::UnavailableError(kCreateHeldText);
      } else {
        out[i] = (*results)[k].str == "OK";
      }
    }
  }
  if (folded != nullptr) {
    folded->assign(envelopes.size(), Case());
    for (size_t i = 0; i < envelopes.size(); ++i) {
      if (out[i].ok() && *out[i]) (*folded)[i] = std::move(cases[i]);
    }
  }
  return out;
}

absl::StatusOr<ApplyOutcome> RedisCaseStore::Apply(const events::Envelope& envelope, int64_t offset,
                                                   Case* folded) {
  ASSIGN_OR_RETURN(std::vector<FoldOutcome> outcomes,
                   Fold({{&envelope, offset, nullptr}}, nullptr, "", false));
  FoldOutcome& outcome = outcomes.front();
  if (outcome.outcome.ok() && folded != nullptr && outcome.folded != nullptr) {
    *folded = *outcome.folded;
  }
  return outcome.outcome;
}

absl::StatusOr<bool> RedisCaseStore::HasEvent(const std::string& case_id,
                                              const std::string& event_id) {
  ASSIGN_OR_RETURN(redis::Reply reply,
                   redis_.Command({"HEXISTS", CaseKey(case_id), EventField(event_id)}));
  RETURN_IF_ERROR(redis::ReplyStatus(reply));
  return reply.integer == 1;
}

absl::StatusOr<int64_t> RedisCaseStore::AppliedOffset(const std::string& case_id) {
  ASSIGN_OR_RETURN(redis::Reply reply, redis_.Command({"HGET", CaseKey(case_id), "off"}));
  RETURN_IF_ERROR(redis::ReplyStatus(reply));
  int64_t offset = -1;
  if (!reply.is_nil() && !absl::SimpleAtoi(reply.str, &offset)) offset = -1;
  return offset;
}

absl::StatusOr<std::optional<std::string>> RedisCaseStore::ResolveReference(
    const std::string& reference) {
  ASSIGN_OR_RETURN(redis::Reply reply, redis_.Command({"HGET", kRefsKey, reference}));
  RETURN_IF_ERROR(redis::ReplyStatus(reply));
  if (reply.is_nil()) return std::optional<std::string>();
  return std::optional<std::string>(reply.str);
}

absl::StatusOr<bool> RedisCaseStore::ClaimReference(const std::string& reference,
                                                    const std::string& case_id) {
  ASSIGN_OR_RETURN(
      std::vector<redis::Reply> replies,
      redis_.Pipeline({{"HSETNX", kRefsKey, reference, case_id}, {"HGET", kRefsKey, reference}}));
  RETURN_IF_ERROR(redis::ReplyStatus(replies[1]));
  return replies[1].str == case_id;
}

absl::StatusOr<bool> RedisCaseStore::TryLockSubmission(const std::string& case_id,
                                                       absl::Duration ttl) {
  ASSIGN_OR_RETURN(redis::Reply reply,
                   redis_.Command({"SET", LockKey(case_id), "1", "NX", "PX",
                                   absl::StrCat(absl::ToInt64Milliseconds(ttl))}));
  RETURN_IF_ERROR(redis::ReplyStatus(reply));
  return !reply.is_nil();
}

absl::Status RedisCaseStore::ReleaseSubmission(const std::string& case_id) {
  ASSIGN_OR_RETURN(redis::Reply reply, redis_.Command({"DEL", LockKey(case_id)}));
  return redis::ReplyStatus(reply);
}

absl::StatusOr<std::vector<v1::HistoryEntry>> RedisCaseStore::History(const std::string& case_id) {
  ASSIGN_OR_RETURN(redis::Reply reply, redis_.Command({"GET", HistoryKey(case_id)}));
  RETURN_IF_ERROR(redis::ReplyStatus(reply));
  v1::GetCaseHistoryResponse history;
  if (!reply.is_nil() && !history.ParseFromString(reply.str)) {
    return absl::DataLossError(absl::StrCat("history of ", case_id, " is corrupt"));
  }
  for (v1::HistoryEntry& entry : *history.mutable_entries()) CompleteHistoryEntry(entry);
  return std::vector<v1::HistoryEntry>(std::make_move_iterator(history.mutable_entries()->begin()),
                                       std::make_move_iterator(history.mutable_entries()->end()));
}

absl::StatusOr<ListPage> RedisCaseStore::List(const ListQuery& query) {
  ListPage page;
  // Upper bound (newest first): the token, or the end of the submitted_to range.
  std::string max = "+";
  if (!query.page_token.empty()) {
    max = absl::StrCat("(", query.page_token);
  } else if (query.submitted_to) {
    max = absl::StrCat("(", Micros20(*query.submitted_to));
  }
  const std::string min =
      query.submitted_from ? absl::StrCat("[", Micros20(*query.submitted_from)) : "-";
  int examined = 0;
  std::string last_member;
  while (static_cast<int>(page.cases.size()) < query.page_size && examined < kListBudget) {
    ASSIGN_OR_RETURN(redis::Reply members,
                     redis_.Command({"ZREVRANGEBYLEX", kIndexKey, max, min, "LIMIT", "0",
                                     absl::StrCat(kListBatch)}));
    RETURN_IF_ERROR(redis::ReplyStatus(members));
    if (members.elements.empty()) return page;  // nothing more: no token
    std::vector<std::vector<std::string>> gets;
    for (const auto& m : members.elements) {
      const std::string case_id = m.str.substr(m.str.find('|') + 1);
      gets.push_back({"HGET", CaseKey(case_id), "pb"});
    }
    ASSIGN_OR_RETURN(std::vector<redis::Reply> blobs, redis_.Pipeline(gets));
    for (size_t i = 0; i < blobs.size(); ++i) {
      ++examined;
      last_member = members.elements[i].str;
      Case c;
      if (blobs[i].is_nil() || !c.ParseFromString(blobs[i].str)) continue;
      if (!Matches(c, query)) continue;
      page.cases.push_back(std::move(c));
      if (static_cast<int>(page.cases.size()) == query.page_size) break;
    }
    if (static_cast<int>(members.elements.size()) < kListBatch &&
        last_member == members.elements.back().str) {
      // Reached the end of the range in this batch.
      if (static_cast<int>(page.cases.size()) < query.page_size) return page;
    }
    max = absl::StrCat("(", last_member);
  }
  // Full page or budget spent: continue after the last member looked at. A later page may turn
  // out empty; the caller then stops at an empty next_page_token.
  page.next_page_token = last_member;
  return page;
}

absl::StatusOr<int64_t> RedisCaseStore::Clear() {
  // The fence first: a Create after it writes nothing until the clear is done (kCreateLua), one
  // before it wrote every key of its case before the clear began, so the clear takes them all.
  ASSIGN_OR_RETURN(redis::Reply fenced,
                   redis_.Command({"SET", kClearingKey, "1", "PX", kClearingTtlMs}));
  RETURN_IF_ERROR(redis::ReplyStatus(fenced));
  ForgetAll();
  absl::StatusOr<int64_t> removed = ClearKeys();
  ForgetAll();                        // a fold that ran beside the clear
  if (!removed.ok()) return removed;  // the fence stays until a clear succeeds, or expires
  ASSIGN_OR_RETURN(redis::Reply lifted, redis_.Command({"DEL", kClearingKey}));
  RETURN_IF_ERROR(redis::ReplyStatus(lifted));
  return removed;
}

absl::StatusOr<int64_t> RedisCaseStore::ClearKeys() {
  ASSIGN_OR_RETURN(redis::Reply layout, redis_.Command({"GET", kLayoutKey}));
  RETURN_IF_ERROR(redis::ReplyStatus(layout));
  if (layout.is_nil() || layout.str != kLayout) {
    // Another layout's projection, or none (Redis lost it): every key of either, found by
    // walking the whole keyspace once; then this layout's name.
    ASSIGN_OR_RETURN(int64_t removed,
                     redis::DeleteMatching(redis_, {"mp:case:*", "mp:ref:*", kIndexKey, kRefsKey}));
    ASSIGN_OR_RETURN(redis::Reply set, redis_.Command({"SET", kLayoutKey, kLayout}));
    RETURN_IF_ERROR(redis::ReplyStatus(set));
    return removed;
  }
  // Every case the projection holds is named by the listing index (its state, ids and history
  // are written with its index entry, in one step); the references are one hash. The index is
  // read in pages by rank and dropped last, so a clear cut short starts over where it began.
  constexpr int kPage = 1000;
  int64_t removed = 0;
  for (int64_t from = 0;; from += kPage) {
    ASSIGN_OR_RETURN(redis::Reply members, redis_.Command({"ZRANGE", kIndexKey, absl::StrCat(from),
                                                           absl::StrCat(from + kPage - 1)}));
    RETURN_IF_ERROR(redis::ReplyStatus(members));
    if (members.elements.empty()) break;
    std::vector<std::string> unlink = {"UNLINK"};
    unlink.reserve(1 + 2 * members.elements.size());
    for (const redis::Reply& member : members.elements) {
      const std::string case_id = member.str.substr(member.str.find('|') + 1);
      unlink.push_back(CaseKey(case_id));
      unlink.push_back(HistoryKey(case_id));
    }
    ASSIGN_OR_RETURN(redis::Reply unlinked, redis_.Command(unlink));
    RETURN_IF_ERROR(redis::ReplyStatus(unlinked));
    removed += unlinked.integer;
    if (static_cast<int>(members.elements.size()) < kPage) break;
  }
  ASSIGN_OR_RETURN(redis::Reply rest, redis_.Command({"UNLINK", kIndexKey, kRefsKey}));
  RETURN_IF_ERROR(redis::ReplyStatus(rest));
  return removed + rest.integer;
}

absl::StatusOr<bool> RedisCaseStore::Intact() {
  ASSIGN_OR_RETURN(std::vector<redis::Reply> replies,
                   redis_.Pipeline({{"EXISTS", kIntactKey}, {"GET", kLayoutKey}}));
  for (const redis::Reply& reply : replies) RETURN_IF_ERROR(redis::ReplyStatus(reply));
  return replies[0].integer == 1 && !replies[1].is_nil() && replies[1].str == kLayout;
}

absl::Status RedisCaseStore::MarkIntact() {
  ASSIGN_OR_RETURN(std::vector<redis::Reply> replies,
                   redis_.Pipeline({{"SET", kLayoutKey, kLayout}, {"SET", kIntactKey, "1"}}));
  for (const redis::Reply& reply : replies) RETURN_IF_ERROR(redis::ReplyStatus(reply));
  return absl::OkStatus();
}

absl::Status RedisCaseStore::ForgetIntact() {
  ASSIGN_OR_RETURN(redis::Reply reply, redis_.Command({"DEL", kIntactKey}));
  return redis::ReplyStatus(reply);
}

absl::StatusOr<bool> RedisCaseStore::MarkIntactIfLocked(const std::string& owner) {
  return redis::SetMarkerIfLocked(redis_, kIntactKey, kRebuildLockKey, owner);
}

absl::StatusOr<bool> RedisCaseStore::TryLockRebuild(const std::string& owner, absl::Duration ttl) {
  ASSIGN_OR_RETURN(bool locked, redis::TryLock(redis_, kRebuildLockKey, owner, ttl));
  if (locked) {
    absl::MutexLock lock(&known_mu_);
    rebuild_owner_ = owner;
  }
  return locked;
}

absl::Status RedisCaseStore::UnlockRebuild(const std::string& owner) {
  {
    absl::MutexLock lock(&known_mu_);
    if (rebuild_owner_ == owner) rebuild_owner_.clear();
  }
  return redis::Unlock(redis_, kRebuildLockKey, owner);
}

absl::StatusOr<std::vector<Case>> RedisCaseStore::Submitted(absl::Time from, absl::Time to,
                                                            int64_t limit) {
  std::vector<Case> cases;
  std::string min = absl::StrCat("[", Micros20(from));
  const std::string max = absl::StrCat("(", Micros20(to));
  constexpr int kBatch = 500;
  for (;;) {
    ASSIGN_OR_RETURN(redis::Reply members, redis_.Command({"ZRANGEBYLEX", kIndexKey, min, max,
                                                           "LIMIT", "0", absl::StrCat(kBatch)}));
    RETURN_IF_ERROR(redis::ReplyStatus(members));
    if (members.elements.empty()) return cases;
    std::vector<std::vector<std::string>> gets;
    for (const auto& m : members.elements) {
      gets.push_back({"HGET", CaseKey(m.str.substr(m.str.find('|') + 1)), "pb"});
    }
    ASSIGN_OR_RETURN(std::vector<redis::Reply> blobs, redis_.Pipeline(gets));
    for (const redis::Reply& blob : blobs) {
      Case c;
      if (blob.is_nil() || !c.ParseFromString(blob.str)) continue;
      // What no figure needs, and what would make a year of cases large.
      c.mutable_draft()->clear_description();
      c.mutable_draft()->clear_attachments();
      c.mutable_draft()->mutable_reporter()->clear_sealed();
      if (static_cast<int64_t>(cases.size()) >= limit) {
        return absl::ResourceExhaustedError(
            absl::StrCat("more than ", limit, " cases in the period: ask for a shorter one"));
      }
      cases.push_back(std::move(c));
    }
    if (static_cast<int>(members.elements.size()) < kBatch) return cases;
    min = absl::StrCat("(", members.elements.back().str);
  }
}

}  // namespace meldpunt::intake
