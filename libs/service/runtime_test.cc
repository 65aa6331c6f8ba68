#include "libs/service/runtime.h"

#include <csignal>
#include <map>
#include <string>

#include <gtest/gtest.h>

#include "libs/service/wiring.h"

namespace meldpunt::service {
namespace {

absl::StatusOr<Args> Parse(std::vector<std::string> words) {
  std::vector<char*> argv;
  for (auto& w : words) argv.push_back(w.data());
  return ParseArgs(static_cast<int>(argv.size()), argv.data());
}

TEST(Runtime, ParsesArguments) {
  auto args = Parse({"prog", "--config", "a.yaml", "--check-config"});
  ASSERT_TRUE(args.ok());
  EXPECT_EQ(args->config_path, "a.yaml");
  EXPECT_TRUE(args->check_config);
  EXPECT_EQ(Parse({"prog", "--config=b.yaml"})->config_path, "b.yaml");
  EXPECT_TRUE(Parse({"prog", "--help-config"})->help_config);
  auto bad = Parse({"prog", "--bogus"});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("--bogus"), std::string::npos);
}

TEST(Runtime, RetryStopsOnSuccessOrPermanentError) {
  int calls = 0;
  absl::Status ok = RetryUntilAvailable("thing", absl::Seconds(5), [&] {
    return ++calls < 3 ? absl::UnavailableError("not yet") : absl::OkStatus();
  });
  EXPECT_TRUE(ok.ok());
  EXPECT_EQ(calls, 3);
  calls = 0;
  absl::Status bad = RetryUntilAvailable("thing", absl::Seconds(5), [&] {
    ++calls;
    return absl::InvalidArgumentError("bad address");
  });
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(calls, 1);
  absl::Status timeout = RetryUntilAvailable("thing", absl::Milliseconds(300),
                                             [] { return absl::UnavailableError("down"); });
  EXPECT_EQ(timeout.code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(timeout.message().find("thing not reachable"), std::string::npos);
}

TEST(Runtime, AFailureExitEndsTheWaitAndIsTheResult) {
  // As RunMain does before any thread exists: SIGTERM then waits for WaitForShutdownSignal.
  BlockShutdownSignals();
  EXPECT_TRUE(FailureExitReason().ok());
  RequestFailureExit(absl::InternalError("kafka: the producer reported a fatal error"));
  WaitForShutdownSignal();  // returns at once: the request raised SIGTERM
  EXPECT_EQ(FailureExitReason(), absl::InternalError("kafka: the producer reported a fatal error"));
  // The first reason stays, and no second signal is raised.
  RequestFailureExit(absl::InternalError("another"));
  EXPECT_EQ(FailureExitReason().message(), "kafka: the producer reported a fatal error");
  sigset_t pending;
  sigpending(&pending);
  EXPECT_FALSE(sigismember(&pending, SIGTERM));
}

TEST(Wiring, TheCaseEventConsumerFetchesFullerRequestsUnlessTheConfigSaysOtherwise) {
  config::ServiceConfig config;
  std::map<std::string, std::string> defaults = CaseEventConsumerProperties(config);
  EXPECT_EQ(defaults.at("fetch.min.bytes"), "32768");
  EXPECT_EQ(defaults.at("fetch.wait.max.ms"), "20");
  // The prefetch bounded by its bytes (64 MiB), not by librdkafka's 100,000 records.
  EXPECT_EQ(defaults.at("queued.min.messages"), "10000000");
  EXPECT_EQ(defaults.count("queued.max.messages.kbytes"), 0u);

  config.consumer_fetch_wait = absl::Milliseconds(5);  // kafka.fetch_wait (routing's default)
  EXPECT_EQ(CaseEventConsumerProperties(config).at("fetch.wait.max.ms"), "5");

  config.consumer_properties = {{"fetch.wait.max.ms", "500"},
                                {"fetch.max.bytes", "1048576"},
                                {"queued.min.messages", "1000"}};
  std::map<std::string, std::string> set = CaseEventConsumerProperties(config);
  EXPECT_EQ(set.at("fetch.wait.max.ms"), "500") << "kafka.consumer_properties wins";
  EXPECT_EQ(set.at("fetch.min.bytes"), "32768") << "what it does not name keeps its default";
  EXPECT_EQ(set.at("fetch.max.bytes"), "1048576");
  EXPECT_EQ(set.at("queued.min.messages"), "1000");
}

}  // namespace
}  // namespace meldpunt::service
