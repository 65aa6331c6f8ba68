#include "services/routing/rules.h"

#include <cstdlib>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "yaml-cpp/yaml.h"

namespace meldpunt::routing {
namespace {

namespace t = ::meldpunt::types::v1;
using ::testing::HasSubstr;

// The tree: public-space > lighting, roads > potholes; noise and graffiti at the top.
constexpr char kCatalog[] = R"(
categories:
  - {id: public-space, labels: {nl: Openbare ruimte, fr: Espace public, en: Public space}}
  - {id: lighting, parent: public-space, labels: {nl: Licht, fr: Lumière, en: Lighting}}
  - {id: roads, parent: public-space, labels: {nl: Wegen, fr: Routes, en: Roads}}
  - {id: potholes, parent: roads, labels: {nl: Putten, fr: Nids, en: Potholes}}
  - {id: noise, labels: {nl: Lawaai, fr: Bruit, en: Noise}}
  - {id: graffiti, labels: {nl: Graffiti, fr: Graffitis, en: Graffiti}}
)";

std::shared_ptr<const catalog::Catalog> TestCatalog() {
  auto loaded = catalog::Catalog::Parse(kCatalog, "categories.yaml");
  EXPECT_TRUE(loaded.ok()) << loaded.status();
  return *loaded;
}

absl::StatusOr<std::shared_ptr<const RuleSet>> Parse(const std::string& text) {
  return RuleSet::Parse(text, "rules.yaml", TestCatalog());
}

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
  - {id: lighting, team: lights, department: works, skills: [lighting]}
  - {id: roads}
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
  auto rules = Parse(kRules);
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
  EXPECT_TRUE(IsTriage(unknown));
  EXPECT_THAT(unknown.explanation(),
              HasSubstr("category graffiti is not in the routing rules and no rule matches"));
  EXPECT_FALSE(IsTriage(rules->Decide(Input("noise"))));
  // Not in the catalogue at all (an old case, or an intake without one): triage, said so.
  auto stranger = rules->Decide(Input("martians"));
  EXPECT_EQ(stranger.rule_id(), "default");
  EXPECT_THAT(stranger.explanation(),
              HasSubstr("category martians is not in the category catalogue and no rule matches"));
  // A rule for roads holds for potholes, which lies under it in the catalogue only.
  auto rule = Parse(std::string(kRules) +
                    "  - id: roads-rule\n    match: {category: [roads]}\n    result: {department: "
                    "mobility}\n");
  ASSERT_TRUE(rule.ok()) << rule.status();
  EXPECT_EQ((*rule)->Decide(Input("potholes")).rule_id(), "roads-rule");
  EXPECT_EQ((*rule)->Decide(Input("lighting")).rule_id(), "category:lighting");
}

// The tree is the catalogue's: a parent in the rules is refused, and so is a category the
// catalogue does not hold, in categories: and in a rule, each with its line.
TEST(Rules, CategoriesComeFromTheCatalogue) {
  auto error = [](const std::string& text) { return std::string(Parse(text).status().message()); };
  const std::string base = "default_department: a\ndepartments: [{id: a}]\n";
  EXPECT_THAT(error(base + "categories:\n  - {id: noise}\n  - {id: potholes, parent: roads}\n"),
              HasSubstr("rules.yaml:5:28: categories[1].parent: the category tree is in the "
                        "category catalogue (catalog.file)"));
  EXPECT_THAT(error(base + "categories:\n  - {id: noise}\n  - {id: martians, department: a}\n"),
              HasSubstr("rules.yaml:5:10: categories[1].id: 'martians' is not in the category "
                        "catalogue"));
  EXPECT_THAT(error(base + "categories:\n  - {id: Noise}\n"),
              HasSubstr("categories[0].id: 'Noise' must be 1-64 characters of a-z"));
  EXPECT_THAT(
      error(base + "rules:\n  - id: r\n    match: {category: [noise, martians]}\n    result: "
                   "{department: a}\n"),
      HasSubstr("rules.yaml:5:31: rules[0].match.category[1]: 'martians' is not in the category "
                "catalogue"));
  // A rule may name a category of the catalogue that has no entry of its own in the rules.
  EXPECT_TRUE(Parse(base +
                    "rules:\n  - id: r\n    match: {category: graffiti}\n    result: {department: "
                    "a}\n")
                  .ok());
  // GetRules lists every category of the catalogue, with where it goes without a rule.
  auto rules = Parse(kRules);
  ASSERT_TRUE(rules.ok());
  std::map<std::string, std::string> routes;
  const v1::GetRulesResponse described = (*rules)->Describe();
  for (const auto& c : described.categories()) routes[c.category()] = c.department();
  EXPECT_EQ(routes, (std::map<std::string, std::string>{{"public-space", "works"},
                                                        {"lighting", "works"},
                                                        {"roads", "works"},
                                                        {"potholes", "works"},
                                                        {"noise", "environment"},
                                                        {"graffiti", "triage"}}));
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
  auto everyone = rules->Decide(in);
  EXPECT_EQ(everyone.department(), "triage");
  EXPECT_EQ(everyone.rule_id(), "all-bounced");
  EXPECT_TRUE(IsTriage(everyone));
  EXPECT_EQ(everyone.reasons(0),
            "every department that could handle the case bounced it (bounced by mobility, works): "
            "to the Meldpunt's triage queue (triage)");
  EXPECT_EQ(everyone.assignee(), "");
  EXPECT_EQ(everyone.team(), "");
  in.bounced = {};
  in.hops = 2;
  auto limited = rules->Decide(in);
  EXPECT_EQ(limited.department(), "triage");
  EXPECT_EQ(limited.rule_id(), "hop-limit");
  EXPECT_TRUE(IsTriage(limited));
  EXPECT_THAT(limited.explanation(), HasSubstr("routed 2 times already, the limit is 2"));
  // A category nobody handles, bounced by a department a rule sent it to: all bounced as well.
  RouteInput crm = Input("whatever", "parking permit");
  crm.draft.set_kind(t::QUESTION);
  crm.submitting_system = "crm";
  crm.bounced = {"mobility"};
  EXPECT_EQ(rules->Decide(crm).rule_id(), "all-bounced");
}

TEST(Rules, BouncedByMakesANextCandidate) {
  auto rules = Parse(std::string(kRules) + R"(
  - id: after-works
    match: {category: [public-space], bounced_by: [works]}
    result: {department: mobility}
  - id: after-both
    match: {category: [public-space], bounced_by: [works, mobility]}
    result: {refer_to: Road agency}
)");
  ASSERT_TRUE(rules.ok()) << rules.status();
  RouteInput in = Input("potholes");
  EXPECT_EQ((*rules)->Decide(in).department(), "works") << "not before works bounced it";
  in.bounced = {"works"};
  auto second = (*rules)->Decide(in);
  EXPECT_EQ(second.department(), "mobility");
  EXPECT_EQ(second.rule_id(), "after-works");
  in.bounced = {"works", "mobility"};
  auto third = (*rules)->Decide(in);
  EXPECT_EQ(third.refer_to(), "Road agency");
  EXPECT_EQ(third.rule_id(), "after-both");
  in.bounced = {"mobility"};
  EXPECT_EQ((*rules)->Decide(in).department(), "works");
  EXPECT_THAT(std::string(Parse(std::string(kRules) + R"(
  - id: r
    match: {bounced_by: [nowhere]}
    result: {department: works}
)")
                              .status()
                              .message()),
              HasSubstr("rules[4].match.bounced_by: 'nowhere' is not a department"));
  for (const char* reserved :
       {"default", "hop-limit", "all-bounced", "reassigned", "confidential", "category:noise"}) {
    EXPECT_THAT(std::string(Parse(std::string(kRules) + "  - id: \"" + reserved +
                                  "\"\n    match: {}\n    result: {department: works}\n")
                                .status()
                                .message()),
                HasSubstr("is the id of a decision no rule makes"))
        << reserved;
  }
}

TEST(Rules, AReassignmentKeepsThePriorityAndTakesTheSkillsOfItsDepartment) {
  auto rules = Load();
  RouteInput in = Input("lighting", "gevaar: kabel ligt bloot");
  auto d = rules->DecideReassigned(in, "works", "lights", "paal in de rijweg");
  EXPECT_EQ(d.rule_id(), "reassigned");
  EXPECT_FALSE(IsTriage(d));
  EXPECT_EQ(d.department(), "works");
  EXPECT_EQ(d.team(), "lights");
  EXPECT_EQ(d.priority(), t::URGENT);
  EXPECT_EQ(d.dispatch_topic(), "meldpunt.dispatch.works.v1");
  ASSERT_EQ(d.required_skills_size(), 1);
  EXPECT_EQ(d.required_skills(0), "lighting");
  EXPECT_THAT(d.explanation(), HasSubstr("paal in de rijweg"));
  auto elsewhere = rules->DecideReassigned(in, "mobility", "lights", "");
  EXPECT_EQ(elsewhere.team(), "") << "lights is no team of mobility";
  EXPECT_EQ(elsewhere.required_skills_size(), 0) << "lighting is not mobility's category";
  in.draft.set_confidential(true);
  auto confidential = rules->DecideReassigned(in, "works", "", "paal in de rijweg");
  EXPECT_EQ(confidential.explanation().find("paal"), std::string::npos);
  EXPECT_EQ(confidential.explanation().find("gevaar"), std::string::npos);
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
  EXPECT_THAT(error(base + "categories:\n  - {id: x, parent: y}\n"),
              HasSubstr("bad.yaml:4:21: categories[0].parent: the category tree is in the category "
                        "catalogue"));
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

// The shipped file (deploy/config/routing-rules.yaml): a bounce has a next candidate, and when
// every candidate bounced the case it goes to triage.
std::string Shipped(const std::string& file) {
  const char* source = std::getenv("MELDPUNT_SOURCE_DIR");
  return std::string(source ? source : ".") + "/deploy/" + file;
}

// The shipped rules and the shipped catalogue, loaded together as routing does: every category
// the rules name is in the catalogue, and the catalogue's tree decides where a category without a
// department goes.
TEST(ShippedRules, AreReadAgainstTheShippedCatalogue) {
  auto loaded = LoadRules(Shipped("config/routing-rules.yaml"), Shipped("config/categories.yaml"));
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  const RuleSet& rules = **loaded;
  ASSERT_NE(rules.catalog(), nullptr);
  const YAML::Node file = YAML::LoadFile(Shipped("config/routing-rules.yaml"));
  int named = 0;
  for (const auto& c : file["categories"]) {
    EXPECT_TRUE(rules.catalog()->Contains(c["id"].Scalar())) << c["id"].Scalar();
    EXPECT_FALSE(c["parent"]) << c["id"].Scalar() << ": the tree is the catalogue's";
    ++named;
  }
  for (const auto& r : file["rules"]) {
    for (const auto& c : r["match"]["category"]) {
      EXPECT_TRUE(rules.catalog()->Contains(c.Scalar())) << c.Scalar();
      ++named;
    }
  }
  EXPECT_GT(named, 15);
  // potholes has no department of its own: it goes where roads (its parent) goes.
  auto potholes = rules.Decide(Input("potholes"));
  auto roads = rules.Decide(Input("roads"));
  EXPECT_EQ(potholes.department(), "public-works");
  EXPECT_EQ(potholes.department(), roads.department());
  EXPECT_EQ(potholes.team(), roads.team());
  EXPECT_EQ(potholes.rule_id(), "category:roads");
  EXPECT_THAT(potholes.explanation(), HasSubstr("category potholes (under roads) is handled by"));
  EXPECT_EQ(rules.Decide(Input("noise")).department(), "environment");
  EXPECT_EQ(rules.Decide(Input("trees")).department(), "green-spaces");
  // In the catalogue, in no rule: the triage queue.
  auto graffiti = rules.Decide(Input("graffiti"));
  EXPECT_TRUE(IsTriage(graffiti));
  EXPECT_THAT(graffiti.explanation(), HasSubstr("category graffiti is not in the routing rules"));
  // The Kubernetes copy is the same file.
  auto k8s =
      LoadRules(Shipped("k8s/base/config/routing-rules.yaml"), Shipped("config/categories.yaml"));
  EXPECT_TRUE(k8s.ok()) << k8s.status();
}

TEST(ShippedRules, ABounceHasANextCandidateAndThenTriage) {
  auto loaded = LoadRules(Shipped("config/routing-rules.yaml"), Shipped("config/categories.yaml"));
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  const RuleSet& rules = **loaded;
  RouteInput tree = Input("trees");
  EXPECT_EQ(rules.Decide(tree).department(), "green-spaces");
  tree.bounced = {"green-spaces"};
  tree.hops = 1;
  auto second = rules.Decide(tree);
  EXPECT_EQ(second.department(), "public-works");
  EXPECT_EQ(second.team(), "roads");
  EXPECT_EQ(second.rule_id(), "street-trees");
  tree.bounced = {"green-spaces", "public-works"};
  tree.hops = 2;
  auto triage = rules.Decide(tree);
  EXPECT_TRUE(IsTriage(triage));
  EXPECT_EQ(triage.rule_id(), "all-bounced");
  EXPECT_EQ(triage.department(), rules.default_department());

  RouteInput road = Input("potholes");
  EXPECT_EQ(rules.Decide(road).department(), "public-works");
  road.bounced = {"public-works"};
  road.hops = 1;
  auto referred = rules.Decide(road);
  EXPECT_EQ(referred.refer_to(), "Agentschap Wegen en Verkeer");
  EXPECT_EQ(referred.rule_id(), "regional-roads");

  // The team's choice bounced as well: max_hops.
  tree.bounced = {"green-spaces", "public-works", "mobility"};
  tree.hops = rules.max_hops();
  EXPECT_EQ(rules.Decide(tree).rule_id(), "hop-limit");
  // Confidential cases still go to the team as a routed case, whatever bounced.
  tree.draft.set_confidential(true);
  auto confidential = rules.Decide(tree);
  EXPECT_FALSE(IsTriage(confidential));
  EXPECT_EQ(confidential.rule_id(), "confidential");
}

TEST(Words, SplitsOnNonLettersAndLowerCases) {
  EXPECT_EQ(Words("Gas-leak! in de STRAAT, nr.12"),
            (std::vector<std::string>{"gas", "leak", "in", "de", "straat", "nr", "12"}));
  EXPECT_EQ(Words("café brûlé"), (std::vector<std::string>{"café", "brûlé"}));
}

}  // namespace
}  // namespace meldpunt::routing

namespace meldpunt::routing {
namespace {

// What people read names a department by the shipped catalogue's labels: every department of the
// shipped rules has them.
TEST(ShippedConfig, EveryDepartmentHasANameInTheCatalogue) {
  const char* source = std::getenv("MELDPUNT_SOURCE_DIR");
  const std::string root = std::string(source ? source : ".") + "/deploy/config/";
  auto rules = LoadRules(root + "routing-rules.yaml", root + "categories.yaml");
  ASSERT_TRUE(rules.ok()) << rules.status();
  std::set<std::string> named;
  for (const auto& d : (*rules)->catalog()->departments()) named.insert(d.id);
  for (const auto& [id, department] : (*rules)->departments()) {
    EXPECT_TRUE(named.count(id)) << id << " has no name in deploy/config/categories.yaml";
    EXPECT_EQ((*rules)->catalog()->DepartmentLabel(id, types::v1::NL), department.name) << id;
  }
}

}  // namespace
}  // namespace meldpunt::routing
