#include "services/intake/completions.h"
#include "libs/observability/thread_name.h"

#include <algorithm>
#include <utility>

namespace meldpunt::intake {

Completions::Completions(int threads) {
  for (int i = 0; i < std::max(1, threads); ++i)
    threads_.emplace_back([this] {
      observability::NameThread("mp-complete");
      Run();
    });
}

Completions::~Completions() {
  {
    absl::MutexLock lock(&mu_);
    quit_ = true;
  }
  for (std::thread& t : threads_) t.join();
}

void Completions::Post(std::function<void()> work) {
  absl::MutexLock lock(&mu_);
  queue_.push_back(std::move(work));
}

void Completions::Run() {
  for (;;) {
    std::function<void()> work;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(this, &Completions::HasWork));
      if (queue_.empty()) return;  // quit, and nothing left to run
      work = std::move(queue_.front());
      queue_.pop_front();
    }
    work();
  }
}

}  // namespace meldpunt::intake
