#include "libs/service/consumer_slot.h"

#include "absl/time/clock.h"
#include "libs/status/status_macros.h"

namespace meldpunt::service {

absl::Status ConsumerSlot::Start() {
  ASSIGN_OR_RETURN(std::unique_ptr<events::EventConsumer> consumer, make_());
  absl::MutexLock lock(&mu_);
  if (consumer_) consumer_->Stop();
  consumer_ = std::move(consumer);
  consumer_->Start();
  return absl::OkStatus();
}

void ConsumerSlot::Stop() {
  absl::MutexLock lock(&mu_);
  if (consumer_) consumer_->Stop();
  consumer_.reset();
}

bool ConsumerSlot::Ready() const {
  absl::MutexLock lock(&mu_);
  return consumer_ && consumer_->running() && consumer_->joined();
}

bool ConsumerSlot::AwaitJoined(absl::Time deadline) const {
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      if (!consumer_ || !consumer_->running() || consumer_->joined()) return true;
    }
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(20));
  }
}

}  // namespace meldpunt::service
