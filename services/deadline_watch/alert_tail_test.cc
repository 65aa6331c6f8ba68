// The alert stream's reader with a list of records as its source: warnings, breaches and
// escalations reach the hub's streams, everything else is passed by, a failed poll is waited out,
// and the reader says it follows the log once its source holds partitions. No Kafka.
#include "services/deadline_watch/alert_tail.h"

#include <deque>

#include <gtest/gtest.h>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"

namespace meldpunt::deadline {
namespace {

class ListSource : public AlertTail::Source {
 public:
  absl::StatusOr<std::optional<kafka::Record>> Poll(absl::Duration) override {
    absl::MutexLock lock(&mu);
    ++polls;
    if (queue.empty()) return std::optional<kafka::Record>();
    absl::StatusOr<std::optional<kafka::Record>> next = std::move(queue.front());
    queue.pop_front();
    return next;
  }
  bool Assigned() override {
    absl::MutexLock lock(&mu);
    return assigned;
  }
  void Close() override {
    absl::MutexLock lock(&mu);
    ++closed;
  }
  void Push(absl::StatusOr<std::optional<kafka::Record>> next) {
    absl::MutexLock lock(&mu);
    queue.push_back(std::move(next));
  }

  absl::Mutex mu;
  std::deque<absl::StatusOr<std::optional<kafka::Record>>> queue ABSL_GUARDED_BY(mu);
  bool assigned ABSL_GUARDED_BY(mu) = false;
  int closed ABSL_GUARDED_BY(mu) = 0;
  int polls ABSL_GUARDED_BY(mu) = 0;
};

std::optional<kafka::Record> Record(const std::function<void(events::Envelope&)>& set,
                                    const std::string& id) {
  events::Envelope e = events::NewEnvelope("MP-0123456789ABC", "deadline-watch",
                                           absl::FromUnixSeconds(1'763'800'000));
  set(e);
  events::Finish(e, id);
  kafka::Record r;
  r.key = e.case_id();
  r.value = events::Encode(e);
  return r;
}

class AlertTailTest : public ::testing::Test {
 protected:
  AlertTailTest() {
    auto source = std::make_unique<ListSource>();
    source_ = source.get();
    tail_ = std::make_unique<AlertTail>(std::move(source), hub_, absl::ZeroDuration());
    auto sub = hub_.Subscribe({});
    EXPECT_TRUE(sub.ok());
    sub_ = *sub;
  }

  AlertHub hub_;
  ListSource* source_;
  std::unique_ptr<AlertTail> tail_;
  std::shared_ptr<AlertHub::Subscription> sub_;
};

TEST_F(AlertTailTest, AlertsReachTheStreamsAndTheRestIsPassedBy) {
  source_->Push(Record(
      [](events::Envelope& e) {
        e.mutable_deadline_warning()->set_clock("answer");
        e.mutable_deadline_warning()->set_fraction(0.75);
        e.mutable_deadline_warning()->set_department("public-works");
      },
      "warning-1"));
  source_->Push(Record(
      [](events::Envelope& e) { e.mutable_case_submitted()->mutable_draft()->set_category("x"); },
      "submitted-1"));
  kafka::Record garbage;
  garbage.value = "not an envelope";
  source_->Push(std::optional<kafka::Record>(garbage));
  source_->Push(Record(
      [](events::Envelope& e) { e.mutable_deadline_breached()->set_clock("answer"); }, "breach-1"));
  for (int i = 0; i < 5; ++i) tail_->PollOnce();

  std::optional<v1::DeadlineAlert> first = sub_->Next(absl::ZeroDuration());
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->type(), v1::DeadlineAlert::WARNING);
  EXPECT_EQ(first->clock(), "answer");
  EXPECT_EQ(first->department(), "public-works");
  std::optional<v1::DeadlineAlert> second = sub_->Next(absl::ZeroDuration());
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->type(), v1::DeadlineAlert::BREACH);
  EXPECT_FALSE(sub_->Next(absl::ZeroDuration()).has_value());
}

TEST_F(AlertTailTest, FollowsTheLogOnceItsSourceHoldsPartitions) {
  tail_->PollOnce();
  EXPECT_FALSE(tail_->assigned());
  {
    absl::MutexLock lock(&source_->mu);
    source_->assigned = true;
  }
  // A failed poll says nothing of the assignment; the next one does.
  source_->Push(absl::UnavailableError("kafka: broker down"));
  tail_->PollOnce();
  EXPECT_FALSE(tail_->assigned());
  tail_->PollOnce();
  EXPECT_TRUE(tail_->assigned());
}

TEST_F(AlertTailTest, TheReaderRunsUntilStoppedAndClosesItsSource) {
  tail_->Start();
  source_->Push(
      Record([](events::Envelope& e) { e.mutable_case_escalated()->set_level(1); }, "escalated-1"));
  std::optional<v1::DeadlineAlert> alert = sub_->Next(absl::Seconds(10));
  ASSERT_TRUE(alert.has_value());
  EXPECT_EQ(alert->type(), v1::DeadlineAlert::ESCALATION);
  tail_->Stop();
  tail_->Stop();
  absl::MutexLock lock(&source_->mu);
  EXPECT_EQ(source_->closed, 1);
}

}  // namespace
}  // namespace meldpunt::deadline
