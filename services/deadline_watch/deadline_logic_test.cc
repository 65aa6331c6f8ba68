#include "services/deadline_watch/deadline_logic.h"

#include <map>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "libs/grpc/status.h"
#include "services/deadline_watch/testing/memory_timer_store.h"

#include <gtest/gtest.h>

namespace meldpunt::deadline {
namespace {

namespace t = ::meldpunt::types::v1;

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
  static int sequence = 0;
  events::Envelope e = events::NewEnvelope(kCase, "test", at);
  set(e);
  events::Finish(e, absl::StrCat("ev-", ++sequence));
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

  // Claims what is due, "appends" the events and lets them come back through the consumer, which
  // schedules each clock's next timer; again, as the timer loop's next passes do, until nothing
  // is due. Every firing, in order.
  std::vector<Firing> FireAll(int32_t p = 0) { return Fire(logic_, p); }
  static std::vector<Firing> Fire(DeadlineLogic& logic, int32_t p = 0) {
    std::vector<Firing> all;
    for (int pass = 0; pass < 100; ++pass) {
      auto firings = logic.ClaimDue(p);
      EXPECT_TRUE(firings.ok());
      if (!firings.ok() || firings->empty()) break;
      EXPECT_TRUE(logic.Complete(p, *firings).ok());
      for (const Firing& f : *firings)
        if (f.event) EXPECT_TRUE(logic.OnEvent(*f.event, p).ok());
      all.insert(all.end(), firings->begin(), firings->end());
    }
    return all;
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
  // One timer a clock, the first of its timeline: acknowledge's 0.75, answer's 0.5.
  EXPECT_EQ(store_.Pending(3), 2u);
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
  auto first = *logic_.ClaimDue(0);          // claimed, never completed: the replica "died"
  ASSERT_EQ(first.size(), 1u);               // the warning; the breach follows once it is recorded
  EXPECT_TRUE(logic_.ClaimDue(0)->empty());  // leased
  clock_.Advance(absl::Seconds(31));
  auto again = *logic_.ClaimDue(0);
  ASSERT_EQ(again.size(), 1u);
  std::set<std::string> a, b;
  for (auto& f : first) a.insert(f.event->event_id());
  for (auto& f : again) b.insert(f.event->event_id());
  EXPECT_EQ(a, b);
}

// The firer appended a warning and its event came back, but the replica died before completing
// the claim: after the lease the timer is claimed again, and its record holds it as fired.
TEST_F(DeadlineLogicTest, AClaimWhoseEventCameBackIsDroppedAfterItsLease) {
  ASSERT_TRUE(logic_.OnEvent(Submitted(t::REPORT), 0).ok());
  clock_.Advance(absl::Hours(24 * 8));
  auto claimed = *logic_.ClaimDue(0);
  ASSERT_EQ(claimed.size(), 1u);
  ASSERT_TRUE(logic_.OnEvent(*claimed[0].event, 0).ok());  // appended, back through the consumer
  clock_.Advance(absl::Seconds(31));
  auto again = *logic_.ClaimDue(0);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_FALSE(again[0].event.has_value()) << "not appended twice";
  ASSERT_TRUE(logic_.Complete(0, again).ok());
  EXPECT_EQ(store_.Pending(0), 1u) << "the breach, scheduled by the warning's return";
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
  // Ten years at most: the calendar walks a term day by day, so a typo must not hang a timer.
  EXPECT_TRUE(Term::Parse("3660wd").ok());
  EXPECT_FALSE(Term::Parse("999999999wd").ok());
  EXPECT_FALSE(Term::Parse("2147483647wh").ok());
  EXPECT_FALSE(Term::Parse("3661d").ok());
  EXPECT_FALSE(Term::Parse("1e300h").ok());
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
  auto fire = [&] { return Fire(logic); };
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

// The rebuild folds the log with Fold: the same records and timers as OnEvent leaves, and no
// clock events (the log holds them already).
TEST_F(DeadlineLogicTest, FoldWritesWhatOnEventWritesAndMakesNoEvents) {
  std::vector<events::Envelope> log = {Submitted(t::COMPLAINT)};
  auto at = [](int hours) { return kStart + absl::Hours(hours); };
  log.push_back(
      Event([](events::Envelope& e) { e.mutable_case_routed()->set_department("roads"); }, at(1)));
  log.push_back(Event([](events::Envelope& e) { e.mutable_information_requested(); }, at(2)));
  log.push_back(Event([](events::Envelope& e) { e.mutable_information_provided(); }, at(30)));
  log.push_back(Event(
      [](events::Envelope& e) { e.mutable_case_reassigned()->set_department("parks"); }, at(31)));
  log.push_back(Event([](events::Envelope& e) { e.mutable_case_answered(); }, at(40)));
  log.push_back(log[2]);  // a repeat
  MemoryTimerStore folded;
  DeadlineLogic rebuild(folded, clock_, calendar_, Policies());
  size_t made = 0;
  for (const events::Envelope& e : log) {
    absl::StatusOr<std::vector<events::Envelope>> out = logic_.OnEvent(e, 1);
    ASSERT_TRUE(out.ok()) << out.status();
    made += out->size();
    ASSERT_TRUE(rebuild.Fold(e, 1, folded).ok());
  }
  EXPECT_EQ(made, 2u) << "OnEvent made ClocksStarted and ClockStopped";
  EXPECT_EQ(folded.Dump(), store_.Dump());
}

// A clock keeps one timer at a time, the first of its timeline that has not fired. Its event
// coming back from the log schedules the next; an older firing delivered again after a later one
// schedules nothing.
TEST_F(DeadlineLogicTest, AClockKeepsOneTimerTheFirstOfItsTimelineNotFired) {
  // acknowledge: 0.75 (180 h), breach (240 h); answer: 0.5 (540 h), 0.9 (972 h), breach (1080 h).
  ASSERT_TRUE(logic_.OnEvent(Submitted(t::COMPLAINT), 0).ok());
  EXPECT_EQ(store_.Pending(0), 2u);
  clock_.Set(kStart + absl::Hours(540));
  auto fired = FireAll();
  // The first pass fires both warnings; acknowledge's breach is scheduled by its warning's return.
  ASSERT_EQ(fired.size(), 3u);
  EXPECT_EQ(fired[0].event->deadline_warning().clock(), "acknowledge");
  EXPECT_EQ(fired[1].event->deadline_warning().clock(), "answer");
  EXPECT_DOUBLE_EQ(fired[1].event->deadline_warning().fraction(), 0.5);
  EXPECT_EQ(fired[2].event->deadline_breached().clock(), "acknowledge");
  const events::Envelope half = *fired[1].event;
  EXPECT_EQ(store_.Pending(0), 1u) << "answer's 0.9; acknowledge breached, with no step after it";
  clock_.Set(kStart + absl::Hours(972));
  fired = FireAll();
  ASSERT_EQ(fired.size(), 1u);
  EXPECT_DOUBLE_EQ(fired[0].event->deadline_warning().fraction(), 0.9);
  v1::Clock answer;
  const std::vector<v1::Clock> clocks = *store_.Clocks(kCase);
  for (const v1::Clock& c : clocks)
    if (c.name() == "answer") answer = c;
  EXPECT_EQ(answer.warned_permille(), 900);
  EXPECT_EQ(store_.Pending(0), 1u) << "the breach";
  // The 0.5 warning delivered again (a consumer that restarted): the record holds 0.9 already.
  ASSERT_TRUE(logic_.OnEvent(half, 0).ok());
  EXPECT_EQ(store_.Pending(0), 1u);
  clock_.Set(kStart + absl::Hours(1079));
  EXPECT_TRUE(FireAll().empty()) << "0.9 does not fire twice";
  clock_.Set(kStart + absl::Hours(1080));
  fired = FireAll();
  ASSERT_EQ(fired.size(), 1u);
  EXPECT_EQ(fired[0].event->type(), "DeadlineBreached");
  EXPECT_EQ(store_.Pending(0), 0u);
}

// The policy changed between a firing and its event's return: the clock goes on with the first
// timer of the new timeline that the record does not hold as fired.
TEST_F(DeadlineLogicTest, AFiringThePolicyNoLongerNamesGoesOnWithTheFirstNotFired) {
  auto old_policies = ParsePolicies(YAML::Load(
      "[{name: answer, kinds: [REPORT], duration: 100h, warn_at: [0.5], stop_on: [answered]}]"));
  auto new_policies = ParsePolicies(
      YAML::Load("[{name: answer, kinds: [REPORT], duration: 100h, warn_at: [0.8, 0.4], stop_on: "
                 "[answered]}]"));
  ASSERT_TRUE(old_policies.ok() && new_policies.ok());
  EXPECT_EQ(new_policies->front().warn_at, std::vector<double>({0.4, 0.8})) << "in order";
  MemoryTimerStore store;
  DeadlineLogic before(store, clock_, calendar_, *old_policies);
  ASSERT_TRUE(before.OnEvent(Submitted(t::REPORT), 0).ok());
  clock_.Set(kStart + absl::Hours(50));
  auto claimed = *before.ClaimDue(0);
  ASSERT_EQ(claimed.size(), 1u);
  ASSERT_TRUE(before.Complete(0, claimed).ok());
  DeadlineLogic after(store, clock_, calendar_, *new_policies);
  ASSERT_TRUE(after.OnEvent(*claimed[0].event, 0).ok());
  EXPECT_EQ(store.Pending(0), 1u);
  EXPECT_TRUE(Fire(after).empty()) << "0.4 lies behind the 0.5 that fired";
  clock_.Set(kStart + absl::Hours(80));
  auto fired = Fire(after);
  ASSERT_EQ(fired.size(), 1u);
  EXPECT_DOUBLE_EQ(fired[0].event->deadline_warning().fraction(), 0.8);
  clock_.Set(kStart + absl::Hours(100));
  fired = Fire(after);
  ASSERT_EQ(fired.size(), 1u);
  EXPECT_EQ(fired[0].event->type(), "DeadlineBreached");
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
          .find("deadline.clocks[1].id: 'a' twice"),
      std::string::npos);
  EXPECT_NE(msg("[{name: a, kinds: [REPORT]}]").find("duration: required"), std::string::npos);
  EXPECT_NE(msg("[{name: a, kinds: [REPORT], duration: 1d, colour: red}]").find("colour"),
            std::string::npos);
  EXPECT_NE(msg("[{name: a, kinds: [REPORT], duration: 1d, priorities: [HUGE]}]")
                .find("deadline.clocks[0].priorities: unknown priority 'HUGE'"),
            std::string::npos);
  EXPECT_NE(msg("[{name: a, kinds: [REPORT], duration: 1d, start_on: lunch}]")
                .find("deadline.clocks[0].start_on: unknown event 'lunch'"),
            std::string::npos);
  EXPECT_NE(msg("[{name: a, kinds: [REPORT], duration: 1d, departments: [parks]}]")
                .find("deadline.clocks[0].departments: the department is known only once routed"),
            std::string::npos);
  EXPECT_NE(msg("[{name: a, kinds: [REPORT], duration: 1d, on_bounce: later}]")
                .find("deadline.clocks[0].on_bounce: keep or restart"),
            std::string::npos);
  EXPECT_NE(msg("[{name: a, kinds: [REPORT], duration: 1d, escalate: [{after: soon, to: x}]}]")
                .find("deadline.clocks[0].escalate[0].after: must be"),
            std::string::npos);
  EXPECT_NE(msg("[{name: a, kinds: [REPORT], duration: 1d, escalate: [{to: x}]}]")
                .find("deadline.clocks[0].escalate[0]: must be {after: <term>, to: <target>}"),
            std::string::npos);
}

std::vector<std::string> Types(const std::vector<events::Envelope>& events) {
  std::vector<std::string> out;
  for (const auto& e : events) out.push_back(e.type());
  return out;
}

TEST_F(DeadlineLogicTest, ClockEventsGoToTheLogAndARepeatedEventGivesTheSameOnes) {
  const events::Envelope submitted = Submitted(t::COMPLAINT);
  auto started = logic_.OnEvent(submitted, 0);
  ASSERT_TRUE(started.ok());
  // Both clocks the submission starts, in one record.
  ASSERT_EQ(Types(*started), (std::vector<std::string>{"ClocksStarted"}));
  const auto& clocks = (*started)[0].clocks_started().clocks();
  ASSERT_EQ(clocks.size(), 2);
  EXPECT_EQ(clocks[0].clock(), "acknowledge");
  EXPECT_EQ(clocks[0].generation(), 1);
  EXPECT_EQ(clocks[0].reason(), "submitted");
  EXPECT_EQ(clocks[0].term(), "240h");
  EXPECT_EQ(events::GetTime(clocks[0].started_at()), kStart);
  EXPECT_EQ(events::GetTime(clocks[0].due_at()), kStart + absl::Hours(240));
  EXPECT_EQ(clocks[1].clock(), "answer");
  EXPECT_EQ(clocks[1].reason(), "submitted");
  EXPECT_EQ(events::GetTime(clocks[1].due_at()), kStart + absl::Hours(1080));
  EXPECT_EQ((*started)[0].causation_id(), submitted.event_id());
  EXPECT_EQ((*started)[0].producer(), "deadline-watch");
  // The consumer crashed before committing: the same event again gives the same record (id).
  auto again = logic_.OnEvent(submitted, 0);
  ASSERT_TRUE(again.ok());
  ASSERT_EQ(again->size(), 1u);
  EXPECT_EQ((*again)[0].event_id(), (*started)[0].event_id());
  EXPECT_EQ((*again)[0].SerializeAsString(), (*started)[0].SerializeAsString());
  // A later event with another id changes nothing and says nothing.
  EXPECT_TRUE(logic_.OnEvent(Submitted(t::COMPLAINT), 0)->empty());

  // Stopped within the term, and a stop event that comes again.
  const events::Envelope answered =
      Event([](events::Envelope& e) { e.mutable_case_answered(); }, kStart + absl::Hours(100));
  auto stopped = logic_.OnEvent(answered, 0);
  ASSERT_TRUE(stopped.ok());
  ASSERT_EQ(Types(*stopped), (std::vector<std::string>{"ClockStopped"}));
  EXPECT_EQ((*stopped)[0].clock_stopped().clock(), "answer");
  EXPECT_EQ((*stopped)[0].clock_stopped().reason(), "answered");
  EXPECT_TRUE((*stopped)[0].clock_stopped().within_term());
  EXPECT_EQ(logic_.OnEvent(answered, 0)->at(0).event_id(), (*stopped)[0].event_id());
  // The acknowledge clock, stopped late.
  auto closed = logic_.OnEvent(
      Event([](events::Envelope& e) { e.mutable_case_closed(); }, kStart + absl::Hours(300)), 0);
  ASSERT_EQ(closed->size(), 1u);
  EXPECT_EQ((*closed)[0].clock_stopped().clock(), "acknowledge");
  EXPECT_FALSE((*closed)[0].clock_stopped().within_term());
}

// What deadline-watch appends comes back to it through the log: it drops those records without a
// read or a write, which is why the consumer loop lets them share a run with the case's next
// record (DeadlineLogic::Inert). The team's changes are records too, and those it applies.
TEST_F(DeadlineLogicTest, ItsOwnClockRecordsAreInertButTheTeamsChangesAreNot) {
  auto started = logic_.OnEvent(Submitted(t::COMPLAINT), 0);
  ASSERT_TRUE(started.ok());
  auto stopped = logic_.OnEvent(
      Event([](events::Envelope& e) { e.mutable_case_answered(); }, kStart + absl::Hours(1)), 0);
  ASSERT_TRUE(stopped.ok());
  std::vector<events::Envelope> own = *started;
  own.insert(own.end(), stopped->begin(), stopped->end());
  own.push_back(Event([](events::Envelope& e) { e.mutable_event_rejected(); }));
  own.push_back(Event([](events::Envelope& e) { e.mutable_clock_paused(); }));
  // A dispatch mail delivered and a link between cases neither start nor stop a clock.
  own.push_back(Event([](events::Envelope& e) {
    e.mutable_notification_delivered()->set_template_name("dispatch");
  }));
  own.push_back(Event([](events::Envelope& e) { e.mutable_case_linked(); }));
  ASSERT_EQ(own.size(), 6u);
  auto before = store_.Load(kCase);
  ASSERT_TRUE(before.ok());
  for (const events::Envelope& e : own) {
    EXPECT_TRUE(DeadlineLogic::Inert(e)) << e.DebugString();
    auto out = logic_.OnEvent(e, 0);
    ASSERT_TRUE(out.ok());
    EXPECT_TRUE(out->empty());
  }
  auto after = store_.Load(kCase);
  ASSERT_TRUE(after.ok());
  ASSERT_EQ(after->clocks.size(), before->clocks.size());
  for (size_t i = 0; i < after->clocks.size(); ++i)
    EXPECT_EQ(after->clocks[i].SerializeAsString(), before->clocks[i].SerializeAsString());
  EXPECT_FALSE(DeadlineLogic::Inert(Submitted(t::COMPLAINT)));
  EXPECT_FALSE(DeadlineLogic::Inert(Event([](events::Envelope& e) { e.mutable_case_routed(); })));
  EXPECT_FALSE(
      DeadlineLogic::Inert(Event([](events::Envelope& e) { e.mutable_clock_extended(); })));
  EXPECT_FALSE(DeadlineLogic::Inert(
      Event([](events::Envelope& e) { e.mutable_clock_paused()->set_suspended(true); })));
  EXPECT_FALSE(DeadlineLogic::Inert(
      Event([](events::Envelope& e) { e.mutable_clock_resumed()->set_suspended(true); })));
}

// Inert decides which records a run reads no record for: every kind of event the log can carry,
// held to the list of those OnEvent acts on. A kind added to the envelope fails here until it is
// placed on one side or the other.
TEST(DeadlineLogicInert, EveryKindOfEventIsPlaced) {
  const std::set<std::string> acted_on = {
      "case_submitted",       "case_routed",           "case_triaged",     "case_accepted",
      "case_bounced",         "case_reassigned",       "case_answered",    "case_closed",
      "case_withdrawn",       "case_referred",         "case_merged",      "information_requested",
      "information_provided", "priority_changed",      "deadline_warning", "deadline_breached",
      "case_escalated",       "admissibility_decided", "clock_extended"};
  const std::set<std::string> inert = {
      "case_reopened",         "deadline_started", "deadline_escalated",   "notification_failed",
      "event_rejected",        "case_linked",      "clock_started",        "clock_paused",
      "clock_resumed",         "clock_stopped",    "reporter_data_erased", "clocks_started",
      "notification_delivered"};
  const google::protobuf::OneofDescriptor* payload =
      events::Envelope::descriptor()->FindOneofByName("payload");
  ASSERT_NE(payload, nullptr);
  for (int i = 0; i < payload->field_count(); ++i) {
    const google::protobuf::FieldDescriptor* field = payload->field(i);
    events::Envelope e;
    e.GetReflection()->MutableMessage(&e, field);
    const bool placed = acted_on.count(field->name()) || inert.count(field->name());
    EXPECT_TRUE(placed) << field->name()
                        << " is placed neither with the events acted on nor "
                           "with the inert ones";
    if (acted_on.count(field->name())) EXPECT_FALSE(DeadlineLogic::Inert(e)) << field->name();
    if (inert.count(field->name())) EXPECT_TRUE(DeadlineLogic::Inert(e)) << field->name();
  }
  // Those that depend on what they say: the acknowledgement delivered stops and starts clocks,
  // another mail does not; a decision of admissibility either way; the team's own changes.
  events::Envelope acknowledged;
  acknowledged.mutable_notification_delivered()->set_template_name("acknowledgement");
  EXPECT_FALSE(DeadlineLogic::Inert(acknowledged));
  events::Envelope admissible;
  admissible.mutable_admissibility_decided()->set_admissible(true);
  EXPECT_FALSE(DeadlineLogic::Inert(admissible));
  events::Envelope suspended;
  suspended.mutable_clock_paused()->set_suspended(true);
  EXPECT_FALSE(DeadlineLogic::Inert(suspended));
  // What the rebuild's replay passes over undecoded is inert whatever it holds.
  for (int number : DeadlineLogic::InertPayloads()) {
    const google::protobuf::FieldDescriptor* field =
        events::Envelope::descriptor()->FindFieldByNumber(number);
    ASSERT_NE(field, nullptr) << number;
    EXPECT_EQ(field->containing_oneof(), payload) << field->name();
    EXPECT_TRUE(inert.count(field->name())) << field->name();
    events::Envelope e;
    e.GetReflection()->MutableMessage(&e, field);
    EXPECT_TRUE(DeadlineLogic::Inert(e)) << field->name();
  }
}

TEST_F(DeadlineLogicTest, ARepeatedStartAfterTheClockStoppedStillGivesItsClockStarted) {
  // A rebuild folded the submission and the acknowledgement before the live consumer handled
  // the submission: the clock is stopped by then, and its start must still go out, as the same
  // record.
  const events::Envelope submitted = Submitted(t::COMPLAINT);
  auto started = logic_.OnEvent(submitted, 0);
  ASSERT_TRUE(started.ok());
  ASSERT_EQ(Types(*started), (std::vector<std::string>{"ClocksStarted"}));
  const events::Envelope acknowledged = Event(
      [](events::Envelope& e) {
        e.mutable_notification_delivered()->set_template_name("acknowledgement");
      },
      kStart + absl::Hours(1));
  ASSERT_EQ(Types(*logic_.OnEvent(acknowledged, 0)), (std::vector<std::string>{"ClockStopped"}));
  auto again = logic_.OnEvent(submitted, 0);
  ASSERT_TRUE(again.ok());
  ASSERT_EQ(Types(*again), (std::vector<std::string>{"ClocksStarted"}));
  EXPECT_EQ((*again)[0].event_id(), (*started)[0].event_id());
  EXPECT_EQ((*again)[0].clocks_started().clocks_size(), 2);
  EXPECT_EQ((*store_.Clocks(kCase))[0].status(), v1::STOPPED) << "the repeat changes nothing";
}

TEST_F(DeadlineLogicTest, PauseAndResumeAreOnTheLog) {
  auto policies = ParsePolicies(YAML::Load(
      "[{name: resolve, kinds: [REPORT], duration: 240h, pauses: true, stop_on: [answered]}]"));
  ASSERT_TRUE(policies.ok());
  MemoryTimerStore store;
  DeadlineLogic logic(store, clock_, calendar_, *policies);
  ASSERT_TRUE(logic.OnEvent(Submitted(t::REPORT), 0).ok());
  const events::Envelope asked = Event(
      [](events::Envelope& e) { e.mutable_information_requested(); }, kStart + absl::Hours(10));
  auto paused = logic.OnEvent(asked, 0);
  ASSERT_EQ(Types(*paused), (std::vector<std::string>{"ClockPaused"}));
  EXPECT_EQ(logic.OnEvent(asked, 0)->size(), 1u) << "repeated: the same event again";
  auto resumed = logic.OnEvent(Event([](events::Envelope& e) { e.mutable_information_provided(); },
                                     kStart + absl::Hours(34)),
                               0);
  ASSERT_EQ(Types(*resumed), (std::vector<std::string>{"ClockResumed"}));
  EXPECT_EQ((*resumed)[0].clock_resumed().generation(), 2);
  EXPECT_EQ((*resumed)[0].clock_resumed().paused_seconds(), 24 * 3600);
  EXPECT_EQ(events::GetTime((*resumed)[0].clock_resumed().due_at()), kStart + absl::Hours(264));
}

events::Envelope Routed(const std::string& department, t::Priority priority, absl::Time at) {
  return Event(
      [&](events::Envelope& e) {
        e.mutable_case_routed()->set_department(department);
        e.mutable_case_routed()->set_priority(priority);
      },
      at);
}

TEST_F(DeadlineLogicTest, PolicyChosenByPriorityAndDepartmentWhenRouted) {
  auto policies = ParsePolicies(YAML::Load(R"(
- {name: resolve, id: resolve-urgent, kinds: [REPORT], priorities: [URGENT], start_on: routed, duration: 24h, stop_on: [answered]}
- {name: resolve, id: resolve-parks, kinds: [REPORT], departments: [parks], start_on: routed, duration: 480h, stop_on: [answered]}
- {name: resolve, kinds: [REPORT], categories: [roads], start_on: routed, duration: 240h, stop_on: [answered]}
)"));
  ASSERT_TRUE(policies.ok()) << policies.status();
  // A policy for roads applies to potholes, which lies under it in the catalogue.
  auto categories = catalog::Catalog::Parse(R"(categories:
  - {id: roads, labels: {nl: Wegen, fr: Routes, en: Roads}}
  - {id: potholes, parent: roads, labels: {nl: Putten, fr: Nids, en: Potholes}}
  - {id: greenery, labels: {nl: Groen, fr: Vert, en: Green}}
  - {id: waste, labels: {nl: Afval, fr: Dechets, en: Waste}}
)",
                                            "categories.yaml");
  ASSERT_TRUE(categories.ok()) << categories.status();
  catalog::CatalogFile catalog_file(*categories);
  auto run = [&](t::Priority submitted_priority, const std::string& category,
                 const std::string& department, t::Priority routed_priority) {
    MemoryTimerStore store;
    DeadlineLogic logic(store, clock_, calendar_, *policies, {.catalog = &catalog_file});
    events::Envelope submitted = Submitted(t::REPORT);
    submitted.mutable_case_submitted()->mutable_draft()->set_priority(submitted_priority);
    submitted.mutable_case_submitted()->mutable_draft()->set_category(category);
    EXPECT_TRUE(logic.OnEvent(submitted, 0)->empty()) << "starts when routed";
    auto out = logic.OnEvent(Routed(department, routed_priority, kStart + absl::Hours(1)), 0);
    EXPECT_TRUE(out.ok());
    auto clocks = *store.Clocks(kCase);
    return clocks.empty()
               ? std::string("none")
               : absl::StrCat(clocks[0].policy(), " ",
                              absl::FormatDuration(events::GetTime(clocks[0].due_at()) -
                                                   events::GetTime(clocks[0].started_at())),
                              " ", clocks[0].department());
  };
  EXPECT_EQ(run(t::NORMAL, "potholes", "public-works", t::URGENT),
            "resolve-urgent 24h public-works")
      << "routing raised the priority (danger words)";
  EXPECT_EQ(run(t::NORMAL, "greenery", "parks", t::NORMAL), "resolve-parks 480h parks");
  EXPECT_EQ(run(t::NORMAL, "potholes", "public-works", t::NORMAL), "resolve 240h public-works");
  EXPECT_EQ(run(t::NORMAL, "waste", "public-works", t::NORMAL), "none");
}

TEST_F(DeadlineLogicTest, AcceptanceClockRestartsOnReassignmentAndBounceButTheAnswerClockKeeps) {
  auto policies = ParsePolicies(YAML::Load(R"(
- {name: department_acceptance, kinds: [REPORT], start_on: routed, duration: 48h, warn_at: [0.5], on_reassign: restart, on_bounce: restart, stop_on: [accepted]}
- {name: resolve, kinds: [REPORT], duration: 240h, on_reassign: keep, stop_on: [answered]}
)"));
  ASSERT_TRUE(policies.ok()) << policies.status();
  MemoryTimerStore store;
  DeadlineLogic logic(store, clock_, calendar_, *policies);
  ASSERT_TRUE(logic.OnEvent(Submitted(t::REPORT), 0).ok());
  ASSERT_EQ(logic.OnEvent(Routed("roads", t::NORMAL, kStart), 0)->size(), 1u);
  clock_.Set(kStart + absl::Hours(25));
  auto first = Fire(logic);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].event->deadline_warning().generation(), 1);
  EXPECT_EQ(first[0].event->deadline_warning().department(), "roads");
  const absl::Time moved = kStart + absl::Hours(30);
  const events::Envelope reassigned = Event(
      [](events::Envelope& e) { e.mutable_case_reassigned()->set_department("parks"); }, moved);
  auto out = logic.OnEvent(reassigned, 0);
  ASSERT_EQ(Types(*out), (std::vector<std::string>{"ClockStarted"}));
  EXPECT_EQ((*out)[0].clock_started().reason(), "reassigned");
  EXPECT_EQ((*out)[0].clock_started().generation(), 2);
  auto by_name = [&](const std::string& name) {
    const std::vector<v1::Clock> clocks = *store.Clocks(kCase);
    for (const auto& c : clocks)
      if (c.name() == name) return c;
    return v1::Clock();
  };
  EXPECT_EQ(events::GetTime(by_name("department_acceptance").due_at()), moved + absl::Hours(48));
  EXPECT_EQ(by_name("department_acceptance").department(), "parks");
  EXPECT_EQ(by_name("resolve").generation(), 1);
  EXPECT_EQ(by_name("resolve").department(), "parks");
  // The first generation's breach (at 48 h) is gone with it.
  clock_.Set(kStart + absl::Hours(50));
  EXPECT_TRUE(Fire(logic).empty());
  clock_.Set(moved + absl::Hours(24));
  auto fired = Fire(logic);
  ASSERT_EQ(fired.size(), 1u);
  EXPECT_EQ(fired[0].event->deadline_warning().generation(), 2);
  EXPECT_EQ(fired[0].event->deadline_warning().department(), "parks");
  // A bounce restarts it again.
  auto bounced = logic.OnEvent(
      Event([](events::Envelope& e) { e.mutable_case_bounced()->set_department("parks"); },
            moved + absl::Hours(25)),
      0);
  ASSERT_EQ(bounced->size(), 1u);
  EXPECT_EQ((*bounced)[0].clock_started().reason(), "bounced");
  EXPECT_EQ((*bounced)[0].clock_started().generation(), 3);
}

TEST_F(DeadlineLogicTest, TriageStopsTheDepartmentsClockAndTheNextRoutingStartsItAnew) {
  auto policies = ParsePolicies(YAML::Load(R"(
- {name: department_acceptance, kinds: [REPORT], start_on: routed, duration: 48h, on_reassign: restart, on_bounce: restart, stop_on: [accepted, triaged]}
)"));
  ASSERT_TRUE(policies.ok()) << policies.status();
  MemoryTimerStore store;
  DeadlineLogic logic(store, clock_, calendar_, *policies);
  ASSERT_TRUE(logic.OnEvent(Submitted(t::REPORT), 0).ok());
  ASSERT_EQ(logic.OnEvent(Routed("roads", t::NORMAL, kStart), 0)->size(), 1u);
  // Every department bounced it: the triage queue. The department's clock stops.
  auto triaged = logic.OnEvent(
      Event([](events::Envelope& e) { e.mutable_case_triaged()->set_reason("all bounced"); },
            kStart + absl::Hours(5)),
      0);
  ASSERT_EQ(Types(*triaged), (std::vector<std::string>{"ClockStopped"}));
  EXPECT_EQ((*triaged)[0].clock_stopped().reason(), "triaged");
  EXPECT_EQ((*store.Clocks(kCase))[0].stop_reason(), "triaged");
  // No breach while the case waits in triage, for a department that no longer holds it.
  clock_.Set(kStart + absl::Hours(60));
  EXPECT_TRUE(Fire(logic).empty());
  // The team reassigns it to parks; routing routes it there: a full term of its own.
  const absl::Time moved = kStart + absl::Hours(60);
  EXPECT_TRUE(logic
                  .OnEvent(Event(
                               [](events::Envelope& e) {
                                 e.mutable_case_reassigned()->set_department("parks");
                               },
                               moved),
                           0)
                  ->empty());
  const events::Envelope routed = Routed("parks", t::NORMAL, moved);
  auto started = logic.OnEvent(routed, 0);
  ASSERT_EQ(Types(*started), (std::vector<std::string>{"ClocksStarted"}));
  ASSERT_EQ((*started)[0].clocks_started().clocks_size(), 1);
  EXPECT_EQ((*started)[0].clocks_started().clocks(0).generation(), 2);
  EXPECT_EQ((*started)[0].clocks_started().clocks(0).reason(), "routed");
  const v1::Clock clock = (*store.Clocks(kCase))[0];
  EXPECT_EQ(clock.status(), v1::RUNNING);
  EXPECT_EQ(clock.department(), "parks");
  EXPECT_EQ(clock.stop_reason(), "");
  EXPECT_EQ(events::GetTime(clock.due_at()), moved + absl::Hours(48));
  // A repeat of the routing starts nothing new (the same event id at most).
  auto repeat = logic.OnEvent(routed, 0);
  for (const auto& e : *repeat) EXPECT_EQ(e.event_id(), (*started)[0].event_id());
  clock_.Set(moved + absl::Hours(49));
  auto fired = Fire(logic);
  ASSERT_EQ(fired.size(), 1u);
  EXPECT_EQ(fired[0].event->deadline_breached().generation(), 2);
  EXPECT_EQ(fired[0].event->deadline_breached().department(), "parks");
}

TEST_F(DeadlineLogicTest, BreachClimbsTheEscalationChainUntilTheCaseIsAnswered) {
  auto policies = ParsePolicies(YAML::Load(R"(
- name: answer
  kinds: [COMPLAINT]
  duration: 240h
  stop_on: [answered]
  escalate:
    - {after: 0h, to: department-head}
    - {after: 48h, to: meldpunt-coordinator}
    - {after: 96h, to: alderman}
)"));
  ASSERT_TRUE(policies.ok()) << policies.status();
  MemoryTimerStore store;
  DeadlineLogic logic(store, clock_, calendar_, *policies);
  ASSERT_TRUE(logic.OnEvent(Submitted(t::COMPLAINT), 0).ok());
  ASSERT_TRUE(logic.OnEvent(Routed("social", t::NORMAL, kStart), 0).ok());
  clock_.Set(kStart + absl::Hours(240));
  auto fired = Fire(logic);
  ASSERT_EQ(fired.size(), 2u);
  EXPECT_EQ(fired[0].event->type(), "DeadlineBreached");
  EXPECT_EQ(fired[0].event->deadline_breached().department(), "social");
  EXPECT_EQ(fired[1].event->type(), "CaseEscalated");
  EXPECT_EQ(fired[1].event->case_escalated().level(), 1);
  EXPECT_EQ(fired[1].event->case_escalated().target(), "department-head");
  EXPECT_EQ(fired[1].event->case_escalated().department(), "social");
  clock_.Set(kStart + absl::Hours(240 + 48));
  fired = Fire(logic);
  ASSERT_EQ(fired.size(), 1u);
  EXPECT_EQ(fired[0].event->case_escalated().target(), "meldpunt-coordinator");
  v1::Clock clock = (*store.Clocks(kCase))[0];
  EXPECT_EQ(clock.status(), v1::BREACHED);
  EXPECT_EQ(clock.escalation_level(), 2);
  // Answered: the breached clock stops, and the last step never fires.
  auto out = logic.OnEvent(
      Event([](events::Envelope& e) { e.mutable_case_answered(); }, kStart + absl::Hours(300)), 0);
  ASSERT_EQ(out->size(), 1u);
  EXPECT_FALSE((*out)[0].clock_stopped().within_term());
  clock = (*store.Clocks(kCase))[0];
  EXPECT_EQ(clock.status(), v1::STOPPED);
  EXPECT_TRUE(clock.breached());
  clock_.Set(kStart + absl::Hours(24 * 30));
  EXPECT_TRUE(Fire(logic).empty());
  EXPECT_EQ(store.Pending(0), 0u);
}

TEST_F(DeadlineLogicTest, WorkingHoursTerm) {
  auto cal = calendar::BusinessCalendar::Create({.working_hours = "08:00-17:00"});
  ASSERT_TRUE(cal.ok()) << cal.status();
  auto term = Term::Parse("16wh");
  ASSERT_TRUE(term.ok());
  EXPECT_EQ(term->text, "16wh");
  // kStart is Saturday 22 November 2025 in Brussels: Monday 08:00-17:00 (9 h) and Tuesday
  // 08:00-15:00 (7 h): due Tuesday 25 November 15:00 CET = 14:00Z.
  EXPECT_EQ(term->DueFrom(kStart, *cal), absl::FromUnixSeconds(1'764'079'200));
}

TEST_F(DeadlineLogicTest, ATimerWhoseClockRecordIsNotWrittenYetWaitsInsteadOfBeingDropped) {
  // The consumer wrote the timers and has not written the record yet when the timer is claimed.
  Timer timer{
      kCase, "answer", 1, "breach", 1000, absl::ToUnixMillis(kStart), absl::ToUnixMillis(kStart)};
  ASSERT_TRUE(store_.Schedule(0, {timer}).ok());
  auto first = FireAll();
  ASSERT_EQ(first.size(), 1u);
  EXPECT_TRUE(first[0].deferred);
  EXPECT_EQ(store_.Pending(0), 1u) << "left claimed";
  // A week later with still no record: an orphan, dropped without an event.
  clock_.Advance(absl::Hours(24 * 8));
  auto later = FireAll();
  ASSERT_EQ(later.size(), 1u);
  EXPECT_FALSE(later[0].deferred);
  EXPECT_FALSE(later[0].event.has_value());
  EXPECT_EQ(store_.Pending(0), 0u);
}

// The team's changes of a clock: planned from the record, appended, applied by the consumer.
class ClockChangeTest : public DeadlineLogicTest {
 protected:
  ClockChangeTest()
      : policies_(*ParsePolicies(YAML::Load(R"(
- name: answer
  kinds: [REPORT]
  duration: 240h
  warn_at: [0.5]
  pauses: true
  stop_on: [answered]
  escalate: [{after: 24h, to: department-head}]
)"))),
        logic_(store_, clock_, calendar_, policies_) {}

  ClockCommand Command(ClockCommand::Kind kind, const std::string& command_id) {
    ClockCommand c;
    c.kind = kind;
    c.case_id = kCase;
    c.clock = "answer";
    c.command_id = command_id;
    c.reason = "waiting for the expert's report";
    c.actor.set_id("team:an.peeters");
    return c;
  }
  ClockCommand Extend(const std::string& command_id, const std::string& term) {
    ClockCommand c = Command(ClockCommand::Kind::kExtend, command_id);
    c.term = term;
    return c;
  }
  // Plans, "appends" and lets the consumer apply the event, as the gRPC adapter and the consumer
  // do; returns the event.
  events::Envelope Run(const ClockCommand& command) {
    absl::StatusOr<PlannedChange> plan = logic_.Plan(command);
    EXPECT_TRUE(plan.ok()) << plan.status();
    if (!plan.ok()) return events::Envelope();
    EXPECT_FALSE(plan->done);
    auto out = logic_.OnEvent(plan->event, 0);
    EXPECT_TRUE(out.ok()) << out.status();
    EXPECT_TRUE(out->empty()) << "the event is the record of the change";
    return plan->event;
  }
  v1::Clock Answer() { return (*store_.Clocks(kCase))[0]; }
  std::vector<Firing> FireAll() { return Fire(logic_); }
  void RequestInformation(absl::Time at) {
    ASSERT_TRUE(
        logic_.OnEvent(Event([](events::Envelope& e) { e.mutable_information_requested(); }, at), 0)
            .ok());
  }
  void ProvideInformation(absl::Time at) {
    ASSERT_TRUE(
        logic_.OnEvent(Event([](events::Envelope& e) { e.mutable_information_provided(); }, at), 0)
            .ok());
  }

  std::vector<ClockPolicy> policies_;
  DeadlineLogic logic_;
};

TEST_F(ClockChangeTest, ExtendByTermReschedulesTheTimers) {
  ASSERT_TRUE(logic_.OnEvent(Submitted(t::REPORT), 0).ok());
  clock_.Set(kStart + absl::Hours(10));
  const events::Envelope e = Run(Extend("cmd-1", "48h"));
  ASSERT_TRUE(e.has_clock_extended());
  EXPECT_EQ(e.actor().id(), "team:an.peeters");
  EXPECT_EQ(e.producer(), "deadline-watch");
  EXPECT_EQ(e.clock_extended().generation(), 2);
  EXPECT_EQ(e.clock_extended().term(), "48h");
  EXPECT_EQ(e.clock_extended().reason(), "waiting for the expert's report");
  EXPECT_EQ(events::GetTime(e.clock_extended().previous_due_at()), kStart + absl::Hours(240));
  EXPECT_EQ(events::GetTime(e.clock_extended().due_at()), kStart + absl::Hours(288));
  v1::Clock clock = Answer();
  EXPECT_EQ(events::GetTime(clock.due_at()), kStart + absl::Hours(288));
  EXPECT_EQ(clock.generation(), 2);
  EXPECT_EQ(clock.extensions(), 1);
  ASSERT_EQ(clock.changes_size(), 1);
  EXPECT_EQ(clock.changes(0).kind(), v1::ClockChange::EXTENDED);
  EXPECT_EQ(clock.changes(0).actor(), "team:an.peeters");
  EXPECT_EQ(clock.changes(0).event_id(), e.event_id());
  EXPECT_TRUE(clock.changes(0).refused().empty());
  // The old warning (120 h) and breach (240 h) are gone; the new ones fire at 144 h and 288 h.
  clock_.Set(kStart + absl::Hours(143));
  EXPECT_TRUE(FireAll().empty());
  clock_.Set(kStart + absl::Hours(144));
  auto warned = FireAll();
  ASSERT_EQ(warned.size(), 1u);
  EXPECT_EQ(warned[0].event->deadline_warning().generation(), 2);
  clock_.Set(kStart + absl::Hours(287));
  EXPECT_TRUE(FireAll().empty()) << "the old breach at 240 h does not fire";
  clock_.Set(kStart + absl::Hours(288));
  auto breached = FireAll();
  ASSERT_EQ(breached.size(), 1u);
  EXPECT_EQ(breached[0].event->type(), "DeadlineBreached");
  EXPECT_EQ(events::GetTime(breached[0].event->deadline_breached().due_at()),
            kStart + absl::Hours(288));
  EXPECT_EQ(Answer().status(), v1::BREACHED);
}

TEST_F(ClockChangeTest, ExtendByTimeLiftsABreachAndTheNewBreachFiresWithANewId) {
  ASSERT_TRUE(logic_.OnEvent(Submitted(t::REPORT), 0).ok());
  clock_.Set(kStart + absl::Hours(264));  // breached, escalated to level 1
  auto first = FireAll();
  ASSERT_EQ(first.size(), 3u);
  ASSERT_EQ(Answer().status(), v1::BREACHED);
  ASSERT_EQ(Answer().escalation_level(), 1);
  std::string old_breach;
  for (const Firing& f : first)
    if (f.event->has_deadline_breached()) old_breach = f.event->event_id();
  ClockCommand extend = Command(ClockCommand::Kind::kExtend, "cmd-2");
  extend.due_at = kStart + absl::Hours(400);
  extend.notify_reporter = true;
  const events::Envelope e = Run(extend);
  EXPECT_TRUE(e.clock_extended().term().empty());
  EXPECT_TRUE(e.clock_extended().notify_reporter());
  v1::Clock clock = Answer();
  EXPECT_EQ(events::GetTime(clock.due_at()), kStart + absl::Hours(400));
  EXPECT_EQ(clock.status(), v1::WARNED) << "half of the new term lies behind";
  EXPECT_FALSE(clock.breached());
  EXPECT_EQ(clock.escalation_level(), 0);
  EXPECT_TRUE(clock.changes(0).was_breached());
  clock_.Set(kStart + absl::Hours(399));
  EXPECT_TRUE(FireAll().empty()) << "no warning again for the part of the term behind";
  clock_.Set(kStart + absl::Hours(424));
  auto again = FireAll();
  ASSERT_EQ(again.size(), 2u);
  EXPECT_EQ(again[0].event->deadline_breached().generation(), 2);
  EXPECT_NE(again[0].event->event_id(), old_breach);
  EXPECT_EQ(again[1].event->case_escalated().level(), 1);
}

TEST_F(ClockChangeTest, SuspendAndResumeMoveTheDueTimeByTheSuspendedSpan) {
  ASSERT_TRUE(logic_.OnEvent(Submitted(t::REPORT), 0).ok());
  clock_.Set(kStart + absl::Hours(10));
  const events::Envelope paused = Run(Command(ClockCommand::Kind::kSuspend, "s-1"));
  EXPECT_TRUE(paused.clock_paused().suspended());
  EXPECT_EQ(paused.clock_paused().reason(), "waiting for the expert's report");
  EXPECT_EQ(Answer().status(), v1::PAUSED);
  EXPECT_TRUE(Answer().suspended());
  clock_.Set(kStart + absl::Hours(250));  // past the warning and the due time: nothing fires
  EXPECT_TRUE(FireAll().empty());
  const events::Envelope resumed = Run(Command(ClockCommand::Kind::kResume, "r-1"));
  EXPECT_TRUE(resumed.clock_resumed().suspended());
  EXPECT_EQ(resumed.clock_resumed().generation(), 2);
  EXPECT_EQ(resumed.clock_resumed().paused_seconds(), 240 * 3600);
  v1::Clock clock = Answer();
  EXPECT_EQ(clock.status(), v1::RUNNING);
  EXPECT_FALSE(clock.suspended());
  EXPECT_EQ(events::GetTime(clock.due_at()), kStart + absl::Hours(480));
  EXPECT_EQ(clock.changes_size(), 2);
  clock_.Set(kStart + absl::Hours(479));
  auto warned = FireAll();  // 50 % of the shifted term: 360 h
  ASSERT_EQ(warned.size(), 1u);
  EXPECT_EQ(warned[0].event->deadline_warning().generation(), 2);
  clock_.Set(kStart + absl::Hours(480));
  ASSERT_EQ(FireAll().size(), 1u);
}

TEST_F(ClockChangeTest, ASuspendedClockIsNotResumedByTheReporterNorAReporterPauseByResumeClock) {
  ASSERT_TRUE(logic_.OnEvent(Submitted(t::REPORT), 0).ok());
  // The reporter pause still works, and ResumeClock does not end it.
  RequestInformation(kStart + absl::Hours(1));
  ASSERT_EQ(Answer().status(), v1::PAUSED);
  clock_.Set(kStart + absl::Hours(2));
  auto resume = logic_.Plan(Command(ClockCommand::Kind::kResume, "r-0"));
  EXPECT_EQ(resume.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(resume.status().message().find("waits for the reporter"), std::string::npos);
  EXPECT_EQ(logic_.Plan(Command(ClockCommand::Kind::kSuspend, "s-0")).status().code(),
            absl::StatusCode::kFailedPrecondition);
  ProvideInformation(kStart + absl::Hours(3));
  ASSERT_EQ(Answer().status(), v1::RUNNING);
  EXPECT_EQ(events::GetTime(Answer().due_at()), kStart + absl::Hours(242));

  // Suspended: the reporter's answer does not resume it.
  clock_.Set(kStart + absl::Hours(4));
  Run(Command(ClockCommand::Kind::kSuspend, "s-1"));
  RequestInformation(kStart + absl::Hours(5));
  EXPECT_TRUE(Answer().waiting_for_reporter());
  clock_.Set(kStart + absl::Hours(6));
  EXPECT_EQ(logic_.Plan(Command(ClockCommand::Kind::kResume, "r-1")).status().code(),
            absl::StatusCode::kFailedPrecondition)
      << "the case waits for the reporter as well";
  ProvideInformation(kStart + absl::Hours(7));
  v1::Clock clock = Answer();
  EXPECT_EQ(clock.status(), v1::PAUSED);
  EXPECT_TRUE(clock.suspended());
  EXPECT_FALSE(clock.waiting_for_reporter());
  clock_.Set(kStart + absl::Hours(300));
  EXPECT_TRUE(FireAll().empty());
  clock_.Set(kStart + absl::Hours(8));
  Run(Command(ClockCommand::Kind::kResume, "r-1"));
  EXPECT_EQ(Answer().status(), v1::RUNNING);
  EXPECT_EQ(events::GetTime(Answer().due_at()), kStart + absl::Hours(246));
}

TEST_F(ClockChangeTest, APausedClockMayBeExtendedAndMovesAgainOnResume) {
  ASSERT_TRUE(logic_.OnEvent(Submitted(t::REPORT), 0).ok());
  RequestInformation(kStart + absl::Hours(10));
  const size_t pending = store_.Pending(0);
  clock_.Set(kStart + absl::Hours(20));
  Run(Extend("x", "48h"));
  v1::Clock clock = Answer();
  EXPECT_EQ(clock.status(), v1::PAUSED) << "it keeps standing still";
  EXPECT_EQ(events::GetTime(clock.due_at()), kStart + absl::Hours(288));
  EXPECT_EQ(store_.Pending(0), pending) << "nothing scheduled while paused";
  ProvideInformation(kStart + absl::Hours(30));  // paused 20 h
  clock = Answer();
  EXPECT_EQ(clock.status(), v1::RUNNING);
  EXPECT_EQ(clock.generation(), 3);
  EXPECT_EQ(events::GetTime(clock.due_at()), kStart + absl::Hours(308));
  clock_.Set(kStart + absl::Hours(307));
  ASSERT_EQ(FireAll().size(), 1u);  // the warning at half of the moved term
  clock_.Set(kStart + absl::Hours(308));
  auto breached = FireAll();
  ASSERT_EQ(breached.size(), 1u);
  EXPECT_EQ(breached[0].event->deadline_breached().generation(), 3);
}

TEST_F(ClockChangeTest, ASuspendedClockStopsLikeAnyOther) {
  ASSERT_TRUE(logic_.OnEvent(Submitted(t::REPORT), 0).ok());
  clock_.Set(kStart + absl::Hours(10));
  Run(Command(ClockCommand::Kind::kSuspend, "s-1"));
  auto out = logic_.OnEvent(
      Event([](events::Envelope& e) { e.mutable_case_answered(); }, kStart + absl::Hours(20)), 0);
  ASSERT_TRUE(out.ok());
  ASSERT_EQ(out->size(), 1u);
  EXPECT_TRUE((*out)[0].clock_stopped().within_term());
  EXPECT_EQ(Answer().status(), v1::STOPPED);
  EXPECT_FALSE(Answer().suspended());
  EXPECT_EQ(logic_.Plan(Command(ClockCommand::Kind::kResume, "r-1")).status().code(),
            absl::StatusCode::kFailedPrecondition);
  clock_.Set(kStart + absl::Hours(500));
  EXPECT_TRUE(FireAll().empty());
}

TEST_F(ClockChangeTest, ARepeatWithTheSameCommandIdChangesNothing) {
  ASSERT_TRUE(logic_.OnEvent(Submitted(t::REPORT), 0).ok());
  clock_.Set(kStart + absl::Hours(10));
  // Planned twice before the consumer applied it (a retry after a lost answer): the same id.
  auto a = logic_.Plan(Extend("same", "48h"));
  auto b = logic_.Plan(Extend("same", "48h"));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->event_id, b->event_id);
  EXPECT_NE(a->event_id, logic_.Plan(Extend("other", "48h"))->event_id);
  ASSERT_TRUE(logic_.OnEvent(a->event, 0).ok());
  ASSERT_TRUE(logic_.OnEvent(b->event, 0).ok()) << "the second copy on the log";
  ASSERT_TRUE(logic_.OnEvent(a->event, 0).ok()) << "redelivered";
  v1::Clock clock = Answer();
  EXPECT_EQ(events::GetTime(clock.due_at()), kStart + absl::Hours(288));
  EXPECT_EQ(clock.extensions(), 1);
  EXPECT_EQ(clock.changes_size(), 1);
  // Planned again after it was applied: done, nothing to append.
  auto again = logic_.Plan(Extend("same", "48h"));
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->done);
  EXPECT_EQ(again->event_id, a->event_id);
  EXPECT_TRUE(again->refused.empty());
  EXPECT_EQ(events::GetTime(again->clock.due_at()), kStart + absl::Hours(288));
}

TEST_F(ClockChangeTest, BadInputChangesNothing) {
  ASSERT_TRUE(logic_.OnEvent(Submitted(t::REPORT), 0).ok());
  clock_.Set(kStart + absl::Hours(10));
  const std::string before = Answer().SerializeAsString();
  const size_t pending = store_.Pending(0);
  auto field = [&](ClockCommand c) {
    absl::StatusOr<PlannedChange> plan = logic_.Plan(c);
    EXPECT_EQ(plan.status().code(), absl::StatusCode::kInvalidArgument) << plan.status();
    return grpc_util::ErrorField(plan.status());
  };
  ClockCommand c = Extend("x", "48h");
  c.reason = "";
  EXPECT_EQ(field(c), "reason");
  c.reason = "   ";
  EXPECT_EQ(field(c), "reason");
  c.reason = std::string(1001, 'a');
  EXPECT_EQ(field(c), "reason");
  c = Extend("x", "soon");
  EXPECT_EQ(field(c), "term");
  c = Extend("x", "");
  EXPECT_EQ(field(c), "due_at") << "neither due_at nor term";
  c = Extend("x", "48h");
  c.due_at = kStart + absl::Hours(300);
  EXPECT_EQ(field(c), "term") << "both";
  c = Command(ClockCommand::Kind::kExtend, "x");
  c.due_at = kStart + absl::Hours(200);
  EXPECT_EQ(field(c), "due_at") << "earlier than the current due time";
  c = Extend("x", "48h");
  c.case_id = "not-a-case";
  EXPECT_EQ(field(c), "case_id");
  c = Extend("x", "48h");
  c.clock = "";
  EXPECT_EQ(field(c), "clock");
  c = Extend("has space", "48h");
  EXPECT_EQ(field(c), "command_id");
  // An overdue clock extended to a time that has passed already.
  clock_.Set(kStart + absl::Hours(300));
  EXPECT_EQ(field(Extend("x", "24h")), "term");
  clock_.Set(kStart + absl::Hours(10));

  c = Extend("x", "48h");
  c.case_id = "MP-ZZZZZZZZZZZZZ";
  EXPECT_EQ(logic_.Plan(c).status().code(), absl::StatusCode::kNotFound);
  c = Extend("x", "48h");
  c.clock = "acknowledge";
  EXPECT_EQ(logic_.Plan(c).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(logic_.Plan(Command(ClockCommand::Kind::kResume, "x")).status().code(),
            absl::StatusCode::kFailedPrecondition)
      << "not suspended";
  EXPECT_EQ(Answer().SerializeAsString(), before);
  EXPECT_EQ(store_.Pending(0), pending);

  // A stopped clock cannot be changed.
  ASSERT_TRUE(logic_
                  .OnEvent(Event([](events::Envelope& e) { e.mutable_case_answered(); },
                                 kStart + absl::Hours(11)),
                           0)
                  .ok());
  EXPECT_EQ(logic_.Plan(Extend("x", "48h")).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(logic_.Plan(Command(ClockCommand::Kind::kSuspend, "x")).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(ClockChangeTest, AChangeOvertakenOnTheLogIsRecordedAsRefusedAndChangesNothingElse) {
  ASSERT_TRUE(logic_.OnEvent(Submitted(t::REPORT), 0).ok());
  clock_.Set(kStart + absl::Hours(10));
  auto first = logic_.Plan(Extend("a", "48h"));
  auto second = logic_.Plan(Extend("b", "96h"));  // planned on the same due time
  ASSERT_TRUE(first.ok() && second.ok());
  ASSERT_TRUE(logic_.OnEvent(first->event, 0).ok());
  ASSERT_TRUE(logic_.OnEvent(second->event, 0).ok());
  v1::Clock clock = Answer();
  EXPECT_EQ(events::GetTime(clock.due_at()), kStart + absl::Hours(288));
  EXPECT_EQ(clock.extensions(), 1);
  ASSERT_EQ(clock.changes_size(), 2);
  EXPECT_FALSE(clock.changes(1).refused().empty());
  auto repeat = logic_.Plan(Extend("b", "96h"));
  ASSERT_TRUE(repeat.ok());
  EXPECT_TRUE(repeat->done);
  EXPECT_FALSE(repeat->refused.empty());
}

TEST_F(ClockChangeTest, ReplayingTheLogGivesTheSameClock) {
  const events::Envelope submitted = Submitted(t::REPORT);
  ASSERT_TRUE(logic_.OnEvent(submitted, 0).ok());
  clock_.Set(kStart + absl::Hours(10));
  const events::Envelope extended = Run(Extend("a", "48h"));
  clock_.Set(kStart + absl::Hours(20));
  const events::Envelope suspended = Run(Command(ClockCommand::Kind::kSuspend, "s"));
  clock_.Set(kStart + absl::Hours(30));
  const events::Envelope resumed = Run(Command(ClockCommand::Kind::kResume, "r"));
  MemoryTimerStore rebuilt;
  DeadlineLogic replay(rebuilt, clock_, calendar_, policies_);
  for (const auto* e : {&submitted, &extended, &suspended, &resumed})
    ASSERT_TRUE(replay.OnEvent(*e, 0).ok());
  EXPECT_EQ((*rebuilt.Clocks(kCase))[0].SerializeAsString(), Answer().SerializeAsString());
  EXPECT_EQ(rebuilt.Pending(0), store_.Pending(0));
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

namespace meldpunt::deadline {
namespace {

// A resolve term per priority: the urgent one first (the first policy that applies decides).
std::vector<ClockPolicy> PriorityPolicies() {
  auto parsed = ParsePolicies(YAML::Load(R"(
- {id: resolve-urgent, name: resolve, kinds: [REPORT], priorities: [URGENT], duration: 48h, warn_at: [0.5], pauses: true, stop_on: [closed]}
- {id: resolve, name: resolve, kinds: [REPORT], duration: 240h, warn_at: [0.5], pauses: true, stop_on: [closed]}
- {name: acknowledge, kinds: [REPORT], duration: 240h, stop_on: [acknowledged]}
)"));
  EXPECT_TRUE(parsed.ok()) << parsed.status();
  return *parsed;
}

events::Envelope PriorityChange(t::Priority from, t::Priority to, absl::Time at) {
  return Event(
      [&](events::Envelope& e) {
        e.mutable_actor()->set_id("team:an.peeters");
        auto* p = e.mutable_priority_changed();
        p->set_previous(from);
        p->set_priority(to);
        p->set_reason("gas smell reported by the fire brigade");
      },
      at);
}

class PriorityChangeTest : public ::testing::Test {
 protected:
  PriorityChangeTest()
      : clock_(kStart),
        calendar_(*calendar::BusinessCalendar::Create({})),
        logic_(store_, clock_, calendar_, PriorityPolicies(), {.lease = absl::Seconds(30)}) {}

  const ClockPolicy& Policy(const std::string& id) {
    for (const ClockPolicy& p : logic_.policies())
      if (p.id == id) return p;
    ADD_FAILURE() << id;
    return logic_.policies().front();
  }
  v1::Clock Clock(const std::string& name) {
    const std::vector<v1::Clock> clocks = *store_.Clocks(kCase);
    for (const v1::Clock& c : clocks)
      if (c.name() == name) return c;
    ADD_FAILURE() << name;
    return v1::Clock();
  }
  std::vector<Firing> FireAll() {
    auto firings = logic_.ClaimDue(0);
    EXPECT_TRUE(firings.ok());
    EXPECT_TRUE(logic_.Complete(0, *firings).ok());
    for (const Firing& f : *firings)
      if (f.event) EXPECT_TRUE(logic_.OnEvent(*f.event, 0).ok());
    return *firings;
  }

  MemoryTimerStore store_;
  clock::FakeClock clock_;
  calendar::BusinessCalendar calendar_;
  DeadlineLogic logic_;
};

// URGENT: the running resolve clock takes the urgent term from the same start (a new generation,
// ClockStarted "priority"), breaches on it, and the change is on the clock with who and why; back
// to NORMAL lifts the breach. The acknowledge clock has one policy for every priority: untouched.
TEST_F(PriorityChangeTest, RunningClocksFollowTheNewPrioritysPolicy) {
  ASSERT_TRUE(logic_.OnEvent(Submitted(t::REPORT), 0).ok());
  const v1::Clock before = Clock("resolve");
  EXPECT_EQ(before.policy(), "resolve");
  const absl::Time normal_due = events::GetTime(before.due_at());
  EXPECT_EQ(normal_due, Policy("resolve").DueFrom(kStart, calendar_, false));
  const v1::Clock ack_before = Clock("acknowledge");

  clock_.Advance(absl::Hours(30));
  const events::Envelope urgent = PriorityChange(t::NORMAL, t::URGENT, clock_.Now());
  auto out = logic_.OnEvent(urgent, 0);
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_EQ(out->size(), 1u) << "the resolve clock only";
  const events::Envelope& started = (*out)[0];
  ASSERT_TRUE(started.has_clock_started());
  EXPECT_EQ(started.clock_started().clock(), "resolve");
  EXPECT_EQ(started.clock_started().reason(), "priority");
  EXPECT_EQ(started.clock_started().generation(), 2);
  EXPECT_EQ(started.clock_started().policy(), "resolve-urgent");
  EXPECT_EQ(started.clock_started().term(), "48h");
  EXPECT_EQ(events::GetTime(started.clock_started().started_at()), kStart) << "the same start";
  const absl::Time urgent_due = Policy("resolve-urgent").DueFrom(kStart, calendar_, false);
  EXPECT_LT(urgent_due, normal_due);
  EXPECT_EQ(events::GetTime(started.clock_started().due_at()), urgent_due);

  const v1::Clock after = Clock("resolve");
  EXPECT_EQ(after.policy(), "resolve-urgent");
  EXPECT_EQ(after.status(), v1::WARNED) << "half of the urgent term lies behind: not fired again";
  ASSERT_EQ(after.changes_size(), 1);
  EXPECT_EQ(after.changes(0).kind(), v1::ClockChange::PRIORITY);
  EXPECT_EQ(after.changes(0).actor(), "team:an.peeters");
  EXPECT_EQ(after.changes(0).reason(), "NORMAL -> URGENT: gas smell reported by the fire brigade");
  EXPECT_EQ(events::GetTime(after.changes(0).previous_due_at()), normal_due);
  EXPECT_EQ(events::GetTime(after.changes(0).due_at()), urgent_due);
  EXPECT_EQ(Clock("acknowledge").SerializeAsString(), ack_before.SerializeAsString());

  // Read again (a crash before the commit): the same record goes out, nothing else changes.
  auto again = logic_.OnEvent(urgent, 0);
  ASSERT_TRUE(again.ok());
  ASSERT_EQ(again->size(), 1u);
  EXPECT_EQ((*again)[0].event_id(), started.event_id());
  EXPECT_EQ(Clock("resolve").changes_size(), 1);

  // The old generation's timers are gone; the urgent breach fires at its due time.
  EXPECT_TRUE(FireAll().empty());
  clock_.Advance(urgent_due - clock_.Now() + absl::Seconds(1));
  auto fired = FireAll();
  ASSERT_EQ(fired.size(), 1u);
  ASSERT_TRUE(fired[0].event->has_deadline_breached());
  EXPECT_EQ(fired[0].event->deadline_breached().clock(), "resolve");
  EXPECT_EQ(fired[0].event->deadline_breached().generation(), 2);
  EXPECT_EQ(Clock("resolve").status(), v1::BREACHED);

  // Back to NORMAL: the long term again, the breach lifted, its warning ahead again.
  auto normal = logic_.OnEvent(PriorityChange(t::URGENT, t::NORMAL, clock_.Now()), 0);
  ASSERT_TRUE(normal.ok());
  ASSERT_EQ(normal->size(), 1u);
  EXPECT_EQ((*normal)[0].clock_started().generation(), 3);
  const v1::Clock back = Clock("resolve");
  EXPECT_EQ(events::GetTime(back.due_at()), normal_due);
  EXPECT_FALSE(back.breached());
  EXPECT_EQ(back.status(), v1::RUNNING);
  EXPECT_TRUE(back.changes(1).was_breached());
  clock_.Advance(normal_due - clock_.Now() - absl::Seconds(1));
  for (const Firing& f : FireAll())
    EXPECT_FALSE(f.event->has_deadline_breached()) << f.event->type();
  clock_.Advance(absl::Seconds(2));
  int resolve_breaches = 0;
  for (const Firing& f : FireAll()) {
    if (!f.event->has_deadline_breached() || f.event->deadline_breached().clock() != "resolve")
      continue;
    ++resolve_breaches;
    EXPECT_EQ(f.event->deadline_breached().generation(), 3);
  }
  EXPECT_EQ(resolve_breaches, 1);
}

// While the case waits for the reporter the clock takes the new term silently; it resumes with it,
// later by the time paused. A clock that is stopped, or a priority whose policy is the same, is
// left alone.
TEST_F(PriorityChangeTest, APausedClockResumesOnTheNewTermAndAStoppedOneStays) {
  ASSERT_TRUE(logic_.OnEvent(Submitted(t::REPORT), 0).ok());
  clock_.Advance(absl::Hours(10));
  ASSERT_TRUE(logic_
                  .OnEvent(Event(
                               [](events::Envelope& e) {
                                 e.mutable_information_requested()->set_question("Waar precies?");
                               },
                               clock_.Now()),
                           0)
                  .ok());
  ASSERT_EQ(Clock("resolve").status(), v1::PAUSED);
  auto out = logic_.OnEvent(PriorityChange(t::NORMAL, t::URGENT, clock_.Now()), 0);
  ASSERT_TRUE(out.ok());
  EXPECT_TRUE(out->empty()) << "a paused clock announces nothing until it resumes";
  const absl::Time urgent_due = Policy("resolve-urgent").DueFrom(kStart, calendar_, false);
  v1::Clock paused = Clock("resolve");
  EXPECT_EQ(paused.status(), v1::PAUSED);
  EXPECT_EQ(paused.policy(), "resolve-urgent");
  EXPECT_EQ(events::GetTime(paused.due_at()), urgent_due);
  EXPECT_EQ(paused.generation(), 1);

  clock_.Advance(absl::Hours(5));
  auto resumed = logic_.OnEvent(
      Event([](events::Envelope& e) { e.mutable_information_provided()->set_text("Aan nr 12"); },
            clock_.Now()),
      0);
  ASSERT_TRUE(resumed.ok());
  bool seen = false;
  for (const auto& e : *resumed) {
    if (!e.has_clock_resumed() || e.clock_resumed().clock() != "resolve") continue;
    seen = true;
    EXPECT_EQ(events::GetTime(e.clock_resumed().due_at()), urgent_due + absl::Hours(5));
  }
  EXPECT_TRUE(seen);

  // Closed: the resolve clock stops; a later change of priority leaves it as it is.
  ASSERT_TRUE(
      logic_.OnEvent(Event([](events::Envelope& e) { e.mutable_case_closed(); }, clock_.Now()), 0)
          .ok());
  const v1::Clock stopped = Clock("resolve");
  ASSERT_EQ(stopped.status(), v1::STOPPED);
  out = logic_.OnEvent(PriorityChange(t::URGENT, t::LOW, clock_.Now()), 0);
  ASSERT_TRUE(out.ok());
  EXPECT_TRUE(out->empty());
  EXPECT_EQ(Clock("resolve").SerializeAsString(), stopped.SerializeAsString());
}

// The team's change read before routing's answer to the submission (routing lagged): the later
// CaseRouted, decided on the draft's priority, does not undo it.
TEST_F(PriorityChangeTest, ARoutingDecidedBeforeTheChangeDoesNotUndoIt) {
  ASSERT_TRUE(logic_.OnEvent(Submitted(t::REPORT), 0).ok());
  ASSERT_TRUE(logic_.OnEvent(PriorityChange(t::NORMAL, t::URGENT, clock_.Now()), 0).ok());
  ASSERT_EQ(Clock("resolve").policy(), "resolve-urgent");
  auto routed = logic_.OnEvent(Event([](events::Envelope& e) {
                                 e.mutable_case_routed()->set_department("public-works");
                                 e.mutable_case_routed()->set_priority(t::NORMAL);
                               }),
                               0);
  ASSERT_TRUE(routed.ok());
  auto facts = store_.Facts(kCase);
  ASSERT_TRUE(facts.ok() && facts->has_value());
  EXPECT_EQ((*facts)->priority, t::URGENT);
  EXPECT_TRUE((*facts)->priority_by_team);
  EXPECT_EQ((*facts)->department, "public-works");
  EXPECT_EQ(Clock("resolve").policy(), "resolve-urgent");
}

// An extension given before the change is kept on top of the new term.
TEST_F(PriorityChangeTest, AnExtensionIsKeptOnTopOfTheNewTerm) {
  ASSERT_TRUE(logic_.OnEvent(Submitted(t::REPORT), 0).ok());
  ClockCommand extend;
  extend.case_id = kCase;
  extend.clock = "resolve";
  extend.term = "24h";
  extend.reason = "waiting for the utility company";
  extend.actor.set_id("team:an.peeters");
  auto plan = logic_.Plan(extend);
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_TRUE(logic_.OnEvent(plan->event, 0).ok());
  const absl::Duration extension = events::GetTime(Clock("resolve").due_at()) -
                                   Policy("resolve").DueFrom(kStart, calendar_, false);
  EXPECT_EQ(extension, absl::Hours(24));
  auto out = logic_.OnEvent(PriorityChange(t::NORMAL, t::URGENT, clock_.Now()), 0);
  ASSERT_TRUE(out.ok());
  ASSERT_EQ(out->size(), 1u);
  EXPECT_EQ(events::GetTime(Clock("resolve").due_at()),
            Policy("resolve-urgent").DueFrom(kStart, calendar_, false) + absl::Hours(24));
}

}  // namespace
}  // namespace meldpunt::deadline
