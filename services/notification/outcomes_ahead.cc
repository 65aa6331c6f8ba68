#include "services/notification/outcomes_ahead.h"

#include <algorithm>
#include <utility>

namespace meldpunt::notification {

const std::string* OutcomeKeyOf(const events::Envelope& e) {
  if (e.has_notification_delivered()) return &e.notification_delivered().idempotency_key();
  if (e.has_notification_failed() && e.notification_failed().dead_lettered()) {
    return &e.notification_failed().idempotency_key();
  }
  return nullptr;
}

std::optional<KnownOutcome> OutcomeOf(const events::Envelope& e, int32_t partition,
                                      int64_t offset) {
  if (OutcomeKeyOf(e) == nullptr) return std::nullopt;
  KnownOutcome o;
  o.partition = partition;
  o.offset = offset;
  o.at = e.occurred_at();
  if (e.has_notification_delivered()) {
    o.delivered = true;
    o.attempts = e.notification_delivered().attempts();
  } else {
    o.attempts = e.notification_failed().attempts();
    o.last_error = e.notification_failed().last_error();
  }
  return o;
}

bool MayBeOutcomeOrErasure(const std::string& bytes) {
  const int field = events::PayloadField(bytes);
  return field == 0 ||  // not an envelope after all: decoding it says so
         field == events::Envelope::kNotificationDeliveredFieldNumber ||
         field == events::Envelope::kNotificationFailedFieldNumber ||
         field == events::Envelope::kReporterDataErasedFieldNumber;
}

bool OutcomesAhead::Note(const events::Envelope& e, int32_t partition, int64_t offset) {
  absl::MutexLock lock(&mu_);
  if (closed_) return false;
  if (e.has_reporter_data_erased()) {
    erasures_[e.case_id()].emplace_back(partition, offset);
    return true;
  }
  std::optional<KnownOutcome> outcome = OutcomeOf(e, partition, offset);
  if (!outcome) return true;
  if (auto passed = passed_.find(partition); passed != passed_.end() && offset <= passed->second) {
    return true;  // the replay has met it: its message is made already
  }
  const std::string& key = *OutcomeKeyOf(e);  // an outcome: it has one
  if (!messages_.contains(key)) {
    auto room = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
      return closed_ || messages_.size() < capacity_;
    };
    mu_.Await(absl::Condition(&room));
    if (closed_) return false;
  }
  Message& m = messages_[key];
  if (m.made) return true;  // its record is final: what comes after it is applied as it comes
  if (m.partition == -1) m.partition = partition;
  if (m.partition != partition) m.partition = -2;  // the long way
  m.last = offset;
  m.outcomes.push_back(*std::move(outcome));
  return true;
}

void OutcomesAhead::Close() {
  absl::MutexLock lock(&mu_);
  closed_ = true;
}

std::vector<KnownOutcome> OutcomesAhead::Delivered(const std::string& case_id, int32_t partition,
                                                   int64_t offset, const std::string& key) {
  absl::MutexLock lock(&mu_);
  auto it = messages_.find(key);
  if (it == messages_.end() || it->second.made || it->second.partition != partition) return {};
  Message& m = it->second;
  // Once handed out, no further: a message made twice is made the same.
  const int64_t upto = m.handed >= 0 ? m.handed : m.last;
  std::vector<KnownOutcome> out;
  for (const KnownOutcome& o : m.outcomes) {
    if (o.offset > offset && o.offset <= upto) out.push_back(o);
  }
  if (out.empty() || !out.back().delivered) return {};
  // An erasure between the event and the delivery changes the record on the way (it is
  // cancelled, its hint goes): the replay makes that one step by step.
  if (auto erased = erasures_.find(case_id); erased != erasures_.end()) {
    const int64_t last = out.back().offset;
    for (const auto& [on, at] : erased->second) {
      if (on != partition || (at > offset && at <= last)) return {};
    }
  }
  m.handed = out.back().offset;
  return out;
}

void OutcomesAhead::Made(const std::string& key) {
  absl::MutexLock lock(&mu_);
  auto it = messages_.find(key);
  if (it == messages_.end() || it->second.handed < 0) return;
  it->second.made = true;
  it->second.outcomes.clear();
  it->second.outcomes.shrink_to_fit();
}

bool OutcomesAhead::Covered(const std::string& key, int64_t offset) {
  absl::MutexLock lock(&mu_);
  auto it = messages_.find(key);
  if (it == messages_.end()) return false;
  const Message& m = it->second;
  const bool covered = m.made && offset <= m.handed;
  // Met its last outcome noted: nothing more to know of it (the scan may note a later one, which
  // is applied as it comes).
  if (offset >= m.last && offset >= m.handed) messages_.erase(it);
  return covered;
}

void OutcomesAhead::Passed(int32_t partition, int64_t offset) {
  absl::MutexLock lock(&mu_);
  int64_t& passed = passed_.try_emplace(partition, -1).first->second;
  passed = std::max(passed, offset);
}

size_t OutcomesAhead::size() {
  absl::MutexLock lock(&mu_);
  return messages_.size();
}

}  // namespace meldpunt::notification
