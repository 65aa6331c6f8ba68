// The real meldpunt-intake binary on the test stack's Kafka and key store, with a Redis of its own
// that the test kills and brings back: /readyz follows its dependencies (ready only when Kafka and
// Redis answer and the projection's partitions are assigned) while /healthz stays up; /metrics
// has the gRPC, producer-queue and consumer-lag series; a trace id sent as gRPC metadata is on
// the case's events and their Kafka header; and on SIGTERM the service drains: calls in flight
// finish, the process exits 0, and every submission that was answered OK is in the log.
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "libs/events/codec.h"
#include "libs/events/event_log.h"
#include "libs/events/ids.h"
#include "libs/events/topics.h"
#include "libs/kafka/consumer.h"
#include "libs/kafka/producer.h"
#include "libs/redis/redis.h"
#include "meldpunt/intake/v1/intake.grpc.pb.h"
#include "tests/testing/process.h"
#include "tests/testing/stack.h"

namespace meldpunt {
namespace {

namespace t = ::meldpunt::types::v1;
using testing::Child;
using testing::HttpGet;

class Operability : public ::testing::Test {
 protected:
  void SetUp() override {
    auto stack = testing::LoadStack();
    ASSERT_TRUE(stack.ok()) << stack.status();
    stack_ = *stack;
    dir_ = std::filesystem::path(::testing::TempDir()) / testing::UniqueName("operability");
    std::filesystem::create_directories(dir_);
    redis_port_ = testing::ClosedPort();
    StartRedis();
    grpc_port_ = testing::ClosedPort();
    admin_port_ = testing::ClosedPort();
    const std::string config = (dir_ / "intake.yaml").string();
    std::ofstream(config) << "grpc:\n  plaintext_loopback: true\n  listen: 127.0.0.1:" << grpc_port_
                          << "\nadmin:\n  listen: 127.0.0.1:" << admin_port_
                          << "\nkafka:\n  brokers: " << stack_.kafka << "\n  produce_timeout: 3s\n"
                          << testing::KafkaYaml(stack_)
                          << "redis:\n  address: 127.0.0.1:" << redis_port_
                          << "\nprivacy:\n  master_key_file: " << testing::DevMasterKeyFile()
                          << "\n  key_store:\n    address: " << stack_.key_store
                          << "\nprojection:\n  consumer_group: "
                          << testing::UniqueName("intake-operability")
                          << "\nstartup:\n  timeout: 30s\nshutdown:\n  grace: 5s\n";
    intake_ = std::make_unique<Child>(
        "intake", std::vector<std::string>{MELDPUNT_INTAKE_BIN, "--config", config},
        (dir_ / "intake.log").string());
    ASSERT_TRUE(intake_->Spawn());
    // A private Redis starts empty: the intake first rebuilds its projection from the log.
    ASSERT_TRUE(testing::Eventually([&] { return HttpGet(admin_port_, "/readyz") == 200; },
                                    absl::Seconds(150)))
        << intake_->Describe();
    stub_ = intake::v1::Intake::NewStub(grpc::CreateChannel(absl::StrCat("127.0.0.1:", grpc_port_),
                                                            grpc::InsecureChannelCredentials()));
  }

  void TearDown() override {
    if (HasFailure() && intake_) std::cerr << intake_->Describe();
    intake_.reset();
    redis_.reset();
  }

  void StartRedis() {
    redis_ = testing::StartPrivateRedis(redis_port_, (dir_ / "redis.log").string());
    ASSERT_NE(redis_, nullptr) << "redis-server did not answer PING";
  }

  grpc::Status Submit(const std::string& key, const std::string& trace,
                      intake::v1::SubmitCaseResponse* response) {
    intake::v1::SubmitCaseRequest r;
    r.set_submitting_system("operability-test");
    r.set_request_key(key);
    auto* d = r.mutable_draft();
    d->set_kind(t::REPORT);
    d->set_channel(t::APP);
    d->set_category("street-lighting");
    d->set_description("Lamp post 14 flickers");
    d->mutable_reporter()->set_anonymous(true);
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    if (!trace.empty()) context.AddMetadata("x-trace-id", trace);
    return stub_->SubmitCase(&context, r, response);
  }

  // The CaseSubmitted records of `ids` in the log (read-committed, from the start).
  std::map<std::string, kafka::Record> Submitted(const std::set<std::string>& ids) {
    auto consumer = kafka::Consumer::Create({.brokers = stack_.kafka,
                                             .group_id = testing::UniqueName("ops-reader"),
                                             .topics = {events::kCaseEventsTopic},
                                             .extra = stack_.kafka_properties});
    EXPECT_TRUE(consumer.ok());
    std::map<std::string, kafka::Record> found;
    const absl::Time until = absl::Now() + absl::Seconds(40);
    int idle = 0;
    while (absl::Now() < until && found.size() < ids.size()) {
      auto record = (*consumer)->Poll(absl::Milliseconds(200));
      if (!record.ok()) break;
      if (!record->has_value()) {
        if (++idle > 25) break;  // 5 s with nothing new: the end of the log
        continue;
      }
      idle = 0;
      if (!ids.count((*record)->key)) continue;
      auto e = events::Decode((*record)->value);
      if (e.ok() && e->has_case_submitted()) found.emplace((*record)->key, **record);
    }
    return found;
  }

  testing::Stack stack_;
  std::filesystem::path dir_;
  int redis_port_ = 0;
  int grpc_port_ = 0;
  int admin_port_ = 0;
  std::unique_ptr<Child> redis_;
  std::unique_ptr<Child> intake_;
  std::unique_ptr<intake::v1::Intake::Stub> stub_;
};

TEST_F(Operability, ReadinessFollowsRedisAndMetricsAndTracesAreThere) {
  intake::v1::SubmitCaseResponse submitted;
  grpc::Status status = Submit(testing::UniqueName("traced"), "trace-operability-7", &submitted);
  ASSERT_TRUE(status.ok()) << status.error_message();

  std::string metrics;
  ASSERT_EQ(HttpGet(admin_port_, "/metrics", &metrics), 200);
  EXPECT_NE(metrics.find("meldpunt_grpc_requests_total{code=\"OK\",method=\"/meldpunt.intake.v1."
                         "Intake/SubmitCase\"} 1"),
            std::string::npos)
      << metrics.substr(0, 3000);
  EXPECT_NE(metrics.find("meldpunt_grpc_request_seconds_count{method=\"/meldpunt.intake.v1.Intake/"
                         "SubmitCase\"} 1"),
            std::string::npos);
  EXPECT_NE(metrics.find("meldpunt_kafka_producer_queue "), std::string::npos);
  EXPECT_NE(metrics.find("meldpunt_kafka_consumer_lag{group=\"intake-operability"),
            std::string::npos);

  // The trace id from the call's metadata is the case's correlation id, and a Kafka header.
  auto records = Submitted({submitted.case_id()});
  ASSERT_EQ(records.size(), 1u);
  const kafka::Record& record = records.begin()->second;
  EXPECT_EQ(events::Decode(record.value)->correlation_id(), "trace-operability-7");
  bool header = false;
  for (const auto& [name, value] : record.headers)
    header = header || (name == "trace-id" && value == "trace-operability-7");
  EXPECT_TRUE(header);

  // Redis gone: not ready (the process itself is healthy); back: ready again.
  redis_->Kill();
  EXPECT_TRUE(testing::Eventually([&] { return HttpGet(admin_port_, "/readyz") == 503; },
                                  absl::Seconds(15)));
  EXPECT_EQ(HttpGet(admin_port_, "/healthz"), 200);
  // Back empty (no persistence): the intake notices that its projection is gone and rebuilds it
  // from the whole log of the test stack before it is ready again.
  StartRedis();
  EXPECT_TRUE(testing::Eventually([&] { return HttpGet(admin_port_, "/readyz") == 200; },
                                  absl::Seconds(150)));
}

// Redis hangs for a few seconds (SIGSTOP) while case events arrive: the projection retries them
// in place for as long as it lasts, sets none aside on the dead-letter topic, and folds every one
// once Redis answers again.
TEST_F(Operability, ARedisOutageIsRetriedInPlaceAndNothingIsLostOrSetAside) {
  auto producer = kafka::Producer::Create(
      {.brokers = stack_.kafka, .client_id = "operability", .extra = stack_.kafka_properties});
  ASSERT_TRUE(producer.ok()) << producer.status();
  redis_->Signal(SIGSTOP);
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    const std::string key = testing::UniqueName("outage");
    const std::string case_id = events::CaseIdFor("operability-test", key);
    events::Envelope e = events::NewEnvelope(case_id, "intake", absl::Now());
    auto* submitted = e.mutable_case_submitted();
    submitted->set_submitting_system("operability-test");
    submitted->set_request_key(key);
    submitted->set_reference(events::ReferenceFor(case_id, 2026));
    submitted->mutable_draft()->set_kind(t::REPORT);
    submitted->mutable_draft()->set_channel(t::APP);
    submitted->mutable_draft()->set_category("street-lighting");
    submitted->mutable_draft()->set_description("Lamp post 15 is dark");
    events::Finish(e, events::DeterministicId("submitted", {case_id}));
    auto sent = (*producer)->Send(events::ToRecord(events::kCaseEventsTopic, e),
                                  absl::Now() + absl::Seconds(10));
    ASSERT_TRUE(sent.ok()) << sent.status();
    ids.push_back(case_id);
  }
  absl::SleepFor(absl::Seconds(5));
  redis_->Signal(SIGCONT);
  for (const std::string& id : ids) {
    EXPECT_TRUE(testing::Eventually(
        [&] {
          grpc::ClientContext context;
          context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
          intake::v1::GetCaseRequest get;
          get.set_case_id(id);
          intake::v1::GetCaseResponse got;
          return stub_->GetCase(&context, get, &got).ok();
        },
        absl::Seconds(60)))
        << id << " was not folded after the outage";
  }
  std::string metrics;
  ASSERT_EQ(HttpGet(admin_port_, "/metrics", &metrics), 200);
  // The value of the projection loop's counter with `outcome`.
  auto consumed = [&](const std::string& outcome) {
    const std::string label = absl::StrCat("outcome=\"", outcome, "\"} ");
    const size_t at = metrics.find(label);
    if (at == std::string::npos) return -1.0;
    return std::stod(metrics.substr(at + label.size(), metrics.find('\n', at) - at - label.size()));
  };
  // Retried while Redis hung; nothing set aside.
  EXPECT_GT(consumed("retried"), 0) << "the outage was not retried in place";
  EXPECT_EQ(consumed("dead_lettered"), 0) << "an event was set aside during the outage";
}

TEST_F(Operability, OnSigtermCallsInFlightFinishAndEveryOkIsInTheLog) {
  std::mutex mu;
  std::set<std::string> ok;
  std::map<grpc::StatusCode, int> refused;
  std::atomic<bool> stop{false};
  std::atomic<int> calls{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < 4; ++c) {
    clients.emplace_back([&, c] {
      for (int i = 0; !stop; ++i) {
        intake::v1::SubmitCaseResponse response;
        grpc::Status status =
            Submit(absl::StrCat(testing::UniqueName("drain"), "-", c, "-", i), "", &response);
        ++calls;
        std::lock_guard<std::mutex> lock(mu);
        if (status.ok()) {
          ok.insert(response.case_id());
        } else {
          ++refused[status.error_code()];
          absl::SleepFor(absl::Milliseconds(20));
        }
      }
    });
  }
  ASSERT_TRUE(testing::Eventually([&] { return calls.load() >= 40; }, absl::Seconds(30)));
  intake_->Signal(SIGTERM);
  // It stops by itself, well within shutdown.grace (5 s) plus the consumer's close.
  const bool exited = testing::Eventually([&] { return !intake_->Running(); }, absl::Seconds(20));
  stop = true;
  for (auto& client : clients) client.join();
  ASSERT_TRUE(exited) << intake_->Describe();
  EXPECT_TRUE(WIFEXITED(intake_->exit_status()) && WEXITSTATUS(intake_->exit_status()) == 0)
      << intake_->Describe();
  // Calls after the drain began were refused as UNAVAILABLE (retry elsewhere), never half done.
  for (const auto& [code, n] : refused) {
    EXPECT_TRUE(code == grpc::StatusCode::UNAVAILABLE || code == grpc::StatusCode::CANCELLED)
        << "code " << code << " x" << n;
  }
  ASSERT_GE(ok.size(), 20u);
  // Every OK was durable: in the log.
  std::map<std::string, kafka::Record> found = Submitted(ok);
  for (const std::string& id : ok)
    EXPECT_TRUE(found.count(id)) << id << " answered OK, not in the log";
}

}  // namespace
}  // namespace meldpunt
