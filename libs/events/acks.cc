#include "libs/events/acks.h"

#include <utility>

namespace meldpunt::events {

Acks::Acks() : state_(std::make_shared<State>()) {}

absl::Status Acks::Send(kafka::Producer& producer, const kafka::Message& message) {
  absl::Status queued = producer.SendAsync(message, Track());
  if (!queued.ok()) Refused(queued);
  return queued;
}

kafka::DeliveryCallback Acks::Track() {
  {
    absl::MutexLock lock(&state_->mu);
    ++state_->left;
  }
  // Shares the state: the callback may run after a timed-out Wait returned.
  return [state = state_](absl::StatusOr<kafka::Delivered> delivered) {
    absl::MutexLock lock(&state->mu);
    if (!delivered.ok() && state->error.ok()) state->error = delivered.status();
    --state->left;
  };
}

void Acks::Refused(const absl::Status& status) {
  absl::MutexLock lock(&state_->mu);
  if (state_->error.ok()) state_->error = status;
}

absl::Status Acks::Wait(absl::Time deadline) const {
  absl::MutexLock lock(&state_->mu);
  auto done = [s = state_.get()]()
                  ABSL_SHARED_LOCKS_REQUIRED(s->mu) { return s->left == 0 || !s->error.ok(); };
  if (!state_->mu.AwaitWithDeadline(absl::Condition(&done), deadline)) {
    return absl::UnavailableError("kafka did not acknowledge the records in time");
  }
  return state_->error;
}

}  // namespace meldpunt::events
