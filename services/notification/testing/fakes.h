// Fakes for notification's unit tests: a mailer that records (and fails on demand), the outbox in
// memory with the Redis one's queue semantics, and an event log that records. Not thread-safe:
// tests drive them from one thread.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "libs/events/event_log.h"
#include "libs/status/status_macros.h"
#include "services/notification/delivery_error.h"
#include "services/notification/delivery_store.h"
#include "services/notification/mailer.h"

namespace meldpunt::notification {

class FakeMailer : public Mailer {
 public:
  absl::Status Send(const Email& email) override {
    sent.push_back(email);
    absl::Status status = absl::OkStatus();
    if (answer) {
      status = answer();
    } else if (failures_left > 0) {
      --failures_left;
      status = failure;
    }
    if (status.ok()) delivered.push_back(email);
    return status;
  }
  std::vector<Email> sent;       // every attempt
  std::vector<Email> delivered;  // the attempts that went through
  int failures_left = 0;
  absl::Status failure = TemporaryFailure(absl::StatusCode::kUnavailable, "connection refused");
  std::function<absl::Status()> answer;  // when set, what every attempt gets
};

// The outbox in memory, with the Redis one's queue semantics (due, claimed under a lease).
class MemoryStore : public DeliveryStore {
 public:
  absl::StatusOr<bool> Enqueue(const v1::Job& job, absl::Time due) override {
    Count();
    const std::string key = Key(job);
    if (jobs.count(key)) return false;
    jobs[key] = job;
    due_[key] = due;
    return true;
  }
  absl::StatusOr<std::vector<v1::Job>> Claim(int32_t, absl::Time now, absl::Duration lease,
                                             int limit) override {
    std::vector<v1::Job> out;
    for (auto it = inflight_.begin(); it != inflight_.end(); ++it) {
      if (it->second <= now && static_cast<int>(out.size()) < limit) {
        it->second = now + lease;
        out.push_back(jobs[it->first]);
      }
    }
    for (auto it = due_.begin(); it != due_.end();) {
      if (it->second <= now && static_cast<int>(out.size()) < limit) {
        inflight_[it->first] = now + lease;
        out.push_back(jobs[it->first]);
        it = due_.erase(it);
      } else {
        ++it;
      }
    }
    return out;
  }
  absl::Status Reschedule(const v1::Job& job, absl::Time due) override {
    jobs[Key(job)] = job;
    inflight_.erase(Key(job));
    due_[Key(job)] = due;
    return absl::OkStatus();
  }
  absl::Status Save(const v1::Job& job) override {
    Count();
    jobs[Key(job)] = job;
    return absl::OkStatus();
  }
  absl::StatusOr<bool> AddFinished(const v1::Job& job) override {
    Count();
    if (jobs.count(Key(job))) return false;
    jobs[Key(job)] = job;
    ++finished_adds;
    return true;
  }
  absl::Status Finish(const v1::Job& job) override {
    Count();
    ++finish_writes;
    jobs[Key(job)] = job;
    inflight_.erase(Key(job));
    due_.erase(Key(job));
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<v1::Job>> Jobs(const std::string& case_id) override {
    std::vector<v1::Job> out;
    for (const auto& [k, j] : jobs)
      if (j.delivery().case_id() == case_id) out.push_back(j);
    return out;
  }
  absl::StatusOr<std::optional<v1::Job>> Job(const std::string& case_id,
                                             const std::string& key) override {
    auto it = jobs.find(case_id + "|" + key);
    if (it == jobs.end()) return std::nullopt;
    return it->second;
  }
  absl::StatusOr<int64_t> Waiting(int32_t) override {
    return static_cast<int64_t>(due_.size() + inflight_.size());
  }
  absl::StatusOr<std::optional<absl::Time>> OldestQueued(int32_t) override {
    std::optional<absl::Time> oldest;
    for (const auto* queue : {&due_, &inflight_}) {
      for (const auto& [key, at] : *queue) {
        const absl::Time queued = events::GetTime(jobs[key].delivery().at());
        if (!oldest || queued < *oldest) oldest = queued;
      }
    }
    return oldest;
  }
  absl::Status SaveSubmission(const events::Envelope& e) override {
    Count();
    submissions[e.case_id()] = e;
    return absl::OkStatus();
  }
  absl::StatusOr<std::optional<events::Envelope>> LoadSubmission(const std::string& c) override {
    Count();
    auto it = submissions.find(c);
    if (it == submissions.end()) return std::optional<events::Envelope>();
    return std::optional<events::Envelope>(it->second);
  }
  absl::Status SetDepartment(const std::string& c, const std::string& d) override {
    Count();
    departments[c] = d;
    return absl::OkStatus();
  }
  absl::StatusOr<std::string> Department(const std::string& c) override {
    Count();
    return departments.count(c) ? departments[c] : std::string();
  }
  // One round trip each, as in Redis (WriteAll: two there, counted as one here).
  absl::StatusOr<std::map<std::string, CaseInfo>> LoadCases(
      const std::vector<std::string>& case_ids) override {
    Batch batch(*this);
    return DeliveryStore::LoadCases(case_ids);
  }
  absl::StatusOr<std::map<JobKey, std::optional<v1::Job>>> JobsOf(
      const std::vector<JobKey>& keys) override {
    if (keys.empty()) return std::map<JobKey, std::optional<v1::Job>>();
    Batch batch(*this);
    return DeliveryStore::JobsOf(keys);
  }
  absl::Status SaveAll(const std::vector<v1::Job>& saved) override {
    if (saved.empty()) return absl::OkStatus();
    Batch batch(*this);
    return DeliveryStore::SaveAll(saved);
  }
  absl::Status FinishAll(const std::vector<v1::Job>& finished,
                         const std::vector<bool>& written = {}) override {
    if (finished.empty()) return absl::OkStatus();
    Batch batch(*this);
    for (size_t i = 0; i < finished.size(); ++i) {
      const v1::Job& job = finished[i];
      if (i >= written.size() || !written[i]) {
        RETURN_IF_ERROR(Finish(job));
        continue;
      }
      // Its record holds it already: only out of the queue.
      if (jobs[Key(job)].SerializeAsString() != job.SerializeAsString())
        return absl::InternalError("FinishAll: the record does not hold the job it says it does");
      inflight_.erase(Key(job));
      due_.erase(Key(job));
    }
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<bool>> WriteAll(const std::vector<Write>& writes) override {
    if (!write_error.ok()) return write_error;
    if (failing_writes > 0) {
      --failing_writes;
      return absl::UnavailableError("redis: connection lost (failing_writes)");
    }
    Batch batch(*this);
    return DeliveryStore::WriteAll(writes);
  }
  size_t Queued() const { return due_.size() + inflight_.size(); }
  std::map<std::string, absl::Time> DueTimes() const { return due_; }
  std::optional<absl::Time> DueAt(const v1::Job& job) const {
    auto it = due_.find(Key(job));
    if (it == due_.end()) return std::nullopt;
    return it->second;
  }

  std::map<std::string, v1::Job> jobs;
  std::map<std::string, events::Envelope> submissions;
  std::map<std::string, std::string> departments;
  // The calls that are a round trip to Redis each: reads and writes of the submissions,
  // departments and new messages, Save and Finish (LoadCases, WriteAll, JobsOf, SaveAll and
  // FinishAll once). Not the claims, the reschedules and the reads of one message.
  int round_trips = 0;
  // The records Finish wrote (FinishAll of a job whose record holds it already writes none).
  int finish_writes = 0;
  int finished_adds = 0;  // records AddFinished wrote
  // What WriteAll answers (writing nothing) when not OK.
  absl::Status write_error;
  // How many of the next WriteAll fail (UNAVAILABLE, writing nothing) before they work again.
  int failing_writes = 0;

 private:
  void Count() {
    if (depth_ == 0) ++round_trips;
  }
  // One round trip for the calls made while it lives.
  struct Batch {
    explicit Batch(MemoryStore& store) : store(store) {
      store.Count();
      ++store.depth_;
    }
    ~Batch() { --store.depth_; }
    MemoryStore& store;
  };
  int depth_ = 0;
  static std::string Key(const v1::Job& j) {
    return j.delivery().case_id() + "|" + j.delivery().idempotency_key();
  }
  std::map<std::string, absl::Time> due_, inflight_;
};

class FakeLog : public events::EventLog {
 public:
  absl::StatusOr<events::Appended> Append(const events::Envelope& e, absl::Time) override {
    if (!error.ok()) return error;
    appended.push_back(e);
    return events::Appended{};
  }
  std::vector<events::Envelope> appended;
  absl::Status error = absl::OkStatus();
};

}  // namespace meldpunt::notification
