#include "services/deadline_watch/alert_hub.h"

namespace meldpunt::deadline {

std::optional<v1::DeadlineAlert> AlertFor(const events::Envelope& e) {
  v1::DeadlineAlert a;
  if (e.has_deadline_warning()) {
    const auto& w = e.deadline_warning();
    a.set_type(v1::DeadlineAlert::WARNING);
    a.set_clock(w.clock());
    a.set_generation(w.generation());
    *a.mutable_due_at() = w.due_at();
    a.set_fraction(w.fraction());
    a.set_department(w.department());
    a.set_kind(w.kind());
  } else if (e.has_deadline_breached()) {
    const auto& b = e.deadline_breached();
    a.set_type(v1::DeadlineAlert::BREACH);
    a.set_clock(b.clock());
    a.set_generation(b.generation());
    *a.mutable_due_at() = b.due_at();
    a.set_department(b.department());
    a.set_kind(b.kind());
  } else if (e.has_case_escalated()) {
    const auto& x = e.case_escalated();
    a.set_type(v1::DeadlineAlert::ESCALATION);
    a.set_clock(x.clock());
    a.set_generation(x.generation());
    *a.mutable_due_at() = x.due_at();
    a.set_level(x.level());
    a.set_target(x.target());
    a.set_department(x.department());
  } else {
    return std::nullopt;
  }
  a.set_event_id(e.event_id());
  a.set_case_id(e.case_id());
  *a.mutable_occurred_at() = e.occurred_at();
  return a;
}

std::optional<v1::DeadlineAlert> AlertHub::Subscription::Next(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto ready = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return !queue_.empty() || closed_; };
  mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
  if (queue_.empty()) return std::nullopt;
  v1::DeadlineAlert alert = std::move(queue_.front());
  queue_.pop_front();
  return alert;
}

int64_t AlertHub::Subscription::dropped() const {
  absl::MutexLock lock(&mu_);
  return dropped_;
}

absl::StatusOr<std::shared_ptr<AlertHub::Subscription>> AlertHub::Subscribe(Filter filter) {
  absl::MutexLock lock(&mu_);
  if (closed_) return absl::UnavailableError("deadline-watch is shutting down");
  if (subscribers_.size() >= max_subscribers_) {
    return absl::ResourceExhaustedError("too many WatchDeadlines streams open on this replica");
  }
  auto sub = std::make_shared<Subscription>();
  sub->filter_ = std::move(filter);
  subscribers_.push_back(sub);
  return sub;
}

void AlertHub::Unsubscribe(const std::shared_ptr<Subscription>& subscription) {
  absl::MutexLock lock(&mu_);
  subscribers_.remove(subscription);
}

void AlertHub::Publish(const v1::DeadlineAlert& alert) {
  absl::MutexLock lock(&mu_);
  if (!seen_.insert(alert.event_id()).second) return;
  seen_order_.push_back(alert.event_id());
  if (seen_order_.size() > 10000) {
    seen_.erase(seen_order_.front());
    seen_order_.pop_front();
  }
  for (const auto& sub : subscribers_) {
    if (!sub->filter_.department.empty() && sub->filter_.department != alert.department()) continue;
    if (!sub->filter_.kind.empty() && sub->filter_.kind != alert.kind()) continue;
    absl::MutexLock sub_lock(&sub->mu_);
    if (sub->queue_.size() >= queue_limit_) {
      sub->queue_.pop_front();
      ++sub->dropped_;
    }
    sub->queue_.push_back(alert);
  }
}

void AlertHub::Close() {
  absl::MutexLock lock(&mu_);
  closed_ = true;
  for (const auto& sub : subscribers_) {
    absl::MutexLock sub_lock(&sub->mu_);
    sub->closed_ = true;
  }
}

bool AlertHub::closed() const {
  absl::MutexLock lock(&mu_);
  return closed_;
}

size_t AlertHub::subscribers() const {
  absl::MutexLock lock(&mu_);
  return subscribers_.size();
}

}  // namespace meldpunt::deadline
