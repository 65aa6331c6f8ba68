#include "services/notification/buffered_delivery_store.h"

#include "libs/status/status_macros.h"

namespace meldpunt::notification {

absl::Status BufferedDeliveryStore::Prefetch(const std::vector<std::string>& case_ids) {
  std::vector<std::string> missing;
  for (const std::string& id : case_ids) {
    if (!cases_.count(id)) missing.push_back(id);
  }
  if (missing.empty()) return absl::OkStatus();
  ASSIGN_OR_RETURN(auto loaded, store_.LoadCases(missing));
  for (auto& [id, info] : loaded) cases_.emplace(id, std::move(info));
  return absl::OkStatus();
}

absl::StatusOr<std::vector<v1::Job>> BufferedDeliveryStore::Flush() {
  std::vector<v1::Job> queued;
  if (writes_.empty()) return queued;
  std::vector<Write> writes;
  writes.swap(writes_);
  absl::StatusOr<std::vector<bool>> added = store_.WriteAll(writes);
  if (!added.ok()) {
    // Unknown how much of it arrived: what this view holds may no longer be what the store holds.
    cases_.clear();
    return added.status();
  }
  for (size_t i = 0; i < writes.size(); ++i) {
    if ((*added)[i]) queued.push_back(std::move(writes[i].job));
  }
  return queued;
}

absl::StatusOr<DeliveryStore::CaseInfo*> BufferedDeliveryStore::Held(const std::string& case_id) {
  auto it = cases_.find(case_id);
  if (it == cases_.end()) {
    // Not prefetched: the store's, under the writes not sent yet (none of them this case's: its
    // writes need it held).
    CaseInfo info;
    ASSIGN_OR_RETURN(info.submitted, store_.LoadSubmission(case_id));
    ASSIGN_OR_RETURN(info.department, store_.Department(case_id));
    it = cases_.emplace(case_id, std::move(info)).first;
  }
  return &it->second;
}

absl::StatusOr<bool> BufferedDeliveryStore::Enqueue(const v1::Job& job, absl::Time due) {
  Write w;
  w.kind = Write::Kind::kEnqueue;
  w.job = job;
  w.due = due;
  writes_.push_back(std::move(w));
  return false;  // known at Flush
}

absl::StatusOr<bool> BufferedDeliveryStore::AddFinished(const v1::Job& job) {
  Write w;
  w.kind = Write::Kind::kFinished;
  w.job = job;
  writes_.push_back(std::move(w));
  return false;  // known at Flush
}

absl::Status BufferedDeliveryStore::SaveSubmission(const events::Envelope& submitted) {
  ASSIGN_OR_RETURN(CaseInfo * info, Held(submitted.case_id()));
  info->submitted = submitted;
  Write w;
  w.kind = Write::Kind::kSubmission;
  w.submitted = submitted;
  writes_.push_back(std::move(w));
  return absl::OkStatus();
}

absl::StatusOr<std::optional<events::Envelope>> BufferedDeliveryStore::LoadSubmission(
    const std::string& case_id) {
  ASSIGN_OR_RETURN(CaseInfo * info, Held(case_id));
  return info->submitted;
}

absl::Status BufferedDeliveryStore::SetDepartment(const std::string& case_id,
                                                  const std::string& dept) {
  ASSIGN_OR_RETURN(CaseInfo * info, Held(case_id));
  info->department = dept;
  Write w;
  w.kind = Write::Kind::kDepartment;
  w.case_id = case_id;
  w.department = dept;
  writes_.push_back(std::move(w));
  return absl::OkStatus();
}

absl::StatusOr<std::string> BufferedDeliveryStore::Department(const std::string& case_id) {
  ASSIGN_OR_RETURN(CaseInfo * info, Held(case_id));
  return info->department;
}

absl::StatusOr<std::vector<v1::Job>> BufferedDeliveryStore::Claim(int32_t partition, absl::Time now,
                                                                  absl::Duration lease, int limit) {
  RETURN_IF_ERROR(Flush().status());
  return store_.Claim(partition, now, lease, limit);
}

absl::Status BufferedDeliveryStore::Reschedule(const v1::Job& job, absl::Time due) {
  RETURN_IF_ERROR(Flush().status());
  return store_.Reschedule(job, due);
}

absl::Status BufferedDeliveryStore::Save(const v1::Job& job) {
  RETURN_IF_ERROR(Flush().status());
  return store_.Save(job);
}

absl::Status BufferedDeliveryStore::Finish(const v1::Job& job) {
  RETURN_IF_ERROR(Flush().status());
  return store_.Finish(job);
}

absl::StatusOr<std::vector<v1::Job>> BufferedDeliveryStore::Jobs(const std::string& case_id) {
  RETURN_IF_ERROR(Flush().status());
  return store_.Jobs(case_id);
}

absl::StatusOr<std::optional<v1::Job>> BufferedDeliveryStore::Job(const std::string& case_id,
                                                                  const std::string& key) {
  RETURN_IF_ERROR(Flush().status());
  return store_.Job(case_id, key);
}

absl::StatusOr<int64_t> BufferedDeliveryStore::Waiting(int32_t partition) {
  RETURN_IF_ERROR(Flush().status());
  return store_.Waiting(partition);
}

absl::StatusOr<std::optional<absl::Time>> BufferedDeliveryStore::OldestQueued(int32_t partition) {
  RETURN_IF_ERROR(Flush().status());
  return store_.OldestQueued(partition);
}

}  // namespace meldpunt::notification
