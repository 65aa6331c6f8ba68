// The Redis wrapper in the production shape: a primary, a replica and three Sentinels of the test's
// own (real redis-server processes on free loopback ports). The client finds the primary through
// the Sentinels, follows a failover, and WaitForReplicas tells writes a failover cannot lose from
// writes it can.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "libs/redis/redis.h"
#include "tests/testing/process.h"

namespace meldpunt::redis {
namespace {

using testing::Child;

constexpr char kMaster[] = "sentinel-test";

constexpr char kSetLua[] = R"(
  redis.call('SET', KEYS[1], ARGV[1])
  return 1
)";

class SentinelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) / testing::UniqueName("redis-sentinel");
    std::filesystem::create_directories(dir_);
    primary_port_ = testing::ClosedPort();
    replica_port_ = testing::ClosedPort();
    primary_ = StartRedis("primary", primary_port_, {});
    ASSERT_NE(primary_, nullptr);
    replica_ = StartRedis("replica", replica_port_,
                          {"--replicaof", "127.0.0.1", absl::StrCat(primary_port_)});
    ASSERT_NE(replica_, nullptr);
    for (int i = 0; i < 3; ++i) {
      const int port = testing::ClosedPort();
      const std::string conf = (dir_ / absl::StrCat("sentinel", i, ".conf")).string();
      std::ofstream(conf) << "port " << port << "\nbind 127.0.0.1\nsentinel monitor " << kMaster
                          << " 127.0.0.1 " << primary_port_ << " 2\n"
                          << "sentinel down-after-milliseconds " << kMaster << " 1000\n"
                          << "sentinel failover-timeout " << kMaster << " 5000\n"
                          << "sentinel parallel-syncs " << kMaster << " 1\n";
      auto sentinel = std::make_unique<Child>(
          absl::StrCat("sentinel", i), std::vector<std::string>{"redis-server", conf, "--sentinel"},
          (dir_ / absl::StrCat("sentinel", i, ".log")).string());
      ASSERT_TRUE(sentinel->Spawn());
      sentinels_.push_back(std::move(sentinel));
      options_.sentinels.push_back(absl::StrCat("127.0.0.1:", port));
    }
    options_.master_name = kMaster;
    options_.address = "127.0.0.1:1";  // never used with sentinels
    options_.scripts = {{"set", kSetLua}};
    options_.pool_size = 2;
    options_.wait_replicas = 1;
    options_.wait_timeout = absl::Milliseconds(500);
    // Every sentinel knows the primary and its replica, and the replica is in sync.
    ASSERT_TRUE(testing::Eventually(
        [&] {
          for (const std::string& sentinel : options_.sentinels) {
            auto client = Client::Create({.address = sentinel, .pool_size = 1});
            if (!client.ok()) return false;
            auto replicas = (*client)->Command({"SENTINEL", "replicas", kMaster});
            if (!replicas.ok() || replicas->elements.empty()) return false;
          }
          auto replica = Client::Create(
              {.address = absl::StrCat("127.0.0.1:", replica_port_), .pool_size = 1});
          if (!replica.ok()) return false;
          auto info = (*replica)->Command({"INFO", "replication"});
          return info.ok() && info->str.find("master_link_status:up") != std::string::npos;
        },
        absl::Seconds(30)))
        << Describe();
  }

  void TearDown() override {
    if (HasFailure()) std::fprintf(stderr, "%s", Describe().c_str());
    sentinels_.clear();
    replica_.reset();
    primary_.reset();
    if (!HasFailure()) {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
    }
  }

  std::unique_ptr<Child> StartRedis(const std::string& name, int port,
                                    std::vector<std::string> extra) {
    std::vector<std::string> argv = {
        "redis-server", "--port", absl::StrCat(port), "--bind", "127.0.0.1",
        "--save",       "",       "--appendonly",     "no"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto redis = std::make_unique<Child>(name, argv, (dir_ / (name + ".log")).string());
    if (!redis->Spawn()) return nullptr;
    const bool up = testing::Eventually(
        [&] {
          auto client =
              Client::Create({.address = absl::StrCat("127.0.0.1:", port), .pool_size = 1});
          return client.ok() && (*client)->Command({"PING"}).ok();
        },
        absl::Seconds(20));
    return up ? std::move(redis) : nullptr;
  }

  // The address the sentinels name as the primary now.
  std::string NamedPrimary() {
    auto client = Client::Create({.address = options_.sentinels[0], .pool_size = 1});
    if (!client.ok()) return "";
    auto reply = (*client)->Command({"SENTINEL", "get-master-addr-by-name", kMaster});
    if (!reply.ok() || reply->elements.size() != 2) return "";
    return absl::StrCat(reply->elements[0].str, ":", reply->elements[1].str);
  }

  std::string Describe() {
    std::string report;
    for (Child* c : {primary_.get(), replica_.get()})
      if (c != nullptr) absl::StrAppend(&report, c->Describe());
    for (const auto& s : sentinels_) absl::StrAppend(&report, s->Describe());
    return report;
  }

  std::filesystem::path dir_;
  int primary_port_ = 0;
  int replica_port_ = 0;
  std::unique_ptr<Child> primary_;
  std::unique_ptr<Child> replica_;
  std::vector<std::unique_ptr<Child>> sentinels_;
  Options options_;
};

TEST_F(SentinelTest, FindsThePrimaryThroughTheSentinelsAndWaitsForTheReplica) {
  // The first sentinel is down: the client asks the next one.
  sentinels_[0]->Kill();
  auto client = Client::Create(options_);
  ASSERT_TRUE(client.ok()) << client.status();
  const int64_t mark = (*client)->DurabilityMark();
  auto set = (*client)->Command({"SET", "k", "v"});
  ASSERT_TRUE(set.ok()) << set.status();
  ASSERT_EQ(set->type, Reply::Type::kStatus) << set->str;
  EXPECT_TRUE((*client)->WaitForReplicas(mark).ok());
  auto replica =
      Client::Create({.address = absl::StrCat("127.0.0.1:", replica_port_), .pool_size = 1});
  ASSERT_TRUE(replica.ok());
  auto read = (*replica)->Command({"GET", "k"});
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->str, "v");
}

TEST_F(SentinelTest, WithoutItsReplicaAWriteIsNotDurable) {
  auto client = Client::Create(options_);
  ASSERT_TRUE(client.ok()) << client.status();
  replica_->Kill();
  const int64_t mark = (*client)->DurabilityMark();
  ASSERT_TRUE((*client)->Command({"SET", "k", "v"}).ok());
  absl::Status durable = (*client)->WaitForReplicas(mark);
  EXPECT_EQ(durable.code(), absl::StatusCode::kUnavailable) << durable;
  EXPECT_NE(durable.message().find("0 of 1 replicas"), std::string::npos) << durable;
  // The write stays unconfirmed until a WAIT confirms it: asking again without a replica fails
  // again, and nothing counts it as durable on the way.
  EXPECT_FALSE((*client)->WaitForReplicas(mark).ok());
}

TEST_F(SentinelTest, AConnectionLostBeforeItsWritesWereConfirmedMakesThemNotDurable) {
  options_.pool_size = 1;
  auto client = Client::Create(options_);
  ASSERT_TRUE(client.ok()) << client.status();
  const int64_t mark = (*client)->DurabilityMark();
  ASSERT_TRUE((*client)->Command({"SET", "k", "v"}).ok());
  // The server drops every client connection (as a crash of the primary would); the client
  // reconnects on its next command.
  auto admin =
      Client::Create({.address = absl::StrCat("127.0.0.1:", primary_port_), .pool_size = 1});
  ASSERT_TRUE(admin.ok());
  ASSERT_TRUE((*admin)->Command({"CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes"}).ok());
  ASSERT_TRUE((*client)->Command({"GET", "k"}).ok());
  absl::Status durable = (*client)->WaitForReplicas(mark);
  EXPECT_EQ(durable.code(), absl::StatusCode::kUnavailable) << durable;
  // Writes made again after a fresh mark are confirmed as usual.
  const int64_t again = (*client)->DurabilityMark();
  ASSERT_TRUE((*client)->Command({"SET", "k", "v"}).ok());
  EXPECT_TRUE((*client)->WaitForReplicas(again).ok());
}

TEST_F(SentinelTest, FollowsAFailoverOfAKilledPrimaryAndKeepsWhatTheReplicaConfirmed) {
  auto client = Client::Create(options_);
  ASSERT_TRUE(client.ok()) << client.status();
  const int64_t mark = (*client)->DurabilityMark();
  for (int i = 0; i < 100; ++i) {
    auto r = (*client)->Script("set", {absl::StrCat("confirmed:", i)}, {"1"});
    ASSERT_TRUE(r.ok()) << r.status();
  }
  ASSERT_TRUE((*client)->WaitForReplicas(mark).ok());
  const std::string old_primary = absl::StrCat("127.0.0.1:", primary_port_);
  primary_->Kill();
  // Calls fail with UNAVAILABLE (retry in place) until the sentinels promote the replica, then
  // go to it, with no new client.
  const absl::Time start = absl::Now();
  ASSERT_TRUE(testing::Eventually(
      [&] {
        auto r = (*client)->Script("set", {"after"}, {"1"});
        if (!r.ok()) {
          EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
          return false;
        }
        EXPECT_EQ(r->type, Reply::Type::kInteger) << r->str;
        return true;
      },
      absl::Seconds(30)))
      << Describe();
  std::fprintf(stderr, "failover followed in %s\n",
               absl::FormatDuration(absl::Now() - start).c_str());
  EXPECT_EQ(NamedPrimary(), absl::StrCat("127.0.0.1:", replica_port_));
  auto count = (*client)->Pipeline({{"EXISTS", "confirmed:0", "confirmed:50", "confirmed:99"}});
  ASSERT_TRUE(count.ok()) << count.status();
  EXPECT_EQ((*count)[0].integer, 3);
  EXPECT_NE(old_primary, NamedPrimary());
}

TEST_F(SentinelTest, AWriteThatMeetsADemotedPrimaryGoesToTheNewOne) {
  auto client = Client::Create(options_);
  ASSERT_TRUE(client.ok()) << client.status();
  ASSERT_TRUE((*client)->Command({"SET", "before", "1"}).ok());
  // A failover with both alive: the old primary becomes a replica and answers writes with
  // -READONLY on the connections the client keeps open.
  auto sentinel = Client::Create({.address = options_.sentinels[1], .pool_size = 1});
  ASSERT_TRUE(sentinel.ok());
  // The sentinels refuse with NOGOODSLAVE until they have seen the restarted replica answer (its
  // INFO is refreshed every 10 s at most): asked again until they take it.
  std::string refused;
  ASSERT_TRUE(testing::Eventually(
      [&] {
        auto failover = (*sentinel)->Command({"SENTINEL", "FAILOVER", kMaster});
        if (failover.ok() && failover->type == Reply::Type::kStatus) return true;
        refused = failover.ok() ? failover->str : failover.status().ToString();
        return false;
      },
      absl::Seconds(30)))
      << refused << Describe();
  const std::string new_primary = absl::StrCat("127.0.0.1:", replica_port_);
  ASSERT_TRUE(testing::Eventually(
      [&] {
        auto old_one =
            Client::Create({.address = absl::StrCat("127.0.0.1:", primary_port_), .pool_size = 1});
        if (!old_one.ok()) return false;
        auto role = (*old_one)->Command({"ROLE"});
        return NamedPrimary() == new_primary && role.ok() && !role->elements.empty() &&
               role->elements[0].str == "slave";
      },
      absl::Seconds(30)))
      << Describe();
  // Both pooled connections still point at the old primary: each write is sent again to the new
  // one, without an error reaching the caller.
  for (int i = 0; i < 4; ++i) {
    auto set = (*client)->Command({"SET", absl::StrCat("after:", i), "1"});
    ASSERT_TRUE(set.ok()) << set.status();
    EXPECT_EQ(set->type, Reply::Type::kStatus) << set->str;
    auto script = (*client)->Script("set", {absl::StrCat("script:", i)}, {"1"});
    ASSERT_TRUE(script.ok()) << script.status();
    EXPECT_EQ(script->type, Reply::Type::kInteger) << script->str;
  }
  auto direct = Client::Create({.address = new_primary, .pool_size = 1});
  ASSERT_TRUE(direct.ok());
  auto read = (*direct)->Command({"EXISTS", "after:3", "script:3"});
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->integer, 2);
}

TEST_F(SentinelTest, NoSentinelThatKnowsThePrimaryIsUnavailableNamingThem) {
  options_.master_name = "no-such-primary";
  auto client = Client::Create(options_);
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(client.status().message().find("no-such-primary"), std::string::npos)
      << client.status();
  EXPECT_NE(client.status().message().find(options_.sentinels[2]), std::string::npos)
      << client.status();
}

}  // namespace
}  // namespace meldpunt::redis
