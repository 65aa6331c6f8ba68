// ReplayCaseLog against the test stack's Kafka, in both forms: every record of the log up to its
// end is handled once the replay returns, including what is appended while `reached` runs; the
// batch form hands runs of records, folds a failed run's rest again (an outage) and passes over a
// record that cannot be handled. The log is shared with other tests: only this test's cases
// (a unique prefix) are counted.
#include "libs/service/replay.h"

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "libs/events/event_log.h"
#include "libs/service/wiring.h"
#include "libs/status/retry.h"
#include "tests/testing/stack.h"

namespace meldpunt::service {
namespace {

class ReplayIntegration : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override {
    auto stack = testing::LoadStack();
    ASSERT_TRUE(stack.ok()) << stack.status();
    testing::UseStackKafka(*stack, config_);
    config_.startup_timeout = absl::Seconds(30);
    config_.produce_timeout = absl::Seconds(10);
    ASSERT_TRUE(EnsureTopicsAtStart(config_).ok());
    auto producer = MakeProducer(config_, "replay-test");
    ASSERT_TRUE(producer.ok()) << producer.status();
    producer_ = std::move(*producer);
    log_ = std::make_unique<events::KafkaEventLog>(*producer_);
    prefix_ = testing::UniqueName("replay") + "-";
  }

  // Appends `n` events of this test's cases (ten cases, spread over the partitions).
  void Append(int n, const std::string& tag) {
    for (int i = 0; i < n; ++i) {
      events::Envelope e =
          events::NewEnvelope(absl::StrCat(prefix_, "case-", i % 10), "replay-test", absl::Now());
      e.mutable_case_withdrawn()->set_reason("test");
      events::Finish(e, absl::StrCat(prefix_, tag, "-", i));
      ASSERT_TRUE(log_->Append(e, absl::Now() + absl::Seconds(10)).ok());
    }
  }
  bool Ours(const events::Envelope& e) const { return absl::StartsWith(e.event_id(), prefix_); }

  config::ServiceConfig config_;
  std::unique_ptr<kafka::Producer> producer_;
  std::unique_ptr<events::KafkaEventLog> log_;
  std::string prefix_;
};

TEST_P(ReplayIntegration, TheBatchFormHandsRunsRetriesAnOutageAndPassesOverWhatCannotBeHandled) {
  Append(60, "before");
  const std::string outage = prefix_ + "before-17";    // fails twice in place, then is handled
  const std::string hopeless = prefix_ + "before-42";  // cannot be handled: passed over
  absl::Mutex mu;
  std::map<std::string, int> handled;  // our event id -> times handled for good
  int outages = 0;
  size_t largest_run = 0;
  const events::BatchHandler handle = [&](events::Batch& batch) {
    absl::MutexLock lock(&mu);
    largest_run = std::max(largest_run, batch.size());
    for (size_t i = 0; i < batch.size(); ++i) {
      const events::Envelope& e = batch.envelope(i);
      if (e.event_id() == outage && outages < 2) {
        ++outages;
        return batch.Fail(i, status::InPlace(absl::UnavailableError("redis down")));
      }
      if (e.event_id() == hopeless) {
        return batch.Fail(i, status::GiveUp(absl::InvalidArgumentError("bad record")));
      }
      if (Ours(e)) ++handled[e.event_id()];
    }
  };
  bool reached = false;
  absl::StatusOr<int64_t> records =
      ReplayCaseLog(config_, testing::UniqueName("replay-test"), absl::Minutes(2), handle,
                    GetParam(), [&]() -> absl::Status {
                      {
                        absl::MutexLock lock(&mu);
                        // Everything up to the first end is handled (the hopeless one passed over).
                        EXPECT_EQ(handled.size(), 59u);
                      }
                      reached = true;
                      Append(15, "during");
                      return absl::OkStatus();
                    });
  ASSERT_TRUE(records.ok()) << records.status();
  EXPECT_TRUE(reached);
  EXPECT_GE(*records, 75);
  absl::MutexLock lock(&mu);
  EXPECT_EQ(outages, 2);
  EXPECT_EQ(handled.count(hopeless), 0u);
  EXPECT_EQ(handled.size(), 74u) << "what was appended in `reached` is handled too";
  for (const auto& [id, times] : handled) EXPECT_EQ(times, 1) << id;
  std::cout << "largest run: " << largest_run << "\n";
}

TEST_P(ReplayIntegration, AnOutageThatOutlastsTheTimeoutFailsTheReplay) {
  Append(3, "before");
  const events::BatchHandler handle = [&](events::Batch& batch) {
    for (size_t i = 0; i < batch.size(); ++i) {
      if (Ours(batch.envelope(i))) {
        return batch.Fail(i, status::InPlace(absl::UnavailableError("redis down")));
      }
    }
  };
  absl::StatusOr<int64_t> records = ReplayCaseLog(config_, testing::UniqueName("replay-test"),
                                                  absl::Seconds(3), handle, GetParam());
  EXPECT_TRUE(absl::IsUnavailable(records.status()) || absl::IsDeadlineExceeded(records.status()))
      << records.status();
}

TEST_P(ReplayIntegration, TheRecordFormHandlesEveryRecordOnceAndWhatCameDuringReached) {
  Append(20, "before");
  absl::Mutex mu;
  std::map<std::string, int> handled;
  const ReplayHandler handle = [&](const events::Envelope& e, const kafka::Record&) {
    absl::MutexLock lock(&mu);
    if (Ours(e)) ++handled[e.event_id()];
    return absl::OkStatus();
  };
  absl::StatusOr<int64_t> records =
      ReplayCaseLog(config_, testing::UniqueName("replay-test"), absl::Minutes(2), handle,
                    GetParam(), [&]() -> absl::Status {
                      Append(5, "during");
                      return absl::OkStatus();
                    });
  ASSERT_TRUE(records.ok()) << records.status();
  absl::MutexLock lock(&mu);
  EXPECT_EQ(handled.size(), 25u);
  for (const auto& [id, times] : handled) EXPECT_EQ(times, 1) << id;
}

// The payloads a handler does nothing with are read and counted, not decoded or handed over.
TEST_P(ReplayIntegration, PayloadsPassedOverAreCountedButNotHandedOver) {
  Append(20, "withdrawn");
  for (int i = 0; i < 10; ++i) {
    events::Envelope e =
        events::NewEnvelope(absl::StrCat(prefix_, "case-", i), "replay-test", absl::Now());
    e.mutable_case_closed();
    events::Finish(e, absl::StrCat(prefix_, "closed-", i));
    ASSERT_TRUE(log_->Append(e, absl::Now() + absl::Seconds(10)).ok());
  }
  absl::Mutex mu;
  int closed = 0, withdrawn = 0;
  const events::BatchHandler handle = [&](events::Batch& batch) {
    absl::MutexLock lock(&mu);
    for (size_t i = 0; i < batch.size(); ++i) {
      if (!Ours(batch.envelope(i))) continue;
      closed += batch.envelope(i).has_case_closed();
      withdrawn += batch.envelope(i).has_case_withdrawn();
    }
  };
  absl::StatusOr<int64_t> records =
      ReplayCaseLog(config_, testing::UniqueName("replay-test"), absl::Minutes(2), handle,
                    GetParam(), nullptr, {events::Envelope::kCaseWithdrawnFieldNumber});
  ASSERT_TRUE(records.ok()) << records.status();
  EXPECT_GE(*records, 30) << "counted as read";
  absl::MutexLock lock(&mu);
  EXPECT_EQ(closed, 10);
  EXPECT_EQ(withdrawn, 0);
}

// The scan a rebuild runs beside its replay: every record up to the ends at its start, as its
// bytes, in log order within a partition, and nothing appended after that start; a visitor that
// answers false stops it at once.
TEST_P(ReplayIntegration, TheScanReadsEveryRecordToTheEndsAtItsStartAndStopsWhenTold) {
  Append(30, "before");
  std::map<int32_t, int64_t> last;  // partition -> last offset seen
  std::vector<std::string> ours;
  bool appended = false;
  absl::StatusOr<int64_t> records = ScanCaseLog(
      config_, testing::UniqueName("scan-test"), absl::Minutes(2),
      [&](const kafka::Record& record) {
        EXPECT_GT(record.offset, last.count(record.partition) ? last[record.partition] : -1);
        last[record.partition] = record.offset;
        absl::StatusOr<events::Envelope> e = events::Decode(record.value);
        if (e.ok() && Ours(*e)) ours.push_back(e->event_id());
        if (!appended) {
          appended = true;
          Append(5, "after");  // past the ends the scan read at its start
        }
        return true;
      });
  ASSERT_TRUE(records.ok()) << records.status();
  EXPECT_EQ(ours.size(), 30u) << "every record before the start, none after it";
  for (const std::string& id : ours) EXPECT_TRUE(absl::StrContains(id, "-before-")) << id;
  int visited = 0;
  records = ScanCaseLog(config_, testing::UniqueName("scan-test"), absl::Minutes(2),
                        [&](const kafka::Record&) { return ++visited < 3; });
  ASSERT_TRUE(records.ok()) << records.status();
  EXPECT_EQ(visited, 3);
  EXPECT_EQ(*records, 3);
}

INSTANTIATE_TEST_SUITE_P(Lanes, ReplayIntegration, ::testing::Values(1, 3));

}  // namespace
}  // namespace meldpunt::service
