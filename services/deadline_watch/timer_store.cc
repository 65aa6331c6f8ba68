#include "services/deadline_watch/timer_store.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "libs/events/codec.h"
#include "libs/status/status_macros.h"

namespace meldpunt::deadline {
namespace {

// KEYS: timers, inflight. ARGV: now ms, lease ms, limit. Returns the claimed members.
constexpr char kClaimLua[] = R"lua(
local now = tonumber(ARGV[1])
local lease_until = now + tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
local out = {}
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, limit)
for _, m in ipairs(expired) do
  redis.call('ZADD', KEYS[2], lease_until, m)
  out[#out + 1] = m
end
local room = limit - #out
if room > 0 then
  local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, room)
  for _, m in ipairs(due) do
    redis.call('ZREM', KEYS[1], m)
    redis.call('ZADD', KEYS[2], lease_until, m)
    out[#out + 1] = m
  end
end
return out
)lua";

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

redis::Script RedisTimerStore::ClaimScript() { return {"timer_claim", kClaimLua}; }
std::string RedisTimerStore::TimersKey(int32_t p) { return absl::StrCat("mp:{p", p, "}:timers"); }
std::string RedisTimerStore::InflightKey(int32_t p) {
  return absl::StrCat("mp:{p", p, "}:inflight");
}

absl::Status RedisTimerStore::Schedule(int32_t partition, const std::vector<Timer>& timers) {
  if (timers.empty()) return absl::OkStatus();
  std::vector<std::string> command = {"ZADD", TimersKey(partition)};
  for (const Timer& t : timers) {
    command.push_back(absl::StrCat(t.fire_ms));
    command.push_back(t.Member());
  }
  ASSIGN_OR_RETURN(redis::Reply reply, redis_.Command(command));
  return redis::ReplyStatus(reply);
}

absl::Status RedisTimerStore::Cancel(int32_t partition, const std::vector<Timer>& timers) {
  if (timers.empty()) return absl::OkStatus();
  std::vector<std::string> timers_cmd = {"ZREM", TimersKey(partition)};
  std::vector<std::string> inflight_cmd = {"ZREM", InflightKey(partition)};
  for (const Timer& t : timers) {
    timers_cmd.push_back(t.Member());
    inflight_cmd.push_back(t.Member());
  }
  ASSIGN_OR_RETURN(std::vector<redis::Reply> replies, redis_.Pipeline({timers_cmd, inflight_cmd}));
  for (const auto& r : replies) RETURN_IF_ERROR(redis::ReplyStatus(r));
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Timer>> RedisTimerStore::ClaimDue(int32_t partition, absl::Time now,
                                                             absl::Duration lease, int limit) {
  ASSIGN_OR_RETURN(
      redis::Reply reply,
      redis_.Script("timer_claim", {TimersKey(partition), InflightKey(partition)},
                    {absl::StrCat(absl::ToUnixMillis(now)),
                     absl::StrCat(absl::ToInt64Milliseconds(lease)), absl::StrCat(limit)}));
  RETURN_IF_ERROR(redis::ReplyStatus(reply));
  std::vector<Timer> out;
  for (const redis::Reply& member : reply.elements) {
    std::optional<Timer> t = Timer::Parse(member.str);
    if (t) {
      out.push_back(*t);
    } else {
      // Unreadable member: drop it so it cannot block the partition forever.
      (void)redis_.Command({"ZREM", InflightKey(partition), member.str});
    }
  }
  return out;
}

absl::Status RedisTimerStore::Complete(int32_t partition, const Timer& timer) {
  ASSIGN_OR_RETURN(redis::Reply reply,
                   redis_.Command({"ZREM", InflightKey(partition), timer.Member()}));
  return redis::ReplyStatus(reply);
}

absl::StatusOr<std::vector<v1::Clock>> RedisTimerStore::Clocks(const std::string& case_id) {
  ASSIGN_OR_RETURN(redis::Reply reply, redis_.Command({"HGETALL", ClockKey(case_id)}));
  RETURN_IF_ERROR(redis::ReplyStatus(reply));
  std::vector<v1::Clock> out;
  for (size_t i = 1; i < reply.elements.size(); i += 2) {
    v1::Clock clock;
    if (clock.ParseFromString(reply.elements[i].str)) out.push_back(std::move(clock));
  }
  return out;
}

absl::Status RedisTimerStore::PutClock(const v1::Clock& clock) {
  const std::string member = absl::StrCat(clock.case_id(), "|", clock.name());
  std::vector<std::vector<std::string>> commands = {
      {"HSET", ClockKey(clock.case_id()), clock.name(), clock.SerializeAsString()}};
  if (clock.status() == v1::STOPPED) {
    commands.push_back({"ZREM", kDeadlinesKey, member});
  } else {
    commands.push_back({"ZADD", kDeadlinesKey,
                        absl::StrCat(absl::ToUnixMillis(events::GetTime(clock.due_at()))), member});
  }
  ASSIGN_OR_RETURN(std::vector<redis::Reply> replies, redis_.Pipeline(commands));
  for (const auto& r : replies) RETURN_IF_ERROR(redis::ReplyStatus(r));
  return absl::OkStatus();
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
  for (const char* pattern : {"mp:clock:*", "mp:{p*}:timers", "mp:{p*}:inflight", "mp:deadlines"}) {
    ASSIGN_OR_RETURN(int64_t removed, redis::DeleteMatching(redis_, pattern));
    (void)removed;
  }
  return absl::OkStatus();
}

}  // namespace meldpunt::deadline
