#include "libs/redis/lease_queue.h"

#include "absl/strings/str_cat.h"
#include "libs/status/status_macros.h"

namespace meldpunt::redis {
namespace {

// KEYS: due, inflight. ARGV: now ms, lease ms, limit. Returns the claimed members.
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

}  // namespace

Script LeaseClaimScript() { return {"lease_claim", kClaimLua}; }

absl::StatusOr<std::vector<std::string>> ClaimLeased(Client& client, const std::string& due_key,
                                                     const std::string& inflight_key,
                                                     absl::Time now, absl::Duration lease,
                                                     int limit) {
  ASSIGN_OR_RETURN(auto claimed,
                   ClaimLeasedMany(client, {{due_key, inflight_key, limit}}, now, lease));
  return std::move(claimed[0]);
}

absl::StatusOr<std::vector<absl::StatusOr<std::vector<std::string>>>> ClaimLeasedMany(
    Client& client, const std::vector<LeaseClaim>& claims, absl::Time now, absl::Duration lease) {
  std::vector<absl::StatusOr<std::vector<std::string>>> out;
  if (claims.empty()) return out;
  const std::string now_ms = absl::StrCat(absl::ToUnixMillis(now));
  const std::string lease_ms = absl::StrCat(absl::ToInt64Milliseconds(lease));
  std::vector<ScriptCall> calls;
  calls.reserve(claims.size());
  for (const LeaseClaim& c : claims) {
    calls.push_back(
        {"lease_claim", {c.due_key, c.inflight_key}, {now_ms, lease_ms, absl::StrCat(c.limit)}});
  }
  ASSIGN_OR_RETURN(std::vector<Reply> replies, client.Scripts(calls));
  out.reserve(replies.size());
  for (Reply& reply : replies) {
    if (absl::Status status = ReplyStatus(reply); !status.ok()) {
      out.push_back(status);
      continue;
    }
    std::vector<std::string> members;
    members.reserve(reply.elements.size());
    for (Reply& member : reply.elements) members.push_back(std::move(member.str));
    out.push_back(std::move(members));
  }
  return out;
}

}  // namespace meldpunt::redis
