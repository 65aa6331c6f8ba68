// Tells a call waiting for read-your-writes the moment this intake's projection consumer has
// folded its event, instead of polling Redis for it. The projection consumer reports every event
// it folded (or found folded before); a waiter registered for that event id wakes at once and
// gets the case as folded. Events folded by another replica are not seen here: the waiter's
// caller polls Redis for those (IntakeLogic does both).
//
//   FoldWatch watch;
//   FoldWatch::Waiter waiter(watch, case_id, event_id);    // before the append
//   ... append ...
//   if (waiter.Wait(deadline)) use(waiter.TakeFolded());   // the case, when the fold gave it
//
//   // projection consumer, after Redis has the fold:
//   watch.Folded(case_id, event_id, &folded_case);
//
// Thread-safe; holds one absl::Mutex.
#pragma once

#include <atomic>
#include <map>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "meldpunt/types/v1/case.pb.h"

namespace meldpunt::intake {

class FoldWatch {
 public:
  class Waiter {
   public:
    Waiter(FoldWatch& watch, std::string case_id, std::string event_id);
    ~Waiter();
    Waiter(const Waiter&) = delete;
    Waiter& operator=(const Waiter&) = delete;

    // True once the event was folded (or found folded before), false at `deadline`.
    bool Wait(absl::Time deadline);
    // The case right after the fold, when the projection passed it on (not for a repeat), moved
    // out: empty before the fold reached this waiter, or once taken. Under the watch's mutex,
    // like the fold's write of it: a caller that learnt of the fold elsewhere (polling Redis)
    // may ask while the projection consumer is still reporting it.
    std::optional<types::v1::Case> TakeFolded();

   private:
    friend class FoldWatch;
    FoldWatch& watch_;
    std::string case_id_;
    std::string event_id_;
    bool done_ = false;                      // guarded by watch_.mu_
    std::optional<types::v1::Case> folded_;  // guarded by watch_.mu_
    std::multimap<std::string, Waiter*>::iterator entry_;
  };

  // `folded` (may be null) is the case after the event; Redis must already hold it.
  void Folded(const std::string& case_id, const std::string& event_id,
              const types::v1::Case* folded);

  size_t waiting() const;

 private:
  mutable absl::Mutex mu_;
  std::multimap<std::string, Waiter*> waiters_ ABSL_GUARDED_BY(mu_);  // by case id
  // waiters_.size(), read without the mutex: a fold with no one waiting (a rebuild's replay, a
  // replica's events) passes by. A waiter registers before its append, so it is counted before
  // its event can be folded; one missed would still learn of the fold by polling Redis.
  std::atomic<size_t> count_{0};
};

}  // namespace meldpunt::intake
