// The rules in force and their reload, with files in the test's temporary folder and a fake
// topic maker: a broken file keeps the rules in force (counted and refused), new departments get
// their dispatch topics before the new rules take over, and a topic that cannot be made keeps
// the old rules too. No Kafka.
#include "services/routing/rule_book.h"

#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "libs/events/topics.h"
#include "libs/service/testing/metric_values.h"
#include "prometheus/registry.h"
#include "services/routing/config.h"

namespace meldpunt::routing {
namespace {

constexpr char kCatalog[] = R"(
categories:
  - {id: roads, labels: {nl: Wegen, fr: Routes, en: Roads}}
  - {id: noise, labels: {nl: Lawaai, fr: Bruit, en: Noise}}
)";

constexpr char kRules[] = R"(
default_department: triage
departments: [{id: triage}, {id: works}]
categories: [{id: roads, department: works}]
)";

void Write(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
}

class RuleBookTest : public ::testing::Test {
 protected:
  RuleBookTest()
      : dir_(::testing::TempDir()),
        metrics_(registry_),
        book_(
            {.rules_file = dir_ + "rule_book_test_rules.yaml",
             .catalog_file = dir_ + "rule_book_test_catalog.yaml",
             .dispatch_partitions = 3,
             .replication_factor = 2},
            [this](const std::vector<kafka::TopicSpec>& topics) {
              made_.push_back(topics);
              in_force_while_making_ = book_.Current();
              return topics_error_;
            },
            metrics_) {
    Write(dir_ + "rule_book_test_catalog.yaml", kCatalog);
    Write(dir_ + "rule_book_test_rules.yaml", kRules);
  }

  double Reloads(const std::string& outcome) {
    return service::CounterValue(registry_, "meldpunt_routing_rule_reloads_total",
                                 {{"outcome", outcome}});
  }

  std::string dir_;
  prometheus::Registry registry_;
  RoutingMetrics metrics_;
  RuleBook book_;
  std::vector<std::vector<kafka::TopicSpec>> made_;
  std::shared_ptr<const RuleSet> in_force_while_making_;
  absl::Status topics_error_;
};

TEST_F(RuleBookTest, LoadPutsTheRulesInForceWithTheirDispatchTopics) {
  EXPECT_EQ(book_.Current(), nullptr);
  ASSERT_TRUE(book_.Load().ok());
  ASSERT_NE(book_.Current(), nullptr);
  std::vector<kafka::TopicSpec> topics = book_.DispatchTopics(*book_.Current());
  ASSERT_EQ(topics.size(), 2u);
  for (const kafka::TopicSpec& topic : topics) {
    EXPECT_EQ(topic.partitions, 3);
    EXPECT_EQ(topic.replication_factor, 2);
  }
  bool works = false;
  for (const kafka::TopicSpec& t : topics) works |= t.name == events::DispatchTopic("works");
  EXPECT_TRUE(works);
  EXPECT_TRUE(made_.empty()) << "the start makes its topics itself, waiting for Kafka";
  EXPECT_EQ(Reloads("applied") + Reloads("refused"), 0) << "a start is not a reload";
}

TEST_F(RuleBookTest, ABrokenFileIsRefusedAndTheRulesInForceStay) {
  ASSERT_TRUE(book_.Load().ok());
  std::shared_ptr<const RuleSet> before = book_.Current();
  Write(dir_ + "rule_book_test_rules.yaml",
        std::string(kRules) +
            "rules:\n  - id: r\n    match: {kind: [NOPE]}\n    result: {department: works}\n");
  absl::Status refused = book_.Reload();
  EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument) << refused;
  EXPECT_NE(refused.message().find("unknown value 'NOPE'"), std::string::npos) << refused;
  EXPECT_EQ(book_.Current(), before);
  EXPECT_TRUE(made_.empty());
  EXPECT_EQ(Reloads("refused"), 1);
  EXPECT_EQ(Reloads("applied"), 0);
}

TEST_F(RuleBookTest, NewDepartmentsGetTheirTopicsBeforeTheNewRulesTakeOver) {
  ASSERT_TRUE(book_.Load().ok());
  std::shared_ptr<const RuleSet> before = book_.Current();
  Write(dir_ + "rule_book_test_rules.yaml", R"(
default_department: triage
departments: [{id: triage}, {id: works}, {id: mobility}]
categories: [{id: roads, department: mobility}]
)");
  ASSERT_TRUE(book_.Reload().ok());
  ASSERT_EQ(made_.size(), 1u);
  bool mobility = false;
  for (const kafka::TopicSpec& t : made_[0])
    mobility |= t.name == events::DispatchTopic("mobility");
  EXPECT_TRUE(mobility);
  EXPECT_EQ(in_force_while_making_, before) << "the old rules decide until the topics exist";
  EXPECT_NE(book_.Current(), before);
  EXPECT_NE(book_.Current()->FindDepartment("mobility"), nullptr);
  EXPECT_EQ(Reloads("applied"), 1);
}

TEST_F(RuleBookTest, TopicsThatCannotBeMadeKeepTheRulesInForce) {
  ASSERT_TRUE(book_.Load().ok());
  std::shared_ptr<const RuleSet> before = book_.Current();
  topics_error_ = absl::UnavailableError("kafka: no broker");
  EXPECT_EQ(book_.Reload(), absl::UnavailableError("kafka: no broker"));
  EXPECT_EQ(book_.Current(), before);
  EXPECT_EQ(Reloads("applied") + Reloads("refused"), 0);
}

// Routing never opens a reporter (nothing personal goes on a dispatch feed), so it takes neither
// the master key nor the key store: a configuration that hands it either is refused, naming the
// key, instead of leaving the key with a service that has no use for it.
TEST(RoutingConfig, TakesNeitherTheMasterKeyNorTheKeyStore) {
  for (const char* privacy : {"privacy: {master_key_file: /etc/meldpunt/master-key/master.key}\n",
                              "privacy: {key_store: {address: 'meldpunt-key-store:6379'}}\n"}) {
    const absl::StatusOr<RoutingConfig> loaded = RoutingSchema().LoadString(privacy, {});
    ASSERT_FALSE(loaded.ok()) << privacy;
    EXPECT_THAT(loaded.status().message(), ::testing::HasSubstr("unknown config key 'privacy"))
        << loaded.status();
  }
}

}  // namespace
}  // namespace meldpunt::routing
