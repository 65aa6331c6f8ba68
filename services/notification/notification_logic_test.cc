#include "services/notification/notification_logic.h"

#include <cstdlib>
#include <map>
#include <set>

#include <gtest/gtest.h>

namespace meldpunt::notification {
namespace {

namespace t = ::meldpunt::types::v1;

class FakeMailer : public Mailer {
 public:
  absl::Status Send(const Email& email) override {
    sent.push_back(email);
    if (failures_left > 0) {
      --failures_left;
      return failure;
    }
    return absl::OkStatus();
  }
  std::vector<Email> sent;
  int failures_left = 0;
  absl::Status failure = absl::UnavailableError("connection refused");
};

class MemoryDeliveries : public DeliveryStore {
 public:
  absl::StatusOr<bool> IsSent(const std::string& c, const std::string& k) override {
    return sent.count(c + k) > 0;
  }
  absl::Status MarkSent(const std::string& c, const std::string& k) override {
    sent.insert(c + k);
    return absl::OkStatus();
  }
  absl::Status Record(const v1::Delivery& d) override {
    records.push_back(d);
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<v1::Delivery>> List(const std::string&) override { return records; }
  absl::Status SaveSubmission(const events::Envelope& e) override {
    submissions[e.case_id()] = e;
    return absl::OkStatus();
  }
  absl::StatusOr<std::optional<events::Envelope>> LoadSubmission(const std::string& c) override {
    auto it = submissions.find(c);
    if (it == submissions.end()) return std::optional<events::Envelope>();
    return std::optional<events::Envelope>(it->second);
  }
  std::map<std::string, events::Envelope> submissions;
  std::set<std::string> sent;
  std::vector<v1::Delivery> records;
};

class FakeLog : public events::EventLog {
 public:
  absl::StatusOr<events::Appended> Append(const events::Envelope& e, absl::Time) override {
    if (!error.ok()) return error;
    appended.push_back(e);
    return events::Appended{};
  }
  std::vector<events::Envelope> appended;
  absl::Status error = absl::OkStatus();
};

Templates LoadTemplates() {
  const char* source = std::getenv("MELDPUNT_SOURCE_DIR");
  auto templates =
      Templates::Load(std::string(source ? source : ".") + "/services/notification/templates");
  EXPECT_TRUE(templates.ok()) << templates.status();
  return *templates;
}

events::Envelope Submitted(t::Language language = t::NL, bool anonymous = false) {
  events::Envelope e =
      events::NewEnvelope("MP-0123456789ABC", "intake", absl::FromUnixSeconds(1'763'800'000));
  auto* s = e.mutable_case_submitted();
  s->set_reference("MP-0123456789ABC");
  s->mutable_draft()->set_kind(t::COMPLAINT);
  s->mutable_draft()->set_category("waste-collection");
  if (anonymous) {
    s->mutable_draft()->mutable_reporter()->set_anonymous(true);
  } else {
    s->mutable_draft()->mutable_reporter()->set_name("Els Maes");
    s->mutable_draft()->mutable_reporter()->set_email("els@example.org");
    s->mutable_draft()->mutable_reporter()->set_language(language);
  }
  events::Finish(e, "submitted-1");
  return e;
}

class NotificationLogicTest : public ::testing::Test {
 protected:
  NotificationLogicTest()
      : templates_(LoadTemplates()),
        clock_(absl::FromUnixSeconds(1'763'800'100)),
        logic_(templates_, mailer_, store_, log_, dead_letters_, clock_,
               [this](absl::Duration d) { slept_.push_back(d); },
               {.max_attempts = 3,
                .first_backoff = absl::Seconds(1),
                .answer_days = {{"COMPLAINT", 45}}}) {}

  Templates templates_;
  FakeMailer mailer_;
  MemoryDeliveries store_;
  FakeLog log_;
  FakeLog dead_letters_;
  clock::FakeClock clock_;
  std::vector<absl::Duration> slept_;
  NotificationLogic logic_;
};

TEST_F(NotificationLogicTest, AcknowledgementIsSentAndRecorded) {
  ASSERT_TRUE(logic_.Handle(Submitted()).ok());
  ASSERT_EQ(mailer_.sent.size(), 1u);
  const Email& email = mailer_.sent[0];
  EXPECT_EQ(email.to, "els@example.org");
  EXPECT_NE(email.subject.find("MP-0123456789ABC"), std::string::npos) << email.subject;
  EXPECT_NE(email.body.find("Beste Els Maes"), std::string::npos) << email.body;
  EXPECT_NE(email.body.find("klacht"), std::string::npos);
  // 1763800000 = 22/11/2025 in Brussels; + 45 days = 06/01/2026.
  EXPECT_NE(email.body.find("22/11/2025"), std::string::npos) << email.body;
  EXPECT_NE(email.body.find("06/01/2026"), std::string::npos) << email.body;
  ASSERT_EQ(log_.appended.size(), 1u);
  const auto& delivered = log_.appended[0];
  EXPECT_EQ(delivered.type(), "NotificationDelivered");
  EXPECT_EQ(delivered.notification_delivered().template_name(), "acknowledgement");
  EXPECT_EQ(delivered.notification_delivered().idempotency_key(), email.idempotency_key);
  EXPECT_EQ(delivered.causation_id(), "submitted-1");
  EXPECT_EQ(store_.records.size(), 1u);
}

TEST_F(NotificationLogicTest, LanguageFollowsTheReporter) {
  ASSERT_TRUE(logic_.Handle(Submitted(t::FR)).ok());
  EXPECT_NE(mailer_.sent[0].body.find("plainte"), std::string::npos) << mailer_.sent[0].body;
  EXPECT_EQ(mailer_.sent[0].language, "fr");
}

TEST_F(NotificationLogicTest, RedeliveredEventDoesNotSendTwice) {
  ASSERT_TRUE(logic_.Handle(Submitted()).ok());
  ASSERT_TRUE(logic_.Handle(Submitted()).ok());
  EXPECT_EQ(mailer_.sent.size(), 1u);
  ASSERT_EQ(log_.appended.size(), 2u);  // the outcome again, with the same id
  EXPECT_EQ(log_.appended[0].event_id(), log_.appended[1].event_id());
}

TEST_F(NotificationLogicTest, RetriesWithBackoffThenDelivers) {
  mailer_.failures_left = 2;
  ASSERT_TRUE(logic_.Handle(Submitted()).ok());
  EXPECT_EQ(mailer_.sent.size(), 3u);
  EXPECT_EQ(slept_, (std::vector<absl::Duration>{absl::Seconds(1), absl::Seconds(2)}));
  EXPECT_EQ(log_.appended[0].notification_delivered().attempts(), 3);
}

TEST_F(NotificationLogicTest, DeadLettersAfterTheLastAttempt) {
  mailer_.failures_left = 100;
  ASSERT_TRUE(logic_.Handle(Submitted()).ok());
  EXPECT_EQ(mailer_.sent.size(), 3u);
  ASSERT_EQ(dead_letters_.appended.size(), 1u);
  ASSERT_EQ(log_.appended.size(), 1u);
  EXPECT_EQ(log_.appended[0].type(), "NotificationFailed");
  EXPECT_TRUE(log_.appended[0].notification_failed().dead_lettered());
  EXPECT_EQ(store_.records[0].status(), "dead_lettered");
}

TEST_F(NotificationLogicTest, PermanentRefusalIsNotRetried) {
  mailer_.failures_left = 1;
  mailer_.failure = absl::FailedPreconditionError("550 no such mailbox");
  ASSERT_TRUE(logic_.Handle(Submitted()).ok());
  EXPECT_EQ(mailer_.sent.size(), 1u);
  EXPECT_EQ(dead_letters_.appended.size(), 1u);
}

TEST_F(NotificationLogicTest, LogDownIsRetriableAndDoesNotResend) {
  log_.error = absl::UnavailableError("kafka down");
  EXPECT_EQ(logic_.Handle(Submitted()).code(), absl::StatusCode::kUnavailable);
  log_.error = absl::OkStatus();
  ASSERT_TRUE(logic_.Handle(Submitted()).ok());
  EXPECT_EQ(mailer_.sent.size(), 1u);
  EXPECT_EQ(log_.appended.size(), 1u);
}

TEST_F(NotificationLogicTest, NoEmailNoMessage) {
  ASSERT_TRUE(logic_.Handle(Submitted(t::NL, /*anonymous=*/true)).ok());
  EXPECT_TRUE(mailer_.sent.empty());
  EXPECT_TRUE(log_.appended.empty());
}

TEST_F(NotificationLogicTest, ReferralLetterGoesToTheReporter) {
  ASSERT_TRUE(logic_.Handle(Submitted(t::EN)).ok());
  events::Envelope referred =
      events::NewEnvelope("MP-0123456789ABC", "routing", absl::FromUnixSeconds(1'763'900'000));
  referred.mutable_case_referred()->set_body("Vlaamse Ombudsdienst");
  referred.mutable_case_referred()->set_reason("second-line complaint");
  events::Finish(referred, "referred-1");
  ASSERT_TRUE(logic_.Handle(referred).ok());
  ASSERT_EQ(mailer_.sent.size(), 2u);
  EXPECT_NE(mailer_.sent[1].subject.find("Vlaamse Ombudsdienst"), std::string::npos)
      << mailer_.sent[1].subject;
  EXPECT_NE(mailer_.sent[1].body.find("second-line complaint"), std::string::npos)
      << mailer_.sent[1].body;
  EXPECT_NE(mailer_.sent[1].idempotency_key, mailer_.sent[0].idempotency_key);
  EXPECT_EQ(log_.appended.back().notification_delivered().template_name(), "referral");
  // Redelivered: not sent again.
  ASSERT_TRUE(logic_.Handle(referred).ok());
  EXPECT_EQ(mailer_.sent.size(), 2u);
}

TEST(Templates, RenderFallsBackToDutchAndDoesNotEscape) {
  Templates templates = LoadTemplates();
  auto r = templates.Render("acknowledgement", "de", {{"reference", "MP-1"}, {"name", "A & B"}});
  ASSERT_TRUE(r.ok());
  EXPECT_NE(r->body.find("Beste A & B"), std::string::npos) << r->body;
  EXPECT_EQ(templates.Render("nope", "nl", {}).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Templates::Load("/nonexistent").status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace meldpunt::notification
