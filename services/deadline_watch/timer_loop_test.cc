// Deadline-watch's behaviour beside its app, with an in-memory timer store, a fake record sink, a
// fake clock, a fake live consumer and a replay of a list of events: no Kafka, no Redis.
// - TimerLoop: fires the due timers of the assigned partitions only, nothing while a rebuild runs
//   anywhere, a rebuild when the marker is gone, the gauges;
// - TimerRebuild: the consumer stopped before the clear and started after, the marker set last,
//   one rebuild at a time, a failure that keeps following the log;
// - DeadlineHandler: clock events appended and counted, held in place during another replica's
//   rebuild.
#include "services/deadline_watch/timer_loop.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "libs/events/topics.h"
#include "libs/service/testing/fake_record_sink.h"
#include "libs/service/testing/metric_values.h"
#include "libs/status/retry.h"
#include "libs/status/status_macros.h"
#include "prometheus/registry.h"
#include "services/deadline_watch/deadline_handler.h"
#include "services/deadline_watch/testing/memory_timer_store.h"
#include "services/deadline_watch/timer_rebuild.h"

namespace meldpunt::deadline {
namespace {

namespace t = ::meldpunt::types::v1;

const absl::Time kStart = absl::FromUnixSeconds(1'763'800'000);

std::vector<ClockPolicy> Policies() {
  auto parsed = ParsePolicies(YAML::Load(R"(
- {name: acknowledge, kinds: [COMPLAINT, REPORT], duration: 240h, warn_at: [0.75], stop_on: [acknowledged, closed]}
- {name: answer, kinds: [COMPLAINT], duration: 1080h, warn_at: [0.5, 0.9], stop_on: [answered, closed]}
)"));
  EXPECT_TRUE(parsed.ok()) << parsed.status();
  return *parsed;
}

events::Envelope Submitted(const std::string& case_id, t::CaseKind kind = t::REPORT) {
  events::Envelope e = events::NewEnvelope(case_id, "intake", kStart);
  e.mutable_case_submitted()->mutable_draft()->set_kind(kind);
  events::Finish(e, absl::StrCat("submitted-", case_id));
  return e;
}

kafka::Record RecordOf(const events::Envelope& e, int32_t partition) {
  kafka::Record r;
  r.topic = events::kCaseEventsTopic;
  r.partition = partition;
  r.key = e.case_id();
  r.value = events::Encode(e);
  return r;
}

std::vector<kafka::TopicPartition> Partitions(std::vector<int32_t> ids) {
  std::vector<kafka::TopicPartition> out;
  for (int32_t p : ids) out.push_back({events::kCaseEventsTopic, p});
  return out;
}

// The rebuild lock another replica may hold.
class FakeTimerLock : public TimerRebuildLock {
 public:
  absl::StatusOr<bool> TryLockRebuild(const std::string& owner, absl::Duration ttl) override {
    if (!holder.empty()) return false;
    holder = owner;
    this->ttl = ttl;
    return true;
  }
  absl::Status UnlockRebuild(const std::string& owner) override {
    if (holder == owner) holder.clear();
    return absl::OkStatus();
  }
  absl::StatusOr<bool> RebuildRunning() override { return !holder.empty(); }
  std::string holder;
  absl::Duration ttl;
};

// The live consumer: what was done to it, in order.
class FakeConsumer : public service::LiveConsumer {
 public:
  absl::Status Start() override {
    calls.push_back("start");
    running = true;
    return absl::OkStatus();
  }
  void Stop() override {
    calls.push_back("stop");
    running = false;
  }
  std::vector<std::string> calls;
  bool running = false;
};

class DeadlineWatchTest : public ::testing::Test {
 protected:
  DeadlineWatchTest()
      : clock_(kStart),
        calendar_(*calendar::BusinessCalendar::Create({})),
        logic_(store_, clock_, calendar_, Policies(), {.lease = absl::Seconds(30)}),
        guard_(absl::Minutes(30)),
        metrics_(registry_),
        rebuild_(guard_, lock_, store_, logic_, consumer_,
                 [this](const events::BatchHandler& handle,
                        const std::function<absl::Status()>&) -> absl::StatusOr<int64_t> {
                   replay_saw_consumer_running_ = consumer_.running;
                   replay_saw_clears_ = store_.clears;
                   if (during_replay_) during_replay_();
                   if (!replay_error_.ok()) return replay_error_;
                   // The whole log as one run, as a replay lane hands it over.
                   std::vector<kafka::Record> records;
                   records.reserve(log_.size());
                   for (const auto& [envelope, partition] : log_)
                     records.push_back(RecordOf(envelope, partition));
                   std::vector<events::Batch::Item> items;
                   for (size_t i = 0; i < log_.size(); ++i)
                     items.push_back({&records[i], log_[i].first});
                   events::Batch batch(std::move(items));
                   handle(batch);
                   absl::Status error;
                   if (batch.Finish(absl::Now() + absl::Seconds(5), &error)) return error;
                   return static_cast<int64_t>(log_.size());
                 }),
        handler_(logic_, rebuild_, sink_, metrics_, absl::Seconds(10)),
        loop_(logic_, store_, sink_, rebuild_, metrics_, clock_,
              {.poll_interval = absl::Milliseconds(1),
               .produce_timeout = absl::Seconds(10),
               .claim_limit = 500,
               .check_every = 3}) {}

  // A case event through the handler, as the consumer gives it, and into the log for a replay.
  void Consume(const events::Envelope& e, int32_t partition) {
    ASSERT_TRUE(handler_.Handle(e, RecordOf(e, partition)).ok());
    log_.emplace_back(e, partition);
  }

  std::vector<events::Envelope> Appended() {
    std::vector<events::Envelope> out;
    for (const kafka::Message& m : sink_.SentTo(events::kCaseEventsTopic)) {
      absl::StatusOr<events::Envelope> e = events::Decode(m.value);
      EXPECT_TRUE(e.ok());
      if (e.ok()) out.push_back(*e);
    }
    return out;
  }
  std::vector<events::Envelope> Fired() {
    std::vector<events::Envelope> out;
    for (events::Envelope& e : Appended())
      if (e.has_deadline_warning() || e.has_deadline_breached()) out.push_back(std::move(e));
    return out;
  }

  MemoryTimerStore store_;
  clock::FakeClock clock_;
  calendar::BusinessCalendar calendar_;
  DeadlineLogic logic_;
  service::RebuildGuard guard_;
  FakeTimerLock lock_;
  FakeConsumer consumer_;
  prometheus::Registry registry_;
  DeadlineMetrics metrics_;
  service::FakeRecordSink sink_;
  std::vector<std::pair<events::Envelope, int32_t>> log_;
  absl::Status replay_error_;
  std::function<void()> during_replay_;
  bool replay_saw_consumer_running_ = true;
  int replay_saw_clears_ = 0;
  TimerRebuild rebuild_;
  DeadlineHandler handler_;
  TimerLoop loop_;
};

TEST_F(DeadlineWatchTest, TheHandlerAppendsAndCountsTheClockEvents) {
  Consume(Submitted("MP-0000000000001", t::COMPLAINT), 0);
  std::vector<events::Envelope> out = Appended();
  ASSERT_EQ(out.size(), 1u) << "one record for the clocks the submission started";
  EXPECT_EQ(out[0].type(), "ClocksStarted");
  ASSERT_EQ(out[0].clocks_started().clocks_size(), 2) << "acknowledge and answer";
  EXPECT_EQ(out[0].clocks_started().clocks(0).clock(), "acknowledge");
  EXPECT_EQ(out[0].clocks_started().clocks(1).clock(), "answer");
  EXPECT_EQ(service::CounterValue(registry_, "meldpunt_deadline_clock_events_total",
                                  {{"type", "ClocksStarted"}}),
            1);
  // A failed append is the handler's error: the event is handled again, with the same ids.
  sink_.FailDeliveries(absl::UnavailableError("kafka: broker down"));
  events::Envelope other = Submitted("MP-0000000000002", t::COMPLAINT);
  EXPECT_EQ(handler_.Handle(other, RecordOf(other, 0)),
            absl::UnavailableError("kafka: broker down"));
}

TEST_F(DeadlineWatchTest, InABatchTheClockEventsAreInFlightUntilTheBatchWaits) {
  sink_.Hold();
  events::Envelope first = Submitted("MP-0000000000003", t::COMPLAINT);
  events::Envelope second = Submitted("MP-0000000000004", t::COMPLAINT);
  kafka::Record records[2] = {RecordOf(first, 0), RecordOf(second, 0)};
  std::vector<events::Batch::Item> items = {{&records[0], first}, {&records[1], second}};
  events::Batch batch(std::move(items));
  handler_.Handle(batch);  // returns with every clock event in flight
  EXPECT_EQ(sink_.Sent().size(), 2u) << "one ClocksStarted for each submission";
  sink_.Acknowledge();
  absl::Status error;
  EXPECT_EQ(batch.Finish(absl::Now() + absl::Seconds(5), &error), std::nullopt) << error;

  // A failed append ends the batch at its record: it and the ones after it come again.
  sink_.FailDeliveries(absl::UnavailableError("kafka: broker down"));
  events::Envelope third = Submitted("MP-0000000000005", t::COMPLAINT);
  kafka::Record record = RecordOf(third, 0);
  std::vector<events::Batch::Item> more = {{&record, third}};
  events::Batch failing(std::move(more));
  handler_.Handle(failing);
  EXPECT_EQ(failing.Finish(absl::Now() + absl::Seconds(5), &error), std::optional<size_t>(0));
  EXPECT_EQ(error, absl::UnavailableError("kafka: broker down"));
}

TEST_F(DeadlineWatchTest, ABatchReadsItsCasesAtOnceAndWritesThemAtOnce) {
  std::vector<events::Envelope> envelopes = {Submitted("MP-0000000000006", t::COMPLAINT),
                                             Submitted("MP-0000000000007", t::COMPLAINT),
                                             Submitted("MP-0000000000008", t::REPORT)};
  std::vector<kafka::Record> records;
  for (const events::Envelope& e : envelopes) records.push_back(RecordOf(e, 0));
  std::vector<events::Batch::Item> items;
  for (size_t i = 0; i < envelopes.size(); ++i) items.push_back({&records[i], envelopes[i]});
  events::Batch batch(std::move(items));
  store_.round_trips = 0;
  const size_t timers_before = store_.Pending(0);
  handler_.Handle(batch);
  EXPECT_EQ(store_.round_trips, 2) << "one read of the three records, one write of what changed";
  absl::Status error;
  EXPECT_EQ(batch.Finish(absl::Now() + absl::Seconds(5), &error), std::nullopt) << error;
  EXPECT_EQ(Appended().size(), 3u) << "one ClocksStarted each: two clocks for each complaint, one "
                                      "for the report";
  EXPECT_GT(store_.Pending(0), timers_before) << "their timers are scheduled";
  EXPECT_EQ(store_.Clocks("MP-0000000000006")->size(), 2u) << "written to the store";

  // A write that fails fails the whole run: none of its clock events is sent.
  sink_.Clear();
  store_.write_error = absl::UnavailableError("redis: connection lost");
  events::Envelope next = Submitted("MP-0000000000009", t::COMPLAINT);
  kafka::Record record = RecordOf(next, 0);
  std::vector<events::Batch::Item> more = {{&record, next}};
  events::Batch failing(std::move(more));
  handler_.Handle(failing);
  EXPECT_EQ(failing.Finish(absl::Now() + absl::Seconds(5), &error), std::optional<size_t>(0));
  EXPECT_EQ(error, store_.write_error);
  EXPECT_TRUE(Appended().empty()) << "nothing appended for state that was not written";
  store_.write_error = absl::OkStatus();
  EXPECT_TRUE(store_.Clocks("MP-0000000000009")->empty());
}

TEST_F(DeadlineWatchTest, FiresTheDueTimersOfTheAssignedPartitionsOnly) {
  Consume(Submitted("MP-0000000000001"), 0);
  Consume(Submitted("MP-0000000000002"), 1);
  sink_.Clear();
  loop_.OnAssigned(Partitions({0}));
  EXPECT_TRUE(loop_.Pass());
  EXPECT_TRUE(Fired().empty()) << "nothing due yet";

  clock_.Advance(absl::Hours(24 * 7 + 12));  // 75 % of 10 days
  EXPECT_TRUE(loop_.Pass());
  std::vector<events::Envelope> fired = Fired();
  ASSERT_EQ(fired.size(), 1u);
  EXPECT_EQ(fired[0].case_id(), "MP-0000000000001");
  EXPECT_EQ(fired[0].type(), "DeadlineWarning");
  EXPECT_EQ(service::CounterValue(registry_, "meldpunt_deadline_fired_total",
                                  {{"clock", "acknowledge"}, {"kind", "warning"}}),
            1);
  EXPECT_EQ(service::HistogramCount(registry_, "meldpunt_deadline_firing_lateness_seconds"), 1u);

  // The group gives this replica partition 1 too, and takes 0 away.
  loop_.OnAssigned(Partitions({1}));
  loop_.OnRevoked(Partitions({0}));
  EXPECT_EQ(loop_.partitions(), std::set<int32_t>({1}));
  sink_.Clear();
  clock_.Advance(absl::Hours(24 * 3));  // both breach
  EXPECT_TRUE(loop_.Pass());
  fired = Fired();
  ASSERT_EQ(fired.size(), 1u) << "partition 1's warning, late";
  EXPECT_EQ(fired[0].case_id(), "MP-0000000000002");
  EXPECT_EQ(fired[0].type(), "DeadlineWarning");
  // The warning back from the log schedules the clock's next timer, the breach, due already.
  Consume(fired[0], 1);
  sink_.Clear();
  EXPECT_TRUE(loop_.Pass());
  fired = Fired();
  ASSERT_EQ(fired.size(), 1u) << "partition 1's breach";
  EXPECT_EQ(fired[0].case_id(), "MP-0000000000002");
  EXPECT_EQ(fired[0].type(), "DeadlineBreached");
  EXPECT_EQ(service::CounterValue(registry_, "meldpunt_deadline_breaches_total",
                                  {{"department", "none"}, {"clock", "acknowledge"}}),
            1);
}

TEST_F(DeadlineWatchTest, AFailedAppendLeavesTheTimerToFireAgainWithTheSameId) {
  Consume(Submitted("MP-0000000000001"), 0);
  loop_.OnAssigned(Partitions({0}));
  clock_.Advance(absl::Hours(24 * 7 + 12));
  sink_.Clear();
  sink_.FailDeliveries(absl::UnavailableError("kafka: broker down"));
  EXPECT_TRUE(loop_.Pass());
  ASSERT_EQ(Fired().size(), 1u);
  const std::string first_id = Fired()[0].event_id();
  EXPECT_EQ(store_.Pending(0), 1u) << "the warning stays claimed (the breach follows it)";
  EXPECT_EQ(service::CounterTotal(registry_, "meldpunt_deadline_fired_total"), 0);

  sink_.FailDeliveries(absl::OkStatus());
  sink_.Clear();
  clock_.Advance(absl::Seconds(31));  // the lease ran out
  EXPECT_TRUE(loop_.Pass());
  ASSERT_EQ(Fired().size(), 1u);
  EXPECT_EQ(Fired()[0].event_id(), first_id);
  EXPECT_EQ(service::CounterTotal(registry_, "meldpunt_deadline_fired_total"), 1);
}

TEST_F(DeadlineWatchTest, NothingFiresWhileAnotherReplicaRebuildsAndItsEventsWait) {
  Consume(Submitted("MP-0000000000001"), 0);
  loop_.OnAssigned(Partitions({0}));
  clock_.Advance(absl::Hours(24 * 7 + 12));
  sink_.Clear();
  lock_.holder = "rebuild-of-another-replica";
  EXPECT_TRUE(loop_.Pass());
  EXPECT_TRUE(Fired().empty());
  EXPECT_TRUE(rebuild_.remote());
  // The consumer holds its event in place until the replay there is done.
  events::Envelope e = Submitted("MP-0000000000002");
  absl::Status held = handler_.Handle(e, RecordOf(e, 0));
  EXPECT_EQ(held.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(status::RetryOf(held), status::Retry::kInPlace);
  EXPECT_TRUE(sink_.Sent().empty());

  lock_.holder.clear();
  EXPECT_TRUE(loop_.Pass());
  EXPECT_FALSE(rebuild_.remote());
  EXPECT_EQ(Fired().size(), 1u);
}

TEST_F(DeadlineWatchTest, EveryFewPassesTheGaugesAndALostMarkerBringARebuild) {
  Consume(Submitted("MP-0000000000001"), 0);
  ASSERT_TRUE(consumer_.Start().ok());
  consumer_.calls.clear();
  store_.open_clocks = 7;
  store_.due_soon = 2;
  store_.intact = false;  // Redis lost the timers (FLUSHALL)
  EXPECT_TRUE(loop_.Pass());
  EXPECT_TRUE(loop_.Pass());
  EXPECT_EQ(store_.clears, 0) << "checked every third pass";
  EXPECT_FALSE(loop_.Pass()) << "the third pass rebuilt; the next comes at once";
  EXPECT_EQ(service::GaugeValue(registry_, "meldpunt_deadline_open_clocks"), 7);
  EXPECT_EQ(service::GaugeValue(registry_, "meldpunt_deadline_due_next_24h"), 2);
  EXPECT_EQ(store_.clears, 1);
  EXPECT_TRUE(store_.intact);
  EXPECT_EQ(consumer_.calls, std::vector<std::string>({"stop", "start"}));
  EXPECT_EQ(store_.Pending(0), 1u) << "the replay scheduled the report's timer again";
}

TEST_F(DeadlineWatchTest, NothingFiresWhileThisReplicaRebuilds) {
  Consume(Submitted("MP-0000000000001"), 0);
  loop_.OnAssigned(Partitions({0}));
  clock_.Advance(absl::Hours(24 * 7 + 12));
  sink_.Clear();
  bool passed = false;
  during_replay_ = [&] {
    passed = loop_.Pass();
    EXPECT_TRUE(Fired().empty());
  };
  ASSERT_TRUE(rebuild_.Rebuild().ok());
  EXPECT_TRUE(passed) << "a pass during the rebuild waits and fires nothing";
  EXPECT_TRUE(loop_.Pass());
  EXPECT_EQ(Fired().size(), 1u);
}

TEST_F(DeadlineWatchTest, TheThreadFiresUntilStopped) {
  Consume(Submitted("MP-0000000000001"), 0);
  loop_.OnAssigned(Partitions({0}));
  clock_.Advance(absl::Hours(24 * 7 + 12));
  loop_.Start();
  for (absl::Time end = absl::Now() + absl::Seconds(10); Fired().empty() && absl::Now() < end;)
    absl::SleepFor(absl::Milliseconds(1));
  loop_.Stop();
  EXPECT_EQ(Fired().size(), 1u);
}

TEST_F(DeadlineWatchTest, ARebuildStopsTheConsumerClearsReplaysMarksAndFollowsAgain) {
  Consume(Submitted("MP-0000000000001", t::COMPLAINT), 3);
  ASSERT_TRUE(consumer_.Start().ok());
  consumer_.calls.clear();
  store_.intact = false;
  sink_.Clear();
  absl::StatusOr<int64_t> replayed = rebuild_.Rebuild();
  ASSERT_TRUE(replayed.ok()) << replayed.status();
  EXPECT_EQ(*replayed, 1);
  EXPECT_FALSE(replay_saw_consumer_running_) << "nothing folds beside the replay";
  EXPECT_EQ(replay_saw_clears_, 1) << "cleared before the replay";
  EXPECT_EQ(consumer_.calls, std::vector<std::string>({"stop", "start"}));
  EXPECT_TRUE(store_.intact);
  EXPECT_EQ(store_.Clocks("MP-0000000000001")->size(), 2u);
  EXPECT_EQ(store_.Pending(3), 2u) << "each clock's first timer";
  EXPECT_TRUE(sink_.Sent().empty()) << "the clock events of the past are in the log already";
  EXPECT_EQ(lock_.ttl, absl::Minutes(35)) << "rebuild.timeout and 5 minutes";
  EXPECT_TRUE(lock_.holder.empty()) << "given back";
  EXPECT_FALSE(rebuild_.running());
}

TEST_F(DeadlineWatchTest, ARebuildFoldsARunAtOnceAndLaterEventsSeeEarlierOnes) {
  // Two cases, each with a later event that needs what its submission wrote: the department moves
  // onto the clocks, and the acknowledgement stops its clock.
  events::Envelope routed = events::NewEnvelope("MP-0000000000001", "routing", kStart);
  routed.mutable_case_routed()->set_department("roads");
  events::Finish(routed, "routed-1");
  events::Envelope acknowledged = events::NewEnvelope("MP-0000000000002", "notification", kStart);
  acknowledged.mutable_notification_delivered()->set_template_name("acknowledgement");
  events::Finish(acknowledged, "acknowledged-2");
  Consume(Submitted("MP-0000000000001", t::COMPLAINT), 0);
  Consume(Submitted("MP-0000000000002", t::COMPLAINT), 1);
  Consume(routed, 0);
  Consume(acknowledged, 1);
  const std::vector<v1::Clock> live_one = *store_.Clocks("MP-0000000000001");
  const std::vector<v1::Clock> live_two = *store_.Clocks("MP-0000000000002");
  const size_t live_timers = store_.Pending(0) + store_.Pending(1);
  const int64_t live_scheduled = store_.timers_scheduled;

  store_.round_trips = 0;
  store_.timers_scheduled = 0;
  absl::StatusOr<int64_t> replayed = rebuild_.Rebuild();
  ASSERT_TRUE(replayed.ok()) << replayed.status();
  EXPECT_EQ(*replayed, 4);
  EXPECT_EQ(store_.round_trips, 2) << "the four records in one read and one write";
  EXPECT_LT(store_.timers_scheduled, live_scheduled)
      << "the timers of the clock the acknowledgement stopped in the same run never went in";
  // The same clocks and timers as the live fold wrote.
  const std::vector<v1::Clock> one = *store_.Clocks("MP-0000000000001");
  const std::vector<v1::Clock> two = *store_.Clocks("MP-0000000000002");
  ASSERT_EQ(one.size(), live_one.size());
  ASSERT_EQ(two.size(), live_two.size());
  for (size_t i = 0; i < one.size(); ++i) {
    EXPECT_EQ(one[i].SerializeAsString(), live_one[i].SerializeAsString()) << one[i].name();
    EXPECT_EQ(one[i].department(), "roads");
  }
  for (size_t i = 0; i < two.size(); ++i)
    EXPECT_EQ(two[i].SerializeAsString(), live_two[i].SerializeAsString()) << two[i].name();
  bool stopped = false;
  for (const v1::Clock& clock : two) stopped |= clock.status() == v1::STOPPED;
  EXPECT_TRUE(stopped) << "the acknowledgement stopped a clock its submission started";
  EXPECT_EQ(store_.Pending(0) + store_.Pending(1), live_timers);
}

TEST_F(DeadlineWatchTest, OneRebuildAtATime) {
  absl::Status second;
  during_replay_ = [&] {
    EXPECT_TRUE(rebuild_.running());
    second = rebuild_.Rebuild().status();
  };
  ASSERT_TRUE(rebuild_.Rebuild().ok());
  EXPECT_EQ(second, absl::AbortedError("a rebuild is already running"));

  during_replay_ = nullptr;
  lock_.holder = "rebuild-of-another-replica";
  consumer_.calls.clear();
  EXPECT_EQ(rebuild_.Rebuild().status(),
            absl::AbortedError("another replica is rebuilding the timers"));
  EXPECT_TRUE(consumer_.calls.empty()) << "the consumer is left alone";
}

TEST_F(DeadlineWatchTest, AFailedRebuildKeepsFollowingTheLogAndLeavesTheMarkerUnset) {
  store_.intact = false;
  replay_error_ = absl::DeadlineExceededError("the replay did not reach the end of the log");
  EXPECT_EQ(rebuild_.Rebuild().status(), replay_error_);
  EXPECT_EQ(consumer_.calls, std::vector<std::string>({"stop", "start"}));
  EXPECT_FALSE(store_.intact) << "the next check tries again";
  EXPECT_FALSE(rebuild_.running());

  // Redis failing at the clear: the consumer follows the log again too.
  replay_error_ = absl::OkStatus();
  store_.error = absl::UnavailableError("redis: connection refused");
  consumer_.calls.clear();
  EXPECT_EQ(rebuild_.Rebuild().status(), store_.error);
  EXPECT_EQ(consumer_.calls, std::vector<std::string>({"stop", "start"}));
}

TEST_F(DeadlineWatchTest, AtStartTheConsumerFollowsAfterARebuildWhenTheTimersAreLost) {
  // Intact: the consumer starts, nothing is replayed.
  ASSERT_TRUE(rebuild_.StartFollowing().ok());
  EXPECT_EQ(consumer_.calls, std::vector<std::string>({"start"}));
  EXPECT_EQ(store_.clears, 0);
  consumer_.Stop();
  consumer_.calls.clear();
  // Lost: rebuilt first.
  store_.intact = false;
  ASSERT_TRUE(rebuild_.StartFollowing().ok());
  EXPECT_EQ(store_.clears, 1);
  EXPECT_TRUE(store_.intact);
  EXPECT_TRUE(consumer_.running);
  consumer_.Stop();
  consumer_.calls.clear();
  // Lost, and another replica rebuilds them: this one follows the log and waits for it.
  store_.intact = false;
  lock_.holder = "rebuild-of-another-replica";
  ASSERT_TRUE(rebuild_.StartFollowing().ok());
  EXPECT_EQ(consumer_.calls, std::vector<std::string>({"start"}));
  EXPECT_EQ(store_.clears, 1);
}

}  // namespace
}  // namespace meldpunt::deadline
