#include "libs/kafka/security.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace meldpunt::kafka {
namespace {

using ::testing::HasSubstr;

std::string WriteTemp(const std::string& text) {
  char path[] = "/tmp/meldpunt-security-test-XXXXXX";
  const int fd = mkstemp(path);
  EXPECT_GE(fd, 0);
  close(fd);
  std::ofstream(path) << text;
  return path;
}

TEST(SecurityProperties, PlaintextSetsOnlyTheProtocol) {
  auto p = SecurityProperties({});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(*p, (std::map<std::string, std::string>{{"security.protocol", "PLAINTEXT"}}));
}

TEST(SecurityProperties, SaslSslReadsThePasswordFile) {
  const std::string file = WriteTemp("s3cret\n");
  const std::string ca = WriteTemp("-----BEGIN CERTIFICATE-----\n");
  auto p = SecurityProperties({.protocol = "SASL_SSL",
                               .ca_file = ca,
                               .sasl_username = "routing",
                               .sasl_password_file = file});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->at("security.protocol"), "SASL_SSL");
  EXPECT_EQ(p->at("ssl.ca.location"), ca);
  EXPECT_EQ(p->at("ssl.endpoint.identification.algorithm"), "https");
  EXPECT_EQ(p->at("sasl.mechanisms"), "SCRAM-SHA-512");
  EXPECT_EQ(p->at("sasl.username"), "routing");
  EXPECT_EQ(p->at("sasl.password"), "s3cret");
  std::remove(file.c_str());
  std::remove(ca.c_str());
}

TEST(SecurityProperties, ErrorsNameTheKey) {
  auto no_user = SecurityProperties({.protocol = "SASL_SSL"});
  EXPECT_THAT(no_user.status().message(), HasSubstr("'kafka.sasl.username'"));
  auto no_file = SecurityProperties(
      {.protocol = "SASL_SSL", .sasl_username = "x", .sasl_password_file = "/nonexistent"});
  EXPECT_THAT(no_file.status().message(), HasSubstr("'kafka.sasl.password_file'"));
  auto no_ca = SecurityProperties({.protocol = "SSL", .ca_file = "/nonexistent/ca.pem"});
  EXPECT_THAT(no_ca.status().message(), HasSubstr("'kafka.tls.ca_file': cannot read"));
  const std::string empty = WriteTemp("\n");
  auto blank = SecurityProperties(
      {.protocol = "SASL_SSL", .sasl_username = "x", .sasl_password_file = empty});
  EXPECT_THAT(blank.status().message(), HasSubstr("is empty"));
  std::remove(empty.c_str());
  auto half = SecurityProperties({.protocol = "SSL", .cert_file = "/c.pem"});
  EXPECT_THAT(half.status().message(), HasSubstr("'kafka.tls.key_file'"));
  auto bad = SecurityProperties({.protocol = "SASL_PLAINTEXT"});
  EXPECT_THAT(bad.status().message(), HasSubstr("'kafka.security.protocol'"));
}

TEST(IsSecurityProperty, CoversEveryWayToChangeTheConnection) {
  for (const char* p :
       {"security.protocol", "ssl.ca.location", "ssl.endpoint.identification.algorithm",
        "sasl.username", "sasl.password", "sasl.mechanisms", "enable.ssl.certificate.verification",
        "plugin.library.paths"}) {
    EXPECT_TRUE(IsSecurityProperty(p)) << p;
  }
  for (const char* p : {"fetch.wait.max.ms", "batch.size", "client.id"}) {
    EXPECT_FALSE(IsSecurityProperty(p)) << p;
  }
}

}  // namespace
}  // namespace meldpunt::kafka
