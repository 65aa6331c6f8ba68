// A batch's view of the DeliveryStore: what the letters of the batch's cases need (submission,
// department) read in one round trip, the records and messages of every event kept in order and
// written at the end (DeliveryStore::WriteAll: two round trips in Redis).
//
//   BufferedDeliveryStore buffered(store);
//   RETURN_IF_ERROR(buffered.Prefetch(case_ids));
//   for each record: logic.Handle(envelope, partition, buffered);
//   ASSIGN_OR_RETURN(std::vector<v1::Job> queued, buffered.Flush());  // the new messages
//
// Reads of a case's submission and department see the writes made through this view before them.
// Enqueue and AddFinished answer false: whether a message is new is known once it is written, and
// Flush returns the ones that were. Everything else (claims, the delivery records, the gauges)
// first flushes, then goes to the store.
//
// For one thread (a lane's batch); what it holds is dropped with it.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "services/notification/delivery_store.h"

namespace meldpunt::notification {

class BufferedDeliveryStore final : public DeliveryStore {
 public:
  explicit BufferedDeliveryStore(DeliveryStore& store) : store_(store) {}

  // Reads what the cases not held yet need, at once.
  absl::Status Prefetch(const std::vector<std::string>& case_ids);
  // Writes what was held, at once; returns the messages that were new (queued, or finished records
  // written: status other than "pending"). On an error what this view
  // held is dropped: the caller handles the records again, from the store.
  absl::StatusOr<std::vector<v1::Job>> Flush();
  // Drops what this view holds of the cases (after a write to the store that went around it).
  void Forget() { cases_.clear(); }
  size_t pending() const { return writes_.size(); }

  absl::StatusOr<bool> Enqueue(const v1::Job& job, absl::Time due) override;
  absl::StatusOr<bool> AddFinished(const v1::Job& job) override;
  absl::Status SaveSubmission(const events::Envelope& submitted) override;
  absl::StatusOr<std::optional<events::Envelope>> LoadSubmission(
      const std::string& case_id) override;
  absl::Status SetDepartment(const std::string& case_id, const std::string& dept) override;
  absl::StatusOr<std::string> Department(const std::string& case_id) override;

  absl::StatusOr<std::vector<v1::Job>> Claim(int32_t partition, absl::Time now,
                                             absl::Duration lease, int limit) override;
  absl::Status Reschedule(const v1::Job& job, absl::Time due) override;
  absl::Status Save(const v1::Job& job) override;
  absl::Status Finish(const v1::Job& job) override;
  absl::StatusOr<std::vector<v1::Job>> Jobs(const std::string& case_id) override;
  absl::StatusOr<std::optional<v1::Job>> Job(const std::string& case_id,
                                             const std::string& key) override;
  absl::StatusOr<int64_t> Waiting(int32_t partition) override;
  absl::StatusOr<std::optional<absl::Time>> OldestQueued(int32_t partition) override;

 private:
  // The case as this view sees it (read from the store when not held yet).
  absl::StatusOr<CaseInfo*> Held(const std::string& case_id);

  DeliveryStore& store_;
  std::map<std::string, CaseInfo> cases_;
  std::vector<Write> writes_;
};

}  // namespace meldpunt::notification
