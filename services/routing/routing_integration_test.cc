// The routing service in-process against the real Kafka broker and Redis of the test stack:
// reloading rules (a broken file is refused with its line, the rules in force stay), and a case
// event in, CaseRouted and the dispatch message out.
#include <grpcpp/grpcpp.h>

#include <cstdio>
#include <fstream>

#include <gtest/gtest.h>

#include "libs/events/event_log.h"
#include "libs/events/ids.h"
#include "libs/events/topics.h"
#include "libs/kafka/consumer.h"
#include "meldpunt/routing/v1/routing.grpc.pb.h"
#include "services/routing/app.h"
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
  config.admin_listen = "127.0.0.1:0";
  config.kafka_brokers = stack->kafka;
  config.redis_address = stack->redis;
  config.consumer_group = testing::UniqueName("routing-test");
  config.rules_file = rules_file;
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
  auto producer = kafka::Producer::Create({.brokers = stack->kafka});
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
                                         .topics = {events::DispatchTopic("works")}});
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

}  // namespace
}  // namespace meldpunt::routing
