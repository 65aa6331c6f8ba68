// What /readyz asks beside a service's own state: a Kafka broker answers and every Redis the
// service uses answers PING. Checked on a thread of its own every `interval`, so /readyz reads a
// flag and never waits on a dead dependency (a probe has about a second).
//
//   dependencies_ = std::make_unique<DependencyCheck>(producer_.get(),
//                                                     std::vector{redis_.get(), keys.get()});
//   bool Ready() const { return started_ && consumer_->joined() && dependencies_->up(); }
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "libs/kafka/producer.h"
#include "libs/redis/redis.h"

namespace meldpunt::service {

// A producer that reported a fatal error (Producer::fatal) can never send again: the check then
// says not ready for good and calls `on_fatal` once (by default service::RequestFailureExit, so
// the process drains and exits non-zero to be restarted). Owns one thread, the checker.
class DependencyCheck {
 public:
  using OnFatal = std::function<void(const absl::Status&)>;
  DependencyCheck(const kafka::Producer* producer, std::vector<redis::Client*> redis,
                  absl::Duration interval = absl::Seconds(1), OnFatal on_fatal = nullptr);
  ~DependencyCheck();
  DependencyCheck(const DependencyCheck&) = delete;
  DependencyCheck& operator=(const DependencyCheck&) = delete;

  // True when the last check found Kafka and every Redis answering (false before the first).
  bool up() const { return up_.load(); }
  // What the last check found down ("" when nothing), for the log.
  std::string down() const;

 private:
  void Check();
  const kafka::Producer* producer_;
  std::vector<redis::Client*> redis_;
  absl::Duration interval_;
  OnFatal on_fatal_;
  bool fatal_reported_ = false;  // only the checking thread (and the constructor before it)
  std::atomic<bool> up_{false};
  bool checked_ = false;  // only the checking thread (and the constructor before it) use it
  mutable absl::Mutex mu_;
  std::string down_ ABSL_GUARDED_BY(mu_);
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace meldpunt::service
