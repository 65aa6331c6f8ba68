// The topics the services create match the Strimzi topics of the Kubernetes base: the same
// retention, minimum in-sync replicas and leader election, whichever of the two creates a topic.
#include "libs/events/topics.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "yaml-cpp/yaml.h"

namespace meldpunt::events {
namespace {

TEST(Topics, TheCaseLogAndTheDeadLetterQueuesKeepEverything) {
  for (const char* topic :
       {kCaseEventsTopic, kCaseEventsDeadLetterTopic, kNotificationDeadLetterTopic}) {
    const kafka::TopicSpec spec = TopicSpecFor(topic, 6, 3);
    EXPECT_EQ(spec.config.at("retention.ms"), "-1") << topic;
    EXPECT_EQ(spec.config.at("retention.bytes"), "-1") << topic;
  }
  EXPECT_EQ(TopicSpecFor(kAuditTopic, 6, 3).config.at("retention.ms"), "63072000000");
  EXPECT_EQ(TopicSpecFor(DispatchTopic("mobility"), 3, 3).config.at("retention.ms"), "7776000000");
}

TEST(Topics, TwoInSyncReplicasFromAReplicationFactorOfThreeAndNeverAnUncleanLeader) {
  EXPECT_EQ(TopicSpecFor(kCaseEventsTopic, 6, 1).config.at("min.insync.replicas"), "1");
  EXPECT_EQ(TopicSpecFor(kCaseEventsTopic, 6, 2).config.at("min.insync.replicas"), "1");
  EXPECT_EQ(TopicSpecFor(kCaseEventsTopic, 6, 3).config.at("min.insync.replicas"), "2");
  EXPECT_EQ(TopicSpecFor(kCaseEventsTopic, 6, 5).config.at("min.insync.replicas"), "2");
  for (int rf = 1; rf <= 3; ++rf) {
    EXPECT_EQ(TopicSpecFor(kCaseEventsTopic, 6, rf).config.at("unclean.leader.election.enable"),
              "false");
  }
}

TEST(Topics, TheKubernetesTopicsSayWhatTheServicesWouldCreate) {
  const char* source = std::getenv("MELDPUNT_SOURCE_DIR");
  ASSERT_NE(source, nullptr) << "MELDPUNT_SOURCE_DIR must name the repository";
  const std::vector<YAML::Node> docs =
      YAML::LoadAllFromFile(std::string(source) + "/deploy/k8s/kafka/topics.yaml");
  int checked = 0;
  for (const YAML::Node& doc : docs) {
    if (!doc["spec"] || !doc["spec"]["topicName"]) continue;
    const std::string topic = doc["spec"]["topicName"].as<std::string>();
    const int replicas = doc["spec"]["replicas"].as<int>();
    const kafka::TopicSpec spec =
        TopicSpecFor(topic, doc["spec"]["partitions"].as<int>(), replicas);
    const YAML::Node config = doc["spec"]["config"];
    for (const auto& [key, value] : spec.config) {
      ASSERT_TRUE(config[key]) << topic << " has no " << key;
      EXPECT_EQ(config[key].as<std::string>(), value) << topic << " " << key;
    }
    ++checked;
  }
  EXPECT_GE(checked, 5);
}

}  // namespace
}  // namespace meldpunt::events
