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

absl::Status AwaitAcks(Acks acks, absl::Time deadline, AfterAcks then) {
  if (internal::DeferredAcks* lane = internal::DeferredAcks::Current(); lane != nullptr) {
    lane->Add(std::move(acks), deadline, std::move(then));
    return absl::OkStatus();
  }
  if (absl::Status status = acks.Wait(deadline); !status.ok()) return status;
  return then ? then() : absl::OkStatus();
}

namespace internal {
namespace {
thread_local DeferredAcks* current = nullptr;
}  // namespace

DeferredAcks::DeferredAcks() { current = this; }

DeferredAcks::~DeferredAcks() {
  if (current == this) current = nullptr;
}

DeferredAcks* DeferredAcks::Current() { return current; }

void DeferredAcks::At(size_t index, absl::string_view key) {
  index_ = index;
  key_ = key;
}

bool DeferredAcks::Holds(absl::string_view key) const {
  for (const Entry& e : entries_)
    if (e.key == key) return true;
  return false;
}

void DeferredAcks::Add(Acks acks, absl::Time deadline, AfterAcks then) {
  entries_.push_back({index_, key_, std::move(acks), deadline, std::move(then)});
}

std::optional<size_t> DeferredAcks::Wait(absl::Status* error) {
  std::vector<Entry> entries;
  entries.swap(entries_);
  for (Entry& e : entries) {
    absl::Status status = e.acks.Wait(e.deadline);
    if (status.ok() && e.then) status = e.then();
    if (!status.ok()) {
      if (error != nullptr) *error = status;
      return e.index;
    }
  }
  return std::nullopt;
}

}  // namespace internal
}  // namespace meldpunt::events
