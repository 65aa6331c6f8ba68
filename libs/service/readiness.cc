#include "libs/service/readiness.h"

#include "absl/strings/str_cat.h"
#include "libs/observability/log.h"
#include "libs/observability/thread_name.h"
#include "libs/service/runtime.h"

namespace meldpunt::service {

DependencyCheck::DependencyCheck(const kafka::Producer* producer, std::vector<redis::Client*> redis,
                                 absl::Duration interval, OnFatal on_fatal)
    : producer_(producer),
      redis_(std::move(redis)),
      interval_(interval),
      on_fatal_(on_fatal ? std::move(on_fatal) : OnFatal(RequestFailureExit)) {
  Check();
  thread_ = std::thread([this] {
    observability::NameThread("mp-readiness");
    while (!stop_.WaitForNotificationWithTimeout(interval_)) Check();
  });
}

DependencyCheck::~DependencyCheck() {
  stop_.Notify();
  if (thread_.joinable()) thread_.join();
}

std::string DependencyCheck::down() const {
  absl::MutexLock lock(&mu_);
  return down_;
}

void DependencyCheck::Check() {
  std::string down;
  if (producer_ != nullptr && producer_->fatal()) {
    down = "kafka: the producer reported a fatal error and cannot send again";
    if (!fatal_reported_) {
      fatal_reported_ = true;
      on_fatal_(absl::InternalError(absl::StrCat(down, " (see the 'kafka producer error' log)")));
    }
  } else if (producer_ != nullptr) {
    if (absl::Status kafka = producer_->Ping(absl::Milliseconds(800)); !kafka.ok()) {
      // A ping that fails because the producer just turned fatal says so on the next check; until
      // then it shows the broker's own words.
      down = std::string(kafka.message());
    }
  }
  for (redis::Client* redis : redis_) {
    if (redis == nullptr) continue;
    absl::StatusOr<redis::Reply> pong = redis->Command({"PING"});
    if (!pong.ok() || !redis::ReplyStatus(*pong).ok()) {
      absl::StrAppend(&down, down.empty() ? "" : "; ",
                      "redis: ", pong.ok() ? "PING refused" : pong.status().message());
    }
  }
  const bool now_up = down.empty();
  if (!now_up) {
    // The reason is in place before anyone can see the check down.
    absl::MutexLock lock(&mu_);
    down_ = down;
  }
  const bool was_up = up_.exchange(now_up);
  if (checked_ && was_up != now_up) {
    if (now_up) {
      log::Info("dependencies answer again: ready");
    } else {
      log::Warning("a dependency does not answer: not ready", {{"down", down}});
    }
  }
  checked_ = true;
  if (now_up) {
    absl::MutexLock lock(&mu_);
    down_.clear();
  }
}

}  // namespace meldpunt::service
