// Privacy by design, against the real Kafka broker, the Redis of the derived state and the Redis
// of the key store: the reporter's personal data is never in the log or the projection in the
// clear, each read of it is on the audit trail, EraseReporterData destroys it for good (a replay
// of the whole log afterwards finds the case and its figures but not the person), and the
// retention job erases what has been closed longer than its term.
#include <grpcpp/grpcpp.h>

#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "libs/domain/case_state.h"
#include "libs/events/codec.h"
#include "libs/events/topics.h"
#include "libs/kafka/consumer.h"
#include "libs/privacy/privacy.h"
#include "meldpunt/events/v1/audit.pb.h"
#include "meldpunt/intake/v1/intake.grpc.pb.h"
#include "services/intake/app.h"
#include "services/intake/test_config.h"
#include "tests/testing/stack.h"

namespace meldpunt::intake {
namespace {

namespace t = ::meldpunt::types::v1;

constexpr char kName[] = "Annelies Vandenbroucke";
constexpr char kEmail[] = "annelies.vdb@example.org";

class PrivacyIntegration : public ::testing::Test {
 protected:
  void SetUp() override {
    auto stack = testing::LoadStack();
    ASSERT_TRUE(stack.ok()) << stack.status();
    stack_ = *stack;
    IntakeConfig config = TestConfig(stack_, "intake-privacy-test");
    // Withdrawn reports fall due at once; the job itself is run by hand below.
    config.retention["REPORT"] = "1s";
    config.retention_interval = absl::Hours(24);
    app_ = std::make_unique<IntakeApp>(config);
    ASSERT_TRUE(app_->Start().ok());
    auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(app_->grpc_port()),
                                       grpc::InsecureChannelCredentials());
    intake_ = v1::Intake::NewStub(channel);
    admin_ = v1::Admin::NewStub(channel);
  }
  void TearDown() override {
    if (app_) app_->Stop();
  }

  static std::unique_ptr<grpc::ClientContext> Ctx() {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    context->AddMetadata("x-trace-id", "trace-privacy-test");
    return context;
  }

  std::string Submit(t::CaseKind kind, const std::string& category) {
    v1::SubmitCaseRequest r;
    r.set_submitting_system("privacy-test");
    r.set_request_key(testing::UniqueName("privacy"));
    auto* d = r.mutable_draft();
    d->set_kind(kind);
    d->set_channel(t::WEB);
    d->set_category(category);
    d->set_description("Loose paving stones in front of number 12");
    d->mutable_reporter()->set_name(kName);
    d->mutable_reporter()->set_email(kEmail);
    d->mutable_reporter()->set_phone("+32 470 12 34 56");
    v1::SubmitCaseResponse response;
    grpc::Status status = intake_->SubmitCase(Ctx().get(), r, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    EXPECT_FALSE(privacy::Sealer::HasPersonalData(response.case_().draft().reporter()));
    // The answer to the submitter has no sealed bytes in it, but the fields it sent are not echoed
    // in the clear either: GetCase shows them, on the audit trail.
    return response.case_id();
  }

  t::Case Get(const std::string& case_id) {
    v1::GetCaseRequest get;
    get.set_case_id(case_id);
    v1::GetCaseResponse got;
    grpc::Status status = intake_->GetCase(Ctx().get(), get, &got);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return got.case_();
  }

  // Every record of `topic` with key `case_id`, read from the start (read-committed).
  std::vector<std::string> RawRecords(const std::string& topic, const std::string& case_id,
                                      size_t at_least) {
    auto consumer = kafka::Consumer::Create({.brokers = stack_.kafka,
                                             .group_id = testing::UniqueName("raw"),
                                             .topics = {topic},
                                             .extra = stack_.kafka_properties});
    EXPECT_TRUE(consumer.ok());
    std::vector<std::string> values;
    const absl::Time until = absl::Now() + absl::Seconds(30);
    while (absl::Now() < until) {
      auto record = (*consumer)->Poll(absl::Milliseconds(200));
      if (!record.ok()) break;
      if (!record->has_value()) {
        if (values.size() >= at_least) break;
        continue;
      }
      if ((*record)->key == case_id) values.push_back((*record)->value);
    }
    return values;
  }

  grpc::Status Erase(const std::string& case_id, const std::string& reason, v1::CaseResponse* out) {
    v1::EraseReporterDataRequest erase;
    erase.set_case_id(case_id);
    erase.set_reason(reason);
    return admin_->EraseReporterData(Ctx().get(), erase, out);
  }

  testing::Stack stack_;
  std::unique_ptr<IntakeApp> app_;
  std::unique_ptr<v1::Intake::Stub> intake_;
  std::unique_ptr<v1::Admin::Stub> admin_;
};

TEST_F(PrivacyIntegration, ThePersonIsSealedAuditedAndErasedForGoodWhileTheCaseRemains) {
  const std::string case_id = Submit(t::COMPLAINT, "treatment-by-staff");
  ASSERT_FALSE(case_id.empty());

  // In the log and in the projection only sealed: neither the name nor the e-mail address.
  const std::vector<std::string> raw = RawRecords(events::kCaseEventsTopic, case_id, 1);
  ASSERT_FALSE(raw.empty());
  for (const std::string& value : raw) {
    EXPECT_EQ(value.find("Vandenbroucke"), std::string::npos);
    EXPECT_EQ(value.find(kEmail), std::string::npos);
  }
  auto redis = redis::Client::Create({.address = stack_.redis});
  ASSERT_TRUE(redis.ok());
  auto keys = (*redis)->Command({"KEYS", "*" + case_id + "*"});
  ASSERT_TRUE(keys.ok());
  ASSERT_FALSE(keys->elements.empty());
  for (const redis::Reply& key : keys->elements) {
    auto type = (*redis)->Command({"TYPE", key.str});
    if (type->str != "hash") continue;
    auto all = (*redis)->Command({"HGETALL", key.str});
    for (const redis::Reply& field : all->elements) {
      EXPECT_EQ(field.str.find("Vandenbroucke"), std::string::npos) << key.str;
    }
  }

  // GetCase opens it, and the read is on the audit trail before the answer.
  t::Case shown = Get(case_id);
  EXPECT_EQ(shown.draft().reporter().name(), kName);
  EXPECT_EQ(shown.draft().reporter().email(), kEmail);
  EXPECT_TRUE(shown.draft().reporter().sealed().empty());
  const std::vector<std::string> audit = RawRecords(events::kAuditTopic, case_id, 1);
  ASSERT_EQ(audit.size(), 1u);
  events::v1::PersonalDataRead read;
  ASSERT_TRUE(read.ParseFromString(audit[0]));
  EXPECT_EQ(read.method(), "/meldpunt.intake.v1.Intake/GetCase");
  EXPECT_EQ(read.subject(), "dev");
  EXPECT_EQ(read.trace_id(), "trace-privacy-test");
  EXPECT_EQ(std::vector<std::string>(read.fields().begin(), read.fields().end()),
            (std::vector<std::string>{"reporter.name", "reporter.email", "reporter.phone"}));
  // Lists and the history carry no personal data, sealed or not, and are not audited.
  v1::ListCasesRequest list;
  list.set_category("treatment-by-staff");
  v1::ListCasesResponse page;
  ASSERT_TRUE(intake_->ListCases(Ctx().get(), list, &page).ok());
  for (const t::Case& c : page.cases()) {
    EXPECT_FALSE(privacy::Sealer::HasPersonalData(c.draft().reporter())) << c.case_id();
  }
  v1::GetCaseHistoryRequest history;
  history.set_case_id(case_id);
  v1::GetCaseHistoryResponse entries;
  ASSERT_TRUE(intake_->GetCaseHistory(Ctx().get(), history, &entries).ok());
  ASSERT_FALSE(entries.entries().empty());
  EXPECT_FALSE(privacy::Sealer::HasPersonalData(
      entries.entries(0).event().case_submitted().draft().reporter()));

  // A command's answer carries none either.
  {
    v1::ProvideInformationRequest info;
    info.set_case_id(case_id);
    info.set_text("The incident happened at the counter on Monday.");
    v1::CaseResponse answer;
    grpc::Status provided = intake_->ProvideInformation(Ctx().get(), info, &answer);
    ASSERT_TRUE(provided.ok()) << provided.error_message();
    EXPECT_FALSE(privacy::Sealer::HasPersonalData(answer.case_().draft().reporter()));
  }

  // Bad input changes nothing.
  v1::CaseResponse erased;
  grpc::Status status = Erase(case_id, "", &erased);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("reason"), std::string::npos);
  EXPECT_EQ(Erase("MP-0000000000000", "request of the reporter", &erased).error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Get(case_id).draft().reporter().name(), kName);

  // Erased: the person is gone, the case is not.
  status = Erase(case_id, "request of the reporter (art. 17 GDPR)", &erased);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(erased.case_().draft().reporter().erased());
  t::Case after = Get(case_id);
  EXPECT_TRUE(after.draft().reporter().erased());
  EXPECT_TRUE(after.draft().reporter().name().empty());
  EXPECT_TRUE(after.draft().reporter().email().empty());
  EXPECT_EQ(after.draft().kind(), t::COMPLAINT);
  EXPECT_EQ(after.draft().category(), "treatment-by-staff");
  EXPECT_EQ(after.state(), shown.state());
  EXPECT_EQ(after.submitted_at().seconds(), shown.submitted_at().seconds());
  // A second erasure is harmless and says the key was already gone.
  ASSERT_TRUE(Erase(case_id, "again", &erased).ok());
  const std::vector<std::string> log = RawRecords(events::kCaseEventsTopic, case_id, 3);
  std::vector<bool> destroyed;
  for (const std::string& value : log) {
    auto e = events::Decode(value);
    ASSERT_TRUE(e.ok());
    if (e->has_reporter_data_erased())
      destroyed.push_back(e->reporter_data_erased().key_destroyed());
  }
  EXPECT_EQ(destroyed, (std::vector<bool>{true, false}));

  // Replaying the whole log (as any service rebuilding would) finds the case and its figures, but
  // the sealed person no longer opens: the key is gone.
  auto key_redis = redis::Client::Create({.address = stack_.key_store});
  ASSERT_TRUE(key_redis.ok());
  auto master = privacy::ReadMasterKey("privacy.master_key_file", testing::DevMasterKeyFile());
  ASSERT_TRUE(master.ok());
  privacy::RedisKeyStore key_store(**key_redis, *master);
  privacy::Sealer sealer(key_store);
  t::Case replayed;
  bool sealed_seen = false;
  for (const std::string& value : log) {
    auto e = events::Decode(value);
    ASSERT_TRUE(e.ok());
    if (e->has_case_submitted()) {
      t::Reporter sealed = e->case_submitted().draft().reporter();
      sealed_seen = !sealed.sealed().empty();
      ASSERT_TRUE(sealer.OpenReporter(case_id, &sealed).ok());
      EXPECT_TRUE(sealed.erased());
      EXPECT_TRUE(sealed.name().empty());
    }
    ASSERT_TRUE(domain::Apply(replayed, *e).ok());
  }
  EXPECT_TRUE(sealed_seen);
  EXPECT_EQ(replayed.draft().category(), "treatment-by-staff");
  EXPECT_EQ(replayed.draft().kind(), t::COMPLAINT);
  EXPECT_TRUE(replayed.draft().reporter().erased());
  // And the intake's own rebuild from the log agrees.
  v1::RebuildProjectionResponse rebuilt;
  ASSERT_TRUE(admin_->RebuildProjection(Ctx().get(), {}, &rebuilt).ok());
  t::Case rebuilt_case = Get(case_id);
  EXPECT_TRUE(rebuilt_case.draft().reporter().erased());
  EXPECT_TRUE(rebuilt_case.draft().reporter().name().empty());
  EXPECT_EQ(rebuilt_case.draft().category(), "treatment-by-staff");
}

TEST_F(PrivacyIntegration, TheRetentionJobErasesWhatWasClosedLongerThanItsTerm) {
  const std::string withdrawn = Submit(t::REPORT, "loose-paving");
  const std::string open = Submit(t::REPORT, "loose-paving");
  const std::string complaint = Submit(t::COMPLAINT, "treatment-by-staff");
  for (const std::string& id : {withdrawn, complaint}) {
    auto casework = v1::Intake::NewStub(grpc::CreateChannel(
        "127.0.0.1:" + std::to_string(app_->grpc_port()), grpc::InsecureChannelCredentials()));
    v1::WithdrawCaseRequest withdraw;
    withdraw.set_case_id(id);
    withdraw.set_reason("solved itself");
    v1::CaseResponse out;
    ASSERT_TRUE(casework->WithdrawCase(Ctx().get(), withdraw, &out).ok());
  }
  absl::SleepFor(absl::Milliseconds(1500));
  // Reports are kept 1 s after closing here; complaints keep their default (1825 days), and an
  // open case is never due.
  absl::StatusOr<int64_t> erased = app_->RunRetentionOnce();
  ASSERT_TRUE(erased.ok()) << erased.status();
  EXPECT_GE(*erased, 1);
  EXPECT_TRUE(Get(withdrawn).draft().reporter().erased());
  EXPECT_EQ(Get(open).draft().reporter().name(), kName);
  EXPECT_EQ(Get(complaint).draft().reporter().name(), kName);
  // Done once: the next pass finds nothing more of these.
  EXPECT_TRUE(Get(withdrawn).draft().reporter().erased());
  const std::vector<std::string> log = RawRecords(events::kCaseEventsTopic, withdrawn, 3);
  bool by_retention = false;
  for (const std::string& value : log) {
    auto e = events::Decode(value);
    if (e.ok() && e->has_reporter_data_erased()) {
      by_retention = e->actor().id() == "service:retention" &&
                     e->reporter_data_erased().reason().find("retention") != std::string::npos;
    }
  }
  EXPECT_TRUE(by_retention);

  // meldctl erase: the open case's reporter goes too, on request.
  const char* bin = std::getenv("MELDPUNT_BINARY_DIR");
  ASSERT_NE(bin, nullptr);
  const std::string command =
      absl::StrCat(bin, "/tools/meldctl/meldctl --intake 127.0.0.1:", app_->grpc_port(), " erase ",
                   open, " --reason 'request of the reporter' --json 2>&1");
  FILE* pipe = popen(command.c_str(), "r");
  std::string output;
  char buffer[4096];
  for (size_t n; (n = fread(buffer, 1, sizeof buffer, pipe)) > 0;) output.append(buffer, n);
  EXPECT_EQ(WEXITSTATUS(pclose(pipe)), 0) << output;
  EXPECT_NE(output.find("\"erased\""), std::string::npos) << output;
  EXPECT_TRUE(Get(open).draft().reporter().erased());
}

}  // namespace
}  // namespace meldpunt::intake
