// The intake in-process against the real Kafka broker and redis-server of the test stack, called
// over real gRPC.
#include <grpcpp/grpcpp.h>
#include <grpcpp/impl/codegen/client_unary_call.h>

#include <gtest/gtest.h>

#include <memory>

#include <signal.h>
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"

#include "absl/strings/str_join.h"
#include "libs/events/codec.h"
#include "libs/events/ids.h"
#include "libs/events/topics.h"
#include "libs/kafka/consumer.h"
#include "libs/redis/redis.h"
#include "libs/status/retry.h"
#include "meldpunt/intake/v1/intake.grpc.pb.h"
#include "services/intake/app.h"
#include "services/intake/retention.h"
#include "services/intake/testing/events.h"
#include "tests/testing/stack.h"

namespace meldpunt::intake {
namespace {

namespace harness = ::meldpunt::testing;

namespace t = ::meldpunt::types::v1;

class IntakeIntegration : public ::testing::Test {
 protected:
  void SetUp() override {
    auto stack = harness::LoadStack();
    ASSERT_TRUE(stack.ok()) << stack.status();
    stack_ = *stack;
  }

  IntakeConfig Config(const std::string& brokers) {
    IntakeConfig config;
    config.grpc_listen = "127.0.0.1:0";
    config.grpc_plaintext_loopback = true;
    config.admin_listen = "127.0.0.1:0";
    harness::UseStackKafka(stack_, config);
    config.kafka_brokers = brokers;  // a closed port in the tests of Kafka being down
    config.redis_address = stack_.redis;
    config.privacy_master_key_file = harness::DevMasterKeyFile();
    config.key_store_address = stack_.key_store;
    config.consumer_group = harness::UniqueName("intake-test");
    config.produce_timeout = absl::Seconds(5);
    config.startup_timeout = absl::Seconds(30);
    return config;
  }

  static std::unique_ptr<v1::Intake::Stub> Stub(int port) {
    return v1::Intake::NewStub(grpc::CreateChannel("127.0.0.1:" + std::to_string(port),
                                                   grpc::InsecureChannelCredentials()));
  }

  static v1::SubmitCaseRequest Request(const std::string& key) {
    v1::SubmitCaseRequest r;
    r.set_submitting_system("integration-test");
    r.set_request_key(key);
    auto* d = r.mutable_draft();
    d->set_kind(t::REPORT);
    d->set_channel(t::APP);
    d->set_category("street-lighting");
    d->set_description("Street light out at the market square");
    d->mutable_reporter()->set_name("An Janssens");
    d->mutable_reporter()->set_email("an@example.org");
    return r;
  }

  static grpc::Status Submit(v1::Intake::Stub& stub, const v1::SubmitCaseRequest& request,
                             v1::SubmitCaseResponse* response,
                             absl::Duration deadline = absl::Seconds(20)) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + deadline));
    return stub.SubmitCase(&context, request, response);
  }

  harness::Stack stack_;
};

TEST_F(IntakeIntegration, SubmitIsInTheLogAndReadableAtOnce) {
  IntakeApp app(Config(stack_.kafka));
  ASSERT_TRUE(app.Start().ok());
  auto stub = Stub(app.grpc_port());
  const std::string key = harness::UniqueName("key");
  v1::SubmitCaseResponse response;
  grpc::Status status = Submit(*stub, Request(key), &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(response.created());
  const std::string case_id = response.case_id();

  // Read-your-writes.
  grpc::ClientContext get_context;
  v1::GetCaseRequest get;
  get.set_case_id(case_id);
  v1::GetCaseResponse got;
  ASSERT_TRUE(stub->GetCase(&get_context, get, &got).ok());
  EXPECT_EQ(got.case_().state(), t::RECEIVED);
  EXPECT_EQ(got.case_().draft().category(), "street-lighting");

  // The same key again: same case, nothing new.
  v1::SubmitCaseResponse again;
  ASSERT_TRUE(Submit(*stub, Request(key), &again).ok());
  EXPECT_FALSE(again.created());
  EXPECT_EQ(again.case_id(), case_id);

  // Exactly one CaseSubmitted for this case in the real log.
  auto consumer = kafka::Consumer::Create({.brokers = stack_.kafka,
                                           .group_id = harness::UniqueName("reader"),
                                           .topics = {events::kCaseEventsTopic},
                                           .extra = stack_.kafka_properties});
  ASSERT_TRUE(consumer.ok());
  int found = 0;
  const absl::Time until = absl::Now() + absl::Seconds(20);
  bool seen = false;
  while (absl::Now() < until) {
    auto record = (*consumer)->Poll(absl::Milliseconds(200));
    ASSERT_TRUE(record.ok());
    if (!record->has_value()) {
      if (seen) break;  // caught up after seeing it
      continue;
    }
    if ((*record)->key != case_id) continue;
    auto envelope = events::Decode((*record)->value);
    ASSERT_TRUE(envelope.ok());
    EXPECT_EQ(envelope->type(), "CaseSubmitted");
    ++found;
    seen = true;
  }
  EXPECT_EQ(found, 1);
  app.Stop();
}

TEST_F(IntakeIntegration, BadInputIsInvalidArgumentWithTheField) {
  IntakeApp app(Config(stack_.kafka));
  ASSERT_TRUE(app.Start().ok());
  auto stub = Stub(app.grpc_port());
  auto request = Request(harness::UniqueName("bad"));
  request.mutable_draft()->mutable_reporter()->set_email("nope");
  v1::SubmitCaseResponse response;
  grpc::Status status = Submit(*stub, request, &response);
  ASSERT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("draft.reporter.email"), std::string::npos);
  google::rpc::Status rich;
  ASSERT_TRUE(rich.ParseFromString(status.error_details()));
  google::rpc::BadRequest bad;
  ASSERT_TRUE(bad.ParseFromString(rich.details(0).value()));
  EXPECT_EQ(bad.field_violations(0).field(), "draft.reporter.email");
  // Nothing was stored for it.
  grpc::ClientContext get_context;
  v1::GetCaseRequest get;
  get.set_case_id(events::CaseIdFor(request.submitting_system(), request.request_key()));
  v1::GetCaseResponse got;
  EXPECT_EQ(stub->GetCase(&get_context, get, &got).error_code(), grpc::StatusCode::NOT_FOUND);

  // A request that does not parse (a description that is not UTF-8) names its field too.
  auto broken = Request(harness::UniqueName("utf8"));
  broken.mutable_draft()->set_description("Lamp @@ stuk");
  std::string bytes = broken.SerializeAsString();
  bytes.replace(bytes.find("@@"), 2, "\xc3\x28");
  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(app.grpc_port()),
                                     grpc::InsecureChannelCredentials());
  grpc::internal::RpcMethod method("/meldpunt.intake.v1.Intake/SubmitCase",
                                   grpc::internal::RpcMethod::NORMAL_RPC);
  grpc::ClientContext raw_context;
  raw_context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
  grpc::Slice slice(bytes);
  grpc::ByteBuffer raw_request(&slice, 1);
  grpc::ByteBuffer raw_response;
  grpc::Status unparsable = grpc::internal::BlockingUnaryCall(channel.get(), method, &raw_context,
                                                              raw_request, &raw_response);
  ASSERT_EQ(unparsable.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(unparsable.error_message(), "draft.description: is not valid UTF-8");
  google::rpc::Status unparsable_rich;
  ASSERT_TRUE(unparsable_rich.ParseFromString(unparsable.error_details()));
  google::rpc::BadRequest unparsable_bad;
  ASSERT_TRUE(unparsable_bad.ParseFromString(unparsable_rich.details(0).value()));
  EXPECT_EQ(unparsable_bad.field_violations(0).field(), "draft.description");
  app.Stop();
}

// Kafka down while the intake runs: the broker process is frozen (SIGSTOP), so nothing it
// receives is acknowledged. SubmitCase must fail with UNAVAILABLE around the call deadline, never
// OK.
TEST_F(IntakeIntegration, KafkaDownGivesUnavailableWithinTheCallDeadlineNeverOk) {
  ASSERT_GT(stack_.pids.count("kafka"), 0u);
  const int kafka_pid = stack_.pids.at("kafka");
  IntakeApp app(Config(stack_.kafka));
  ASSERT_TRUE(app.Start().ok());
  auto stub = Stub(app.grpc_port());
  v1::SubmitCaseResponse warm;
  ASSERT_TRUE(Submit(*stub, Request(harness::UniqueName("warm")), &warm).ok());

  ASSERT_EQ(kill(kafka_pid, SIGSTOP), 0);
  const absl::Time start = absl::Now();
  v1::SubmitCaseResponse response;
  const std::string key = harness::UniqueName("down");
  grpc::Status status = Submit(*stub, Request(key), &response, absl::Seconds(3));
  const absl::Duration took = absl::Now() - start;
  ASSERT_EQ(kill(kafka_pid, SIGCONT), 0);
  EXPECT_TRUE(status.error_code() == grpc::StatusCode::UNAVAILABLE ||
              status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED)
      << status.error_code() << " " << status.error_message();
  EXPECT_LT(took, absl::Seconds(8));  // bounded by the call deadline, with slack for a busy machine

  // Once the broker is back, the retry with the same key succeeds.
  v1::SubmitCaseResponse retry;
  grpc::Status retried = Submit(*stub, Request(key), &retry, absl::Seconds(30));
  EXPECT_TRUE(retried.ok()) << retried.error_message();
  app.Stop();
}

// A broker that is not there at all: the intake does not start (and says why).
TEST_F(IntakeIntegration, NoBrokerAtStartIsUnavailable) {
  IntakeConfig config = Config("127.0.0.1:" + std::to_string(harness::ClosedPort()));
  config.startup_timeout = absl::Seconds(2);
  IntakeApp app(config);
  absl::Status started = app.Start();
  EXPECT_EQ(started.code(), absl::StatusCode::kUnavailable) << started;
  EXPECT_NE(started.message().find("kafka"), std::string::npos);
}

// Issue 18: a submission across a FLUSHALL and the rebuild after it. Its reference claim (the
// intake's evidence that it was submitted) went with the FLUSHALL, and its event came after the
// end positions of the rebuild's replay, before the live projection consumer is back. GetCase
// must answer "retry" while the rebuild runs, never NOT_FOUND, and show the case once the rebuild
// has returned.
TEST_F(IntakeIntegration, ACaseSubmittedAcrossARebuildIsNeverNotFound) {
  IntakeConfig config = Config(stack_.kafka);
  config.projection_wait = absl::Milliseconds(300);
  IntakeApp app(config);
  ASSERT_TRUE(app.Start().ok());
  auto stub = Stub(app.grpc_port());
  auto redis = redis::Client::Create({.address = stack_.redis});
  ASSERT_TRUE(redis.ok()) << redis.status();
  auto get_case = [&](const std::string& case_id) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
    v1::GetCaseRequest get;
    get.set_case_id(case_id);
    v1::GetCaseResponse got;
    return stub->GetCase(&context, get, &got);
  };
  std::string case_id;
  grpc::Status during;
  int steps = 0;
  app.SetRebuildHookForTest([&](const std::string& step) {
    if (step != "replayed") return;
    ++steps;
    v1::SubmitCaseResponse response;
    // The projection consumer is stopped; the intake writes the new case itself.
    grpc::Status submitted = Submit(*stub, Request(harness::UniqueName("across")), &response);
    ASSERT_TRUE(submitted.ok()) << submitted.error_message();
    case_id = response.case_id();
    grpc::Status written = get_case(case_id);
    EXPECT_TRUE(written.ok()) << written.error_code() << " " << written.error_message();
    // What the FLUSHALL did to a claim and a case written before it.
    const std::string key = "mp:case:{" + case_id + "}";
    auto removed = (*redis)->Pipeline(
        {{"HDEL", "mp:refs", response.reference()}, {"DEL", key, key + ":history"}});
    ASSERT_TRUE(removed.ok()) << removed.status();
    during = get_case(case_id);
  });
  absl::StatusOr<v1::RebuildProjectionResponse> rebuilt = app.RebuildProjection();
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.status();
  ASSERT_EQ(steps, 1);
  ASSERT_FALSE(case_id.empty());
  EXPECT_EQ(during.error_code(), grpc::StatusCode::UNAVAILABLE) << during.error_message();
  // At once after the rebuild, as for the load's read-your-writes check.
  grpc::Status after = get_case(case_id);
  EXPECT_TRUE(after.ok()) << after.error_code() << " " << after.error_message();
  app.Stop();
}

// Redis loses the projection (here: its marker and one case's keys, as a FLUSHALL would; the
// shared Redis of the other tests is spared): the intake notices it by itself, answers
// UNAVAILABLE meanwhile, never NOT_FOUND for the case that exists, and rebuilds it from the log.
TEST_F(IntakeIntegration, ALostProjectionIsNoticedAndRebuiltWithoutAnOperator) {
  IntakeApp app(Config(stack_.kafka));
  ASSERT_TRUE(app.Start().ok());
  auto stub = Stub(app.grpc_port());
  auto redis = redis::Client::Create({.address = stack_.redis});
  ASSERT_TRUE(redis.ok()) << redis.status();
  // A first start on a Redis without the marker rebuilds at once; wait for the marker.
  ASSERT_TRUE(harness::Eventually(
      [&] {
        absl::StatusOr<bool> intact = redis::HasMarker(**redis, "mp:intake:intact");
        return intact.ok() && *intact;
      },
      absl::Seconds(120)));
  v1::SubmitCaseResponse submitted;
  grpc::Status status = Submit(*stub, Request(harness::UniqueName("lost")), &submitted);
  ASSERT_TRUE(status.ok()) << status.error_message();
  auto get_case = [&] {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
    v1::GetCaseRequest get;
    get.set_case_id(submitted.case_id());
    v1::GetCaseResponse got;
    return stub->GetCase(&context, get, &got);
  };
  ASSERT_TRUE(get_case().ok());

  auto removed =
      (*redis)->Pipeline({{"DEL", "mp:intake:intact", "mp:case:{" + submitted.case_id() + "}"},
                          {"HDEL", "mp:refs", submitted.reference()}});
  ASSERT_TRUE(removed.ok()) << removed.status();
  int unavailable = 0;
  std::vector<std::string> wrong;
  const bool back = harness::Eventually(
      [&] {
        grpc::Status got = get_case();
        if (got.error_code() == grpc::StatusCode::UNAVAILABLE) ++unavailable;
        if (!got.ok() && got.error_code() != grpc::StatusCode::UNAVAILABLE) {
          wrong.push_back(absl::StrCat(got.error_code(), " ", got.error_message()));
        }
        return got.ok();
      },
      absl::Seconds(120));
  EXPECT_TRUE(back) << "the case did not come back without an operator";
  EXPECT_TRUE(wrong.empty()) << absl::StrJoin(wrong, "; ");
  EXPECT_TRUE(harness::Eventually(
      [&] {
        absl::StatusOr<bool> intact = redis::HasMarker(**redis, "mp:intake:intact");
        return intact.ok() && *intact;
      },
      absl::Seconds(60)))
      << "the rebuild marks the projection complete again";
  app.Stop();
}

}  // namespace
}  // namespace meldpunt::intake

namespace meldpunt::intake {
namespace {

// The events of one case, as the log would carry them: a submission, its routing, a repeat of
// the routing (folded before), a withdrawal and a reopening the closed... state refuses or allows.
std::vector<events::Envelope> CaseEvents(const std::string& case_id, const std::string& key) {
  std::vector<events::Envelope> out;
  events::Envelope submitted = events::NewEnvelope(case_id, "intake", absl::Now());
  auto* s = submitted.mutable_case_submitted();
  s->set_submitting_system("batch-test");
  s->set_request_key(key);
  s->set_reference(events::ReferenceFor(case_id, 2026, 8));
  s->mutable_draft()->set_kind(types::v1::REPORT);
  s->mutable_draft()->set_category("street-lighting");
  s->mutable_draft()->set_description("Lamp out");
  events::Finish(submitted, "sub-" + case_id);
  out.push_back(submitted);
  events::Envelope routed = events::NewEnvelope(case_id, "routing", absl::Now());
  routed.mutable_case_routed()->set_department("public-works");
  events::Finish(routed, "routed-" + case_id);
  out.push_back(routed);
  out.push_back(routed);  // the same event again
  events::Envelope refused = events::NewEnvelope(case_id, "intake", absl::Now());
  refused.mutable_case_reopened();  // an open case cannot be reopened: kept as refused
  events::Finish(refused, "reopen-" + case_id);
  out.push_back(refused);
  events::Envelope withdrawn = events::NewEnvelope(case_id, "intake", absl::Now());
  withdrawn.mutable_case_withdrawn();
  events::Finish(withdrawn, "withdrawn-" + case_id);
  out.push_back(withdrawn);
  return out;
}

// The projection's store on the test stack's Redis, with its scripts.
class CaseStoreIntegration : public ::testing::Test {
 protected:
  void SetUp() override {
    auto stack = harness::LoadStack();
    ASSERT_TRUE(stack.ok()) << stack.status();
    auto redis =
        redis::Client::Create({.address = stack->redis, .scripts = RedisCaseStore::Scripts()});
    ASSERT_TRUE(redis.ok()) << redis.status();
    redis_ = *std::move(redis);
    store_ = std::make_unique<RedisCaseStore>(*redis_);
  }

  // A run folded as the rebuild's replay folds it: under the rebuild lock, taken by `store` for
  // the call.
  absl::StatusOr<std::vector<FoldOutcome>> Replay(RedisCaseStore& store,
                                                  const std::vector<FoldInput>& run) {
    const std::string owner = harness::UniqueName("replay");
    absl::StatusOr<bool> locked = store.TryLockRebuild(owner, absl::Minutes(1));
    if (!locked.ok()) return locked.status();
    if (!*locked) return absl::AbortedError("the rebuild lock is held");
    absl::StatusOr<std::vector<FoldOutcome>> folded = store.ApplyAll(run, FoldFence::kNone);
    if (absl::Status unlocked = store.UnlockRebuild(owner); !unlocked.ok()) return unlocked;
    return folded;
  }

  std::unique_ptr<redis::Client> redis_;
  std::unique_ptr<RedisCaseStore> store_;
};

TEST_F(CaseStoreIntegration, ABatchFoldsAsOneByOneWithTwoRoundTrips) {
  RedisCaseStore& store = *store_;
  const std::string one = events::CaseIdFor("batch-test", harness::UniqueName("one"));
  const std::string batch = events::CaseIdFor("batch-test", harness::UniqueName("batch"));
  const std::string other = events::CaseIdFor("batch-test", harness::UniqueName("other"));

  // One by one, the reference.
  std::vector<ApplyOutcome> expected;
  for (const events::Envelope& e : CaseEvents(one, "one")) {
    auto outcome = store.Apply(e, -1);
    ASSERT_TRUE(outcome.ok()) << outcome.status();
    expected.push_back(*outcome);
  }
  EXPECT_EQ(expected, (std::vector<ApplyOutcome>{ApplyOutcome::kApplied, ApplyOutcome::kApplied,
                                                 ApplyOutcome::kDuplicate, ApplyOutcome::kRejected,
                                                 ApplyOutcome::kApplied}));

  // Two cases interleaved in one run, with offsets, plus an event of a case never submitted.
  std::vector<events::Envelope> a = CaseEvents(batch, "batch");
  std::vector<events::Envelope> b = CaseEvents(other, "other");
  events::Envelope stray = events::NewEnvelope(
      events::CaseIdFor("batch-test", harness::UniqueName("never")), "routing", absl::Now());
  stray.mutable_case_routed()->set_department("public-works");
  events::Finish(stray, harness::UniqueName("stray"));
  std::vector<FoldInput> run;
  int64_t offset = 100;
  for (size_t i = 0; i < a.size(); ++i) {
    run.push_back({&a[i], offset++});
    run.push_back({&b[i], offset++});
  }
  run.push_back({&stray, offset++});
  auto outcomes = Replay(store, run);
  ASSERT_TRUE(outcomes.ok()) << outcomes.status();
  for (size_t i = 0; i < a.size(); ++i) {
    for (size_t k : {2 * i, 2 * i + 1}) {
      ASSERT_TRUE((*outcomes)[k].outcome.ok()) << (*outcomes)[k].outcome.status();
      EXPECT_EQ(*(*outcomes)[k].outcome, expected[i]) << "event " << i;
    }
  }
  EXPECT_EQ((*outcomes)[run.size() - 1].outcome.status().code(),
            absl::StatusCode::kFailedPrecondition);
  // The same state, history and indexes as folding one by one.
  auto by_one = store.Get(one);
  auto by_batch = store.Get(batch);
  ASSERT_TRUE(by_one.ok() && by_one->has_value() && by_batch.ok() && by_batch->has_value());
  EXPECT_EQ((*by_batch)->state(), (*by_one)->state());
  EXPECT_EQ((*by_batch)->department(), "public-works");
  EXPECT_EQ((*by_batch)->rejected_events(), 1);
  ASSERT_NE((*outcomes)[2 * (a.size() - 1)].folded, nullptr);
  EXPECT_EQ((*outcomes)[2 * (a.size() - 1)].folded->state(), (*by_batch)->state());
  EXPECT_EQ(store.History(batch)->size(), store.History(one)->size());
  EXPECT_EQ(store.ResolveReference(a[0].case_submitted().reference()).value(), batch);
  EXPECT_EQ(store.AppliedOffset(batch).value(), 100 + 2 * (static_cast<int64_t>(a.size()) - 1));

  // The same run again (a lane handling it twice): nothing is folded twice.
  auto again = Replay(store, run);
  ASSERT_TRUE(again.ok()) << again.status();
  for (size_t k = 0; k + 1 < run.size(); ++k) {
    EXPECT_EQ(*(*again)[k].outcome, ApplyOutcome::kDuplicate) << k;
  }
  EXPECT_EQ(store.History(batch)->size(), store.History(one)->size());

  // A case the submission wrote itself (no offset) before the fold: its CaseSubmitted is a
  // repeat, the rest folds on top.
  const std::string created = events::CaseIdFor("batch-test", harness::UniqueName("created"));
  std::vector<events::Envelope> c = CaseEvents(created, "created");
  ASSERT_TRUE(store.Create(c[0], nullptr).value());
  std::vector<FoldInput> rest;
  for (size_t i = 0; i < c.size(); ++i) rest.push_back({&c[i], 500 + static_cast<int64_t>(i)});
  auto folded = Replay(store, rest);
  ASSERT_TRUE(folded.ok()) << folded.status();
  EXPECT_EQ(*(*folded)[0].outcome, ApplyOutcome::kDuplicate);
  EXPECT_EQ(*(*folded)[1].outcome, ApplyOutcome::kApplied);
  EXPECT_EQ(store.Get(created).value()->state(), (*by_one)->state());
}

// Every fold of a store told the terms keeps the retention index in the same step as the case,
// live and in the replay, one run at a time: an answer puts the case in with its term from the
// answer, a later event keeps that term (NX), a reopening takes it out, and a reopening and a new
// answer in one run set the new term over what was there. RedisCaseStore::Apply keeps it too.
// (Terms far ahead: the shared index's cases are never due for another test's retention pass.)
TEST_F(CaseStoreIntegration, EveryFoldKeepsTheRetentionIndexInTheSameStepAsTheCase) {
  constexpr absl::Duration kTerm = absl::Hours(24 * 3650);
  const absl::Time at = absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now()));
  auto score = [&](const std::string& id) {
    return redis_->Command({"ZSCORE", kRetentionIndexKey, id}).value();
  };
  auto millis = [](absl::Time t) { return absl::StrCat(absl::ToUnixMillis(t)); };
  const absl::StatusOr<bool> had_marker = store_->Intact();
  ASSERT_TRUE(had_marker.ok()) << had_marker.status();
  ASSERT_TRUE(store_->MarkIntact().ok());
  for (const bool live : {true, false}) {
    SCOPED_TRACE(live ? "the live fold" : "the replay");
    RedisCaseStore store(*redis_);
    store.KeepRetention([&](const std::string&) { return kTerm; });
    auto fold = [&](const std::vector<events::Envelope>& run) {
      std::vector<FoldInput> inputs;
      for (const events::Envelope& e : run) inputs.push_back({&e, -1});
      absl::StatusOr<std::vector<FoldOutcome>> folded =
          live ? store.ApplyAll(inputs, FoldFence::kLive) : Replay(store, inputs);
      ASSERT_TRUE(folded.ok()) << folded.status();
      for (const FoldOutcome& outcome : *folded) {
        ASSERT_TRUE(outcome.outcome.ok()) << outcome.outcome.status();
        EXPECT_EQ(*outcome.outcome, ApplyOutcome::kApplied);
      }
    };
    const std::string answered = harness::UniqueName("retained-answered");
    const std::string again = harness::UniqueName("retained-again");
    const std::string open = harness::UniqueName("retained-open");
    fold({testing::Submitted(answered, at), testing::Submitted(again, at),
          testing::Submitted(open, at)});
    fold({testing::Routed(answered, at + absl::Hours(1)), testing::Routed(again, at),
          testing::Routed(open, at), testing::Answered(answered, at + absl::Hours(2)),
          testing::Answered(again, at + absl::Hours(2))});
    EXPECT_EQ(score(answered).str, millis(at + absl::Hours(2) + kTerm));
    EXPECT_TRUE(score(open).is_nil()) << "an open case keeps its data";

    // Its letter a day later: the term stays. A reopening and a new answer in one run: the new
    // term, over a stale score too.
    ASSERT_TRUE(redis_->Command({"ZADD", kRetentionIndexKey, "1", again}).ok());
    fold({testing::Delivered(answered, at + absl::Hours(26)),
          testing::Reopened(again, at + absl::Hours(3)),
          testing::Answered(again, at + absl::Hours(4), 2)});
    EXPECT_EQ(score(answered).str, millis(at + absl::Hours(2) + kTerm));
    EXPECT_EQ(score(again).str, millis(at + absl::Hours(4) + kTerm));

    fold({testing::Reopened(answered, at + absl::Hours(30))});
    EXPECT_TRUE(score(answered).is_nil()) << "reopened: its data is kept again";
    if (live) {
      ASSERT_EQ(store.Apply(testing::Answered(answered, at + absl::Hours(31), 2), -1).value(),
                ApplyOutcome::kApplied);
      EXPECT_EQ(score(answered).str, millis(at + absl::Hours(31) + kTerm)) << "Apply";
    }
  }
  if (*had_marker) {
    EXPECT_TRUE(store_->MarkIntact().ok());
  } else {
    EXPECT_TRUE(store_->ForgetIntact().ok());
  }
}

TEST_F(CaseStoreIntegration, CreateAllWritesSeveralNewCasesInOneGo) {
  RedisCaseStore& store = *store_;
  const std::string a = events::CaseIdFor("create-test", harness::UniqueName("a"));
  const std::string b = events::CaseIdFor("create-test", harness::UniqueName("b"));
  std::vector<events::Envelope> first = CaseEvents(a, "created-a");
  std::vector<events::Envelope> second = CaseEvents(b, "created-b");
  ASSERT_TRUE(store.Create(second[0], nullptr).value()) << "b exists already";
  std::vector<Case> folded;
  std::vector<absl::StatusOr<bool>> created =
      store.CreateAll({&first[0], &second[0], &first[1]}, &folded);
  ASSERT_EQ(created.size(), 3u);
  ASSERT_TRUE(created[0].ok()) << created[0].status();
  EXPECT_TRUE(*created[0]);
  EXPECT_EQ(folded[0].case_id(), a);
  ASSERT_TRUE(created[1].ok()) << created[1].status();
  EXPECT_FALSE(*created[1]) << "b was there";
  EXPECT_EQ(created[2].status().code(), absl::StatusCode::kInvalidArgument)
      << "only a CaseSubmitted creates a case";
  EXPECT_EQ(store.Get(a).value()->state(), types::v1::RECEIVED);
  EXPECT_EQ(store.ResolveReference(first[0].case_submitted().reference()).value(), a);
  EXPECT_TRUE(store.HasEvent(a, first[0].event_id()).value());
}

// While a rebuild clears the projection (a SCAN over many calls) Create writes nothing, so the
// clear can never take part of a new case and leave its event id as folded without its state.
// Here the fence the clear holds is set by hand: a real clear would wipe the other tests' cases.
TEST_F(CaseStoreIntegration, CreateWritesNothingWhileARebuildClearsTheProjection) {
  RedisCaseStore& store = *store_;
  const std::string id = events::CaseIdFor("create-held", harness::UniqueName("held"));
  std::vector<events::Envelope> e = CaseEvents(id, "created-held");
  ASSERT_TRUE(redis_->Command({"SET", "mp:intake:clearing", "1", "PX", "60000"}).ok());
  const absl::StatusOr<bool> one = store.Create(e[0], nullptr);
  const std::vector<absl::StatusOr<bool>> all = store.CreateAll({&e[0]}, nullptr);
  ASSERT_TRUE(redis_->Command({"DEL", "mp:intake:clearing"}).ok());
  EXPECT_EQ(one.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(one.status().message(), kCreateHeldText);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].status().code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(store.HasEvent(id, e[0].event_id()).value());
  EXPECT_EQ(store.Get(id).value(), std::nullopt);
  EXPECT_EQ(store.ResolveReference(e[0].case_submitted().reference()).value(), std::nullopt);
  // The replay folds it from its event, as a new case.
  auto folded = Replay(store, {{&e[0], 7}});
  ASSERT_TRUE(folded.ok()) << folded.status();
  ASSERT_TRUE((*folded)[0].outcome.ok()) << (*folded)[0].outcome.status();
  EXPECT_EQ(*(*folded)[0].outcome, ApplyOutcome::kApplied);
  EXPECT_TRUE(store.Get(id).value().has_value());
}

TEST_F(CaseStoreIntegration, BeginAllStartsSeveralSubmissionsInOneGo) {
  RedisCaseStore& store = *store_;
  const std::string fresh = events::CaseIdFor("begin-test", harness::UniqueName("fresh"));
  const std::string known = events::CaseIdFor("begin-test", harness::UniqueName("known"));
  const std::string taken = events::CaseIdFor("begin-test", harness::UniqueName("taken"));
  std::vector<events::Envelope> known_events = CaseEvents(known, "begin-known");
  ASSERT_TRUE(store.Create(known_events[0], nullptr).value());
  const std::string known_reference = known_events[0].case_submitted().reference();
  // Another case holds the reference `taken` would get.
  const std::string clash = events::ReferenceFor(taken, 2026, 8);
  ASSERT_TRUE(store.ClaimReference(clash, "MP-SOMEONE-ELSE").value());
  const std::string next_year = events::ReferenceFor(known, 2027, 8);
  std::vector<absl::StatusOr<SubmissionStart>> starts =
      store.BeginAll({{fresh, events::ReferenceFor(fresh, 2026, 8)},
                      {fresh, events::ReferenceFor(fresh, 2026, 8)},
                      {known, next_year},
                      {taken, clash}},
                     absl::Seconds(30));
  ASSERT_EQ(starts.size(), 4u);
  for (const auto& start : starts) ASSERT_TRUE(start.ok()) << start.status();
  EXPECT_TRUE(starts[0]->locked);
  EXPECT_TRUE(starts[0]->reference_mine);
  EXPECT_FALSE(starts[0]->existing.has_value());
  EXPECT_FALSE(starts[1]->locked) << "the second of one key in a batch waits for the first";
  ASSERT_TRUE(starts[2]->existing.has_value());
  EXPECT_EQ(starts[2]->existing->reference(), known_reference);
  EXPECT_FALSE(starts[2]->locked) << "a known case's lock is given back";
  EXPECT_EQ(store.ResolveReference(next_year).value(), std::nullopt)
      << "and the reference of another year it just took";
  EXPECT_TRUE(store.TryLockSubmission(known, absl::Seconds(1)).value());
  EXPECT_TRUE(starts[3]->locked);
  EXPECT_FALSE(starts[3]->reference_mine);
  EXPECT_EQ(store.ResolveReference(clash).value(), "MP-SOMEONE-ELSE");
  EXPECT_TRUE(store.BeginAll({}, absl::Seconds(1)).empty());
}

// The fence of the live fold: once a rebuild took the marker away, a live write of any replica
// lands nowhere (the script checks the marker in the same step as the write), so the rebuild may
// clear the projection at once; the rebuild's own replay folds unfenced.
// A store folds a case from what its own last write left, without reading it; what another
// writer (another replica) changed since, or an event id folded before, makes it read the case.
TEST_F(CaseStoreIntegration, AFoldStartsFromItsLastWriteAndReadsWhatAnotherWriterChanged) {
  RedisCaseStore& store = *store_;
  RedisCaseStore replica(*redis_);
  const absl::StatusOr<bool> had_marker = store.Intact();
  ASSERT_TRUE(had_marker.ok()) << had_marker.status();
  ASSERT_TRUE(store.MarkIntact().ok());
  const std::string id = events::CaseIdFor("known-test", harness::UniqueName("known"));
  std::vector<events::Envelope> events = CaseEvents(id, "known");

  auto submitted = store.ApplyAll({{&events[0], 10}}, FoldFence::kLive);
  ASSERT_TRUE(submitted.ok()) << submitted.status();
  EXPECT_EQ(*(*submitted)[0].outcome, ApplyOutcome::kApplied);
  // The other replica routes it: the first store's version of the case is one behind.
  auto routed = replica.ApplyAll({{&events[1], 11}}, FoldFence::kLive);
  ASSERT_TRUE(routed.ok()) << routed.status();
  EXPECT_EQ(*(*routed)[0].outcome, ApplyOutcome::kApplied);

  auto rest = store.ApplyAll({{&events[1], 11}, {&events[4], 12}}, FoldFence::kLive);
  ASSERT_TRUE(rest.ok()) << rest.status();
  EXPECT_EQ(*(*rest)[0].outcome, ApplyOutcome::kDuplicate);
  EXPECT_EQ(*(*rest)[1].outcome, ApplyOutcome::kApplied);
  ASSERT_NE((*rest)[1].folded, nullptr);
  EXPECT_EQ((*rest)[1].folded->department(), "public-works") << "folded on the replica's routing";
  EXPECT_EQ(store.Get(id).value()->department(), "public-works");
  EXPECT_EQ(store.Get(id).value()->state(), (*rest)[1].folded->state());
  EXPECT_EQ(store.History(id)->size(), 3u);
  EXPECT_EQ(store.AppliedOffset(id).value(), 12);

  // The routing appended again at a later offset (its producer stopped before it committed):
  // the store knows the case as its last write left it, and the event's id says it is a repeat.
  auto again = store.ApplyAll({{&events[1], 13}}, FoldFence::kLive);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*(*again)[0].outcome, ApplyOutcome::kDuplicate);
  EXPECT_EQ(store.History(id)->size(), 3u) << "no refusal of the repeat was kept";
  EXPECT_EQ(store.AppliedOffset(id).value(), 12);

  if (*had_marker) {
    EXPECT_TRUE(store.MarkIntact().ok());
  } else {
    EXPECT_TRUE(store.ForgetIntact().ok());
  }
}

// The rebuild's replay takes a case it does not know as absent (the projection was cleared);
// one another writer put there meanwhile is read and folded on, never folded over or refused.
TEST_F(CaseStoreIntegration, TheReplayReadsACaseItTookAsAbsentWhenItIsThere) {
  RedisCaseStore& writer = *store_;
  const std::string id = events::CaseIdFor("absent-test", harness::UniqueName("there"));
  std::vector<events::Envelope> events = CaseEvents(id, "there");
  auto written = Replay(writer, {{&events[0], 10}, {&events[1], 11}});
  ASSERT_TRUE(written.ok()) << written.status();
  EXPECT_EQ(*(*written)[1].outcome, ApplyOutcome::kApplied);

  // Its routing alone: folded on nothing, it would be refused as a case never submitted.
  RedisCaseStore replay(*redis_);
  auto routed_again = Replay(replay, {{&events[1], 11}});
  ASSERT_TRUE(routed_again.ok()) << routed_again.status();
  EXPECT_EQ(*(*routed_again)[0].outcome, ApplyOutcome::kDuplicate);

  // Its submission and withdrawal: folded on nothing, the case would start over.
  RedisCaseStore other(*redis_);
  auto rest = Replay(other, {{&events[0], 10}, {&events[4], 12}});
  ASSERT_TRUE(rest.ok()) << rest.status();
  EXPECT_EQ(*(*rest)[0].outcome, ApplyOutcome::kDuplicate);
  EXPECT_EQ(*(*rest)[1].outcome, ApplyOutcome::kApplied);
  EXPECT_EQ(writer.Get(id).value()->department(), "public-works");
  EXPECT_EQ(writer.History(id)->size(), 3u);
  EXPECT_EQ(writer.AppliedOffset(id).value(), 12);
}

TEST_F(CaseStoreIntegration, ALiveFoldWritesNothingOnceTheMarkerIsGone) {
  RedisCaseStore& store = *store_;
  // The tests run one at a time: the marker is put back as it was at the end.
  const absl::StatusOr<bool> had_marker = store.Intact();
  ASSERT_TRUE(had_marker.ok()) << had_marker.status();
  ASSERT_TRUE(store.MarkIntact().ok());
  const std::string id = events::CaseIdFor("fence-test", harness::UniqueName("fenced"));
  std::vector<events::Envelope> events = CaseEvents(id, "fenced");
  auto first = store.ApplyAll({{&events[0], 10}}, FoldFence::kLive);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(*(*first)[0].outcome, ApplyOutcome::kApplied);

  ASSERT_TRUE(store.ForgetIntact().ok());
  std::vector<FoldInput> rest = {{&events[1], 11}, {&events[4], 12}};
  auto held = store.ApplyAll(rest, FoldFence::kLive);
  ASSERT_TRUE(held.ok()) << held.status();
  for (const FoldOutcome& outcome : *held) {
    EXPECT_TRUE(absl::IsUnavailable(outcome.outcome.status())) << outcome.outcome.status();
    EXPECT_EQ(status::RetryOf(outcome.outcome.status()), status::Retry::kInPlace);
    EXPECT_EQ(outcome.outcome.status().message(), kLiveFoldHeldText);
  }
  EXPECT_EQ(store.Get(id).value()->department(), "") << "the routing was not written";
  EXPECT_EQ(store.History(id)->size(), 1u);
  EXPECT_EQ(store.AppliedOffset(id).value(), 10);
  EXPECT_FALSE(store.HasEvent(id, events[1].event_id()).value());

  // A marker over another layout (an older version's projection) holds the live fold too.
  ASSERT_TRUE(store.MarkIntact().ok());
  ASSERT_TRUE(redis_->Command({"SET", "mp:intake:layout", "1"}).ok());
  EXPECT_FALSE(store.Intact().value());
  auto old_layout = store.ApplyAll(rest, FoldFence::kLive);
  ASSERT_TRUE(old_layout.ok()) << old_layout.status();
  EXPECT_EQ((*old_layout)[0].outcome.status().message(), kLiveFoldHeldText);
  EXPECT_EQ(store.History(id)->size(), 1u);
  ASSERT_TRUE(redis_->Command({"SET", "mp:intake:layout", "3"}).ok());
  ASSERT_TRUE(store.ForgetIntact().ok());

  // The rebuild's replay writes while the marker is gone.
  auto replayed = Replay(store, rest);
  ASSERT_TRUE(replayed.ok()) << replayed.status();
  EXPECT_EQ(*(*replayed)[0].outcome, ApplyOutcome::kApplied);
  EXPECT_EQ(*(*replayed)[1].outcome, ApplyOutcome::kApplied);
  EXPECT_EQ(store.Get(id).value()->department(), "public-works");
  EXPECT_EQ(store.AppliedOffset(id).value(), 12);

  if (*had_marker) {
    EXPECT_TRUE(store.MarkIntact().ok());
  } else {
    EXPECT_TRUE(store.ForgetIntact().ok());
  }
}

// The replay writes plain commands, so it must hold the rebuild's lock: a rebuild that outlived
// its lock (a stalled host) while another took it, or whose lock Redis lost, writes nothing.
TEST_F(CaseStoreIntegration, TheReplayWritesNothingOnceItNoLongerHoldsTheRebuildLock) {
  const std::string id = events::CaseIdFor("lock-test", harness::UniqueName("locked"));
  std::vector<events::Envelope> events = CaseEvents(id, "locked");
  RedisCaseStore& store = *store_;
  auto unlocked = store.ApplyAll({{&events[0], 10}}, FoldFence::kNone);
  EXPECT_EQ(unlocked.status().code(), absl::StatusCode::kFailedPrecondition) << unlocked.status();

  const std::string owner = harness::UniqueName("stalled");
  ASSERT_TRUE(store.TryLockRebuild(owner, absl::Minutes(1)).value());
  // Another rebuild took the lock after this one's expired.
  ASSERT_TRUE(redis_->Command({"SET", "mp:intake:rebuilding", "another-rebuild"}).ok());
  auto taken = store.ApplyAll({{&events[0], 10}, {&events[1], 11}}, FoldFence::kNone);
  EXPECT_EQ(taken.status().code(), absl::StatusCode::kAborted) << taken.status();
  EXPECT_EQ(status::RetryOf(taken.status()), status::Retry::kGiveUp)
      << taken.status()
      << "the replay passes over the rest at once instead of retrying until its deadline";
  // Redis lost it.
  ASSERT_TRUE(redis_->Command({"DEL", "mp:intake:rebuilding"}).ok());
  auto lost = store.ApplyAll({{&events[0], 10}}, FoldFence::kNone);
  EXPECT_EQ(lost.status().code(), absl::StatusCode::kAborted) << lost.status();
  EXPECT_EQ(store.Get(id).value(), std::nullopt);
  EXPECT_FALSE(store.HasEvent(id, events[0].event_id()).value());
  EXPECT_TRUE(store.History(id)->empty());
  EXPECT_EQ(store.ResolveReference(events[0].case_submitted().reference()).value(), std::nullopt);
  ASSERT_TRUE(store.UnlockRebuild(owner).ok());

  // Held, the same run is written; once more by a store that knows nothing of it (a run
  // repeated after its answer was lost), it changes nothing, and what follows folds on.
  auto written = Replay(store, {{&events[0], 10}, {&events[1], 11}});
  ASSERT_TRUE(written.ok()) << written.status();
  EXPECT_EQ(*(*written)[1].outcome, ApplyOutcome::kApplied);
  RedisCaseStore again(*redis_);
  auto repeated = Replay(again, {{&events[0], 10}, {&events[1], 11}, {&events[4], 12}});
  ASSERT_TRUE(repeated.ok()) << repeated.status();
  EXPECT_EQ(*(*repeated)[0].outcome, ApplyOutcome::kDuplicate);
  EXPECT_EQ(*(*repeated)[1].outcome, ApplyOutcome::kDuplicate);
  EXPECT_EQ(*(*repeated)[2].outcome, ApplyOutcome::kApplied);
  auto history = store.History(id);
  ASSERT_TRUE(history.ok()) << history.status();
  ASSERT_EQ(history->size(), 3u);
  EXPECT_EQ((*history)[0].event_id(), events[0].event_id());
  EXPECT_EQ((*history)[1].event_id(), events[1].event_id());
  EXPECT_EQ((*history)[2].event_id(), events[4].event_id());
  EXPECT_EQ(store.ResolveReference(events[0].case_submitted().reference()).value(), id);
}

// The clear removes each case by the names its listing index gives, the references with their
// hash, and nothing of anyone else's; a projection of an older layout (a list for a history, a
// set of event ids, a key per reference) by one walk over the keyspace, after which the layout
// is this one.
// (It clears the whole projection of the shared Redis: these tests' cases are their own.)
TEST_F(CaseStoreIntegration, TheClearRemovesEveryCaseByItsNameAndAnOlderLayoutByAWalk) {
  RedisCaseStore& store = *store_;
  const std::string other_key = "mp:other-service:" + harness::UniqueName("kept");
  ASSERT_TRUE(redis_->Command({"SET", other_key, "1"}).ok());
  ASSERT_TRUE(redis_
                  ->Pipeline({{"DEL", "mp:intake:layout"},
                              {"RPUSH", "mp:case:{old-layout}:history", "entry"},
                              {"SADD", "mp:case:{old-layout}:events", "event-1"},
                              {"SET", "mp:case:{old-layout}", "state"},
                              {"SET", "mp:ref:{MP-2026-OLD}", "old-layout"}})
                  .ok());
  auto removed = store.Clear();
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_GE(*removed, 4);
  for (const char* key : {"mp:case:{old-layout}:history", "mp:case:{old-layout}:events",
                          "mp:case:{old-layout}", "mp:ref:{MP-2026-OLD}", "mp:cases", "mp:refs"}) {
    EXPECT_EQ(redis_->Command({"EXISTS", key}).value().integer, 0) << key;
  }
  EXPECT_EQ(redis_->Command({"GET", "mp:intake:layout"}).value().str, "3");

  // This layout: cases written by a submission and by the replay, and a reference claimed for a
  // submission that never made it to the log.
  const std::string a = events::CaseIdFor("clear-test", harness::UniqueName("a"));
  const std::string b = events::CaseIdFor("clear-test", harness::UniqueName("b"));
  std::vector<events::Envelope> first = CaseEvents(a, "clear-a");
  std::vector<events::Envelope> second = CaseEvents(b, "clear-b");
  ASSERT_TRUE(store.Create(first[0], nullptr).value());
  ASSERT_TRUE(Replay(store, {{&second[0], 10}, {&second[1], 11}}).ok());
  ASSERT_TRUE(store.ClaimReference("MP-2026-NEVER", "never-appended").value());
  removed = store.Clear();
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_EQ(*removed, 2 * 2 + 2) << "two keys a case, the index and the references";
  EXPECT_EQ(store.Get(a).value(), std::nullopt);
  EXPECT_EQ(store.Get(b).value(), std::nullopt);
  EXPECT_FALSE(store.HasEvent(a, first[0].event_id()).value());
  EXPECT_FALSE(store.HasEvent(b, second[1].event_id()).value());
  EXPECT_TRUE(store.History(b)->empty());
  EXPECT_EQ(store.ResolveReference("MP-2026-NEVER").value(), std::nullopt);
  EXPECT_EQ(redis_->Command({"EXISTS", other_key}).value().integer, 1);
  EXPECT_EQ(redis_->Command({"EXISTS", "mp:intake:clearing"}).value().integer, 0);
  ASSERT_TRUE(redis_->Command({"DEL", other_key}).ok());
}

}  // namespace
}  // namespace meldpunt::intake
