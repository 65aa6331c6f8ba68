// The dead-letter queue of the case event log on the real stack (the four binaries of the
// e2e_services fixture, a real Kafka broker and Redis):
// - a record no service can decode is set aside by each of the four services on
//   meldpunt.case-events.dlq.v1, and the cases after it are still routed;
// - ops list it on each service, cannot replay it (it can only be dropped), and drop it with a
//   reason, through the RPCs and through meldctl; every action is on the topic with its caller;
// - a replay runs the service's handler on the record again: an entry whose handler failed stays
//   open (REPLAY_FAILED recorded) and closes once the handler succeeds.
#include <grpcpp/grpcpp.h>

#include <array>
#include <cstdio>
#include <memory>

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "libs/auth/auth.h"
#include "libs/config/service_config.h"
#include "libs/events/codec.h"
#include "libs/events/dead_letters.h"
#include "libs/events/topics.h"
#include "libs/grpc/status.h"
#include "libs/kafka/producer.h"
#include "libs/service/dead_letters.h"
#include "libs/status/retry.h"
#include "meldpunt/intake/v1/intake.grpc.pb.h"
#include "meldpunt/ops/v1/dead_letters.grpc.pb.h"
#include "tests/testing/e2e.h"
#include "tests/testing/stack.h"

namespace meldpunt {
namespace {

class DeadLettersE2e : public testing::E2eSuite {
 protected:
  static std::unique_ptr<ops::v1::DeadLetters::Stub> DeadLetters(const std::string& service) {
    return ops::v1::DeadLetters::NewStub(
        grpc::CreateChannel(stack_->services.at(service).grpc, grpc::InsecureChannelCredentials()));
  }

  static std::unique_ptr<kafka::Producer> Producer() {
    auto producer = kafka::Producer::Create(
        {.brokers = stack_->kafka, .client_id = "dlq-e2e", .extra = stack_->kafka_properties});
    EXPECT_TRUE(producer.ok()) << producer.status();
    return producer.ok() ? std::move(*producer) : nullptr;
  }

  // The entry `id` as `service` lists it (with the closed ones), or nullopt.
  static std::optional<ops::v1::DeadLetterEntry> Entry(const std::string& service,
                                                       const std::string& id) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(40)));
    ops::v1::ListDeadLettersRequest request;
    request.set_include_closed(true);
    ops::v1::ListDeadLettersResponse response;
    grpc::Status status = DeadLetters(service)->ListDeadLetters(&context, request, &response);
    EXPECT_TRUE(status.ok()) << service << ": " << status.error_message();
    for (const ops::v1::DeadLetterEntry& entry : response.entries()) {
      if (entry.dead_letter().dead_letter_id() == id) return entry;
    }
    return std::nullopt;
  }

  // meldctl's output and exit status.
  static std::pair<int, std::string> Meldctl(const std::vector<std::string>& args) {
    std::string command =
        absl::StrCat(MELDCTL_BIN, " --intake ", stack_->services.at("intake").grpc, " --routing ",
                     stack_->services.at("routing").grpc, " --deadline ",
                     stack_->services.at("deadline_watch").grpc, " --notification ",
                     stack_->services.at("notification").grpc, " --timeout 60");
    for (const std::string& arg : args) absl::StrAppend(&command, " '", arg, "'");
    absl::StrAppend(&command, " 2>&1");
    std::string out;
    FILE* pipe = popen(command.c_str(), "r");
    if (pipe == nullptr) return {-1, ""};
    std::array<char, 4096> buffer;
    while (size_t n = fread(buffer.data(), 1, buffer.size(), pipe)) out.append(buffer.data(), n);
    const int status = pclose(pipe);
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
  }
};

TEST_F(DeadLettersE2e, AnUndecodableRecordIsSetAsideByEveryServiceListedAndDroppedWithAReason) {
  auto producer = Producer();
  ASSERT_NE(producer, nullptr);
  const std::string key = testing::UniqueName("MP-POISON");
  auto sent = producer->Send({events::kCaseEventsTopic, key, "\x08\x96\x01 not an envelope", {}},
                             absl::Now() + absl::Seconds(20));
  ASSERT_TRUE(sent.ok()) << sent.status();
  const std::string where =
      absl::StrCat("/", events::kCaseEventsTopic, "/", sent->partition, "/", sent->offset);
  const std::map<std::string, std::string> groups = {{"intake", "meldpunt-intake-projection"},
                                                     {"routing", "meldpunt-routing"},
                                                     {"deadline_watch", "meldpunt-deadline-watch"},
                                                     {"notification", "meldpunt-notification"}};

  // Each service sets it aside, and goes on: a case submitted after it is routed.
  for (const auto& [service, group] : groups) {
    std::optional<ops::v1::DeadLetterEntry> entry;
    ASSERT_TRUE(testing::Eventually(
        [&] { return (entry = Entry(service, group + where)).has_value(); }, absl::Seconds(90)))
        << service << " did not set the record aside";
    EXPECT_TRUE(entry->open());
    EXPECT_EQ(entry->dead_letter().reason(), events::kCannotBeDecoded);
    EXPECT_EQ(entry->dead_letter().case_id(), key);
    EXPECT_EQ(entry->dead_letter().error_code(), "INVALID_ARGUMENT");
    EXPECT_EQ(entry->dead_letter().consumer_group(), group);
    EXPECT_TRUE(entry->dead_letter().record_value().empty()) << "the list leaves the bytes out";
  }
  {
    intake::v1::SubmitCaseRequest request;
    request.set_submitting_system("e2e-web-form");
    request.set_request_key(testing::UniqueName("after-poison"));
    request.mutable_draft()->set_kind(types::v1::REPORT);
    request.mutable_draft()->set_channel(types::v1::WEB);
    request.mutable_draft()->set_category("street-lighting");
    request.mutable_draft()->set_description("A street light is out after a poison record");
    request.mutable_draft()->mutable_location()->set_postcode("9000");
    request.mutable_draft()->mutable_reporter()->set_name("Jan Peeters");
    request.mutable_draft()->mutable_reporter()->set_email("jan.peeters@example.org");
    request.mutable_draft()->mutable_reporter()->set_language(types::v1::NL);
    auto intake = intake::v1::Intake::NewStub(grpc::CreateChannel(
        stack_->services.at("intake").grpc, grpc::InsecureChannelCredentials()));
    intake::v1::SubmitCaseResponse submitted;
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
    grpc::Status status = intake->SubmitCase(&context, request, &submitted);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_TRUE(testing::Eventually(
        [&] {
          grpc::ClientContext c;
          intake::v1::GetCaseRequest get;
          get.set_case_id(submitted.case_id());
          intake::v1::GetCaseResponse got;
          return intake->GetCase(&c, get, &got).ok() && !got.case_().department().empty();
        },
        absl::Seconds(60)))
        << "a case after the poison record was not routed";
  }

  // It can only be dropped, and only with a reason.
  const std::string routing_id = "meldpunt-routing" + where;
  {
    grpc::ClientContext context;
    ops::v1::ReplayDeadLetterRequest request;
    request.set_dead_letter_id(routing_id);
    ops::v1::ReplayDeadLetterResponse response;
    grpc::Status status = DeadLetters("routing")->ReplayDeadLetter(&context, request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
    EXPECT_NE(status.error_message().find("can only be dropped"), std::string::npos)
        << status.error_message();
  }
  {
    grpc::ClientContext context;
    ops::v1::DropDeadLetterRequest request;
    request.set_dead_letter_id(routing_id);
    ops::v1::DropDeadLetterResponse response;
    grpc::Status status = DeadLetters("routing")->DropDeadLetter(&context, request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(status.error_message().find("reason"), std::string::npos) << status.error_message();
    std::optional<ops::v1::DeadLetterEntry> entry = Entry("routing", routing_id);
    ASSERT_TRUE(entry.has_value());
    EXPECT_TRUE(entry->open()) << "a refused drop changes nothing";
    EXPECT_EQ(entry->actions_size(), 0);
  }
  {
    grpc::ClientContext context;
    ops::v1::DropDeadLetterRequest request;
    request.set_dead_letter_id(routing_id);
    request.set_reason("test bytes, never an event");
    ops::v1::DropDeadLetterResponse response;
    grpc::Status status = DeadLetters("routing")->DropDeadLetter(&context, request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(response.action().kind(), events::v1::DeadLetterAction::DROPPED);
    std::optional<ops::v1::DeadLetterEntry> entry = Entry("routing", routing_id);
    ASSERT_TRUE(entry.has_value());
    EXPECT_FALSE(entry->open());
    ASSERT_EQ(entry->actions_size(), 1);
    EXPECT_EQ(entry->actions(0).reason(), "test bytes, never an event");
    EXPECT_EQ(entry->actions(0).actor(), response.action().actor());
    EXPECT_FALSE(entry->actions(0).role().empty());
  }

  // meldctl: the list of every service shows it, the service is read from the id.
  {
    auto [code, out] = Meldctl({"dlq", "list"});
    EXPECT_EQ(code, 0) << out;
    EXPECT_NE(out.find("meldpunt-intake-projection" + where), std::string::npos) << out;
    EXPECT_NE(out.find("meldpunt-notification" + where), std::string::npos) << out;
    EXPECT_EQ(out.find(routing_id + " "), std::string::npos) << "closed entries only with --all";
  }
  {
    auto [code, out] = Meldctl({"dlq", "drop", "meldpunt-intake-projection" + where});
    EXPECT_NE(code, 0) << out;
    EXPECT_NE(out.find("reason"), std::string::npos) << out;
  }
  for (const std::string& group :
       {"meldpunt-intake-projection", "meldpunt-deadline-watch", "meldpunt-notification"}) {
    auto [code, out] =
        Meldctl({"dlq", "drop", group + where, "--reason", "test bytes, never an event"});
    EXPECT_EQ(code, 0) << out;
    EXPECT_NE(out.find("dropped"), std::string::npos) << out;
  }
  {
    auto [code, out] = Meldctl({"dlq", "list", "--service", "intake", "--all"});
    EXPECT_EQ(code, 0) << out;
    EXPECT_NE(out.find("meldpunt-intake-projection" + where + " service=intake"), std::string::npos)
        << out;
    EXPECT_NE(out.find("state=dropped"), std::string::npos) << out;
  }
}

TEST_F(DeadLettersE2e, AReplayRunsTheServicesHandlerAgainAndClosesTheEntryOnlyWhenItSucceeds) {
  auto producer = Producer();
  ASSERT_NE(producer, nullptr);
  config::ServiceConfig config;
  testing::UseStackKafka(*stack_, config);
  const std::string group = testing::UniqueName("dlq-replay");
  std::atomic<bool> fixed{false};
  std::atomic<int> calls{0};
  events::Envelope seen;
  service::DeadLetterService dead_letters(
      config, *auth::Guard::Open(), *producer, "test", group,
      [&](const events::Envelope& e, const kafka::Record& r) -> absl::Status {
        ++calls;
        seen = e;
        EXPECT_EQ(r.offset, 41);
        if (!fixed.load()) return status::GiveUp(absl::InternalError("template 'ack' broken"));
        return absl::OkStatus();
      });
  // A record set aside the way the consume loop does it.
  events::Envelope envelope = events::NewEnvelope("MP-REPLAY", "test", absl::Now());
  envelope.mutable_case_closed();
  events::Finish(envelope, testing::UniqueName("ev"));
  kafka::Record record{.topic = events::kCaseEventsTopic,
                       .partition = 2,
                       .offset = 41,
                       .key = "MP-REPLAY",
                       .value = events::Encode(envelope),
                       .timestamp = absl::Now()};
  events::KafkaDeadLetters sink(*producer, "test", group);
  ASSERT_TRUE(sink.Put(record, &envelope,
                       status::GiveUp(absl::InternalError("template 'ack' broken")), 1,
                       events::kCannotBeRetried)
                  .ok());
  const std::string id = absl::StrCat(group, "/", events::kCaseEventsTopic, "/2/41");
  const auth::Principal ops{.subject = "ops-ann", .role = auth::Role::kOps};

  absl::StatusOr<events::v1::DeadLetterAction> failed = dead_letters.Replay(ops, id);
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kFailedPrecondition) << failed.status();
  EXPECT_NE(failed.status().message().find("template 'ack' broken"), std::string::npos);
  EXPECT_EQ(calls.load(), 1) << "a give-up error is not retried by the replay";

  fixed = true;
  absl::StatusOr<events::v1::DeadLetterAction> replayed = dead_letters.Replay(ops, id);
  ASSERT_TRUE(replayed.ok()) << replayed.status();
  EXPECT_EQ(replayed->kind(), events::v1::DeadLetterAction::REPLAYED);
  EXPECT_EQ(seen.event_id(), envelope.event_id());
  EXPECT_EQ(dead_letters.Replay(ops, id).status().code(), absl::StatusCode::kFailedPrecondition)
      << "a closed entry is not replayed twice";
  EXPECT_EQ(dead_letters.Replay(ops, id + "9").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(calls.load(), 2);

  absl::StatusOr<ops::v1::ListDeadLettersResponse> listed = dead_letters.List(true);
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->entries_size(), 1);
  EXPECT_EQ(listed->open(), 0);
  const ops::v1::DeadLetterEntry& entry = listed->entries(0);
  EXPECT_FALSE(entry.open());
  ASSERT_EQ(entry.actions_size(), 2);
  EXPECT_EQ(entry.actions(0).kind(), events::v1::DeadLetterAction::REPLAY_FAILED);
  EXPECT_EQ(entry.actions(1).kind(), events::v1::DeadLetterAction::REPLAYED);
  EXPECT_EQ(entry.actions(1).actor(), "ops-ann");
  EXPECT_EQ(entry.actions(1).role(), "ops");
  EXPECT_EQ(entry.actions(1).service(), "test");
  EXPECT_EQ(dead_letters.List(false)->entries_size(), 0);

  // Who may act on the queue: ops and admin only.
  for (auto method : {auth::methods::kListDeadLetters, auth::methods::kReplayDeadLetter,
                      auth::methods::kDropDeadLetter}) {
    EXPECT_TRUE(auth::RoleMayCall(auth::Role::kOps, method)) << method;
    EXPECT_TRUE(auth::RoleMayCall(auth::Role::kAdmin, method)) << method;
    EXPECT_FALSE(auth::RoleMayCall(auth::Role::kDepartment, method)) << method;
    EXPECT_FALSE(auth::RoleMayCall(auth::Role::kSubmitter, method)) << method;
    EXPECT_FALSE(auth::RoleMayCall(auth::Role::kTeam, method)) << method;
  }
}

}  // namespace
}  // namespace meldpunt
