#include "libs/domain/case_state.h"

#include <gtest/gtest.h>

namespace meldpunt::domain {
namespace {

namespace t = ::meldpunt::types::v1;
using events::Envelope;

constexpr char kCase[] = "MP-0123456789ABC";

Envelope Event(int n, const std::function<void(Envelope&)>& set) {
  Envelope e = events::NewEnvelope(kCase, "test", absl::FromUnixSeconds(1'763'800'000 + n));
  set(e);
  events::Finish(e, "ev-" + std::to_string(n));
  return e;
}

Envelope Submitted() {
  return Event(0, [](Envelope& e) {
    e.mutable_case_submitted()->set_submitting_system("web-form");
    e.mutable_case_submitted()->mutable_draft()->set_kind(t::REPORT);
  });
}

Envelope Routed(const std::string& department) {
  return Event(1, [&](Envelope& e) { e.mutable_case_routed()->set_department(department); });
}

TEST(CaseState, SubmitRouteAcknowledgeAndBreach) {
  Case c;
  ASSERT_TRUE(Apply(c, Submitted()).ok());
  EXPECT_EQ(c.state(), t::RECEIVED);
  EXPECT_EQ(c.priority(), t::NORMAL);
  EXPECT_EQ(c.version(), 1);
  ASSERT_TRUE(Apply(c, Routed("public-works")).ok());
  EXPECT_EQ(c.state(), t::ROUTED);
  EXPECT_EQ(c.department(), "public-works");
  EXPECT_EQ(c.route_hops(), 1);
  ASSERT_TRUE(Apply(c, Event(2,
                             [](Envelope& e) {
                               e.mutable_notification_delivered()->set_template_name(
                                   "acknowledgement");
                             }))
                  .ok());
  EXPECT_TRUE(c.acknowledged());
  EXPECT_EQ(c.state(), t::ROUTED);
  auto breach = Event(3, [](Envelope& e) { e.mutable_deadline_breached()->set_clock("answer"); });
  ASSERT_TRUE(Apply(c, breach).ok());
  ASSERT_TRUE(Apply(c, breach).ok());
  EXPECT_EQ(c.breached_clocks_size(), 1);
  EXPECT_EQ(c.version(), 5);
  EXPECT_EQ(c.last_event_id(), "ev-3");
}

TEST(CaseState, IllegalEventIsRefusedNamingTheStateAndChangesNothing) {
  Case c;
  ASSERT_TRUE(Apply(c, Submitted()).ok());
  Case before = c;
  absl::Status status = Apply(c, Event(5, [](Envelope& e) { e.mutable_case_accepted(); }));
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(status.message().find("RECEIVED"), std::string::npos) << status;
  EXPECT_EQ(c.SerializeAsString(), before.SerializeAsString());
  EXPECT_EQ(Apply(c, Submitted()).code(), absl::StatusCode::kFailedPrecondition);
}

TEST(CaseState, NothingButSubmissionStartsACase) {
  Case c;
  EXPECT_EQ(Apply(c, Routed("x")).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Apply(c, Event(1, [](Envelope& e) { e.mutable_deadline_warning(); })).code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(CaseState, EventOfAnotherCaseIsRejected) {
  Case c;
  ASSERT_TRUE(Apply(c, Submitted()).ok());
  Envelope other = Routed("x");
  other.set_case_id("MP-ZZZZZZZZZZZZZ");
  EXPECT_EQ(Apply(c, other).code(), absl::StatusCode::kInvalidArgument);
}

// Every state against every payload: Apply never crashes, refuses with FAILED_PRECONDITION, and
// never leaves a terminal state; a closed case is left only by reopening.
TEST(CaseState, EveryStateAgainstEveryEvent) {
  const auto* oneof = Envelope::descriptor()->FindOneofByName("payload");
  for (int s = t::CaseState_MIN; s <= t::CaseState_MAX; ++s) {
    for (int f = 0; f < oneof->field_count(); ++f) {
      Case c;
      c.set_case_id(kCase);
      c.set_state(static_cast<t::CaseState>(s));
      Envelope e = events::NewEnvelope(kCase, "test", absl::FromUnixSeconds(1));
      e.GetReflection()->MutableMessage(&e, oneof->field(f));
      events::Finish(e, "ev-x");
      absl::Status status = Apply(c, e);
      if (!status.ok()) {
        EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
        EXPECT_EQ(c.state(), s);
        continue;
      }
      if (IsTerminal(static_cast<t::CaseState>(s))) {
        EXPECT_EQ(c.state(), s) << StateName(static_cast<t::CaseState>(s)) << " left by "
                                << e.type();
      }
      if (s == t::CLOSED && c.state() != t::CLOSED) EXPECT_EQ(c.state(), t::REOPENED) << e.type();
    }
  }
}

TEST(CaseState, LifecycleThroughBounceInformationAnswerAndReopen) {
  Case c;
  int n = 0;
  auto apply = [&](const std::function<void(Envelope&)>& set) { return Apply(c, Event(++n, set)); };
  ASSERT_TRUE(Apply(c, Submitted()).ok());
  ASSERT_TRUE(apply([](Envelope& e) { e.mutable_case_routed()->set_department("a"); }).ok());
  ASSERT_TRUE(apply([](Envelope& e) { e.mutable_case_bounced()->set_department("a"); }).ok());
  EXPECT_EQ(c.state(), t::RECEIVED);
  EXPECT_EQ(c.department(), "");
  ASSERT_TRUE(apply([](Envelope& e) { e.mutable_case_routed()->set_department("b"); }).ok());
  EXPECT_EQ(c.route_hops(), 2);
  ASSERT_TRUE(apply([](Envelope& e) { e.mutable_case_accepted(); }).ok());
  ASSERT_TRUE(apply([](Envelope& e) { e.mutable_information_requested(); }).ok());
  EXPECT_EQ(c.state(), t::WAITING_FOR_REPORTER);
  ASSERT_TRUE(apply([](Envelope& e) { e.mutable_information_provided(); }).ok());
  EXPECT_EQ(c.state(), t::IN_PROGRESS);
  ASSERT_TRUE(apply([](Envelope& e) { e.mutable_case_answered(); }).ok());
  ASSERT_TRUE(apply([](Envelope& e) { e.mutable_case_reopened(); }).ok());
  EXPECT_EQ(c.state(), t::REOPENED);
  ASSERT_TRUE(apply([](Envelope& e) { e.mutable_case_answered(); }).ok());
  ASSERT_TRUE(apply([](Envelope& e) { e.mutable_case_closed(); }).ok());
  EXPECT_EQ(c.state(), t::CLOSED);
  EXPECT_EQ(apply([](Envelope& e) { e.mutable_case_withdrawn(); }).code(),
            absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace meldpunt::domain
