#include "services/routing/route_store.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "libs/domain/disclosure.h"
#include "libs/status/status_macros.h"
#include "services/routing/routing_logic.h"

namespace meldpunt::routing {
namespace {
std::string StateKey(const std::string& case_id) {
  return absl::StrCat("mp:route:{", case_id, "}");
}
std::string GeoKey(const std::string& category) { return absl::StrCat("mp:geo:{", category, "}"); }
std::string DueKey(const std::string& department) {
  return absl::StrCat("mp:due:{", department, "}");
}
// Open with a department (assigned or not): in the department's due set.
bool WithDepartment(const v1::RouteState& state) {
  return !state.department().empty() && !state.closed();
}
constexpr char kTriageKey[] = "mp:triage";
// ZRANGE ... WITHSCORES as case -> due time (+inf: none).
std::map<std::string, std::optional<absl::Time>> ParseDue(const redis::Reply& reply) {
  std::map<std::string, std::optional<absl::Time>> out;
  const auto& scored = reply.elements;
  for (size_t i = 0; i + 1 < scored.size(); i += 2) {
    std::optional<absl::Time> due;
    double ms = 0;
    if (scored[i + 1].str != "inf" && absl::SimpleAtod(scored[i + 1].str, &ms)) {
      due = absl::FromUnixMillis(static_cast<int64_t>(ms));
    }
    out[scored[i].str] = due;
  }
  return out;
}
std::string DueScore(const v1::RouteState& state) {
  const std::optional<absl::Time> due = EarliestDue(state);
  return due ? absl::StrCat(absl::ToUnixMillis(*due)) : "+inf";
}
std::string OpenKey(const std::string& department, const std::string& member) {
  return absl::StrCat("mp:open:{", department, "}:", member);
}
// A coordinate or a distance for Redis GEO. Not absl::StrCat(double): its 6 significant digits
// round 51.054321 to 51.0543, up to 11 m off, where the geohash Redis keeps (52 bits) is well
// under a metre. "%.17g" gives the double back exactly.
std::string Number(double value) { return absl::StrFormat("%.17g", value); }
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

absl::StatusOr<std::vector<v1::RouteState>> RouteStore::LoadAll(
    const std::vector<std::string>& case_ids) {
  std::vector<v1::RouteState> states;
  for (const std::string& case_id : case_ids) {
    ASSIGN_OR_RETURN(v1::RouteState state, Load(case_id));
    states.push_back(std::move(state));
  }
  return states;
}

absl::StatusOr<std::vector<v1::RouteState>> RedisRouteStore::LoadAll(
    const std::vector<std::string>& case_ids) {
  if (case_ids.empty()) return std::vector<v1::RouteState>();
  std::vector<std::string> command = {"MGET"};
  for (const std::string& case_id : case_ids) command.push_back(StateKey(case_id));
  ASSIGN_OR_RETURN(redis::Reply reply, redis_.Command(command));
  RETURN_IF_ERROR(redis::ReplyStatus(reply));
  if (reply.elements.size() != case_ids.size()) {
    return absl::InternalError("redis: MGET answered another number of values");
  }
  std::vector<v1::RouteState> states(case_ids.size());
  for (size_t i = 0; i < case_ids.size(); ++i) {
    const redis::Reply& value = reply.elements[i];
    if (!value.is_nil() && !states[i].ParseFromString(value.str)) {
      return absl::DataLossError(absl::StrCat("routing state of ", case_ids[i], " is corrupt"));
    }
  }
  return states;
}

absl::Status RouteStore::SaveAll(const std::vector<Change>& changes, size_t* failed) {
  for (size_t i = 0; i < changes.size(); ++i) {
    if (absl::Status saved = Save(changes[i].case_id, changes[i].before, changes[i].after);
        !saved.ok()) {
      if (failed != nullptr) *failed = i;
      return saved;
    }
  }
  return absl::OkStatus();
}

absl::Status RedisRouteStore::Save(const std::string& case_id, const v1::RouteState& before,
                                   const v1::RouteState& after) {
  return SaveAll({Change{case_id, before, after}});
}

namespace {
// A case the duplicate index holds while it is open: a point, a category, not confidential.
bool Indexable(const v1::RouteState& s) {
  return s.draft().location().has_coordinates() && !s.draft().category().empty() &&
         !domain::IsConfidential(s.draft());
}
}  // namespace

bool EntersNearbyIndex(const v1::RouteState& before, const v1::RouteState& after) {
  return Indexable(after) && !after.closed() &&
         (before.draft().category().empty() || before.closed());
}

namespace {
// The commands of one save (RouteStore::Save).
void SaveCommands(const std::string& case_id, const v1::RouteState& before,
                  const v1::RouteState& after, std::vector<std::vector<std::string>>& commands) {
  commands.push_back({"SET", StateKey(case_id), after.SerializeAsString()});
  const bool was_open = !before.assignee().empty() && !before.closed();
  const bool is_open = !after.assignee().empty() && !after.closed();
  if (was_open && (!is_open || before.assignee() != after.assignee() ||
                   before.department() != after.department())) {
    commands.push_back({"SREM", OpenKey(before.department(), before.assignee()), case_id});
  }
  if (is_open) commands.push_back({"SADD", OpenKey(after.department(), after.assignee()), case_id});
  if (WithDepartment(before) &&
      (!WithDepartment(after) || before.department() != after.department())) {
    commands.push_back({"ZREM", DueKey(before.department()), case_id});
  }
  if (WithDepartment(after)) {
    commands.push_back({"ZADD", DueKey(after.department()), DueScore(after), case_id});
  }
  if (RoutingLogic::InTriage(after)) {
    commands.push_back({"ZADD", kTriageKey, DueScore(after), case_id});
  } else if (RoutingLogic::InTriage(before)) {
    commands.push_back({"ZREM", kTriageKey, case_id});
  }
  const auto& where = after.draft().location();
  if (EntersNearbyIndex(before, after)) {
    commands.push_back({"GEOADD", GeoKey(after.draft().category()), Number(where.longitude()),
                        Number(where.latitude()), case_id});
  } else if (Indexable(after) && after.closed() && !before.closed()) {
    commands.push_back({"ZREM", GeoKey(after.draft().category()), case_id});
  }
}
}  // namespace

absl::Status RedisRouteStore::SaveAll(const std::vector<Change>& changes, size_t* failed) {
  if (changes.empty()) return absl::OkStatus();
  if (failed != nullptr) *failed = 0;
  std::vector<std::vector<std::string>> commands;
  std::vector<size_t> change_of;  // the change each command belongs to
  for (size_t i = 0; i < changes.size(); ++i) {
    SaveCommands(changes[i].case_id, changes[i].before, changes[i].after, commands);
    change_of.resize(commands.size(), i);
  }
  ASSIGN_OR_RETURN(std::vector<redis::Reply> replies, redis_.Pipeline(commands));
  for (size_t k = 0; k < replies.size(); ++k) {
    if (absl::Status refused = redis::ReplyStatus(replies[k]); !refused.ok()) {
      // Redis applied the commands after it as well: a pipeline is not a transaction.
      if (failed != nullptr) *failed = change_of[k];
      return refused;
    }
  }
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

absl::StatusOr<DepartmentCases> RedisRouteStore::Workload(const std::string& department,
                                                          const std::vector<std::string>& members) {
  std::vector<std::vector<std::string>> commands = {
      {"ZRANGE", DueKey(department), "0", "-1", "WITHSCORES"}};
  for (const auto& m : members) commands.push_back({"SMEMBERS", OpenKey(department, m)});
  ASSIGN_OR_RETURN(std::vector<redis::Reply> replies, redis_.Pipeline(commands));
  for (const auto& r : replies) RETURN_IF_ERROR(redis::ReplyStatus(r));
  DepartmentCases out;
  out.due = ParseDue(replies[0]);
  for (size_t i = 0; i < members.size(); ++i) {
    std::vector<std::string>& cases = out.assigned[members[i]];
    for (const auto& e : replies[i + 1].elements) cases.push_back(e.str);
  }
  return out;
}

absl::StatusOr<std::map<std::string, std::optional<absl::Time>>> RedisRouteStore::Triage() {
  ASSIGN_OR_RETURN(redis::Reply reply,
                   redis_.Command({"ZRANGE", kTriageKey, "0", "-1", "WITHSCORES"}));
  RETURN_IF_ERROR(redis::ReplyStatus(reply));
  return ParseDue(reply);
}

absl::StatusOr<std::vector<std::pair<std::string, double>>> RedisRouteStore::Near(
    const std::string& category, double latitude, double longitude, double radius_m) {
  ASSIGN_OR_RETURN(redis::Reply reply,
                   redis_.Command({"GEOSEARCH", GeoKey(category), "FROMLONLAT", Number(longitude),
                                   Number(latitude), "BYRADIUS", Number(radius_m), "m", "ASC",
                                   "COUNT", "10", "WITHDIST"}));
  RETURN_IF_ERROR(redis::ReplyStatus(reply));
  std::vector<std::pair<std::string, double>> out;
  for (const auto& item : reply.elements) {
    if (item.elements.size() < 2) continue;
    double distance = 0;
    if (!absl::SimpleAtod(item.elements[1].str, &distance)) continue;
    out.emplace_back(item.elements[0].str, distance);
  }
  return out;
}

}  // namespace meldpunt::routing
