// Two real meldpunt-deadline-watch replicas in one Kafka consumer group, sharing one Redis (their
// own, started here): when one is SIGKILLed, the other takes over its partitions on the rebalance
// and fires the timers that were due there. Proves that no timer is lost (every case gets its
// warning and its breach), that a duplicate firing carries the same event id, and that the
// survivor fired timers of partitions the killed replica had owned.
#include <fcntl.h>
#include <httplib.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "libs/events/codec.h"
#include "libs/events/event_log.h"
#include "libs/events/ids.h"
#include "libs/events/topics.h"
#include "libs/kafka/consumer.h"
#include "libs/kafka/producer.h"
#include "libs/redis/redis.h"
#include "nlohmann/json.hpp"
#include "tests/testing/process.h"
#include "tests/testing/stack.h"

namespace meldpunt::deadline {
namespace {

constexpr char kClock[] = "handover";
constexpr int kCases = 60;
constexpr absl::Duration kTerm = absl::Seconds(8);          // the clock's duration
constexpr absl::Duration kSpread = absl::Seconds(10);       // cases are produced over this span
constexpr absl::Duration kKillAfter = absl::Seconds(6);     // after the first case, at the earliest
constexpr absl::Duration kFiringLimit = absl::Seconds(90);  // after the kill
// The replicas' consumer session timeout is 10 s (kafka::ConsumerOptions, used by
// service::MakeCaseEventConsumer): the rebalance after the kill starts only after it expires.

using testing::Child;
using testing::ForEachLogLine;
using testing::HttpGet;
using testing::ReadFile;
using testing::Tail;

// Sum of every series of a counter in a Prometheus text exposition.
double CounterSum(const std::string& metrics, const std::string& name) {
  double sum = 0;
  for (absl::string_view line : absl::StrSplit(metrics, '\n')) {
    if (!absl::StartsWith(line, name + "{") && !absl::StartsWith(line, name + " ")) continue;
    double value = 0;
    const size_t space = line.rfind(' ');
    if (space != absl::string_view::npos && absl::SimpleAtod(line.substr(space + 1), &value))
      sum += value;
  }
  return sum;
}

struct Firing {
  std::string case_id;
  std::string kind;  // "warning" or "breach"
  std::string event_id;
};

// "deadline fired" lines of the handover clock in a replica's log, up to byte `end`.
std::vector<Firing> FiredIn(const std::string& log_text, size_t end = std::string::npos) {
  std::vector<Firing> out;
  ForEachLogLine(log_text, end, [&](const nlohmann::json& line) {
    if (line.value("msg", "") != "deadline fired" || line.value("clock", "") != kClock) return;
    out.push_back({line.value("case_id", ""), line.value("kind", ""), line.value("event_id", "")});
  });
  return out;
}

// The consumer's assignments in a replica's log. The replica's group consumer, its rebuild reader
// and its alert tail log the same line; only the group consumer ever gets fewer than all
// partitions (the other two are alone in their groups).
bool HoldsPartOfTheTopic(const std::string& log_path, int partitions) {
  bool part = false;
  ForEachLogLine(ReadFile(log_path), std::string::npos, [&](const nlohmann::json& line) {
    if (line.value("msg", "") != "kafka partitions assigned") return;
    const int count = line.value("count", 0);
    if (count > 0 && count < partitions) part = true;
  });
  return part;
}

class DeadlineHandoverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto stack = testing::LoadStack();
    ASSERT_TRUE(stack.ok()) << stack.status();
    kafka_ = stack->kafka;
    kafka_properties_ = stack->kafka_properties;
    stack_ = *stack;
    dir_ = std::filesystem::path(::testing::TempDir()) / testing::UniqueName("deadline-handover");
    std::filesystem::create_directories(dir_);
  }

  void TearDown() override {
    if (HasFailure()) {
      std::string report = absl::StrCat("files kept in ", dir_.string(), "\n");
      for (Child* c : {a_.get(), b_.get(), redis_.get()})
        if (c != nullptr) absl::StrAppend(&report, c->Describe());
      std::fprintf(stderr, "%s", report.c_str());
    }
    // Replicas first, then their Redis.
    b_.reset();
    a_.reset();
    redis_.reset();
    if (!HasFailure()) {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
    }
  }

  // Starts a redis-server of this test only (the replicas' timers must not mix with others').
  void StartRedis() {
    redis_port_ = testing::ClosedPort();
    redis_ = testing::StartPrivateRedis(redis_port_, (dir_ / "redis.log").string());
    ASSERT_NE(redis_, nullptr) << "redis-server did not answer PING";
  }

  // Writes the replica's config and starts it; `admin_port` is where its /readyz and /metrics are.
  std::unique_ptr<Child> StartReplica(const std::string& name, const std::string& group,
                                      const std::string& category, int* admin_port) {
    *admin_port = testing::ClosedPort();
    const int grpc_port = testing::ClosedPort();
    const std::string config = (dir_ / (name + ".yaml")).string();
    std::ofstream(config) << "grpc:\n  plaintext_loopback: true\n  listen: 127.0.0.1:" << grpc_port
                          << "\n"
                          << "admin:\n  listen: 127.0.0.1:" << *admin_port << "\n"
                          << "kafka:\n  brokers: " << kafka_ << "\n  produce_timeout: 2s\n"
                          << testing::KafkaYaml(stack_)
                          << "redis:\n  address: 127.0.0.1:" << redis_port_ << "\n"
                          << "startup:\n  timeout: 30s\n"
                          << "shutdown:\n  grace: 1s\n"
                          << "log:\n  level: info\n"
                          << "deadline:\n"
                          << "  consumer_group: " << group << "\n"
                          << "  poll_interval: 100ms\n"
                          << "  lease: 3s\n"
                          << "  clocks:\n"
                          << "    - {name: " << kClock << ", kinds: [SUGGESTION], categories: ["
                          << category << "], duration: " << absl::ToInt64Seconds(kTerm)
                          << "s, warn_at: [0.5], stop_on: [closed]}\n";
    auto child = std::make_unique<Child>(
        name, std::vector<std::string>{MELDPUNT_DEADLINE_WATCH_BIN, "--config", config},
        (dir_ / (name + ".log")).string());
    if (!child->Spawn()) return nullptr;
    return child;
  }

  // /readyz answers 200 (after the replay of the whole case log at the first start).
  bool WaitReady(Child& replica, int admin_port) {
    return testing::Eventually(
               [&] { return !replica.Running() || HttpGet(admin_port, "/readyz") == 200; },
               absl::Seconds(90)) &&
           replica.Running();
  }

  std::string kafka_;
  std::map<std::string, std::string> kafka_properties_;
  testing::Stack stack_;
  std::filesystem::path dir_;
  int redis_port_ = 0;
  std::unique_ptr<Child> redis_;
  std::unique_ptr<Child> a_;
  std::unique_ptr<Child> b_;
};

TEST_F(DeadlineHandoverTest, SurvivorFiresTheKilledReplicasTimersNoneLostDuplicatesShareIds) {
  ASSERT_NO_FATAL_FAILURE(StartRedis());
  const std::string group = testing::UniqueName("deadline-handover");
  const std::string category = testing::UniqueName("handover-category");

  // Replica A starts alone: its Redis has no "intact" marker, so it replays the case log first.
  int a_admin = 0;
  a_ = StartReplica("replica-a", group, category, &a_admin);
  ASSERT_NE(a_, nullptr);
  ASSERT_TRUE(WaitReady(*a_, a_admin)) << "replica A not ready";
  int b_admin = 0;
  b_ = StartReplica("replica-b", group, category, &b_admin);
  ASSERT_NE(b_, nullptr);
  ASSERT_TRUE(WaitReady(*b_, b_admin)) << "replica B not ready";

  int partitions = 0;
  {
    auto meta = kafka::Consumer::Create({.brokers = kafka_,
                                         .group_id = testing::UniqueName("handover-meta"),
                                         .topics = {events::kCaseEventsTopic},
                                         .extra = kafka_properties_});
    ASSERT_TRUE(meta.ok()) << meta.status();
    auto count = (*meta)->PartitionCount(events::kCaseEventsTopic, absl::Seconds(10));
    ASSERT_TRUE(count.ok()) << count.status();
    partitions = *count;
    (*meta)->Close();
  }
  ASSERT_GE(partitions, 2) << "a handover needs at least two partitions";

  // /readyz says nothing of the group: wait until each replica's group consumer holds a share of
  // the partitions (the eager rebalance after B joined has completed on both sides).
  ASSERT_TRUE(testing::Eventually(
      [&] {
        return HoldsPartOfTheTopic(a_->log(), partitions) &&
               HoldsPartOfTheTopic(b_->log(), partitions);
      },
      absl::Seconds(60)))
      << "the group did not balance over both replicas";

  auto producer = kafka::Producer::Create(
      {.brokers = kafka_, .client_id = "handover-test", .extra = kafka_properties_});
  ASSERT_TRUE(producer.ok()) << producer.status();

  struct Case {
    int32_t partition = -1;
    absl::Time submitted;
  };
  std::map<std::string, Case> cases;
  auto a_fired_any = [&] {
    for (const Firing& f : FiredIn(ReadFile(a_->log())))
      if (cases.count(f.case_id)) return true;
    return false;
  };
  absl::Time kill_time = absl::InfinitePast();
  size_t b_log_at_kill = 0;
  auto kill_a = [&] {
    b_log_at_kill = ReadFile(b_->log()).size();
    kill_time = absl::Now();
    a_->Kill();
  };

  // The cases, spread over 10 s, so timers fall due both before and after the kill. A is killed
  // 6 s after the first case, once it has fired at least one timer (which tells its partitions).
  const absl::Time first = absl::Now();
  for (int i = 0; i < kCases; ++i) {
    const absl::Time at = first + kSpread * i / kCases;
    if (absl::Now() < at) absl::SleepFor(at - absl::Now());
    const std::string case_id =
        events::CaseIdFor("handover-test", testing::UniqueName(absl::StrCat("case-", i)));
    const absl::Time now = absl::Now();
    events::Envelope e = events::NewEnvelope(case_id, "handover-test", now);
    auto* submitted = e.mutable_case_submitted();
    submitted->set_submitting_system("handover-test");
    submitted->set_request_key(case_id);
    submitted->mutable_draft()->set_kind(types::v1::SUGGESTION);
    submitted->mutable_draft()->set_category(category);
    submitted->mutable_draft()->set_description("handover test");
    events::Finish(e, events::DeterministicId("submitted", {case_id}));
    auto delivered = (*producer)->Send(events::ToRecord(events::kCaseEventsTopic, e),
                                       absl::Now() + absl::Seconds(10));
    ASSERT_TRUE(delivered.ok()) << delivered.status();
    cases[case_id] = {delivered->partition, now};
    if (kill_time == absl::InfinitePast() && absl::Now() - first >= kKillAfter && a_fired_any())
      kill_a();
  }
  if (kill_time == absl::InfinitePast()) {
    ASSERT_TRUE(testing::Eventually(a_fired_any, absl::Seconds(20)))
        << "replica A fired no timer before it was to be killed";
    kill_a();
  }
  ASSERT_TRUE(b_->Running()) << "replica B died";

  // The partitions A owned: those of the cases whose timers it fired before it died.
  const std::string a_log = ReadFile(a_->log());
  std::set<int32_t> a_partitions;
  for (const Firing& f : FiredIn(a_log))
    if (auto it = cases.find(f.case_id); it != cases.end())
      a_partitions.insert(it->second.partition);
  ASSERT_FALSE(a_partitions.empty());
  ASSERT_LT(static_cast<int>(a_partitions.size()), partitions);

  // Read the case log (a fresh group, from the beginning) until every case has its warning and
  // its breach. B only takes A's partitions after A's session timed out (10 s) and the group
  // rebalanced.
  std::map<std::pair<std::string, std::string>, std::vector<std::string>> ids;  // (case, kind)
  auto complete = [&] {
    for (const auto& [id, c] : cases)
      if (!ids.count({id, "warning"}) || !ids.count({id, "breach"})) return false;
    return true;
  };
  {
    auto reader = kafka::Consumer::Create({.brokers = kafka_,
                                           .group_id = testing::UniqueName("handover-reader"),
                                           .topics = {events::kCaseEventsTopic},
                                           .client_id = "handover-test-reader",
                                           .extra = kafka_properties_});
    ASSERT_TRUE(reader.ok()) << reader.status();
    const absl::Time deadline = kill_time + kFiringLimit;
    while (absl::Now() < deadline && !complete() && b_->Running()) {
      auto record = (*reader)->Poll(absl::Milliseconds(200));
      ASSERT_TRUE(record.ok()) << record.status();
      if (!record->has_value() || !cases.count((*record)->key)) continue;
      auto e = events::Decode((*record)->value);
      if (!e.ok()) continue;
      if (e->has_deadline_warning() && e->deadline_warning().clock() == kClock &&
          e->deadline_warning().generation() == 1 && e->deadline_warning().fraction() == 0.5) {
        ids[{e->case_id(), "warning"}].push_back(e->event_id());
      } else if (e->has_deadline_breached() && e->deadline_breached().clock() == kClock &&
                 e->deadline_breached().generation() == 1) {
        ids[{e->case_id(), "breach"}].push_back(e->event_id());
      }
    }
    (*reader)->Close();
  }
  const absl::Duration read_for = absl::Now() - kill_time;
  EXPECT_TRUE(b_->Running()) << "replica B died";

  // None lost: every case has its warning and its breach; copies share the one deterministic id.
  int duplicates = 0;
  for (const auto& [case_id, c] : cases) {
    for (const auto& [kind, permille] :
         {std::pair<std::string, std::string>{"warning", "500"}, {"breach", "1000"}}) {
      auto it = ids.find({case_id, kind});
      if (it == ids.end()) {
        ADD_FAILURE() << "no " << kind << " for " << case_id << " (partition " << c.partition
                      << (a_partitions.count(c.partition) ? ", A's" : "") << ")";
        continue;
      }
      const std::string expected =
          events::DeterministicId("deadline", {case_id, kClock, "1", kind, permille});
      for (const std::string& id : it->second) EXPECT_EQ(id, expected) << case_id << " " << kind;
      duplicates += static_cast<int>(it->second.size()) - 1;
    }
  }

  // The handover: timers of A's partitions that fell due after the kill fired (only B was left),
  // and B's own log shows it fired timers of A's partitions, none of them before the kill.
  int due_after_kill = 0, fired_after_kill = 0;
  for (const auto& [case_id, c] : cases) {
    if (!a_partitions.count(c.partition)) continue;
    for (const auto& [kind, at] :
         {std::pair<std::string, absl::Time>{"warning", c.submitted + kTerm / 2},
          {"breach", c.submitted + kTerm}}) {
      if (at <= kill_time) continue;
      ++due_after_kill;
      fired_after_kill += ids.count({case_id, kind}) ? 1 : 0;
    }
  }
  EXPECT_GT(due_after_kill, 0);
  EXPECT_EQ(fired_after_kill, due_after_kill);

  const std::string b_log = ReadFile(b_->log());
  int b_before = 0, b_after = 0;
  for (const Firing& f : FiredIn(b_log, b_log_at_kill))
    if (auto it = cases.find(f.case_id);
        it != cases.end() && a_partitions.count(it->second.partition))
      ++b_before;
  for (const Firing& f : FiredIn(b_log.substr(b_log_at_kill)))
    if (auto it = cases.find(f.case_id);
        it != cases.end() && a_partitions.count(it->second.partition))
      ++b_after;
  EXPECT_EQ(b_before, 0) << "B fired timers of A's partitions while A still owned them";
  EXPECT_GT(b_after, 0) << "B fired no timer of the partitions A had owned";
  std::printf(
      "%d cases; A killed %s after the first (it fired in partitions {%s} of %d); every timer "
      "seen %s after the kill; B fired %d timers of A's partitions; %d duplicate firings\n",
      kCases, absl::FormatDuration(kill_time - first).c_str(),
      absl::StrJoin(a_partitions, ",").c_str(), partitions, absl::FormatDuration(read_for).c_str(),
      b_after, duplicates);

  std::string metrics;
  ASSERT_EQ(HttpGet(b_admin, "/metrics", &metrics), 200);
  EXPECT_GT(CounterSum(metrics, "meldpunt_deadline_fired_total"), 0) << metrics;
}

}  // namespace
}  // namespace meldpunt::deadline
