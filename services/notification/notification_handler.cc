#include "services/notification/notification_handler.h"

#include <optional>
#include <string>
#include <vector>

#include "libs/privacy/privacy.h"
#include "libs/status/status_macros.h"
#include "services/notification/buffered_delivery_store.h"

namespace meldpunt::notification {

absl::Status NotificationHandler::Handle(const events::Envelope& e, const kafka::Record& r) {
  RETURN_IF_ERROR(gate_.Open());
  return logic_.Handle(e, r.partition);
}

void NotificationHandler::Handle(events::Batch& batch) {
  if (batch.size() == 0) return;
  if (absl::Status open = gate_.Open(); !open.ok()) return batch.Fail(0, open);
  BufferedDeliveryStore buffered(logic_.store());
  std::vector<std::string> case_ids;
  case_ids.reserve(batch.size());
  // Only the cases of the events that read or write them (of a case's seven records, its
  // submission and its routing): a clock event or a delivery needs nothing of the store.
  for (size_t i = 0; i < batch.size(); ++i) {
    if (NotificationLogic::ReadsCase(batch.envelope(i)))
      case_ids.push_back(batch.envelope(i).case_id());
  }
  if (absl::Status read = buffered.Prefetch(case_ids); !read.ok()) return batch.Fail(0, read);
  // Their data keys too, in one more round trip: a letter to the reporter opens and seals with
  // them.
  std::optional<privacy::BatchKeys> keys;
  if (logic_.keys() != nullptr) {
    keys.emplace(*logic_.keys());
    if (absl::Status read = keys->Prefetch(case_ids); !read.ok()) return batch.Fail(0, read);
  }
  size_t done = 0;
  absl::Status failed;
  for (; done < batch.size(); ++done) {
    const events::Envelope& e = batch.envelope(done);
    const int32_t partition = batch.record(done).partition;
    if (e.has_reporter_data_erased()) {
      // The erasure reads and rewrites the case's messages in the store itself: what the run
      // holds goes first, and what it held of the cases is read again after.
      absl::StatusOr<std::vector<v1::Job>> queued = buffered.Flush();
      if (!queued.ok()) return batch.Fail(0, queued.status());
      for (const v1::Job& job : *queued) LogQueued(job);
      failed = logic_.Handle(e, partition);
      buffered.Forget();
      if (keys) keys->Forget(e.case_id());
    } else {
      failed = logic_.Handle(e, partition, buffered, keys ? &*keys : nullptr);
    }
    if (!failed.ok()) break;
  }
  absl::StatusOr<std::vector<v1::Job>> queued = buffered.Flush();
  if (!queued.ok()) return batch.Fail(0, queued.status());
  for (const v1::Job& job : *queued) LogQueued(job);
  if (done < batch.size()) batch.Fail(done, failed);
}

}  // namespace meldpunt::notification
