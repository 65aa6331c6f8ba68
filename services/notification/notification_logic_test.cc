#include "services/notification/notification_logic.h"

#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "libs/catalog/catalog_file.h"
#include "libs/events/batch.h"
#include "libs/events/topics.h"
#include "libs/privacy/privacy.h"
#include "libs/privacy/testing/counting_key_store.h"
#include "libs/status/retry.h"
#include "nlohmann/json.hpp"
#include "services/notification/buffered_delivery_store.h"
#include "services/notification/delivery_error.h"
#include "services/notification/notification_handler.h"
#include "services/notification/testing/fakes.h"

namespace meldpunt::notification {
namespace {

namespace t = ::meldpunt::types::v1;

Templates LoadTemplates() {
  const char* source = std::getenv("MELDPUNT_SOURCE_DIR");
  auto templates =
      Templates::Load(std::string(source ? source : ".") + "/services/notification/templates");
  EXPECT_TRUE(templates.ok()) << templates.status();
  return *templates;
}

constexpr char kCase[] = "MP-0123456789ABC";
const absl::Time kAt = absl::FromUnixSeconds(1'763'800'000);

NotificationRules Rules() {
  auto rules = ParseRules(YAML::Load(R"(
- {on: CaseSubmitted, kinds: [COMPLAINT, REPORT], to: reporter, template: acknowledgement}
- {on: CaseReferred, to: reporter, template: referral}
- {on: AdmissibilityDecided, when: inadmissible, to: reporter, template: inadmissible}
- {on: CaseRouted, to: department, template: dispatch}
- {on: CaseEscalated, to: escalation-target, template: escalation}
- {on: CaseAnswered, to: reporter, template: answer}
- {on: ClockExtended, to: reporter, template: clock-extended}
- {on: CaseLinked, to: reporter, template: duplicate}
- {on: CaseMerged, to: reporter, template: duplicate}
)"),
                          YAML::Load(R"(
department:waste: {email: afval@gemeente.example}
department-head@waste: {email: hoofd.afval@gemeente.example, language: fr}
department-head: {email: hoofd@gemeente.example}
system:e-loket: {webhook: "https://e-loket.example/hooks", secret_env: ELOKET_SECRET}
)"),
                          [](const std::string& name) -> std::optional<std::string> {
                            if (name == "ELOKET_SECRET") return "0123456789abcdef0123";
                            return std::nullopt;
                          });
  EXPECT_TRUE(rules.ok()) << rules.status();
  return *rules;
}

// A catalogue as the shipped one writes it (deploy/config/categories.yaml).
std::shared_ptr<const catalog::Catalog> TestCatalog() {
  auto parsed = catalog::Catalog::Parse(R"(
categories:
  - id: waste-collection
    labels: {nl: Huisvuilophaling, fr: Collecte des déchets, en: Waste collection}
  - id: staff-conduct
    labels: {nl: Houding van medewerkers, fr: Attitude du personnel, en: Staff conduct}
)",
                                        "test-categories.yaml");
  EXPECT_TRUE(parsed.ok()) << parsed.status();
  return parsed.ok() ? *parsed : nullptr;
}

events::Envelope Submitted(t::Language language = t::NL, bool anonymous = false) {
  events::Envelope e = events::NewEnvelope(kCase, "intake", kAt);
  auto* s = e.mutable_case_submitted();
  s->set_reference("MP-2025-7K3QX9M2T");
  s->set_submitting_system("e-loket");
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

// The submission of another case, as Submitted's.
events::Envelope SubmittedAs(const std::string& case_id) {
  events::Envelope e = Submitted();
  e.set_case_id(case_id);
  events::Finish(e, case_id + "-submitted");
  return e;
}

events::Envelope Event(const std::string& id, const std::function<void(events::Envelope&)>& set) {
  events::Envelope e = events::NewEnvelope(kCase, "test", kAt + absl::Hours(1));
  set(e);
  events::Finish(e, id);
  return e;
}

class NotificationLogicTest : public ::testing::Test {
 protected:
  NotificationLogicTest()
      : templates_(LoadTemplates()),
        rules_(Rules()),
        clock_(kAt + absl::Seconds(1)),
        logic_(templates_, rules_, mailer_,
               [this](const WebhookTarget& target, const WebhookMessage& message) {
                 hooks_.emplace_back(target, message);
                 if (on_hook_) return on_hook_();
                 return absl::OkStatus();
               },
               store_, log_, dead_letters_, clock_,
               {.first_backoff = absl::Seconds(2),
                .max_backoff = absl::Minutes(10),
                .retry_for = absl::Hours(24),
                .answer_days = {{"COMPLAINT", 45}},
                .max_in_flight_per_host = 1,
                .sealer = &sealer_,
                .keys = &keys_,
                .catalog = &catalog_}) {}

  // Sends what is due now, as the workers do.
  std::vector<std::string> Pump() {
    std::vector<std::string> outcomes;
    auto jobs = store_.Claim(0, clock_.Now(), absl::Minutes(2), 100);
    EXPECT_TRUE(jobs.ok());
    for (const v1::Job& job : *jobs) {
      auto outcome = logic_.Attempt(job);
      outcomes.push_back(outcome.ok() ? outcome->status : outcome.status().ToString());
    }
    return outcomes;
  }

  v1::Delivery Only() {
    EXPECT_EQ(store_.jobs.size(), 1u);
    return store_.jobs.begin()->second.delivery();
  }

  // Every byte notification keeps about the case: its messages and its stored submission.
  std::string Kept() {
    std::string all;
    for (const auto& [key, job] : store_.jobs) all += job.SerializeAsString();
    for (const auto& [c, e] : store_.submissions) all += e.SerializeAsString();
    return all;
  }

  events::Envelope Erased() {
    EXPECT_TRUE(keys_.Destroy(kCase).ok());  // what EraseReporterData does first
    return Event("erased-1", [](events::Envelope& e) {
      e.mutable_reporter_data_erased()->set_reason("request of the reporter");
      e.mutable_reporter_data_erased()->set_key_destroyed(true);
    });
  }

  privacy::testing::CountingKeyStore keys_;
  privacy::Sealer sealer_{keys_};
  catalog::CatalogFile catalog_{TestCatalog()};
  Templates templates_;
  NotificationRules rules_;
  FakeMailer mailer_;
  std::vector<std::pair<WebhookTarget, WebhookMessage>> hooks_;
  std::function<absl::Status()> on_hook_;
  MemoryStore store_;
  FakeLog log_;
  FakeLog dead_letters_;
  clock::FakeClock clock_;
  NotificationLogic logic_;
};

TEST_F(NotificationLogicTest, AcknowledgementIsQueuedThenSentAndRecorded) {
  ASSERT_TRUE(logic_.Handle(Submitted(), 3).ok());
  EXPECT_TRUE(mailer_.sent.empty()) << "the consumer only queues";
  EXPECT_EQ(Only().status(), "pending");
  EXPECT_EQ(store_.jobs.begin()->second.partition(), 3);
  EXPECT_EQ(Pump(), (std::vector<std::string>{"delivered"}));
  ASSERT_EQ(mailer_.sent.size(), 1u);
  const Email& email = mailer_.sent[0];
  EXPECT_EQ(email.to, "els@example.org");
  EXPECT_NE(email.subject.find("MP-2025-7K3QX9M2T"), std::string::npos) << email.subject;
  EXPECT_NE(email.body.find("Els Maes"), std::string::npos) << email.body;
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
  EXPECT_EQ(Only().status(), "delivered");
  EXPECT_EQ(Only().attempts(), 1);
  EXPECT_EQ(store_.Queued(), 0u);
  // The record was written once, before the event: leaving the queue writes it no more.
  EXPECT_EQ(store_.finish_writes, 0);
}

TEST_F(NotificationLogicTest, TheAcknowledgementNamesTheDayOfReceiptNotOfRegistration) {
  events::Envelope letter = Submitted();
  letter.mutable_case_submitted()->mutable_draft()->set_channel(t::LETTER);
  // Registered on 22/11/2025 (1763800000), received three days earlier, on 19/11/2025.
  events::SetTime(letter.mutable_case_submitted()->mutable_draft()->mutable_received_at(),
                  absl::FromUnixSeconds(1'763'800'000) - absl::Hours(72));
  ASSERT_TRUE(logic_.Handle(letter, 0).ok());
  Pump();
  ASSERT_EQ(mailer_.sent.size(), 1u);
  const std::string& body = mailer_.sent[0].body;
  EXPECT_NE(body.find("ontvangen op 19/11/2025"), std::string::npos) << body;
  EXPECT_EQ(body.find("22/11/2025"), std::string::npos) << body;
  // The answer is due 45 days from receipt: 03/01/2026.
  EXPECT_NE(body.find("03/01/2026"), std::string::npos) << body;
}

TEST_F(NotificationLogicTest, LanguageFollowsTheReporter) {
  ASSERT_TRUE(logic_.Handle(Submitted(t::FR), 0).ok());
  Pump();
  ASSERT_EQ(mailer_.sent.size(), 1u);
  EXPECT_NE(mailer_.sent[0].body.find("plainte"), std::string::npos) << mailer_.sent[0].body;
  EXPECT_EQ(mailer_.sent[0].language, "fr");
}

TEST_F(NotificationLogicTest, RedeliveredEventQueuesOnce) {
  ASSERT_TRUE(logic_.Handle(Submitted(), 0).ok());
  ASSERT_TRUE(logic_.Handle(Submitted(), 0).ok());
  EXPECT_EQ(store_.Queued(), 1u);
  Pump();
  ASSERT_TRUE(logic_.Handle(Submitted(), 0).ok());
  EXPECT_TRUE(Pump().empty());
  EXPECT_EQ(mailer_.sent.size(), 1u);
}

TEST_F(NotificationLogicTest, RebuildRecordsWhatTheLogSaysWasSentAndSendsOnlyTheRest) {
  // What the log holds: the complaint, its routing; the acknowledgement delivered, the
  // department's letter never recorded (the service died between queueing and sending).
  const events::Envelope submitted = Submitted();
  const events::Envelope routed = Event(
      "routed-1", [](events::Envelope& e) { e.mutable_case_routed()->set_department("waste"); });
  ASSERT_TRUE(logic_.Handle(submitted, 0).ok());
  EXPECT_EQ(Pump(), (std::vector<std::string>{"delivered"}));
  const events::Envelope delivered = log_.appended.at(0);
  ASSERT_EQ(delivered.type(), "NotificationDelivered");
  store_ = MemoryStore();  // Redis lost everything
  mailer_.sent.clear();

  logic_.Hold();
  for (const auto* e : {&submitted, &routed, &delivered}) ASSERT_TRUE(logic_.Restore(*e, 0).ok());
  // A live event while the rebuild runs waits too.
  ASSERT_TRUE(logic_
                  .Handle(Event("referred-1",
                                [](events::Envelope& e) {
                                  e.mutable_case_referred()->set_body("Ombudsdienst");
                                }),
                          0)
                  .ok());
  EXPECT_TRUE(Pump().empty()) << "nothing is sent while the rebuild runs";
  EXPECT_EQ(store_.jobs.size(), 3u);
  const int round_trips = store_.round_trips;
  auto released = logic_.Release();
  ASSERT_TRUE(released.ok()) << released.status();
  EXPECT_EQ(*released, 2) << "the department's letter and the referral";
  EXPECT_EQ(store_.round_trips - round_trips, 1) << "the held messages read at once (JobsOf)";
  EXPECT_EQ(Pump(), (std::vector<std::string>{"delivered", "delivered"}));
  ASSERT_EQ(mailer_.sent.size(), 2u) << "the department's letter and the referral, not the "
                                        "acknowledgement again";
  std::set<std::string> to = {mailer_.sent[0].to, mailer_.sent[1].to};
  EXPECT_EQ(to, (std::set<std::string>{"afval@gemeente.example", "els@example.org"}));
  for (const auto& [key, job] : store_.jobs) {
    EXPECT_EQ(job.delivery().status(), "delivered") << job.delivery().template_name();
    if (job.delivery().template_name() == "acknowledgement")
      EXPECT_EQ(job.delivery().idempotency_key(),
                delivered.notification_delivered().idempotency_key());
  }
  // Handled again, nothing more is queued.
  ASSERT_TRUE(logic_.Handle(submitted, 0).ok());
  EXPECT_TRUE(Pump().empty());
}

TEST_F(NotificationLogicTest, FailureIsScheduledInTheStoreWithBackoffAndJitterNotSlept) {
  mailer_.failures_left = 1;
  ASSERT_TRUE(logic_.Handle(Submitted(), 0).ok());
  EXPECT_EQ(Pump(), (std::vector<std::string>{"retrying"}));
  const v1::Job job = store_.jobs.begin()->second;
  EXPECT_EQ(job.delivery().status(), "retrying");
  EXPECT_EQ(job.delivery().last_error(), "connection refused");
  // First backoff 2 s, half of it random: due between 1 and 2 s from now.
  const absl::Duration wait = *store_.DueAt(job) - clock_.Now();
  EXPECT_GE(wait, absl::Seconds(1));
  EXPECT_LE(wait, absl::Seconds(2));
  EXPECT_TRUE(Pump().empty()) << "not due yet";
  clock_.Advance(absl::Seconds(2));
  EXPECT_EQ(Pump(), (std::vector<std::string>{"delivered"}));
  EXPECT_EQ(mailer_.sent.size(), 2u);
  EXPECT_EQ(mailer_.sent[0].idempotency_key, mailer_.sent[1].idempotency_key);
  EXPECT_EQ(log_.appended[0].notification_delivered().attempts(), 2);
}

// Sends what falls due from now until `until`, a minute at a time, as the senders do.
#define PUMP_UNTIL(until) \
  for (const absl::Time end = (until); clock_.Now() < end; clock_.Advance(absl::Minutes(1))) Pump()

TEST_F(NotificationLogicTest, TemporaryFailuresAreRetriedForADayThenDeadLetteredAndRetriedByHand) {
  mailer_.failures_left = 1'000'000;  // the mail relay never comes back by itself
  ASSERT_TRUE(logic_.Handle(Submitted(), 0).ok());
  const absl::Time queued = clock_.Now();
  PUMP_UNTIL(queued + absl::Hours(24) - absl::Minutes(1));
  EXPECT_EQ(Only().status(), "retrying") << "a day of temporary failures is retried";
  EXPECT_TRUE(dead_letters_.appended.empty());
  // Backoff doubles from 2 s up to 10 minutes: about 150 attempts in a day, not 8.
  EXPECT_GT(mailer_.sent.size(), 140u);
  EXPECT_LT(mailer_.sent.size(), 300u);
  PUMP_UNTIL(queued + absl::Hours(24) + absl::Minutes(2));
  EXPECT_EQ(Only().status(), "dead_lettered");
  ASSERT_EQ(dead_letters_.appended.size(), 1u);
  ASSERT_EQ(log_.appended.size(), 1u);
  const auto& failed = log_.appended[0].notification_failed();
  EXPECT_TRUE(failed.dead_lettered());
  EXPECT_EQ(failed.attempts(), static_cast<int>(mailer_.sent.size()));
  EXPECT_EQ(failed.last_error(), "temporary failures for 24h, gave up: connection refused");
  EXPECT_TRUE(mailer_.delivered.empty());
  const size_t attempts = mailer_.sent.size();
  clock_.Advance(absl::Hours(1));
  EXPECT_TRUE(Pump().empty());
  EXPECT_EQ(mailer_.sent.size(), attempts);
  // Ops fixed the mail server and retries it: the same key, a fresh day of attempts.
  mailer_.failures_left = 1;
  auto retried = logic_.Retry(kCase, Only().idempotency_key());
  ASSERT_TRUE(retried.ok()) << retried.status();
  EXPECT_EQ(retried->status(), "retrying");
  EXPECT_EQ(Pump(), (std::vector<std::string>{"retrying"}));
  clock_.Advance(absl::Seconds(2));
  EXPECT_EQ(Pump(), (std::vector<std::string>{"delivered"}));
  EXPECT_EQ(mailer_.sent.back().idempotency_key, mailer_.sent.front().idempotency_key);
  EXPECT_EQ(logic_.Retry(kCase, Only().idempotency_key()).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(logic_.Retry(kCase, "nope").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(NotificationLogicTest, AnHourLongMailOutageDeliversEveryMessageOnceWithOneKey) {
  const absl::Time outage_ends = clock_.Now() + absl::Hours(1);
  mailer_.answer = [&]() -> absl::Status {
    if (clock_.Now() < outage_ends) {
      return TemporaryFailure(absl::StatusCode::kUnavailable,
                              "smtp smtp://relay:25: Couldn't connect to server");
    }
    return absl::OkStatus();
  };
  ASSERT_TRUE(logic_.Handle(Submitted(), 0).ok());
  ASSERT_TRUE(logic_
                  .Handle(Event("routed-1",
                                [](events::Envelope& e) {
                                  e.mutable_case_routed()->set_department("waste");
                                }),
                          0)
                  .ok());
  ASSERT_TRUE(logic_
                  .Handle(Event("referred-1",
                                [](events::Envelope& e) {
                                  e.mutable_case_referred()->set_body("Ombudsdienst");
                                }),
                          0)
                  .ok());
  ASSERT_TRUE(logic_
                  .Handle(Event("escalated-1",
                                [](events::Envelope& e) {
                                  auto* x = e.mutable_case_escalated();
                                  x->set_clock("answer");
                                  x->set_level(1);
                                  x->set_target("department-head");
                                  x->set_department("waste");
                                }),
                          0)
                  .ok());
  ASSERT_EQ(store_.jobs.size(), 4u);
  // What the age of the oldest waiting message is measured from.
  EXPECT_EQ(*store_.OldestQueued(0), std::optional<absl::Time>(clock_.Now()));
  std::map<std::string, std::vector<absl::Time>> tried;  // key -> attempt times
  for (const absl::Time end = clock_.Now() + absl::Hours(2); clock_.Now() < end;
       clock_.Advance(absl::Seconds(30))) {
    const size_t before = mailer_.sent.size();
    Pump();
    for (size_t i = before; i < mailer_.sent.size(); ++i)
      tried[mailer_.sent[i].idempotency_key].push_back(clock_.Now());
    if (clock_.Now() < outage_ends) EXPECT_TRUE(dead_letters_.appended.empty());
  }
  EXPECT_TRUE(dead_letters_.appended.empty());
  EXPECT_EQ(store_.Queued(), 0u);
  EXPECT_EQ(*store_.OldestQueued(0), std::nullopt);
  // Each message went through once, under the one key it had on every attempt.
  ASSERT_EQ(mailer_.delivered.size(), 4u);
  std::map<std::string, int> delivered_per_key;
  std::map<std::string, std::set<std::string>> keys_per_message;
  for (const Email& m : mailer_.delivered) ++delivered_per_key[m.idempotency_key];
  for (const Email& m : mailer_.sent)
    keys_per_message[m.to + "|" + m.subject].insert(m.idempotency_key);
  EXPECT_EQ(delivered_per_key.size(), 4u);
  for (const auto& [key, n] : delivered_per_key) EXPECT_EQ(n, 1) << key;
  EXPECT_EQ(keys_per_message.size(), 4u);
  for (const auto& [message, keys] : keys_per_message) EXPECT_EQ(keys.size(), 1u) << message;
  ASSERT_EQ(log_.appended.size(), 4u);
  std::set<std::string> recorded;
  for (const auto& e : log_.appended) {
    ASSERT_EQ(e.type(), "NotificationDelivered");
    recorded.insert(e.notification_delivered().idempotency_key());
    EXPECT_GT(e.notification_delivered().attempts(), 8) << "more than the 8 attempts of before";
  }
  EXPECT_EQ(recorded.size(), 4u);
  for (const auto& [key, times] : tried) {
    ASSERT_FALSE(times.empty());
    // Delivered within a backoff (10 minutes, and the 30 s step) of the relay's return.
    EXPECT_LE(times.back(), outage_ends + absl::Minutes(10) + absl::Seconds(30)) << key;
    for (size_t i = 1; i < times.size(); ++i)
      EXPECT_LE(times[i] - times[i - 1], absl::Minutes(10) + absl::Seconds(30)) << key;
  }
  for (const auto& [k, job] : store_.jobs) EXPECT_EQ(job.delivery().status(), "delivered");
}

TEST_F(NotificationLogicTest, APermanentFailureIsDeadLetteredAfterOneAttempt) {
  mailer_.failures_left = 1'000'000;
  mailer_.failure = PermanentFailure(absl::StatusCode::kFailedPrecondition,
                                     "smtp smtp://relay:25: Failed sending data (reply 550)");
  ASSERT_TRUE(logic_.Handle(Submitted(), 0).ok());
  EXPECT_EQ(Pump(), (std::vector<std::string>{"dead_lettered"}));
  PUMP_UNTIL(clock_.Now() + absl::Hours(2));
  EXPECT_EQ(mailer_.sent.size(), 1u) << "no further attempts";
  ASSERT_EQ(dead_letters_.appended.size(), 1u);
  ASSERT_EQ(log_.appended.size(), 1u);
  EXPECT_EQ(log_.appended[0].notification_failed().attempts(), 1);
  EXPECT_TRUE(log_.appended[0].notification_failed().dead_lettered());
  EXPECT_EQ(log_.appended[0].notification_failed().last_error(),
            "smtp smtp://relay:25: Failed sending data (reply 550)");
  EXPECT_EQ(Only().status(), "dead_lettered");
  // An error nobody classified is not taken for a permanent one.
  mailer_.failure = absl::InternalError("something unexpected");
  ASSERT_TRUE(logic_
                  .Handle(Event("routed-1",
                                [](events::Envelope& e) {
                                  e.mutable_case_routed()->set_department("waste");
                                }),
                          0)
                  .ok());
  EXPECT_EQ(Pump(), (std::vector<std::string>{"retrying"}));
}

TEST_F(NotificationLogicTest, AWebhookRefusedForGoodIsDeadLetteredAtOnceAndRetryAfterIsHonoured) {
  events::Envelope submitted = Submitted();
  submitted.mutable_case_submitted()->mutable_draft()->mutable_reporter()->set_notify_by(
      t::NOTIFY_WEBHOOK);
  ASSERT_TRUE(logic_.Handle(submitted, 0).ok());
  // 429 with Retry-After: 300 s, although the backoff says 2 s.
  on_hook_ = [] {
    return TemporaryFailure(absl::StatusCode::kUnavailable, "HTTP 429", absl::Seconds(300));
  };
  EXPECT_EQ(Pump(), (std::vector<std::string>{"retrying"}));
  EXPECT_EQ(store_.DueAt(store_.jobs.begin()->second), clock_.Now() + absl::Seconds(300));
  clock_.Advance(absl::Seconds(299));
  EXPECT_TRUE(Pump().empty()) << "not before the receiver asked";
  clock_.Advance(absl::Seconds(1));
  // A Retry-After of ten hours is bounded by max_backoff.
  on_hook_ = [] {
    return TemporaryFailure(absl::StatusCode::kUnavailable, "HTTP 503", absl::Hours(10));
  };
  EXPECT_EQ(Pump(), (std::vector<std::string>{"retrying"}));
  EXPECT_EQ(store_.DueAt(store_.jobs.begin()->second), clock_.Now() + absl::Minutes(10));
  clock_.Advance(absl::Minutes(10));
  // Then a 404: refused for good, dead-lettered without waiting for retry_for.
  on_hook_ = [] { return PermanentFailure(absl::StatusCode::kInvalidArgument, "HTTP 404"); };
  EXPECT_EQ(Pump(), (std::vector<std::string>{"dead_lettered"}));
  EXPECT_EQ(hooks_.size(), 3u);
  ASSERT_EQ(dead_letters_.appended.size(), 1u);
  EXPECT_EQ(dead_letters_.appended[0].notification_failed().last_error(), "HTTP 404");
}

TEST(DeliveryError, TheClassTravelsWithTheStatus) {
  const absl::Status temporary =
      TemporaryFailure(absl::StatusCode::kUnavailable, "HTTP 429", absl::Seconds(30));
  EXPECT_EQ(temporary.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(temporary.message(), "HTTP 429");
  EXPECT_FALSE(IsPermanent(temporary));
  EXPECT_EQ(RetryAfterOf(temporary), absl::Seconds(30));
  EXPECT_EQ(RetryAfterOf(TemporaryFailure(absl::StatusCode::kUnavailable, "x")), std::nullopt);
  const absl::Status permanent = PermanentFailure(absl::StatusCode::kInvalidArgument, "HTTP 404");
  EXPECT_TRUE(IsPermanent(permanent));
  EXPECT_EQ(permanent.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(IsPermanent(absl::InvalidArgumentError("unclassified")));
  EXPECT_FALSE(IsPermanent(absl::OkStatus()));
}

TEST(DeliveryError, RetryAfterIsSecondsOrAnHttpDate) {
  const absl::Time now = absl::FromUnixSeconds(1'763'800'000);
  EXPECT_EQ(ParseRetryAfter("120", now), absl::Seconds(120));
  EXPECT_EQ(ParseRetryAfter(" 0 ", now), absl::ZeroDuration());
  EXPECT_EQ(ParseRetryAfter(absl::FormatTime("%a, %d %b %Y %H:%M:%S GMT", now + absl::Minutes(5),
                                             absl::UTCTimeZone()),
                            now),
            absl::Minutes(5));
  EXPECT_EQ(ParseRetryAfter("Sat, 01 Jan 2000 00:00:00 GMT", now), absl::ZeroDuration());
  EXPECT_EQ(ParseRetryAfter("-5", now), std::nullopt);
  EXPECT_EQ(ParseRetryAfter("soon", now), std::nullopt);
  EXPECT_EQ(ParseRetryAfter("", now), std::nullopt);
}

TEST_F(NotificationLogicTest, LogDownAfterSendingDoesNotSendAgain) {
  ASSERT_TRUE(logic_.Handle(Submitted(), 0).ok());
  log_.error = absl::UnavailableError("kafka down");
  EXPECT_EQ(Pump().size(), 1u);
  EXPECT_EQ(Only().status(), "delivered") << "recorded before the event";
  log_.error = absl::OkStatus();
  clock_.Advance(absl::Minutes(3));  // the lease ran out
  EXPECT_EQ(Pump(), (std::vector<std::string>{"skipped"}));
  EXPECT_EQ(mailer_.sent.size(), 1u);
  EXPECT_EQ(log_.appended.size(), 1u);
}

TEST_F(NotificationLogicTest, AnonymousOrNoMessagesWantedGetNothing) {
  ASSERT_TRUE(logic_.Handle(Submitted(t::NL, /*anonymous=*/true), 0).ok());
  EXPECT_EQ(store_.Queued(), 0u);
  events::Envelope none = Submitted();
  none.mutable_case_submitted()->mutable_draft()->mutable_reporter()->set_notify_by(t::NOTIFY_NONE);
  store_.submissions.clear();
  ASSERT_TRUE(logic_.Handle(none, 0).ok());
  EXPECT_EQ(store_.Queued(), 0u);
}

TEST_F(NotificationLogicTest, ReporterByWebhookThroughTheSubmittingSystemSigned) {
  events::Envelope submitted = Submitted(t::EN);
  submitted.mutable_case_submitted()->mutable_draft()->mutable_reporter()->set_notify_by(
      t::NOTIFY_WEBHOOK);
  ASSERT_TRUE(logic_.Handle(submitted, 0).ok());
  EXPECT_EQ(Pump(), (std::vector<std::string>{"delivered"}));
  ASSERT_EQ(hooks_.size(), 1u);
  EXPECT_TRUE(mailer_.sent.empty());
  EXPECT_EQ(hooks_[0].first.url, "https://e-loket.example/hooks");
  EXPECT_EQ(hooks_[0].first.secret, "0123456789abcdef0123");
  auto payload = nlohmann::json::parse(hooks_[0].second.body);
  EXPECT_EQ(payload["reference"], "MP-2025-7K3QX9M2T");
  EXPECT_EQ(payload["template"], "acknowledgement");
  EXPECT_EQ(payload["language"], "en");
  EXPECT_EQ(payload["idempotency_key"], hooks_[0].second.id);
  EXPECT_EQ(log_.appended[0].notification_delivered().channel(), events::v1::WEBHOOK);
}

TEST_F(NotificationLogicTest, ASlowHostGetsOnlyItsShareOfSenders) {
  events::Envelope submitted = Submitted();
  submitted.mutable_case_submitted()->mutable_draft()->mutable_reporter()->set_notify_by(
      t::NOTIFY_WEBHOOK);
  ASSERT_TRUE(logic_.Handle(submitted, 0).ok());
  ASSERT_TRUE(logic_
                  .Handle(Event("referred-1",
                                [](events::Envelope& e) {
                                  e.mutable_case_referred()->set_body("Ombudsdienst");
                                }),
                          0)
                  .ok());
  auto jobs = *store_.Claim(0, clock_.Now(), absl::Minutes(2), 10);
  ASSERT_EQ(jobs.size(), 2u);
  // While the first request hangs on the host, the second to the same host waits its turn.
  std::string second;
  bool first_call = true;
  on_hook_ = [&] {
    if (first_call) {
      first_call = false;
      second = logic_.Attempt(jobs[1])->status;
    }
    return absl::OkStatus();
  };
  EXPECT_EQ(logic_.Attempt(jobs[0])->status, "delivered");
  EXPECT_EQ(second, "deferred");
  EXPECT_EQ(hooks_.size(), 1u);
  clock_.Advance(absl::Seconds(2));
  EXPECT_EQ(Pump(), (std::vector<std::string>{"delivered"}));
  EXPECT_EQ(store_.jobs[std::string(kCase) + "|" + jobs[1].delivery().idempotency_key()]
                .delivery()
                .attempts(),
            1)
      << "waiting is not an attempt";
}

TEST_F(NotificationLogicTest, DepartmentAndEscalationLettersGoToConfiguredRecipients) {
  ASSERT_TRUE(logic_.Handle(Submitted(), 0).ok());
  ASSERT_TRUE(logic_
                  .Handle(Event("routed-1",
                                [](events::Envelope& e) {
                                  e.mutable_case_routed()->set_department("waste");
                                  e.mutable_case_routed()->set_priority(t::URGENT);
                                }),
                          0)
                  .ok());
  ASSERT_TRUE(logic_
                  .Handle(Event("escalated-1",
                                [](events::Envelope& e) {
                                  auto* x = e.mutable_case_escalated();
                                  x->set_clock("answer");
                                  x->set_level(1);
                                  x->set_target("department-head");
                                  x->set_department("waste");
                                }),
                          0)
                  .ok());
  Pump();
  std::map<std::string, Email> by_to;
  for (const Email& m : mailer_.sent) by_to[m.to] = m;
  ASSERT_EQ(by_to.size(), 3u);
  ASSERT_TRUE(by_to.count("afval@gemeente.example"));
  EXPECT_NE(by_to["afval@gemeente.example"].subject.find("MP-2025-7K3QX9M2T"), std::string::npos);
  ASSERT_TRUE(by_to.count("hoofd.afval@gemeente.example")) << "role@department first";
  EXPECT_EQ(by_to["hoofd.afval@gemeente.example"].language, "fr");
  // A case routed to a department nobody configured: nothing queued, nothing crashes.
  const size_t before = store_.jobs.size();
  ASSERT_TRUE(logic_
                  .Handle(Event("routed-2",
                                [](events::Envelope& e) {
                                  e.mutable_case_routed()->set_department("parks");
                                }),
                          0)
                  .ok());
  EXPECT_EQ(store_.jobs.size(), before);
}

TEST_F(NotificationLogicTest, InadmissibleLetterNamesTheGround) {
  ASSERT_TRUE(logic_.Handle(Submitted(), 0).ok());
  ASSERT_TRUE(logic_
                  .Handle(Event("admissible-1",
                                [](events::Envelope& e) {
                                  e.mutable_admissibility_decided()->set_admissible(true);
                                }),
                          0)
                  .ok());
  ASSERT_TRUE(logic_
                  .Handle(Event("inadmissible-1",
                                [](events::Envelope& e) {
                                  auto* a = e.mutable_admissibility_decided();
                                  a->set_admissible(false);
                                  a->set_ground(events::v1::FACTS_OLDER_THAN_ONE_YEAR);
                                  a->set_motivation("De feiten dateren van 2019.");
                                }),
                          0)
                  .ok());
  Pump();
  ASSERT_EQ(mailer_.sent.size(), 2u) << "acknowledgement and the inadmissible letter only";
  const Email& letter =
      mailer_.sent[0].body.find("2019") != std::string::npos ? mailer_.sent[0] : mailer_.sent[1];
  EXPECT_NE(letter.body.find("meer dan een jaar"), std::string::npos) << letter.body;
  EXPECT_NE(letter.body.find("De feiten dateren van 2019."), std::string::npos) << letter.body;
  EXPECT_NE(letter.body.find("Ombudsdienst"), std::string::npos) << letter.body;
}

TEST(Redaction, RecipientHintsNameNoAddress) {
  EXPECT_EQ(RecipientHint("email", "els@example.org"), "e***@example.org");
  EXPECT_EQ(RecipientHint("email", "@x"), "***");
  EXPECT_EQ(RecipientHint("webhook", "https://e-loket.example/hooks?token=1"),
            "https://e-loket.example");
  EXPECT_EQ(RecipientHint("email", ""), "");
}

TEST_F(NotificationLogicTest, AMessageToTheReporterWaitsSealedAndKeepsNothingOnceDelivered) {
  ASSERT_TRUE(logic_.Handle(Submitted(), 0).ok());
  const v1::Job waiting = store_.jobs.begin()->second;
  EXPECT_FALSE(waiting.sealed().empty());
  EXPECT_EQ(waiting.SerializeAsString().find("els@example.org"), std::string::npos);
  EXPECT_EQ(waiting.SerializeAsString().find("Els Maes"), std::string::npos);
  EXPECT_EQ(waiting.delivery().recipient_hint(), "e***@example.org");
  EXPECT_EQ(Pump(), (std::vector<std::string>{"delivered"}));
  ASSERT_EQ(mailer_.sent.size(), 1u);
  EXPECT_EQ(mailer_.sent[0].to, "els@example.org");
  const v1::Job done = store_.jobs.begin()->second;
  EXPECT_EQ(done.delivery().status(), "delivered");
  EXPECT_EQ(done.address(), "");
  EXPECT_EQ(done.subject(), "");
  EXPECT_EQ(done.body(), "");
  EXPECT_EQ(done.payload(), "");
  EXPECT_EQ(done.sealed(), "");
  EXPECT_EQ(done.delivery().recipient_hint(), "e***@example.org") << "what ops need";
  EXPECT_EQ(done.delivery().attempts(), 1);
}

TEST_F(NotificationLogicTest, ADeliveredStaffMessageKeepsNeitherAddressNorLetter) {
  ASSERT_TRUE(logic_.Handle(Submitted(), 0).ok());
  ASSERT_TRUE(logic_
                  .Handle(Event("routed-1",
                                [](events::Envelope& e) {
                                  e.mutable_case_routed()->set_department("waste");
                                }),
                          0)
                  .ok());
  Pump();
  ASSERT_EQ(mailer_.sent.size(), 2u);
  for (const auto& [key, job] : store_.jobs) {
    EXPECT_EQ(job.delivery().status(), "delivered");
    EXPECT_EQ(job.address(), "") << job.delivery().template_name();
    EXPECT_EQ(job.body(), "") << job.delivery().template_name();
  }
}

TEST_F(NotificationLogicTest, ErasureCancelsWhatWaitsForTheReporterAndRedactsTheRest) {
  ASSERT_TRUE(logic_.Handle(Submitted(), 0).ok());
  EXPECT_EQ(Pump(), (std::vector<std::string>{"delivered"}));  // the acknowledgement
  // The referral letter waits (the mail server is down), the department's letter too.
  mailer_.failures_left = 100;
  ASSERT_TRUE(logic_
                  .Handle(Event("referred-1",
                                [](events::Envelope& e) {
                                  e.mutable_case_referred()->set_body("Ombudsdienst");
                                }),
                          0)
                  .ok());
  ASSERT_TRUE(logic_
                  .Handle(Event("routed-1",
                                [](events::Envelope& e) {
                                  e.mutable_case_routed()->set_department("waste");
                                }),
                          0)
                  .ok());
  EXPECT_EQ(Pump(), (std::vector<std::string>{"retrying", "retrying"}));
  log_.appended.clear();

  ASSERT_TRUE(logic_.Handle(Erased(), 0).ok());
  const std::string kept = Kept();
  EXPECT_EQ(kept.find("els@example.org"), std::string::npos);
  EXPECT_EQ(kept.find("Els Maes"), std::string::npos);
  EXPECT_EQ(kept.find("e***@example.org"), std::string::npos) << "not even the hint";
  std::map<std::string, v1::Job> by_template;
  for (const auto& [key, job] : store_.jobs) by_template[job.delivery().template_name()] = job;
  EXPECT_EQ(by_template["acknowledgement"].delivery().status(), "delivered");
  EXPECT_EQ(by_template["referral"].delivery().status(), "cancelled");
  EXPECT_EQ(by_template["referral"].sealed(), "");
  EXPECT_EQ(by_template["dispatch"].delivery().status(), "retrying") << "staff letters still go";
  ASSERT_EQ(log_.appended.size(), 1u);
  const auto& cancelled = log_.appended[0].notification_failed();
  EXPECT_EQ(cancelled.template_name(), "referral");
  EXPECT_FALSE(cancelled.dead_lettered());
  EXPECT_NE(cancelled.last_error().find("erased"), std::string::npos) << cancelled.last_error();
  EXPECT_TRUE(dead_letters_.appended.empty());
  // Handled again (a redelivery): nothing more.
  ASSERT_TRUE(logic_.Handle(Erased(), 0).ok());
  EXPECT_EQ(log_.appended.size(), 1u);
  // Only the department's letter goes on.
  mailer_.failures_left = 0;
  mailer_.sent.clear();
  clock_.Advance(absl::Minutes(5));
  EXPECT_EQ(Pump(), (std::vector<std::string>{"delivered"}));
  ASSERT_EQ(mailer_.sent.size(), 1u);
  EXPECT_EQ(mailer_.sent[0].to, "afval@gemeente.example");
  EXPECT_EQ(
      logic_.Retry(kCase, by_template["referral"].delivery().idempotency_key()).status().code(),
      absl::StatusCode::kFailedPrecondition);
}

TEST_F(NotificationLogicTest, AMessageWhoseKeyIsGoneWhenItsTurnComesIsCancelled) {
  ASSERT_TRUE(logic_.Handle(Submitted(), 0).ok());
  ASSERT_TRUE(keys_.Destroy(kCase).ok());  // erased; ReporterDataErased not handled yet
  EXPECT_EQ(Pump(), (std::vector<std::string>{"cancelled"}));
  EXPECT_TRUE(mailer_.sent.empty());
  EXPECT_EQ(Only().status(), "cancelled");
  ASSERT_EQ(log_.appended.size(), 1u);
  EXPECT_EQ(log_.appended[0].type(), "NotificationFailed");
  EXPECT_FALSE(log_.appended[0].notification_failed().dead_lettered());
}

TEST_F(NotificationLogicTest, TheLettersOfAClaimOpenWithKeysReadAtOnce) {
  ASSERT_TRUE(logic_.Handle(Submitted(), 0).ok());
  ASSERT_TRUE(logic_.Handle(SubmittedAs("case-2"), 0).ok());
  auto jobs = store_.Claim(0, clock_.Now(), absl::Minutes(2), 100);
  ASSERT_TRUE(jobs.ok());
  ASSERT_EQ(jobs->size(), 2u);
  const int trips = keys_.round_trips();
  std::vector<std::optional<KnownKey>> keys = logic_.ReadKeys(*jobs);
  EXPECT_EQ(keys_.round_trips() - trips, 1) << "the claim's keys in one read";
  ASSERT_EQ(keys.size(), 2u);
  for (size_t i = 0; i < jobs->size(); ++i) {
    ASSERT_TRUE(keys[i].has_value());
    auto attempted = logic_.Send((*jobs)[i], keys[i]);
    ASSERT_TRUE(attempted.ok()) << attempted.status();
    EXPECT_EQ(attempted->outcome.status, "delivered");
  }
  EXPECT_EQ(keys_.round_trips() - trips, 1) << "no key read a letter";
  ASSERT_EQ(mailer_.sent.size(), 2u);
  EXPECT_EQ(mailer_.sent[0].to, "els@example.org");
}

TEST_F(NotificationLogicTest, AKeyReadBeforeAnErasureStopsTheLetterOnceItIsNoLongerFresh) {
  ASSERT_TRUE(logic_.Handle(Submitted(), 0).ok());
  auto jobs = store_.Claim(0, clock_.Now(), absl::Minutes(2), 100);
  ASSERT_TRUE(jobs.ok());
  ASSERT_EQ(jobs->size(), 1u);
  std::vector<std::optional<KnownKey>> keys = logic_.ReadKeys(*jobs);
  ASSERT_TRUE(keys[0].has_value() && keys[0]->key.has_value());
  // Erased while the message waited for a sender longer than a key stays fresh.
  ASSERT_TRUE(keys_.Destroy(kCase).ok());
  ASSERT_LT(kFreshKey, absl::Seconds(2));
  clock_.Advance(absl::Seconds(2));
  auto attempted = logic_.Send((*jobs)[0], keys[0]);
  ASSERT_TRUE(attempted.ok()) << attempted.status();
  EXPECT_EQ(attempted->outcome.status, "cancelled");
  EXPECT_TRUE(mailer_.sent.empty());

  // A key the read found gone cancels at once, without reading again.
  ASSERT_TRUE(logic_.Handle(SubmittedAs("case-2"), 0).ok());
  ASSERT_TRUE(keys_.Destroy("case-2").ok());
  jobs = store_.Claim(0, clock_.Now(), absl::Minutes(2), 100);
  ASSERT_TRUE(jobs.ok());
  ASSERT_EQ(jobs->size(), 1u);
  keys = logic_.ReadKeys(*jobs);
  ASSERT_TRUE(keys[0].has_value());
  EXPECT_FALSE(keys[0]->key.has_value());
  const int trips = keys_.round_trips();
  attempted = logic_.Send((*jobs)[0], keys[0]);
  ASSERT_TRUE(attempted.ok()) << attempted.status();
  EXPECT_EQ(attempted->outcome.status, "cancelled");
  EXPECT_EQ(keys_.round_trips(), trips);
  EXPECT_TRUE(mailer_.sent.empty());
}

TEST_F(NotificationLogicTest, ARebuildAfterErasureBringsNothingBack) {
  events::Envelope submitted = Submitted();
  ASSERT_TRUE(
      sealer_
          .SealReporter(kCase,
                        submitted.mutable_case_submitted()->mutable_draft()->mutable_reporter())
          .ok());  // as the intake appends it
  const events::Envelope routed = Event(
      "routed-1", [](events::Envelope& e) { e.mutable_case_routed()->set_department("waste"); });
  ASSERT_TRUE(logic_.Handle(submitted, 0).ok());
  ASSERT_TRUE(logic_.Handle(routed, 0).ok());
  Pump();
  ASSERT_EQ(mailer_.sent.size(), 2u);
  std::vector<events::Envelope> log = {submitted, routed};
  for (const auto& e : log_.appended) log.push_back(e);
  log.push_back(Erased());
  ASSERT_TRUE(logic_.Handle(log.back(), 0).ok());

  store_ = MemoryStore();  // Redis lost everything: the log is folded again
  mailer_.sent.clear();
  logic_.Hold();
  for (const auto& e : log) ASSERT_TRUE(logic_.Restore(e, 0).ok()) << e.type();
  ASSERT_TRUE(logic_.Release().ok());
  EXPECT_TRUE(Pump().empty());
  EXPECT_TRUE(mailer_.sent.empty());
  const std::string kept = Kept();
  EXPECT_EQ(kept.find("els@example.org"), std::string::npos);
  EXPECT_EQ(kept.find("Els Maes"), std::string::npos);
  for (const auto& [c, e] : store_.submissions) {
    EXPECT_EQ(e.case_submitted().draft().reporter().sealed(), "");
    EXPECT_TRUE(e.case_submitted().draft().reporter().erased());
  }
}

TEST_F(NotificationLogicTest, AFailureThatQuotesTheAddressIsRecordedWithoutIt) {
  mailer_.failures_left = 1;
  mailer_.failure = PermanentFailure(absl::StatusCode::kFailedPrecondition,
                                     "550 <ELS@Example.org>: no such mailbox");
  ASSERT_TRUE(logic_.Handle(Submitted(), 0).ok());
  EXPECT_EQ(Pump(), (std::vector<std::string>{"dead_lettered"}));
  ASSERT_EQ(dead_letters_.appended.size(), 1u);
  // Not the address in any letter case, nor its hint: the dead letter and the case log keep
  // "<recipient>".
  const std::string dead = absl::AsciiStrToLower(dead_letters_.appended[0].SerializeAsString());
  EXPECT_EQ(dead.find("els@example.org"), std::string::npos);
  EXPECT_EQ(dead.find("e***@example.org"), std::string::npos);
  EXPECT_EQ(dead_letters_.appended[0].notification_failed().last_error(),
            "550 <<recipient>>: no such mailbox");
  EXPECT_EQ(Only().status(), "dead_lettered");
  EXPECT_EQ(store_.jobs.begin()->second.SerializeAsString().find("els@example.org"),
            std::string::npos)
      << "the letter stays sealed";
  // Ops fix the address book and retry: the sealed letter opens and goes.
  auto retried = logic_.Retry(kCase, Only().idempotency_key());
  ASSERT_TRUE(retried.ok()) << retried.status();
  EXPECT_EQ(Pump(), (std::vector<std::string>{"delivered"}));
  EXPECT_EQ(mailer_.sent.back().to, "els@example.org");
}

TEST(ScrubAddress, EveryOccurrenceInAnyCase) {
  EXPECT_EQ(ScrubAddress("550 <Els@Example.ORG> unknown; els@example.org", "els@example.org"),
            "550 <<recipient>> unknown; <recipient>");
  EXPECT_EQ(ScrubAddress("421 try later", "els@example.org"), "421 try later");
  EXPECT_EQ(ScrubAddress("x", ""), "x");
}

TEST_F(NotificationLogicTest, StaffLettersCarryNoReporterAndNoContentOfAConfidentialCase) {
  events::Envelope submitted = Submitted();
  auto* draft = submitted.mutable_case_submitted()->mutable_draft();
  draft->set_confidential(true);
  draft->set_description("De loketbediende Pieter was onbeleefd");
  draft->mutable_location()->set_address("Stadhuis, Botermarkt 1");
  ASSERT_TRUE(logic_.Handle(submitted, 0).ok());
  ASSERT_TRUE(logic_
                  .Handle(Event("routed-1",
                                [](events::Envelope& e) {
                                  e.mutable_case_routed()->set_department("waste");
                                }),
                          0)
                  .ok());
  Pump();
  std::map<std::string, Email> by_to;
  for (const Email& m : mailer_.sent) by_to[m.to] = m;
  ASSERT_TRUE(by_to.count("afval@gemeente.example"));
  const Email& letter = by_to["afval@gemeente.example"];
  const std::string text = letter.subject + "\n" + letter.body;
  for (const char* secret : {"Pieter", "Botermarkt", "waste-collection", "Huisvuilophaling",
                             "Els Maes", "els@example.org"}) {
    EXPECT_EQ(text.find(secret), std::string::npos) << secret << " in\n" << text;
  }
  EXPECT_NE(text.find("MP-2025-7K3QX9M2T"), std::string::npos);
  EXPECT_NE(text.find("Vertrouwelijke zaak"), std::string::npos) << text;
  // The reporter's own letter is theirs.
  EXPECT_NE(by_to["els@example.org"].body.find("Els Maes"), std::string::npos);
  // What a preview of a staff letter is rendered with: not even the name.
  auto values = logic_.Values(kCase, nullptr, "nl", /*for_reporter=*/false);
  ASSERT_TRUE(values.ok()) << values.status();
  EXPECT_FALSE(values->count("name"));
  EXPECT_FALSE(values->count("description"));
  auto own = logic_.Values(kCase, nullptr, "nl", /*for_reporter=*/true);
  ASSERT_TRUE(own.ok());
  EXPECT_EQ(own->at("name"), "Els Maes");
}

TEST_F(NotificationLogicTest, TheCategoryIsItsLabelInTheReportersLanguageNeverItsId) {
  const std::map<t::Language, std::string> labels = {{t::NL, "Onderwerp: Houding van medewerkers"},
                                                     {t::FR, "Objet : Attitude du personnel"},
                                                     {t::EN, "Topic: Staff conduct"}};
  for (const auto& [language, label] : labels) {
    SCOPED_TRACE(LanguageCode(language));
    mailer_.sent.clear();
    store_.jobs.clear();
    events::Envelope submitted = Submitted(language);
    submitted.mutable_case_submitted()->mutable_draft()->set_category("staff-conduct");
    ASSERT_TRUE(logic_.Handle(submitted, 0).ok());
    Pump();
    ASSERT_EQ(mailer_.sent.size(), 1u);
    const Email& email = mailer_.sent[0];
    EXPECT_NE(email.body.find(label), std::string::npos) << email.body;
    EXPECT_EQ((email.subject + email.body + email.html).find("staff-conduct"), std::string::npos)
        << email.body;
    EXPECT_NE(email.html.find(label.substr(label.find(' ') + 1)), std::string::npos) << email.html;
  }
}

TEST_F(NotificationLogicTest, ACategoryTheCatalogueDoesNotKnowIsLeftOutOfTheReportersLetter) {
  events::Envelope submitted = Submitted();
  submitted.mutable_case_submitted()->mutable_draft()->set_category("old-category-7");
  ASSERT_TRUE(logic_.Handle(submitted, 0).ok());
  ASSERT_TRUE(logic_
                  .Handle(Event("routed-1",
                                [](events::Envelope& e) {
                                  e.mutable_case_routed()->set_department("waste");
                                }),
                          0)
                  .ok());
  Pump();
  std::map<std::string, Email> by_to;
  for (const Email& m : mailer_.sent) by_to[m.to] = m;
  ASSERT_EQ(by_to.size(), 2u);
  const Email& own = by_to["els@example.org"];
  EXPECT_EQ(own.body.find("old-category-7"), std::string::npos) << own.body;
  EXPECT_EQ(own.body.find("Onderwerp"), std::string::npos) << own.body;
  EXPECT_NE(own.body.find("MP-2025-7K3QX9M2T"), std::string::npos) << own.body;
  // Staff read the id rather than nothing.
  EXPECT_NE(by_to["afval@gemeente.example"].body.find("old-category-7"), std::string::npos);
}

TEST_F(NotificationLogicTest, TheDuplicateLetterNamesTheMastersReferenceFromTheEvent) {
  // The master's submission is on another partition, not stored here yet: the event names it.
  ASSERT_TRUE(logic_.Handle(Submitted(), 0).ok());
  ASSERT_TRUE(logic_
                  .Handle(Event("duplicate-1",
                                [](events::Envelope& e) {
                                  auto* l = e.mutable_case_linked();
                                  l->set_master_case_id("MP-00000000MASTR");
                                  l->set_master_reference("MP-2025-MASTER42");
                                  l->set_distance_m(12.5);
                                }),
                          0)
                  .ok());
  Pump();
  ASSERT_EQ(mailer_.sent.size(), 2u) << "the acknowledgement and the duplicate letter";
  const Email& letter = mailer_.sent[0].body.find("al gekend") != std::string::npos ||
                                mailer_.sent[0].subject.find("al gekend") != std::string::npos
                            ? mailer_.sent[0]
                            : mailer_.sent[1];
  EXPECT_NE(letter.subject.find("al gekend"), std::string::npos) << letter.subject;
  EXPECT_NE(letter.body.find("referentie MP-2025-MASTER42"), std::string::npos) << letter.body;
  EXPECT_EQ(letter.body.find("MP-00000000MASTR"), std::string::npos) << letter.body;
}

TEST_F(NotificationLogicTest, ADuplicateLetterWithoutTheMastersReferenceWaitsRatherThanShowAnId) {
  // A record written before the event named the reference, whose master is not stored here.
  ASSERT_TRUE(logic_.Handle(Submitted(), 0).ok());
  const events::Envelope linked = Event("duplicate-1", [](events::Envelope& e) {
    e.mutable_case_merged()->set_master_case_id("MP-00000000MASTR");
  });
  const absl::Status status = logic_.Handle(linked, 0);
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal) << status;
  EXPECT_EQ(status::RetryOf(status), status::Retry::kUnclassified)
      << "retried, then set aside for the operators";
  Pump();
  ASSERT_EQ(mailer_.sent.size(), 1u) << "the acknowledgement only";

  // Once the master's submission is stored, the letter names its reference.
  events::Envelope master = Submitted();
  master.set_case_id("MP-00000000MASTR");
  master.mutable_case_submitted()->set_reference("MP-2025-MASTER42");
  events::Finish(master, "submitted-master");
  ASSERT_TRUE(logic_.Handle(master, 1).ok());
  ASSERT_TRUE(logic_.Handle(linked, 0).ok());
  Pump();
  bool found = false;
  for (const Email& email : mailer_.sent) {
    if (email.body.find("MP-2025-MASTER42") == std::string::npos) continue;
    found = email.to == "els@example.org";
    EXPECT_EQ(email.body.find("MP-00000000MASTR"), std::string::npos) << email.body;
  }
  EXPECT_TRUE(found) << "the duplicate letter to the reporter";
}

TEST_F(NotificationLogicTest, LettersToTheReporterNameNoDepartment) {
  ASSERT_TRUE(logic_.Handle(Submitted(), 0).ok());
  ASSERT_TRUE(logic_
                  .Handle(Event("routed-1",
                                [](events::Envelope& e) {
                                  e.mutable_case_routed()->set_department("waste");
                                }),
                          0)
                  .ok());
  auto values = logic_.Values(kCase, nullptr, "nl", /*for_reporter=*/true);
  ASSERT_TRUE(values.ok()) << values.status();
  EXPECT_FALSE(values->count("department"));
  EXPECT_EQ(values->at("category"), "Huisvuilophaling");
  auto staff = logic_.Values(kCase, nullptr, "nl", /*for_reporter=*/false);
  ASSERT_TRUE(staff.ok()) << staff.status();
  EXPECT_EQ(staff->at("department"), "waste");
}

TEST_F(NotificationLogicTest, TheComplaintAnswerAndTheInadmissibleLetterNameTheSecondLine) {
  ASSERT_TRUE(logic_.Handle(Submitted(t::FR), 0).ok());
  ASSERT_TRUE(logic_
                  .Handle(Event("inadmissible-1",
                                [](events::Envelope& e) {
                                  auto* a = e.mutable_admissibility_decided();
                                  a->set_admissible(false);
                                  a->set_ground(events::v1::ALREADY_HANDLED);
                                  a->set_motivation("Zie dossier MP-2024-1.");
                                }),
                          0)
                  .ok());
  ASSERT_TRUE(logic_
                  .Handle(Event("answered-1",
                                [](events::Envelope& e) {
                                  e.mutable_case_answered()->set_answer("Voici notre réponse.");
                                  e.mutable_case_answered()->set_outcome(events::v1::UNFOUNDED);
                                }),
                          0)
                  .ok());
  Pump();
  ASSERT_EQ(mailer_.sent.size(), 3u);
  int with_route = 0;
  for (const Email& email : mailer_.sent) {
    if (email.body.find("irrecevable") == std::string::npos &&
        email.body.find("Voici notre réponse.") == std::string::npos) {
      continue;
    }
    ++with_route;
    // The defaults: the Vlaamse Ombudsdienst.
    for (const char* detail : {"  Vlaamse Ombudsdienst\n", "Leuvenseweg 48, 1000 Brussel",
                               "Site web : https://www.vlaamseombudsdienst.be",
                               "E-mail : klachten@vlaamseombudsdienst.be", "Téléphone : 1700"}) {
      EXPECT_NE(email.body.find(detail), std::string::npos) << detail << " in\n" << email.body;
    }
  }
  EXPECT_EQ(with_route, 2);
}

TEST_F(NotificationLogicTest, EveryEmailHasAnEscapedHtmlPart) {
  events::Envelope submitted = Submitted();
  submitted.mutable_case_submitted()->mutable_draft()->set_description(
      "<script>alert('x')</script> & meer");
  ASSERT_TRUE(logic_.Handle(submitted, 0).ok());
  ASSERT_TRUE(logic_
                  .Handle(Event("routed-1",
                                [](events::Envelope& e) {
                                  e.mutable_case_routed()->set_department("waste");
                                }),
                          0)
                  .ok());
  ASSERT_TRUE(logic_
                  .Handle(Event("answered-1",
                                [](events::Envelope& e) {
                                  e.mutable_case_answered()->set_answer("<b>Opgelost</b>");
                                  e.mutable_case_answered()->set_outcome(events::v1::FOUNDED);
                                }),
                          0)
                  .ok());
  Pump();
  ASSERT_EQ(mailer_.sent.size(), 3u);
  bool dispatch = false, answer = false;
  for (const Email& email : mailer_.sent) {
    EXPECT_NE(email.html.find("<html lang=\"nl\">"), std::string::npos) << email.html;
    EXPECT_EQ(email.html.find("<script>"), std::string::npos) << email.html;
    EXPECT_EQ(email.html.find("<b>"), std::string::npos) << email.html;
    if (email.body.find("<script>alert('x')</script> & meer") != std::string::npos) {
      dispatch = true;  // the text part as written; the HTML part escaped
      EXPECT_NE(email.html.find("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; meer"),
                std::string::npos)
          << email.html;
    }
    if (email.body.find("<b>Opgelost</b>") != std::string::npos) {
      answer = true;
      EXPECT_NE(email.html.find("&lt;b&gt;Opgelost&lt;/b&gt;"), std::string::npos) << email.html;
    }
  }
  EXPECT_TRUE(dispatch);
  EXPECT_TRUE(answer);
}

events::Envelope Extended(bool notify_reporter, const std::string& clock = "answer") {
  return Event(absl::StrCat("extended-", notify_reporter, clock), [&](events::Envelope& e) {
    auto* x = e.mutable_clock_extended();
    x->set_clock(clock);
    x->set_generation(2);
    // 06/01/2026 and 16/01/2026 in Brussels.
    events::SetTime(x->mutable_previous_due_at(), absl::FromUnixSeconds(1'767'700'000));
    events::SetTime(x->mutable_due_at(), absl::FromUnixSeconds(1'768'564'000));
    x->set_term("10d");
    x->set_reason("Het advies van de brandweer is nog niet binnen.");
    x->set_notify_reporter(notify_reporter);
  });
}

TEST_F(NotificationLogicTest, AnExtendedClockIsToldToTheReporterOnlyWhenTheTeamSaysSo) {
  ASSERT_TRUE(logic_.Handle(Submitted(), 0).ok());
  Pump();
  mailer_.sent.clear();
  ASSERT_TRUE(logic_.Handle(Extended(false), 0).ok());
  Pump();
  EXPECT_TRUE(mailer_.sent.empty()) << "notify_reporter is false";

  ASSERT_TRUE(logic_.Handle(Extended(true), 0).ok());
  Pump();
  ASSERT_EQ(mailer_.sent.size(), 1u);
  const Email& email = mailer_.sent[0];
  EXPECT_EQ(email.to, "els@example.org");
  EXPECT_NE(email.subject.find("16/01/2026"), std::string::npos) << email.subject;
  for (const char* part :
       {"Beste Els Maes", "uw klacht verlengd, met 10 dagen.\n\nTermijn: antwoord\n",
        "uiterlijk op 16/01/2026 (in plaats van 06/01/2026)",
        "Het advies van de brandweer is nog niet binnen.", "onderwerp: Huisvuilophaling"}) {
    EXPECT_NE(email.body.find(part), std::string::npos) << part << " in\n" << email.body;
  }
  EXPECT_EQ(email.body.find("10d"), std::string::npos) << email.body;
}

TEST_F(NotificationLogicTest, AnExtendedClockInFrenchNamesNoIdOfTheClock) {
  ASSERT_TRUE(logic_.Handle(Submitted(t::FR), 0).ok());
  Pump();
  mailer_.sent.clear();
  ASSERT_TRUE(logic_.Handle(Extended(true, "municipal_review"), 0).ok());
  Pump();
  ASSERT_EQ(mailer_.sent.size(), 1u);
  const std::string& body = mailer_.sent[0].body;
  EXPECT_EQ(body.find("municipal_review"), std::string::npos) << body;
  EXPECT_NE(body.find("votre plainte, de 10 jours.\n\nDélai : traitement\n"), std::string::npos)
      << body;
  EXPECT_NE(body.find("au plus tard le 16/01/2026"), std::string::npos) << body;
}

TEST_F(NotificationLogicTest, AnExtensionToMidnightNamesTheDayBeforeAsTheLastDay) {
  ASSERT_TRUE(logic_.Handle(Submitted(t::EN), 0).ok());
  Pump();
  mailer_.sent.clear();
  ASSERT_TRUE(logic_
                  .Handle(Event("extended-midnight",
                                [](events::Envelope& e) {
                                  auto* x = e.mutable_clock_extended();
                                  x->set_clock("answer");
                                  // 2026-01-17 00:00 in Brussels (23:00 UTC the day before):
                                  // the term ends with 16/01/2026.
                                  events::SetTime(
                                      x->mutable_due_at(),
                                      absl::FromCivil(absl::CivilSecond(2026, 1, 16, 23, 0, 0),
                                                      absl::UTCTimeZone()));
                                  x->set_term("2wd");
                                  x->set_notify_reporter(true);
                                }),
                          0)
                  .ok());
  Pump();
  ASSERT_EQ(mailer_.sent.size(), 1u);
  const std::string& body = mailer_.sent[0].body;
  EXPECT_NE(body.find("by 16/01/2026 at the latest"), std::string::npos) << body;
  EXPECT_NE(body.find(", by 2 working days."), std::string::npos) << body;
  EXPECT_EQ(body.find("17/01/2026"), std::string::npos) << body;
}

TEST_F(NotificationLogicTest, AnExtendedClockIsNotToldToAnonymousOrSilentReporters) {
  events::Envelope anonymous = Submitted(t::NL, /*anonymous=*/true);
  ASSERT_TRUE(logic_.Handle(anonymous, 0).ok());
  ASSERT_TRUE(logic_.Handle(Extended(true), 0).ok());
  EXPECT_EQ(store_.Queued(), 0u);

  store_.submissions.clear();
  events::Envelope silent = Submitted();
  silent.mutable_case_submitted()->mutable_draft()->mutable_reporter()->set_notify_by(
      t::NOTIFY_NONE);
  ASSERT_TRUE(logic_.Handle(silent, 0).ok());
  ASSERT_TRUE(logic_.Handle(Extended(true, "acknowledge"), 0).ok());
  EXPECT_EQ(store_.Queued(), 0u);
}

TEST_F(NotificationLogicTest, AConfidentialCasesReporterIsToldOfAnExtensionToo) {
  events::Envelope submitted = Submitted();
  submitted.mutable_case_submitted()->mutable_draft()->set_confidential(true);
  ASSERT_TRUE(logic_.Handle(submitted, 0).ok());
  Pump();
  mailer_.sent.clear();
  ASSERT_TRUE(logic_.Handle(Extended(true), 0).ok());
  Pump();
  ASSERT_EQ(mailer_.sent.size(), 1u);
  EXPECT_EQ(mailer_.sent[0].to, "els@example.org");
  EXPECT_NE(mailer_.sent[0].body.find("16/01/2026"), std::string::npos);
}

TEST(Rules, ErrorsNameTheEntry) {
  auto env = [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
  auto msg = [&](const char* rules, const char* recipients = "{}") {
    return std::string(
        ParseRules(YAML::Load(rules), YAML::Load(recipients), env).status().message());
  };
  EXPECT_EQ(msg("[{on: CaseEaten, to: reporter, template: x}]"),
            "notification.rules[0].on: 'CaseEaten' is not an event notification handles");
  EXPECT_EQ(msg("[{on: CaseRouted, template: x}]"), "notification.rules[0].to: required");
  EXPECT_EQ(msg("[{on: CaseRouted, to: department, template: x, channel: fax}]"),
            "notification.rules[0].channel: email or webhook");
  EXPECT_EQ(msg("[{on: ClockExtended, to: department, template: x}]"),
            "notification.rules[0].to: ClockExtended is told to the reporter only (when "
            "notify_reporter)");
  EXPECT_EQ(msg("[{on: CaseRouted, to: escalation-target, template: x}]"),
            "notification.rules[0].to: escalation-target only on CaseEscalated");
  EXPECT_EQ(msg("[]", "{x: {webhook: 'https://a.example', secret_env: NOPE}}"),
            "notification.recipients.x.secret_env: the environment variable NOPE must hold the "
            "signing secret (at least 16 characters)");
  EXPECT_EQ(msg("[]", "{x: {email: nobody}}"),
            "notification.recipients.x.email: 'nobody' is not an e-mail address");
  EXPECT_EQ(msg("[]", "{x: {}}"), "notification.recipients.x: needs email or webhook");
}

// The outbox marker as the gate reads it.
class IntactMarks : public OutboxMarks {
 public:
  absl::StatusOr<bool> TryLockRebuild(const std::string&, absl::Duration) override { return true; }
  absl::Status UnlockRebuild(const std::string&) override { return absl::OkStatus(); }
  absl::StatusOr<bool> Intact() override { return intact; }
  absl::StatusOr<bool> MarkIntactIfLocked(const std::string&) override { return true; }
  bool intact = true;
};

// A lane's run of case events, as the consumer hands it to the batch handler.
class CaseRun {
 public:
  explicit CaseRun(std::vector<events::Envelope> envelopes) : envelopes_(std::move(envelopes)) {
    for (const events::Envelope& e : envelopes_) {
      kafka::Record r;
      r.topic = events::kCaseEventsTopic;
      r.partition = 0;
      r.key = e.case_id();
      r.value = events::Encode(e);
      records_.push_back(std::move(r));
    }
    std::vector<events::Batch::Item> items;
    for (size_t i = 0; i < envelopes_.size(); ++i) items.push_back({&records_[i], envelopes_[i]});
    batch_ = std::make_unique<events::Batch>(std::move(items));
  }
  events::Batch& batch() { return *batch_; }
  // The first record that failed, with its error (nullopt: all handled).
  std::optional<size_t> Finish(absl::Status* error) {
    return batch_->Finish(absl::Now() + absl::Seconds(5), error);
  }

 private:
  std::vector<events::Envelope> envelopes_;
  std::vector<kafka::Record> records_;
  std::unique_ptr<events::Batch> batch_;
};

events::Envelope Routed() {
  return Event("routed-1",
               [](events::Envelope& e) { e.mutable_case_routed()->set_department("waste"); });
}
events::Envelope Referred() {
  return Event("referred-1",
               [](events::Envelope& e) { e.mutable_case_referred()->set_body("Ombudsdienst"); });
}

TEST_F(NotificationLogicTest, ARunIsReadAtOnceAndWrittenAtOnceAndLaterEventsSeeEarlierOnes) {
  IntactMarks marks;
  OutboxGate gate(marks, clock_);
  NotificationHandler handler(logic_, gate);
  // The routing and the referral need the submission the same run saves first.
  CaseRun run({Submitted(), Routed(), Referred()});
  store_.round_trips = 0;
  handler.Handle(run.batch());
  absl::Status error;
  EXPECT_EQ(run.Finish(&error), std::nullopt) << error;
  EXPECT_EQ(store_.round_trips, 2) << "one read for the run, one write";
  std::set<std::string> templates;
  for (const auto& [key, job] : store_.jobs) templates.insert(job.delivery().template_name());
  EXPECT_EQ(templates, (std::set<std::string>{"acknowledgement", "dispatch", "referral"}));
  EXPECT_EQ(store_.departments[kCase], "waste");
  EXPECT_EQ(store_.Queued(), 3u);
  EXPECT_EQ(Pump().size(), 3u);

  // The same run again (a redelivery): nothing new is queued.
  CaseRun again({Submitted(), Routed(), Referred()});
  handler.Handle(again.batch());
  EXPECT_EQ(again.Finish(&error), std::nullopt) << error;
  EXPECT_EQ(store_.jobs.size(), 3u);
  EXPECT_EQ(store_.Queued(), 0u);
}

// What the outbox rebuild's replay passes over undecoded (the clocks' records) is neither read
// by Handle nor an outcome, whatever it holds; and no rule can name it.
TEST(NotificationLogicUnread, TheClocksRecordsAreReadByNothingHere) {
  const google::protobuf::OneofDescriptor* payload =
      events::Envelope::descriptor()->FindOneofByName("payload");
  for (int number : NotificationLogic::UnreadPayloads()) {
    const google::protobuf::FieldDescriptor* field =
        events::Envelope::descriptor()->FindFieldByNumber(number);
    ASSERT_NE(field, nullptr) << number;
    EXPECT_EQ(field->containing_oneof(), payload) << field->name();
    events::Envelope e = events::NewEnvelope("MP-0123456789ABC", "deadline-watch", absl::Now());
    e.GetReflection()->MutableMessage(&e, field);
    events::Finish(e, "ev-1");
    EXPECT_FALSE(NotificationLogic::ReadsCase(e)) << field->name();
    EXPECT_FALSE(NotificationLogic::OutcomeKey(e)) << field->name();
    EXPECT_FALSE(KnownEvents().count(e.type())) << field->name();
  }
}

// Of a case's records, only its submission and its routing need what the store keeps of it: a run
// of clock events and deliveries reads nothing, and a run with a submission in it reads that case
// only.
TEST_F(NotificationLogicTest, ARunReadsOnlyTheCasesOfTheEventsThatNeedThem) {
  IntactMarks marks;
  OutboxGate gate(marks, clock_);
  NotificationHandler handler(logic_, gate);
  const events::Envelope started = Event("clocks-started-1", [](events::Envelope& e) {
    e.mutable_clocks_started()->add_clocks()->set_clock("acknowledge");
  });
  const events::Envelope stopped = Event("clock-stopped-1", [](events::Envelope& e) {
    e.mutable_clock_stopped()->set_clock("acknowledge");
  });
  const events::Envelope delivered = Event("delivered-1", [](events::Envelope& e) {
    e.mutable_notification_delivered()->set_template_name("acknowledgement");
  });
  EXPECT_FALSE(NotificationLogic::ReadsCase(started));
  EXPECT_FALSE(NotificationLogic::ReadsCase(delivered));
  EXPECT_TRUE(NotificationLogic::ReadsCase(Submitted()));
  EXPECT_TRUE(NotificationLogic::ReadsCase(Routed()));
  CaseRun run({started, stopped, delivered});
  store_.round_trips = 0;
  handler.Handle(run.batch());
  absl::Status error;
  EXPECT_EQ(run.Finish(&error), std::nullopt) << error;
  EXPECT_EQ(store_.round_trips, 0) << "nothing read, nothing written";
  EXPECT_TRUE(store_.jobs.empty());

  // Another case's clock event beside a submission: one read (of the submission's case), one
  // write, and the acknowledgement queued as before.
  events::Envelope other = started;
  other.set_case_id("MP-OTHERCASE0001");
  events::Finish(other, "clocks-started-2");
  CaseRun mixed({other, Submitted(), started});
  store_.round_trips = 0;
  handler.Handle(mixed.batch());
  EXPECT_EQ(mixed.Finish(&error), std::nullopt) << error;
  EXPECT_EQ(store_.round_trips, 2) << "one read, one write";
  ASSERT_EQ(store_.jobs.size(), 1u);
  EXPECT_EQ(store_.jobs.begin()->second.delivery().template_name(), "acknowledgement");
}

// A run's letters to the reporter open the reporter and seal the letter with keys read once for
// the run, not twice per letter; a staff letter does not open the reporter at all.
TEST_F(NotificationLogicTest, ARunReadsItsDataKeysOnceAndOnlyLettersToTheReporterOpenThem) {
  IntactMarks marks;
  OutboxGate gate(marks, clock_);
  NotificationHandler handler(logic_, gate);
  // The intake sealed the reporter with the case's key at submission.
  events::Envelope submitted = Submitted();
  ASSERT_TRUE(
      sealer_
          .SealReporter(kCase,
                        submitted.mutable_case_submitted()->mutable_draft()->mutable_reporter())
          .ok());
  CaseRun run({submitted, Routed()});
  const int key_trips = keys_.round_trips();
  handler.Handle(run.batch());
  absl::Status error;
  EXPECT_EQ(run.Finish(&error), std::nullopt) << error;
  EXPECT_EQ(keys_.round_trips() - key_trips, 1) << "the run's keys read at once";
  std::set<std::string> templates;
  for (const auto& [key, job] : store_.jobs) {
    templates.insert(job.delivery().template_name());
    if (job.delivery().recipient() == "reporter") {
      EXPECT_FALSE(job.sealed().empty()) << "sealed while it waits";
      EXPECT_TRUE(job.address().empty());
    }
  }
  EXPECT_EQ(templates.count("acknowledgement"), 1u);
  EXPECT_EQ(Pump().size(), store_.jobs.size());
  ASSERT_FALSE(mailer_.sent.empty());
  std::set<std::string> to;
  for (const auto& sent : mailer_.sent) to.insert(sent.to);
  EXPECT_EQ(to.count("els@example.org"), 1u) << "the reporter's address opened from the seal";

  // A staff letter alone (the department's, on the routing) reads no key for the reporter.
  const int staff_trips = keys_.round_trips();
  ASSERT_TRUE(logic_.Handle(Routed(), 0).ok());
  EXPECT_EQ(keys_.round_trips(), staff_trips) << "a staff letter does not open the reporter";
}

TEST_F(NotificationLogicTest, AnErasureInARunSeesWhatTheRunQueuedBeforeIt) {
  IntactMarks marks;
  OutboxGate gate(marks, clock_);
  NotificationHandler handler(logic_, gate);
  ASSERT_TRUE(logic_.Handle(Submitted(), 0).ok());
  EXPECT_EQ(Pump(), (std::vector<std::string>{"delivered"}));
  // The erasure as it comes on the log (its key destroyed by the intake, after the referral was
  // handled here in the same run).
  events::Envelope erased = Event("erased-1", [](events::Envelope& e) {
    e.mutable_reporter_data_erased()->set_reason("request of the reporter");
    e.mutable_reporter_data_erased()->set_key_destroyed(true);
  });
  CaseRun run({Referred(), erased, Routed()});
  handler.Handle(run.batch());
  absl::Status error;
  EXPECT_EQ(run.Finish(&error), std::nullopt) << error;
  std::map<std::string, v1::Job> by_template;
  for (const auto& [key, job] : store_.jobs) by_template[job.delivery().template_name()] = job;
  EXPECT_EQ(by_template["referral"].delivery().status(), "cancelled")
      << "queued earlier in the run, cancelled by the erasure";
  EXPECT_EQ(by_template["dispatch"].delivery().status(), "pending") << "staff letters still go";
  const std::string kept = Kept();
  EXPECT_EQ(kept.find("els@example.org"), std::string::npos);
  EXPECT_EQ(kept.find("Els Maes"), std::string::npos);
}

TEST_F(NotificationLogicTest, ARunThatCannotBeWrittenOrWaitsForARebuildIsHandledAgain) {
  IntactMarks marks;
  OutboxGate gate(marks, clock_);
  NotificationHandler handler(logic_, gate);
  store_.write_error = absl::UnavailableError("redis: connection lost");
  CaseRun run({Submitted(), Routed()});
  handler.Handle(run.batch());
  absl::Status error;
  EXPECT_EQ(run.Finish(&error), std::optional<size_t>(0));
  EXPECT_EQ(error, store_.write_error);
  EXPECT_TRUE(store_.jobs.empty());
  EXPECT_TRUE(store_.submissions.empty());
  store_.write_error = absl::OkStatus();

  // The outbox is being rebuilt: the run waits, in place.
  marks.intact = false;
  OutboxGate closed(marks, clock_);
  NotificationHandler waiting(logic_, closed);
  CaseRun held({Submitted()});
  waiting.Handle(held.batch());
  EXPECT_EQ(held.Finish(&error), std::optional<size_t>(0));
  EXPECT_EQ(error.code(), absl::StatusCode::kUnavailable) << error;
  EXPECT_TRUE(store_.jobs.empty());
}

TEST_F(NotificationLogicTest, DeliveredMessagesAreRecordedTogether) {
  ASSERT_TRUE(logic_.Handle(Submitted(), 0).ok());
  ASSERT_TRUE(logic_.Handle(Routed(), 0).ok());
  ASSERT_TRUE(logic_.Handle(Referred(), 0).ok());
  absl::StatusOr<std::vector<v1::Job>> jobs = store_.Claim(0, clock_.Now(), absl::Minutes(2), 100);
  ASSERT_TRUE(jobs.ok());
  ASSERT_EQ(jobs->size(), 3u);
  std::vector<Attempted> attempted;
  for (const v1::Job& job : *jobs) {
    absl::StatusOr<Attempted> a = logic_.Send(job);
    ASSERT_TRUE(a.ok()) << a.status();
    EXPECT_EQ(a->left, Attempted::Left::kSave);
    attempted.push_back(*std::move(a));
  }
  EXPECT_EQ(mailer_.delivered.size(), 3u);
  EXPECT_TRUE(log_.appended.empty()) << "nothing recorded yet";
  store_.round_trips = 0;
  std::vector<absl::StatusOr<AttemptOutcome>> outcomes = logic_.Record(std::move(attempted));
  EXPECT_EQ(store_.round_trips, 2) << "the three records at once, then out of the queue at once";
  ASSERT_EQ(outcomes.size(), 3u);
  for (const auto& outcome : outcomes) {
    ASSERT_TRUE(outcome.ok()) << outcome.status();
    EXPECT_EQ(outcome->status, "delivered");
  }
  ASSERT_EQ(log_.appended.size(), 3u);
  for (const events::Envelope& e : log_.appended) EXPECT_EQ(e.type(), "NotificationDelivered");
  EXPECT_EQ(store_.Queued(), 0u);
  for (const auto& [key, job] : store_.jobs) EXPECT_EQ(job.delivery().status(), "delivered");
}

TEST_F(NotificationLogicTest, AnEventNotAppendedLeavesTheMessageToItsLeaseAndItIsNotSentAgain) {
  ASSERT_TRUE(logic_.Handle(Submitted(), 0).ok());
  absl::StatusOr<std::vector<v1::Job>> jobs = store_.Claim(0, clock_.Now(), absl::Minutes(2), 100);
  ASSERT_TRUE(jobs.ok());
  ASSERT_EQ(jobs->size(), 1u);
  absl::StatusOr<Attempted> sent = logic_.Send((*jobs)[0]);
  ASSERT_TRUE(sent.ok()) << sent.status();
  log_.error = absl::UnavailableError("kafka: broker down");
  std::vector<Attempted> one;
  one.push_back(*std::move(sent));
  std::vector<absl::StatusOr<AttemptOutcome>> outcomes = logic_.Record(std::move(one));
  EXPECT_EQ(outcomes[0].status(), log_.error);
  EXPECT_EQ(Only().status(), "delivered") << "saved before its event";
  EXPECT_EQ(store_.Queued(), 1u) << "still claimed: it comes back after its lease";
  log_.error = absl::OkStatus();
  clock_.Advance(absl::Minutes(3));
  EXPECT_EQ(Pump(), (std::vector<std::string>{"skipped"})) << "only its event, this time";
  EXPECT_EQ(mailer_.sent.size(), 1u) << "sent once";
  ASSERT_EQ(log_.appended.size(), 1u);
  EXPECT_EQ(log_.appended[0].type(), "NotificationDelivered");
  EXPECT_EQ(store_.Queued(), 0u);
}

TEST(BufferedDeliveryStoreTest, ReadsSeeTheWritesHeldAndFlushSaysWhatWasNew) {
  MemoryStore store;
  ASSERT_TRUE(store.SetDepartment("MP-A", "roads").ok());
  store.round_trips = 0;
  BufferedDeliveryStore buffered(store);
  ASSERT_TRUE(buffered.Prefetch({"MP-A", "MP-B", "MP-A"}).ok());
  EXPECT_EQ(store.round_trips, 1);
  EXPECT_EQ(*buffered.Department("MP-A"), "roads");
  EXPECT_FALSE(buffered.LoadSubmission("MP-B")->has_value());
  ASSERT_TRUE(buffered.SetDepartment("MP-A", "parks").ok());
  EXPECT_EQ(*buffered.Department("MP-A"), "parks");
  EXPECT_EQ(store.departments["MP-A"], "roads") << "nothing written before the flush";
  v1::Job job;
  job.mutable_delivery()->set_case_id("MP-B");
  job.mutable_delivery()->set_idempotency_key("k1");
  EXPECT_FALSE(*buffered.Enqueue(job, absl::FromUnixSeconds(10))) << "known at the flush";
  EXPECT_FALSE(*buffered.Enqueue(job, absl::FromUnixSeconds(10)));
  EXPECT_EQ(buffered.pending(), 3u);
  absl::StatusOr<std::vector<v1::Job>> queued = buffered.Flush();
  ASSERT_TRUE(queued.ok()) << queued.status();
  EXPECT_EQ(queued->size(), 1u) << "the same message twice is queued once";
  EXPECT_EQ(store.round_trips, 2);
  EXPECT_EQ(store.departments["MP-A"], "parks");
  EXPECT_EQ(store.Queued(), 1u);
}

}  // namespace
}  // namespace meldpunt::notification
