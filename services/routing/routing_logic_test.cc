#include "services/routing/routing_logic.h"

#include <gtest/gtest.h>

#include "libs/events/ids.h"

namespace meldpunt::routing {
namespace {

namespace t = ::meldpunt::types::v1;

YAML::Node Departments() {
  return YAML::Load(R"(
- {id: public-works, name: Public Works, may_see_reporter: false}
- {id: environment, name: Environment, may_see_reporter: true}
- {id: meldpunt-triage, name: Meldpunt triage}
)");
}

Rules MakeRules() {
  auto rules = Rules::FromConfig({{"street-lighting", "public-works"}, {"noise", "environment"}},
                                 Departments(), "meldpunt-triage");
  EXPECT_TRUE(rules.ok()) << rules.status();
  return *rules;
}

events::Envelope Submitted(const std::string& category, bool confidential = false,
                           t::CaseKind kind = t::REPORT) {
  events::Envelope e =
      events::NewEnvelope("MP-0123456789ABC", "intake", absl::FromUnixSeconds(1'763'800'000));
  auto* s = e.mutable_case_submitted();
  s->set_reference("MP-0123456789ABC");
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

TEST(Rules, ConfigErrorsNameTheEntry) {
  EXPECT_NE(Rules::FromConfig({{"x", "nowhere"}}, Departments(), "meldpunt-triage")
                .status()
                .message()
                .find("routing.categories.x"),
            std::string::npos);
  EXPECT_NE(Rules::FromConfig({}, Departments(), "missing")
                .status()
                .message()
                .find("routing.default_department"),
            std::string::npos);
  EXPECT_NE(
      Rules::FromConfig({}, YAML::Load("[{id: a}, {id: a}]"), "a").status().message().find("twice"),
      std::string::npos);
  EXPECT_NE(Rules::FromConfig({}, YAML::Load("[{id: a, colour: red}]"), "a")
                .status()
                .message()
                .find("colour"),
            std::string::npos);
  EXPECT_FALSE(Rules::FromConfig({}, YAML::Node(), "a").ok());
}

TEST(RoutingLogic, RoutesByCategoryAndFallsBackToTriage) {
  Rules rules = MakeRules();
  clock::FakeClock clock(absl::FromUnixSeconds(1'763'800'100));
  RoutingLogic logic(rules, clock);
  auto out = logic.Handle(Submitted("street-lighting"));
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(out->routed.case_routed().department(), "public-works");
  EXPECT_EQ(out->dispatch_topic, "meldpunt.dispatch.public-works.v1");
  EXPECT_EQ(out->routed.type(), "CaseRouted");
  EXPECT_EQ(out->routed.causation_id(), "submitted-1");
  EXPECT_EQ(out->routed.correlation_id(), "trace-1");
  EXPECT_EQ(out->dispatch.dispatch_id(), out->routed.event_id());
  EXPECT_EQ(out->dispatch.description(), "Lamp out");
  EXPECT_NE(out->routed.case_routed().explanation().find("street-lighting"), std::string::npos);

  auto unknown = logic.Handle(Submitted("graffiti"));
  EXPECT_EQ(unknown->routed.case_routed().department(), "meldpunt-triage");
  EXPECT_EQ(unknown->routed.case_routed().rule_id(), "default");
}

TEST(RoutingLogic, SameInputGivesSameIds) {
  Rules rules = MakeRules();
  clock::FakeClock clock(absl::FromUnixSeconds(1));
  RoutingLogic logic(rules, clock);
  auto a = logic.Handle(Submitted("noise"));
  clock.Advance(absl::Minutes(5));
  auto b = logic.Handle(Submitted("noise"));
  EXPECT_EQ(a->routed.event_id(), b->routed.event_id());
  EXPECT_EQ(a->dispatch.dispatch_id(), b->dispatch.dispatch_id());
}

TEST(RoutingLogic, DispatchIsDataMinimised) {
  Rules rules = MakeRules();
  clock::FakeClock clock(absl::FromUnixSeconds(1));
  RoutingLogic logic(rules, clock);
  EXPECT_FALSE(logic.Handle(Submitted("street-lighting"))->dispatch.has_reporter());
  auto visible = logic.Handle(Submitted("noise"));
  ASSERT_TRUE(visible->dispatch.has_reporter());
  EXPECT_EQ(visible->dispatch.reporter().email(), "jan@example.org");
  EXPECT_FALSE(logic.Handle(Submitted("noise", true, t::COMPLAINT))->dispatch.has_reporter());
}

TEST(RoutingLogic, IgnoresOtherEvents) {
  Rules rules = MakeRules();
  clock::FakeClock clock(absl::FromUnixSeconds(1));
  RoutingLogic logic(rules, clock);
  events::Envelope e = events::NewEnvelope("MP-0123456789ABC", "x", absl::FromUnixSeconds(1));
  e.mutable_case_closed();
  EXPECT_FALSE(logic.Handle(e).has_value());
}

TEST(RoutingLogic, DispatchRecordCarriesIdsAndJson) {
  Rules rules = MakeRules();
  clock::FakeClock clock(absl::FromUnixSeconds(1));
  RoutingLogic logic(rules, clock);
  kafka::Message record = DispatchRecord(*logic.Handle(Submitted("noise")));
  EXPECT_EQ(record.topic, "meldpunt.dispatch.environment.v1");
  EXPECT_EQ(record.key, "MP-0123456789ABC");
  events::v1::DispatchMessage parsed;
  ASSERT_TRUE(parsed.ParseFromString(record.value));
  EXPECT_EQ(parsed.category(), "noise");
  bool has_json = false;
  for (const auto& [k, v] : record.headers)
    has_json |= (k == "json" && v.find("\"category\":\"noise\"") != std::string::npos);
  EXPECT_TRUE(has_json);
}

}  // namespace
}  // namespace meldpunt::routing
