#include "services/routing/route_store.h"

#include "absl/strings/str_cat.h"
#include "libs/status/status_macros.h"

namespace meldpunt::routing {
namespace {
std::string StateKey(const std::string& case_id) {
  return absl::StrCat("mp:route:{", case_id, "}");
}
std::string OpenKey(const std::string& department, const std::string& member) {
  return absl::StrCat("mp:open:{", department, "}:", member);
}
}  // namespace

absl::StatusOr<v1::RouteState> RedisRouteStore::Load(const std::string& case_id) {
  ASSIGN_OR_RETURN(redis::Reply reply, redis_.Command({"GET", StateKey(case_id)}));
  RETURN_IF_ERROR(redis::ReplyStatus(reply));
  v1::RouteState state;
  if (!reply.is_nil() && !state.ParseFromString(reply.str)) {
    return absl::DataLossError(absl::StrCat("routing state of ", case_id, " is corrupt"));
  }
  return state;
}

absl::Status RedisRouteStore::Save(const std::string& case_id, const v1::RouteState& before,
                                   const v1::RouteState& after) {
  std::vector<std::vector<std::string>> commands = {
      {"SET", StateKey(case_id), after.SerializeAsString()}};
  const bool was_open = !before.assignee().empty() && !before.closed();
  const bool is_open = !after.assignee().empty() && !after.closed();
  if (was_open && (!is_open || before.assignee() != after.assignee() ||
                   before.department() != after.department())) {
    commands.push_back({"SREM", OpenKey(before.department(), before.assignee()), case_id});
  }
  if (is_open) commands.push_back({"SADD", OpenKey(after.department(), after.assignee()), case_id});
  ASSIGN_OR_RETURN(std::vector<redis::Reply> replies, redis_.Pipeline(commands));
  for (const auto& r : replies) RETURN_IF_ERROR(redis::ReplyStatus(r));
  return absl::OkStatus();
}

absl::StatusOr<std::map<std::string, int64_t>> RedisRouteStore::OpenCases(
    const std::string& department, const std::vector<std::string>& members) {
  std::map<std::string, int64_t> out;
  if (members.empty()) return out;
  std::vector<std::vector<std::string>> commands;
  for (const auto& m : members) commands.push_back({"SCARD", OpenKey(department, m)});
  ASSIGN_OR_RETURN(std::vector<redis::Reply> replies, redis_.Pipeline(commands));
  for (size_t i = 0; i < members.size(); ++i) {
    RETURN_IF_ERROR(redis::ReplyStatus(replies[i]));
    out[members[i]] = replies[i].integer;
  }
  return out;
}

}  // namespace meldpunt::routing
