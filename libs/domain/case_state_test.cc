#include "libs/domain/case_state.h"

#include <algorithm>
#include <map>
#include <vector>

#include <gtest/gtest.h>

namespace meldpunt::domain {
namespace {

namespace t = ::meldpunt::types::v1;
using events::Envelope;

constexpr char kCase[] = "MP-0123456789ABC";

Envelope Event(int n, const std::function<void(Envelope&)>& set) {
  Envelope e = events::NewEnvelope(kCase, "test", absl::FromUnixSeconds(1'763'800'000 + n));
  set(e);
  events::Finish(e, "ev-" + std::to_string(n));
  return e;
}

Envelope Submitted() {
  return Event(0, [](Envelope& e) {
    e.mutable_case_submitted()->set_submitting_system("web-form");
    e.mutable_case_submitted()->mutable_draft()->set_kind(t::REPORT);
  });
}

Envelope Routed(const std::string& department) {
  return Event(1, [&](Envelope& e) { e.mutable_case_routed()->set_department(department); });
}

TEST(CaseState, SubmitRouteAcknowledgeAndBreach) {
  Case c;
  ASSERT_TRUE(Apply(c, Submitted()).ok());
  EXPECT_EQ(c.state(), t::RECEIVED);
  EXPECT_EQ(c.priority(), t::NORMAL);
  EXPECT_EQ(c.version(), 1);
  ASSERT_TRUE(Apply(c, Routed("public-works")).ok());
  EXPECT_EQ(c.state(), t::ROUTED);
  EXPECT_EQ(c.department(), "public-works");
  EXPECT_EQ(c.route_hops(), 1);
  ASSERT_TRUE(Apply(c, Event(2,
                             [](Envelope& e) {
                               e.mutable_notification_delivered()->set_template_name(
                                   "acknowledgement");
                             }))
                  .ok());
  EXPECT_TRUE(c.acknowledged());
  EXPECT_EQ(c.state(), t::ROUTED);
  auto breach = Event(3, [](Envelope& e) { e.mutable_deadline_breached()->set_clock("answer"); });
  ASSERT_TRUE(Apply(c, breach).ok());
  ASSERT_TRUE(Apply(c, breach).ok());
  EXPECT_EQ(c.breached_clocks_size(), 1);
  EXPECT_EQ(c.version(), 5);
  EXPECT_EQ(c.last_event_id(), "ev-3");
}

TEST(CaseState, ThePriorityIsTheTeamsOnceItChangedIt) {
  Case c;
  ASSERT_TRUE(Apply(c, Submitted()).ok());
  ASSERT_TRUE(Apply(c, Routed("public-works")).ok());
  EXPECT_EQ(c.priority(), t::NORMAL);
  ASSERT_TRUE(Apply(c, Event(2,
                             [](Envelope& e) {
                               e.mutable_priority_changed()->set_previous(t::NORMAL);
                               e.mutable_priority_changed()->set_priority(t::URGENT);
                               e.mutable_priority_changed()->set_reason("gas smell");
                             }))
                  .ok());
  EXPECT_EQ(c.priority(), t::URGENT);
  EXPECT_EQ(c.state(), t::ROUTED);
  EXPECT_TRUE(c.priority_by_team());
  // A routing decided before routing read the change (a bounce routed again while it lagged)
  // does not undo the team's priority.
  ASSERT_TRUE(
      Apply(c,
            Event(3, [](Envelope& e) { e.mutable_case_bounced()->set_department("public-works"); }))
          .ok());
  ASSERT_TRUE(Apply(c, Event(4,
                             [](Envelope& e) {
                               e.mutable_case_routed()->set_department("environment");
                               e.mutable_case_routed()->set_priority(t::NORMAL);
                             }))
                  .ok());
  EXPECT_EQ(c.priority(), t::URGENT);
  EXPECT_EQ(c.department(), "environment");
}

TEST(CaseState, ReceiptIsTheSubmissionUnlessTheDraftGivesIt) {
  Case registered;
  ASSERT_TRUE(Apply(registered, Submitted()).ok());
  EXPECT_EQ(events::GetTime(registered.received_at()), absl::FromUnixSeconds(1'763'800'000));
  Envelope letter = Submitted();
  events::SetTime(letter.mutable_case_submitted()->mutable_draft()->mutable_received_at(),
                  absl::FromUnixSeconds(1'763'800'000) - absl::Hours(72));
  Case late;
  ASSERT_TRUE(Apply(late, letter).ok());
  EXPECT_EQ(events::GetTime(late.received_at()),
            absl::FromUnixSeconds(1'763'800'000) - absl::Hours(72));
  EXPECT_EQ(events::GetTime(late.submitted_at()), absl::FromUnixSeconds(1'763'800'000));
}

TEST(CaseState, TheClocksOneEventStartedAreOneRecordAndEachRuns) {
  const absl::Time t0 = absl::FromUnixSeconds(1'763'800'000);
  Case c;
  ASSERT_TRUE(Apply(c, Submitted()).ok());
  ASSERT_TRUE(Apply(c, Event(1,
                             [&](Envelope& e) {
                               auto* started = e.mutable_clocks_started();
                               auto* ack = started->add_clocks();
                               ack->set_clock("acknowledge");
                               ack->set_generation(1);
                               events::SetTime(ack->mutable_due_at(), t0 + absl::Hours(240));
                               auto* answer = started->add_clocks();
                               answer->set_clock("answer");
                               answer->set_generation(1);
                               events::SetTime(answer->mutable_due_at(), t0 + absl::Hours(1080));
                             }))
                  .ok());
  ASSERT_EQ(c.running_clocks_size(), 2);
  EXPECT_EQ(c.running_clocks(0).clock(), "acknowledge");
  EXPECT_EQ(events::GetTime(c.running_clocks(0).due_at()), t0 + absl::Hours(240));
  EXPECT_EQ(c.running_clocks(1).clock(), "answer");
  EXPECT_EQ(events::GetTime(c.running_clocks(1).due_at()), t0 + absl::Hours(1080));
  // One of them stops: the other runs on.
  ASSERT_TRUE(Apply(c, Event(2,
                             [](Envelope& e) {
                               e.mutable_clock_stopped()->set_clock("acknowledge");
                               e.mutable_clock_stopped()->set_within_term(true);
                             }))
                  .ok());
  ASSERT_EQ(c.running_clocks_size(), 1);
  EXPECT_EQ(c.running_clocks(0).clock(), "answer");
  // Before the submission there is no case to start a clock on.
  Case none;
  EXPECT_FALSE(Apply(none, Event(1,
                                 [](Envelope& e) {
                                   e.mutable_clocks_started()->add_clocks()->set_clock("answer");
                                 }))
                   .ok());
}

TEST(CaseState, RunningClocksFollowStartPauseResumeExtendAndStop) {
  const absl::Time t0 = absl::FromUnixSeconds(1'763'800'000);
  Case c;
  ASSERT_TRUE(Apply(c, Submitted()).ok());
  ASSERT_TRUE(Apply(c, Event(1,
                             [&](Envelope& e) {
                               auto* p = e.mutable_clock_started();
                               p->set_clock("answer");
                               p->set_generation(1);
                               events::SetTime(p->mutable_due_at(), t0 + absl::Hours(10));
                             }))
                  .ok());
  ASSERT_EQ(c.running_clocks_size(), 1);
  EXPECT_EQ(events::GetTime(c.running_clocks(0).due_at()), t0 + absl::Hours(10));
  ASSERT_TRUE(Apply(c, Event(2,
                             [](Envelope& e) {
                               e.mutable_clock_paused()->set_clock("answer");
                               e.mutable_clock_paused()->set_suspended(true);
                             }))
                  .ok());
  EXPECT_TRUE(c.running_clocks(0).paused());
  ASSERT_TRUE(Apply(c, Event(3,
                             [&](Envelope& e) {
                               auto* p = e.mutable_clock_resumed();
                               p->set_clock("answer");
                               p->set_generation(2);
                               events::SetTime(p->mutable_due_at(), t0 + absl::Hours(11));
                             }))
                  .ok());
  EXPECT_FALSE(c.running_clocks(0).paused());
  EXPECT_EQ(c.running_clocks(0).generation(), 2);
  // Breached, then extended past the time of the extension: no longer overdue.
  ASSERT_TRUE(
      Apply(c, Event(4, [](Envelope& e) { e.mutable_deadline_breached()->set_clock("answer"); }))
          .ok());
  EXPECT_EQ(c.breached_clocks_size(), 1);
  ASSERT_TRUE(Apply(c, Event(5,
                             [&](Envelope& e) {
                               auto* p = e.mutable_clock_extended();
                               p->set_clock("answer");
                               p->set_generation(2);
                               events::SetTime(p->mutable_due_at(), t0 + absl::Hours(30));
                               p->set_reason("expert report awaited");
                             }))
                  .ok());
  EXPECT_EQ(events::GetTime(c.running_clocks(0).due_at()), t0 + absl::Hours(30));
  EXPECT_EQ(c.breached_clocks_size(), 0);
  ASSERT_EQ(c.clocks_extended_size(), 1);
  EXPECT_EQ(c.clocks_extended(0), "answer");
  ASSERT_TRUE(Apply(c, Event(6,
                             [](Envelope& e) {
                               e.mutable_clock_stopped()->set_clock("answer");
                               e.mutable_clock_stopped()->set_within_term(true);
                             }))
                  .ok());
  EXPECT_EQ(c.running_clocks_size(), 0);
  EXPECT_EQ(c.clocks_within_term_size(), 1);
}

TEST(CaseState, EveryRoutingDecidesWhetherTheDepartmentSeesTheReporter) {
  Case c;
  int n = 0;
  auto apply = [&](const std::function<void(Envelope&)>& set) { return Apply(c, Event(++n, set)); };
  auto routed = [](const std::string& department, bool visible) {
    return [=](Envelope& e) {
      e.mutable_case_routed()->set_department(department);
      e.mutable_case_routed()->set_reporter_visible(visible);
    };
  };
  ASSERT_TRUE(Apply(c, Submitted()).ok());
  EXPECT_FALSE(c.reporter_visible());
  ASSERT_TRUE(apply(routed("environment", true)).ok());
  EXPECT_TRUE(c.reporter_visible());
  // Bounced: nobody holds the case.
  ASSERT_TRUE(
      apply([](Envelope& e) { e.mutable_case_bounced()->set_department("environment"); }).ok());
  EXPECT_FALSE(c.reporter_visible());
  ASSERT_TRUE(apply(routed("environment", true)).ok());
  EXPECT_TRUE(c.reporter_visible());
  // Routed again (a bounce further on) to a department that may not: cleared.
  ASSERT_TRUE(
      apply([](Envelope& e) { e.mutable_case_bounced()->set_department("environment"); }).ok());
  ASSERT_TRUE(apply(routed("public-works", false)).ok());
  EXPECT_FALSE(c.reporter_visible());
  ASSERT_TRUE(
      apply([](Envelope& e) { e.mutable_case_bounced()->set_department("public-works"); }).ok());
  ASSERT_TRUE(apply(routed("environment", true)).ok());
  ASSERT_TRUE(c.reporter_visible());
  // Reassigned by the team: the reassignment says nothing of the new department's policy.
  ASSERT_TRUE(
      apply([](Envelope& e) { e.mutable_case_reassigned()->set_department("mobility"); }).ok());
  EXPECT_FALSE(c.reporter_visible());
  EXPECT_EQ(c.department(), "mobility");
}

TEST(CaseState, IllegalEventIsRefusedNamingTheStateAndChangesNothing) {
  Case c;
  ASSERT_TRUE(Apply(c, Submitted()).ok());
  Case before = c;
  absl::Status status = Apply(c, Event(5, [](Envelope& e) { e.mutable_case_accepted(); }));
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(status.message().find("RECEIVED"), std::string::npos) << status;
  EXPECT_EQ(c.SerializeAsString(), before.SerializeAsString());
  EXPECT_EQ(Apply(c, Submitted()).code(), absl::StatusCode::kFailedPrecondition);
}

TEST(CaseState, NothingButSubmissionStartsACase) {
  Case c;
  EXPECT_EQ(Apply(c, Routed("x")).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Apply(c, Event(1, [](Envelope& e) { e.mutable_deadline_warning(); })).code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(CaseState, EventOfAnotherCaseIsRejected) {
  Case c;
  ASSERT_TRUE(Apply(c, Submitted()).ok());
  Envelope other = Routed("x");
  other.set_case_id("MP-ZZZZZZZZZZZZZ");
  EXPECT_EQ(Apply(c, other).code(), absl::StatusCode::kInvalidArgument);
}

// Every state against every payload: Apply never crashes, refuses with FAILED_PRECONDITION, and
// never leaves a terminal state; a closed case is left only by reopening.
TEST(CaseState, EveryStateAgainstEveryEvent) {
  const auto* oneof = Envelope::descriptor()->FindOneofByName("payload");
  for (int s = t::CaseState_MIN; s <= t::CaseState_MAX; ++s) {
    for (int f = 0; f < oneof->field_count(); ++f) {
      Case c;
      c.set_case_id(kCase);
      c.set_state(static_cast<t::CaseState>(s));
      Envelope e = events::NewEnvelope(kCase, "test", absl::FromUnixSeconds(1));
      e.GetReflection()->MutableMessage(&e, oneof->field(f));
      events::Finish(e, "ev-x");
      absl::Status status = Apply(c, e);
      if (!status.ok()) {
        EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
        EXPECT_EQ(c.state(), s);
        continue;
      }
      if (IsTerminal(static_cast<t::CaseState>(s))) {
        EXPECT_EQ(c.state(), s) << StateName(static_cast<t::CaseState>(s)) << " left by "
                                << e.type();
      }
      if (s == t::CLOSED && c.state() != t::CLOSED) EXPECT_EQ(c.state(), t::REOPENED) << e.type();
    }
  }
}

TEST(CaseState, LifecycleThroughBounceInformationAnswerAndReopen) {
  Case c;
  int n = 0;
  auto apply = [&](const std::function<void(Envelope&)>& set) { return Apply(c, Event(++n, set)); };
  ASSERT_TRUE(Apply(c, Submitted()).ok());
  ASSERT_TRUE(apply([](Envelope& e) { e.mutable_case_routed()->set_department("a"); }).ok());
  ASSERT_TRUE(apply([](Envelope& e) { e.mutable_case_bounced()->set_department("a"); }).ok());
  EXPECT_EQ(c.state(), t::RECEIVED);
  EXPECT_EQ(c.department(), "");
  ASSERT_TRUE(apply([](Envelope& e) { e.mutable_case_routed()->set_department("b"); }).ok());
  EXPECT_EQ(c.route_hops(), 2);
  ASSERT_TRUE(apply([](Envelope& e) { e.mutable_case_accepted(); }).ok());
  ASSERT_TRUE(apply([](Envelope& e) { e.mutable_information_requested(); }).ok());
  EXPECT_EQ(c.state(), t::WAITING_FOR_REPORTER);
  ASSERT_TRUE(apply([](Envelope& e) { e.mutable_information_provided(); }).ok());
  EXPECT_EQ(c.state(), t::IN_PROGRESS);
  ASSERT_TRUE(apply([](Envelope& e) { e.mutable_case_answered(); }).ok());
  ASSERT_TRUE(apply([](Envelope& e) { e.mutable_case_reopened(); }).ok());
  EXPECT_EQ(c.state(), t::REOPENED);
  ASSERT_TRUE(apply([](Envelope& e) { e.mutable_case_answered(); }).ok());
  ASSERT_TRUE(apply([](Envelope& e) { e.mutable_case_closed(); }).ok());
  EXPECT_EQ(c.state(), t::CLOSED);
  EXPECT_EQ(apply([](Envelope& e) { e.mutable_case_withdrawn(); }).code(),
            absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace meldpunt::domain

namespace meldpunt::domain {
namespace {

namespace t = ::meldpunt::types::v1;
using events::Envelope;

// The lifecycle as documented in docs/api.md, stated independently of the implementation:
// for each payload, the states it is allowed in and the state it leads to ("=" keeps the state).
struct Rule {
  const char* payload;
  std::vector<t::CaseState> from;
  std::map<t::CaseState, t::CaseState> to;  // per from-state; missing = `fallback`
  t::CaseState fallback;
};

const std::vector<t::CaseState> kOpen = {
    t::RECEIVED,    t::ADMISSIBILITY_PENDING, t::IN_TRIAGE, t::ROUTED, t::ACCEPTED,
    t::IN_PROGRESS, t::WAITING_FOR_REPORTER,  t::REOPENED};

std::vector<Rule> Rules() {
  const auto keep = t::CASE_STATE_UNSPECIFIED;  // marker: state unchanged
  return {
      {"case_routed",
       {t::RECEIVED, t::ADMISSIBILITY_PENDING, t::IN_TRIAGE, t::REOPENED},
       {{t::ADMISSIBILITY_PENDING, keep}},
       t::ROUTED},
      {"case_triaged", {t::RECEIVED, t::ADMISSIBILITY_PENDING, t::REOPENED}, {}, t::IN_TRIAGE},
      {"case_accepted", {t::ROUTED}, {}, t::ACCEPTED},
      {"case_bounced", {t::ROUTED, t::ACCEPTED}, {}, t::RECEIVED},
      {"information_requested",
       {t::ADMISSIBILITY_PENDING, t::IN_TRIAGE, t::ROUTED, t::ACCEPTED, t::IN_PROGRESS},
       {},
       t::WAITING_FOR_REPORTER},
      {"information_provided", kOpen, {{t::WAITING_FOR_REPORTER, t::IN_PROGRESS}}, keep},
      {"case_answered", {t::ROUTED, t::ACCEPTED, t::IN_PROGRESS, t::REOPENED}, {}, t::ANSWERED},
      {"case_closed", {t::ANSWERED, t::INADMISSIBLE, t::REFERRED, t::REOPENED}, {}, t::CLOSED},
      {"case_reopened", {t::ANSWERED, t::CLOSED}, {}, t::REOPENED},
      {"case_withdrawn", kOpen, {}, t::WITHDRAWN},
      // Out of triage the case waits for routing's CaseRouted (a complaint whose admissibility is
      // undecided: ADMISSIBILITY_PENDING, see ATriagedComplaintKeepsItsAdmissibilityDecision).
      {"case_reassigned",
       {t::IN_TRIAGE, t::ROUTED, t::ACCEPTED, t::IN_PROGRESS},
       {{t::IN_TRIAGE, t::RECEIVED}},
       t::ROUTED},
      {"admissibility_decided", {t::ADMISSIBILITY_PENDING}, {}, t::INADMISSIBLE},
      {"case_referred",
       {t::RECEIVED, t::ADMISSIBILITY_PENDING, t::IN_TRIAGE, t::ROUTED, t::ACCEPTED},
       {},
       t::REFERRED},
      {"case_merged", kOpen, {}, t::MERGED},
      // The team's lever: any open case, its state unchanged.
      {"priority_changed", kOpen, {}, keep},
  };
}

TEST(CaseStateTable, EveryLifecycleEventInEveryState) {
  const auto* descriptor = Envelope::descriptor();
  for (const Rule& rule : Rules()) {
    const auto* field = descriptor->FindFieldByName(rule.payload);
    ASSERT_NE(field, nullptr) << rule.payload;
    for (int s = t::CaseState_MIN + 1; s <= t::CaseState_MAX; ++s) {
      const auto state = static_cast<t::CaseState>(s);
      Case c;
      c.set_case_id("MP-0123456789ABC");
      c.set_state(state);
      c.set_department("d");
      // Waiting cases remember an accepted state, so providing information moves to IN_PROGRESS.
      c.set_state_before_wait(t::ACCEPTED);
      Envelope e = events::NewEnvelope("MP-0123456789ABC", "test", absl::FromUnixSeconds(1));
      e.GetReflection()->MutableMessage(&e, field);  // admissibility_decided: not admissible
      events::Finish(e, "ev");
      absl::Status status = Apply(c, e);
      const bool allowed = std::find(rule.from.begin(), rule.from.end(), state) != rule.from.end();
      if (!allowed) {
        EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition)
            << rule.payload << " in " << StateName(state);
        EXPECT_NE(status.message().find(StateName(state)), std::string::npos) << status;
        EXPECT_EQ(c.state(), state);
        continue;
      }
      ASSERT_TRUE(status.ok()) << rule.payload << " in " << StateName(state) << ": " << status;
      auto it = rule.to.find(state);
      t::CaseState expected = it != rule.to.end() ? it->second : rule.fallback;
      if (expected == t::CASE_STATE_UNSPECIFIED) expected = state;
      EXPECT_EQ(c.state(), expected)
          << rule.payload << " in " << StateName(state) << " gave " << StateName(c.state());
    }
  }
}

TEST(CaseStateTable, ComplaintWaitsForItsAdmissibilityDecision) {
  Case c;
  Envelope submitted = events::NewEnvelope("MP-0123456789ABC", "intake", absl::FromUnixSeconds(1));
  submitted.mutable_case_submitted()->mutable_draft()->set_kind(t::COMPLAINT);
  submitted.mutable_case_submitted()->set_reference("MP-2026-ABCDEFGHJ");
  events::Finish(submitted, "s");
  ASSERT_TRUE(Apply(c, submitted).ok());
  EXPECT_EQ(c.state(), t::ADMISSIBILITY_PENDING);
  EXPECT_EQ(c.admissibility(), t::ADMISSIBILITY_UNDECIDED);
  EXPECT_EQ(c.reference(), "MP-2026-ABCDEFGHJ");
  Envelope routed = events::NewEnvelope("MP-0123456789ABC", "routing", absl::FromUnixSeconds(2));
  routed.mutable_case_routed()->set_department("complaints-office");
  events::Finish(routed, "r");
  ASSERT_TRUE(Apply(c, routed).ok());
  EXPECT_EQ(c.state(), t::ADMISSIBILITY_PENDING);
  EXPECT_EQ(c.department(), "complaints-office");
  Envelope accept = events::NewEnvelope("MP-0123456789ABC", "x", absl::FromUnixSeconds(3));
  accept.mutable_case_accepted();
  events::Finish(accept, "a");
  EXPECT_EQ(Apply(c, accept).code(), absl::StatusCode::kFailedPrecondition);
  Envelope decided = events::NewEnvelope("MP-0123456789ABC", "x", absl::FromUnixSeconds(4));
  decided.mutable_admissibility_decided()->set_admissible(true);
  events::Finish(decided, "d");
  ASSERT_TRUE(Apply(c, decided).ok());
  EXPECT_EQ(c.state(), t::ROUTED);
  EXPECT_EQ(c.admissibility(), t::ADMISSIBILITY_ADMISSIBLE);
  ASSERT_TRUE(Apply(c, accept).ok());
  Envelope answered = events::NewEnvelope("MP-0123456789ABC", "x", absl::FromUnixSeconds(5));
  answered.mutable_case_answered()->set_outcome(events::v1::PARTLY_FOUNDED);
  answered.mutable_case_answered()->set_answer("We apologise.");
  events::Finish(answered, "an");
  ASSERT_TRUE(Apply(c, answered).ok());
  EXPECT_EQ(c.outcome(), "PARTLY_FOUNDED");
  EXPECT_EQ(c.answer(), "We apologise.");
}

Envelope At(int n, const std::function<void(Envelope&)>& set) {
  Envelope e = events::NewEnvelope("MP-0123456789ABC", "test", absl::FromUnixSeconds(n));
  set(e);
  events::Finish(e, "ev-" + std::to_string(n));
  return e;
}

// Routing could not place the case: the team's queue, with the reason, until the team sends it
// to a department (through routing, which answers with CaseRouted).
TEST(CaseStateTable, TriagedThenReassignedThroughRouting) {
  Case c;
  ASSERT_TRUE(Apply(c, At(1,
                          [](Envelope& e) {
                            e.mutable_case_submitted()->mutable_draft()->set_kind(t::REPORT);
                          }))
                  .ok());
  ASSERT_TRUE(Apply(c, At(2,
                          [](Envelope& e) {
                            e.mutable_case_routed()->set_department("green-spaces");
                            e.mutable_case_routed()->set_assignee("an");
                            e.mutable_case_routed()->set_reporter_visible(true);
                          }))
                  .ok());
  ASSERT_TRUE(
      Apply(c, At(3, [](Envelope& e) { e.mutable_case_bounced()->set_department("green-spaces"); }))
          .ok());
  ASSERT_EQ(c.state(), t::RECEIVED);
  ASSERT_TRUE(Apply(c, At(4,
                          [](Envelope& e) {
                            e.mutable_case_triaged()->set_reason("every department bounced it");
                          }))
                  .ok());
  EXPECT_EQ(c.state(), t::IN_TRIAGE);
  EXPECT_EQ(c.triage_reason(), "every department bounced it");
  EXPECT_EQ(c.department(), "");
  EXPECT_EQ(c.assignee(), "");
  EXPECT_FALSE(c.reporter_visible());
  EXPECT_TRUE(IsOpen(c.state()));
  // A question to the reporter comes back to the triage queue.
  ASSERT_TRUE(Apply(c, At(5, [](Envelope& e) { e.mutable_information_requested(); })).ok());
  ASSERT_TRUE(Apply(c, At(6, [](Envelope& e) { e.mutable_information_provided(); })).ok());
  EXPECT_EQ(c.state(), t::IN_TRIAGE);
  // Nobody can accept it in triage.
  EXPECT_EQ(Apply(c, At(7, [](Envelope& e) { e.mutable_case_accepted(); })).code(),
            absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(
      Apply(c,
            At(8, [](Envelope& e) { e.mutable_case_reassigned()->set_department("environment"); }))
          .ok());
  EXPECT_EQ(c.state(), t::RECEIVED) << "waits for routing's answer";
  EXPECT_EQ(c.department(), "environment");
  EXPECT_EQ(c.triage_reason(), "");
  EXPECT_EQ(Apply(c, At(9, [](Envelope& e) { e.mutable_case_accepted(); })).code(),
            absl::StatusCode::kFailedPrecondition)
      << "not before routing dispatched it";
  ASSERT_TRUE(Apply(c, At(10,
                          [](Envelope& e) {
                            e.mutable_case_routed()->set_department("environment");
                            e.mutable_case_routed()->set_rule_id("reassigned");
                            e.mutable_case_routed()->set_reporter_visible(true);
                          }))
                  .ok());
  EXPECT_EQ(c.state(), t::ROUTED);
  EXPECT_EQ(c.route_hops(), 2);
  EXPECT_TRUE(c.reporter_visible());
  ASSERT_TRUE(Apply(c, At(11, [](Envelope& e) { e.mutable_case_accepted(); })).ok());
  // Routing may answer a reassignment with triage again (a department it does not know).
  Case again;
  again.set_case_id("MP-0123456789ABC");
  again.set_state(t::IN_TRIAGE);
  ASSERT_TRUE(
      Apply(again,
            At(1, [](Envelope& e) { e.mutable_case_reassigned()->set_department("nowhere"); }))
          .ok());
  ASSERT_TRUE(Apply(again, At(2,
                              [](Envelope& e) {
                                e.mutable_case_triaged()->set_reason("nowhere is not a department");
                              }))
                  .ok());
  EXPECT_EQ(again.state(), t::IN_TRIAGE);
  EXPECT_EQ(again.department(), "");
  EXPECT_EQ(again.triage_reason(), "nowhere is not a department");
}

// A complaint nobody can route is triaged from ADMISSIBILITY_PENDING; once the team sent it to a
// department it waits for its admissibility decision again.
TEST(CaseStateTable, ATriagedComplaintKeepsItsAdmissibilityDecision) {
  Case c;
  ASSERT_TRUE(Apply(c, At(1,
                          [](Envelope& e) {
                            e.mutable_case_submitted()->mutable_draft()->set_kind(t::COMPLAINT);
                          }))
                  .ok());
  ASSERT_EQ(c.state(), t::ADMISSIBILITY_PENDING);
  ASSERT_TRUE(
      Apply(c, At(2, [](Envelope& e) { e.mutable_case_triaged()->set_reason("no rule matches"); }))
          .ok());
  EXPECT_EQ(c.state(), t::IN_TRIAGE);
  EXPECT_EQ(c.admissibility(), t::ADMISSIBILITY_UNDECIDED);
  ASSERT_TRUE(Apply(c, At(3,
                          [](Envelope& e) {
                            e.mutable_case_reassigned()->set_department("complaints-office");
                          }))
                  .ok());
  EXPECT_EQ(c.state(), t::ADMISSIBILITY_PENDING);
  ASSERT_TRUE(Apply(c, At(4,
                          [](Envelope& e) {
                            e.mutable_case_routed()->set_department("complaints-office");
                          }))
                  .ok());
  EXPECT_EQ(c.state(), t::ADMISSIBILITY_PENDING);
  EXPECT_EQ(c.department(), "complaints-office");
  ASSERT_TRUE(
      Apply(c, At(5, [](Envelope& e) { e.mutable_admissibility_decided()->set_admissible(true); }))
          .ok());
  EXPECT_EQ(c.state(), t::ROUTED);
  // Admissible, bounced, and nobody else: triage from RECEIVED, and routed on as ROUTED.
  ASSERT_TRUE(Apply(c, At(6, [](Envelope& e) { e.mutable_case_bounced(); })).ok());
  ASSERT_TRUE(Apply(c, At(7, [](Envelope& e) { e.mutable_case_triaged(); })).ok());
  ASSERT_TRUE(
      Apply(c, At(8, [](Envelope& e) { e.mutable_case_reassigned()->set_department("mobility"); }))
          .ok());
  EXPECT_EQ(c.state(), t::RECEIVED);
  ASSERT_TRUE(
      Apply(c, At(9, [](Envelope& e) { e.mutable_case_routed()->set_department("mobility"); }))
          .ok());
  EXPECT_EQ(c.state(), t::ROUTED);
}

TEST(CaseStateTable, InformationRequestReturnsToTheStateBefore) {
  Case c;
  c.set_case_id("MP-0123456789ABC");
  c.set_state(t::ADMISSIBILITY_PENDING);
  Envelope ask = events::NewEnvelope("MP-0123456789ABC", "x", absl::FromUnixSeconds(1));
  ask.mutable_information_requested()->set_question("Which day?");
  events::Finish(ask, "q");
  ASSERT_TRUE(Apply(c, ask).ok());
  EXPECT_EQ(c.state(), t::WAITING_FOR_REPORTER);
  EXPECT_EQ(c.open_question(), "Which day?");
  Envelope answer = events::NewEnvelope("MP-0123456789ABC", "x", absl::FromUnixSeconds(2));
  answer.mutable_information_provided()->set_text("Monday");
  events::Finish(answer, "p");
  ASSERT_TRUE(Apply(c, answer).ok());
  EXPECT_EQ(c.state(), t::ADMISSIBILITY_PENDING);
  EXPECT_EQ(c.open_question(), "");
}

}  // namespace
}  // namespace meldpunt::domain
