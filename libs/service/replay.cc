#include "libs/service/replay.h"

#include <map>

#include "absl/time/clock.h"
#include "libs/events/ids.h"
#include "libs/events/topics.h"
#include "libs/service/wiring.h"
#include "libs/status/status_macros.h"

namespace meldpunt::service {

absl::StatusOr<int64_t> ReplayCaseLog(
    const config::ServiceConfig& config, const std::string& group_prefix, absl::Duration timeout,
    const std::function<absl::Status(const events::Envelope&, const kafka::Record&)>& handle) {
  const absl::Time deadline = absl::Now() + timeout;
  ASSIGN_OR_RETURN(auto reader,
                   MakeCaseEventConsumer(config, events::RandomId(group_prefix), group_prefix));
  // Right after the topic was created its partitions may still lack a leader: wait for them.
  std::map<int32_t, int64_t> remaining;  // partition -> high watermark still to reach
  RETURN_IF_ERROR(
      RetryUntilAvailable("kafka partition leaders", config.startup_timeout, [&]() -> absl::Status {
        remaining.clear();
        ASSIGN_OR_RETURN(int partitions,
                         reader->PartitionCount(events::kCaseEventsTopic, absl::Seconds(10)));
        for (int32_t p = 0; p < partitions; ++p) {
          ASSIGN_OR_RETURN(int64_t high,
                           reader->HighWatermark(events::kCaseEventsTopic, p, absl::Seconds(10)));
          if (high > 0) remaining[p] = high;
        }
        return absl::OkStatus();
      }));
  int64_t records = 0;
  while (!remaining.empty()) {
    if (absl::Now() > deadline)
      return absl::DeadlineExceededError("the replay did not reach the end of the log");
    ASSIGN_OR_RETURN(std::optional<kafka::Record> record, reader->Poll(absl::Milliseconds(200)));
    if (!record) continue;
    if (absl::StatusOr<events::Envelope> envelope = events::Decode(record->value); envelope.ok()) {
      absl::Status handled = handle(*envelope, *record);
      while (!handled.ok() && absl::Now() < deadline) {
        absl::SleepFor(absl::Milliseconds(100));
        handled = handle(*envelope, *record);
      }
      RETURN_IF_ERROR(handled);
    }
    ++records;
    auto it = remaining.find(record->partition);
    if (it != remaining.end() && record->offset + 1 >= it->second) remaining.erase(it);
  }
  reader->Close();
  return records;
}

}  // namespace meldpunt::service
