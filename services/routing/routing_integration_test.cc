// The routing service in-process against the real Kafka broker and Redis of the test stack:
// reloading rules and the category catalogue together (a broken file, either one, is refused with
// its line, and both in force stay), a case event in, CaseRouted and the dispatch message out; the
// duplicate index's distances at the edge of the radius.
#include <grpcpp/grpcpp.h>
#include <algorithm>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "libs/events/codec.h"
#include "libs/events/event_log.h"
#include "libs/events/ids.h"
#include "libs/events/topics.h"
#include "libs/kafka/consumer.h"
#include "libs/service/wiring.h"
#include "meldpunt/routing/v1/routing.grpc.pb.h"
#include "services/routing/app.h"
#include "services/routing/route_store.h"
#include "tests/testing/stack.h"

namespace meldpunt::routing {
namespace {

namespace t = ::meldpunt::types::v1;

constexpr char kGoodRules[] = R"(
default_department: triage
departments: [{id: triage}, {id: works}]
categories: [{id: roads, department: works}, {id: noise}]
)";

// The catalogue the tests' rules are read against: potholes lies under roads.
constexpr char kCatalog[] = R"(
categories:
  - {id: roads, labels: {nl: Wegen, fr: Routes, en: Roads}}
  - {id: potholes, parent: roads, labels: {nl: Putten, fr: Nids, en: Potholes}}
  - {id: noise, labels: {nl: Lawaai, fr: Bruit, en: Noise}}
)";

void Write(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
}

std::string TestFile(const std::string& name) {
  return std::string(std::getenv("MELDPUNT_BINARY_DIR")) + "/" + testing::UniqueName(name) +
         ".yaml";
}

TEST(RoutingIntegration, ReloadRefusesABrokenFileAndKeepsTheRulesInForce) {
  auto stack = testing::LoadStack();
  ASSERT_TRUE(stack.ok()) << stack.status();
  const std::string rules_file = std::string(std::getenv("MELDPUNT_BINARY_DIR")) + "/" +
                                 testing::UniqueName("rules") + ".yaml";
  Write(rules_file, kGoodRules);
  const std::string catalog_file = TestFile("catalog");
  Write(catalog_file, kCatalog);
  RoutingConfig config;
  config.grpc_listen = "127.0.0.1:0";
  config.grpc_plaintext_loopback = true;
  config.admin_listen = "127.0.0.1:0";
  testing::UseStackKafka(*stack, config);
  config.redis_address = stack->redis;
  config.consumer_group = testing::UniqueName("routing-test");
  // From the end of the shared log: earlier tests' records are not this test's (routing reads
  // their clock records too, for the workload view, which made a whole-log catch-up slow).
  ASSERT_TRUE(
      testing::StartGroupAtEnd(*stack, config.consumer_group, events::kCaseEventsTopic).ok());
  config.rules_file = rules_file;
  config.catalog_file = catalog_file;
  // As RunApp: the rules reload makes its admin client without the wiring helpers.
  ASSERT_TRUE(service::InstallKafkaSecurity(config).ok());
  RoutingApp app(config);
  ASSERT_TRUE(app.Start().ok());

  Write(rules_file,
        std::string(kGoodRules) +
            "rules:\n  - id: r\n    match: {kind: [NOPE]}\n    result: {department: works}\n");
  absl::Status refused = app.ReloadRules();
  EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(refused.message().find(":7:"), std::string::npos) << refused;
  EXPECT_NE(refused.message().find("unknown value 'NOPE'"), std::string::npos) << refused;

  // The old rules still decide: a pothole-free "roads" case goes to works, "noise" to triage.
  Write(rules_file, std::string(kGoodRules) +
                        "rules:\n  - id: noise-to-works\n    match: {category: [noise]}\n    "
                        "result: {department: works}\n");
  ASSERT_TRUE(app.ReloadRules().ok());

  // A case through Kafka is decided by the new rules.
  auto producer =
      kafka::Producer::Create({.brokers = stack->kafka, .extra = stack->kafka_properties});
  ASSERT_TRUE(producer.ok());
  const std::string case_id = events::CaseIdFor("routing-test", testing::UniqueName("k"));
  events::Envelope submitted = events::NewEnvelope(case_id, "intake", absl::Now());
  submitted.mutable_case_submitted()->mutable_draft()->set_kind(t::REPORT);
  submitted.mutable_case_submitted()->mutable_draft()->set_category("noise");
  submitted.mutable_case_submitted()->mutable_draft()->set_description("loud");
  events::Finish(submitted, events::DeterministicId("submitted", {case_id}));
  ASSERT_TRUE((*producer)
                  ->Send(events::ToRecord(events::kCaseEventsTopic, submitted),
                         absl::Now() + absl::Seconds(10))
                  .ok());

  auto reader = kafka::Consumer::Create({.brokers = stack->kafka,
                                         .group_id = testing::UniqueName("dispatch-reader"),
                                         .topics = {events::DispatchTopic("works")},
                                         .extra = stack->kafka_properties});
  ASSERT_TRUE(reader.ok());
  bool dispatched = false;
  const absl::Time until = absl::Now() + absl::Seconds(60);
  while (!dispatched && absl::Now() < until) {
    auto record = (*reader)->Poll(absl::Milliseconds(200));
    ASSERT_TRUE(record.ok());
    if (record->has_value() && (*record)->key == case_id) {
      events::v1::DispatchMessage d;
      ASSERT_TRUE(d.ParseFromString((*record)->value));
      EXPECT_EQ(d.department(), "works");
      EXPECT_NE(d.explanation().find("noise-to-works"), std::string::npos) << d.explanation();
      dispatched = true;
    }
  }
  EXPECT_TRUE(dispatched);
  app.Stop();
  std::remove(rules_file.c_str());
  std::remove(catalog_file.c_str());
}

// The catalogue is read again only together with the rules. A reload where either is wrong (the
// catalogue does not load; the rules name a category the new catalogue lacks) is refused with the
// file and line, and the rules and the catalogue in force both stay: a pothole still goes where
// roads goes, by the old rules and the old tree, although the file on disk by then is a valid
// catalogue without potholes (routing does not pick it up on its own).
TEST(RoutingIntegration, AReloadWithACatalogueErrorKeepsBothInForce) {
  auto stack = testing::LoadStack();
  ASSERT_TRUE(stack.ok()) << stack.status();
  const std::string rules_file = TestFile("rules");
  const std::string catalog_file = TestFile("catalog");
  Write(rules_file, R"(
default_department: triage
departments: [{id: triage}, {id: works}, {id: mobility}]
categories: [{id: roads, department: works}]
)");
  Write(catalog_file, kCatalog);
  RoutingConfig config;
  config.grpc_listen = "127.0.0.1:0";
  config.grpc_plaintext_loopback = true;
  config.admin_listen = "127.0.0.1:0";
  testing::UseStackKafka(*stack, config);
  config.redis_address = stack->redis;
  config.consumer_group = testing::UniqueName("routing-catalog");
  ASSERT_TRUE(
      testing::StartGroupAtEnd(*stack, config.consumer_group, events::kCaseEventsTopic).ok());
  config.produce_timeout = absl::Seconds(2);
  config.rules_file = rules_file;
  config.catalog_file = catalog_file;
  ASSERT_TRUE(service::InstallKafkaSecurity(config).ok());
  RoutingApp app(config);
  ASSERT_TRUE(app.Start().ok());

  // New rules (roads to mobility) with a catalogue that does not load: neither is taken.
  Write(rules_file, R"(
default_department: triage
departments: [{id: triage}, {id: works}, {id: mobility}]
categories: [{id: roads, department: mobility}]
)");
  Write(catalog_file,
        std::string(kCatalog) + "  - {id: trees, parent: parks, labels: {nl: B, fr: A, en: T}}\n");
  absl::Status refused = app.ReloadRules();
  EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument) << refused;
  EXPECT_NE(refused.message().find(catalog_file), std::string::npos) << refused;
  EXPECT_NE(refused.message().find(":6:"), std::string::npos) << refused;
  EXPECT_NE(refused.message().find("parks"), std::string::npos) << refused;

  // A catalogue that loads, without potholes, and rules that name potholes: refused on the rules'
  // line; the catalogue stays the old one too.
  Write(catalog_file, R"(
categories:
  - {id: roads, labels: {nl: Wegen, fr: Routes, en: Roads}}
  - {id: noise, labels: {nl: Lawaai, fr: Bruit, en: Noise}}
)");
  Write(rules_file, R"(
default_department: triage
departments: [{id: triage}, {id: works}, {id: mobility}]
categories: [{id: roads, department: mobility}, {id: potholes}]
)");
  refused = app.ReloadRules();
  EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument) << refused;
  EXPECT_NE(refused.message().find(rules_file + ":4:"), std::string::npos) << refused;
  EXPECT_NE(refused.message().find("'potholes' is not in the category catalogue"),
            std::string::npos)
      << refused;

  auto producer =
      kafka::Producer::Create({.brokers = stack->kafka, .extra = stack->kafka_properties});
  ASSERT_TRUE(producer.ok());
  auto reader = kafka::Consumer::Create(
      {.brokers = stack->kafka,
       .group_id = testing::UniqueName("catalog-reader"),
       .topics = {events::DispatchTopic("works"), events::DispatchTopic("mobility"),
                  events::DispatchTopic("triage")},
       .extra = stack->kafka_properties});
  ASSERT_TRUE(reader.ok());
  const std::string case_id = events::CaseIdFor("routing-test", testing::UniqueName("pothole"));
  events::Envelope submitted = events::NewEnvelope(case_id, "intake", absl::Now());
  submitted.mutable_case_submitted()->mutable_draft()->set_kind(t::REPORT);
  submitted.mutable_case_submitted()->mutable_draft()->set_category("potholes");
  submitted.mutable_case_submitted()->mutable_draft()->set_description("a hole");
  events::Finish(submitted, events::DeterministicId("submitted", {case_id}));
  ASSERT_TRUE((*producer)
                  ->Send(events::ToRecord(events::kCaseEventsTopic, submitted),
                         absl::Now() + absl::Seconds(10))
                  .ok());
  std::optional<events::v1::DispatchMessage> dispatched;
  const absl::Time until = absl::Now() + absl::Seconds(60);
  while (!dispatched && absl::Now() < until) {
    auto record = (*reader)->Poll(absl::Milliseconds(200));
    ASSERT_TRUE(record.ok());
    if (record->has_value() && (*record)->key == case_id) {
      dispatched.emplace();
      ASSERT_TRUE(dispatched->ParseFromString((*record)->value));
    }
  }
  app.Stop();
  std::remove(rules_file.c_str());
  std::remove(catalog_file.c_str());
  ASSERT_TRUE(dispatched.has_value());
  EXPECT_EQ(dispatched->department(), "works") << dispatched->explanation();
  EXPECT_NE(dispatched->explanation().find("category potholes (under roads) is handled by works"),
            std::string::npos)
      << dispatched->explanation();
}

// Nearby cases of one category that reach routing together, on different partitions and so on
// different lanes, still find each other: of each pair, exactly one is linked to the other.
TEST(RoutingIntegration, NearbyCasesRoutedAtOnceOnOtherLanesAreLinked) {
  auto stack = testing::LoadStack();
  ASSERT_TRUE(stack.ok()) << stack.status();
  const std::string rules_file = std::string(std::getenv("MELDPUNT_BINARY_DIR")) + "/" +
                                 testing::UniqueName("rules") + ".yaml";
  Write(rules_file, std::string(kGoodRules) +
                        "duplicates: {kinds: [REPORT], radius_m: 50, window: 14d, action: link}\n");
  auto producer =
      kafka::Producer::Create({.brokers = stack->kafka, .extra = stack->kafka_properties});
  ASSERT_TRUE(producer.ok());
  // The group starts where the shared log ends now: the records below, written before routing
  // starts so that its first batch holds them all, and not those of earlier tests.
  const std::string group = testing::UniqueName("routing-dup");
  ASSERT_TRUE(testing::StartGroupAtEnd(*stack, group, events::kCaseEventsTopic).ok());
  constexpr int kPairs = 12;
  std::map<std::string, int> pair_of;  // case id -> pair
  const std::string run = testing::UniqueName("dup");
  for (int pair = 0; pair < kPairs; ++pair) {
    for (int member = 0; member < 2; ++member) {
      const std::string case_id =
          events::CaseIdFor("routing-test", absl::StrCat(run, "-", pair, "-", member));
      pair_of[case_id] = pair;
      events::Envelope e = events::NewEnvelope(case_id, "intake", absl::Now());
      e.mutable_case_submitted()->set_reference(absl::StrCat("REF-", pair, "-", member));
      auto* draft = e.mutable_case_submitted()->mutable_draft();
      draft->set_kind(t::REPORT);
      draft->set_category(absl::StrCat(run, "-", pair));
      draft->set_description("lamp out");
      draft->mutable_location()->set_has_coordinates(true);
      draft->mutable_location()->set_latitude(51.05 + pair * 0.01);
      draft->mutable_location()->set_longitude(3.72 + member * 0.0001);  // about 7 m apart
      events::Finish(e, events::DeterministicId("submitted", {case_id}));
      ASSERT_TRUE(
          (*producer)
              ->Send(events::ToRecord(events::kCaseEventsTopic, e), absl::Now() + absl::Seconds(10))
              .ok());
    }
  }
  RoutingConfig config;
  config.grpc_listen = "127.0.0.1:0";
  config.grpc_plaintext_loopback = true;
  config.admin_listen = "127.0.0.1:0";
  testing::UseStackKafka(*stack, config);
  config.redis_address = stack->redis;
  config.redis_pool_size = 8;
  config.consumer_lanes = 6;
  config.consumer_lane_min_records = 1;  // every partition of the first batch on a lane of its own
  config.consumer_group = group;
  const std::string catalog_file = TestFile("catalog");
  Write(catalog_file, kCatalog);
  config.catalog_file = catalog_file;
  // A case of this test routed to a department with no dispatch topic here is given up after
  // this long instead of the default 10 s.
  config.produce_timeout = absl::Seconds(2);
  config.rules_file = rules_file;
  // As RunApp: the rules reload makes its admin client without the wiring helpers.
  ASSERT_TRUE(service::InstallKafkaSecurity(config).ok());
  RoutingApp app(config);
  ASSERT_TRUE(app.Start().ok());

  auto reader = kafka::Consumer::Create({.brokers = stack->kafka,
                                         .group_id = testing::UniqueName("links-reader"),
                                         .topics = {events::kCaseEventsTopic},
                                         .extra = stack->kafka_properties});
  ASSERT_TRUE(reader.ok());
  std::map<int, int> links;  // pair -> CaseLinked events
  int routed = 0;
  const absl::Time until = absl::Now() + absl::Seconds(120);
  while (routed < 2 * kPairs && absl::Now() < until) {
    auto record = (*reader)->Poll(absl::Milliseconds(200));
    ASSERT_TRUE(record.ok());
    if (!record->has_value()) continue;
    auto e = events::Decode((*record)->value);
    if (!e.ok() || !pair_of.count(e->case_id())) continue;
    if (e->has_case_linked()) {
      ++links[pair_of[e->case_id()]];
      EXPECT_EQ(pair_of[e->case_linked().master_case_id()], pair_of[e->case_id()]);
      // The reporter's letter names the master by its reference, whether it was in flight or saved.
      const std::string other = absl::StrCat("REF-", pair_of[e->case_id()], "-");
      EXPECT_TRUE(absl::StartsWith(e->case_linked().master_reference(), other))
          << e->case_linked().master_reference();
    }
    // Routing's answer: a category of no department is triaged.
    if (e->has_case_routed() || e->has_case_triaged()) ++routed;
  }
  app.Stop();
  std::remove(rules_file.c_str());
  std::remove(catalog_file.c_str());
  EXPECT_EQ(routed, 2 * kPairs);
  for (int pair = 0; pair < kPairs; ++pair) EXPECT_EQ(links[pair], 1) << "pair " << pair;
}

// A case nobody can take, through Kafka and Redis: CaseTriaged on the case log and the message on
// the triage queue's feed, the route state with nobody; then the team's reassignment (a
// CaseReassigned on the log) is answered with CaseRouted and the department's dispatch, and the
// route state and workload follow routing's own answer.
TEST(RoutingIntegration, ATriagedCaseIsRoutedOnByTheTeamsReassignment) {
  auto stack = testing::LoadStack();
  ASSERT_TRUE(stack.ok()) << stack.status();
  const std::string rules_file = std::string(std::getenv("MELDPUNT_BINARY_DIR")) + "/" +
                                 testing::UniqueName("rules") + ".yaml";
  Write(rules_file, R"(
default_department: triage
departments:
  - {id: triage}
  - id: works
    teams: [{id: roads, members: [{id: an, capacity: 5}]}]
categories: [{id: roads, department: works}, {id: noise}]
)");
  RoutingConfig config;
  config.grpc_listen = "127.0.0.1:0";
  config.grpc_plaintext_loopback = true;
  config.admin_listen = "127.0.0.1:0";
  testing::UseStackKafka(*stack, config);
  config.redis_address = stack->redis;
  config.consumer_group = testing::UniqueName("routing-triage");
  // This test waits for routing to fold its own answer: no record earlier tests left on the shared
  // log may stand before it in its partition (one this configuration cannot append would be
  // retried in place for as long as the test runs).
  ASSERT_TRUE(
      testing::StartGroupAtEnd(*stack, config.consumer_group, events::kCaseEventsTopic).ok());
  const std::string catalog_file = TestFile("catalog");
  Write(catalog_file, kCatalog);
  config.catalog_file = catalog_file;
  config.produce_timeout = absl::Seconds(2);
  config.rules_file = rules_file;
  ASSERT_TRUE(service::InstallKafkaSecurity(config).ok());
  RoutingApp app(config);
  ASSERT_TRUE(app.Start().ok());

  auto producer =
      kafka::Producer::Create({.brokers = stack->kafka, .extra = stack->kafka_properties});
  ASSERT_TRUE(producer.ok());
  auto events_reader = kafka::Consumer::Create({.brokers = stack->kafka,
                                                .group_id = testing::UniqueName("triage-events"),
                                                .topics = {events::kCaseEventsTopic},
                                                .extra = stack->kafka_properties});
  ASSERT_TRUE(events_reader.ok());
  auto feeds_reader = kafka::Consumer::Create(
      {.brokers = stack->kafka,
       .group_id = testing::UniqueName("triage-feeds"),
       .topics = {events::DispatchTopic("triage"), events::DispatchTopic("works")},
       .extra = stack->kafka_properties});
  ASSERT_TRUE(feeds_reader.ok());
  const std::string case_id = events::CaseIdFor("routing-test", testing::UniqueName("triage"));
  auto send = [&](const events::Envelope& e) {
    ASSERT_TRUE(
        (*producer)
            ->Send(events::ToRecord(events::kCaseEventsTopic, e), absl::Now() + absl::Seconds(10))
            .ok());
  };
  // The next routing output of the case on the log.
  auto next_output = [&]() -> std::optional<events::Envelope> {
    const absl::Time until = absl::Now() + absl::Seconds(60);
    while (absl::Now() < until) {
      auto record = (*events_reader)->Poll(absl::Milliseconds(200));
      if (!record.ok() || !record->has_value() || (*record)->key != case_id) continue;
      auto e = events::Decode((*record)->value);
      if (e.ok() && e->producer() == "routing") return *e;
    }
    return std::nullopt;
  };

  events::Envelope submitted = events::NewEnvelope(case_id, "intake", absl::Now());
  submitted.mutable_case_submitted()->mutable_draft()->set_kind(t::REPORT);
  submitted.mutable_case_submitted()->mutable_draft()->set_category("noise");
  submitted.mutable_case_submitted()->mutable_draft()->set_description("loud");
  events::Finish(submitted, events::DeterministicId("submitted", {case_id}));
  send(submitted);
  std::optional<events::Envelope> triaged = next_output();
  ASSERT_TRUE(triaged.has_value());
  ASSERT_EQ(triaged->type(), "CaseTriaged") << triaged->DebugString();
  EXPECT_EQ(triaged->event_id(), events::DeterministicId("triaged", {submitted.event_id()}));
  EXPECT_NE(triaged->case_triaged().reason().find("category noise has no department"),
            std::string::npos)
      << triaged->case_triaged().reason();

  auto redis = redis::Client::Create({.address = stack->redis});
  ASSERT_TRUE(redis.ok());
  RedisRouteStore store(**redis);
  // Routing saves its state once it folded its own CaseTriaged from the log.
  ASSERT_TRUE(testing::Eventually(
      [&] {
        auto state = store.Load(case_id);
        return state.ok() && state->last_routed_event_id() == triaged->event_id();
      },
      absl::Seconds(30)));
  auto state = store.Load(case_id);
  EXPECT_EQ(state->department(), "");
  EXPECT_EQ(state->hops(), 0);
  EXPECT_TRUE(RoutingLogic::InTriage(*state));

  events::Envelope reassigned = events::NewEnvelope(case_id, "intake", absl::Now());
  reassigned.mutable_case_reassigned()->set_department("works");
  reassigned.mutable_case_reassigned()->set_reason("het lawaai komt van de wegenwerken");
  events::Finish(reassigned, events::DeterministicId("reassigned", {case_id}));
  send(reassigned);
  std::optional<events::Envelope> routed = next_output();
  ASSERT_TRUE(routed.has_value());
  ASSERT_EQ(routed->type(), "CaseRouted") << routed->DebugString();
  EXPECT_EQ(routed->event_id(), events::DeterministicId("routed", {reassigned.event_id()}));
  EXPECT_EQ(routed->case_routed().department(), "works");
  EXPECT_EQ(routed->case_routed().rule_id(), "reassigned");
  EXPECT_EQ(routed->case_routed().assignee(), "an");
  EXPECT_EQ(routed->case_routed().hop(), 1);
  ASSERT_TRUE(testing::Eventually(
      [&] {
        auto s = store.Load(case_id);
        return s.ok() && s->last_routed_event_id() == routed->event_id();
      },
      absl::Seconds(30)));
  state = store.Load(case_id);
  EXPECT_EQ(state->department(), "works");
  EXPECT_EQ(state->assignee(), "an");
  EXPECT_EQ(state->hops(), 1);
  auto open = store.OpenCases("works", {"an"});
  ASSERT_TRUE(open.ok());
  EXPECT_GE(open->at("an"), 1);
  // Both feeds: the queue's message with the reason, the department's with the assignee.
  std::vector<events::v1::DispatchMessage> dispatched;
  const absl::Time until = absl::Now() + absl::Seconds(60);
  while (dispatched.size() < 2 && absl::Now() < until) {
    auto feed = (*feeds_reader)->Poll(absl::Milliseconds(200));
    if (feed.ok() && feed->has_value() && (*feed)->key == case_id) {
      events::v1::DispatchMessage d;
      EXPECT_TRUE(d.ParseFromString((*feed)->value));
      dispatched.push_back(d);
    }
  }
  app.Stop();
  std::remove(rules_file.c_str());
  std::remove(catalog_file.c_str());
  ASSERT_EQ(dispatched.size(), 2u);
  std::map<std::string, events::v1::DispatchMessage> by_department;
  for (const auto& d : dispatched) by_department[d.department()] = d;
  ASSERT_EQ(by_department.count("triage"), 1u);
  ASSERT_EQ(by_department.count("works"), 1u);
  EXPECT_EQ(by_department["triage"].dispatch_id(), triaged->event_id());
  EXPECT_EQ(by_department["triage"].explanation(),
            std::string(kTriageExplanation) + triaged->case_triaged().reason());
  EXPECT_EQ(by_department["works"].dispatch_id(), routed->event_id());
  EXPECT_EQ(by_department["works"].assignee(), "an");
}

// Workload sets and the duplicate index follow the case's state, idempotently.
TEST(RouteStoreIntegration, WorkloadAndGeoIndexFollowTheState) {
  auto stack = testing::LoadStack();
  ASSERT_TRUE(stack.ok());
  auto redis = redis::Client::Create({.address = stack->redis});
  ASSERT_TRUE(redis.ok());
  RedisRouteStore store(**redis);
  const std::string department = testing::UniqueName("dept");
  const std::string category = testing::UniqueName("cat");
  const std::string case_id = events::CaseIdFor("store-test", testing::UniqueName("c"));
  v1::RouteState empty;
  v1::RouteState submitted;
  submitted.mutable_draft()->set_kind(t::REPORT);
  submitted.mutable_draft()->set_category(category);
  submitted.mutable_draft()->mutable_location()->set_has_coordinates(true);
  submitted.mutable_draft()->mutable_location()->set_latitude(51.05);
  submitted.mutable_draft()->mutable_location()->set_longitude(3.72);
  ASSERT_TRUE(store.Save(case_id, empty, submitted).ok());
  auto near = store.Near(category, 51.0501, 3.72, 50);
  ASSERT_TRUE(near.ok()) << near.status();
  ASSERT_EQ(near->size(), 1u);
  EXPECT_EQ((*near)[0].first, case_id);
  EXPECT_NEAR((*near)[0].second, 11.1, 1.0);
  EXPECT_TRUE(store.Near(category, 51.06, 3.72, 50)->empty()) << "1.1 km away";

  v1::RouteState routed = submitted;
  routed.set_department(department);
  routed.set_assignee("an");
  ASSERT_TRUE(store.Save(case_id, submitted, routed).ok());
  ASSERT_TRUE(store.Save(case_id, submitted, routed).ok());  // folded twice
  EXPECT_EQ(store.OpenCases(department, {"an", "bo"})->at("an"), 1);
  v1::RouteState moved = routed;
  moved.set_assignee("bo");
  ASSERT_TRUE(store.Save(case_id, routed, moved).ok());
  auto counts = store.OpenCases(department, {"an", "bo"});
  EXPECT_EQ(counts->at("an"), 0);
  EXPECT_EQ(counts->at("bo"), 1);
  v1::RouteState closed = moved;
  closed.set_closed(true);
  ASSERT_TRUE(store.Save(case_id, moved, closed).ok());
  EXPECT_EQ(store.OpenCases(department, {"bo"})->at("bo"), 0);
  EXPECT_TRUE(store.Near(category, 51.05, 3.72, 50)->empty()) << "closed cases leave the index";
  auto loaded = store.Load(case_id);
  ASSERT_TRUE(loaded.ok());
  EXPECT_TRUE(loaded->closed());
}

// Many saves in one pipeline: all applied, and a write Redis refuses is named by its change.
TEST(RouteStoreIntegration, SaveAllWritesInOneGoAndNamesTheChangeRedisRefused) {
  auto stack = testing::LoadStack();
  ASSERT_TRUE(stack.ok());
  auto redis = redis::Client::Create({.address = stack->redis});
  ASSERT_TRUE(redis.ok());
  RedisRouteStore store(**redis);
  const std::string department = testing::UniqueName("dept");
  std::vector<RouteStore::Change> changes;
  for (const char* member : {"an", "bo", "an"}) {
    v1::RouteState routed;
    routed.mutable_draft()->set_kind(t::REPORT);
    routed.set_department(department);
    routed.set_assignee(member);
    changes.push_back({events::CaseIdFor("store-test", testing::UniqueName("c")), {}, routed});
  }
  size_t failed = 99;
  ASSERT_TRUE(store.SaveAll(changes, &failed).ok());
  auto counts = store.OpenCases(department, {"an", "bo"});
  ASSERT_TRUE(counts.ok()) << counts.status();
  EXPECT_EQ(counts->at("an"), 2);
  EXPECT_EQ(counts->at("bo"), 1);

  // The open set of the second change's member is a string: Redis refuses its SADD.
  const std::string other = testing::UniqueName("dept");
  for (RouteStore::Change& c : changes) c.after.set_department(other);
  ASSERT_TRUE((*redis)->Command({"SET", "mp:open:{" + other + "}:bo", "x"}).ok());
  absl::Status saved = store.SaveAll(changes, &failed);
  EXPECT_FALSE(saved.ok());
  EXPECT_EQ(failed, 1u);
  EXPECT_EQ(store.OpenCases(other, {"an"})->at("an"), 2) << "the others are written";
}

// Routing saves a case once per batch, from the state it loaded to the last one
// (RoutingHandler::Handle): in the real Redis that leaves the workload view and the duplicate
// index as the saves one at a time do, for a case submitted, routed, clocked and moved in one run.
TEST(RouteStoreIntegration, OneSaveFromTheFirstStateToTheLastIndexesAsTheSavesInTurn) {
  auto stack = testing::LoadStack();
  ASSERT_TRUE(stack.ok());
  auto redis = redis::Client::Create({.address = stack->redis});
  ASSERT_TRUE(redis.ok());
  RedisRouteStore store(**redis);
  const std::string works = testing::UniqueName("works");
  const std::string parks = testing::UniqueName("parks");
  const std::string category = testing::UniqueName("cat");
  const std::string in_turn = events::CaseIdFor("store-test", testing::UniqueName("c"));
  const std::string at_once = events::CaseIdFor("store-test", testing::UniqueName("c"));
  const absl::Time due = absl::FromUnixMillis(1'800'000'000'123);

  std::vector<v1::RouteState> states(5);  // empty, submitted, routed, clocked, moved
  states[1].mutable_draft()->set_kind(t::REPORT);
  states[1].mutable_draft()->set_category(category);
  states[1].mutable_draft()->mutable_location()->set_has_coordinates(true);
  states[1].mutable_draft()->mutable_location()->set_latitude(51.05);
  states[1].mutable_draft()->mutable_location()->set_longitude(3.72);
  states[2] = states[1];
  states[2].set_department(works);
  states[2].set_assignee("an");
  states[3] = states[2];
  v1::RunningDue& ack = (*states[3].mutable_running())["acknowledge"];
  ack.set_generation(1);
  events::SetTime(ack.mutable_due_at(), due);
  states[4] = states[3];
  states[4].set_department(parks);
  states[4].set_assignee("cas");

  for (size_t i = 1; i < states.size(); ++i) {
    ASSERT_TRUE(store.Save(in_turn, states[i - 1], states[i]).ok());
  }
  ASSERT_TRUE(store.SaveAll({{at_once, states[0], states[4]}}).ok());

  for (const std::string& case_id : {in_turn, at_once}) {
    auto loaded = store.Load(case_id);
    ASSERT_TRUE(loaded.ok());
    EXPECT_EQ(loaded->SerializeAsString(), states[4].SerializeAsString());
  }
  auto cases = store.Workload(works, {"an"});
  ASSERT_TRUE(cases.ok()) << cases.status();
  EXPECT_TRUE(cases->due.empty()) << "both left the first department";
  EXPECT_TRUE(cases->assigned.at("an").empty());
  cases = store.Workload(parks, {"cas"});
  ASSERT_TRUE(cases.ok()) << cases.status();
  ASSERT_EQ(cases->due.size(), 2u);
  EXPECT_EQ(*cases->due.at(in_turn), due);
  EXPECT_EQ(*cases->due.at(at_once), due);
  std::vector<std::string> assigned = cases->assigned.at("cas");
  std::vector<std::string> both = {in_turn, at_once};
  std::sort(assigned.begin(), assigned.end());
  std::sort(both.begin(), both.end());
  EXPECT_EQ(assigned, both);
  auto near = store.Near(category, 51.05, 3.72, 10);
  ASSERT_TRUE(near.ok()) << near.status();
  EXPECT_EQ(near->size(), 2u) << "both in the duplicate index";
}

// The workload view's due set follows the case through the real Redis: its earliest running
// clock, a move to another department, unassigned cases, a closed case.
TEST(RouteStoreIntegration, TheDueSetFollowsTheClocksAndTheDepartment) {
  auto stack = testing::LoadStack();
  ASSERT_TRUE(stack.ok());
  auto redis = redis::Client::Create({.address = stack->redis});
  ASSERT_TRUE(redis.ok());
  RedisRouteStore store(**redis);
  const std::string works = testing::UniqueName("works");
  const std::string parks = testing::UniqueName("parks");
  const std::string first = events::CaseIdFor("store-test", testing::UniqueName("c"));
  const std::string second = events::CaseIdFor("store-test", testing::UniqueName("c"));
  const absl::Time due = absl::FromUnixMillis(1'800'000'000'123);

  v1::RouteState empty;
  v1::RouteState routed;
  routed.mutable_draft()->set_kind(t::REPORT);
  routed.set_department(works);
  routed.set_assignee("an");
  ASSERT_TRUE(store.Save(first, empty, routed).ok());
  v1::RouteState unassigned;
  unassigned.mutable_draft()->set_kind(t::REPORT);
  unassigned.set_department(works);
  ASSERT_TRUE(store.Save(second, empty, unassigned).ok());

  auto cases = store.Workload(works, {"an", "bo"});
  ASSERT_TRUE(cases.ok()) << cases.status();
  ASSERT_EQ(cases->due.size(), 2u);
  EXPECT_FALSE(cases->due.at(first).has_value()) << "no clock runs yet";
  EXPECT_EQ(cases->assigned.at("an"), std::vector<std::string>{first});
  EXPECT_TRUE(cases->assigned.at("bo").empty());

  // Two clocks: the earliest counts, to the millisecond; saved twice, counted once.
  v1::RouteState clocked = routed;
  v1::RunningDue& answer = (*clocked.mutable_running())["answer"];
  answer.set_generation(1);
  events::SetTime(answer.mutable_due_at(), due + absl::Hours(24));
  v1::RunningDue& ack = (*clocked.mutable_running())["acknowledge"];
  ack.set_generation(1);
  events::SetTime(ack.mutable_due_at(), due);
  ASSERT_TRUE(store.Save(first, routed, clocked).ok());
  ASSERT_TRUE(store.Save(first, routed, clocked).ok());
  cases = store.Workload(works, {"an"});
  ASSERT_TRUE(cases.ok());
  ASSERT_TRUE(cases->due.at(first).has_value());
  EXPECT_EQ(*cases->due.at(first), due);

  // Reassigned to another department: it leaves the first one's set.
  v1::RouteState moved = clocked;
  moved.set_department(parks);
  moved.set_assignee("cas");
  ASSERT_TRUE(store.Save(first, clocked, moved).ok());
  cases = store.Workload(works, {"an"});
  ASSERT_TRUE(cases.ok());
  EXPECT_EQ(cases->due.count(first), 0u);
  EXPECT_TRUE(cases->assigned.at("an").empty());
  cases = store.Workload(parks, {"cas"});
  ASSERT_TRUE(cases.ok());
  ASSERT_EQ(cases->due.count(first), 1u);
  EXPECT_EQ(*cases->due.at(first), due);
  EXPECT_EQ(cases->assigned.at("cas"), std::vector<std::string>{first});

  // Closed: out of every set.
  v1::RouteState closed = moved;
  closed.set_closed(true);
  ASSERT_TRUE(store.Save(first, moved, closed).ok());
  cases = store.Workload(parks, {"cas"});
  ASSERT_TRUE(cases.ok());
  EXPECT_TRUE(cases->due.empty());
  EXPECT_TRUE(cases->assigned.at("cas").empty());
  cases = store.Workload(works, {});
  ASSERT_TRUE(cases.ok());
  EXPECT_EQ(cases->due.size(), 1u) << "the unassigned case stays";

  // Triaged: in the triage queue's set (no department), out of it once routed on.
  v1::RouteState triaged = unassigned;
  triaged.clear_department();
  triaged.set_last_routed_event_id("triaged-1");
  ASSERT_TRUE(store.Save(second, unassigned, triaged).ok());
  auto queue = store.Triage();
  ASSERT_TRUE(queue.ok()) << queue.status();
  EXPECT_EQ(queue->count(second), 1u);
  EXPECT_EQ(store.Workload(works, {})->due.count(second), 0u);
  v1::RouteState routed_on = triaged;
  routed_on.set_department(parks);
  routed_on.set_last_routed_event_id("routed-2");
  ASSERT_TRUE(store.Save(second, triaged, routed_on).ok());
  EXPECT_EQ(store.Triage()->count(second), 0u);
  EXPECT_EQ(store.Workload(parks, {})->due.count(second), 1u);
}

// Redis GEO measures with the haversine formula on a sphere of this radius (geohash_helper.c).
constexpr double kRedisEarthRadiusM = 6372797.560856;

// Degrees of latitude for `metres` along a meridian: there the haversine distance is R * dphi.
double NorthDegrees(double metres) { return metres / kRedisEarthRadiusM * 180.0 / M_PI; }

// Distances at the edge of the radius, through the store and the routing logic as routing runs
// them. The first report's coordinates are a geohash cell's centre (where Redis puts any point of
// that cell), written with every digit: only then is its distance exact to well under 0.1 m, and
// coordinates cut to 6 digits (51.0543) would put it metres away.
TEST(RouteStoreIntegration, DuplicateDistancesAreExactAtTheEdgeOfTheRadius) {
  auto stack = testing::LoadStack();
  ASSERT_TRUE(stack.ok()) << stack.status();
  auto redis = redis::Client::Create({.address = stack->redis});
  ASSERT_TRUE(redis.ok());
  RedisRouteStore store(**redis);
  const std::string category = testing::UniqueName("cat");
  // The cell centre nearest to (51.054321, 3.721234), from a probe in a key of its own.
  const std::string probe = absl::StrCat("mp:test-probe:{", category, "}");
  ASSERT_TRUE((*redis)->Command({"GEOADD", probe, "3.721234", "51.054321", "p"}).ok());
  auto pos = (*redis)->Command({"GEOPOS", probe, "p"});
  ASSERT_TRUE(pos.ok());
  ASSERT_EQ(pos->elements.size(), 1u);
  ASSERT_EQ(pos->elements[0].elements.size(), 2u);
  double lon = 0, lat = 0;
  ASSERT_TRUE(absl::SimpleAtod(pos->elements[0].elements[0].str, &lon));
  ASSERT_TRUE(absl::SimpleAtod(pos->elements[0].elements[1].str, &lat));
  (void)(*redis)->Command({"DEL", probe});
  ASSERT_NEAR(lat, 51.054321, 1e-5);

  const std::string first = events::CaseIdFor("store-test", testing::UniqueName("first"));
  v1::RouteState open;
  open.mutable_draft()->set_kind(t::REPORT);
  open.mutable_draft()->set_category(category);
  open.mutable_draft()->mutable_location()->set_has_coordinates(true);
  open.mutable_draft()->mutable_location()->set_latitude(lat);
  open.mutable_draft()->mutable_location()->set_longitude(lon);
  ASSERT_TRUE(store.Save(first, v1::RouteState(), open).ok());

  // Two reports 20.0 m apart.
  auto at20 = store.Near(category, lat + NorthDegrees(20.0), lon, 50);
  ASSERT_TRUE(at20.ok()) << at20.status();
  ASSERT_EQ(at20->size(), 1u);
  EXPECT_EQ((*at20)[0].first, first);
  EXPECT_NEAR((*at20)[0].second, 20.0, 0.1);
  // 49.9 m away within 50 m: found; 50.1 m away: not.
  auto at499 = store.Near(category, lat - NorthDegrees(49.9), lon, 50);
  ASSERT_TRUE(at499.ok());
  ASSERT_EQ(at499->size(), 1u);
  EXPECT_NEAR((*at499)[0].second, 49.9, 0.1);
  auto at501 = store.Near(category, lat - NorthDegrees(50.1), lon, 50);
  ASSERT_TRUE(at501.ok());
  EXPECT_TRUE(at501->empty()) << (*at501)[0].second;

  // The same through the routing logic with a 50 m radius: linked at 49.9 m, not at 50.1 m.
  auto catalog = catalog::Catalog::Parse(
      absl::StrCat("categories: [{id: ", category, ", labels: {nl: a, fr: b, en: c}}]\n"), "c");
  ASSERT_TRUE(catalog.ok()) << catalog.status();
  auto rules = RuleSet::Parse(absl::StrCat(R"(
default_department: triage
departments: [{id: triage}, {id: works}]
duplicates: {kinds: [REPORT], radius_m: 50, window: 14d, action: link}
categories: [{id: )",
                                           category, ", department: works}]\n"),
                              "dup.yaml", *catalog);
  ASSERT_TRUE(rules.ok()) << rules.status();
  clock::FakeClock clock(absl::FromUnixSeconds(1'763'800'100));
  RoutingLogic logic(clock);
  FindNearby nearby = [&](const std::string& c, double la, double lo, double radius,
                          absl::Time) -> std::optional<Nearby> {
    auto near = store.Near(c, la, lo, radius);
    if (!near.ok() || near->empty()) return std::nullopt;
    return Nearby{(*near)[0].first, (*near)[0].second};
  };
  auto none = [](const std::string&) { return std::map<std::string, int64_t>(); };
  auto report = [&](double metres_south, const std::string& id) {
    events::Envelope e = events::NewEnvelope(events::CaseIdFor("store-test", id), "intake",
                                             absl::FromUnixSeconds(1'763'800'000));
    auto* draft = e.mutable_case_submitted()->mutable_draft();
    draft->set_kind(t::REPORT);
    draft->set_category(category);
    draft->mutable_location()->set_has_coordinates(true);
    draft->mutable_location()->set_latitude(lat - NorthDegrees(metres_south));
    draft->mutable_location()->set_longitude(lon);
    events::Finish(e, id);
    return logic.Handle(**rules, e, v1::RouteState(), none, nearby);
  };
  auto linked = report(49.9, testing::UniqueName("near"));
  ASSERT_TRUE(linked.has_value());
  ASSERT_EQ(linked->events.size(), 2u);
  ASSERT_EQ(linked->events[0].type(), "CaseLinked");
  EXPECT_EQ(linked->events[0].case_linked().master_case_id(), first);
  EXPECT_NEAR(linked->events[0].case_linked().distance_m(), 49.9, 0.1);
  EXPECT_NE(linked->events[0].case_linked().reason().find(", 49.9 m from open case"),
            std::string::npos)
      << linked->events[0].case_linked().reason();
  auto apart = report(50.1, testing::UniqueName("far"));
  ASSERT_TRUE(apart.has_value());
  ASSERT_EQ(apart->events.size(), 1u);
  EXPECT_EQ(apart->events[0].type(), "CaseRouted");

  v1::RouteState closed = open;
  closed.set_closed(true);
  ASSERT_TRUE(store.Save(first, open, closed).ok());
}

}  // namespace
}  // namespace meldpunt::routing
