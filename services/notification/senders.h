// The sending side of notification: a dispatcher claims due messages of the partitions this
// replica owns (every partition in one Redis round trip, their records in one more, and the data
// keys of those to the reporter in one round trip to the key store; up to
// half as many again as there are senders, so that a sender that finishes finds its next message
// waiting; and again once half the senders' worth is free, or every poll interval), a pool of
// senders makes one attempt each (NotificationLogic::Send), and a recorder records the delivered
// ones together, everything the senders handed it since its last round, at once
// (NotificationLogic::Record: one Redis round trip for their records, their events appended and
// waited for once, one more round trip to take them out of the queue). A sender is free for the
// next message as soon as its message is sent. Shared by the service and its benchmark.
//
//   Senders senders(logic, store, {.workers = 8}, [](const auto& channel, const auto& outcome,
//                                                    absl::Duration took) { ... });
//   senders.Assign({0, 1, 2});
//   senders.Start();
#pragma once

#include <atomic>
#include <deque>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "libs/kafka/consumer.h"
#include "services/notification/delivery_store.h"
#include "services/notification/notification_logic.h"

namespace meldpunt::notification {

struct SenderOptions {
  int workers = 8;
  absl::Duration lease = absl::Minutes(2);
  absl::Duration poll_interval = absl::Milliseconds(50);
  // Told every 40 passes (about 2 s) of the assigned partitions' queues: the messages waiting
  // and how long the oldest has waited since it was queued (nullopt: none waits).
  std::function<void(int64_t waiting, std::optional<absl::Duration> oldest)> on_queue;
};

// Told of every attempt (from the sender's thread): the channel, the outcome or the error (Redis
// or Kafka did not answer: the message goes again after its lease), and how long it took.
using AttemptObserver = std::function<void(
    const std::string& channel, const absl::StatusOr<AttemptOutcome>& outcome, absl::Duration)>;

// Claims up to `free` messages from `partitions`, fairly: each partition (the first ones first
// when there is less free than partitions) gets an even share of what is free, and what a
// partition leaves goes round again to those that took their whole share, until nothing is free
// or nothing is left. A backlog in one partition cannot hold back the messages of the others.
// `claim` claims at most n of each (partition, n) it is given, all at once, and returns how many
// each got, in order; a failed claim is passed by. One call of `claim` per round.
using ClaimRound = std::function<std::vector<absl::StatusOr<int>>(
    const std::vector<std::pair<int32_t, int>>& wants)>;
int ClaimFairly(const std::vector<int32_t>& partitions, int free, const ClaimRound& claim);

class Senders {
 public:
  Senders(NotificationLogic& logic, DeliveryStore& store, SenderOptions options,
          AttemptObserver observe)
      : logic_(logic), store_(store), options_(options), observe_(std::move(observe)) {}
  ~Senders() { Stop(); }

  void Start();
  // A sender finishes the message it is sending; queued ones go again after their lease.
  void Stop();
  void Assign(const std::vector<int32_t>& partitions);
  void Revoke(const std::vector<int32_t>& partitions);
  // Messages in the queues of the assigned partitions (refreshed every 40 passes).
  int64_t waiting() const { return waiting_.load(); }

 private:
  void DispatchLoop();
  void WorkLoop();
  void RecordLoop();

  // A claimed message waiting for a sender, with its data key as the dispatcher read it.
  struct Claimed {
    v1::Job job;
    std::optional<KnownKey> key;
  };
  // An attempt the recorder has yet to record.
  struct Sent {
    Attempted attempted;
    std::string channel;
    absl::Time start;
  };

  NotificationLogic& logic_;
  DeliveryStore& store_;
  const SenderOptions options_;
  AttemptObserver observe_;
  absl::Mutex mu_;
  std::set<int32_t> partitions_ ABSL_GUARDED_BY(mu_);
  std::deque<Claimed> queue_ ABSL_GUARDED_BY(mu_);
  int busy_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<Sent> sent_ ABSL_GUARDED_BY(mu_);
  bool workers_done_ ABSL_GUARDED_BY(mu_) = false;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> waiting_{0};
  std::thread dispatcher_;
  std::vector<std::thread> workers_;
  std::thread recorder_;
};

// The case-event consumer's rebalance listener: the partitions the group gives this replica are
// the outboxes its senders send (and a revoked one's claimed messages are still sent here: their
// leases keep the next owner from sending them at the same time).
class SenderAssignment final : public kafka::RebalanceListener {
 public:
  explicit SenderAssignment(Senders& senders) : senders_(senders) {}
  void OnAssigned(const std::vector<kafka::TopicPartition>& partitions) override {
    senders_.Assign(Ids(partitions));
  }
  void OnRevoked(const std::vector<kafka::TopicPartition>& partitions) override {
    senders_.Revoke(Ids(partitions));
  }

 private:
  static std::vector<int32_t> Ids(const std::vector<kafka::TopicPartition>& partitions) {
    std::vector<int32_t> ids;
    for (const auto& tp : partitions) ids.push_back(tp.partition);
    return ids;
  }
  Senders& senders_;
};

}  // namespace meldpunt::notification
