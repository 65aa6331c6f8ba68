// The routing service in-process against the real Kafka broker and Redis of the test stack:
// reloading rules (a broken file is refused with its line, the rules in force stay), and a case
// event in, CaseRouted and the dispatch message out.
#include <grpcpp/grpcpp.h>

#include <cstdio>
#include <fstream>
#include <map>

#include <gtest/gtest.h>

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

void Write(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
}

TEST(RoutingIntegration, ReloadRefusesABrokenFileAndKeepsTheRulesInForce) {
  auto stack = testing::LoadStack();
  ASSERT_TRUE(stack.ok()) << stack.status();
  const std::string rules_file = std::string(std::getenv("MELDPUNT_BINARY_DIR")) + "/" +
                                 testing::UniqueName("rules") + ".yaml";
  Write(rules_file, kGoodRules);
  RoutingConfig config;
  config.grpc_listen = "127.0.0.1:0";
  config.grpc_plaintext_loopback = true;
  config.admin_listen = "127.0.0.1:0";
  testing::UseStackKafka(*stack, config);
  config.redis_address = stack->redis;
  config.privacy_master_key_file = testing::DevMasterKeyFile();
  config.key_store_address = stack->key_store;
  config.consumer_group = testing::UniqueName("routing-test");
  config.rules_file = rules_file;
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
  // Written before routing starts, so its first batch holds them all.
  constexpr int kPairs = 12;
  std::map<std::string, int> pair_of;  // case id -> pair
  const std::string run = testing::UniqueName("dup");
  for (int pair = 0; pair < kPairs; ++pair) {
    for (int member = 0; member < 2; ++member) {
      const std::string case_id =
          events::CaseIdFor("routing-test", absl::StrCat(run, "-", pair, "-", member));
      pair_of[case_id] = pair;
      events::Envelope e = events::NewEnvelope(case_id, "intake", absl::Now());
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
  config.privacy_master_key_file = testing::DevMasterKeyFile();
  config.key_store_address = stack->key_store;
  config.redis_pool_size = 8;
  config.consumer_lanes = 6;
  config.consumer_group = testing::UniqueName("routing-dup");
  // The group reads the whole log, earlier tests' cases included; those routed to a department
  // with no dispatch topic here are skipped after this long instead of the default 10 s.
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
    }
    // Routing's answer: a category of no department is triaged.
    if (e->has_case_routed() || e->has_case_triaged()) ++routed;
  }
  app.Stop();
  std::remove(rules_file.c_str());
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
  config.privacy_master_key_file = testing::DevMasterKeyFile();
  config.key_store_address = stack->key_store;
  config.consumer_group = testing::UniqueName("routing-triage");
  // The group reads the whole log, earlier tests' cases included; see the test above.
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

}  // namespace
}  // namespace meldpunt::routing
