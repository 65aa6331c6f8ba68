#include "services/intake/intake_logic.h"

#include <map>
#include <set>

#include <gtest/gtest.h>

#include "libs/domain/case_state.h"
#include "libs/grpc/status.h"

namespace meldpunt::intake {
namespace {

namespace t = ::meldpunt::types::v1;

class FakeLog : public events::EventLog {
 public:
  absl::StatusOr<events::Appended> Append(const events::Envelope& e, absl::Time deadline) override {
    last_deadline = deadline;
    if (!next_error.ok()) return next_error;
    appended.push_back(e);
    return events::Appended{0, static_cast<int64_t>(appended.size() - 1)};
  }
  std::vector<events::Envelope> appended;
  absl::Status next_error = absl::OkStatus();
  absl::Time last_deadline;
};

class MemoryStore : public CaseStore {
 public:
  absl::StatusOr<std::optional<Case>> Get(const std::string& id) override {
    if (!error.ok()) return error;
    auto it = cases.find(id);
    if (it == cases.end()) return std::optional<Case>();
    return std::optional<Case>(it->second);
  }
  absl::StatusOr<ApplyOutcome> Apply(const events::Envelope& e) override {
    if (!error.ok()) return error;
    if (!seen.insert(e.event_id()).second) return ApplyOutcome::kDuplicate;
    Case& c = cases[e.case_id()];
    if (absl::Status s = domain::Apply(c, e); !s.ok()) return s;
    return ApplyOutcome::kApplied;
  }
  std::map<std::string, Case> cases;
  std::set<std::string> seen;
  absl::Status error = absl::OkStatus();
};

class IntakeLogicTest : public ::testing::Test {
 protected:
  IntakeLogicTest()
      : clock_(absl::FromUnixSeconds(1'763'800'000)), logic_(log_, store_, clock_, {}) {}

  v1::SubmitCaseRequest Request(const std::string& key = "req-1") {
    v1::SubmitCaseRequest r;
    r.set_submitting_system("web-form");
    r.set_request_key(key);
    auto* d = r.mutable_draft();
    d->set_kind(t::REPORT);
    d->set_channel(t::WEB);
    d->set_category("street-lighting");
    d->set_description("Street light out");
    d->mutable_reporter()->set_name("Jan Peeters");
    d->mutable_reporter()->set_email("jan@example.org");
    return r;
  }
  absl::Time Deadline() { return clock_.Now() + absl::Seconds(30); }

  FakeLog log_;
  MemoryStore store_;
  clock::FakeClock clock_;
  IntakeLogic logic_;
};

TEST_F(IntakeLogicTest, SubmitAppendsOneEventAndFoldsIt) {
  auto result = logic_.Submit(Request(), Deadline());
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(result->created);
  EXPECT_EQ(result->c.state(), t::RECEIVED);
  ASSERT_EQ(log_.appended.size(), 1u);
  const events::Envelope& e = log_.appended[0];
  EXPECT_EQ(e.type(), "CaseSubmitted");
  EXPECT_EQ(e.case_id(), result->c.case_id());
  EXPECT_EQ(e.producer(), "intake");
  EXPECT_FALSE(e.correlation_id().empty());
  EXPECT_EQ(events::GetTime(e.occurred_at()), clock_.Now());
  EXPECT_EQ(e.case_submitted().draft().category(), "street-lighting");
  EXPECT_EQ(store_.cases.count(result->c.case_id()), 1u);
  auto got = logic_.Get(result->c.case_id());
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->state(), t::RECEIVED);
}

TEST_F(IntakeLogicTest, SameKeyReturnsSameCaseAndEmitsNothing) {
  auto first = logic_.Submit(Request("k"), Deadline());
  auto second = logic_.Submit(Request("k"), Deadline());
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_FALSE(second->created);
  EXPECT_EQ(first->c.case_id(), second->c.case_id());
  EXPECT_EQ(log_.appended.size(), 1u);
  auto other = logic_.Submit(Request("other"), Deadline());
  EXPECT_NE(other->c.case_id(), first->c.case_id());
  EXPECT_EQ(log_.appended.size(), 2u);
}

TEST_F(IntakeLogicTest, BadInputNamesTheFieldAndEmitsNothing) {
  auto request = Request();
  request.mutable_draft()->set_description(std::string(4001, 'x'));
  auto result = logic_.Submit(request, Deadline());
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(grpc_util::ErrorField(result.status()), "draft.description");
  request = Request();
  request.set_correlation_id(std::string(200, 'c'));
  EXPECT_EQ(grpc_util::ErrorField(logic_.Submit(request, Deadline()).status()), "correlation_id");
  EXPECT_TRUE(log_.appended.empty());
  EXPECT_TRUE(store_.cases.empty());
}

TEST_F(IntakeLogicTest, KafkaUnavailableIsUnavailableAndNothingIsStored) {
  log_.next_error = absl::UnavailableError("kafka did not acknowledge");
  auto result = logic_.Submit(Request(), Deadline());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(store_.cases.empty());
  // The retry with the same key succeeds once Kafka is back, with the same event id.
  log_.next_error = absl::OkStatus();
  auto retry = logic_.Submit(Request(), Deadline());
  ASSERT_TRUE(retry.ok());
  EXPECT_TRUE(retry->created);
}

TEST_F(IntakeLogicTest, AppendWaitsNoLongerThanTheCallDeadline) {
  const absl::Time short_deadline = clock_.Now() + absl::Seconds(2);
  ASSERT_TRUE(logic_.Submit(Request(), short_deadline).ok());
  EXPECT_EQ(log_.last_deadline, short_deadline);
  ASSERT_TRUE(logic_.Submit(Request("later"), clock_.Now() + absl::Hours(1)).ok());
  EXPECT_EQ(log_.last_deadline, clock_.Now() + absl::Seconds(10));
}

TEST_F(IntakeLogicTest, RedisDownBeforeAppendIsUnavailable) {
  store_.error = absl::UnavailableError("redis down");
  EXPECT_EQ(logic_.Submit(Request(), Deadline()).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(log_.appended.empty());
}

TEST_F(IntakeLogicTest, GetValidatesAndReportsNotFound) {
  EXPECT_EQ(grpc_util::ErrorField(logic_.Get("nope").status()), "case_id");
  EXPECT_EQ(logic_.Get("MP-0123456789ABC").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(IntakeLogicTest, EventIdIsDeterministicPerCase) {
  auto a = logic_.Submit(Request("x"), Deadline());
  store_.cases.clear();
  store_.seen.clear();
  auto b = logic_.Submit(Request("x"), Deadline());
  ASSERT_EQ(log_.appended.size(), 2u);
  EXPECT_EQ(log_.appended[0].event_id(), log_.appended[1].event_id());
}

}  // namespace
}  // namespace meldpunt::intake
