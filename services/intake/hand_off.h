// Work handed from many threads to one drainer at a time, which takes everything queued at once:
// the submissions that arrived meanwhile start together, the acknowledgements of one produce
// request finish together.
//
//   if (queue.Push(std::move(item))) Defer([this] { Drain(); });  // true: start a drainer
//   void Drain() {
//     for (std::vector<Item> batch; !(batch = queue.Take()).empty();) Handle(batch);
//   }
//
// Take answers empty once, and only when nothing is queued; the drainer must stop then, and the
// next Push asks for a new one.
#pragma once

#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"

namespace meldpunt::intake {

template <typename T>
class HandOff {
 public:
  // Queues `item`; true when no drainer is queued or running and the caller must start one.
  bool Push(T item) {
    absl::MutexLock lock(&mu_);
    queued_.push_back(std::move(item));
    if (draining_) return false;
    draining_ = true;
    return true;
  }
  // Everything queued; empty when nothing is, and then the drainer is done.
  std::vector<T> Take() {
    absl::MutexLock lock(&mu_);
    std::vector<T> batch;
    batch.swap(queued_);
    if (batch.empty()) draining_ = false;
    return batch;
  }

 private:
  absl::Mutex mu_;
  std::vector<T> queued_ ABSL_GUARDED_BY(mu_);
  bool draining_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace meldpunt::intake
