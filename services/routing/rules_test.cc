#include "services/routing/rules.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace meldpunt::routing {
namespace {

namespace t = ::meldpunt::types::v1;
using ::testing::HasSubstr;

constexpr char kRules[] = R"(
default_department: triage
confidential_department: team
max_hops: 2
danger_words: [gevaar, "gas leak"]
departments:
  - id: works
    may_see_reporter: false
    teams:
      - id: lights
        members:
          - {id: zoe, capacity: 2, skills: [lighting, electrical]}
          - {id: yann, capacity: 5, skills: [lighting]}
          - {id: xavier, capacity: 5, skills: [lighting], available: false}
  - {id: mobility}
  - {id: environment}
  - {id: triage}
  - {id: team}
categories:
  - {id: public-space, department: works}
  - {id: lighting, parent: public-space, team: lights, department: works, skills: [lighting]}
  - {id: roads, parent: public-space}
  - {id: potholes, parent: roads}
  - {id: noise, department: environment}
districts:
  - id: centre
    postcodes: ["9000"]
    polygon: {type: Polygon, coordinates: [[[3.70, 51.04], [3.74, 51.04], [3.74, 51.07], [3.70, 51.07], [3.70, 51.04]]]}
  - {id: harbour, postcodes: ["9042"]}
rules:
  - id: centre-roads
    match: {category: [roads], district: [centre]}
    result: {department: mobility, deadline_policy: centre}
  - id: app-noise-at-night
    match: {category: [noise], channel: [APP], regex: "\\b(nacht|night)\\b"}
    result: {department: environment, priority: HIGH}
  - id: harbour-anything
    match: {district: [harbour]}
    result: {refer_to: Port authority}
  - id: crm-questions
    match: {kind: [QUESTION], system: [crm], keywords: [parking permit]}
    result: {department: mobility}
)";

std::shared_ptr<const RuleSet> Load() {
  auto rules = RuleSet::Parse(kRules, "rules.yaml");
  EXPECT_TRUE(rules.ok()) << rules.status();
  return *rules;
}

RouteInput Input(const std::string& category, const std::string& description = "x") {
  RouteInput in;
  in.draft.set_kind(t::REPORT);
  in.draft.set_channel(t::WEB);
  in.draft.set_category(category);
  in.draft.set_description(description);
  in.submitting_system = "web-form";
  return in;
}

TEST(Rules, CategoryTreeInheritsDepartments) {
  auto rules = Load();
  EXPECT_EQ(rules->Decide(Input("lighting")).department(), "works");
  EXPECT_EQ(rules->Decide(Input("potholes")).department(), "works");
  EXPECT_EQ(rules->Decide(Input("potholes")).rule_id(), "category:public-space");
  EXPECT_EQ(rules->Decide(Input("noise")).department(), "environment");
  auto unknown = rules->Decide(Input("graffiti"));
  EXPECT_EQ(unknown.department(), "triage");
  EXPECT_EQ(unknown.rule_id(), "default");
}

// 400 synthetic cases on a grid around the centre polygon (a rectangle, so the expected answer is
// known without GEOS): inside, roads go to mobility; outside, to works.
TEST(Rules, PolygonDistrictsOnAGrid) {
  auto rules = Load();
  int inside = 0;
  for (int i = 0; i < 20; ++i) {
    for (int j = 0; j < 20; ++j) {
      RouteInput in = Input("potholes");
      const double lat = 51.02 + 0.0037 * i;  // 51.020 .. 51.090
      const double lon = 3.68 + 0.0041 * j;   // 3.680 .. 3.758
      in.draft.mutable_location()->set_has_coordinates(true);
      in.draft.mutable_location()->set_latitude(lat);
      in.draft.mutable_location()->set_longitude(lon);
      const bool expect_inside = lat > 51.04 && lat < 51.07 && lon > 3.70 && lon < 3.74;
      auto d = rules->Decide(in);
      EXPECT_EQ(d.department(), expect_inside ? "mobility" : "works") << lat << "," << lon;
      EXPECT_EQ(d.district(), expect_inside ? "centre" : "") << lat << "," << lon;
      inside += expect_inside;
    }
  }
  EXPECT_GT(inside, 50);
}

TEST(Rules, PostcodesAndReferral) {
  auto rules = Load();
  for (const char* postcode : {"9000", "9042", "9050", "1000"}) {
    RouteInput in = Input("potholes");
    in.draft.mutable_location()->set_postcode(postcode);
    auto d = rules->Decide(in);
    if (std::string(postcode) == "9000") {
      EXPECT_EQ(d.department(), "mobility");
      EXPECT_EQ(d.deadline_policy(), "centre");
    } else if (std::string(postcode) == "9042") {
      EXPECT_EQ(d.refer_to(), "Port authority");
      EXPECT_EQ(d.department(), "");
    } else {
      EXPECT_EQ(d.department(), "works") << postcode;
    }
  }
}

TEST(Rules, ChannelRegexKeywordsAndSystem) {
  auto rules = Load();
  RouteInput night = Input("noise", "Lawaai elke NACHT van de buren");
  night.draft.set_channel(t::APP);
  auto d = rules->Decide(night);
  EXPECT_EQ(d.rule_id(), "app-noise-at-night");
  EXPECT_EQ(d.priority(), t::HIGH);
  night.draft.set_channel(t::WEB);
  EXPECT_EQ(rules->Decide(night).rule_id(), "category:noise");
  RouteInput question = Input("whatever", "How do I get a Parking Permit?");
  question.draft.set_kind(t::QUESTION);
  question.submitting_system = "crm";
  EXPECT_EQ(rules->Decide(question).department(), "mobility");
  question.submitting_system = "web-form";
  EXPECT_EQ(rules->Decide(question).department(), "triage");
  question.submitting_system = "crm";
  question.draft.set_description("parking and a permit");  // not the phrase
  EXPECT_EQ(rules->Decide(question).department(), "triage");
}

TEST(Rules, DangerWordsRaisePriority) {
  auto rules = Load();
  auto calm = rules->Decide(Input("lighting", "lamp is out"));
  EXPECT_EQ(calm.priority(), t::NORMAL);
  auto danger = rules->Decide(Input("lighting", "Levens GEVAAR: kabel ligt bloot"));
  EXPECT_EQ(danger.priority(), t::URGENT);
  EXPECT_THAT(danger.explanation(), HasSubstr("gevaar"));
  EXPECT_EQ(rules->Decide(Input("lighting", "I smell a gas leak")).priority(), t::URGENT);
  EXPECT_EQ(rules->Decide(Input("lighting", "gevaarlijk")).priority(), t::NORMAL)
      << "whole words only";
}

TEST(Rules, BouncedDepartmentsAreSkippedAndTheHopLimitSendsToTriage) {
  auto rules = Load();
  RouteInput in = Input("potholes");
  in.draft.mutable_location()->set_postcode("9000");
  in.bounced = {"mobility"};
  auto d = rules->Decide(in);
  EXPECT_EQ(d.department(), "works");
  EXPECT_THAT(d.explanation(), HasSubstr("centre-roads skipped"));
  in.bounced = {"mobility", "works"};
  EXPECT_EQ(rules->Decide(in).department(), "triage");
  in.bounced = {};
  in.hops = 2;
  auto limited = rules->Decide(in);
  EXPECT_EQ(limited.department(), "triage");
  EXPECT_EQ(limited.rule_id(), "hop-limit");
}

TEST(Rules, AssigneeIsLeastLoadedWithCapacityAndSkills) {
  auto rules = Load();
  EXPECT_EQ(rules->PickAssignee("works", "lights", {"lighting"}, {}), "yann")
      << "ties: smallest id";
  EXPECT_EQ(rules->PickAssignee("works", "lights", {"lighting"}, {{"yann", 3}, {"zoe", 1}}), "zoe");
  EXPECT_EQ(rules->PickAssignee("works", "lights", {"lighting"}, {{"yann", 3}, {"zoe", 2}}), "yann")
      << "zoe is at capacity";
  EXPECT_EQ(rules->PickAssignee("works", "lights", {"electrical"}, {{"zoe", 2}}), "")
      << "nobody left";
  EXPECT_EQ(rules->PickAssignee("works", "", {"lighting"}, {}), "yann");
  EXPECT_EQ(rules->PickAssignee("mobility", "", {}, {}), "") << "no teams";
  auto d = rules->Decide(Input("lighting"));
  EXPECT_EQ(d.team(), "lights");
  EXPECT_EQ(d.required_skills(0), "lighting");
}

TEST(Rules, ErrorsNameTheLineAndTheReason) {
  auto error = [](const std::string& text) {
    return std::string(RuleSet::Parse(text, "bad.yaml").status().message());
  };
  const std::string base = "default_department: a\ndepartments: [{id: a}]\n";
  EXPECT_THAT(
      error(base + "rules:\n  - id: r\n    match: {kind: [REPROT]}\n    result: {department: a}\n"),
      HasSubstr("bad.yaml:5:"));
  EXPECT_THAT(
      error(base + "rules:\n  - id: r\n    match: {kind: [REPROT]}\n    result: {department: a}\n"),
      HasSubstr("rules[0].match.kind: unknown value 'REPROT'"));
  EXPECT_THAT(error(base + "rules:\n  - id: r\n    match: {}\n    result: {department: nowhere}\n"),
              HasSubstr("rules[0].result.department"));
  EXPECT_THAT(
      error(base +
            "rules:\n  - id: r\n    match: {regex: '(unclosed'}\n    result: {department: a}\n"),
      HasSubstr("not a valid RE2 expression"));
  EXPECT_THAT(error(base + "categories:\n  - {id: x, parent: y}\n  - {id: y, parent: x}\n"),
              HasSubstr("cycle"));
  EXPECT_THAT(
      error(base + "districts:\n  - {id: d, polygon: {type: Point, coordinates: [1, 2]}}\n"),
      HasSubstr("Polygon"));
  EXPECT_THAT(error(base + "colour: red\n"), HasSubstr("unknown key 'colour'"));
  EXPECT_THAT(error("default_department: b\ndepartments: [{id: a}]\n"),
              HasSubstr("default_department"));
  EXPECT_THAT(error("departments: [unclosed\n"), HasSubstr("bad.yaml:"));
  EXPECT_THAT(error(base + "max_hops: 0\n"), HasSubstr("max_hops"));
  EXPECT_THAT(error(base + "confidential_department: nowhere\n"),
              HasSubstr("bad.yaml:3:26: confidential_department: must be one of the departments"));
  // A polygon written as YAML with a string that is not UTF-8: an error, not an exception.
  EXPECT_THAT(error(base + "districts: [{id: d, polygon: {type: Polygon, name: \"x\x91y\"}}]\n"),
              HasSubstr("districts[0].polygon: not valid GeoJSON"));
}

TEST(Rules, AConfidentialCaseGoesToTheConfidentialDepartmentWhateverMatches) {
  auto rules = Load();
  EXPECT_EQ(rules->confidential_department(), "team");
  RouteInput in = Input("noise", "'s nachts gevaar");
  in.draft.set_channel(t::APP);
  in.draft.set_confidential(true);
  in.bounced = {"team"};
  in.hops = 5;
  v1::RouteDecision d = rules->Decide(in);
  EXPECT_EQ(d.department(), "team");
  EXPECT_EQ(d.dispatch_topic(), "meldpunt.dispatch.team.v1");
  EXPECT_EQ(d.rule_id(), "confidential");
  EXPECT_EQ(d.priority(), t::URGENT);
  EXPECT_THAT(d.explanation(), HasSubstr("confidential"));
  EXPECT_EQ(d.explanation().find("nacht"), std::string::npos) << d.explanation();
  EXPECT_EQ(d.explanation().find("gevaar"), std::string::npos) << d.explanation();
  // Without the key, the triage queue (the default department).
  auto fallback = RuleSet::Parse("default_department: a\ndepartments: [{id: a}, {id: b}]\n", "f");
  ASSERT_TRUE(fallback.ok()) << fallback.status();
  EXPECT_EQ((*fallback)->confidential_department(), "a");
}

TEST(Words, SplitsOnNonLettersAndLowerCases) {
  EXPECT_EQ(Words("Gas-leak! in de STRAAT, nr.12"),
            (std::vector<std::string>{"gas", "leak", "in", "de", "straat", "nr", "12"}));
  EXPECT_EQ(Words("café brûlé"), (std::vector<std::string>{"café", "brûlé"}));
}

}  // namespace
}  // namespace meldpunt::routing
