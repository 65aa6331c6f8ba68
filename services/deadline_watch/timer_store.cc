#include "services/deadline_watch/timer_store.h"

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "libs/events/codec.h"
#include "libs/redis/lease_queue.h"
#include "libs/status/status_macros.h"

namespace meldpunt::deadline {
namespace {

std::string ClockKey(const std::string& case_id) {
  return absl::StrCat("mp:clock:{", case_id, "}");
}
constexpr char kDeadlinesKey[] = "mp:deadlines";

}  // namespace

std::string Timer::Member() const {
  return absl::StrCat(case_id, "|", clock, "|", generation, "|", kind, "|", permille, "|", due_ms,
                      "|", fire_ms);
}

std::optional<Timer> Timer::Parse(const std::string& member) {
  std::vector<std::string> parts = absl::StrSplit(member, '|');
  if (parts.size() != 7) return std::nullopt;
  Timer t;
  t.case_id = parts[0];
  t.clock = parts[1];
  t.kind = parts[3];
  if (!absl::SimpleAtoi(parts[2], &t.generation) || !absl::SimpleAtoi(parts[4], &t.permille) ||
      !absl::SimpleAtoi(parts[5], &t.due_ms) || !absl::SimpleAtoi(parts[6], &t.fire_ms)) {
    return std::nullopt;
  }
  return t;
}

redis::Script RedisTimerStore::ClaimScript() { return redis::LeaseClaimScript(); }
std::string RedisTimerStore::TimersKey(int32_t p) { return absl::StrCat("mp:{p", p, "}:timers"); }
std::string RedisTimerStore::InflightKey(int32_t p) {
  return absl::StrCat("mp:{p", p, "}:inflight");
}

namespace {

using Commands = std::vector<std::vector<std::string>>;

void ScheduleCommands(int32_t partition, const std::vector<Timer>& timers, Commands& commands) {
  if (timers.empty()) return;
  std::vector<std::string> command = {"ZADD", RedisTimerStore::TimersKey(partition)};
  for (const Timer& t : timers) {
    command.push_back(absl::StrCat(t.fire_ms));
    command.push_back(t.Member());
  }
  commands.push_back(std::move(command));
}

// Only from the pending timers: one in flight is completed by its firer (a stale firing, or one
// its record holds as fired, appends nothing), or comes back after its lease and is dropped then.
void CancelCommands(int32_t partition, const std::vector<Timer>& timers, Commands& commands) {
  if (timers.empty()) return;
  std::vector<std::string> timers_cmd = {"ZREM", RedisTimerStore::TimersKey(partition)};
  for (const Timer& t : timers) timers_cmd.push_back(t.Member());
  commands.push_back(std::move(timers_cmd));
}

// Sends `commands` in one pipeline; the first error reply is the result.
absl::Status Send(redis::Client& redis, const Commands& commands) {
  if (commands.empty()) return absl::OkStatus();
  ASSIGN_OR_RETURN(std::vector<redis::Reply> replies, redis.Pipeline(commands));
  for (const auto& r : replies) RETURN_IF_ERROR(redis::ReplyStatus(r));
  return absl::OkStatus();
}

}  // namespace

absl::Status RedisTimerStore::Schedule(int32_t partition, const std::vector<Timer>& timers) {
  Commands commands;
  ScheduleCommands(partition, timers, commands);
  return Send(redis_, commands);
}

absl::Status RedisTimerStore::Cancel(int32_t partition, const std::vector<Timer>& timers) {
  Commands commands;
  CancelCommands(partition, timers, commands);
  return Send(redis_, commands);
}

absl::StatusOr<std::vector<Timer>> RedisTimerStore::ClaimDue(int32_t partition, absl::Time now,
                                                             absl::Duration lease, int limit) {
  ASSIGN_OR_RETURN(
      std::vector<std::string> members,
      redis::ClaimLeased(redis_, TimersKey(partition), InflightKey(partition), now, lease, limit));
  std::vector<Timer> out;
  for (const std::string& member : members) {
    std::optional<Timer> t = Timer::Parse(member);
    if (t) {
      out.push_back(*t);
    } else {
      // Unreadable member: drop it so it cannot block the partition forever.
      (void)redis_.Command({"ZREM", InflightKey(partition), member});
    }
  }
  return out;
}

absl::Status RedisTimerStore::Complete(int32_t partition, const std::vector<Timer>& timers) {
  if (timers.empty()) return absl::OkStatus();
  std::vector<std::string> command = {"ZREM", InflightKey(partition)};
  for (const Timer& t : timers) command.push_back(t.Member());
  ASSIGN_OR_RETURN(redis::Reply reply, redis_.Command(command));
  return redis::ReplyStatus(reply);
}

absl::StatusOr<TimerStore::CaseRecord> TimerStore::Load(const std::string& case_id) {
  CaseRecord record;
  ASSIGN_OR_RETURN(record.facts, Facts(case_id));
  ASSIGN_OR_RETURN(record.clocks, Clocks(case_id));
  return record;
}

absl::Status TimerStore::PutClocks(const std::vector<v1::Clock>& clocks) {
  for (const v1::Clock& clock : clocks) RETURN_IF_ERROR(PutClock(clock));
  return absl::OkStatus();
}

absl::StatusOr<std::map<std::string, TimerStore::CaseRecord>> TimerStore::LoadAll(
    const std::vector<std::string>& case_ids) {
  std::map<std::string, CaseRecord> out;
  for (const std::string& id : case_ids) {
    if (out.count(id)) continue;
    ASSIGN_OR_RETURN(out[id], Load(id));
  }
  return out;
}

absl::Status TimerStore::WriteAll(const std::vector<Write>& writes) {
  for (const Write& w : writes) {
    switch (w.kind) {
      case Write::Kind::kSchedule:
        RETURN_IF_ERROR(Schedule(w.partition, w.timers));
        break;
      case Write::Kind::kCancel:
        RETURN_IF_ERROR(Cancel(w.partition, w.timers));
        break;
      case Write::Kind::kFacts:
        RETURN_IF_ERROR(PutFacts(w.case_id, w.facts));
        break;
      case Write::Kind::kClocks:
        RETURN_IF_ERROR(PutClocks(w.clocks));
        break;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::map<std::string, std::vector<v1::Clock>>> TimerStore::ClocksOf(
    const std::vector<std::string>& case_ids) {
  std::map<std::string, std::vector<v1::Clock>> out;
  for (const std::string& id : case_ids) {
    if (out.count(id)) continue;
    ASSIGN_OR_RETURN(out[id], Clocks(id));
  }
  return out;
}

namespace {
std::vector<v1::Clock> ParseClocks(const redis::Reply& reply) {
  std::vector<v1::Clock> out;
  for (size_t i = 0; i + 1 < reply.elements.size(); i += 2) {
    if (absl::StartsWith(reply.elements[i].str, "_")) continue;  // _facts
    v1::Clock clock;
    if (clock.ParseFromString(reply.elements[i + 1].str)) out.push_back(std::move(clock));
  }
  return out;
}
constexpr char kFactsField[] = "_facts";
}  // namespace

absl::StatusOr<std::vector<v1::Clock>> RedisTimerStore::Clocks(const std::string& case_id) {
  ASSIGN_OR_RETURN(redis::Reply reply, redis_.Command({"HGETALL", ClockKey(case_id)}));
  RETURN_IF_ERROR(redis::ReplyStatus(reply));
  return ParseClocks(reply);
}

absl::StatusOr<std::map<std::string, std::vector<v1::Clock>>> RedisTimerStore::ClocksOf(
    const std::vector<std::string>& case_ids) {
  ASSIGN_OR_RETURN(auto records, LoadAll(case_ids));  // one pipeline of HGETALL
  std::map<std::string, std::vector<v1::Clock>> out;
  for (auto& [id, record] : records) out[id] = std::move(record.clocks);
  return out;
}

namespace {
std::optional<CaseFacts> ParseFacts(const std::string& text) {
  // kind|priority|department|category (the category last: it is free text); the priority ends in
  // "t" when the team set it.
  std::vector<std::string> parts = absl::StrSplit(text, absl::MaxSplits('|', 3));
  if (parts.size() != 4) return std::nullopt;
  CaseFacts facts;
  absl::string_view priority_text = parts[1];
  if (absl::ConsumeSuffix(&priority_text, "t")) facts.priority_by_team = true;
  int kind = 0, priority = 0;
  if (!absl::SimpleAtoi(parts[0], &kind) || !absl::SimpleAtoi(priority_text, &priority)) {
    return std::nullopt;
  }
  facts.kind = static_cast<types::v1::CaseKind>(kind);
  facts.priority = static_cast<types::v1::Priority>(priority);
  facts.department = parts[2];
  facts.category = parts[3];
  return facts;
}
}  // namespace

absl::StatusOr<std::optional<CaseFacts>> RedisTimerStore::Facts(const std::string& case_id) {
  ASSIGN_OR_RETURN(redis::Reply reply, redis_.Command({"HGET", ClockKey(case_id), kFactsField}));
  RETURN_IF_ERROR(redis::ReplyStatus(reply));
  if (reply.is_nil()) return std::nullopt;
  return ParseFacts(reply.str);
}

absl::StatusOr<TimerStore::CaseRecord> RedisTimerStore::Load(const std::string& case_id) {
  ASSIGN_OR_RETURN(redis::Reply reply, redis_.Command({"HGETALL", ClockKey(case_id)}));
  RETURN_IF_ERROR(redis::ReplyStatus(reply));
  CaseRecord record;
  record.clocks = ParseClocks(reply);
  for (size_t i = 0; i + 1 < reply.elements.size(); i += 2) {
    if (reply.elements[i].str == kFactsField) record.facts = ParseFacts(reply.elements[i + 1].str);
  }
  return record;
}

absl::StatusOr<std::map<std::string, TimerStore::CaseRecord>> RedisTimerStore::LoadAll(
    const std::vector<std::string>& case_ids) {
  std::map<std::string, CaseRecord> out;
  std::vector<std::string> unique;
  Commands commands;
  for (const std::string& id : case_ids) {
    if (!out.emplace(id, CaseRecord()).second) continue;
    unique.push_back(id);
    commands.push_back({"HGETALL", ClockKey(id)});
  }
  if (commands.empty()) return out;
  ASSIGN_OR_RETURN(std::vector<redis::Reply> replies, redis_.Pipeline(commands));
  for (size_t i = 0; i < replies.size(); ++i) {
    RETURN_IF_ERROR(redis::ReplyStatus(replies[i]));
    CaseRecord& record = out[unique[i]];
    record.clocks = ParseClocks(replies[i]);
    for (size_t f = 0; f + 1 < replies[i].elements.size(); f += 2) {
      if (replies[i].elements[f].str == kFactsField)
        record.facts = ParseFacts(replies[i].elements[f + 1].str);
    }
  }
  return out;
}

namespace {
std::vector<std::string> FactsCommand(const std::string& case_id, const CaseFacts& facts) {
  return {"HSET", ClockKey(case_id), kFactsField,
          absl::StrCat(static_cast<int>(facts.kind), "|", static_cast<int>(facts.priority),
                       facts.priority_by_team ? "t|" : "|", facts.department, "|", facts.category)};
}
}  // namespace

absl::Status RedisTimerStore::PutFacts(const std::string& case_id, const CaseFacts& facts) {
  return Send(redis_, {FactsCommand(case_id, facts)});
}

absl::StatusOr<ClockCounts> RedisTimerStore::Counts(absl::Time now, absl::Duration ahead) {
  ASSIGN_OR_RETURN(std::vector<redis::Reply> replies,
                   redis_.Pipeline({{"ZCARD", kDeadlinesKey},
                                    {"ZCOUNT", kDeadlinesKey, absl::StrCat(absl::ToUnixMillis(now)),
                                     absl::StrCat(absl::ToUnixMillis(now + ahead))}}));
  for (const auto& r : replies) RETURN_IF_ERROR(redis::ReplyStatus(r));
  return ClockCounts{replies[0].integer, replies[1].integer};
}

void ClockCommands(const std::vector<v1::Clock>& clocks, Commands& commands) {
  std::vector<std::string> add = {"ZADD", kDeadlinesKey};
  std::vector<std::string> remove = {"ZREM", kDeadlinesKey};
  absl::flat_hash_map<std::string, size_t> last;  // each member's last clock in `clocks`
  for (size_t i = 0; i < clocks.size(); ++i)
    last[absl::StrCat(clocks[i].case_id(), "|", clocks[i].name())] = i;
  for (size_t i = 0; i < clocks.size(); ++i) {
    const v1::Clock& clock = clocks[i];
    std::string member = absl::StrCat(clock.case_id(), "|", clock.name());
    if (last.at(member) != i) continue;
    if (clock.status() == v1::STOPPED) {
      remove.push_back(std::move(member));
    } else {
      add.push_back(absl::StrCat(absl::ToUnixMillis(events::GetTime(clock.due_at()))));
      add.push_back(std::move(member));
    }
  }
  if (remove.size() > 2) commands.push_back(std::move(remove));
  if (add.size() > 2) commands.push_back(std::move(add));
  for (const v1::Clock& clock : clocks) {
    commands.push_back(
        {"HSET", ClockKey(clock.case_id()), clock.name(), clock.SerializeAsString()});
  }
}

absl::Status RedisTimerStore::PutClock(const v1::Clock& clock) { return PutClocks({clock}); }

absl::Status RedisTimerStore::PutClocks(const std::vector<v1::Clock>& clocks) {
  Commands commands;
  ClockCommands(clocks, commands);
  return Send(redis_, commands);
}

// Only HSET writes a record in WriteAll's commands.
void OneWritePerRecord(Commands& commands) {
  absl::flat_hash_map<std::string, size_t> last;  // each record's last HSET in `commands`
  for (size_t i = 0; i < commands.size(); ++i) {
    if (commands[i].size() >= 4 && commands[i][0] == "HSET") last[commands[i][1]] = i;
  }
  absl::flat_hash_map<std::string, std::vector<std::string>> merged;  // the fields so far
  Commands out;
  out.reserve(commands.size());
  for (size_t i = 0; i < commands.size(); ++i) {
    std::vector<std::string>& command = commands[i];
    if (command.size() < 4 || command[0] != "HSET") {
      out.push_back(std::move(command));
      continue;
    }
    const std::string key = command[1];
    auto [at, first] = merged.try_emplace(key);
    std::vector<std::string>& fields = at->second;
    if (first) {
      fields = std::move(command);
    } else {
      for (size_t f = 2; f + 1 < command.size(); f += 2) {
        bool replaced = false;
        for (size_t g = 2; g + 1 < fields.size(); g += 2) {
          if (fields[g] == command[f]) {
            fields[g + 1] = std::move(command[f + 1]);
            replaced = true;
            break;
          }
        }
        if (!replaced) {
          fields.push_back(std::move(command[f]));
          fields.push_back(std::move(command[f + 1]));
        }
      }
    }
    if (last.at(key) == i) out.push_back(std::move(fields));
  }
  commands.swap(out);
}

absl::Status RedisTimerStore::WriteAll(const std::vector<Write>& writes) {
  Commands commands;
  for (const Write& w : writes) {
    switch (w.kind) {
      case Write::Kind::kSchedule:
        ScheduleCommands(w.partition, w.timers, commands);
        break;
      case Write::Kind::kCancel:
        CancelCommands(w.partition, w.timers, commands);
        break;
      case Write::Kind::kFacts:
        commands.push_back(FactsCommand(w.case_id, w.facts));
        break;
      case Write::Kind::kClocks:
        ClockCommands(w.clocks, commands);
        break;
    }
  }
  OneWritePerRecord(commands);
  return Send(redis_, commands);
}

absl::StatusOr<DeadlinePage> RedisTimerStore::ListDeadlines(const DeadlineQuery& query) {
  DeadlinePage page;
  std::string min = "-inf";
  std::string after_member;
  int64_t after_score = 0;
  if (!query.page_token.empty()) {
    const size_t bar = query.page_token.find('|');
    if (bar == std::string::npos ||
        !absl::SimpleAtoi(query.page_token.substr(0, bar), &after_score)) {
      return absl::InvalidArgumentError("page_token: not a token this service gave out");
    }
    after_member = query.page_token.substr(bar + 1);
    min = absl::StrCat(after_score);
  }
  const std::string max =
      query.due_before ? absl::StrCat("(", absl::ToUnixMillis(*query.due_before)) : "+inf";
  int64_t offset = 0;
  int examined = 0;
  std::string last_token;
  constexpr int kBatch = 200;
  constexpr int kBudget = 20000;
  while (static_cast<int>(page.clocks.size()) < query.page_size && examined < kBudget) {
    ASSIGN_OR_RETURN(redis::Reply entries,
                     redis_.Command({"ZRANGEBYSCORE", kDeadlinesKey, min, max, "WITHSCORES",
                                     "LIMIT", absl::StrCat(offset), absl::StrCat(kBatch)}));
    RETURN_IF_ERROR(redis::ReplyStatus(entries));
    if (entries.elements.empty()) return page;
    offset += static_cast<int64_t>(entries.elements.size() / 2);
    for (size_t i = 0; i + 1 < entries.elements.size(); i += 2) {
      const std::string& member = entries.elements[i].str;
      int64_t score = 0;
      absl::SimpleAtoi(entries.elements[i + 1].str, &score);
      // Entries up to the token's own were on earlier pages.
      if (!after_member.empty() && score == after_score && member <= after_member) continue;
      ++examined;
      last_token = absl::StrCat(score, "|", member);
      const size_t bar = member.find('|');
      if (bar == std::string::npos) continue;
      ASSIGN_OR_RETURN(redis::Reply blob, redis_.Command({"HGET", ClockKey(member.substr(0, bar)),
                                                          member.substr(bar + 1)}));
      v1::Clock clock;
      if (blob.is_nil() || !clock.ParseFromString(blob.str)) continue;
      if (query.breached_only && clock.status() != v1::BREACHED) continue;
      if (!query.department.empty() && clock.department() != query.department) continue;
      if (!query.kind.empty() && clock.kind() != query.kind) continue;
      page.clocks.push_back(std::move(clock));
      if (static_cast<int>(page.clocks.size()) == query.page_size) break;
    }
    if (static_cast<int>(entries.elements.size() / 2) < kBatch &&
        static_cast<int>(page.clocks.size()) < query.page_size) {
      return page;  // the end of the range
    }
  }
  page.next_page_token = last_token;
  return page;
}

absl::StatusOr<bool> RedisTimerStore::TryLockRebuild(const std::string& owner, absl::Duration ttl) {
  ASSIGN_OR_RETURN(redis::Reply reply,
                   redis_.Command({"SET", "mp:deadline:rebuilding", owner, "NX", "PX",
                                   absl::StrCat(absl::ToInt64Milliseconds(ttl))}));
  RETURN_IF_ERROR(redis::ReplyStatus(reply));
  return !reply.is_nil();
}

absl::Status RedisTimerStore::UnlockRebuild(const std::string& /*owner*/) {
  ASSIGN_OR_RETURN(redis::Reply reply, redis_.Command({"DEL", "mp:deadline:rebuilding"}));
  return redis::ReplyStatus(reply);
}

absl::StatusOr<bool> RedisTimerStore::RebuildRunning() {
  ASSIGN_OR_RETURN(redis::Reply reply, redis_.Command({"EXISTS", "mp:deadline:rebuilding"}));
  RETURN_IF_ERROR(redis::ReplyStatus(reply));
  return reply.integer == 1;
}

absl::StatusOr<bool> RedisTimerStore::Intact() {
  ASSIGN_OR_RETURN(redis::Reply reply, redis_.Command({"EXISTS", "mp:deadline:intact"}));
  RETURN_IF_ERROR(redis::ReplyStatus(reply));
  return reply.integer == 1;
}

absl::Status RedisTimerStore::MarkIntact() {
  ASSIGN_OR_RETURN(redis::Reply reply, redis_.Command({"SET", "mp:deadline:intact", "1"}));
  return redis::ReplyStatus(reply);
}

absl::Status RedisTimerStore::Clear() {
  return redis::DeleteMatching(redis_,
                               {"mp:clock:*", "mp:{p*}:timers", "mp:{p*}:inflight", "mp:deadlines"})
      .status();
}

}  // namespace meldpunt::deadline
