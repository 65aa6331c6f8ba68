// The retention job over the in-memory projection and retention index: what a fold puts in the
// index and takes out, and a pass that erases what fell due through the logic's Erase (here a
// recording function). No Redis, no Kafka.
#include "services/intake/retention.h"

#include <vector>

#include <gtest/gtest.h>

#include "services/intake/testing/events.h"
#include "services/intake/testing/memory_retention.h"
#include "services/intake/testing/memory_store.h"

namespace meldpunt::intake {
namespace {

const absl::Time kAt = absl::FromUnixSeconds(1'763'800'000);
constexpr absl::Duration kTerm = absl::Hours(24 * 730);

class RetentionJobTest : public ::testing::Test {
 protected:
  RetentionJobTest()
      : clock_(kAt),
        job_(index_, store_,
             [this](Command command, absl::Time) -> absl::StatusOr<CommandResult> {
               erased_.push_back(command);
               if (!erase_error_.ok()) return erase_error_;
               return CommandResult();
             },
             clock_, {.term = [](const std::string& kind) {
               return kind == "REPORT" ? kTerm : absl::Hours(1);
             }}) {}

  // Folds `e` into the store and tracks it, as the projection's fold does.
  void Fold(const events::Envelope& e) {
    Case folded;
    ASSERT_EQ(store_.Apply(e, -1, &folded).value(), ApplyOutcome::kApplied);
    ASSERT_TRUE(job_.Track(e, folded).ok());
  }

  clock::FakeClock clock_;
  testing::MemoryStore store_;
  testing::MemoryRetentionIndex index_;
  std::vector<Command> erased_;
  absl::Status erase_error_ = absl::OkStatus();
  RetentionJob job_;
};

TEST_F(RetentionJobTest, AClosedCaseFallsDueItsTermAfterTheClosingAndAReopenTakesItOut) {
  Fold(testing::Submitted("c1", kAt));
  EXPECT_TRUE(index_.due_by_case.empty()) << "an open case keeps its data";
  Fold(testing::Withdrawn("c1", kAt + absl::Hours(2)));
  ASSERT_EQ(index_.due_by_case.count("c1"), 1u);
  EXPECT_EQ(index_.due_by_case["c1"], kAt + absl::Hours(2) + kTerm);

  // A later event on the closed case does not move the term (NX).
  events::Envelope routed = events::NewEnvelope("c1", "routing", kAt + absl::Hours(5));
  routed.mutable_case_routed()->set_department("public-works");
  events::Finish(routed, "routed-c1");
  Case closed = store_.cases["c1"];
  events::SetTime(closed.mutable_updated_at(), kAt + absl::Hours(5));
  ASSERT_TRUE(job_.Track(routed, closed).ok());
  EXPECT_EQ(index_.due_by_case["c1"], kAt + absl::Hours(2) + kTerm);

  events::Envelope reopened = events::NewEnvelope("c1", "intake", kAt + absl::Hours(6));
  reopened.mutable_case_reopened()->set_reason("not solved");
  events::Finish(reopened, "reopened-c1");
  ASSERT_TRUE(job_.Track(reopened, store_.cases["c1"]).ok());
  EXPECT_EQ(index_.due_by_case.count("c1"), 0u);
}

// A run's events are tracked at once, in their order: the index ends as tracking them one by one
// leaves it, after one change of it.
TEST_F(RetentionJobTest, TrackAllMakesARunsChangesInOrderAtOnce) {
  Fold(testing::Submitted("c1", kAt));
  Fold(testing::Submitted("c2", kAt));
  Fold(testing::Submitted("c3", kAt));
  const int before = index_.apply_calls;
  std::vector<events::Envelope> run = {testing::Withdrawn("c1", kAt + absl::Hours(2)),
                                       testing::Withdrawn("c2", kAt + absl::Hours(3))};
  events::Envelope reopened = events::NewEnvelope("c2", "intake", kAt + absl::Hours(4));
  reopened.mutable_case_reopened()->set_reason("not solved");
  events::Finish(reopened, "reopened-c2");
  std::vector<Case> folded;
  for (const events::Envelope& e : run) {
    Case after;
    ASSERT_EQ(store_.Apply(e, -1, &after).value(), ApplyOutcome::kApplied);
    folded.push_back(after);
  }
  // (As in the test above, the reopening is tracked with the case as it is: what the index does
  // with it does not depend on the state.)
  ASSERT_TRUE(
      job_.TrackAll({{&run[0], &folded[0]}, {&run[1], &folded[1]}, {&reopened, &folded[1]}}).ok());
  EXPECT_EQ(index_.apply_calls, before + 1);
  ASSERT_EQ(index_.due_by_case.count("c1"), 1u);
  EXPECT_EQ(index_.due_by_case["c1"], kAt + absl::Hours(2) + kTerm);
  EXPECT_EQ(index_.due_by_case.count("c2"), 0u) << "added, then taken out by the reopening";
  EXPECT_EQ(index_.due_by_case.count("c3"), 0u);
  // A run with nothing for the index changes nothing, in no call.
  events::Envelope routed = events::NewEnvelope("c3", "routing", kAt + absl::Hours(5));
  routed.mutable_case_routed()->set_department("public-works");
  events::Finish(routed, "routed-c3");
  ASSERT_TRUE(job_.TrackAll({{&routed, &store_.cases["c3"]}}).ok());
  EXPECT_EQ(index_.apply_calls, before + 1);
}

TEST_F(RetentionJobTest, ACaseWithoutSealedDataIsNotTracked) {
  events::Envelope submitted = testing::Submitted("c1", kAt);
  submitted.mutable_case_submitted()->mutable_draft()->mutable_reporter()->clear_sealed();
  Fold(submitted);
  Fold(testing::Withdrawn("c1", kAt));
  EXPECT_TRUE(index_.due_by_case.empty());
}

TEST_F(RetentionJobTest, APassErasesWhatFellDueAsTheRetentionService) {
  Fold(testing::Submitted("c1", kAt));
  Fold(testing::Withdrawn("c1", kAt));
  Fold(testing::Submitted("c2", kAt));
  Fold(testing::Withdrawn("c2", kAt + absl::Hours(48)));

  EXPECT_EQ(job_.EraseDue(kAt + kTerm - absl::Seconds(1)).value(), 0);
  EXPECT_TRUE(erased_.empty());
  clock_.Set(kAt + kTerm);
  EXPECT_EQ(job_.RunOnce().value(), 1);
  ASSERT_EQ(erased_.size(), 1u);
  EXPECT_EQ(erased_[0].case_ref, "c1");
  EXPECT_EQ(erased_[0].command_id, "retention");
  EXPECT_EQ(erased_[0].actor.id(), "service:retention");
  EXPECT_EQ(index_.due_by_case.count("c1"), 0u);
  EXPECT_EQ(index_.due_by_case.count("c2"), 1u);
}

TEST_F(RetentionJobTest, ACaseGoneFromTheProjectionLeavesTheIndexWithoutAnErasure) {
  index_.due_by_case["gone"] = kAt;
  EXPECT_EQ(job_.EraseDue(kAt).value(), 0);
  EXPECT_TRUE(erased_.empty());
  EXPECT_TRUE(index_.due_by_case.empty());
}

// While a rebuild runs, a case its replay has not written yet is missing from the projection:
// the pass waits for the marker instead of taking the case as gone.
TEST(RetentionJobRebuild, APassWhileTheProjectionIsIncompleteChangesNothing) {
  clock::FakeClock clock(kAt);
  testing::MemoryStore store;
  testing::MemoryRetentionIndex index;
  bool intact = false;
  int erasures = 0;
  RetentionJob job(
      index, store,
      [&](Command, absl::Time) -> absl::StatusOr<CommandResult> {
        ++erasures;
        return CommandResult();
      },
      clock, {.term = [](const std::string&) { return kTerm; }, .intact = [&] { return intact; }});
  index.due_by_case["not-replayed-yet"] = kAt;
  EXPECT_EQ(job.EraseDue(kAt).value(), 0);
  EXPECT_EQ(index.due_by_case.count("not-replayed-yet"), 1u);
  intact = true;
  EXPECT_EQ(job.EraseDue(kAt).value(), 0);
  EXPECT_TRUE(index.due_by_case.empty()) << "complete, the case is gone";
  EXPECT_EQ(erasures, 0);
}

TEST_F(RetentionJobTest, AFailedErasureStaysDueForTheNextPass) {
  Fold(testing::Submitted("c1", kAt));
  Fold(testing::Withdrawn("c1", kAt));
  erase_error_ = absl::UnavailableError("kafka down");
  EXPECT_TRUE(absl::IsUnavailable(job_.EraseDue(kAt + kTerm).status()));
  EXPECT_EQ(index_.due_by_case.count("c1"), 1u);
  erase_error_ = absl::OkStatus();
  EXPECT_EQ(job_.EraseDue(kAt + kTerm).value(), 1);
  EXPECT_TRUE(index_.due_by_case.empty());
}

}  // namespace
}  // namespace meldpunt::intake
