// A RecordSink for unit tests: keeps what is sent and acknowledges it at once (or holds the
// acknowledgements until Acknowledge, or fails them, or refuses the enqueue).
//
//   service::FakeRecordSink sink;
//   handler.Handle(envelope);
//   EXPECT_EQ(sink.Sent().size(), 2u);
#pragma once

#include <atomic>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "libs/service/record_sink.h"

namespace meldpunt::service {

class FakeRecordSink final : public RecordSink {
 public:
  absl::Status SendAsync(const kafka::Message& message, kafka::DeliveryCallback done) override {
    absl::Status delivery;
    {
      absl::MutexLock lock(&mu_);
      if (!refuse_.ok()) return refuse_;
      sent_.push_back(message);
      if (hold_) {
        held_.push_back(std::move(done));
        return absl::OkStatus();
      }
      delivery = fail_;
    }
    // Outside the lock, as librdkafka's poll thread would call it.
    Deliver(done, delivery);
    return absl::OkStatus();
  }

  // What was sent (accepted for sending), in order.
  std::vector<kafka::Message> Sent() const {
    absl::MutexLock lock(&mu_);
    return sent_;
  }
  // The records sent to `topic`.
  std::vector<kafka::Message> SentTo(const std::string& topic) const {
    std::vector<kafka::Message> out;
    for (kafka::Message& m : Sent())
      if (m.topic == topic) out.push_back(std::move(m));
    return out;
  }
  void Clear() {
    absl::MutexLock lock(&mu_);
    sent_.clear();
  }
  // Every later enqueue is refused with `status` (OK: accepted again).
  void Refuse(absl::Status status) {
    absl::MutexLock lock(&mu_);
    refuse_ = std::move(status);
  }
  // Every later record is acknowledged with this error (OK: acknowledged).
  void FailDeliveries(absl::Status status) {
    absl::MutexLock lock(&mu_);
    fail_ = std::move(status);
  }
  // Holds later acknowledgements until Acknowledge.
  void Hold() {
    absl::MutexLock lock(&mu_);
    hold_ = true;
  }
  // Acknowledges the held records with `status` and stops holding.
  void Acknowledge(const absl::Status& status = absl::OkStatus()) {
    std::vector<kafka::DeliveryCallback> held;
    {
      absl::MutexLock lock(&mu_);
      hold_ = false;
      held.swap(held_);
    }
    for (auto& done : held) Deliver(done, status);
  }

 private:
  void Deliver(const kafka::DeliveryCallback& done, const absl::Status& status) {
    if (!done) return;
    if (status.ok()) {
      done(kafka::Delivered{.partition = 0, .offset = next_offset_++});
    } else {
      done(status);
    }
  }

  mutable absl::Mutex mu_;
  std::vector<kafka::Message> sent_ ABSL_GUARDED_BY(mu_);
  std::vector<kafka::DeliveryCallback> held_ ABSL_GUARDED_BY(mu_);
  absl::Status refuse_ ABSL_GUARDED_BY(mu_);
  absl::Status fail_ ABSL_GUARDED_BY(mu_);
  bool hold_ ABSL_GUARDED_BY(mu_) = false;
  std::atomic<int64_t> next_offset_{0};
};

}  // namespace meldpunt::service
