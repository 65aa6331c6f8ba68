// Every Intake, CaseWork and Admin RPC through real gRPC, with the intake in-process against the
// real Kafka broker and redis-server of the test stack. The test plays routing where a case must
// be routed first (it appends CaseRouted itself).
#include <grpcpp/grpcpp.h>

#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "libs/events/codec.h"
#include "libs/events/event_log.h"
#include "libs/events/ids.h"
#include "libs/events/topics.h"
#include "libs/kafka/consumer.h"
#include "meldpunt/intake/v1/intake.grpc.pb.h"
#include "services/intake/app.h"
#include "tests/testing/stack.h"

namespace meldpunt::intake {
namespace {

namespace t = ::meldpunt::types::v1;
namespace ev = ::meldpunt::events::v1;

std::string FieldOf(const grpc::Status& status) {
  google::rpc::Status rich;
  if (!rich.ParseFromString(status.error_details()) || rich.details_size() == 0) return "";
  google::rpc::BadRequest bad;
  if (!bad.ParseFromString(rich.details(0).value()) || bad.field_violations_size() == 0) return "";
  return bad.field_violations(0).field();
}

class Casework : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto stack = testing::LoadStack();
    ASSERT_TRUE(stack.ok()) << stack.status();
    stack_ = new testing::Stack(*stack);
    IntakeConfig config;
    config.grpc_listen = "127.0.0.1:0";
    config.grpc_plaintext_loopback = true;
    config.admin_listen = "127.0.0.1:0";
    testing::UseStackKafka(*stack_, config);
    config.redis_address = stack_->redis;
    config.privacy_master_key_file = testing::DevMasterKeyFile();
    config.key_store_address = stack_->key_store;
    config.consumer_group = testing::UniqueName("casework-test");
    config.startup_timeout = absl::Seconds(30);
    app_ = new IntakeApp(config);
    absl::Status started = app_->Start();
    ASSERT_TRUE(started.ok()) << started;
    auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(app_->grpc_port()),
                                       grpc::InsecureChannelCredentials());
    intake_ = v1::Intake::NewStub(channel).release();
    work_ = v1::CaseWork::NewStub(channel).release();
    admin_ = v1::Admin::NewStub(channel).release();
    auto producer =
        kafka::Producer::Create({.brokers = stack_->kafka, .extra = stack_->kafka_properties});
    ASSERT_TRUE(producer.ok());
    producer_ = producer->release();
  }
  static void TearDownTestSuite() {
    delete intake_;
    delete work_;
    delete admin_;
    delete producer_;
    delete app_;
    delete stack_;
  }

  static std::unique_ptr<grpc::ClientContext> Ctx() {
    auto c = std::make_unique<grpc::ClientContext>();
    c->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    return c;
  }

  static t::Case Submit(const std::string& key, t::CaseKind kind, const std::string& category) {
    v1::SubmitCaseRequest r;
    r.set_submitting_system("casework-test");
    r.set_request_key(key);
    auto* d = r.mutable_draft();
    d->set_kind(kind);
    d->set_channel(t::PHONE);
    d->set_category(category);
    d->set_description("Lamp out");
    d->mutable_reporter()->set_name("Jan Peeters");
    d->mutable_reporter()->set_email("jan@example.org");
    v1::SubmitCaseResponse response;
    grpc::Status status = intake_->SubmitCase(Ctx().get(), r, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.case_();
  }

  // What routing would append.
  static void Route(const std::string& case_id, const std::string& department) {
    events::Envelope e = events::NewEnvelope(case_id, "routing", absl::Now());
    e.mutable_case_routed()->set_department(department);
    events::Finish(e, events::RandomId("routed"));
    ASSERT_TRUE(
        producer_
            ->Send(events::ToRecord(events::kCaseEventsTopic, e), absl::Now() + absl::Seconds(10))
            .ok());
    ASSERT_TRUE(testing::Eventually([&] { return Get(case_id).department() == department; },
                                    absl::Seconds(20)));
  }

  static t::Case Get(const std::string& ref) {
    v1::GetCaseRequest r;
    r.set_case_id(ref);
    v1::GetCaseResponse response;
    grpc::Status status = intake_->GetCase(Ctx().get(), r, &response);
    return status.ok() ? response.case_() : t::Case();
  }

  static int HistorySize(const std::string& ref) {
    v1::GetCaseHistoryRequest r;
    r.set_case_id(ref);
    v1::GetCaseHistoryResponse response;
    return intake_->GetCaseHistory(Ctx().get(), r, &response).ok() ? response.entries_size() : -1;
  }

  template <typename Request>
  static Request Cmd(const std::string& ref, const std::string& actor = "department:public-works") {
    Request r;
    r.set_case_id(ref);
    r.mutable_actor()->set_id(actor);
    return r;
  }

  static testing::Stack* stack_;
  static IntakeApp* app_;
  static v1::Intake::Stub* intake_;
  static v1::CaseWork::Stub* work_;
  static v1::Admin::Stub* admin_;
  static kafka::Producer* producer_;
};

testing::Stack* Casework::stack_ = nullptr;
IntakeApp* Casework::app_ = nullptr;
v1::Intake::Stub* Casework::intake_ = nullptr;
v1::CaseWork::Stub* Casework::work_ = nullptr;
v1::Admin::Stub* Casework::admin_ = nullptr;
kafka::Producer* Casework::producer_ = nullptr;

TEST_F(Casework, AReportFromSubmissionToReopenedAndClosedAgain) {
  t::Case c = Submit(testing::UniqueName("life"), t::REPORT, "street-lighting");
  ASSERT_FALSE(c.case_id().empty());
  EXPECT_EQ(c.reference().rfind("MP-20", 0), 0u);
  EXPECT_EQ(Get(c.reference()).case_id(), c.case_id()) << "lookup by reference";
  Route(c.case_id(), "public-works");
  v1::CaseResponse out;

  ASSERT_TRUE(work_->AcceptCase(Ctx().get(), Cmd<v1::AcceptCaseRequest>(c.reference()), &out).ok());
  EXPECT_EQ(out.case_().state(), t::ACCEPTED);
  EXPECT_EQ(Get(c.case_id()).state(), t::ACCEPTED) << "read-your-writes";

  auto ask = Cmd<v1::RequestInformationRequest>(c.case_id());
  ask.set_question("Which lamp post number?");
  ASSERT_TRUE(work_->RequestInformation(Ctx().get(), ask, &out).ok());
  EXPECT_EQ(Get(c.case_id()).state(), t::WAITING_FOR_REPORTER);
  EXPECT_EQ(Get(c.case_id()).open_question(), "Which lamp post number?");

  v1::ProvideInformationRequest info;
  info.set_case_id(c.case_id());
  info.set_text("Number 1234");
  ASSERT_TRUE(intake_->ProvideInformation(Ctx().get(), info, &out).ok());
  EXPECT_EQ(Get(c.case_id()).state(), t::IN_PROGRESS);

  auto answer = Cmd<v1::AnswerCaseRequest>(c.case_id());
  answer.set_answer("The lamp was repaired on Tuesday.");
  ASSERT_TRUE(work_->AnswerCase(Ctx().get(), answer, &out).ok());
  EXPECT_EQ(Get(c.case_id()).state(), t::ANSWERED);
  ASSERT_TRUE(work_->CloseCase(Ctx().get(), Cmd<v1::CloseCaseRequest>(c.case_id()), &out).ok());
  EXPECT_EQ(Get(c.case_id()).state(), t::CLOSED);

  v1::ReopenCaseRequest reopen;
  reopen.set_case_id(c.case_id());
  reopen.set_reason("It is dark again");
  ASSERT_TRUE(intake_->ReopenCase(Ctx().get(), reopen, &out).ok());
  EXPECT_EQ(Get(c.case_id()).state(), t::REOPENED);
  ASSERT_TRUE(work_->AnswerCase(Ctx().get(), answer, &out).ok());
  ASSERT_TRUE(work_->CloseCase(Ctx().get(), Cmd<v1::CloseCaseRequest>(c.case_id()), &out).ok());

  v1::GetCaseHistoryRequest history_request;
  history_request.set_case_id(c.reference());
  v1::GetCaseHistoryResponse history;
  ASSERT_TRUE(intake_->GetCaseHistory(Ctx().get(), history_request, &history).ok());
  std::vector<std::string> types;
  for (const auto& e : history.entries()) types.push_back(e.type());
  EXPECT_EQ(types,
            (std::vector<std::string>{"CaseSubmitted", "CaseRouted", "CaseAccepted",
                                      "InformationRequested", "InformationProvided", "CaseAnswered",
                                      "CaseClosed", "CaseReopened", "CaseAnswered", "CaseClosed"}));
  EXPECT_EQ(history.entries(2).actor().id(), "department:public-works");
  EXPECT_EQ(history.entries(4).actor().id(), "reporter");
  EXPECT_TRUE(history.entries(0).has_occurred_at());
}

TEST_F(Casework, ComplaintsNeedAnAdmissibilityDecisionAndAnOutcome) {
  t::Case a = Submit(testing::UniqueName("complaint-a"), t::COMPLAINT, "staff-conduct");
  EXPECT_EQ(a.state(), t::ADMISSIBILITY_PENDING);
  Route(a.case_id(), "complaints-office");
  EXPECT_EQ(Get(a.case_id()).state(), t::ADMISSIBILITY_PENDING);
  v1::CaseResponse out;
  grpc::Status early =
      work_->AcceptCase(Ctx().get(), Cmd<v1::AcceptCaseRequest>(a.case_id()), &out);
  EXPECT_EQ(early.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(early.error_message().find("ADMISSIBILITY_PENDING"), std::string::npos);

  auto admissible = Cmd<v1::DecideAdmissibilityRequest>(a.case_id(), "team:meldpunt");
  admissible.set_admissible(true);
  ASSERT_TRUE(work_->DecideAdmissibility(Ctx().get(), admissible, &out).ok());
  EXPECT_EQ(out.case_().state(), t::ROUTED);
  ASSERT_TRUE(work_->AcceptCase(Ctx().get(), Cmd<v1::AcceptCaseRequest>(a.case_id()), &out).ok());
  auto answer = Cmd<v1::AnswerCaseRequest>(a.case_id());
  answer.set_answer("You were right.");
  grpc::Status no_outcome = work_->AnswerCase(Ctx().get(), answer, &out);
  EXPECT_EQ(no_outcome.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(FieldOf(no_outcome), "outcome");
  answer.set_outcome(ev::FOUNDED);
  answer.set_ombudsnorm("correct bejegening");
  ASSERT_TRUE(work_->AnswerCase(Ctx().get(), answer, &out).ok());
  EXPECT_EQ(Get(a.case_id()).outcome(), "FOUNDED");

  t::Case b = Submit(testing::UniqueName("complaint-b"), t::COMPLAINT, "staff-conduct");
  auto inadmissible = Cmd<v1::DecideAdmissibilityRequest>(b.case_id(), "team:meldpunt");
  inadmissible.set_ground(ev::ALREADY_HANDLED);
  grpc::Status missing = work_->DecideAdmissibility(Ctx().get(), inadmissible, &out);
  EXPECT_EQ(FieldOf(missing), "motivation");
  inadmissible.set_motivation("The same facts were handled in case MP-2025-X.");
  ASSERT_TRUE(work_->DecideAdmissibility(Ctx().get(), inadmissible, &out).ok());
  EXPECT_EQ(Get(b.case_id()).state(), t::INADMISSIBLE);
  EXPECT_EQ(Get(b.case_id()).inadmissibility_ground(), "ALREADY_HANDLED");
  ASSERT_TRUE(work_->CloseCase(Ctx().get(), Cmd<v1::CloseCaseRequest>(b.case_id()), &out).ok());
}

TEST_F(Casework, BounceReassignReferMergeWithdraw) {
  v1::CaseResponse out;
  t::Case bounced = Submit(testing::UniqueName("bounce"), t::REPORT, "roads");
  Route(bounced.case_id(), "public-works");
  auto bounce = Cmd<v1::BounceCaseRequest>(bounced.case_id());
  bounce.set_reason("Regional road: not ours");
  ASSERT_TRUE(work_->BounceCase(Ctx().get(), bounce, &out).ok());
  EXPECT_EQ(Get(bounced.case_id()).state(), t::RECEIVED);
  EXPECT_EQ(Get(bounced.case_id()).bounced_departments(0), "public-works");
  auto refer = Cmd<v1::ReferExternallyRequest>(bounced.case_id(), "team:meldpunt");
  refer.set_body("Agentschap Wegen en Verkeer");
  refer.set_reason("Regional road");
  ASSERT_TRUE(work_->ReferExternally(Ctx().get(), refer, &out).ok());
  EXPECT_EQ(Get(bounced.case_id()).state(), t::REFERRED);
  EXPECT_EQ(Get(bounced.case_id()).referred_to(), "Agentschap Wegen en Verkeer");

  t::Case moved = Submit(testing::UniqueName("reassign"), t::REPORT, "parks");
  Route(moved.case_id(), "public-works");
  auto reassign = Cmd<v1::ReassignCaseRequest>(moved.case_id(), "team:meldpunt");
  reassign.set_department("green-spaces");
  ASSERT_TRUE(work_->ReassignCase(Ctx().get(), reassign, &out).ok());
  EXPECT_EQ(Get(moved.case_id()).department(), "green-spaces");

  t::Case master = Submit(testing::UniqueName("master"), t::REPORT, "trees");
  t::Case duplicate = Submit(testing::UniqueName("duplicate"), t::REPORT, "trees");
  auto merge = Cmd<v1::MergeCaseRequest>(duplicate.case_id(), "team:meldpunt");
  merge.set_master_case_id(master.reference());
  ASSERT_TRUE(work_->MergeCase(Ctx().get(), merge, &out).ok());
  EXPECT_EQ(Get(duplicate.case_id()).state(), t::MERGED);
  EXPECT_EQ(Get(duplicate.case_id()).master_case_id(), master.case_id());

  v1::WithdrawCaseRequest withdraw;
  withdraw.set_case_id(master.case_id());
  withdraw.set_reason("Solved by a neighbour");
  ASSERT_TRUE(intake_->WithdrawCase(Ctx().get(), withdraw, &out).ok());
  EXPECT_EQ(Get(master.case_id()).state(), t::WITHDRAWN);
  grpc::Status again = intake_->WithdrawCase(Ctx().get(), withdraw, &out);
  EXPECT_EQ(again.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(again.error_message().find("WITHDRAWN"), std::string::npos);
}

TEST_F(Casework, ErrorsChangeNothing) {
  t::Case c = Submit(testing::UniqueName("errors"), t::REPORT, "sewer");
  const int before = HistorySize(c.case_id());
  v1::CaseResponse out;
  grpc::Status illegal =
      work_->AcceptCase(Ctx().get(), Cmd<v1::AcceptCaseRequest>(c.case_id()), &out);
  EXPECT_EQ(illegal.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(illegal.error_message().find("RECEIVED"), std::string::npos);
  auto bad = Cmd<v1::ReassignCaseRequest>(c.case_id());
  bad.set_department("NOT VALID");
  grpc::Status invalid = work_->ReassignCase(Ctx().get(), bad, &out);
  EXPECT_EQ(invalid.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(FieldOf(invalid), "department");
  grpc::Status unknown =
      work_->AcceptCase(Ctx().get(), Cmd<v1::AcceptCaseRequest>("MP-0000000000000"), &out);
  EXPECT_EQ(unknown.error_code(), grpc::StatusCode::NOT_FOUND);
  std::string typo = c.reference();
  typo.back() = typo.back() == '0' ? '1' : '0';
  grpc::Status mistyped = work_->AcceptCase(Ctx().get(), Cmd<v1::AcceptCaseRequest>(typo), &out);
  EXPECT_EQ(FieldOf(mistyped), "case_id");
  EXPECT_EQ(HistorySize(c.case_id()), before);
}

TEST_F(Casework, RepeatedCommandIdIsAppliedOnce) {
  t::Case c = Submit(testing::UniqueName("repeat"), t::REPORT, "sewer");
  Route(c.case_id(), "public-works");
  auto accept = Cmd<v1::AcceptCaseRequest>(c.case_id());
  accept.set_command_id("accept-once");
  v1::CaseResponse first, second;
  ASSERT_TRUE(work_->AcceptCase(Ctx().get(), accept, &first).ok());
  ASSERT_TRUE(work_->AcceptCase(Ctx().get(), accept, &second).ok());
  EXPECT_EQ(first.event_id(), second.event_id());
  EXPECT_EQ(HistorySize(c.case_id()), 3);
}

TEST_F(Casework, ListFiltersAndPagesStably) {
  const std::string category = "test-" + testing::UniqueName("cat").substr(4, 8);
  std::set<std::string> ids;
  for (int i = 0; i < 5; ++i)
    ids.insert(Submit(testing::UniqueName("list"), t::SUGGESTION, category).case_id());
  Submit(testing::UniqueName("other"), t::QUESTION, category);
  v1::ListCasesRequest request;
  request.set_category(category);
  request.set_kind(t::SUGGESTION);
  request.set_page_size(2);
  std::vector<std::string> seen;
  int pages = 0;
  do {
    v1::ListCasesResponse page;
    ASSERT_TRUE(intake_->ListCases(Ctx().get(), request, &page).ok());
    for (const auto& c : page.cases()) seen.push_back(c.case_id());
    request.set_page_token(page.next_page_token());
    ++pages;
    // A case submitted meanwhile is newer than the pages already read: it must not shift them.
    if (pages == 1) Submit(testing::UniqueName("late"), t::SUGGESTION, category + "-x");
  } while (!request.page_token().empty() && pages < 10);
  EXPECT_EQ(seen.size(), 5u);
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()), ids);
  for (size_t i = 1; i < seen.size(); ++i) {
    EXPECT_GE(Get(seen[i - 1]).submitted_at().seconds(), Get(seen[i]).submitted_at().seconds());
  }
  v1::ListCasesRequest by_state;
  by_state.set_category(category);
  by_state.set_state(t::RECEIVED);
  by_state.set_page_size(200);
  v1::ListCasesResponse all;
  ASSERT_TRUE(intake_->ListCases(Ctx().get(), by_state, &all).ok());
  EXPECT_EQ(all.cases_size(), 6);
  v1::ListCasesRequest bad;
  bad.set_page_token("nonsense");
  v1::ListCasesResponse none;
  EXPECT_EQ(FieldOf(intake_->ListCases(Ctx().get(), bad, &none)), "page_token");
}

TEST_F(Casework, ConcurrentRetriesOfOneKeyMakeOneCaseAndOneEvent) {
  const std::string key = testing::UniqueName("concurrent");
  std::vector<std::string> ids(8);
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] { ids[i] = Submit(key, t::REPORT, "noise").case_id(); });
  }
  for (auto& thread : threads) thread.join();
  for (const auto& id : ids) EXPECT_EQ(id, ids[0]);
  // Exactly one CaseSubmitted for it in the log.
  auto reader = kafka::Consumer::Create({.brokers = stack_->kafka,
                                         .group_id = testing::UniqueName("concurrent-reader"),
                                         .topics = {events::kCaseEventsTopic},
                                         .extra = stack_->kafka_properties});
  ASSERT_TRUE(reader.ok());
  int found = 0;
  int idle = 0;
  const absl::Time until = absl::Now() + absl::Seconds(30);
  while (absl::Now() < until && idle < 15) {
    auto record = (*reader)->Poll(absl::Milliseconds(200));
    ASSERT_TRUE(record.ok());
    if (!record->has_value()) {
      if (found > 0) ++idle;
      continue;
    }
    idle = 0;
    if ((*record)->key == ids[0]) ++found;
  }
  EXPECT_EQ(found, 1);
}

// Last: the rebuild clears the projection and folds the whole log again; every case must come
// back byte for byte, with the same history.
TEST_F(Casework, ZZRebuildFromTheLogGivesTheIdenticalProjection) {
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    t::Case c = Submit(testing::UniqueName("rebuild"), t::COMPLAINT, "staff-conduct");
    ids.push_back(c.case_id());
  }
  Route(ids[0], "complaints-office");
  v1::CaseResponse out;
  auto decide = Cmd<v1::DecideAdmissibilityRequest>(ids[0], "team:meldpunt");
  decide.set_admissible(true);
  ASSERT_TRUE(work_->DecideAdmissibility(Ctx().get(), decide, &out).ok());
  // An event the state machine refuses reaches the projection: kept as a harmless rejection.
  events::Envelope stray = events::NewEnvelope(ids[1], "test", absl::Now());
  stray.mutable_case_closed();
  events::Finish(stray, events::RandomId("stray"));
  ASSERT_TRUE(
      producer_
          ->Send(events::ToRecord(events::kCaseEventsTopic, stray), absl::Now() + absl::Seconds(10))
          .ok());
  ASSERT_TRUE(
      testing::Eventually([&] { return Get(ids[1]).rejected_events() == 1; }, absl::Seconds(20)));
  EXPECT_EQ(Get(ids[1]).state(), t::ADMISSIBILITY_PENDING);

  std::map<std::string, std::string> before;
  std::map<std::string, int> history_before;
  for (const auto& id : ids) {
    before[id] = Get(id).SerializeAsString();
    history_before[id] = HistorySize(id);
  }
  v1::RebuildProjectionResponse rebuilt;
  auto context = Ctx();
  context->set_deadline(absl::ToChronoTime(absl::Now() + absl::Minutes(5)));
  grpc::Status status =
      admin_->RebuildProjection(context.get(), v1::RebuildProjectionRequest(), &rebuilt);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_GE(rebuilt.cases(), 3);
  EXPECT_GT(rebuilt.events(), rebuilt.cases());
  for (const auto& id : ids) {
    EXPECT_EQ(Get(id).SerializeAsString(), before[id]) << id;
    EXPECT_EQ(HistorySize(id), history_before[id]) << id;
  }
  EXPECT_EQ(Get(Get(ids[0]).reference()).case_id(), ids[0]) << "the reference index is rebuilt";
  // And the intake goes on working after the rebuild.
  t::Case after = Submit(testing::UniqueName("after-rebuild"), t::REPORT, "noise");
  EXPECT_EQ(Get(after.case_id()).state(), t::RECEIVED);
}

}  // namespace
}  // namespace meldpunt::intake
