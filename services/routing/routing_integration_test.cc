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
    if (e->has_case_routed()) ++routed;
  }
  app.Stop();
  std::remove(rules_file.c_str());
  EXPECT_EQ(routed, 2 * kPairs);
  for (int pair = 0; pair < kPairs; ++pair) EXPECT_EQ(links[pair], 1) << "pair " << pair;
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
