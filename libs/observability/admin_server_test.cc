#include "libs/observability/admin_server.h"

#include <httplib.h>

#include <atomic>

#include <gtest/gtest.h>

#include "prometheus/counter.h"

namespace meldpunt::observability {
namespace {

TEST(AdminServer, ServesMetricsHealthAndReadiness) {
  auto registry = std::make_shared<prometheus::Registry>();
  auto& family =
      prometheus::BuildCounter().Name("meldpunt_test_total").Help("test").Register(*registry);
  family.Add({{"kind", "x"}}).Increment(3);
  std::atomic<bool> ready{false};
  AdminServer admin(registry, [&] { return ready.load(); });
  ASSERT_TRUE(admin.Start("127.0.0.1:0").ok());
  ASSERT_GT(admin.port(), 0);

  httplib::Client client("127.0.0.1", admin.port());
  auto metrics = client.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
  EXPECT_NE(metrics->body.find("meldpunt_test_total{kind=\"x\"} 3"), std::string::npos)
      << metrics->body;

  auto health = client.Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);

  auto not_ready = client.Get("/readyz");
  ASSERT_TRUE(not_ready);
  EXPECT_EQ(not_ready->status, 503);
  ready = true;
  auto is_ready = client.Get("/readyz");
  ASSERT_TRUE(is_ready);
  EXPECT_EQ(is_ready->status, 200);
  admin.Stop();
}

TEST(AdminServer, RejectsBadListenAddress) {
  AdminServer admin(std::make_shared<prometheus::Registry>(), [] { return true; });
  absl::Status status = admin.Start("no-port");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("admin.listen"), std::string::npos);
}

}  // namespace
}  // namespace meldpunt::observability
