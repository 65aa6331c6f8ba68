// RedisTimerStore against the real redis-server of the test stack: the Lua claim, leases,
// cancellation and partition separation.
#include "services/deadline_watch/timer_store.h"

#include <map>
#include <set>

#include <gtest/gtest.h>

#include "libs/clock/clock.h"
#include "libs/events/codec.h"
#include "libs/events/ids.h"
#include "services/deadline_watch/deadline_logic.h"
#include "tests/testing/stack.h"

namespace meldpunt::deadline {
namespace {

class TimerStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto stack = testing::LoadStack();
    ASSERT_TRUE(stack.ok()) << stack.status();
    auto client = redis::Client::Create(
        {.address = stack->redis, .scripts = {RedisTimerStore::ClaimScript()}});
    ASSERT_TRUE(client.ok()) << client.status();
    redis_ = std::move(*client);
    store_ = std::make_unique<RedisTimerStore>(*redis_);
    // Partitions far away from the ones the services use, unique per run.
    partition_ = 100000 + static_cast<int32_t>(absl::ToUnixMicros(absl::Now()) % 800000);
  }
  Timer At(const std::string& case_id, int64_t fire_ms) {
    return Timer{case_id, "answer", 1, "breach", 1000, fire_ms, fire_ms};
  }

  std::unique_ptr<redis::Client> redis_;
  std::unique_ptr<RedisTimerStore> store_;
  int32_t partition_ = 0;
};

TEST_F(TimerStoreTest, ClaimsOnlyDueTimersInOrderAndLeasesThem) {
  const absl::Time now = absl::FromUnixMillis(1'000'000);
  ASSERT_TRUE(store_
                  ->Schedule(partition_,
                             {At("MP-A", 999'000), At("MP-B", 1'000'000), At("MP-C", 1'000'001)})
                  .ok());
  auto claimed = store_->ClaimDue(partition_, now, absl::Seconds(30), 10);
  ASSERT_TRUE(claimed.ok()) << claimed.status();
  ASSERT_EQ(claimed->size(), 2u);
  EXPECT_EQ((*claimed)[0].case_id, "MP-A");
  EXPECT_EQ((*claimed)[1].case_id, "MP-B");
  EXPECT_TRUE(store_->ClaimDue(partition_, now, absl::Seconds(30), 10)->empty());
  // Lease expired: claimed again.
  auto again = store_->ClaimDue(partition_, now + absl::Seconds(31), absl::Seconds(30), 10);
  ASSERT_EQ(again->size(), 3u);  // A and B again, and C is due by now
  ASSERT_TRUE(store_->Complete(partition_, *again).ok());
  EXPECT_TRUE(store_->ClaimDue(partition_, now + absl::Hours(1), absl::Seconds(30), 10)->empty());
}

TEST_F(TimerStoreTest, LimitAndCancelAndPartitionsAreSeparate) {
  const absl::Time now = absl::FromUnixMillis(5'000'000);
  std::vector<Timer> timers;
  for (int i = 0; i < 5; ++i) timers.push_back(At("MP-" + std::to_string(i), 4'000'000 + i));
  ASSERT_TRUE(store_->Schedule(partition_, timers).ok());
  ASSERT_TRUE(store_->Cancel(partition_, {timers[4]}).ok());
  EXPECT_TRUE(store_->ClaimDue(partition_ + 1, now, absl::Seconds(30), 10)->empty());
  auto two = store_->ClaimDue(partition_, now, absl::Seconds(30), 2);
  EXPECT_EQ(two->size(), 2u);
  auto rest = store_->ClaimDue(partition_, now, absl::Seconds(30), 10);
  EXPECT_EQ(rest->size(), 2u);
}

TEST_F(TimerStoreTest, FactsBesideTheClocksAndCountsForTheGauges) {
  const std::string case_id = "MP-" + testing::UniqueName("f");
  EXPECT_FALSE(store_->Facts(case_id)->has_value());
  CaseFacts facts{types::v1::REPORT, types::v1::URGENT, "roads/pot|holes", "public-works"};
  ASSERT_TRUE(store_->PutFacts(case_id, facts).ok());
  auto read = store_->Facts(case_id);
  ASSERT_TRUE(read.ok() && read->has_value());
  EXPECT_EQ((*read)->kind, types::v1::REPORT);
  EXPECT_EQ((*read)->priority, types::v1::URGENT);
  EXPECT_EQ((*read)->category, "roads/pot|holes");
  EXPECT_EQ((*read)->department, "public-works");
  EXPECT_FALSE((*read)->priority_by_team);
  facts.priority_by_team = true;
  ASSERT_TRUE(store_->PutFacts(case_id, facts).ok());
  read = store_->Facts(case_id);
  ASSERT_TRUE(read.ok() && read->has_value());
  EXPECT_TRUE((*read)->priority_by_team);
  EXPECT_EQ((*read)->priority, types::v1::URGENT);
  EXPECT_EQ((*read)->category, "roads/pot|holes");
  v1::Clock clock;
  clock.set_case_id(case_id);
  clock.set_name("answer");
  clock.set_status(v1::RUNNING);
  auto before = store_->Counts(absl::Now(), absl::Hours(24));
  ASSERT_TRUE(before.ok());
  events::SetTime(clock.mutable_due_at(), absl::Now() + absl::Hours(2));
  ASSERT_TRUE(store_->PutClock(clock).ok());
  auto after = store_->Counts(absl::Now(), absl::Hours(24));
  EXPECT_EQ(after->open, before->open + 1);
  EXPECT_EQ(after->due_soon, before->due_soon + 1);
  // The facts field is not a clock.
  auto of = store_->ClocksOf({case_id, case_id, "MP-" + testing::UniqueName("none")});
  ASSERT_TRUE(of.ok());
  EXPECT_EQ(of->size(), 2u);
  EXPECT_EQ((*of)[case_id].size(), 1u);
  clock.set_status(v1::STOPPED);
  ASSERT_TRUE(store_->PutClock(clock).ok());
  EXPECT_EQ(store_->Counts(absl::Now(), absl::Hours(24))->open, before->open);
}

// A replica claims due timers, then dies before its events reach the log. Another replica (or
// the same after a restart) claims them again when the lease runs out, and builds events with
// the same ids: whatever did reach the log before the crash is recognised as a repeat.
TEST_F(TimerStoreTest, CrashBetweenClaimAndAppendFiresAgainWithTheSameEventIds) {
  auto policies = ParsePolicies(YAML::Load(
      "[{name: answer, kinds: [COMPLAINT], duration: 240h, warn_at: [0.5], stop_on: [answered]}]"));
  ASSERT_TRUE(policies.ok());
  auto calendar = calendar::BusinessCalendar::Create({});
  const absl::Time start = absl::FromUnixSeconds(1'763'800'000);
  clock::FakeClock clock(start);
  DeadlineLogic first(*store_, clock, *calendar, *policies, {.lease = absl::Seconds(30)});
  std::vector<std::string> cases;
  for (int i = 0; i < 20; ++i) {
    events::Envelope e = events::NewEnvelope(
        events::CaseIdFor("crash-test", testing::UniqueName("k")), "test", start);
    e.mutable_case_submitted()->mutable_draft()->set_kind(types::v1::COMPLAINT);
    events::Finish(e, events::RandomId("submitted"));
    ASSERT_TRUE(first.OnEvent(e, partition_).ok());
    cases.push_back(e.case_id());
  }
  clock.Set(start + absl::Hours(241));
  auto claimed = first.ClaimDue(partition_);  // the "crash": never appended, never completed
  ASSERT_TRUE(claimed.ok()) << claimed.status();
  ASSERT_EQ(claimed->size(), 20u);  // each clock's one timer: its warning
  std::set<std::string> ids;
  for (const Firing& f : *claimed) {
    ASSERT_TRUE(f.event.has_value());
    EXPECT_TRUE(f.event->has_deadline_warning());
    ids.insert(f.event->event_id());
  }
  EXPECT_EQ(ids.size(), 20u);
  // Within the lease nobody fires them.
  DeadlineLogic second(*store_, clock, *calendar, *policies, {.lease = absl::Seconds(30)});
  clock.Advance(absl::Seconds(29));
  EXPECT_TRUE(second.ClaimDue(partition_)->empty());
  clock.Advance(absl::Seconds(2));
  auto again = second.ClaimDue(partition_);
  ASSERT_TRUE(again.ok());
  std::set<std::string> again_ids;
  for (const Firing& f : *again) again_ids.insert(f.event->event_id());
  EXPECT_EQ(again_ids, ids);
  ASSERT_TRUE(second.Complete(partition_, *again).ok());
  clock.Advance(absl::Minutes(5));
  EXPECT_TRUE(second.ClaimDue(partition_)->empty()) << "completed: gone for good";
  // The warnings come back from the log: each schedules its clock's breach, due already.
  for (const Firing& f : *again) ASSERT_TRUE(second.OnEvent(*f.event, partition_).ok());
  auto breaches = second.ClaimDue(partition_);
  ASSERT_TRUE(breaches.ok());
  ASSERT_EQ(breaches->size(), 20u);
  for (const Firing& f : *breaches) {
    ASSERT_TRUE(f.event.has_value());
    EXPECT_TRUE(f.event->has_deadline_breached());
    EXPECT_EQ(ids.count(f.event->event_id()), 0u);
  }
  // A warning delivered again changes nothing: its clock's next timer is in flight already.
  for (const Firing& f : *again) ASSERT_TRUE(second.OnEvent(*f.event, partition_).ok());
  clock.Advance(absl::Seconds(1));
  EXPECT_TRUE(second.ClaimDue(partition_)->empty());
}

TEST_F(TimerStoreTest, ClockRecords) {
  v1::Clock clock;
  const std::string case_id = "MP-" + testing::UniqueName("c");
  clock.set_case_id(case_id);
  clock.set_name("answer");
  clock.set_status(v1::RUNNING);
  ASSERT_TRUE(store_->PutClock(clock).ok());
  clock.set_status(v1::STOPPED);
  ASSERT_TRUE(store_->PutClock(clock).ok());
  auto clocks = store_->Clocks(case_id);
  ASSERT_EQ(clocks->size(), 1u);
  EXPECT_EQ((*clocks)[0].status(), v1::STOPPED);
}

TEST_F(TimerStoreTest, ARunOfWritesInOnePipelineInOrderAndRecordsReadAtOnce) {
  const std::string a = "MP-" + testing::UniqueName("a");
  const std::string b = "MP-" + testing::UniqueName("b");
  v1::Clock clock;
  clock.set_case_id(a);
  clock.set_name("answer");
  clock.set_status(v1::RUNNING);
  events::SetTime(clock.mutable_due_at(), absl::FromUnixMillis(7'000'000));
  v1::Clock stopped = clock;
  stopped.set_status(v1::STOPPED);

  v1::Clock other = clock;
  other.set_name("acknowledge");

  std::vector<TimerStore::Write> writes(7);
  writes[0].kind = TimerStore::Write::Kind::kFacts;
  writes[0].case_id = a;
  writes[0].facts = CaseFacts{.kind = types::v1::COMPLAINT, .department = "roads"};
  writes[1].kind = TimerStore::Write::Kind::kSchedule;
  writes[1].partition = partition_;
  writes[1].timers = {At(a, 1'000), At(b, 2'000)};
  writes[2].kind = TimerStore::Write::Kind::kClocks;
  writes[2].clocks = {clock};
  // Later writes of the run win over earlier ones: the clock stops, a's timer is cancelled.
  writes[3].kind = TimerStore::Write::Kind::kCancel;
  writes[3].partition = partition_;
  writes[3].timers = {At(a, 1'000)};
  writes[4].kind = TimerStore::Write::Kind::kClocks;
  writes[4].clocks = {stopped};
  // A record's fields written in one command: another clock of a beside them, and its facts
  // again (the later ones win).
  writes[5].kind = TimerStore::Write::Kind::kClocks;
  writes[5].clocks = {other};
  writes[6].kind = TimerStore::Write::Kind::kFacts;
  writes[6].case_id = a;
  writes[6].facts = CaseFacts{.kind = types::v1::COMPLAINT, .department = "parks"};
  ASSERT_TRUE(store_->WriteAll(writes).ok());
  ASSERT_TRUE(store_->WriteAll({}).ok());

  absl::StatusOr<std::vector<Timer>> due =
      store_->ClaimDue(partition_, absl::FromUnixMillis(10'000), absl::Seconds(30), 10);
  ASSERT_TRUE(due.ok()) << due.status();
  ASSERT_EQ(due->size(), 1u);
  EXPECT_EQ((*due)[0].case_id, b);

  absl::StatusOr<std::map<std::string, TimerStore::CaseRecord>> records =
      store_->LoadAll({a, b, a});
  ASSERT_TRUE(records.ok()) << records.status();
  ASSERT_EQ(records->size(), 2u);
  const TimerStore::CaseRecord& ra = records->at(a);
  ASSERT_TRUE(ra.facts.has_value());
  EXPECT_EQ(ra.facts->department, "parks");
  EXPECT_EQ(ra.facts->kind, types::v1::COMPLAINT);
  ASSERT_EQ(ra.clocks.size(), 2u);
  std::map<std::string, v1::ClockStatus> statuses;
  for (const v1::Clock& c : ra.clocks) statuses[c.name()] = c.status();
  EXPECT_EQ(statuses["answer"], v1::STOPPED);
  EXPECT_EQ(statuses["acknowledge"], v1::RUNNING);
  EXPECT_FALSE(records->at(b).facts.has_value());
  EXPECT_TRUE(records->at(b).clocks.empty());
  // Stopped: not in the deadline index.
  absl::StatusOr<DeadlinePage> page = store_->ListDeadlines({.department = "roads"});
  ASSERT_TRUE(page.ok());
  for (const v1::Clock& listed : page->clocks) EXPECT_NE(listed.case_id(), a);
}

// Without Redis: a run's clocks update the deadline index in one ZADD and one ZREM, before their
// records, each clock by its last record in the run (stopped: out of the index; running: at its
// last due time).
TEST(ClockCommands, TheIndexInOneZaddAndOneZremBeforeTheRecords) {
  auto clock = [](const std::string& case_id, const std::string& name, v1::ClockStatus status,
                  int64_t due_ms) {
    v1::Clock c;
    c.set_case_id(case_id);
    c.set_name(name);
    c.set_status(status);
    events::SetTime(c.mutable_due_at(), absl::FromUnixMillis(due_ms));
    return c;
  };
  const std::vector<v1::Clock> clocks = {
      clock("MP-A", "answer", v1::RUNNING, 100), clock("MP-B", "answer", v1::STOPPED, 200),
      clock("MP-A", "answer", v1::STOPPED, 100), clock("MP-B", "answer", v1::WARNED, 300),
      clock("MP-C", "acknowledge", v1::PAUSED, 400)};
  std::vector<std::vector<std::string>> commands;
  ClockCommands(clocks, commands);
  ASSERT_EQ(commands.size(), 2u + clocks.size());
  EXPECT_EQ(commands[0], (std::vector<std::string>{"ZREM", "mp:deadlines", "MP-A|answer"}));
  EXPECT_EQ(commands[1], (std::vector<std::string>{"ZADD", "mp:deadlines", "300", "MP-B|answer",
                                                   "400", "MP-C|acknowledge"}));
  for (size_t i = 0; i < clocks.size(); ++i) {
    EXPECT_EQ(commands[2 + i][0], "HSET");
    EXPECT_EQ(commands[2 + i][1], "mp:clock:{" + clocks[i].case_id() + "}");
    EXPECT_EQ(commands[2 + i][3], clocks[i].SerializeAsString());
  }
  // One clock: one index command and its record.
  commands.clear();
  ClockCommands({clocks[1]}, commands);
  ASSERT_EQ(commands.size(), 2u);
  EXPECT_EQ(commands[0], (std::vector<std::string>{"ZREM", "mp:deadlines", "MP-B|answer"}));
  EXPECT_EQ(commands[1][0], "HSET");
}

// Without Redis: the commands a run sends. A record's fields go in one HSET where its last write
// was, after the timers scheduled before it (DeadlineLogic::Start writes them first, so that a
// crash part way never leaves a clock without its timers); the other commands keep their order.
TEST(OneWritePerRecord, ARecordIsWrittenOnceWhereItsLastWriteWas) {
  std::vector<std::vector<std::string>> commands = {
      {"HSET", "mp:clock:{a}", "_facts", "1|0||roads"},
      {"ZADD", "mp:{p1}:timers", "100", "a|answer|1|breach"},
      {"HSET", "mp:clock:{a}", "answer", "running"},
      {"ZADD", "mp:deadlines", "100", "a|answer"},
      {"HSET", "mp:clock:{b}", "answer", "running"},
      {"HSET", "mp:clock:{a}", "_facts", "1|0||parks", "acknowledge", "running"},
      {"ZREM", "mp:{p1}:timers", "b|answer|1|breach"},
  };
  OneWritePerRecord(commands);
  const std::vector<std::vector<std::string>> expected = {
      {"ZADD", "mp:{p1}:timers", "100", "a|answer|1|breach"},
      {"ZADD", "mp:deadlines", "100", "a|answer"},
      {"HSET", "mp:clock:{b}", "answer", "running"},
      {"HSET", "mp:clock:{a}", "_facts", "1|0||parks", "answer", "running", "acknowledge",
       "running"},
      {"ZREM", "mp:{p1}:timers", "b|answer|1|breach"},
  };
  EXPECT_EQ(commands, expected);
}

TEST_F(TimerStoreTest, DeadlinesListedEarliestFirstFilteredAndPaged) {
  const std::string department = testing::UniqueName("dept");
  // Five clocks due at 1000, 2000, 2000, 3000, 4000 ms after the epoch; one stopped, one breached.
  auto put = [&](const std::string& case_id, int64_t due_ms, v1::ClockStatus status) {
    v1::Clock clock;
    clock.set_case_id(case_id);
    clock.set_name("answer");
    clock.set_status(status);
    clock.set_department(department);
    clock.set_kind("REPORT");
    events::SetTime(clock.mutable_due_at(), absl::FromUnixMillis(due_ms));
    ASSERT_TRUE(store_->PutClock(clock).ok());
  };
  const std::string p = testing::UniqueName("c");
  put(p + "-a", 1000, v1::RUNNING);
  put(p + "-b", 2000, v1::BREACHED);
  put(p + "-c", 2000, v1::WARNED);
  put(p + "-d", 3000, v1::RUNNING);
  put(p + "-e", 4000, v1::RUNNING);
  put(p + "-e", 4000, v1::STOPPED);  // stopped: leaves the index
  DeadlineQuery query;
  query.department = department;
  query.page_size = 2;
  std::vector<std::string> seen;
  for (int pages = 0; pages < 5; ++pages) {
    auto page = store_->ListDeadlines(query);
    ASSERT_TRUE(page.ok()) << page.status();
    for (const auto& c : page->clocks) seen.push_back(c.case_id());
    if (page->next_page_token.empty()) break;
    query.page_token = page->next_page_token;
  }
  EXPECT_EQ(seen, (std::vector<std::string>{p + "-a", p + "-b", p + "-c", p + "-d"}));
  DeadlineQuery breached;
  breached.department = department;
  breached.breached_only = true;
  EXPECT_EQ(store_->ListDeadlines(breached)->clocks.size(), 1u);
  DeadlineQuery soon;
  soon.department = department;
  soon.due_before = absl::FromUnixMillis(2500);
  EXPECT_EQ(store_->ListDeadlines(soon)->clocks.size(), 3u);
  DeadlineQuery bad;
  bad.page_token = "garbage";
  EXPECT_EQ(store_->ListDeadlines(bad).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace meldpunt::deadline
