#include "services/deadline_watch/deadline_logic.h"

#include <map>

#include <gtest/gtest.h>

namespace meldpunt::deadline {
namespace {

namespace t = ::meldpunt::types::v1;

// An in-memory TimerStore with the same claim/lease semantics as the Redis one.
class MemoryTimerStore : public TimerStore {
 public:
  absl::Status Schedule(int32_t p, const std::vector<Timer>& timers) override {
    for (const Timer& tm : timers) due_[p][tm.Member()] = tm.fire_ms;
    return absl::OkStatus();
  }
  absl::Status Cancel(int32_t p, const std::vector<Timer>& timers) override {
    for (const Timer& tm : timers) {
      due_[p].erase(tm.Member());
      inflight_[p].erase(tm.Member());
    }
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<Timer>> ClaimDue(int32_t p, absl::Time now, absl::Duration lease,
                                              int limit) override {
    std::vector<Timer> out;
    const int64_t now_ms = absl::ToUnixMillis(now);
    for (auto& [member, until] : inflight_[p]) {
      if (until <= now_ms && static_cast<int>(out.size()) < limit) {
        until = now_ms + absl::ToInt64Milliseconds(lease);
        out.push_back(*Timer::Parse(member));
      }
    }
    for (auto it = due_[p].begin(); it != due_[p].end();) {
      if (it->second <= now_ms && static_cast<int>(out.size()) < limit) {
        inflight_[p][it->first] = now_ms + absl::ToInt64Milliseconds(lease);
        out.push_back(*Timer::Parse(it->first));
        it = due_[p].erase(it);
      } else {
        ++it;
      }
    }
    return out;
  }
  absl::Status Complete(int32_t p, const Timer& timer) override {
    inflight_[p].erase(timer.Member());
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<v1::Clock>> Clocks(const std::string& case_id) override {
    std::vector<v1::Clock> out;
    for (const auto& [name, c] : clocks_[case_id]) out.push_back(c);
    return out;
  }
  absl::Status PutClock(const v1::Clock& c) override {
    clocks_[c.case_id()][c.name()] = c;
    return absl::OkStatus();
  }
  absl::StatusOr<DeadlinePage> ListDeadlines(const DeadlineQuery&) override {
    return DeadlinePage();
  }
  absl::StatusOr<bool> Intact() override { return true; }
  absl::Status MarkIntact() override { return absl::OkStatus(); }
  absl::Status Clear() override { return absl::OkStatus(); }
  size_t Pending(int32_t p) { return due_[p].size() + inflight_[p].size(); }

 private:
  std::map<int32_t, std::map<std::string, int64_t>> due_, inflight_;
  std::map<std::string, std::map<std::string, v1::Clock>> clocks_;
};

constexpr char kCase[] = "MP-0123456789ABC";
const absl::Time kStart = absl::FromUnixSeconds(1'763'800'000);

std::vector<ClockPolicy> Policies() {
  auto parsed = ParsePolicies(YAML::Load(R"(
- {name: acknowledge, kinds: [COMPLAINT, REPORT], duration: 240h, warn_at: [0.75], stop_on: [acknowledged, closed]}
- {name: answer, kinds: [COMPLAINT], duration: 1080h, warn_at: [0.5, 0.9], stop_on: [answered, closed]}
)"));
  EXPECT_TRUE(parsed.ok()) << parsed.status();
  return *parsed;
}

events::Envelope Event(const std::function<void(events::Envelope&)>& set, absl::Time at = kStart) {
  events::Envelope e = events::NewEnvelope(kCase, "test", at);
  set(e);
  events::Finish(e, "ev");
  return e;
}

events::Envelope Submitted(t::CaseKind kind) {
  return Event(
      [kind](events::Envelope& e) { e.mutable_case_submitted()->mutable_draft()->set_kind(kind); });
}

class DeadlineLogicTest : public ::testing::Test {
 protected:
  DeadlineLogicTest()
      : clock_(kStart),
        calendar_(*calendar::BusinessCalendar::Create({})),
        logic_(store_, clock_, calendar_, Policies(), {.lease = absl::Seconds(30)}) {}

  std::vector<Firing> FireAll(int32_t p = 0) {
    auto firings = logic_.ClaimDue(p);
    EXPECT_TRUE(firings.ok());
    for (const Firing& f : *firings) EXPECT_TRUE(logic_.Complete(p, f).ok());
    return *firings;
  }

  MemoryTimerStore store_;
  clock::FakeClock clock_;
  calendar::BusinessCalendar calendar_;
  DeadlineLogic logic_;
};

TEST_F(DeadlineLogicTest, ComplaintGetsItsClocksWithDueTimes) {
  ASSERT_TRUE(logic_.OnEvent(Submitted(t::COMPLAINT), 3).ok());
  auto clocks = *store_.Clocks(kCase);
  ASSERT_EQ(clocks.size(), 2u);
  for (const auto& c : clocks) {
    EXPECT_EQ(c.status(), v1::RUNNING);
    absl::Duration expected = c.name() == "answer" ? absl::Hours(24 * 45) : absl::Hours(24 * 10);
    EXPECT_EQ(events::GetTime(c.due_at()) - kStart, expected) << c.name();
  }
  EXPECT_EQ(store_.Pending(3), 5u);  // acknowledge: 0.75 + breach; answer: 0.5, 0.9 + breach
  // A report only gets the acknowledge clock.
  MemoryTimerStore other;
  DeadlineLogic report_logic(other, clock_, calendar_, Policies());
  events::Envelope report = Submitted(t::REPORT);
  report.set_case_id("MP-ZZZZZZZZZZZZZ");
  ASSERT_TRUE(report_logic.OnEvent(report, 0).ok());
  EXPECT_EQ(other.Clocks("MP-ZZZZZZZZZZZZZ")->size(), 1u);
}

TEST_F(DeadlineLogicTest, WarningThenBreachFireOnceEachWithDeterministicIds) {
  ASSERT_TRUE(logic_.OnEvent(Submitted(t::REPORT), 0).ok());
  EXPECT_TRUE(FireAll().empty());
  clock_.Advance(absl::Hours(24 * 7));  // before 75 % of 10 days
  EXPECT_TRUE(FireAll().empty());
  clock_.Advance(absl::Hours(12));  // 7.5 days
  auto warnings = FireAll();
  ASSERT_EQ(warnings.size(), 1u);
  ASSERT_TRUE(warnings[0].event.has_value());
  EXPECT_EQ(warnings[0].event->type(), "DeadlineWarning");
  EXPECT_DOUBLE_EQ(warnings[0].event->deadline_warning().fraction(), 0.75);
  EXPECT_EQ((*store_.Clocks(kCase))[0].status(), v1::WARNED);
  clock_.Advance(absl::Hours(24 * 3));
  auto breaches = FireAll();
  ASSERT_EQ(breaches.size(), 1u);
  EXPECT_EQ(breaches[0].event->type(), "DeadlineBreached");
  EXPECT_EQ(events::GetTime(breaches[0].event->deadline_breached().due_at()),
            kStart + absl::Hours(240));
  EXPECT_EQ((*store_.Clocks(kCase))[0].status(), v1::BREACHED);
  clock_.Advance(absl::Hours(24 * 30));
  EXPECT_TRUE(FireAll().empty());
  EXPECT_NE(warnings[0].event->event_id(), breaches[0].event->event_id());
}

TEST_F(DeadlineLogicTest, StopEventCancelsTheClock) {
  ASSERT_TRUE(logic_.OnEvent(Submitted(t::REPORT), 0).ok());
  ASSERT_TRUE(logic_
                  .OnEvent(Event(
                               [](events::Envelope& e) {
                                 e.mutable_notification_delivered()->set_template_name(
                                     "acknowledgement");
                               },
                               kStart + absl::Hours(1)),
                           0)
                  .ok());
  EXPECT_EQ((*store_.Clocks(kCase))[0].status(), v1::STOPPED);
  EXPECT_EQ(store_.Pending(0), 0u);
  clock_.Advance(absl::Hours(24 * 11));
  EXPECT_TRUE(FireAll().empty());
  // Other notifications do not stop it.
  EXPECT_EQ(StopToken(Event([](events::Envelope& e) {
              e.mutable_notification_delivered()->set_template_name("information-request");
            })),
            "");
}

TEST_F(DeadlineLogicTest, RepeatedSubmissionStartsNothingNew) {
  ASSERT_TRUE(logic_.OnEvent(Submitted(t::REPORT), 0).ok());
  clock_.Advance(absl::Hours(24 * 8));
  ASSERT_EQ(FireAll().size(), 1u);
  ASSERT_TRUE(logic_.OnEvent(Submitted(t::REPORT), 0).ok());  // redelivered
  EXPECT_TRUE(FireAll().empty());
}

TEST_F(DeadlineLogicTest, ExpiredLeaseFiresAgainWithTheSameId) {
  ASSERT_TRUE(logic_.OnEvent(Submitted(t::REPORT), 0).ok());
  clock_.Advance(absl::Hours(24 * 11));
  auto first = *logic_.ClaimDue(0);  // claimed, never completed: the replica "died"
  ASSERT_EQ(first.size(), 2u);
  EXPECT_TRUE(logic_.ClaimDue(0)->empty());  // leased
  clock_.Advance(absl::Seconds(31));
  auto again = *logic_.ClaimDue(0);
  ASSERT_EQ(again.size(), 2u);
  std::set<std::string> a, b;
  for (auto& f : first) a.insert(f.event->event_id());
  for (auto& f : again) b.insert(f.event->event_id());
  EXPECT_EQ(a, b);
}

TEST_F(DeadlineLogicTest, TimersThatFellDueWhileDownFireAtOnce) {
  ASSERT_TRUE(logic_.OnEvent(Submitted(t::COMPLAINT), 0).ok());
  clock_.Advance(absl::Hours(24 * 100));
  EXPECT_EQ(FireAll().size(), 5u);
}

TEST(Terms, CalendarAndWorkingDaysOnTheBusinessCalendar) {
  auto cal = calendar::BusinessCalendar::Create({});
  ASSERT_TRUE(cal.ok());
  // kStart is Saturday 22 November 2025, 09:26:40 in Brussels.
  auto ten = Term::Parse("10d");
  ASSERT_TRUE(ten.ok());
  EXPECT_EQ(ten->DueFrom(kStart, *cal),
            absl::FromUnixSeconds(1'764'716'400));  // 2025-12-02T23:00:00Z
  auto two = Term::Parse("2wd");
  ASSERT_TRUE(two.ok());
  // Mon 24 (1), Tue 25 (2): due Wednesday 26 November 00:00 CET.
  EXPECT_EQ(two->DueFrom(kStart, *cal),
            absl::FromUnixSeconds(1'764'111'600));  // 2025-11-25T23:00:00Z
  auto hours = Term::Parse("48h");
  ASSERT_TRUE(hours.ok());
  EXPECT_EQ(hours->DueFrom(kStart, *cal), kStart + absl::Hours(48));
  EXPECT_FALSE(Term::Parse("0d").ok());
  EXPECT_FALSE(Term::Parse("twowd").ok());
  EXPECT_FALSE(Term::Parse("-3h").ok());
}

TEST_F(DeadlineLogicTest, WorkingDayClockDueOnTheCalendar) {
  auto policies =
      ParsePolicies(YAML::Load("[{name: department_acceptance, kinds: [REPORT], duration: 2wd, "
                               "warn_at: [0.5], stop_on: [accepted]}]"));
  ASSERT_TRUE(policies.ok());
  MemoryTimerStore store;
  DeadlineLogic logic(store, clock_, calendar_, *policies);
  ASSERT_TRUE(logic.OnEvent(Submitted(t::REPORT), 0).ok());
  auto clocks = *store.Clocks(kCase);
  ASSERT_EQ(clocks.size(), 1u);
  EXPECT_EQ(events::GetTime(clocks[0].due_at()), absl::FromUnixSeconds(1'764'111'600));
}

TEST_F(DeadlineLogicTest, PausedWhileWaitingForTheReporterAndDueLaterByThePausedSpan) {
  auto policies = ParsePolicies(YAML::Load(
      "[{name: answer, kinds: [REPORT], duration: 240h, warn_at: [0.5], pauses: true, stop_on: "
      "[answered]},"
      " {name: acknowledge, kinds: [REPORT], duration: 240h, stop_on: [acknowledged]}]"));
  ASSERT_TRUE(policies.ok()) << policies.status();
  MemoryTimerStore store;
  DeadlineLogic logic(store, clock_, calendar_, *policies);
  ASSERT_TRUE(logic.OnEvent(Submitted(t::REPORT), 0).ok());
  auto fire = [&] {
    auto firings = *logic.ClaimDue(0);
    for (const auto& f : firings) EXPECT_TRUE(logic.Complete(0, f).ok());
    return firings;
  };
  const absl::Time asked = kStart + absl::Hours(24);
  ASSERT_TRUE(
      logic.OnEvent(Event([](events::Envelope& e) { e.mutable_information_requested(); }, asked), 0)
          .ok());
  auto by_name = [&](const std::string& name) {
    const std::vector<v1::Clock> clocks = *store.Clocks(kCase);
    for (const auto& c : clocks)
      if (c.name() == name) return c;
    return v1::Clock();
  };
  EXPECT_EQ(by_name("answer").status(), v1::PAUSED);
  EXPECT_EQ(by_name("acknowledge").status(), v1::RUNNING) << "its policy does not pause";
  // Past the original warning time: the paused clock stays silent.
  clock_.Set(kStart + absl::Hours(130));
  EXPECT_TRUE(fire().empty());
  const absl::Time answered_by_reporter = kStart + absl::Hours(72);  // paused for 48 h
  ASSERT_TRUE(logic
                  .OnEvent(Event([](events::Envelope& e) { e.mutable_information_provided(); },
                                 answered_by_reporter),
                           0)
                  .ok());
  const v1::Clock resumed = by_name("answer");
  EXPECT_EQ(resumed.status(), v1::RUNNING);
  EXPECT_EQ(events::GetTime(resumed.due_at()), kStart + absl::Hours(240 + 48));
  EXPECT_EQ(resumed.paused_seconds(), 48 * 3600);
  EXPECT_EQ(resumed.generation(), 2);
  clock_.Set(kStart + absl::Hours(120 + 48) - absl::Seconds(1));
  EXPECT_TRUE(fire().empty());
  clock_.Set(kStart + absl::Hours(120 + 48));
  auto warned = fire();
  ASSERT_EQ(warned.size(), 1u);
  EXPECT_EQ(warned[0].event->deadline_warning().generation(), 2);
  clock_.Set(kStart + absl::Hours(240));
  auto acknowledge_breach = fire();
  ASSERT_EQ(acknowledge_breach.size(), 1u);
  EXPECT_EQ(acknowledge_breach[0].event->deadline_breached().clock(), "acknowledge");
  clock_.Set(kStart + absl::Hours(288));
  auto answer_breach = fire();
  ASSERT_EQ(answer_breach.size(), 1u);
  EXPECT_EQ(answer_breach[0].event->deadline_breached().clock(), "answer");
  // Information nobody asked for does not touch a running clock.
  ASSERT_TRUE(logic
                  .OnEvent(Event([](events::Envelope& e) { e.mutable_information_provided(); },
                                 kStart + absl::Hours(300)),
                           0)
                  .ok());
  EXPECT_EQ(by_name("answer").generation(), 2);
}

TEST_F(DeadlineLogicTest, ReplayingTheLogRebuildsTimersWithoutFiringTwice) {
  ASSERT_TRUE(logic_.OnEvent(Submitted(t::REPORT), 0).ok());
  clock_.Advance(absl::Hours(24 * 8));
  auto warned = FireAll();
  ASSERT_EQ(warned.size(), 1u);
  // Redis lost everything: a new store, and the log replayed into it (with our own warning).
  MemoryTimerStore rebuilt;
  DeadlineLogic replay(rebuilt, clock_, calendar_, Policies());
  ASSERT_TRUE(replay.OnEvent(Submitted(t::REPORT), 0).ok());
  ASSERT_TRUE(replay.OnEvent(*warned[0].event, 0).ok());
  EXPECT_EQ((*rebuilt.Clocks(kCase))[0].status(), v1::WARNED);
  auto again = *replay.ClaimDue(0);
  EXPECT_TRUE(again.empty()) << "the warning is in the log already";
  clock_.Advance(absl::Hours(24 * 3));
  auto breach = *replay.ClaimDue(0);
  ASSERT_EQ(breach.size(), 1u);
  EXPECT_EQ(breach[0].event->type(), "DeadlineBreached");
  // Our own event coming back through the consumer changes nothing.
  ASSERT_TRUE(logic_.OnEvent(*warned[0].event, 0).ok());
  EXPECT_EQ((*store_.Clocks(kCase))[0].status(), v1::WARNED);
}

TEST(Policies, ErrorsNameTheEntry) {
  auto msg = [](const char* yaml) {
    return std::string(ParsePolicies(YAML::Load(yaml)).status().message());
  };
  EXPECT_NE(msg("[{name: a, kinds: [NOPE], duration: 1d}]").find("deadline.clocks[0].kinds"),
            std::string::npos);
  EXPECT_NE(msg("[{name: a, kinds: [REPORT], duration: soon}]").find("duration"),
            std::string::npos);
  EXPECT_NE(msg("[{name: a, kinds: [REPORT], duration: 1d, warn_at: [1.5]}]").find("warn_at"),
            std::string::npos);
  EXPECT_NE(msg("[{name: a, kinds: [REPORT], duration: 1d, stop_on: [lunch]}]").find("lunch"),
            std::string::npos);
  EXPECT_NE(
      msg("[{name: a, kinds: [REPORT], duration: 1d}, {name: a, kinds: [REPORT], duration: 1d}]")
          .find("twice"),
      std::string::npos);
  EXPECT_NE(msg("[{name: a, kinds: [REPORT]}]").find("duration: required"), std::string::npos);
  EXPECT_NE(msg("[{name: a, kinds: [REPORT], duration: 1d, colour: red}]").find("colour"),
            std::string::npos);
}

TEST(TimerMember, RoundTrips) {
  Timer t{kCase, "answer", 2, "warning", 750, 123, 100};
  auto parsed = Timer::Parse(t.Member());
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->Member(), t.Member());
  EXPECT_FALSE(Timer::Parse("garbage").has_value());
}

}  // namespace
}  // namespace meldpunt::deadline
