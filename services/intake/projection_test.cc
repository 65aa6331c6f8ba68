// The projection's fold and rebuild over the in-memory projection, marks and retention index, a
// fake live consumer and a replay of a list of events: no Kafka, no Redis. The live fold folds a
// run with one ApplyAll and holds while the projection is incomplete; the rebuild clears, folds
// the log in runs (ApplyAll, not Apply), restarts the live consumer at the first end and folds on
// to the second, counts the cases, and marks the projection only while it holds the lock.
#include "services/intake/projection.h"

#include <memory>
#include <vector>

#include <gtest/gtest.h>

#include "libs/service/testing/metric_values.h"
#include "libs/status/retry.h"
#include "libs/status/status_macros.h"
#include "services/intake/testing/events.h"
#include "services/intake/testing/memory_retention.h"
#include "services/intake/testing/memory_store.h"

namespace meldpunt::intake {
namespace {

const absl::Time kAt = absl::FromUnixSeconds(1'763'800'000);

class FakeConsumer : public service::LiveConsumer {
 public:
  absl::Status Start() override {
    steps.push_back("start");
    running = true;
    return absl::OkStatus();
  }
  void Stop() override {
    steps.push_back("stop");
    running = false;
  }
  std::vector<std::string> steps;
  bool running = true;
};

// Records as the log holds them: offsets in order, one partition.
std::vector<kafka::Record> Records(const std::vector<events::Envelope>& events, int64_t first) {
  std::vector<kafka::Record> records;
  for (size_t i = 0; i < events.size(); ++i) {
    kafka::Record r;
    r.topic = "meldpunt.case-events.v1";
    r.partition = 0;
    r.offset = first + static_cast<int64_t>(i);
    records.push_back(std::move(r));
  }
  return records;
}

// Hands `handle` the events as one Batch; the index of the first failure, if any.
std::optional<size_t> HandBatch(const events::BatchHandler& handle,
                                const std::vector<events::Envelope>& events, int64_t first,
                                absl::Status* error) {
  std::vector<kafka::Record> records = Records(events, first);
  std::vector<events::Batch::Item> items;
  for (size_t i = 0; i < events.size(); ++i) items.push_back({&records[i], events[i]});
  events::Batch batch(std::move(items));
  handle(batch);
  return batch.Finish(absl::Now(), error);
}

class ProjectionTest : public ::testing::Test {
 protected:
  ProjectionTest()
      : clock_(kAt),
        metrics_(registry_),
        fold_(store_, marks_, fold_watch_, metrics_, clock_),
        rebuild_(
            guard_, marks_, store_, fold_, consumer_,
            [this](absl::Time) {
              consumer_.steps.push_back("await joined");
              return true;
            },
            [this](const events::BatchHandler& handle, const std::function<absl::Status()>& reached)
                -> absl::StatusOr<int64_t> { return Replay(handle, reached); },
            {.check_interval = absl::Hours(1)}) {
    // The store's fence looks at the same marker (as the Redis script does), and it keeps the
    // retention index with the cases.
    store_.marker = &marks_.intact;
    store_.retention = &index_;
    store_.KeepRetention([](const std::string&) { return absl::Hours(24); });
  }

  // The fake replay: `log` up to `first_end` in runs of `run`, then `reached`, then the rest
  // (what was appended while the live consumer was stopped).
  absl::StatusOr<int64_t> Replay(const events::BatchHandler& handle,
                                 const std::function<absl::Status()>& reached) {
    auto fold = [&](size_t from, size_t to) -> absl::Status {
      for (size_t at = from; at < to; at += run) {
        std::vector<events::Envelope> part(log.begin() + at, log.begin() + std::min(to, at + run));
        absl::Status error;
        if (HandBatch(handle, part, static_cast<int64_t>(at), &error)) return error;
      }
      return absl::OkStatus();
    };
    if (!replay_error.ok()) return replay_error;
    RETURN_IF_ERROR(fold(0, first_end));
    RETURN_IF_ERROR(reached());
    RETURN_IF_ERROR(fold(first_end, log.size()));
    return static_cast<int64_t>(log.size());
  }

  double Projected(const std::string& outcome) {
    return service::CounterValue(registry_, "meldpunt_intake_projection_events_total",
                                 {{"outcome", outcome}});
  }

  std::vector<events::Envelope> log;
  size_t first_end = 0;
  size_t run = 2;
  absl::Status replay_error = absl::OkStatus();

  clock::FakeClock clock_;
  prometheus::Registry registry_;
  IntakeMetrics metrics_;
  testing::MemoryStore store_;
  testing::MemoryMarks marks_;
  testing::MemoryRetentionIndex index_;
  FoldWatch fold_watch_;
  service::RebuildGuard guard_{absl::Minutes(30)};
  FakeConsumer consumer_;
  ProjectionFold fold_;
  ProjectionRebuild rebuild_;
};

TEST_F(ProjectionTest, TheLiveFoldFoldsARunAtOnceAndDoesWhatFollows) {
  absl::Status error;
  const auto failed = HandBatch([this](events::Batch& b) { fold_.FoldLive(b); },
                                {testing::Submitted("c1", kAt), testing::Submitted("c2", kAt),
                                 testing::Withdrawn("c1", kAt + absl::Hours(1))},
                                0, &error);
  EXPECT_FALSE(failed.has_value()) << error;
  EXPECT_EQ(store_.apply_all_calls, 1);
  EXPECT_EQ(store_.cases["c1"].state(), types::v1::WITHDRAWN);
  EXPECT_EQ(Projected("applied"), 3);
  EXPECT_EQ(index_.due_by_case.count("c1"), 1u) << "the closed case is tracked for retention";

  // Again: every event a repeat.
  HandBatch([this](events::Batch& b) { fold_.FoldLive(b); }, {testing::Submitted("c1", kAt)}, 0,
            &error);
  EXPECT_EQ(Projected("duplicate"), 1);
}

TEST_F(ProjectionTest, AnEventOfACaseNeverSubmittedIsCountedAndSkipped) {
  absl::Status error;
  const auto failed =
      HandBatch([this](events::Batch& b) { fold_.FoldLive(b); },
                {testing::Withdrawn("nobody", kAt), testing::Submitted("c1", kAt)}, 0, &error);
  EXPECT_FALSE(failed.has_value()) << error;
  EXPECT_EQ(Projected("rejected"), 1);
  EXPECT_EQ(store_.cases.count("c1"), 1u);
}

TEST_F(ProjectionTest, TheLiveFoldHoldsInPlaceWhileTheProjectionIsIncomplete) {
  marks_.intact = false;
  absl::Status error;
  auto fold_live = [this](events::Batch& b) { fold_.FoldLive(b); };
  auto failed = HandBatch(fold_live, {testing::Submitted("c1", kAt)}, 0, &error);
  ASSERT_EQ(failed, std::optional<size_t>(0));
  EXPECT_TRUE(absl::IsUnavailable(error)) << error;
  EXPECT_EQ(status::RetryOf(error), status::Retry::kInPlace);
  EXPECT_EQ(error.message(),
            "the projection is being rebuilt from the log; live folding waits for it");
  EXPECT_TRUE(store_.cases.empty());
  EXPECT_TRUE(absl::IsUnavailable(fold_.FoldLiveOne(testing::Submitted("c1", kAt), -1)));

  // The marker is back: Redis is asked again only once 100 ms have passed.
  marks_.intact = true;
  const int asked = marks_.intact_asked;
  failed = HandBatch(fold_live, {testing::Submitted("c1", kAt)}, 0, &error);
  EXPECT_TRUE(failed.has_value());
  EXPECT_EQ(marks_.intact_asked, asked);
  clock_.Advance(absl::Milliseconds(100));
  failed = HandBatch(fold_live, {testing::Submitted("c1", kAt)}, 0, &error);
  EXPECT_FALSE(failed.has_value()) << error;
  EXPECT_EQ(store_.cases.count("c1"), 1u);
}

TEST_F(ProjectionTest, TheLiveFoldOfTheRebuildingReplicaHoldsToo) {
  // The replica that rebuilds has stopped its live consumer by then; once it is back (after the
  // first end), it holds as every replica does until the marker is set.
  marks_.intact = false;
  auto held = guard_.Enter("the projection", nullptr);
  ASSERT_TRUE(held.ok());
  absl::Status error;
  EXPECT_EQ(HandBatch([this](events::Batch& b) { fold_.FoldLive(b); },
                      {testing::Submitted("c1", kAt)}, 0, &error),
            std::optional<size_t>(0));
  EXPECT_EQ(error.message(), kLiveFoldHeldText);
  EXPECT_TRUE(store_.cases.empty());
}

TEST_F(ProjectionTest, ARedisErrorFailsTheRunFromItsStart) {
  store_.error = absl::UnavailableError("redis down");
  absl::Status error;
  EXPECT_EQ(HandBatch([this](events::Batch& b) { fold_.FoldLive(b); },
                      {testing::Submitted("c1", kAt), testing::Submitted("c2", kAt)}, 0, &error),
            std::optional<size_t>(0));
  EXPECT_TRUE(absl::IsUnavailable(error));
}

TEST_F(ProjectionTest, TheRebuildClearsAndFoldsTheLogInRunsRestartingTheConsumerAtTheFirstEnd) {
  // What Redis still held: gone after the rebuild (it is not on the log).
  ASSERT_TRUE(store_.Apply(testing::Submitted("stale", kAt), 0).ok());
  log = {testing::Submitted("c1", kAt), testing::Submitted("c2", kAt),
         testing::Withdrawn("c1", kAt + absl::Hours(1)), testing::Submitted("c3", kAt),
         // Appended while the live consumer was stopped, after the first end.
         testing::Submitted("c4", kAt), testing::Withdrawn("c4", kAt + absl::Hours(1))};
  first_end = 4;
  std::vector<std::string> hooked;
  rebuild_.SetHookForTest([&](const std::string& step) {
    hooked.push_back(step);
    EXPECT_EQ(store_.cases.size(), 3u) << "the log up to the first end is folded";
    EXPECT_FALSE(consumer_.running);
  });
  marks_.intact = false;

  absl::StatusOr<v1::RebuildProjectionResponse> rebuilt = rebuild_.Rebuild();
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.status();
  EXPECT_EQ(rebuilt->events(), 6);
  EXPECT_EQ(rebuilt->cases(), 4) << "the CaseSubmitted folded";
  EXPECT_EQ(store_.clears, 1);
  EXPECT_EQ(store_.cases.count("stale"), 0u);
  EXPECT_EQ(store_.cases.size(), 4u);
  EXPECT_EQ(store_.cases["c4"].state(), types::v1::WITHDRAWN);
  EXPECT_EQ(store_.apply_all_calls, 3) << "runs of two: [0,2) [2,4) then [4,6)";
  EXPECT_EQ(hooked, std::vector<std::string>{"replayed"});
  EXPECT_EQ(consumer_.steps, (std::vector<std::string>{"stop", "start", "await joined"}));
  EXPECT_TRUE(marks_.intact);
  EXPECT_TRUE(marks_.holder.empty()) << "the lock is given back";
  EXPECT_EQ(marks_.ttl, absl::Minutes(35)) << "the replay timeout and the margin";
  EXPECT_FALSE(guard_.running());
  EXPECT_EQ(index_.due_by_case.size(), 2u) << "retention kept by the rebuild's fold";
}

// The retention index is written in the same step as the case: a run that cannot write it
// writes nothing, so when it is handled again its events are not repeats and the index gets
// them. (With the index kept after the projection's write, the run came again as repeats, and
// a closed case never entered the index: its reporter's data would have been kept for good.)
TEST_F(ProjectionTest, ARunWhoseRetentionCannotBeWrittenWritesNothingAndIsKeptWhenItComesAgain) {
  absl::Status error;
  auto fold_live = [this](events::Batch& b) { fold_.FoldLive(b); };
  ASSERT_FALSE(HandBatch(fold_live, {testing::Submitted("c1", kAt)}, 0, &error).has_value());
  const std::vector<events::Envelope> run = {testing::Routed("c1", kAt + absl::Hours(1)),
                                             testing::Withdrawn("c1", kAt + absl::Hours(2))};
  index_.error = absl::UnavailableError("redis down");
  EXPECT_EQ(HandBatch(fold_live, run, 1, &error), std::optional<size_t>(0));
  EXPECT_TRUE(absl::IsUnavailable(error)) << error;
  EXPECT_EQ(store_.cases["c1"].state(), types::v1::RECEIVED) << "nothing of the run written";

  index_.error = absl::OkStatus();
  EXPECT_FALSE(HandBatch(fold_live, run, 1, &error).has_value()) << error;
  EXPECT_EQ(store_.cases["c1"].state(), types::v1::WITHDRAWN);
  ASSERT_EQ(index_.due_by_case.count("c1"), 1u);
  EXPECT_EQ(index_.due_by_case["c1"], kAt + absl::Hours(2) + absl::Hours(24));
}

TEST_F(ProjectionTest, AnOperatorsRebuildHoldsEveryReplicasLiveFoldBeforeItClears) {
  // The projection is complete (the marker set) when an operator asks for a rebuild on this
  // replica. Another replica's live fold (same Redis marks, no rebuild of its own) must hold from
  // before the clear until the marker is back.
  testing::MemoryStore other_store;
  FoldWatch other_watch;
  other_store.marker = &marks_.intact;
  ProjectionFold other(other_store, marks_, other_watch, metrics_, clock_);
  log = {testing::Submitted("c1", kAt)};
  first_end = 1;
  marks_.intact = true;
  bool held_at_replay = false;
  rebuild_.SetHookForTest([&](const std::string&) {
    EXPECT_FALSE(marks_.intact) << "the marker went before the clear";
    EXPECT_EQ(store_.clears, 1);
    clock_.Advance(absl::Milliseconds(100));  // past the other replica's cached answer
    absl::Status error;
    held_at_replay = HandBatch([&](events::Batch& b) { other.FoldLive(b); },
                               {testing::Submitted("c9", kAt)}, 0, &error)
                         .has_value() &&
                     absl::IsUnavailable(error);
  });
  absl::StatusOr<v1::RebuildProjectionResponse> rebuilt = rebuild_.Rebuild();
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.status();
  EXPECT_EQ(marks_.forgotten, 1);
  EXPECT_TRUE(held_at_replay) << "the other replica folded during the rebuild";
  EXPECT_TRUE(other_store.cases.empty());
  EXPECT_TRUE(marks_.intact) << "the marker is back at the end";
  // And the other replica folds again once it sees the marker.
  clock_.Advance(absl::Milliseconds(100));
  absl::Status error;
  EXPECT_FALSE(HandBatch([&](events::Batch& b) { other.FoldLive(b); },
                         {testing::Submitted("c9", kAt)}, 0, &error)
                   .has_value())
      << error;
}

TEST_F(ProjectionTest, AReplicaStillTrustingItsCachedMarkerWritesNothingOnceTheRebuildBegan) {
  // Another replica's live fold asked Redis for the marker just before the rebuild took it away:
  // its cached answer says complete for up to 100 ms more. The rebuild does not wait for that;
  // the store refuses the live write itself (the fence), so nothing lands after the clear.
  testing::MemoryStore other_store;
  other_store.marker = &marks_.intact;
  FoldWatch other_watch;
  ProjectionFold other(other_store, marks_, other_watch, metrics_, clock_);
  absl::Status error;
  ASSERT_FALSE(HandBatch([&](events::Batch& b) { other.FoldLive(b); },
                         {testing::Submitted("c8", kAt)}, 0, &error)
                   .has_value())
      << error;
  log = {testing::Submitted("c1", kAt)};
  first_end = 1;
  std::optional<size_t> failed;
  rebuild_.SetHookForTest([&](const std::string&) {
    EXPECT_EQ(store_.clears, 1) << "cleared with no wait";
    failed = HandBatch([&](events::Batch& b) { other.FoldLive(b); },
                       {testing::Submitted("c9", kAt)}, 0, &error);
  });
  ASSERT_TRUE(rebuild_.Rebuild().ok());
  EXPECT_EQ(failed, std::optional<size_t>(0)) << "the other replica wrote during the rebuild";
  EXPECT_EQ(error.message(), kLiveFoldHeldText);
  EXPECT_EQ(status::RetryOf(error), status::Retry::kInPlace);
  EXPECT_EQ(other_store.held_runs, 1) << "refused by the store, not by the cached marker";
  EXPECT_EQ(other_store.cases.count("c9"), 0u);
}

TEST_F(ProjectionTest, AFailedRunIsFoldedAgainAndCountsItsCasesOnce) {
  // The replay hands a failed run's rest again (ReplayCaseLog does): a run that failed at its
  // second event counted only its first.
  log = {testing::Submitted("c1", kAt), testing::Withdrawn("nobody", kAt)};
  std::atomic<int64_t> cases{0};
  store_.error = absl::OkStatus();
  absl::Status error;
  int calls = 0;
  auto handle = [&](events::Batch& b) {
    if (++calls == 1) return b.Fail(0, absl::UnavailableError("redis down"));
    fold_.FoldRun(b, &cases);
  };
  EXPECT_TRUE(HandBatch(handle, log, 0, &error).has_value());
  EXPECT_EQ(cases.load(), 0);
  EXPECT_FALSE(HandBatch(handle, log, 0, &error).has_value());
  EXPECT_EQ(cases.load(), 1);
}

TEST_F(ProjectionTest, ARebuildElsewhereIsAbortedAndTouchesNothing) {
  marks_.holder = "another replica";
  absl::StatusOr<v1::RebuildProjectionResponse> rebuilt = rebuild_.Rebuild();
  EXPECT_TRUE(absl::IsAborted(rebuilt.status()));
  EXPECT_EQ(rebuilt.status().message(), "another replica is rebuilding the projection");
  EXPECT_TRUE(consumer_.steps.empty());
  EXPECT_EQ(store_.clears, 0);
}

TEST_F(ProjectionTest, AFailedReplayStartsTheConsumerAgainAndLeavesTheMarkerUnset) {
  marks_.intact = false;
  replay_error = absl::DeadlineExceededError("the replay did not reach the end of the log");
  absl::StatusOr<v1::RebuildProjectionResponse> rebuilt = rebuild_.Rebuild();
  EXPECT_TRUE(absl::IsDeadlineExceeded(rebuilt.status()));
  EXPECT_EQ(consumer_.steps, (std::vector<std::string>{"stop", "start"}));
  EXPECT_FALSE(marks_.intact);
  EXPECT_TRUE(marks_.holder.empty());
}

TEST_F(ProjectionTest, AFailedClearStartsTheConsumerAgain) {
  store_.error = absl::UnavailableError("redis down");
  EXPECT_TRUE(absl::IsUnavailable(rebuild_.Rebuild().status()));
  EXPECT_EQ(consumer_.steps, (std::vector<std::string>{"stop", "start"}));
}

TEST_F(ProjectionTest, ALockLostBeforeTheEndLeavesTheMarkerUnset) {
  marks_.intact = false;
  marks_.lose_lock = true;
  absl::StatusOr<v1::RebuildProjectionResponse> rebuilt = rebuild_.Rebuild();
  EXPECT_TRUE(absl::IsAborted(rebuilt.status()));
  EXPECT_EQ(rebuilt.status().message(),
            "Redis lost the rebuild's lock before it ended; rebuilding again");
  EXPECT_FALSE(marks_.intact);
}

TEST_F(ProjectionTest, TheWatcherRebuildsOnlyWhenTheMarkerIsGone) {
  log = {testing::Submitted("c1", kAt)};
  first_end = 1;
  rebuild_.CheckOnce();
  EXPECT_EQ(store_.clears, 0);
  marks_.intact = false;
  rebuild_.CheckOnce();
  EXPECT_EQ(store_.clears, 1);
  EXPECT_TRUE(marks_.intact);
  EXPECT_EQ(store_.cases.count("c1"), 1u);
}

// The entry GetCaseHistory answers for an event: what a kept entry is completed to.
std::string EntryMessage(const events::Envelope& e, bool rejected = false,
                         const std::string& rejection = "") {
  v1::HistoryEntry entry;
  entry.set_event_id(e.event_id());
  entry.set_type(e.type());
  *entry.mutable_occurred_at() = e.occurred_at();
  *entry.mutable_actor() = e.actor();
  entry.set_producer(e.producer());
  entry.set_rejected(rejected);
  entry.set_rejection(rejection);
  *entry.mutable_event() = e;
  return entry.SerializeAsString();
}

// A history entry as the projection keeps it (one field `entries` of GetCaseHistoryResponse): the
// event, and for a refused one why.
std::string KeptEntry(const events::Envelope& e, bool rejected = false,
                      const std::string& rejection = "") {
  v1::GetCaseHistoryResponse history;
  v1::HistoryEntry* entry = history.add_entries();
  entry->set_rejected(rejected);
  entry->set_rejection(rejection);
  *entry->mutable_event() = e;
  return history.SerializeAsString();
}

std::string Appended(const events::Envelope& e, const std::string* bytes, bool rejected = false,
                     const std::string& rejection = "") {
  std::string history;
  AppendHistoryEntry(e, bytes, rejected, rejection, &history);
  return history;
}

// The history keeps the event as the log's bytes of it (FoldInput::encoded): the same entry as
// encoding the envelope again, a length of more than one varint byte included, and a field this
// version does not know kept as the log holds it. Read back, an entry has the fields that repeat
// its event filled in: the entry GetCaseHistory has always answered.
TEST(HistoryEntryTest, TheLogsBytesOfAnEventMakeTheSameEntryAsEncodingItAgain) {
  events::Envelope e = testing::Submitted("c1", kAt);
  e.mutable_case_submitted()->mutable_draft()->set_description(std::string(300, 'x'));
  e.mutable_actor()->set_id("staff-17");
  e.mutable_actor()->set_display_name("Desk 3");
  e.set_producer("intake");
  const std::string bytes = e.SerializeAsString();
  ASSERT_GT(bytes.size(), 128u);
  EXPECT_EQ(Appended(e, &bytes), Appended(e, nullptr));
  EXPECT_EQ(Appended(e, &bytes, true, "not open"), Appended(e, nullptr, true, "not open"));
  EXPECT_EQ(Appended(e, &bytes), KeptEntry(e));
  EXPECT_EQ(Appended(e, &bytes, true, "not open"), KeptEntry(e, true, "not open"));
  const std::string long_reason(200, 'r');  // a length of two varint bytes
  EXPECT_EQ(Appended(e, &bytes, true, long_reason), KeptEntry(e, true, long_reason));
  events::Envelope bare = e;
  bare.clear_actor();
  bare.clear_occurred_at();
  bare.clear_producer();
  const std::string bare_bytes = bare.SerializeAsString();
  EXPECT_EQ(Appended(bare, &bare_bytes), KeptEntry(bare));

  // Appended one after another, the entries parse as one history, each completed as the API
  // entry of its event.
  v1::GetCaseHistoryResponse history;
  ASSERT_TRUE(
      history.ParseFromString(Appended(e, &bytes, true, "not open") + Appended(bare, &bare_bytes)));
  ASSERT_EQ(history.entries_size(), 2);
  for (v1::HistoryEntry& entry : *history.mutable_entries()) CompleteHistoryEntry(entry);
  EXPECT_EQ(history.entries(0).SerializeAsString(), EntryMessage(e, true, "not open"));
  EXPECT_EQ(history.entries(1).SerializeAsString(), EntryMessage(bare));
  EXPECT_EQ(history.entries(0).event_id(), e.event_id());
  EXPECT_EQ(history.entries(0).type(), e.type());
  EXPECT_EQ(history.entries(0).actor().id(), "staff-17");
  EXPECT_TRUE(history.entries(0).rejected());
  EXPECT_EQ(history.entries(0).rejection(), "not open");
  EXPECT_EQ(history.entries(0).event().SerializeAsString(), bytes);

  // Field 4000, varint 7: written by a newer producer.
  const std::string newer = bytes + std::string("\x80\xfa\x01\x07", 4);
  events::Envelope parsed;
  ASSERT_TRUE(parsed.ParseFromString(newer));
  ASSERT_TRUE(history.ParseFromString(Appended(parsed, &newer)));
  ASSERT_EQ(history.entries_size(), 1);
  EXPECT_EQ(history.entries(0).event().SerializeAsString(), newer);
  EXPECT_EQ(history.entries(0).event().case_submitted().draft().description(),
            std::string(300, 'x'));
}

}  // namespace
}  // namespace meldpunt::intake
