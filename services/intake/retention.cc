#include "services/intake/retention.h"

#include <optional>

#include "absl/strings/str_cat.h"
#include "libs/domain/case_state.h"
#include "libs/observability/log.h"
#include "libs/observability/thread_name.h"
#include "libs/status/status_macros.h"

namespace meldpunt::intake {

// One command, as Apply writes it.
absl::Status RedisRetentionIndex::Add(const std::string& case_id, absl::Time due) {
  return Apply({{case_id, due}});
}

absl::Status RedisRetentionIndex::Remove(const std::string& case_id) {
  return Apply({{case_id, std::nullopt}});
}

absl::Status RetentionIndex::Apply(const std::vector<RetentionChange>& changes) {
  for (const RetentionChange& change : changes) {
    RETURN_IF_ERROR(change.due ? Add(change.case_id, *change.due) : Remove(change.case_id));
  }
  return absl::OkStatus();
}

absl::Status RedisRetentionIndex::Apply(const std::vector<RetentionChange>& changes) {
  if (changes.empty()) return absl::OkStatus();
  std::vector<std::vector<std::string>> commands;
  commands.reserve(changes.size());
  for (const RetentionChange& change : changes) {
    if (change.due) {
      // NX: the term runs from the closing, not from later events (deliveries) on the closed case.
      commands.push_back(
          {"ZADD", kKey, "NX", absl::StrCat(absl::ToUnixMillis(*change.due)), change.case_id});
    } else {
      commands.push_back({"ZREM", kKey, change.case_id});
    }
  }
  ASSIGN_OR_RETURN(std::vector<redis::Reply> replies, redis_.Pipeline(commands));
  for (const redis::Reply& reply : replies) RETURN_IF_ERROR(redis::ReplyStatus(reply));
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> RedisRetentionIndex::Due(absl::Time now, int limit) {
  ASSIGN_OR_RETURN(redis::Reply due, redis_.Command({"ZRANGEBYSCORE", kKey, "-inf",
                                                     absl::StrCat(absl::ToUnixMillis(now)), "LIMIT",
                                                     "0", absl::StrCat(limit)}));
  RETURN_IF_ERROR(redis::ReplyStatus(due));
  std::vector<std::string> ids;
  ids.reserve(due.elements.size());
  for (const redis::Reply& id : due.elements) ids.push_back(id.str);
  return ids;
}

absl::Status RetentionJob::Track(const events::Envelope& envelope, const Case& folded) {
  return TrackAll({{&envelope, &folded}});
}

absl::Status RetentionJob::TrackAll(const std::vector<Folded>& folded) {
  std::vector<RetentionChange> changes;
  for (const auto& [envelope, after] : folded) {
    if (envelope->has_case_reopened() || envelope->has_reporter_data_erased()) {
      changes.push_back({after->case_id(), std::nullopt});
      continue;
    }
    const types::v1::Reporter& reporter = after->draft().reporter();
    if (domain::IsOpen(after->state()) || reporter.sealed().empty() || reporter.erased()) continue;
    changes.push_back(
        {after->case_id(), events::GetTime(after->updated_at()) +
                               options_.term(types::v1::CaseKind_Name(after->draft().kind()))});
  }
  if (changes.empty()) return absl::OkStatus();
  return index_.Apply(changes);
}

absl::StatusOr<int64_t> RetentionJob::EraseDue(absl::Time now) {
  if (options_.intact) {
    // A case the projection does not hold would count as gone, and leave the index unerased.
    ASSIGN_OR_RETURN(const bool intact, options_.intact());
    if (!intact) return 0;
  }
  int64_t erased = 0;
  for (;;) {
    ASSIGN_OR_RETURN(std::vector<std::string> due, index_.Due(now, 100));
    if (due.empty()) return erased;
    for (const std::string& id : due) {
      ASSIGN_OR_RETURN(std::optional<Case> c, store_.Get(id));
      v1::EraseReporterDataRequest request;
      request.set_case_id(id);
      request.set_command_id("retention");
      request.mutable_actor()->set_id("service:retention");
      request.set_reason(
          absl::StrCat("retention: ", c ? types::v1::CaseKind_Name(c->draft().kind()) : "case",
                       " closed longer ago than its term"));
      ASSIGN_OR_RETURN(Command command, EraseCommand(request));
      absl::StatusOr<CommandResult> result =
          c ? erase_(command, absl::Now() + options_.produce_timeout)
            : absl::StatusOr<CommandResult>(absl::NotFoundError("gone"));
      if (!result.ok() && !absl::IsNotFound(result.status())) return result.status();
      if (result.ok()) ++erased;
      RETURN_IF_ERROR(index_.Remove(id));
    }
  }
}

void RetentionJob::Start() {
  thread_ = std::thread([this] {
    observability::NameThread("mp-retention");
    while (!stopping_.WaitForNotificationWithTimeout(options_.interval)) {
      absl::StatusOr<int64_t> erased = EraseDue(clock_.Now());
      if (!erased.ok()) {
        log::Warning("retention pass failed; the next pass retries",
                     {{"error", erased.status().ToString()}});
      } else if (*erased > 0) {
        log::Info("retention: personal data erased", {{"cases", *erased}});
      }
    }
  });
}

void RetentionJob::Stop() {
  if (!stopping_.HasBeenNotified()) stopping_.Notify();
  if (thread_.joinable()) thread_.join();
}

}  // namespace meldpunt::intake
