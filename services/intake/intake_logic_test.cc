#include "services/intake/intake_logic.h"

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <vector>

#include <gtest/gtest.h>

#include "libs/domain/case_state.h"
#include "libs/events/ids.h"
#include "libs/grpc/status.h"
#include "libs/privacy/testing/counting_key_store.h"
#include "services/intake/testing/memory_store.h"

namespace meldpunt::intake {
namespace {

namespace t = ::meldpunt::types::v1;
using testing::MemoryStore;

// The log; `consumer` (when set) folds each appended event at once, like a fast projection.
class FakeLog : public events::EventLog {
 public:
  absl::StatusOr<events::Appended> Append(const events::Envelope& e, absl::Time deadline) override {
    last_deadline = deadline;
    if (!next_error.ok()) return next_error;
    appended.push_back(e);
    const int64_t offset = static_cast<int64_t>(appended.size() - 1);
    if (consumer) (void)consumer->Apply(e, offset);
    if (on_append) on_append(e);
    return events::Appended{0, offset};
  }
  std::vector<events::Envelope> appended;
  absl::Status next_error = absl::OkStatus();
  absl::Time last_deadline;
  CaseStore* consumer = nullptr;
  std::function<void(const events::Envelope&)> on_append;
};

class IntakeLogicTest : public ::testing::Test {
 protected:
  IntakeLogicTest()
      : clock_(absl::FromUnixSeconds(1'763'800'000)),
        logic_(log_, store_, clock_, {.projection_wait = absl::Milliseconds(50)}) {
    log_.consumer = &store_;
  }

  v1::SubmitCaseRequest Request(const std::string& key = "req-1", t::CaseKind kind = t::REPORT) {
    v1::SubmitCaseRequest r;
    r.set_submitting_system("web-form");
    r.set_request_key(key);
    auto* d = r.mutable_draft();
    d->set_kind(kind);
    d->set_channel(t::WEB);
    d->set_category("street-lighting");
    d->set_description("Street light out");
    d->mutable_reporter()->set_name("Jan Peeters");
    d->mutable_reporter()->set_email("jan@example.org");
    return r;
  }
  absl::Time Deadline() { return absl::Now() + absl::Seconds(30); }

  // Appends an event as another service would (routing, notification).
  void External(const std::string& case_id, const std::function<void(events::Envelope&)>& set) {
    events::Envelope e = events::NewEnvelope(case_id, "routing", clock_.Now());
    set(e);
    events::Finish(e, events::RandomId("ext"));
    ASSERT_TRUE(log_.Append(e, Deadline()).ok());
  }

  template <typename Req>
  Req Cmd(const std::string& case_id) {
    Req r;
    r.set_case_id(case_id);
    r.mutable_actor()->set_id("department:public-works");
    return r;
  }

  FakeLog log_;
  MemoryStore store_;
  clock::FakeClock clock_;
  IntakeLogic logic_;
};

TEST_F(IntakeLogicTest, SubmitAppendsOneEventWithAReference) {
  auto result = logic_.Submit(Request(), Deadline());
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(result->created);
  EXPECT_EQ(result->c.state(), t::RECEIVED);
  ASSERT_EQ(log_.appended.size(), 1u);
  const events::Envelope& e = log_.appended[0];
  EXPECT_EQ(e.type(), "CaseSubmitted");
  EXPECT_EQ(e.case_submitted().reference().rfind("MP-2025-", 0), 0u)
      << e.case_submitted().reference();
  EXPECT_EQ(result->c.reference(), e.case_submitted().reference());
  // Readable by id and by reference, also as typed over the phone.
  EXPECT_TRUE(logic_.Get(result->c.case_id()).ok());
  std::string typed = result->c.reference();
  for (char& ch : typed) ch = static_cast<char>(std::tolower(ch));
  auto by_reference = logic_.Get(typed);
  ASSERT_TRUE(by_reference.ok()) << by_reference.status();
  EXPECT_EQ(by_reference->case_id(), result->c.case_id());
  std::string typo = result->c.reference();
  typo.back() = typo.back() == 'A' ? 'B' : 'A';
  EXPECT_EQ(grpc_util::ErrorField(logic_.Get(typo).status()), "case_id");
}

TEST_F(IntakeLogicTest, ComplaintStartsWithAdmissibilityPending) {
  auto result = logic_.Submit(Request("c", t::COMPLAINT), Deadline());
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->c.state(), t::ADMISSIBILITY_PENDING);
}

TEST_F(IntakeLogicTest, SameKeyReturnsSameCaseAndEmitsNothing) {
  auto first = logic_.Submit(Request("k"), Deadline());
  auto second = logic_.Submit(Request("k"), Deadline());
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_FALSE(second->created);
  EXPECT_EQ(first->c.case_id(), second->c.case_id());
  EXPECT_EQ(log_.appended.size(), 1u);
}

TEST_F(IntakeLogicTest, SubmissionInProgressElsewhereIsWaitedFor) {
  const std::string case_id = events::CaseIdFor("web-form", "busy");
  store_.locks.insert(case_id);
  auto result = logic_.Submit(Request("busy"), absl::Now() + absl::Milliseconds(300));
  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(log_.appended.empty());
}

TEST_F(IntakeLogicTest, BadInputNamesTheFieldAndEmitsNothing) {
  auto request = Request();
  request.mutable_draft()->set_description(std::string(4001, 'x'));
  auto result = logic_.Submit(request, Deadline());
  EXPECT_EQ(grpc_util::ErrorField(result.status()), "draft.description");
  request = Request();
  request.set_correlation_id(std::string(200, 'c'));
  EXPECT_EQ(grpc_util::ErrorField(logic_.Submit(request, Deadline()).status()), "correlation_id");
  EXPECT_TRUE(log_.appended.empty());
  EXPECT_TRUE(store_.cases.empty());
}

TEST_F(IntakeLogicTest, AReceiptTimeIsCheckedAgainstTheClockAndKeptOnTheCase) {
  const absl::Time now = clock_.Now();
  auto request = [&](const std::string& key, absl::Time received) {
    v1::SubmitCaseRequest r = Request(key);
    r.mutable_draft()->set_channel(t::LETTER);
    events::SetTime(r.mutable_draft()->mutable_received_at(), received);
    return r;
  };
  // In the future (beyond the skew) or further back than the limit (30 days by default).
  for (absl::Time bad : {now + absl::Hours(1), now - absl::Hours(24 * 30) - absl::Minutes(1)}) {
    absl::Status status = logic_.Submit(request("bad", bad), Deadline()).status();
    EXPECT_EQ(grpc_util::ErrorField(status), "draft.received_at") << status;
  }
  EXPECT_TRUE(log_.appended.empty()) << "a refused receipt time changes nothing";
  auto letter = logic_.Submit(request("letter", now - absl::Hours(24 * 6)), Deadline());
  ASSERT_TRUE(letter.ok()) << letter.status();
  EXPECT_EQ(events::GetTime(letter->c.received_at()), now - absl::Hours(24 * 6));
  EXPECT_EQ(events::GetTime(letter->c.submitted_at()), now);
  // A little clock skew is "now".
  EXPECT_TRUE(logic_.Submit(request("skew", now + absl::Minutes(2)), Deadline()).ok());
  // Without one, the receipt is the submission.
  auto web = logic_.Submit(Request("web"), Deadline());
  ASSERT_TRUE(web.ok());
  EXPECT_EQ(events::GetTime(web->c.received_at()), now);
}

TEST_F(IntakeLogicTest, OnlyTheNamedSystemsMaySetTheReceiptTime) {
  IntakeLogic logic(log_, store_, clock_,
                    {.rules = {.received_at_systems = {"crm", "mail-gateway"}}});
  EXPECT_TRUE(logic.MaySetReceivedAt("crm"));
  EXPECT_TRUE(logic.MaySetReceivedAt("mail-gateway"));
  EXPECT_FALSE(logic.MaySetReceivedAt("web-form"));
  EXPECT_FALSE(logic_.MaySetReceivedAt("crm")) << "none by default";
}

TEST_F(IntakeLogicTest, TheCategoryMustBeAnActiveOneOfTheCatalogue) {
  auto categories = catalog::Catalog::Parse(R"(categories:
  - id: public-space
    labels: {nl: Openbare ruimte, fr: Espace public, en: Public space}
  - id: street-lighting
    parent: public-space
    labels: {nl: Straatverlichting, fr: Eclairage public, en: Street lighting}
  - id: kiosks
    labels: {nl: Kiosken, fr: Kiosques, en: Kiosks}
    active: false
)",
                                            "categories.yaml");
  ASSERT_TRUE(categories.ok()) << categories.status();
  catalog::CatalogFile file(*categories);
  IntakeLogic logic(log_, store_, clock_,
                    {.projection_wait = absl::Milliseconds(50), .catalog = &file});
  for (const char* category : {"graffiti", "kiosks"}) {
    v1::SubmitCaseRequest r = Request(std::string("cat-") + category);
    r.mutable_draft()->set_category(category);
    absl::Status status = logic.Submit(r, Deadline()).status();
    EXPECT_EQ(grpc_util::ErrorField(status), "draft.category") << status;
  }
  EXPECT_TRUE(log_.appended.empty()) << "a refused category changes nothing";
  EXPECT_TRUE(logic.Submit(Request("cat-ok"), Deadline()).ok()) << "street-lighting is in it";
  EXPECT_EQ(logic.Catalog()->Label("street-lighting", t::FR), "Eclairage public");
  EXPECT_EQ(logic_.Catalog(), nullptr) << "no catalogue configured";
}

TEST_F(IntakeLogicTest, KafkaUnavailableIsUnavailableAndARetryWorks) {
  log_.next_error = absl::UnavailableError("kafka did not acknowledge");
  EXPECT_EQ(logic_.Submit(Request(), Deadline()).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(store_.cases.empty());
  EXPECT_TRUE(store_.locks.empty()) << "a failed append must free the request key";
  log_.next_error = absl::OkStatus();
  auto retry = logic_.Submit(Request(), Deadline());
  ASSERT_TRUE(retry.ok());
  EXPECT_TRUE(retry->created);
}

TEST_F(IntakeLogicTest, ASubmissionWritesItsCaseAndTheFoldDropsTheEvent) {
  log_.consumer = nullptr;  // no fold: the case in the store is the submission's own write
  auto result = logic_.Submit(Request(), Deadline());
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(result->created);
  const std::string id = result->c.case_id();
  ASSERT_EQ(store_.cases.count(id), 1u);
  EXPECT_EQ(store_.cases[id].reference(), result->c.reference());
  EXPECT_EQ(store_.AppliedOffset(id).value(), -1) << "no offset: the fold still owns it";
  // The fold of the same event finds its id: nothing is applied twice.
  EXPECT_EQ(store_.Apply(log_.appended.back(), 0).value(), ApplyOutcome::kDuplicate);
}

TEST_F(IntakeLogicTest, ARepeatedSubmissionAppendedLaterLosesNoEventBetween) {
  // The first append (offset 0) lost its answer and nobody folded it; routing already reacted
  // to it (offset 1). The retry appends the same event again (offset 2) and writes the case.
  // Had that write stored offset 2, the fold would drop the event at offset 1.
  log_.consumer = nullptr;
  ASSERT_TRUE(logic_.Submit(Request(), Deadline()).ok());
  const events::Envelope first = log_.appended.back();
  store_.cases.clear();
  store_.seen.clear();
  store_.locks.clear();
  events::Envelope routed = events::NewEnvelope(first.case_id(), "routing", clock_.Now());
  routed.mutable_case_routed()->set_department("public-works");
  events::Finish(routed, "ev-routed");
  log_.appended.push_back(routed);
  auto retry = logic_.Submit(Request(), Deadline());
  ASSERT_TRUE(retry.ok()) << retry.status();
  ASSERT_EQ(log_.appended.size(), 3u);
  for (int64_t offset = 0; offset < 3; ++offset) {
    ASSERT_TRUE(store_.Apply(log_.appended[offset], offset).ok());
  }
  EXPECT_EQ(store_.cases[first.case_id()].department(), "public-works");
  EXPECT_EQ(store_.AppliedOffset(first.case_id()).value(), 1);
}

TEST_F(IntakeLogicTest, AnswersFromTheEventWhenTheProjectionCannotBeWritten) {
  log_.consumer = nullptr;
  log_.on_append = [&](const events::Envelope&) {
    store_.error = absl::UnavailableError("redis went away");
  };
  auto result = logic_.Submit(Request(), Deadline());
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(result->created);
  EXPECT_EQ(result->c.state(), t::RECEIVED);
  EXPECT_TRUE(store_.cases.empty());
}

TEST_F(IntakeLogicTest, TheStepsThatWaitRunWhereTheAppTellsIt) {
  std::vector<std::function<void()>> deferred;
  IntakeLogic logic(log_, store_, clock_, {.defer = [&](std::function<void()> work) {
                      deferred.push_back(std::move(work));
                    }});
  std::optional<absl::StatusOr<SubmitResult>> answer;
  logic.SubmitAsync(Request(), Deadline(), "",
                    [&](absl::StatusOr<SubmitResult> r) { answer = std::move(r); });
  EXPECT_TRUE(log_.appended.empty()) << "the calling thread touches no store";
  EXPECT_EQ(store_.begin_all_calls, 0);
  ASSERT_EQ(deferred.size(), 1u);
  deferred[0]();  // the start: lock, reference, append
  ASSERT_EQ(log_.appended.size(), 1u);
  EXPECT_FALSE(answer.has_value()) << "answered only by the finish";
  ASSERT_EQ(deferred.size(), 2u);
  deferred[1]();
  ASSERT_TRUE(answer.has_value());
  ASSERT_TRUE(answer->ok()) << answer->status();
  EXPECT_TRUE((*answer)->created);
  // Bad input is answered at once, on the calling thread.
  v1::SubmitCaseRequest bad = Request("req-bad");
  bad.mutable_draft()->set_description("");
  answer.reset();
  logic.SubmitAsync(bad, Deadline(), "", [&](absl::StatusOr<SubmitResult> r) { answer = r; });
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(answer->status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(deferred.size(), 2u);
}

TEST_F(IntakeLogicTest, SubmissionsAcknowledgedTogetherAreWrittenInOneRoundTrip) {
  log_.consumer = nullptr;  // only the submissions' own writes
  std::vector<std::function<void()>> deferred;
  IntakeLogic logic(log_, store_, clock_, {.defer = [&](std::function<void()> work) {
                      deferred.push_back(std::move(work));
                    }});
  std::vector<absl::StatusOr<SubmitResult>> answers;
  for (const char* key : {"req-a", "req-b", "req-c"}) {
    logic.SubmitAsync(Request(key), Deadline(), "",
                      [&](absl::StatusOr<SubmitResult> r) { answers.push_back(std::move(r)); });
  }
  ASSERT_EQ(deferred.size(), 1u) << "one starter for the three";
  deferred[0]();
  EXPECT_EQ(store_.begin_all_calls, 1) << "the three started at once";
  ASSERT_EQ(log_.appended.size(), 3u);
  EXPECT_TRUE(answers.empty());
  ASSERT_EQ(deferred.size(), 2u) << "one finisher for the three acknowledgements";
  deferred[1]();
  ASSERT_EQ(answers.size(), 3u);
  for (const absl::StatusOr<SubmitResult>& answer : answers) {
    ASSERT_TRUE(answer.ok()) << answer.status();
    EXPECT_TRUE(answer->created);
    EXPECT_EQ(answer->c.state(), t::RECEIVED);
  }
  EXPECT_EQ(store_.create_all_calls, 1) << "the three cases written at once";
  EXPECT_EQ(store_.cases.size(), 3u);
  // Those are done: the next submission queues another starter, then another finisher.
  logic.SubmitAsync(Request("req-d"), Deadline(), "",
                    [&](absl::StatusOr<SubmitResult> r) { answers.push_back(std::move(r)); });
  ASSERT_EQ(deferred.size(), 3u);
  deferred[2]();
  ASSERT_EQ(deferred.size(), 4u);
  deferred[3]();
  EXPECT_EQ(answers.size(), 4u);
}

TEST_F(IntakeLogicTest, ABatchStartsInOneRoundTripAndMakesItsKeysInAnother) {
  log_.consumer = nullptr;
  privacy::testing::CountingKeyStore keys;
  std::vector<std::function<void()>> deferred;
  IntakeLogic logic(
      log_, store_, clock_,
      {.projection_wait = absl::Milliseconds(50),
       .keys = &keys,
       .defer = [&](std::function<void()> work) { deferred.push_back(std::move(work)); }});
  // A case submitted before: its key answers with it, and nothing is appended for it.
  ASSERT_TRUE(logic_.Submit(Request("req-known"), Deadline()).ok());
  const size_t appended_before = log_.appended.size();
  const int begun_before = store_.begin_all_calls;
  std::map<std::string, absl::StatusOr<SubmitResult>> answers;
  auto submit = [&](const std::string& label, v1::SubmitCaseRequest request) {
    logic.SubmitAsync(std::move(request), Deadline(), "",
                      [&, label](absl::StatusOr<SubmitResult> r) {
                        answers.insert_or_assign(label, std::move(r));
                      });
  };
  submit("a", Request("req-a"));
  submit("b", Request("req-b"));
  submit("a again", Request("req-a"));  // the same key in the same batch
  submit("known", Request("req-known"));
  v1::SubmitCaseRequest anonymous = Request("req-anon");
  anonymous.mutable_draft()->clear_reporter();
  anonymous.mutable_draft()->mutable_reporter()->set_anonymous(true);
  submit("anonymous", anonymous);
  ASSERT_EQ(deferred.size(), 1u);
  deferred[0]();
  EXPECT_EQ(store_.begin_all_calls, begun_before + 1);
  EXPECT_EQ(keys.keys_for, 1) << "the batch's keys made at once";
  EXPECT_EQ(keys.key_for, 0) << "no key made alone";
  EXPECT_EQ(keys.round_trips(), 1);
  ASSERT_EQ(log_.appended.size(), appended_before + 3) << "a, b and the anonymous one";
  for (size_t i = appended_before; i < log_.appended.size(); ++i) {
    const t::Reporter& reporter = log_.appended[i].case_submitted().draft().reporter();
    EXPECT_TRUE(reporter.name().empty() && reporter.email().empty()) << "sealed";
    EXPECT_EQ(reporter.sealed().empty(),
              log_.appended[i].case_submitted().request_key() == "req-anon");
  }
  // The known key is answered by the start.
  ASSERT_EQ(answers.count("known"), 1u);
  ASSERT_TRUE(answers.at("known").ok()) << answers.at("known").status();
  EXPECT_FALSE(answers.at("known")->created);
  // The finish writes the new cases; the second call with req-a then finds its case.
  ASSERT_EQ(deferred.size(), 3u) << "the starter, the wait for req-a's case, the finisher";
  deferred[2]();
  deferred[1]();
  ASSERT_EQ(answers.size(), 5u);
  for (const char* label : {"a", "b", "anonymous"}) {
    ASSERT_TRUE(answers.at(label).ok()) << label << ": " << answers.at(label).status();
    EXPECT_TRUE(answers.at(label)->created) << label;
  }
  ASSERT_TRUE(answers.at("a again").ok()) << answers.at("a again").status();
  EXPECT_FALSE(answers.at("a again")->created);
  EXPECT_EQ(answers.at("a again")->c.case_id(), answers.at("a")->c.case_id());
}

TEST_F(IntakeLogicTest, AReporterSentAsSealedIsRefusedBeforeAnyStoreIsTouched) {
  privacy::testing::CountingKeyStore keys;
  IntakeLogic logic(log_, store_, clock_, {.keys = &keys});
  v1::SubmitCaseRequest forged = Request("req-forged");
  forged.mutable_draft()->mutable_reporter()->set_sealed("from-outside");
  auto result = logic.Submit(forged, Deadline());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument) << result.status();
  EXPECT_NE(result.status().message().find("draft.reporter.sealed"), std::string::npos);
  EXPECT_EQ(store_.begin_all_calls, 0) << "no lock, no reference taken";
  EXPECT_TRUE(store_.refs.empty());
  EXPECT_EQ(keys.round_trips(), 0);
  EXPECT_TRUE(log_.appended.empty());
}

TEST_F(IntakeLogicTest, ASubmittedCaseTheProjectionLacksIsRetryNotNotFound) {
  log_.consumer = nullptr;  // nobody folds
  auto result = logic_.Submit(Request(), Deadline());
  ASSERT_TRUE(result.ok()) << result.status();
  const std::string case_id = result->c.case_id();
  store_.cases.erase(case_id);  // its write was lost (Redis restarted without it)
  store_.seen.erase(case_id);
  auto got = logic_.Get(case_id);
  EXPECT_EQ(got.status().code(), absl::StatusCode::kUnavailable) << got.status();
  EXPECT_NE(got.status().message().find("retry"), std::string::npos);
  // By reference too.
  EXPECT_EQ(logic_.Get(result->c.reference()).status().code(), absl::StatusCode::kUnavailable);
  // Once folded, it shows.
  ASSERT_TRUE(store_.Apply(log_.appended.back(), 0).ok());
  ASSERT_TRUE(logic_.Get(case_id).ok());
  // A case nobody submitted is NOT_FOUND at once.
  EXPECT_EQ(logic_.Get(events::CaseIdFor("web-form", "never-sent")).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(IntakeLogicTest, AppendWaitsNoLongerThanTheCallDeadline) {
  const absl::Time short_deadline = absl::Now() + absl::Seconds(2);
  ASSERT_TRUE(logic_.Submit(Request(), short_deadline).ok());
  EXPECT_EQ(log_.last_deadline, short_deadline);
}

TEST_F(IntakeLogicTest, CaseworkFollowsTheStateMachine) {
  auto submitted = logic_.Submit(Request(), Deadline());
  const std::string id = submitted->c.case_id();
  // Not routed yet: accepting is refused, naming the state, and nothing is appended.
  auto early = logic_.Execute(*AcceptCommand(Cmd<v1::AcceptCaseRequest>(id)), Deadline());
  EXPECT_EQ(early.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(early.status().message().find("RECEIVED"), std::string::npos) << early.status();
  EXPECT_EQ(log_.appended.size(), 1u);
  External(id,
           [](events::Envelope& e) { e.mutable_case_routed()->set_department("public-works"); });
  auto accepted = logic_.Execute(*AcceptCommand(Cmd<v1::AcceptCaseRequest>(id)), Deadline());
  ASSERT_TRUE(accepted.ok()) << accepted.status();
  EXPECT_EQ(accepted->c.state(), t::ACCEPTED);
  auto question = Cmd<v1::RequestInformationRequest>(id);
  question.set_question("Which lamp post number?");
  ASSERT_EQ(logic_.Execute(*RequestInformationCommand(question), Deadline())->c.state(),
            t::WAITING_FOR_REPORTER);
  v1::ProvideInformationRequest info;
  info.set_case_id(id);
  info.set_text("Number 1234");
  auto provided = logic_.Execute(*ProvideInformationCommand(info), Deadline());
  ASSERT_TRUE(provided.ok());
  EXPECT_EQ(provided->c.state(), t::IN_PROGRESS);
  EXPECT_EQ(log_.appended.back().actor().id(), "reporter");
  auto answer = Cmd<v1::AnswerCaseRequest>(id);
  answer.set_answer("Repaired.");
  answer.set_outcome(events::v1::FOUNDED);
  EXPECT_EQ(grpc_util::ErrorField(logic_.Execute(*AnswerCommand(answer), Deadline()).status()),
            "outcome");
  answer.clear_outcome();
  ASSERT_EQ(logic_.Execute(*AnswerCommand(answer), Deadline())->c.state(), t::ANSWERED);
  v1::ReopenCaseRequest reopen;
  reopen.set_case_id(id);
  reopen.set_reason("Still dark");
  clock_.Advance(absl::Hours(24 * 61));
  auto late = logic_.Execute(*ReopenCommand(reopen, {}), Deadline());
  EXPECT_EQ(late.status().code(), absl::StatusCode::kFailedPrecondition) << late.status();
  clock_.Advance(-absl::Hours(24 * 60));
  ASSERT_EQ(logic_.Execute(*ReopenCommand(reopen, {}), Deadline())->c.state(), t::REOPENED);
}

TEST_F(IntakeLogicTest, RepeatedCommandIdAppendsNothingNew) {
  auto submitted = logic_.Submit(Request(), Deadline());
  const std::string id = submitted->c.case_id();
  External(id,
           [](events::Envelope& e) { e.mutable_case_routed()->set_department("public-works"); });
  auto accept = Cmd<v1::AcceptCaseRequest>(id);
  accept.set_command_id("accept-1");
  auto first = logic_.Execute(*AcceptCommand(accept), Deadline());
  auto again = logic_.Execute(*AcceptCommand(accept), Deadline());
  ASSERT_TRUE(first.ok() && again.ok()) << again.status();
  EXPECT_EQ(first->event_id, again->event_id);
  EXPECT_EQ(log_.appended.size(), 3u);
}

TEST_F(IntakeLogicTest, CommandsValidateTheirFields) {
  auto submitted = logic_.Submit(Request("v", t::COMPLAINT), Deadline());
  const std::string id = submitted->c.case_id();
  auto bad_actor = Cmd<v1::AcceptCaseRequest>(id);
  bad_actor.mutable_actor()->set_id("two words");
  EXPECT_EQ(grpc_util::ErrorField(AcceptCommand(bad_actor).status()), "actor.id");
  // No actor named: the caller is recorded (the gRPC adapter sets it from its credentials).
  auto no_actor = Cmd<v1::AcceptCaseRequest>(id);
  no_actor.clear_actor();
  EXPECT_TRUE(AcceptCommand(no_actor).ok());
  auto bounce = Cmd<v1::BounceCaseRequest>(id);
  EXPECT_EQ(grpc_util::ErrorField(BounceCommand(bounce).status()), "reason");
  auto decide = Cmd<v1::DecideAdmissibilityRequest>(id);
  decide.set_admissible(false);
  EXPECT_EQ(grpc_util::ErrorField(DecideAdmissibilityCommand(decide).status()), "ground");
  decide.set_ground(events::v1::FACTS_OLDER_THAN_ONE_YEAR);
  EXPECT_EQ(grpc_util::ErrorField(DecideAdmissibilityCommand(decide).status()), "motivation");
  decide.set_motivation("The facts date from 2023.");
  auto decided = logic_.Execute(*DecideAdmissibilityCommand(decide), Deadline());
  ASSERT_TRUE(decided.ok()) << decided.status();
  EXPECT_EQ(decided->c.state(), t::INADMISSIBLE);
  EXPECT_EQ(decided->c.inadmissibility_ground(), "FACTS_OLDER_THAN_ONE_YEAR");
  auto reassign = Cmd<v1::ReassignCaseRequest>(id);
  reassign.set_department("Not A Slug");
  EXPECT_EQ(grpc_util::ErrorField(ReassignCommand(reassign).status()), "department");
  EXPECT_EQ(logic_.Get("MP-0123456789ABC").status().code(), absl::StatusCode::kNotFound);
  auto unknown = Cmd<v1::AcceptCaseRequest>("MP-0123456789ABC");
  EXPECT_EQ(logic_.Execute(*AcceptCommand(unknown), Deadline()).status().code(),
            absl::StatusCode::kNotFound);
}

// The coordinator's lever: a new priority with a reason, on the log with the case's previous one.
TEST_F(IntakeLogicTest, ChangePriorityNeedsAPriorityAReasonAndAChange) {
  auto submitted = logic_.Submit(Request(), Deadline());
  const std::string id = submitted->c.case_id();
  const size_t appended = log_.appended.size();
  auto change = Cmd<v1::ChangePriorityRequest>(id);
  change.set_reason("gas smell reported by the fire brigade");
  EXPECT_EQ(grpc_util::ErrorField(ChangePriorityCommand(change).status()), "priority");
  change.set_priority(static_cast<t::Priority>(17));
  EXPECT_EQ(grpc_util::ErrorField(ChangePriorityCommand(change).status()), "priority");
  change.set_priority(t::URGENT);
  change.set_reason("  ");
  EXPECT_EQ(grpc_util::ErrorField(ChangePriorityCommand(change).status()), "reason");
  change.set_reason("gas smell reported by the fire brigade");

  // The case is NORMAL: NORMAL again is refused and appends nothing.
  auto same = change;
  same.set_priority(t::NORMAL);
  auto refused = logic_.Execute(*ChangePriorityCommand(same), Deadline());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition) << refused.status();
  EXPECT_NE(refused.status().message().find("NORMAL already"), std::string::npos);
  EXPECT_EQ(log_.appended.size(), appended);

  change.set_command_id("prio-1");
  auto changed = logic_.Execute(*ChangePriorityCommand(change), Deadline());
  ASSERT_TRUE(changed.ok()) << changed.status();
  EXPECT_EQ(changed->c.priority(), t::URGENT);
  ASSERT_EQ(log_.appended.size(), appended + 1);
  const events::Envelope& event = log_.appended.back();
  ASSERT_TRUE(event.has_priority_changed());
  EXPECT_EQ(event.priority_changed().previous(), t::NORMAL);
  EXPECT_EQ(event.priority_changed().priority(), t::URGENT);
  EXPECT_EQ(event.priority_changed().reason(), "gas smell reported by the fire brigade");
  auto again = logic_.Execute(*ChangePriorityCommand(change), Deadline());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->event_id, changed->event_id);
  EXPECT_EQ(log_.appended.size(), appended + 1);

  // A withdrawn case keeps the priority it had.
  v1::WithdrawCaseRequest withdraw;
  withdraw.set_case_id(id);
  withdraw.set_reason("solved");
  ASSERT_TRUE(logic_.Execute(*WithdrawCommand(withdraw), Deadline()).ok());
  auto low = Cmd<v1::ChangePriorityRequest>(id);
  low.set_priority(t::LOW);
  low.set_reason("not so urgent after all");
  EXPECT_EQ(logic_.Execute(*ChangePriorityCommand(low), Deadline()).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(IntakeLogicTest, MergeNeedsAnotherOpenMaster) {
  const std::string a = logic_.Submit(Request("a"), Deadline())->c.case_id();
  const std::string b = logic_.Submit(Request("b"), Deadline())->c.case_id();
  auto merge = Cmd<v1::MergeCaseRequest>(b);
  EXPECT_EQ(grpc_util::ErrorField(MergeCommand(merge).status()), "master_case_id");
  merge.set_master_case_id(b);
  EXPECT_EQ(grpc_util::ErrorField(logic_.Merge(*MergeCommand(merge), b, Deadline()).status()),
            "master_case_id");
  merge.set_master_case_id(a);
  auto merged = logic_.Merge(*MergeCommand(merge), a, Deadline());
  ASSERT_TRUE(merged.ok()) << merged.status();
  EXPECT_EQ(merged->c.state(), t::MERGED);
  EXPECT_EQ(merged->c.master_case_id(), a);
  ASSERT_TRUE(log_.appended.back().has_case_merged());
  EXPECT_EQ(log_.appended.back().case_merged().master_reference(), logic_.Get(a)->reference())
      << "the reporter's letter names the master by its reference";
  EXPECT_FALSE(log_.appended.back().case_merged().master_reference().empty());
  auto into_merged = Cmd<v1::MergeCaseRequest>(a);
  into_merged.set_master_case_id(b);
  EXPECT_EQ(logic_.Merge(*MergeCommand(into_merged), b, Deadline()).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(IntakeLogicTest, ListValidatesItsArguments) {
  v1::ListCasesRequest r;
  r.set_page_size(500);
  EXPECT_EQ(grpc_util::ErrorField(logic_.List(r).status()), "page_size");
  r.set_page_size(10);
  r.set_page_token("garbage");
  EXPECT_EQ(grpc_util::ErrorField(logic_.List(r).status()), "page_token");
  r.clear_page_token();
  r.mutable_submitted_from()->set_seconds(100);
  r.mutable_submitted_to()->set_seconds(50);
  EXPECT_EQ(grpc_util::ErrorField(logic_.List(r).status()), "submitted_to");
}

}  // namespace
}  // namespace meldpunt::intake
