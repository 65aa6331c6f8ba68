// Limits per caller on what holds a server's resources for long (deadline streams, reports), so
// that one token cannot take them all: at most `per_caller` at once for one caller (role,
// department and subject), and `total` at once in all. In the open development mode, where no
// caller is authenticated, only the total counts.
//
//   CallerLimit streams("deadline streams", /*per_caller=*/4, /*total=*/32);
//   ASSIGN_OR_RETURN(CallerLimit::Ticket ticket, streams.Acquire(who));
//   ... serve the stream; the ticket is given back when it goes out of scope
//
// Thread-safe.
#pragma once

#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "libs/auth/principal.h"

namespace meldpunt::auth {

class CallerLimit {
 public:
  // Holds one place until destroyed (movable, not copyable).
  class Ticket {
   public:
    Ticket(Ticket&& other) noexcept : limit_(other.limit_), key_(std::move(other.key_)) {
      other.limit_ = nullptr;
    }
    Ticket& operator=(Ticket&&) = delete;
    ~Ticket() {
      if (limit_ != nullptr) limit_->Release(key_);
    }

   private:
    friend class CallerLimit;
    Ticket(CallerLimit* limit, std::string key) : limit_(limit), key_(std::move(key)) {}
    CallerLimit* limit_;
    std::string key_;
  };

  CallerLimit(std::string what, int per_caller, int total)
      : what_(std::move(what)), per_caller_(per_caller), total_(total) {}

  // A place, or RESOURCE_EXHAUSTED saying which limit was reached.
  absl::StatusOr<Ticket> Acquire(const Principal& who);
  int in_use() const;

 private:
  void Release(const std::string& key);

  const std::string what_;
  const int per_caller_;
  const int total_;
  mutable absl::Mutex mu_;  // guards the counts
  absl::flat_hash_map<std::string, int> by_caller_ ABSL_GUARDED_BY(mu_);
  int in_use_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace meldpunt::auth
