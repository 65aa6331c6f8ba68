#include "services/notification/senders.h"

#include <algorithm>

#include "absl/time/clock.h"
#include "libs/observability/log.h"
#include "libs/observability/thread_name.h"

namespace meldpunt::notification {

int ClaimFairly(const std::vector<int32_t>& partitions, int free, const ClaimRound& claim) {
  int claimed = 0;
  std::vector<int32_t> round = partitions;
  while (free > 0 && !round.empty()) {
    // Even shares of what is free: the first (free % size) get one more; none of more than 100.
    std::vector<std::pair<int32_t, int>> wants;
    const int size = static_cast<int>(round.size());
    for (int i = 0; i < size; ++i) {
      const int share = std::min(free / size + (i < free % size ? 1 : 0), 100);
      if (share > 0) wants.emplace_back(round[static_cast<size_t>(i)], share);
    }
    const std::vector<absl::StatusOr<int>> got = claim(wants);
    std::vector<int32_t> full;  // took their whole share: they may have more
    for (size_t i = 0; i < wants.size() && i < got.size(); ++i) {
      if (!got[i].ok()) continue;
      free -= *got[i];
      claimed += *got[i];
      if (*got[i] >= wants[i].second) full.push_back(wants[i].first);
    }
    round.swap(full);
  }
  return claimed;
}

void Senders::Start() {
  stop_ = false;
  {
    absl::MutexLock lock(&mu_);
    workers_done_ = false;
  }
  recorder_ = std::thread([this] {
    observability::NameThread("mp-mail-record");
    RecordLoop();
  });
  dispatcher_ = std::thread([this] {
    observability::NameThread("mp-mail-dispatch");
    DispatchLoop();
  });
  for (int i = 0; i < options_.workers; ++i) {
    workers_.emplace_back([this] {
      observability::NameThread("mp-mail-send");
      WorkLoop();
    });
  }
}

void Senders::Stop() {
  stop_ = true;
  if (dispatcher_.joinable()) dispatcher_.join();
  for (auto& w : workers_)
    if (w.joinable()) w.join();
  workers_.clear();
  // What the senders sent is recorded before the recorder ends.
  {
    absl::MutexLock lock(&mu_);
    workers_done_ = true;
  }
  if (recorder_.joinable()) recorder_.join();
}

void Senders::Assign(const std::vector<int32_t>& partitions) {
  absl::MutexLock lock(&mu_);
  partitions_.insert(partitions.begin(), partitions.end());
}

void Senders::Revoke(const std::vector<int32_t>& partitions) {
  // Messages of those partitions already claimed are sent here; their leases keep the next
  // owner from sending them at the same time.
  absl::MutexLock lock(&mu_);
  for (int32_t p : partitions) partitions_.erase(p);
}

void Senders::DispatchLoop() {
  // Messages in hand (being sent or waiting for a sender) at most, and how many must be free
  // before the dispatcher claims again when it is full: a claim of several at once, not one per
  // message sent.
  const int hand = options_.workers + std::max(1, options_.workers / 2);
  const int batch = std::max(1, options_.workers / 2);
  int pass = 0;
  while (!stop_.load()) {
    std::set<int32_t> partitions;
    int free = 0;
    {
      absl::MutexLock lock(&mu_);
      partitions = partitions_;
      free = hand - busy_ - static_cast<int>(queue_.size());
    }
    // A different partition first on every pass.
    std::vector<int32_t> order(partitions.begin(), partitions.end());
    if (!order.empty()) {
      std::rotate(order.begin(), order.begin() + static_cast<size_t>(pass) % order.size(),
                  order.end());
    }
    const absl::Time now = absl::Now();
    std::vector<v1::Job> jobs;
    free -= ClaimFairly(order, free, [&](const std::vector<std::pair<int32_t, int>>& wants) {
      std::vector<absl::StatusOr<std::vector<v1::Job>>> claimed =
          store_.ClaimMany(wants, now, options_.lease);
      std::vector<absl::StatusOr<int>> got;
      for (size_t i = 0; i < claimed.size(); ++i) {
        if (!claimed[i].ok()) {
          log::Warning("claiming messages failed",
                       {{"partition", wants[i].first}, {"error", claimed[i].status().ToString()}});
          got.push_back(claimed[i].status());
          continue;
        }
        got.push_back(static_cast<int>(claimed[i]->size()));
        for (auto& job : *claimed[i]) jobs.push_back(std::move(job));
      }
      return got;
    });
    if (!jobs.empty()) {
      // The keys of the pass's letters to the reporter at once, not one read a sender.
      std::vector<std::optional<KnownKey>> keys = logic_.ReadKeys(jobs);
      absl::MutexLock lock(&mu_);
      for (size_t i = 0; i < jobs.size(); ++i)
        queue_.push_back(Claimed{std::move(jobs[i]), std::move(keys[i])});
    }
    if (pass++ % 40 == 0) {
      int64_t waiting = 0;
      std::optional<absl::Time> oldest;
      for (int32_t p : partitions) {
        absl::StatusOr<int64_t> n = store_.Waiting(p);
        if (n.ok()) waiting += *n;
        absl::StatusOr<std::optional<absl::Time>> queued = store_.OldestQueued(p);
        if (queued.ok() && *queued && (!oldest || **queued < *oldest)) oldest = **queued;
      }
      waiting_ = waiting;
      if (options_.on_queue) {
        options_.on_queue(
            waiting, oldest ? std::optional<absl::Duration>(absl::Now() - *oldest) : std::nullopt);
      }
    }
    // The hand (nearly) full: wait until a batch's worth is free (at most a poll interval) and
    // claim again at once, so a backlog drains at the senders' pace rather than the poll's.
    absl::MutexLock lock(&mu_);
    auto room = [this, hand, batch]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
      return hand - busy_ - static_cast<int>(queue_.size()) >= batch || stop_.load();
    };
    if (free < batch) {
      mu_.AwaitWithTimeout(absl::Condition(&room), options_.poll_interval);
    } else {
      mu_.Unlock();
      absl::SleepFor(options_.poll_interval);
      mu_.Lock();
    }
  }
}

void Senders::WorkLoop() {
  while (true) {
    Claimed claimed;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]()
                       ABSL_SHARED_LOCKS_REQUIRED(mu_) { return !queue_.empty() || stop_.load(); };
      mu_.AwaitWithTimeout(absl::Condition(&ready), absl::Milliseconds(200));
      if (stop_.load()) return;
      if (queue_.empty()) continue;
      claimed = std::move(queue_.front());
      queue_.pop_front();
      ++busy_;
    }
    std::string channel = claimed.job.delivery().channel();
    const absl::Time start = absl::Now();
    absl::StatusOr<Attempted> attempted = logic_.Send(std::move(claimed.job), claimed.key);
    const bool record = attempted.ok() && attempted->left != Attempted::Left::kNothing;
    {
      absl::MutexLock lock(&mu_);
      --busy_;
      if (record) sent_.push_back(Sent{*std::move(attempted), std::move(channel), start});
    }
    if (record) continue;
    absl::StatusOr<AttemptOutcome> outcome =
        attempted.ok() ? absl::StatusOr<AttemptOutcome>(attempted->outcome) : attempted.status();
    if (observe_) observe_(channel, outcome, absl::Now() - start);
  }
}

void Senders::RecordLoop() {
  while (true) {
    std::vector<Sent> sent;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]()
                       ABSL_SHARED_LOCKS_REQUIRED(mu_) { return !sent_.empty() || workers_done_; };
      mu_.AwaitWithTimeout(absl::Condition(&ready), absl::Milliseconds(200));
      if (sent_.empty()) {
        if (workers_done_) return;
        continue;
      }
      sent.swap(sent_);
    }
    std::vector<Attempted> attempted;
    attempted.reserve(sent.size());
    for (Sent& s : sent) attempted.push_back(std::move(s.attempted));
    std::vector<absl::StatusOr<AttemptOutcome>> outcomes = logic_.Record(std::move(attempted));
    const absl::Time now = absl::Now();
    for (size_t i = 0; i < sent.size(); ++i) {
      if (observe_) observe_(sent[i].channel, outcomes[i], now - sent[i].start);
    }
  }
}

}  // namespace meldpunt::notification
