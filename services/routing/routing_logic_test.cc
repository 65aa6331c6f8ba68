#include "services/routing/routing_logic.h"

#include <cstdlib>

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "libs/events/ids.h"

namespace meldpunt::routing {
namespace {

namespace t = ::meldpunt::types::v1;

std::shared_ptr<const RuleSet> DeployRules() {
  const char* source = std::getenv("MELDPUNT_SOURCE_DIR");
  const std::string root = std::string(source ? source : ".") + "/deploy/config/";
  // As routing loads them: the shipped rules read against the shipped catalogue.
  auto rules = LoadRules(root + "routing-rules.yaml", root + "categories.yaml");
  EXPECT_TRUE(rules.ok()) << rules.status();
  return *rules;
}

events::Envelope Submitted(const std::string& category, t::CaseKind kind = t::REPORT,
                           bool confidential = false) {
  events::Envelope e =
      events::NewEnvelope("MP-0123456789ABC", "intake", absl::FromUnixSeconds(1'763'800'000));
  auto* s = e.mutable_case_submitted();
  s->set_reference("MP-2025-123456789");
  s->set_submitting_system("web-form");
  s->mutable_draft()->set_kind(kind);
  s->mutable_draft()->set_category(category);
  s->mutable_draft()->set_description("Lamp out");
  s->mutable_draft()->set_confidential(confidential);
  s->mutable_draft()->mutable_reporter()->set_name("Jan");
  s->mutable_draft()->mutable_reporter()->set_email("jan@example.org");
  e.set_correlation_id("trace-1");
  events::Finish(e, "submitted-1");
  return e;
}

class RoutingLogicTest : public ::testing::Test {
 protected:
  RoutingLogicTest()
      : rules_(DeployRules()), clock_(absl::FromUnixSeconds(1'763'800'100)), logic_(clock_) {}

  std::optional<RoutingOutput> Handle(const events::Envelope& e) {
    auto out = logic_.Handle(*rules_, e, state_, [this](const std::string&) { return open_; });
    RoutingLogic::Fold(state_, e);
    if (out) {
      for (const auto& produced : out->events) RoutingLogic::Fold(state_, produced);
    }
    return out;
  }

  events::Envelope Bounce(const std::string& id) {
    events::Envelope e = events::NewEnvelope("MP-0123456789ABC", "intake", clock_.Now());
    e.mutable_case_bounced()->set_department(state_.department());
    e.mutable_case_bounced()->set_reason("not ours");
    events::Finish(e, id);
    return e;
  }

  std::shared_ptr<const RuleSet> rules_;
  clock::FakeClock clock_;
  RoutingLogic logic_;
  v1::RouteState state_;
  std::map<std::string, int64_t> open_;
};

TEST_F(RoutingLogicTest, RoutesDispatchesAndAssigns) {
  open_ = {{"an.peeters", 3}, {"bart.claes", 1}};
  auto out = Handle(Submitted("street-lighting"));
  ASSERT_TRUE(out.has_value());
  ASSERT_EQ(out->events.size(), 1u);
  const auto& routed = out->events[0];
  EXPECT_EQ(routed.type(), "CaseRouted");
  EXPECT_EQ(routed.case_routed().department(), "public-works");
  EXPECT_EQ(routed.case_routed().team(), "lighting");
  EXPECT_EQ(routed.case_routed().assignee(), "bart.claes") << "fewest open cases";
  EXPECT_EQ(routed.case_routed().hop(), 1);
  EXPECT_EQ(routed.causation_id(), "submitted-1");
  EXPECT_EQ(out->dispatch_topic, "meldpunt.dispatch.public-works.v1");
  EXPECT_EQ(out->dispatch->dispatch_id(), routed.event_id());
  EXPECT_EQ(out->dispatch->reference(), "MP-2025-123456789");
  EXPECT_FALSE(out->dispatch->has_reporter());
  EXPECT_NE(routed.case_routed().explanation().find("street-lighting"), std::string::npos);
}

TEST_F(RoutingLogicTest, RepeatedSubmissionIsNotRoutedTwice) {
  ASSERT_TRUE(Handle(Submitted("noise")).has_value());
  EXPECT_FALSE(Handle(Submitted("noise")).has_value());
}

TEST_F(RoutingLogicTest, SameInputGivesSameIds) {
  v1::RouteState fresh;
  auto a = logic_.Handle(*rules_, Submitted("noise"), fresh,
                         [](const std::string&) { return std::map<std::string, int64_t>(); });
  clock_.Advance(absl::Minutes(5));
  auto b = logic_.Handle(*rules_, Submitted("noise"), fresh,
                         [](const std::string&) { return std::map<std::string, int64_t>(); });
  EXPECT_EQ(a->events[0].event_id(), b->events[0].event_id());
  EXPECT_EQ(a->dispatch->dispatch_id(), b->dispatch->dispatch_id());
}

// The shipped rules: a tree goes to green-spaces; bounced, to the next candidate public-works
// (rule street-trees); bounced there too, to the triage queue with CaseTriaged, not CaseRouted.
TEST_F(RoutingLogicTest, ShippedRulesBounceToTheNextCandidateThenToTriage) {
  auto first = Handle(Submitted("trees"));
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->events[0].case_routed().department(), "green-spaces");
  auto second = Handle(Bounce("bounce-1"));
  ASSERT_TRUE(second.has_value());
  ASSERT_EQ(second->events.size(), 1u);
  const auto& routed = second->events[0].case_routed();
  EXPECT_EQ(routed.department(), "public-works");
  EXPECT_EQ(routed.team(), "roads");
  EXPECT_EQ(routed.rule_id(), "street-trees");
  EXPECT_EQ(routed.hop(), 2);
  EXPECT_EQ(second->dispatch_topic, "meldpunt.dispatch.public-works.v1");
  EXPECT_EQ(state_.department(), "public-works");

  auto third = Handle(Bounce("bounce-2"));
  ASSERT_TRUE(third.has_value());
  ASSERT_EQ(third->events.size(), 1u);
  const events::Envelope& triaged = third->events[0];
  EXPECT_EQ(triaged.type(), "CaseTriaged");
  EXPECT_EQ(triaged.event_id(), events::DeterministicId("triaged", {"bounce-2"}));
  EXPECT_EQ(triaged.causation_id(), "bounce-2");
  const std::string& reason = triaged.case_triaged().reason();
  EXPECT_NE(reason.find("every department that could handle the case bounced it"),
            std::string::npos)
      << reason;
  EXPECT_NE(reason.find("green-spaces, public-works"), std::string::npos) << reason;
  EXPECT_EQ(third->triage_rule, kRuleAllBounced);
  // The team's queue hears of it on its feed, with the reason; nobody is assigned.
  EXPECT_EQ(third->dispatch_topic, "meldpunt.dispatch.meldpunt-triage.v1");
  EXPECT_EQ(third->dispatch->dispatch_id(), triaged.event_id());
  EXPECT_EQ(third->dispatch->department(), "meldpunt-triage");
  EXPECT_EQ(third->dispatch->assignee(), "");
  EXPECT_EQ(third->dispatch->explanation(), std::string(kTriageExplanation) + reason);
  EXPECT_EQ(third->dispatch->category(), "trees") << "the team sees the whole case";
  EXPECT_EQ(state_.department(), "");
  EXPECT_EQ(state_.assignee(), "");
  EXPECT_EQ(state_.hops(), 2) << "triage is not a routing";
  EXPECT_TRUE(RoutingLogic::InTriage(state_));
  // Handled again after routing folded its answer: nothing new.
  EXPECT_FALSE(Handle(Bounce("bounce-2")).has_value());
  EXPECT_FALSE(Handle(Submitted("trees")).has_value());
}

TEST_F(RoutingLogicTest, ShippedRulesReferABouncedRoadToTheRoadAgency) {
  auto first = Handle(Submitted("potholes"));
  EXPECT_EQ(first->events[0].case_routed().department(), "public-works");
  auto second = Handle(Bounce("bounce-1"));
  ASSERT_TRUE(second.has_value());
  ASSERT_EQ(second->events.size(), 1u);
  EXPECT_EQ(second->events[0].type(), "CaseReferred");
  EXPECT_EQ(second->events[0].case_referred().body(), "Agentschap Wegen en Verkeer");
  EXPECT_NE(second->events[0].case_referred().reason().find("regional-roads"), std::string::npos);
  EXPECT_FALSE(second->dispatch.has_value());
}

TEST_F(RoutingLogicTest, ACaseNoRuleDecidesIsTriagedAtOnce) {
  events::Envelope e = Submitted("graffiti");
  e.mutable_case_submitted()->mutable_draft()->set_description("Graffiti en een gaslek");
  auto out = Handle(e);
  ASSERT_TRUE(out.has_value());
  ASSERT_EQ(out->events.size(), 1u);
  EXPECT_EQ(out->events[0].type(), "CaseTriaged");
  EXPECT_EQ(out->events[0].event_id(), events::DeterministicId("triaged", {"submitted-1"}));
  const std::string& reason = out->events[0].case_triaged().reason();
  EXPECT_NE(reason.find("category graffiti is not in the routing rules"), std::string::npos)
      << reason;
  EXPECT_NE(reason.find("triage queue (meldpunt-triage)"), std::string::npos) << reason;
  EXPECT_EQ(out->triage_rule, kRuleNoRule);
  EXPECT_EQ(out->dispatch->priority(), t::URGENT) << "a danger word counts in triage too";
  EXPECT_EQ(state_.hops(), 0);
  EXPECT_TRUE(RoutingLogic::InTriage(state_));
  EXPECT_FALSE(Handle(e).has_value()) << "a repeat of the submission";
}

events::Envelope Reassigned(const std::string& id, const std::string& department,
                            const std::string& reason = "", const std::string& team = "") {
  events::Envelope e =
      events::NewEnvelope("MP-0123456789ABC", "intake", absl::FromUnixSeconds(1'763'800'200));
  e.mutable_case_reassigned()->set_department(department);
  e.mutable_case_reassigned()->set_team(team);
  e.mutable_case_reassigned()->set_reason(reason);
  events::Finish(e, id);
  return e;
}

// The team's ReassignCase out of triage is routed: CaseRouted (rule reassigned) with the
// department's dispatch, so the department's clocks and mail follow as for any routed case.
TEST_F(RoutingLogicTest, TheTeamsReassignmentOutOfTriageIsRouted) {
  Handle(Submitted("graffiti"));
  ASSERT_TRUE(RoutingLogic::InTriage(state_));
  open_ = {{"els.willems", 4}, {"frank.goossens", 2}};
  const v1::RouteState in_triage = state_;
  events::Envelope reassign = Reassigned("reassign-1", "environment", "graffiti op een container");
  auto out = Handle(reassign);
  ASSERT_TRUE(out.has_value());
  ASSERT_EQ(out->events.size(), 1u);
  const events::Envelope& routed = out->events[0];
  ASSERT_EQ(routed.type(), "CaseRouted");
  EXPECT_EQ(routed.event_id(), events::DeterministicId("routed", {"reassign-1"}));
  EXPECT_EQ(routed.case_routed().department(), "environment");
  EXPECT_EQ(routed.case_routed().rule_id(), kRuleReassigned);
  EXPECT_EQ(routed.case_routed().hop(), 1);
  EXPECT_EQ(routed.case_routed().assignee(), "frank.goossens") << "fewest open cases";
  EXPECT_TRUE(routed.case_routed().reporter_visible()) << "environment may see the reporter";
  EXPECT_NE(routed.case_routed().explanation().find("graffiti op een container"),
            std::string::npos);
  EXPECT_EQ(out->dispatch_topic, "meldpunt.dispatch.environment.v1");
  EXPECT_EQ(out->dispatch->dispatch_id(), routed.event_id());
  EXPECT_EQ(out->dispatch->assignee(), "frank.goossens");
  EXPECT_EQ(state_.department(), "environment");
  EXPECT_EQ(state_.assignee(), "frank.goossens");
  EXPECT_EQ(state_.hops(), 1);
  EXPECT_FALSE(RoutingLogic::InTriage(state_));
  // Handled again after routing folded its CaseRouted: nothing (not a second dispatch).
  EXPECT_FALSE(Handle(reassign).has_value());
  // Handled again before that (a crash in between): the same records.
  v1::RouteState folded_reassign = in_triage;
  RoutingLogic::Fold(folded_reassign, reassign);
  EXPECT_EQ(folded_reassign.SerializeAsString(), in_triage.SerializeAsString())
      << "the department comes with routing's answer";
  auto again = logic_.Handle(*rules_, reassign, folded_reassign,
                             [this](const std::string&) { return open_; });
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->events[0].event_id(), routed.event_id());
  EXPECT_EQ(again->dispatch->dispatch_id(), out->dispatch->dispatch_id());
}

TEST_F(RoutingLogicTest, AReassignmentToADepartmentRoutingDoesNotKnowGoesBackToTriage) {
  Handle(Submitted("graffiti"));
  auto out = Handle(Reassigned("reassign-1", "nowhere"));
  ASSERT_TRUE(out.has_value());
  ASSERT_EQ(out->events.size(), 1u);
  EXPECT_EQ(out->events[0].type(), "CaseTriaged");
  EXPECT_EQ(out->events[0].event_id(), events::DeterministicId("triaged", {"reassign-1"}));
  EXPECT_NE(out->events[0].case_triaged().reason().find(
                "nowhere, which is not a department of the routing rules"),
            std::string::npos)
      << out->events[0].case_triaged().reason();
  EXPECT_EQ(out->dispatch_topic, "meldpunt.dispatch.meldpunt-triage.v1");
  EXPECT_TRUE(RoutingLogic::InTriage(state_));
}

// max_hops decides in the shipped rules: two candidates bounced, the team's choice bounced too.
TEST_F(RoutingLogicTest, TheHopLimitDecidesWhenTheTeamsChoiceIsBouncedToo) {
  ASSERT_EQ(rules_->max_hops(), 3);
  Handle(Submitted("trees"));
  Handle(Bounce("bounce-1"));
  ASSERT_EQ(Handle(Bounce("bounce-2"))->events[0].type(), "CaseTriaged");
  auto reassigned = Handle(Reassigned("reassign-1", "mobility"));
  ASSERT_EQ(reassigned->events[0].case_routed().hop(), 3);
  auto out = Handle(Bounce("bounce-3"));
  ASSERT_TRUE(out.has_value());
  ASSERT_EQ(out->events[0].type(), "CaseTriaged");
  EXPECT_EQ(out->triage_rule, kRuleHopLimit);
  const std::string& reason = out->events[0].case_triaged().reason();
  EXPECT_NE(reason.find("routed 3 times already, the limit is 3 (max_hops)"), std::string::npos)
      << reason;
  EXPECT_NE(reason.find("green-spaces, mobility, public-works"), std::string::npos) << reason;
  EXPECT_EQ(state_.bounced_size(), 3);
}

TEST_F(RoutingLogicTest, RuleCanReferToAnOutsideBody) {
  events::Envelope question = Submitted("service-quality", t::QUESTION);
  question.mutable_case_submitted()->mutable_draft()->set_description(
      "Kan ik bij de Ombudsman terecht?");
  auto out = Handle(question);
  ASSERT_TRUE(out.has_value());
  EXPECT_FALSE(out->dispatch.has_value());
  ASSERT_EQ(out->events.size(), 1u);
  EXPECT_EQ(out->events[0].type(), "CaseReferred");
  EXPECT_EQ(out->events[0].case_referred().body(), "Vlaamse Ombudsdienst");
}

TEST_F(RoutingLogicTest, ReassignmentDispatchesToTheNewDepartment) {
  Handle(Submitted("parks"));
  events::Envelope reassigned = events::NewEnvelope("MP-0123456789ABC", "intake", clock_.Now());
  reassigned.mutable_case_reassigned()->set_department("environment");
  events::Finish(reassigned, "reassign-1");
  auto out = Handle(reassigned);
  ASSERT_TRUE(out.has_value());
  EXPECT_TRUE(out->events.empty());
  EXPECT_EQ(out->dispatch_topic, "meldpunt.dispatch.environment.v1");
  EXPECT_FALSE(out->dispatch->has_reporter()) << "never on a feed";
  EXPECT_TRUE(out->dispatch->reporter_available()) << "environment may see the reporter";
  EXPECT_EQ(state_.department(), "environment");
}

// Every byte of the dispatch record: its value and every header.
std::string Wire(const RoutingOutput& out) {
  kafka::Message m = DispatchRecord(out.dispatch_topic, *out.dispatch);
  std::string all = m.key + m.value;
  for (const auto& [name, value] : m.headers) absl::StrAppend(&all, name, value);
  return all;
}

TEST_F(RoutingLogicTest, TheReporterIsNeverOnTheFeedOnlyWhetherTheDepartmentMayReadIt) {
  // environment may see the reporter (its policy): still not on the feed, nor in the json header.
  auto out = Handle(Submitted("noise"));
  ASSERT_TRUE(out.has_value());
  EXPECT_FALSE(out->dispatch->has_reporter());
  EXPECT_TRUE(out->dispatch->reporter_available());
  EXPECT_TRUE(out->events[0].case_routed().reporter_visible());
  EXPECT_EQ(Wire(*out).find("Jan"), std::string::npos) << Wire(*out);
  EXPECT_EQ(Wire(*out).find("jan@example.org"), std::string::npos);
  EXPECT_NE(Wire(*out).find("Lamp out"), std::string::npos) << "the content is there";
  // public-works may not.
  state_ = v1::RouteState();
  out = Handle(Submitted("street-lighting"));
  EXPECT_FALSE(out->dispatch->reporter_available());
  EXPECT_FALSE(out->events[0].case_routed().reporter_visible());
  // Nor anyone, for an anonymous reporter.
  state_ = v1::RouteState();
  events::Envelope anonymous = Submitted("noise");
  anonymous.mutable_case_submitted()->mutable_draft()->mutable_reporter()->set_anonymous(true);
  out = Handle(anonymous);
  EXPECT_FALSE(out->dispatch->reporter_available());
  EXPECT_FALSE(out->events[0].case_routed().reporter_visible());
}

TEST_F(RoutingLogicTest, AReassignmentSaysWhetherTheNewDepartmentMayReadTheReporter) {
  Handle(Submitted("noise"));
  events::Envelope reassigned = events::NewEnvelope("MP-0123456789ABC", "intake", clock_.Now());
  reassigned.mutable_case_reassigned()->set_department("public-works");
  events::Finish(reassigned, "reassign-1");
  auto out = Handle(reassigned);
  ASSERT_TRUE(out.has_value());
  EXPECT_FALSE(out->dispatch->reporter_available());
  EXPECT_FALSE(out->dispatch->has_reporter());
}

TEST_F(RoutingLogicTest, AConfidentialCaseOfAnyKindGoesToTheTeamWithoutContent) {
  for (t::CaseKind kind : {t::REPORT, t::COMPLAINT, t::QUESTION}) {
    state_ = v1::RouteState();
    events::Envelope e = Submitted("noise", kind, /*confidential=*/true);
    auto* draft = e.mutable_case_submitted()->mutable_draft();
    draft->set_description("De buurman Pieter Claes dumpt gevaarlijk afval");
    draft->mutable_location()->set_address("Kerkstraat 7, 9000 Gent");
    draft->mutable_location()->set_has_coordinates(true);
    draft->mutable_location()->set_latitude(51.05);
    draft->mutable_location()->set_longitude(3.72);
    draft->add_attachments()->set_url("https://files.example/foto-van-de-buurman.jpg");
    auto out = Handle(e);
    ASSERT_TRUE(out.has_value()) << t::CaseKind_Name(kind);
    ASSERT_EQ(out->events.size(), 1u);
    const auto& routed = out->events[0].case_routed();
    EXPECT_EQ(routed.department(), rules_->confidential_department()) << t::CaseKind_Name(kind);
    EXPECT_EQ(routed.rule_id(), "confidential");
    EXPECT_FALSE(routed.reporter_visible());
    EXPECT_EQ(out->dispatch_topic, "meldpunt.dispatch.meldpunt-triage.v1");
    const auto& d = *out->dispatch;
    EXPECT_TRUE(d.confidential());
    EXPECT_FALSE(d.reporter_available());
    EXPECT_EQ(d.case_id(), "MP-0123456789ABC");
    EXPECT_EQ(d.reference(), "MP-2025-123456789");
    EXPECT_EQ(d.kind(), kind);
    EXPECT_EQ(d.priority(), t::URGENT) << "a danger word still counts";
    EXPECT_TRUE(d.has_submitted_at());
    EXPECT_TRUE(d.has_routed_at());
    EXPECT_EQ(d.description(), "");
    EXPECT_EQ(d.category(), "");
    EXPECT_FALSE(d.has_location());
    EXPECT_EQ(d.attachments_size(), 0);
    EXPECT_FALSE(d.has_reporter());
    for (const std::string& quoted :
         {"Pieter", "Kerkstraat", "foto", "gevaarlijk", "noise", "Jan", "jan@example.org"}) {
      EXPECT_EQ(Wire(*out).find(quoted), std::string::npos) << quoted << " in " << Wire(*out);
      EXPECT_EQ(routed.explanation().find(quoted), std::string::npos) << routed.explanation();
    }
  }
}

TEST_F(RoutingLogicTest, AConfidentialCaseIsNeverADuplicate) {
  events::Envelope e = Submitted("illegal-dumping", t::REPORT, /*confidential=*/true);
  auto* where = e.mutable_case_submitted()->mutable_draft()->mutable_location();
  where->set_has_coordinates(true);
  where->set_latitude(51.05);
  where->set_longitude(3.72);
  bool searched = false;
  auto out = logic_.Handle(
      *rules_, e, state_, [](const std::string&) { return std::map<std::string, int64_t>(); },
      [&](const std::string&, double, double, double, absl::Time) -> std::optional<Nearby> {
        searched = true;
        return Nearby{"MP-ZZZZZZZZZZZZZ", 3};
      });
  ASSERT_TRUE(out.has_value());
  EXPECT_FALSE(searched);
  ASSERT_EQ(out->events.size(), 1u);
  EXPECT_EQ(out->events[0].type(), "CaseRouted");
  EXPECT_EQ(out->dispatch->duplicate_of(), "");
}

TEST_F(RoutingLogicTest, ExplainRouteShowsTheConfidentialRule) {
  RouteInput input;
  input.draft = Submitted("street-lighting", t::REPORT, true).case_submitted().draft();
  input.bounced = {"meldpunt-triage"};
  v1::RouteDecision d = rules_->Decide(input);
  EXPECT_EQ(d.department(), "meldpunt-triage") << "whatever the category or the bounces";
  EXPECT_EQ(d.rule_id(), "confidential");
  EXPECT_NE(d.explanation().find("confidential_department"), std::string::npos) << d.explanation();
}

TEST_F(RoutingLogicTest, ErasureDropsTheSealedReporterFromTheRouteState) {
  events::Envelope submitted = Submitted("noise");
  auto* reporter = submitted.mutable_case_submitted()->mutable_draft()->mutable_reporter();
  reporter->clear_name();
  reporter->clear_email();
  reporter->set_sealed("sealed-bytes");
  Handle(submitted);
  ASSERT_EQ(state_.draft().reporter().sealed(), "sealed-bytes");
  events::Envelope erased = events::NewEnvelope("MP-0123456789ABC", "intake", clock_.Now());
  erased.mutable_reporter_data_erased()->set_key_destroyed(true);
  events::Finish(erased, "erased-1");
  EXPECT_TRUE(RoutingLogic::Relevant(erased));
  EXPECT_FALSE(Handle(erased).has_value());
  EXPECT_EQ(state_.draft().reporter().sealed(), "");
  EXPECT_TRUE(state_.draft().reporter().erased());
  EXPECT_EQ(state_.department(), "environment");
}

TEST_F(RoutingLogicTest, FoldTracksWorkloadRelevantState) {
  Handle(Submitted("noise"));
  EXPECT_EQ(state_.department(), "environment");
  EXPECT_FALSE(state_.closed());
  events::Envelope closed = events::NewEnvelope("MP-0123456789ABC", "intake", clock_.Now());
  closed.mutable_case_closed();
  events::Finish(closed, "closed-1");
  RoutingLogic::Fold(state_, closed);
  EXPECT_TRUE(state_.closed());
}

events::Envelope ClockRecord(const std::string& id, absl::Time at) {
  events::Envelope e = events::NewEnvelope("MP-0123456789ABC", "deadline-watch", at);
  events::Finish(e, id);
  return e;
}

// The clocks one event started come as one ClocksStarted: each of them counts.
TEST_F(RoutingLogicTest, FoldTakesEveryClockOfAClocksStarted) {
  Handle(Submitted("noise"));
  const absl::Time t0 = clock_.Now();
  events::Envelope started = ClockRecord("cs1", t0);
  auto* acceptance = started.mutable_clocks_started()->add_clocks();
  acceptance->set_clock("department_acceptance");
  acceptance->set_generation(1);
  events::SetTime(acceptance->mutable_due_at(), t0 + absl::Hours(48));
  auto* resolve = started.mutable_clocks_started()->add_clocks();
  resolve->set_clock("resolve");
  resolve->set_generation(1);
  events::SetTime(resolve->mutable_due_at(), t0 + absl::Hours(480));
  EXPECT_TRUE(RoutingLogic::Relevant(started));
  EXPECT_FALSE(Handle(started).has_value()) << "a clock record routes nothing";
  ASSERT_EQ(state_.running_size(), 2);
  EXPECT_EQ(*EarliestDue(state_), t0 + absl::Hours(48));
  // The earlier one stops: the other is the earliest now.
  events::Envelope stopped = ClockRecord("cs2", t0);
  stopped.mutable_clock_stopped()->set_clock("department_acceptance");
  stopped.mutable_clock_stopped()->set_generation(1);
  Handle(stopped);
  EXPECT_EQ(*EarliestDue(state_), t0 + absl::Hours(480));
}

// The running clocks routing keeps for the workload view: the earliest due time of those that run.
TEST_F(RoutingLogicTest, FoldKeepsTheRunningClocksForTheWorkload) {
  Handle(Submitted("noise"));
  EXPECT_FALSE(EarliestDue(state_).has_value()) << "no clock yet";
  const absl::Time t0 = clock_.Now();
  events::Envelope ack = ClockRecord("c1", t0);
  ack.mutable_clock_started()->set_clock("acknowledge");
  ack.mutable_clock_started()->set_generation(1);
  events::SetTime(ack.mutable_clock_started()->mutable_due_at(), t0 + absl::Hours(240));
  events::Envelope answer = ClockRecord("c2", t0);
  answer.mutable_clock_started()->set_clock("answer");
  answer.mutable_clock_started()->set_generation(1);
  events::SetTime(answer.mutable_clock_started()->mutable_due_at(), t0 + absl::Hours(48));
  EXPECT_TRUE(RoutingLogic::Relevant(ack));
  EXPECT_FALSE(Handle(ack).has_value()) << "a clock record routes nothing";
  Handle(answer);
  ASSERT_TRUE(EarliestDue(state_).has_value());
  EXPECT_EQ(*EarliestDue(state_), t0 + absl::Hours(48));

  // Extended: the answer clock is due later (generation 2); the acknowledgement is earlier now.
  events::Envelope extended = ClockRecord("c3", t0);
  extended.mutable_clock_extended()->set_clock("answer");
  extended.mutable_clock_extended()->set_generation(2);
  events::SetTime(extended.mutable_clock_extended()->mutable_due_at(), t0 + absl::Hours(480));
  Handle(extended);
  EXPECT_EQ(*EarliestDue(state_), t0 + absl::Hours(240));

  // A repeat of the older generation read again does not bring the old due time back.
  Handle(answer);
  EXPECT_EQ(*EarliestDue(state_), t0 + absl::Hours(240));

  // A pause takes the clock out; its resume puts it back with the later due time.
  events::Envelope paused = ClockRecord("c4", t0);
  paused.mutable_clock_paused()->set_clock("acknowledge");
  paused.mutable_clock_paused()->set_generation(1);
  Handle(paused);
  EXPECT_EQ(*EarliestDue(state_), t0 + absl::Hours(480));
  events::Envelope resumed = ClockRecord("c5", t0);
  resumed.mutable_clock_resumed()->set_clock("acknowledge");
  resumed.mutable_clock_resumed()->set_generation(2);
  events::SetTime(resumed.mutable_clock_resumed()->mutable_due_at(), t0 + absl::Hours(300));
  Handle(resumed);
  EXPECT_EQ(*EarliestDue(state_), t0 + absl::Hours(300));

  // An extension planned on a generation that no longer runs (deadline-watch refuses it too)
  // changes nothing.
  events::Envelope stale_extension = ClockRecord("c5b", t0);
  stale_extension.mutable_clock_extended()->set_clock("acknowledge");
  stale_extension.mutable_clock_extended()->set_generation(2);  // planned on generation 1
  events::SetTime(stale_extension.mutable_clock_extended()->mutable_due_at(),
                  t0 + absl::Hours(900));
  Handle(stale_extension);
  EXPECT_EQ(*EarliestDue(state_), t0 + absl::Hours(300));

  // A stop of an older generation leaves the newer one running; its own generation stops it.
  events::Envelope stale_stop = ClockRecord("c6", t0);
  stale_stop.mutable_clock_stopped()->set_clock("acknowledge");
  stale_stop.mutable_clock_stopped()->set_generation(1);
  Handle(stale_stop);
  EXPECT_EQ(*EarliestDue(state_), t0 + absl::Hours(300));
  events::Envelope stopped = ClockRecord("c7", t0);
  stopped.mutable_clock_stopped()->set_clock("acknowledge");
  stopped.mutable_clock_stopped()->set_generation(2);
  Handle(stopped);
  EXPECT_EQ(*EarliestDue(state_), t0 + absl::Hours(480));
  stopped.mutable_clock_stopped()->set_clock("answer");
  Handle(stopped);
  EXPECT_FALSE(EarliestDue(state_).has_value());
  // The extension of a clock stopped meanwhile does not bring it back.
  events::Envelope late = ClockRecord("c8", t0);
  late.mutable_clock_extended()->set_clock("answer");
  late.mutable_clock_extended()->set_generation(3);
  events::SetTime(late.mutable_clock_extended()->mutable_due_at(), t0 + absl::Hours(999));
  Handle(late);
  EXPECT_FALSE(EarliestDue(state_).has_value());
}

// The team's priority decides from then on: above the draft's and above the danger words.
TEST_F(RoutingLogicTest, TheTeamsPriorityDecidesTheNextRouting) {
  events::Envelope submitted = Submitted("street-lighting");
  submitted.mutable_case_submitted()->mutable_draft()->set_description("Paal gevaarlijk scheef");
  auto out = Handle(submitted);
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(out->events[0].case_routed().priority(), t::URGENT) << "a danger word";

  events::Envelope changed = events::NewEnvelope("MP-0123456789ABC", "intake", clock_.Now());
  changed.mutable_priority_changed()->set_previous(t::URGENT);
  changed.mutable_priority_changed()->set_priority(t::LOW);
  changed.mutable_priority_changed()->set_reason("the post was checked: no danger");
  events::Finish(changed, "priority-1");
  EXPECT_TRUE(RoutingLogic::Relevant(changed));
  EXPECT_FALSE(Handle(changed).has_value()) << "a priority change routes nothing by itself";
  EXPECT_EQ(state_.team_priority(), t::LOW);

  out = Handle(Bounce("bounced-1"));
  ASSERT_TRUE(out.has_value());
  ASSERT_FALSE(out->events.empty());
  const events::Envelope& next = out->events[0];
  ASSERT_TRUE(next.has_case_routed() || next.has_case_triaged()) << next.type();
  if (next.has_case_routed()) {
    EXPECT_EQ(next.case_routed().priority(), t::LOW);
    EXPECT_NE(next.case_routed().explanation().find("priority LOW set by the Meldpunt team"),
              std::string::npos)
        << next.case_routed().explanation();
  }
  ASSERT_TRUE(out->dispatch.has_value());
  EXPECT_EQ(out->dispatch->priority(), t::LOW);
}

// A routed case the team sends elsewhere: the new department's message carries the case's
// priority as it stands (the team's, or routing's own with its danger words), not the draft's.
TEST_F(RoutingLogicTest, AReassignmentCarriesTheCasesPriority) {
  events::Envelope submitted = Submitted("street-lighting");
  submitted.mutable_case_submitted()->mutable_draft()->set_description("Paal gevaarlijk scheef");
  ASSERT_TRUE(Handle(submitted).has_value());
  auto reassign = [&](const std::string& id) {
    events::Envelope e = events::NewEnvelope("MP-0123456789ABC", "intake", clock_.Now());
    e.mutable_case_reassigned()->set_department("environment");
    events::Finish(e, id);
    return Handle(e);
  };
  auto out = reassign("reassigned-1");
  ASSERT_TRUE(out.has_value() && out->dispatch.has_value());
  EXPECT_EQ(out->dispatch->priority(), t::URGENT) << "routing's priority, with its danger word";

  events::Envelope changed = events::NewEnvelope("MP-0123456789ABC", "intake", clock_.Now());
  changed.mutable_priority_changed()->set_priority(t::HIGH);
  changed.mutable_priority_changed()->set_reason("checked on site");
  events::Finish(changed, "priority-2");
  Handle(changed);
  out = reassign("reassigned-2");
  ASSERT_TRUE(out.has_value() && out->dispatch.has_value());
  EXPECT_EQ(out->dispatch->priority(), t::HIGH);
}

TEST(DispatchRecord, CarriesIdsAndJson) {
  events::v1::DispatchMessage d;
  d.set_dispatch_id("routed-1");
  d.set_case_id("MP-0123456789ABC");
  d.set_category("noise");
  kafka::Message record = DispatchRecord("meldpunt.dispatch.environment.v1", d);
  EXPECT_EQ(record.key, "MP-0123456789ABC");
  bool has_json = false;
  for (const auto& [k, v] : record.headers)
    has_json |= (k == "json" && v.find("\"category\":\"noise\"") != std::string::npos);
  EXPECT_TRUE(has_json);
}

}  // namespace
}  // namespace meldpunt::routing

namespace meldpunt::routing {
namespace {

TEST(Duplicates, NearbyOpenReportIsLinkedOrMerged) {
  auto link_rules = RuleSet::Parse(R"(
default_department: triage
departments: [{id: triage}, {id: works}]
categories: [{id: potholes, department: works}]
duplicates: {kinds: [REPORT], radius_m: 40, window: 7d, action: link}
)",
                                   "dup.yaml");
  ASSERT_TRUE(link_rules.ok()) << link_rules.status();
  clock::FakeClock clock(absl::FromUnixSeconds(1'763'800'100));
  RoutingLogic logic(clock);
  events::Envelope e =
      events::NewEnvelope("MP-0123456789ABC", "intake", absl::FromUnixSeconds(1'763'800'000));
  auto* draft = e.mutable_case_submitted()->mutable_draft();
  draft->set_kind(t::REPORT);
  draft->set_category("potholes");
  draft->mutable_location()->set_has_coordinates(true);
  draft->mutable_location()->set_latitude(51.05);
  draft->mutable_location()->set_longitude(3.72);
  events::Finish(e, "submitted-2");
  double asked_radius = 0;
  absl::Time asked_since;
  FindNearby nearby = [&](const std::string& category, double, double, double radius,
                          absl::Time since) {
    asked_radius = radius;
    asked_since = since;
    return category == "potholes" ? std::optional<Nearby>(Nearby{"MP-ZZZZZZZZZZZZZ", 12.5})
                                  : std::nullopt;
  };
  auto none = [](const std::string&) { return std::map<std::string, int64_t>(); };
  auto out = logic.Handle(**link_rules, e, v1::RouteState(), none, nearby);
  ASSERT_TRUE(out.has_value());
  ASSERT_EQ(out->events.size(), 2u);
  EXPECT_EQ(out->events[0].type(), "CaseLinked");
  EXPECT_EQ(out->events[0].case_linked().master_case_id(), "MP-ZZZZZZZZZZZZZ");
  EXPECT_EQ(out->events[0].case_linked().reason(),
            "same category potholes, 12.5 m from open case MP-ZZZZZZZZZZZZZ");
  EXPECT_EQ(out->events[1].type(), "CaseRouted");
  EXPECT_EQ(out->dispatch->duplicate_of(), "MP-ZZZZZZZZZZZZZ");
  EXPECT_DOUBLE_EQ(asked_radius, 40);
  EXPECT_EQ(asked_since, absl::FromUnixSeconds(1'763'800'000) - absl::Hours(24 * 7));

  auto merge_rules = RuleSet::Parse(R"(
default_department: triage
departments: [{id: triage}]
duplicates: {action: merge}
)",
                                    "dup.yaml");
  ASSERT_TRUE(merge_rules.ok());
  auto merged = logic.Handle(**merge_rules, e, v1::RouteState(), none, nearby);
  ASSERT_EQ(merged->events.size(), 1u);
  EXPECT_EQ(merged->events[0].type(), "CaseMerged");
  EXPECT_FALSE(merged->dispatch.has_value());

  // Without coordinates, or for another kind, nobody looks.
  draft->mutable_location()->set_has_coordinates(false);
  events::Finish(e, "submitted-3");
  EXPECT_EQ(logic.Handle(**link_rules, e, v1::RouteState(), none, nearby)->events.size(), 1u);
  EXPECT_FALSE(
      RuleSet::Parse("default_department: a\ndepartments: [{id: a}]\nduplicates: {action: fuse}\n",
                     "x")
          .ok());
}

}  // namespace
}  // namespace meldpunt::routing

namespace meldpunt::routing {
namespace {

// Every event type Relevant() passes by must be one Fold and Handle ignore, whatever the case's
// state: the service skips those without reading the state.
TEST(RoutingRelevance, EventsPassedByChangeNothing) {
  auto rules = DeployRules();
  clock::FakeClock clock(absl::FromUnixSeconds(1'763'800'100));
  RoutingLogic logic(clock);
  v1::RouteState routed;
  RoutingLogic::Fold(routed, Submitted("street-lighting"));
  routed.set_department("public-works");
  routed.set_hops(1);
  const google::protobuf::OneofDescriptor* payload =
      events::Envelope::descriptor()->FindOneofByName("payload");
  ASSERT_NE(payload, nullptr);
  int passed_by = 0;
  for (int i = 0; i < payload->field_count(); ++i) {
    events::Envelope e = events::NewEnvelope("MP-0123456789ABC", "test", clock.Now());
    e.GetReflection()->MutableMessage(&e, payload->field(i));
    events::Finish(e, absl::StrCat("ev-", i));
    if (RoutingLogic::Relevant(e)) continue;
    ++passed_by;
    for (const v1::RouteState& before : {v1::RouteState(), routed}) {
      v1::RouteState after = before;
      RoutingLogic::Fold(after, e);
      EXPECT_EQ(after.SerializeAsString(), before.SerializeAsString()) << payload->field(i)->name();
      EXPECT_FALSE(logic
                       .Handle(*rules, e, before,
                               [](const std::string&) { return std::map<std::string, int64_t>(); })
                       .has_value())
          << payload->field(i)->name();
    }
  }
  EXPECT_GT(passed_by, 10);  // clocks, deadlines, deliveries, acknowledgements ...
  events::Envelope submitted = Submitted("street-lighting");
  EXPECT_TRUE(RoutingLogic::Relevant(submitted));
}

}  // namespace
}  // namespace meldpunt::routing
