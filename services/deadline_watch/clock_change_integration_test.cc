// The team's changes of a running clock against a real meldpunt-deadline-watch, real Kafka and its
// own Redis: ExtendClock, SuspendClock and ResumeClock through gRPC, each an event on the case log
// with the caller as actor, applied by the consumer before the call answers; a repeat with the
// same command_id changes nothing; bad input changes nothing; and the timers follow: the old
// generation's breach never fires, the last generation's does, at the moved due time.
#include <grpcpp/grpcpp.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "libs/events/codec.h"
#include "libs/events/event_log.h"
#include "libs/events/ids.h"
#include "libs/events/topics.h"
#include "libs/kafka/consumer.h"
#include "libs/kafka/producer.h"
#include "meldpunt/deadline/v1/deadline.grpc.pb.h"
#include "tests/testing/process.h"
#include "tests/testing/stack.h"

namespace meldpunt::deadline {
namespace {

constexpr char kClock[] = "changed";
// Long enough that the changes are made well before the first due time: its breach must never
// come. The extension moves the due time 4 s further, the suspension a little more.
constexpr int kTermSeconds = 12;

using testing::Child;
using testing::HttpGet;

// The field a BadRequest in the status names, or "".
std::string BadField(const grpc::Status& status) {
  google::rpc::Status rich;
  if (status.error_details().empty() || !rich.ParseFromString(status.error_details())) return "";
  for (const auto& detail : rich.details()) {
    google::rpc::BadRequest bad;
    if (detail.UnpackTo(&bad) && bad.field_violations_size() > 0)
      return bad.field_violations(0).field();
  }
  return "";
}

class ClockChangeIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto stack = testing::LoadStack();
    ASSERT_TRUE(stack.ok()) << stack.status();
    stack_ = *stack;
    dir_ = std::filesystem::path(::testing::TempDir()) / testing::UniqueName("clock-change");
    std::filesystem::create_directories(dir_);
  }

  void TearDown() override {
    if (HasFailure()) {
      std::string report = absl::StrCat("files kept in ", dir_.string(), "\n");
      for (Child* c : {replica_.get(), redis_.get()})
        if (c != nullptr) absl::StrAppend(&report, c->Describe());
      std::fprintf(stderr, "%s", report.c_str());
    }
    replica_.reset();
    redis_.reset();
    if (!HasFailure()) {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
    }
  }

  // A deadline-watch of this test only (its own Redis, group and clock category).
  void StartReplica(const std::string& category) {
    const int redis_port = testing::ClosedPort();
    redis_ = testing::StartPrivateRedis(redis_port, (dir_ / "redis.log").string());
    ASSERT_NE(redis_, nullptr) << "redis-server did not answer PING";
    admin_port_ = testing::ClosedPort();
    grpc_port_ = testing::ClosedPort();
    const std::string config = (dir_ / "deadline-watch.yaml").string();
    std::ofstream(config) << "grpc:\n  plaintext_loopback: true\n  listen: 127.0.0.1:" << grpc_port_
                          << "\n"
                          << "admin:\n  listen: 127.0.0.1:" << admin_port_ << "\n"
                          << "kafka:\n  brokers: " << stack_.kafka << "\n  produce_timeout: 2s\n"
                          << testing::KafkaYaml(stack_)
                          << "redis:\n  address: 127.0.0.1:" << redis_port << "\n"
                          << "startup:\n  timeout: 30s\n"
                          << "shutdown:\n  grace: 1s\n"
                          << "log:\n  level: info\n"
                          << "deadline:\n"
                          << "  consumer_group: " << testing::UniqueName("clock-change") << "\n"
                          << "  poll_interval: 100ms\n"
                          << "  lease: 5s\n"
                          << "  clocks:\n"
                          << "    - {name: " << kClock << ", kinds: [SUGGESTION], categories: ["
                          << category << "], duration: " << kTermSeconds
                          << "s, pauses: true, stop_on: [closed]}\n";
    replica_ = std::make_unique<Child>(
        "deadline-watch", std::vector<std::string>{MELDPUNT_DEADLINE_WATCH_BIN, "--config", config},
        (dir_ / "deadline-watch.log").string());
    ASSERT_TRUE(replica_->Spawn());
    ASSERT_TRUE(testing::Eventually(
        [&] { return !replica_->Running() || HttpGet(admin_port_, "/readyz") == 200; },
        absl::Seconds(120)));
    ASSERT_TRUE(replica_->Running());
    stub_ = v1::DeadlineWatch::NewStub(grpc::CreateChannel(absl::StrCat("127.0.0.1:", grpc_port_),
                                                           grpc::InsecureChannelCredentials()));
  }

  std::unique_ptr<grpc::ClientContext> Context() {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    return context;
  }

  std::optional<v1::Clock> ClockOf(const std::string& case_id) {
    v1::GetCaseClocksRequest request;
    request.set_case_id(case_id);
    v1::GetCaseClocksResponse response;
    if (!stub_->GetCaseClocks(Context().get(), request, &response).ok()) return std::nullopt;
    for (const v1::Clock& c : response.clocks())
      if (c.name() == kClock) return c;
    return std::nullopt;
  }

  testing::Stack stack_;
  std::filesystem::path dir_;
  int admin_port_ = 0;
  int grpc_port_ = 0;
  std::unique_ptr<Child> redis_;
  std::unique_ptr<Child> replica_;
  std::unique_ptr<v1::DeadlineWatch::Stub> stub_;
};

TEST_F(ClockChangeIntegrationTest, ExtendSuspendResumeOnTheLogAndTheTimersFollow) {
  const std::string category = testing::UniqueName("clock-change-category");
  ASSERT_NO_FATAL_FAILURE(StartReplica(category));

  auto producer = kafka::Producer::Create({.brokers = stack_.kafka,
                                           .client_id = "clock-change-test",
                                           .extra = stack_.kafka_properties});
  ASSERT_TRUE(producer.ok()) << producer.status();
  const std::string case_id =
      events::CaseIdFor("clock-change-test", testing::UniqueName("clock-change-case"));
  {
    events::Envelope e = events::NewEnvelope(case_id, "clock-change-test", absl::Now());
    auto* submitted = e.mutable_case_submitted();
    submitted->set_submitting_system("clock-change-test");
    submitted->set_request_key(case_id);
    submitted->mutable_draft()->set_kind(types::v1::SUGGESTION);
    submitted->mutable_draft()->set_category(category);
    submitted->mutable_draft()->set_description("clock change test");
    events::Finish(e, events::DeterministicId("submitted", {case_id}));
    auto delivered = (*producer)->Send(events::ToRecord(events::kCaseEventsTopic, e),
                                       absl::Now() + absl::Seconds(10));
    ASSERT_TRUE(delivered.ok()) << delivered.status();
  }
  std::optional<v1::Clock> started;
  ASSERT_TRUE(testing::Eventually(
      [&] {
        started = ClockOf(case_id);
        return started.has_value();
      },
      absl::Seconds(60)))
      << "the clock did not start";
  ASSERT_EQ(started->generation(), 1);
  const absl::Time first_due = events::GetTime(started->due_at());

  // Bad input changes nothing.
  {
    v1::ExtendClockRequest bad;
    bad.set_case_id(case_id);
    bad.set_clock(kClock);
    bad.set_term("4s");
    bad.set_command_id("bad-1");
    v1::ChangeClockResponse response;
    grpc::Status status = stub_->ExtendClock(Context().get(), bad, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(BadField(status), "reason");
    bad.set_reason("no such clock");
    bad.set_clock("nope");
    EXPECT_EQ(stub_->ExtendClock(Context().get(), bad, &response).error_code(),
              grpc::StatusCode::NOT_FOUND);
    v1::ResumeClockRequest resume;
    resume.set_case_id(case_id);
    resume.set_clock(kClock);
    resume.set_reason("not suspended");
    EXPECT_EQ(stub_->ResumeClock(Context().get(), resume, &response).error_code(),
              grpc::StatusCode::FAILED_PRECONDITION);
    std::optional<v1::Clock> unchanged = ClockOf(case_id);
    ASSERT_TRUE(unchanged.has_value());
    EXPECT_EQ(unchanged->SerializeAsString(), started->SerializeAsString());
  }

  // Extend by a term, twice with the same command_id: one extension.
  v1::ExtendClockRequest extend;
  extend.set_case_id(case_id);
  extend.set_clock(kClock);
  extend.set_term("4s");
  extend.set_reason("the expert's report is late");
  extend.set_notify_reporter(true);
  extend.set_command_id("extend-1");
  v1::ChangeClockResponse extended;
  grpc::Status status = stub_->ExtendClock(Context().get(), extend, &extended);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(extended.clock().generation(), 2);
  EXPECT_EQ(extended.clock().extensions(), 1);
  EXPECT_EQ(events::GetTime(extended.clock().due_at()), first_due + absl::Seconds(4));
  v1::ChangeClockResponse repeated;
  status = stub_->ExtendClock(Context().get(), extend, &repeated);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(repeated.event_id(), extended.event_id());
  EXPECT_EQ(repeated.clock().extensions(), 1);
  EXPECT_EQ(repeated.clock().due_at().seconds(), extended.clock().due_at().seconds());

  // Suspend, then resume: due later by the time suspended.
  v1::SuspendClockRequest suspend;
  suspend.set_case_id(case_id);
  suspend.set_clock(kClock);
  suspend.set_reason("court proceedings");
  suspend.set_command_id("suspend-1");
  v1::ChangeClockResponse suspended;
  status = stub_->SuspendClock(Context().get(), suspend, &suspended);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(suspended.clock().status(), v1::PAUSED);
  EXPECT_TRUE(suspended.clock().suspended());
  absl::SleepFor(absl::Milliseconds(500));  // a span to move the due time by
  v1::ResumeClockRequest resume;
  resume.set_case_id(case_id);
  resume.set_clock(kClock);
  resume.set_reason("judgment given");
  resume.set_command_id("resume-1");
  v1::ChangeClockResponse resumed;
  status = stub_->ResumeClock(Context().get(), resume, &resumed);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(resumed.clock().status(), v1::RUNNING);
  EXPECT_EQ(resumed.clock().generation(), 3);
  const absl::Time final_due = events::GetTime(resumed.clock().due_at());
  EXPECT_GT(final_due, first_due + absl::Seconds(4));
  EXPECT_EQ(resumed.clock().changes_size(), 3);

  // The case log: the three changes with the caller as actor, and the last generation's breach
  // at the final due time; no breach of an earlier generation.
  auto reader = kafka::Consumer::Create({.brokers = stack_.kafka,
                                         .group_id = testing::UniqueName("clock-change-reader"),
                                         .topics = {events::kCaseEventsTopic},
                                         .client_id = "clock-change-reader",
                                         .extra = stack_.kafka_properties});
  ASSERT_TRUE(reader.ok()) << reader.status();
  std::map<std::string, int> copies;  // by event id
  std::vector<events::Envelope> changes, breaches;
  const absl::Time limit = absl::Now() + absl::Seconds(120);
  auto final_breach = [&] {
    for (const auto& b : breaches)
      if (b.deadline_breached().generation() == 3) return true;
    return false;
  };
  while (absl::Now() < limit && !final_breach()) {
    auto record = (*reader)->Poll(absl::Milliseconds(200));
    ASSERT_TRUE(record.ok()) << record.status();
    if (!record->has_value() || (*record)->key != case_id) continue;
    auto e = events::Decode((*record)->value);
    ASSERT_TRUE(e.ok()) << e.status();
    if (e->has_clock_extended() || (e->has_clock_paused() && e->clock_paused().suspended()) ||
        (e->has_clock_resumed() && e->clock_resumed().suspended())) {
      if (copies[e->event_id()]++ == 0) changes.push_back(*e);
    }
    if (e->has_deadline_breached()) breaches.push_back(*e);
  }
  (*reader)->Close();
  ASSERT_TRUE(final_breach()) << "the last generation did not breach";
  ASSERT_EQ(changes.size(), 3u);
  EXPECT_EQ(changes[0].event_id(), extended.event_id());
  EXPECT_EQ(changes[0].clock_extended().reason(), "the expert's report is late");
  EXPECT_TRUE(changes[0].clock_extended().notify_reporter());
  EXPECT_EQ(changes[0].clock_extended().term(), "4s");
  EXPECT_TRUE(changes[1].clock_paused().suspended());
  EXPECT_EQ(changes[1].clock_paused().reason(), "court proceedings");
  EXPECT_EQ(changes[2].clock_resumed().reason(), "judgment given");
  EXPECT_EQ(events::GetTime(changes[2].clock_resumed().due_at()), final_due);
  for (const auto& c : changes) {
    EXPECT_FALSE(c.actor().id().empty());
    EXPECT_NE(c.actor().id(), "service:deadline-watch") << "the caller is the actor";
    EXPECT_EQ(c.actor().id(), changes[0].actor().id());
  }
  for (const auto& b : breaches) {
    EXPECT_EQ(b.deadline_breached().generation(), 3) << "an earlier generation breached";
    // The timers keep milliseconds.
    EXPECT_EQ(absl::ToUnixMillis(events::GetTime(b.deadline_breached().due_at())),
              absl::ToUnixMillis(final_due));
  }
  std::optional<v1::Clock> after = ClockOf(case_id);
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(after->extensions(), 1);
  EXPECT_EQ(after->changes_size(), 3);
}

}  // namespace
}  // namespace meldpunt::deadline
