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
             clock_, {}) {
    store_.retention = &index_;
    store_.KeepRetention(
        [](const std::string& kind) { return kind == "REPORT" ? kTerm : absl::Hours(1); });
  }

  // Folds `e` into the store, which keeps the index with the case.
  void Fold(const events::Envelope& e) {
    ASSERT_EQ(store_.Apply(e, -1).value(), ApplyOutcome::kApplied) << e.event_id();
  }

  clock::FakeClock clock_;
  testing::MemoryRetentionIndex index_;
  testing::MemoryStore store_;
  std::vector<Command> erased_;
  absl::Status erase_error_ = absl::OkStatus();
  RetentionJob job_;
};

TEST_F(RetentionJobTest, AClosedCaseFallsDueItsTermAfterTheClosingAndAReopenTakesItOut) {
  Fold(testing::Submitted("c1", kAt));
  Fold(testing::Routed("c1", kAt + absl::Hours(1)));
  EXPECT_TRUE(index_.due_by_case.empty()) << "an open case keeps its data";
  Fold(testing::Answered("c1", kAt + absl::Hours(2)));
  ASSERT_EQ(index_.due_by_case.count("c1"), 1u);
  EXPECT_EQ(index_.due_by_case["c1"], kAt + absl::Hours(2) + kTerm);

  // A later event on the answered case does not move the term (NX).
  Fold(testing::Delivered("c1", kAt + absl::Hours(5)));
  EXPECT_EQ(index_.due_by_case["c1"], kAt + absl::Hours(2) + kTerm);

  Fold(testing::Reopened("c1", kAt + absl::Hours(6)));
  EXPECT_EQ(index_.due_by_case.count("c1"), 0u);
  Fold(testing::Answered("c1", kAt + absl::Hours(7), 2));
  EXPECT_EQ(index_.due_by_case["c1"], kAt + absl::Hours(7) + kTerm) << "a new term";
}

// A case's changes in one run as one write: what ZADD NX and ZREM, in their order, leave.
TEST(RetentionStepTest, ARunsChangesOfACaseLeaveWhatTheyLeaveOneByOne) {
  const absl::Time first = kAt + kTerm;
  const absl::Time later = first + absl::Hours(1);
  const RetentionChange add_first{"c1", first};
  const RetentionChange add_later{"c1", later};
  const RetentionChange remove{"c1", std::nullopt};
  using Op = RetentionStep::Op;

  RetentionStep none;
  EXPECT_EQ(none.op(), Op::kNone);

  RetentionStep added;
  added.Then(add_first);
  added.Then(add_later);
  EXPECT_EQ(added.op(), Op::kAddUnlessIn) << "a term already there stays";
  EXPECT_EQ(added.due(), first);

  RetentionStep added_removed;
  added_removed.Then(add_first);
  added_removed.Then(remove);
  EXPECT_EQ(added_removed.op(), Op::kRemove);

  RetentionStep removed_added;
  removed_added.Then(remove);
  removed_added.Then(add_later);
  removed_added.Then(add_first);
  EXPECT_EQ(removed_added.op(), Op::kSet) << "after the removal nothing is in: the term is set";
  EXPECT_EQ(removed_added.due(), later);

  removed_added.Then(remove);
  EXPECT_EQ(removed_added.op(), Op::kRemove);
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
  testing::MemoryRetentionIndex index;
  testing::MemoryStore store;
  bool intact = false;
  int erasures = 0;
  RetentionJob job(index, store,
                   [&](Command, absl::Time) -> absl::StatusOr<CommandResult> {
                     ++erasures;
                     return CommandResult();
                   },
                   clock, {.intact = [&] { return intact; }});
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
