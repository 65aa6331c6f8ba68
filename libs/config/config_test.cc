#include "libs/config/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "libs/config/service_config.h"

namespace meldpunt::config {
namespace {

using ::testing::HasSubstr;

struct Sample {
  std::string brokers = "127.0.0.1:9092";
  int64_t partitions = 6;
  double warn = 0.75;
  bool enabled = true;
  absl::Duration timeout = absl::Seconds(5);
  std::vector<std::string> languages = {"nl"};
  std::map<std::string, std::string> categories;
  YAML::Node policies;
};

Schema<Sample> MakeSchema() {
  Schema<Sample> schema("sample");
  schema.String("kafka.brokers", &Sample::brokers, "bootstrap servers", HostPort())
      .Int("kafka.partitions", &Sample::partitions, "partitions", Range(1, 64))
      .Double("deadline.warn", &Sample::warn, "warning fraction")
      .Bool("feature.enabled", &Sample::enabled, "on or off")
      .Duration("kafka.timeout", &Sample::timeout, "produce timeout")
      .StringList("languages", &Sample::languages, "languages")
      .StringMap("routing.categories", &Sample::categories, "category -> department")
      .Tree("deadline.policies", &Sample::policies, "policies")
      .Check([](const Sample& s) {
        return s.warn > 0 && s.warn < 1
                   ? absl::OkStatus()
                   : absl::InvalidArgumentError("deadline.warn must be in (0, 1)");
      });
  return schema;
}

TEST(Config, DefaultsWhenEmpty) {
  absl::StatusOr<Sample> config = MakeSchema().LoadString("", {});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->brokers, "127.0.0.1:9092");
  EXPECT_EQ(config->partitions, 6);
  EXPECT_EQ(config->timeout, absl::Seconds(5));
}

TEST(Config, ReadsNestedKeysOfEveryType) {
  absl::StatusOr<Sample> config = MakeSchema().LoadString(R"(
kafka:
  brokers: "10.0.0.1:9093"
  partitions: 12
  timeout: 250ms
deadline:
  warn: 0.5
  policies:
    - name: complaint
feature: {enabled: false}
languages: [nl, fr, en]
routing:
  categories:
    street-lighting: public-works
    noise: environment
)",
                                                          {});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->brokers, "10.0.0.1:9093");
  EXPECT_EQ(config->partitions, 12);
  EXPECT_EQ(config->timeout, absl::Milliseconds(250));
  EXPECT_DOUBLE_EQ(config->warn, 0.5);
  EXPECT_FALSE(config->enabled);
  EXPECT_THAT(config->languages, ::testing::ElementsAre("nl", "fr", "en"));
  EXPECT_EQ(config->categories.at("noise"), "environment");
  ASSERT_TRUE(config->policies.IsSequence());
  EXPECT_EQ(config->policies[0]["name"].as<std::string>(), "complaint");
}

TEST(Config, RejectsUnknownKeysByName) {
  absl::StatusOr<Sample> config =
      MakeSchema().LoadString("kafka:\n  brokerz: x\n", {}, "intake.yaml");
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(config.status().message(), HasSubstr("intake.yaml"));
  EXPECT_THAT(config.status().message(), HasSubstr("unknown config key 'kafka.brokerz'"));
}

TEST(Config, RejectsBadValuesNamingKeyAndReason) {
  auto bad_int = MakeSchema().LoadString("kafka: {partitions: many}", {});
  EXPECT_THAT(bad_int.status().message(), HasSubstr("'kafka.partitions': expected an integer"));
  auto out_of_range = MakeSchema().LoadString("kafka: {partitions: 100}", {});
  EXPECT_THAT(out_of_range.status().message(), HasSubstr("between 1 and 64"));
  auto bad_host = MakeSchema().LoadString("kafka: {brokers: nohost}", {});
  EXPECT_THAT(bad_host.status().message(), HasSubstr("'kafka.brokers'"));
  auto bad_duration = MakeSchema().LoadString("kafka: {timeout: soon}", {});
  EXPECT_THAT(bad_duration.status().message(), HasSubstr("not a duration"));
  auto cross = MakeSchema().LoadString("deadline: {warn: 1.5}", {});
  EXPECT_THAT(cross.status().message(), HasSubstr("deadline.warn must be in (0, 1)"));
  auto not_map = MakeSchema().LoadString("- a\n- b\n", {});
  EXPECT_THAT(not_map.status().message(), HasSubstr("mapping"));
  auto broken = MakeSchema().LoadString("kafka: [unclosed", {});
  EXPECT_THAT(broken.status().message(), HasSubstr("not valid YAML"));
}

TEST(Config, EnvironmentOverridesFile) {
  absl::StatusOr<Sample> config = MakeSchema().LoadString(
      "kafka: {brokers: '10.0.0.1:1'}", {{"MELDPUNT_KAFKA_BROKERS", "127.0.0.1:19092"},
                                         {"MELDPUNT_KAFKA_PARTITIONS", "3"},
                                         {"MELDPUNT_LANGUAGES", "nl, en"},
                                         {"MELDPUNT_UNRELATED", "ignored"}});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->brokers, "127.0.0.1:19092");
  EXPECT_EQ(config->partitions, 3);
  EXPECT_THAT(config->languages, ::testing::ElementsAre("nl", "en"));

  auto bad = MakeSchema().LoadString("", {{"MELDPUNT_KAFKA_PARTITIONS", "x"}});
  EXPECT_THAT(bad.status().message(), HasSubstr("MELDPUNT_KAFKA_PARTITIONS"));
}

TEST(Config, MissingFileIsNotFound) {
  auto config = MakeSchema().LoadFile("/nonexistent/meldpunt.yaml", {});
  EXPECT_EQ(config.status().code(), absl::StatusCode::kNotFound);
}

TEST(Config, DescribeListsEveryKeyWithEnvName) {
  std::string help = MakeSchema().Describe();
  EXPECT_THAT(help, HasSubstr("kafka.brokers"));
  EXPECT_THAT(help, HasSubstr("MELDPUNT_ROUTING_CATEGORIES"));
  EXPECT_THAT(help, HasSubstr("default: 127.0.0.1:9092"));
}

TEST(Duration, ParsesUnits) {
  EXPECT_EQ(*ParseDuration("250ms"), absl::Milliseconds(250));
  EXPECT_EQ(*ParseDuration("10s"), absl::Seconds(10));
  EXPECT_EQ(*ParseDuration("5m"), absl::Minutes(5));
  EXPECT_EQ(*ParseDuration("2h"), absl::Hours(2));
  EXPECT_EQ(*ParseDuration("45d"), absl::Hours(24 * 45));
  EXPECT_EQ(*ParseDuration("1.5"), absl::Milliseconds(1500));
  EXPECT_FALSE(ParseDuration("").ok());
  EXPECT_FALSE(ParseDuration("-3s").ok());
  EXPECT_FALSE(ParseDuration("3 weeks").ok());
}

}  // namespace
}  // namespace meldpunt::config

namespace meldpunt::config {
namespace {

TEST(ServiceKeys, LanesAndLingerAreBoundedAndNamed) {
  Schema<ServiceConfig> schema("svc");
  AddServiceKeys(schema);
  const std::string dev = "grpc: {listen: '127.0.0.1:1', plaintext_loopback: true}\n";
  auto ok = schema.LoadString(
      dev +
          "kafka: {consumer_lanes: 3, consumer_lane_min_records: 16, linger: 5ms, "
          "fetch_wait: 7ms}",
      {});
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->consumer_fetch_wait, absl::Milliseconds(7));
  EXPECT_EQ(ok->consumer_lanes, 3);
  EXPECT_EQ(ok->consumer_lane_min_records, 16);
  EXPECT_EQ(ok->producer_linger, absl::Milliseconds(5));
  auto defaults = schema.LoadString(dev, {});
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->consumer_lanes, 6);
  EXPECT_EQ(defaults->consumer_lane_min_records, 64);
  EXPECT_EQ(defaults->producer_linger, absl::Milliseconds(10));      // the intake sets 2 ms
  EXPECT_EQ(defaults->consumer_fetch_wait, absl::Milliseconds(20));  // routing sets 5 ms
  for (const char* wait : {"0s", "2s"}) {
    auto bad_wait = schema.LoadString(dev + "kafka: {fetch_wait: " + wait + "}", {});
    EXPECT_THAT(bad_wait.status().message(), HasSubstr("'kafka.fetch_wait'")) << wait;
    EXPECT_THAT(bad_wait.status().message(), HasSubstr("between 1ms and 1s")) << wait;
  }
  auto no_lanes = schema.LoadString(dev + "kafka: {consumer_lanes: 0}", {});
  EXPECT_THAT(no_lanes.status().message(), HasSubstr("'kafka.consumer_lanes'"));
  auto no_records = schema.LoadString(dev + "kafka: {consumer_lane_min_records: 0}", {});
  EXPECT_THAT(no_records.status().message(), HasSubstr("'kafka.consumer_lane_min_records'"));
  auto long_linger = schema.LoadString(dev + "kafka: {linger: 10s}", {});
  EXPECT_THAT(long_linger.status().message(), HasSubstr("'kafka.linger'"));
  EXPECT_THAT(long_linger.status().message(), HasSubstr("between 0s and 1s"));
}

TEST(ServiceKeys, KafkaPropertiesPassThroughButNotTheOnesMeldpuntOwns) {
  Schema<ServiceConfig> schema("svc");
  AddServiceKeys(schema);
  const std::string dev = "grpc: {listen: '127.0.0.1:1', plaintext_loopback: true}\n";
  auto ok = schema.LoadString(dev +
                                  "kafka:\n  consumer_properties: {fetch.wait.max.ms: 10, "
                                  "fetch.min.bytes: '65536'}\n  producer_properties: "
                                  "{batch.size: 1000000}\n",
                              {});
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->consumer_properties.at("fetch.wait.max.ms"), "10");
  EXPECT_EQ(ok->consumer_properties.at("fetch.min.bytes"), "65536");
  EXPECT_EQ(ok->producer_properties.at("batch.size"), "1000000");
  // From the environment, as a YAML mapping.
  auto env =
      schema.LoadString(dev, {{"MELDPUNT_KAFKA_CONSUMER_PROPERTIES", "{fetch.wait.max.ms: 5}"}});
  ASSERT_TRUE(env.ok()) << env.status();
  EXPECT_EQ(env->consumer_properties.at("fetch.wait.max.ms"), "5");
  auto commit =
      schema.LoadString(dev + "kafka: {consumer_properties: {enable.auto.commit: true}}", {});
  EXPECT_THAT(commit.status().message(),
              HasSubstr("'kafka.consumer_properties.enable.auto.commit': Meldpunt sets this"));
  auto acks = schema.LoadString(dev + "kafka: {producer_properties: {acks: 1}}", {});
  EXPECT_THAT(acks.status().message(), HasSubstr("'kafka.producer_properties.acks'"));
  auto linger = schema.LoadString(dev + "kafka: {producer_properties: {linger.ms: 5}}", {});
  EXPECT_THAT(linger.status().message(), HasSubstr("use kafka.linger"));
  auto empty = schema.LoadString(dev + "kafka: {producer_properties: {batch.size: ''}}", {});
  EXPECT_THAT(empty.status().message(), HasSubstr("the value is empty"));
}

TEST(ServiceKeys, TheGrpcPortIsSecuredOrPlaintextOnLoopbackOnly) {
  Schema<ServiceConfig> schema("svc");
  AddServiceKeys(schema);
  // Nothing said: refused, naming the key to set.
  auto none = schema.LoadString("grpc: {listen: '0.0.0.0:50051'}", {});
  EXPECT_THAT(none.status().message(), HasSubstr("grpc.tls.cert_file: required"));
  // Plaintext on a routable address: refused.
  auto open = schema.LoadString("grpc: {listen: '0.0.0.0:50051', plaintext_loopback: true}", {});
  EXPECT_THAT(open.status().message(), HasSubstr("loopback IP address only"));
  // TLS without a way to authenticate callers: refused.
  auto anonymous = schema.LoadString(
      "grpc: {listen: '0.0.0.0:1', tls: {cert_file: c.pem, key_file: k.pem}}", {});
  EXPECT_THAT(anonymous.status().message(), HasSubstr("auth.jwt.key_set_file"));
  // TLS with tokens, partly from the environment.
  auto secured = schema.LoadString(
      "grpc: {listen: '0.0.0.0:1', tls: {cert_file: c.pem, key_file: k.pem}}\n"
      "auth: {jwt: {key_set_file: jwks.json, audience: meldpunt, max_lifetime: 1h}, "
      "clock_skew: 5s}",
      {{"MELDPUNT_AUTH_JWT_ISSUER", "https://idp.gent.be"}});
  ASSERT_TRUE(secured.ok()) << secured.status();
  EXPECT_EQ(secured->security().jwt_key_set_file, "jwks.json");
  EXPECT_EQ(secured->security().jwt_issuer, "https://idp.gent.be");
  EXPECT_EQ(secured->security().jwt_max_lifetime, absl::Hours(1));
  EXPECT_EQ(secured->security().clock_skew, absl::Seconds(5));
  // Tokens without an issuer or an audience: refused (a token for another service would pass).
  auto no_audience = schema.LoadString(
      "grpc: {listen: '0.0.0.0:1', tls: {cert_file: c.pem, key_file: k.pem}}\n"
      "auth: {jwt: {key_set_file: jwks.json, issuer: idp}}",
      {});
  EXPECT_THAT(no_audience.status().message(), HasSubstr("auth.jwt.audience: required"));
  // The keys of a single static key are gone: named as unknown.
  auto old_key = schema.LoadString(
      "grpc: {listen: '0.0.0.0:1', tls: {cert_file: c.pem, key_file: k.pem}}\n"
      "auth: {jwt: {key_file: jwt.pem, algorithm: ES256}}",
      {});
  EXPECT_THAT(old_key.status().message(), HasSubstr("auth.jwt.key_file"));
}

}  // namespace
}  // namespace meldpunt::config
