// A few threads that finish what an asynchronous call started: SubmitCase's last step (writing
// the new case and answering) once Kafka acknowledged its event. The producer's poll thread only
// hands the work over, so no acknowledgement waits behind a Redis round trip.
//
//   Completions completions(4);
//   completions.Post([reactor, ...] { ...; reactor->Finish(status); });
//
// The destructor runs what is queued, then joins the threads.
#pragma once

#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"

namespace meldpunt::intake {

class Completions {
 public:
  explicit Completions(int threads);
  ~Completions();
  Completions(const Completions&) = delete;
  Completions& operator=(const Completions&) = delete;

  void Post(std::function<void()> work);

 private:
  void Run();
  bool HasWork() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return quit_ || !queue_.empty(); }

  absl::Mutex mu_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  bool quit_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace meldpunt::intake
