#include "services/intake/retention.h"

#include <optional>

#include "absl/strings/str_cat.h"
#include "libs/observability/log.h"
#include "libs/observability/thread_name.h"
#include "libs/status/status_macros.h"

namespace meldpunt::intake {

absl::Status RedisRetentionIndex::Remove(const std::string& case_id) {
  ASSIGN_OR_RETURN(redis::Reply reply, redis_.Command({"ZREM", kRetentionIndexKey, case_id}));
  return redis::ReplyStatus(reply);
}

absl::StatusOr<std::vector<std::string>> RedisRetentionIndex::Due(absl::Time now, int limit) {
  ASSIGN_OR_RETURN(redis::Reply due, redis_.Command({"ZRANGEBYSCORE", kRetentionIndexKey, "-inf",
                                                     absl::StrCat(absl::ToUnixMillis(now)), "LIMIT",
                                                     "0", absl::StrCat(limit)}));
  RETURN_IF_ERROR(redis::ReplyStatus(due));
  std::vector<std::string> ids;
  ids.reserve(due.elements.size());
  for (const redis::Reply& id : due.elements) ids.push_back(id.str);
  return ids;
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
