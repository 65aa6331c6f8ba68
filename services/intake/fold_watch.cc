#include "services/intake/fold_watch.h"

namespace meldpunt::intake {

FoldWatch::Waiter::Waiter(FoldWatch& watch, std::string case_id, std::string event_id)
    : watch_(watch), case_id_(std::move(case_id)), event_id_(std::move(event_id)) {
  absl::MutexLock lock(&watch_.mu_);
  entry_ = watch_.waiters_.emplace(case_id_, this);
  watch_.count_.store(watch_.waiters_.size());
}

FoldWatch::Waiter::~Waiter() {
  absl::MutexLock lock(&watch_.mu_);
  watch_.waiters_.erase(entry_);
  watch_.count_.store(watch_.waiters_.size());
}

bool FoldWatch::Waiter::Wait(absl::Time deadline) {
  absl::MutexLock lock(&watch_.mu_);
  return watch_.mu_.AwaitWithDeadline(absl::Condition(&done_), deadline);
}

std::optional<types::v1::Case> FoldWatch::Waiter::TakeFolded() {
  absl::MutexLock lock(&watch_.mu_);
  std::optional<types::v1::Case> out = std::move(folded_);
  folded_.reset();
  return out;
}

void FoldWatch::Folded(const std::string& case_id, const std::string& event_id,
                       const types::v1::Case* folded) {
  if (count_.load() == 0) return;
  absl::MutexLock lock(&mu_);
  auto [begin, end] = waiters_.equal_range(case_id);
  for (auto it = begin; it != end; ++it) {
    Waiter* waiter = it->second;
    if (waiter->done_ || waiter->event_id_ != event_id) continue;
    waiter->done_ = true;
    if (folded != nullptr) waiter->folded_ = *folded;
  }
}

size_t FoldWatch::waiting() const {
  absl::MutexLock lock(&mu_);
  return waiters_.size();
}

}  // namespace meldpunt::intake
