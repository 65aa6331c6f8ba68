#include "services/intake/case_store.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "libs/domain/case_state.h"
#include "libs/status/status_macros.h"

namespace meldpunt::intake {
namespace {

// KEYS: case hash, event id set, history list. ARGV: event id, expected ver, new pb, new ver,
// envelope.
constexpr char kCasLua[] = R"lua(
if redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 1 then return 'DUP' end
local ver = redis.call('HGET', KEYS[1], 'ver')
if (ver or '0') ~= ARGV[2] then return 'CONFLICT' end
redis.call('HSET', KEYS[1], 'pb', ARGV[3], 'ver', ARGV[4])
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('RPUSH', KEYS[3], ARGV[5])
return 'OK'
)lua";

constexpr int kMaxCasAttempts = 20;

}  // namespace

redis::Script RedisCaseStore::CasScript() { return {"case_cas", kCasLua}; }

std::string RedisCaseStore::CaseKey(const std::string& case_id) {
  return absl::StrCat("mp:case:{", case_id, "}");
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

absl::StatusOr<ApplyOutcome> RedisCaseStore::Apply(const events::Envelope& envelope) {
  const std::string key = CaseKey(envelope.case_id());
  const std::string events_key = key + ":events";
  const std::string history_key = key + ":history";
  const std::string encoded = events::Encode(envelope);
  for (int attempt = 0; attempt < kMaxCasAttempts; ++attempt) {
    ASSIGN_OR_RETURN(std::vector<redis::Reply> replies,
                     redis_.Pipeline({{"HMGET", key, "pb", "ver"},
                                      {"SISMEMBER", events_key, envelope.event_id()}}));
    RETURN_IF_ERROR(redis::ReplyStatus(replies[0]));
    if (replies[1].integer == 1) return ApplyOutcome::kDuplicate;
    Case current;
    std::string version = "0";
    if (replies[0].elements.size() == 2 && !replies[0].elements[0].is_nil()) {
      if (!current.ParseFromString(replies[0].elements[0].str)) {
        return absl::DataLossError(
            absl::StrCat("projection of ", envelope.case_id(), " is corrupt"));
      }
      version = replies[0].elements[1].str;
    }
    Case next = current;
    RETURN_IF_ERROR(domain::Apply(next, envelope));
    int64_t next_version = 0;
    if (!absl::SimpleAtoi(version, &next_version)) next_version = 0;
    ++next_version;
    ASSIGN_OR_RETURN(redis::Reply result,
                     redis_.Script("case_cas", {key, events_key, history_key},
                                   {envelope.event_id(), version, next.SerializeAsString(),
                                    absl::StrCat(next_version), encoded}));
    RETURN_IF_ERROR(redis::ReplyStatus(result));
    if (result.str == "OK") return ApplyOutcome::kApplied;
    if (result.str == "DUP") return ApplyOutcome::kDuplicate;
    // CONFLICT: another writer folded an event meanwhile; read again and retry.
  }
  return absl::AbortedError(
      absl::StrCat("case ", envelope.case_id(), ": too many concurrent updates"));
}

}  // namespace meldpunt::intake
