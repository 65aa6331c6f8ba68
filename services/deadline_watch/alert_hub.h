// Fans deadline alerts (warnings, breaches, escalations read from the case log) out to the
// WatchDeadlines streams. Each subscriber has a bounded queue: a dashboard that stops reading
// loses its oldest alerts (counted), never holds up the others. An alert whose event id was
// already published (a repeated firing) is not sent again.
//
//   auto sub = hub.Subscribe({.department = "public-works"});
//   while (auto alert = sub->Next(absl::Seconds(1))) stream->Write(*alert);
#pragma once

#include <deque>
#include <list>
#include <memory>
#include <optional>
#include <string>

#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "libs/events/codec.h"
#include "meldpunt/deadline/v1/deadline.pb.h"

namespace meldpunt::deadline {

// The alert an event stands for, or nullopt when it is not a warning, breach or escalation.
std::optional<v1::DeadlineAlert> AlertFor(const events::Envelope& envelope);

class AlertHub {
 public:
  struct Filter {
    std::string department;
    std::string kind;
  };

  class Subscription {
   public:
    // The next alert, or nullopt after `timeout` or once the hub is closed.
    std::optional<v1::DeadlineAlert> Next(absl::Duration timeout);
    int64_t dropped() const;

   private:
    friend class AlertHub;
    Filter filter_;
    mutable absl::Mutex mu_;
    std::deque<v1::DeadlineAlert> queue_ ABSL_GUARDED_BY(mu_);
    int64_t dropped_ ABSL_GUARDED_BY(mu_) = 0;
    bool closed_ ABSL_GUARDED_BY(mu_) = false;
  };

  explicit AlertHub(size_t max_subscribers = 32, size_t queue_limit = 1000)
      : max_subscribers_(max_subscribers), queue_limit_(queue_limit) {}

  // RESOURCE_EXHAUSTED when max_subscribers streams are open.
  absl::StatusOr<std::shared_ptr<Subscription>> Subscribe(Filter filter);
  void Unsubscribe(const std::shared_ptr<Subscription>& subscription);
  void Publish(const v1::DeadlineAlert& alert);
  // Wakes every subscriber with nullopt (shutdown).
  void Close();
  size_t subscribers() const;
  bool closed() const;

 private:
  const size_t max_subscribers_;
  const size_t queue_limit_;
  mutable absl::Mutex mu_;
  std::list<std::shared_ptr<Subscription>> subscribers_ ABSL_GUARDED_BY(mu_);
  // Recent event ids, to send a repeated firing once.
  absl::flat_hash_set<std::string> seen_ ABSL_GUARDED_BY(mu_);
  std::deque<std::string> seen_order_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace meldpunt::deadline
